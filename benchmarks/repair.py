"""`labelkit repair` on the bundled example: how much of each flagged slice's gap to the rules the
reweighted model recovers, and what it costs overall.

Builds the bundled example (or takes an existing build with --run), repairs every slice whose
guardrail fired, and prints per slice and overall: rules, model before, model after (test, with 95%
intervals), the share of the gap recovered, the paired test, and the weight chosen on dev.
Target (issue 16): recover >= 80% of the FR gap with <= 0.5 points of overall test accuracy lost.

    PYTHONPATH=. python benchmarks/repair.py [--run runs/support_tickets] [--out /tmp/repaired]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_RECOVERED = 0.80
TARGET_OVERALL_LOSS = 0.005


def _notify(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _row(name: str, entry: dict, chosen: str = "") -> str:
    recovered = entry.get("gap_recovered")
    ci = entry["after_ci"]
    return (f"| {name} | {entry['rows']} | {_pct(entry['rules'])} | {_pct(entry['before'])} | {_pct(entry['after'])} "
            f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}] | {100 * entry['change']:+.1f} | "
            f"{'n/a' if recovered is None else f'{100 * recovered:.0f}%'} | {entry['paired_test']['mcnemar_p']:.3g} | "
            f"{chosen} |")


def main(argv=None) -> int:
    from labelkit.config import load_config
    from labelkit.pipeline import build
    from labelkit.repair import MAX_OVERALL_LOSS, repair_run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="an existing build of the bundled example (default: build one)")
    parser.add_argument("--out", type=Path, help="where the repaired build goes (default: a temporary folder)")
    parser.add_argument("--max-overall-loss", type=float, default=MAX_OVERALL_LOSS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="repair_bench_") as tmp:
        run = args.run
        started = time.perf_counter()
        if run is None:
            run = Path(tmp) / "run"
            build(load_config(ROOT / "labelkit.toml"), out=run, notify=_notify)
        built = time.perf_counter() - started
        out = args.out or Path(tmp) / "repaired"
        started = time.perf_counter()
        outcome = repair_run(run, out=out, max_overall_loss=args.max_overall_loss, notify=_notify, force=True)
        repaired = time.perf_counter() - started
        report = outcome.report
    print(f"build {built:.0f}s, repair {repaired:.0f}s; limit: overall dev loss <= "
          f"{100 * report['limit']['max_overall_dev_loss']:.1f} points (dev {_pct(report['limit']['dev_score_before'])})")
    print("| rows | n | rules | model before | model after [95% CI] | change (pts) | gap recovered | McNemar p | chosen on dev |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in report["slices"]:
        c = s["chosen"]
        print(_row(s["slice"], s["test"], f"{c['strategy']} x{c['weight']:g} (dev slice {s['dev_rows']} rows: "
                                          f"{_pct(c['dev_slice'])}, dev overall {_pct(c['dev_overall'])})"))
    print(_row("overall", report["overall"]))
    fr = next((s["test"] for s in report["slices"] if s["slice"] == "country=FR"), None)
    if fr is not None:
        recovered = fr.get("gap_recovered") or 0.0
        loss = -report["overall"]["change"]
        print(f"target: FR gap recovered {100 * recovered:.0f}% (>= {100 * TARGET_RECOVERED:.0f}%: "
              f"{'met' if recovered >= TARGET_RECOVERED else 'NOT met'}), overall change "
              f"{-100 * loss:+.1f} points (loss <= {100 * TARGET_OVERALL_LOSS:.1f}: "
              f"{'met' if loss <= TARGET_OVERALL_LOSS + 1e-9 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
