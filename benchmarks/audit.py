"""Benchmark the scalable audit checks on N synthetic ticket rows (default 50,000).

    PYTHONPATH=. python benchmarks/audit.py --rows 50000
    PYTHONPATH=. python benchmarks/audit.py --scale 100000,300000,1000000

`--scale` runs the audit stage of `labelkit build` alone (`stages.run_audit`: every check with the
bundled config, then the policies) on the `build_scale.py` generator (the bundled train rows repeated
with unique ids and a reference appended to each copy; bundled dev/test), each size in a fresh process,
and prints CPU and wall seconds per check, the peak RSS after each check, and the findings per reason.

The near-duplicate check is an exact similarity join: train is streamed past an index of the other
splits, so its work grows with train rows times the index's posting lists. These synthetic tickets
(templates + syllable words: ~3,500 distinct 3-grams) with 20% test rows are its hard case, a large
index of templated text (50k rows: ~14 s wall on 2 busy cores, 10k indexed rows). The other checks
are vectorised and scale linearly; `--scale` measures the build's audit up to 1M rows.

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
from pathlib import Path

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


def _rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure_scale(config_path: str) -> dict:
    """The build's audit stage on one config, in this (fresh) process: per check CPU/wall seconds and the
    peak RSS once it is done, then the policies."""
    import dataclasses

    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data
    from labelkit.quality import registry
    from labelkit.pipeline.stages import load_labeling_functions, run_audit as audit_stage

    per_check: dict[str, dict] = {}

    def timed(check):
        def run(ctx):
            wall, cpu = time.perf_counter(), time.process_time()
            out = check.func(ctx)
            per_check[check.name] = {"cpu": round(time.process_time() - cpu, 1),
                                     "wall": round(time.perf_counter() - wall, 1), "peak_mb": _rss_mb()}
            print(f"  {check.name}: {per_check[check.name]}", file=sys.stderr, flush=True)
            return out
        return dataclasses.replace(check, func=run)

    registry.CHECKS.update({name: timed(check) for name, check in registry.CHECKS.items()})
    config = load_config(Path(config_path))
    started = time.process_time()
    data = load_task_data(config)
    modules, _ = load_labeling_functions(config, require_lfs=False)
    load_cpu, load_mb = round(time.process_time() - started, 1), _rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = audit_stage(config, data, modules.detectors)
    audit_cpu, audit_wall = time.process_time() - cpu, time.perf_counter() - wall
    checks_cpu = sum(c["cpu"] for c in per_check.values())
    findings = outcome.result.findings
    counts = findings.groupby(["reason", "split"]).size()
    return {"rows": len(data.frames["train"]), "load_cpu": load_cpu, "load_peak_mb": load_mb,
            "audit_cpu": round(audit_cpu, 1), "audit_wall": round(audit_wall, 1),
            "policies_cpu": round(audit_cpu - checks_cpu, 1), "peak_mb": _rss_mb(), "checks": per_check,
            "findings": {f"{r}/{s}": int(n) for (r, s), n in counts.items()},
            "accounting": outcome.clean.accounting, "warnings": outcome.result.warnings}


def run_scale(sizes: list[int], timeout: float) -> int:
    import json
    import subprocess
    import tempfile

    from build_scale import write_config, write_train  # same generator as the build benchmark

    results = []
    with tempfile.TemporaryDirectory(prefix="audit_scale_") as tmp:
        for rows in sizes:
            train = Path(tmp) / f"train_{rows}.parquet"
            write_train(train, rows)
            config = write_config(Path(tmp), train, audit=True, engine="local")
            print(f"[{rows:,} rows] auditing ...", file=sys.stderr, flush=True)
            command = [sys.executable, __file__, "--scale-measure", str(config)]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                print((exc.stderr or b"")[-3000:].decode(errors="replace") if isinstance(exc.stderr, bytes)
                      else (exc.stderr or "")[-3000:], file=sys.stderr)
                results.append({"rows": rows, "error": f"timed out after {timeout:.0f}s"})
                continue
            finally:
                train.unlink(missing_ok=True)
            sys.stderr.write(done.stderr[-4000:])
            if done.returncode != 0:
                results.append({"rows": rows, "error": f"exit {done.returncode}"})
                continue
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(scale_table(results))
    return 0


def scale_table(results: list[dict]) -> str:
    checks = []
    for r in results:
        checks += [c for c in r.get("checks", {}) if c not in checks]
    lines = ["CPU seconds (peak RSS MB after the check) per check; load = reading the data (not the audit)",
             "| check | " + " | ".join(f"{r['rows']:,} rows" for r in results) + " |",
             "|---|" + "---:|" * len(results)]

    def cell(r, c):
        if "error" in r:
            return r["error"]
        m = r["checks"].get(c)
        return f"{m['cpu']:.1f} ({m['peak_mb']:,})" if m else "-"

    lines.append("| load (not audit) | " + " | ".join(
        "-" if "error" in r else f"{r['load_cpu']:.1f} ({r['load_peak_mb']:,})" for r in results) + " |")
    for c in checks:
        lines.append(f"| {c} | " + " | ".join(cell(r, c) for r in results) + " |")
    lines.append("| policies + rest | " + " | ".join(
        "-" if "error" in r else f"{r['policies_cpu']:.1f}" for r in results) + " |")
    lines.append("| **audit total** CPU (wall) | " + " | ".join(
        "-" if "error" in r else f"**{r['audit_cpu']:.1f}** ({r['audit_wall']:.0f})" for r in results) + " |")
    lines.append("| **peak RSS MB** | " + " | ".join(
        "-" if "error" in r else f"**{r['peak_mb']:,}**" for r in results) + " |")
    for r in results:
        if "error" not in r:
            lines.append(f"{r['rows']:,} rows findings: " + ", ".join(f"{k} {v:,}" for k, v in r["findings"].items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--scale", help="train sizes of the build_scale generator, comma-separated (audit stage only)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per --scale size")
    parser.add_argument("--scale-measure", help=argparse.SUPPRESS)
    parser.add_argument("--plant", type=int, default=200, help="rows planted per fault type")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.scale_measure:
        import json

        print(json.dumps(measure_scale(args.scale_measure)))
        return 0
    if args.scale:
        return run_scale([int(float(s)) for s in args.scale.split(",") if s.strip()], args.timeout)

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
        f"near (planted pairs with char 3-gram Jaccard >= 0.7: {len(planted['near'])}) "
        f"{recall(result, 'near_duplicate_cross_split', planted['near']):.3f}",
        f"group {recall(result, 'group_leakage', planted['group']):.3f}",
        f"time {recall(result, 'time_leakage', planted['late']):.3f}",
    ]))
    print(result.summary.to_string())
    for warning in result.warnings:
        print("warning:", warning)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
