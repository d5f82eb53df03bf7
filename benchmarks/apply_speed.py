"""LF application speed: labelkit vs snorkel's PandasLFApplier, measured in the same run.

Two LF sets, each run by snorkel (reference) and by labelkit, on the same synthetic spam-like comments:
  row-wise     the snorkel spam tutorial's Python LFs (keyword lookups, regex check.*out, short comment),
               identical code in both libraries;
  declarative  labelkit keywords/regex equivalents (vectorised); the reference is snorkel running the
               very same LFs row by row (`lf.to_snorkel`).
Each labelkit matrix is asserted equal to snorkel's on the rows both labelled.

    PYTHONPATH=. python benchmarks/apply_speed.py --rows 1000000
    PYTHONPATH=. python benchmarks/apply_speed.py --rows 1000000 --reference-rows 100000   # snorkel on a subsample
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labelkit import ABSTAIN, LabelingFunction, keywords, regex  # noqa: E402
from labelkit.apply.engines import apply_with_engine  # noqa: E402

YOUTUBE = ROOT.parent / "shared" / "data" / "youtube_spam_collection"  # ../shared beside the repository
CLASSES = ("ham", "spam")
FILLER = ["lol", "wow", "2014", "this", "is", "the", "best", "video", "ever", "check", "out", "my", "new",
          "channel", "please", "subscribe", "plz", "song", "love", "it", "http://bit.ly/x", "views", "<3", "Psy"]


# --- data -------------------------------------------------------------------------------------------

def spam_comments(n: int, seed: int = 0) -> pd.DataFrame:
    """n comments: real YouTube comments sampled (read at run time, if present) plus seeded random edits."""
    rng = np.random.default_rng(seed)
    base = _youtube_comments()
    if not base:
        base = [" ".join(rng.choice(FILLER, size=rng.integers(1, 20))) for _ in range(2000)]
    picks = rng.integers(0, len(base), size=n)
    extra = rng.integers(0, len(FILLER), size=(n, 2))
    mode = rng.integers(0, 4, size=n)
    texts = []
    for i in range(n):
        text = base[picks[i]]
        if mode[i] == 1:
            text = f"{text} {FILLER[extra[i, 0]]}"
        elif mode[i] == 2:
            text = f"{FILLER[extra[i, 0]]} {FILLER[extra[i, 1]]} {text}"
        texts.append(text)
    return pd.DataFrame({"comment_id": np.arange(n), "text": pd.array(texts, dtype="str")})


def _youtube_comments() -> list[str]:
    files = sorted(YOUTUBE.glob("*.csv")) if YOUTUBE.is_dir() else []
    return [str(t) for f in files for t in pd.read_csv(f)["CONTENT"].tolist()]


# --- the snorkel spam tutorial's LFs ----------------------------------------------------------------

HAM, SPAM = 0, 1


def keyword_lookup(x, keywords, label):
    if any(word in x.text.lower() for word in keywords):
        return label
    return ABSTAIN


def regex_check_out(x):
    return "spam" if re.search(r"check.*out", x.text, flags=re.I) else ABSTAIN


def short_comment(x):
    return "ham" if len(x.text.split()) < 5 else ABSTAIN


KEYWORDS = [("keyword_my", ["my"], "spam"), ("keyword_subscribe", ["subscribe"], "spam"),
            ("keyword_link", ["http"], "spam"), ("keyword_please", ["please", "plz"], "spam"),
            ("keyword_song", ["song"], "ham")]


def labelkit_row_wise() -> list:
    lfs = [LabelingFunction(name, keyword_lookup, resources=dict(keywords=words, label=label))
           for name, words, label in KEYWORDS]
    return lfs + [LabelingFunction("regex_check_out", regex_check_out), LabelingFunction("short_comment", short_comment)]


def snorkel_row_wise() -> list:
    """The tutorial's LFs as the tutorial writes them (integer labels, -1 abstains)."""
    from snorkel.labeling import LabelingFunction as SnorkelLF, labeling_function

    def snorkel_keyword_lookup(x, keywords, label):
        if any(word in x.text.lower() for word in keywords):
            return label
        return -1

    lfs = [SnorkelLF(name=name, f=snorkel_keyword_lookup,
                     resources=dict(keywords=words, label=SPAM if label == "spam" else HAM))
           for name, words, label in KEYWORDS]

    @labeling_function()
    def snorkel_regex_check_out(x):
        return SPAM if re.search(r"check.*out", x.text, flags=re.I) else -1

    @labeling_function()
    def snorkel_short_comment(x):
        return HAM if len(x.text.split()) < 5 else -1

    return lfs + [snorkel_regex_check_out, snorkel_short_comment]


def labelkit_declarative() -> list:
    lfs = [keywords(label, words, name=name) for name, words, label in KEYWORDS]
    return lfs + [regex("spam", r"check.*out", name="regex_check_out"),
                  regex("ham", r"\A\s*(?:\S+\s+){0,3}\S*\s*\Z", name="short_comment")]


# --- measuring --------------------------------------------------------------------------------------

def timed(func):
    start = time.perf_counter()
    value = func()
    return value, time.perf_counter() - start


def snorkel_apply(lfs, frame) -> np.ndarray:
    from snorkel.labeling import PandasLFApplier

    return PandasLFApplier(lfs).apply(frame, progress_bar=False)


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return own / 1024.0


def run(rows: int, reference_rows: int, engines: list[str], seed: int) -> dict:
    frame, build_seconds = timed(lambda: spam_comments(rows, seed))
    reference = frame.iloc[:reference_rows]
    print(f"data: {rows:,} comments built in {build_seconds:.1f}s; snorkel reference on {reference_rows:,} rows",
          file=sys.stderr)
    report = {"rows": rows, "reference_rows": reference_rows, "sets": {}}
    sets = {
        "row-wise (tutorial Python LFs)": (labelkit_row_wise(), snorkel_row_wise()),
        "declarative (keywords/regex)": (labelkit_declarative(), None),
    }
    for title, (ours, theirs) in sets.items():
        theirs = theirs or [lf.to_snorkel(CLASSES, "text") for lf in ours]
        L_ref, ref_seconds = timed(lambda: snorkel_apply(theirs, reference))  # noqa: B023 (called at once)
        entry = {"lfs": len(ours), "snorkel_seconds": ref_seconds,
                 "snorkel_rows_per_s": reference_rows / ref_seconds, "engines": {}}
        first_L = None
        for engine in engines:
            result, seconds = timed(lambda: apply_with_engine(ours, frame, CLASSES, engine=engine, text_column="text"))  # noqa: B023
            if not np.array_equal(result.L[:reference_rows], L_ref):
                raise SystemExit(f"{title} / {engine}: labelkit's matrix differs from snorkel's")
            if first_L is not None and not np.array_equal(result.L, first_L):
                raise SystemExit(f"{title} / {engine}: the matrix differs from the {engines[0]} engine's")
            first_L = result.L if first_L is None else first_L
            rate = rows / seconds
            entry["engines"][engine] = {"seconds": seconds, "rows_per_s": rate,
                                        "speedup_vs_snorkel": rate / entry["snorkel_rows_per_s"],
                                        "coverage": (result.L != -1).mean(axis=0).round(3).tolist()}
        report["sets"][title] = entry
    report["peak_rss_mb"] = peak_rss_mb()
    return report


def print_table(report: dict) -> None:
    same = report["rows"] == report["reference_rows"]
    print(f"\nLF application, {report['rows']:,} rows (snorkel measured on {report['reference_rows']:,} rows"
          f"{'' if same else '; speedups compare rows/s'}), {_cores()} cores")
    print(f"{'LF set':34s} {'engine':10s} {'seconds':>9s} {'rows/s':>12s} {'vs snorkel':>11s}")
    for title, entry in report["sets"].items():
        print(f"{title:34s} {'snorkel':10s} {entry['snorkel_seconds']:9.2f} {entry['snorkel_rows_per_s']:12,.0f} {'1.0x':>11s}")
        for engine, e in entry["engines"].items():
            print(f"{'':34s} {engine:10s} {e['seconds']:9.2f} {e['rows_per_s']:12,.0f} {e['speedup_vs_snorkel']:10.1f}x")
    print(f"peak RSS (this process): {report['peak_rss_mb']:,.0f} MB; every labelkit matrix equals snorkel's on the "
          f"reference rows and the other engines' on all rows (dask: LocalCluster, 2 workers x 1 thread, start-up included)")


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=None, help="rows snorkel labels (default: --rows)")
    parser.add_argument("--engines", default="local,processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    reference_rows = min(args.reference_rows or args.rows, args.rows)
    report = run(args.rows, reference_rows, args.engines.split(","), args.seed)
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
