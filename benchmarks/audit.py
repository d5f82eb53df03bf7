"""Benchmark the scalable audit checks on N synthetic ticket rows (default 50,000).

    PYTHONPATH=. python benchmarks/audit.py --rows 50000

The near-duplicate check is an exact similarity join whose work grows with how many character
3-grams texts share; these synthetic tickets (templates + syllable words: ~3,500 distinct 3-grams)
are close to its worst case, so its time here grows about quadratically (50k rows: ~15-30 s on 2
busy cores). The other checks are vectorised and scale linearly (1M rows in seconds to minutes).

Plants exact duplicates, near duplicates (one typo), group leaks, late train rows and test rows
into the train split, runs exact/near duplicates, group and time leakage and test-row checks, and
prints wall time, peak memory, per-check times, recall of the planted faults, and the same-run
reference: a naive pandas `str.lower().duplicated()` pass over the raw texts.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd

from labelkit.quality import AuditSpec, run_audit
from labelkit.quality.synthetic import CLASSES, make_tickets

CHECKS = ("exact_duplicate_cross_split", "near_duplicate_cross_split", "duplicate_within_split",
          "group_leakage", "time_leakage", "test_rows")


def _typo(text: str) -> str:
    return text[:10] + text[11] + text[10] + text[12:] if len(text) > 12 else text + "x"


def _similarities(a, b) -> np.ndarray:
    """True similarity (char 3-gram Jaccard) of planted pairs; only pairs at or above the threshold count."""
    from labelkit.quality.text_norm import normalize_texts

    def grams(t):
        return {t[i:i + 3] for i in range(max(len(t) - 2, 1))}

    left, right = normalize_texts(pd.Series(a)), normalize_texts(pd.Series(b))
    return np.array([len(grams(x) & grams(y)) / len(grams(x) | grams(y)) for x, y in zip(left, right)])


def build(n_rows: int, seed: int, n_plant: int):
    n_test = n_rows // 5
    train = make_tickets(n_rows - n_test, seed=seed, id_prefix="tr", start="2023-01-01")
    test = make_tickets(n_test, seed=seed + 1, id_prefix="te", start="2024-06-01")
    rng = np.random.default_rng(seed)
    picks = rng.choice(n_test, size=3 * n_plant, replace=False)
    exact, near, group = np.split(picks, 3)
    targets = rng.choice(len(train), size=4 * n_plant, replace=False)
    t_exact, t_near, t_group, t_late = np.split(targets, 4)
    train.loc[t_exact, "text"] = test["text"].to_numpy()[exact]
    train.loc[t_near, "text"] = [_typo(t) for t in test["text"].to_numpy()[near]]
    train.loc[t_group, "customer"] = test["customer"].to_numpy()[group]
    train.loc[t_late, "created"] = pd.Timestamp("2025-06-01")
    train.loc[t_late[: n_plant // 2], "text"] = "testing 123"
    sims = _similarities(train["text"].to_numpy()[t_near], test["text"].to_numpy()[near])
    near_ids = train["id"].to_numpy()[t_near]
    planted = {"exact": set(train["id"].to_numpy()[t_exact]), "near": set(near_ids[sims >= 0.7 - 1e-6]),
               "group": set(train["id"].to_numpy()[t_group]), "late": set(train["id"].to_numpy()[t_late])}
    return {"train": train, "test": test}, planted


def recall(result, reason: str, ids: set) -> float:
    f = result.findings
    found = set(f.loc[(f["reason"] == reason) & (f["split"] == "train"), "row_id"])
    return len(found & ids) / len(ids)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--plant", type=int, default=200, help="rows planted per fault type")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    splits, planted = build(args.rows, args.seed, args.plant)
    print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f}s", file=sys.stderr)

    started = time.perf_counter()
    texts = pd.concat([splits["train"]["text"], splits["test"]["text"]], ignore_index=True)
    naive_dupes = int(texts.str.lower().duplicated().sum())
    reference = time.perf_counter() - started

    spec = AuditSpec(id_column="id", text_column="text", label_column="label", classes=CLASSES,
                     group_column="customer", time_column="created", checks=CHECKS, now="2026-01-01")
    started = time.perf_counter()
    result = run_audit(splits, spec)
    wall = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    print(f"rows: {args.rows:,} (train {len(splits['train']):,}, test {len(splits['test']):,})")
    print(f"audit wall time: {wall:.1f} s; peak memory (max RSS, whole process): {peak_gb:.2f} GB")
    print(f"reference (naive pandas lower().duplicated(), {naive_dupes} dupes): {reference:.2f} s; "
          f"ratio audit/reference: {wall / reference:.1f}x")
    for name, seconds in result.timings.items():
        print(f"  {name:<30} {seconds:8.1f} s")
    print("recall of planted faults: " + ", ".join([
        f"exact {recall(result, 'exact_duplicate_cross_split', planted['exact']):.3f}",
        f"near (planted pairs with char 3-gram Jaccard >= 0.7: {len(planted['near'])}) {recall(result, 'near_duplicate_cross_split', planted['near']):.3f}",
        f"group {recall(result, 'group_leakage', planted['group']):.3f}",
        f"time {recall(result, 'time_leakage', planted['late']):.3f}",
    ]))
    print(result.summary.to_string())
    for warning in result.warnings:
        print("warning:", warning)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
