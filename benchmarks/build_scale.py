"""`labelkit build` at 100k / 300k / 1M train rows: time per stage and peak memory, so the growth of
each stage is visible.

The train split is the bundled example's train rows repeated (each copy with unique ticket and
customer ids and a reference number appended to its text, so copies are near-duplicates of each
other but not identical); dev and test are the bundled ones. Each size runs in a fresh process (its
ru_maxrss is that build's peak), with the bundled config's LFs, label-model candidates and end model,
writing Parquet input to a temporary folder.

    PYTHONPATH=. python benchmarks/build_scale.py --rows 100000,300000 [--no-audit] [--engine processes]
    PYTHONPATH=. python benchmarks/build_scale.py --rows 1000000 --timeout 1200

Prints one table: rows, wall (CPU) seconds per stage, total, CPU seconds of worker processes (hashing
for the streaming end model, --engine processes), peak RSS (MB) of the build process and of its
largest worker (forked workers share the parent's pages, so the two are not to be added), end-model
kind, test accuracy.
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BUNDLED = ROOT / "datasets" / "support_tickets"


STAGE_DONE = re.compile(r"^(.+) done \(([\d.]+)s\)$")


def write_train(path: Path, rows: int) -> None:
    """The bundled train rows repeated to `rows` rows: unique ticket and customer ids (`T123456-r1`, ...)
    and a reference appended to each copy's text (identical copies would all be quarantined by the
    audit as bursts of duplicates)."""
    import pandas as pd

    base = pd.read_csv(BUNDLED / "train.csv", dtype=str, keep_default_na=False)
    copies = -(-rows // len(base))
    parts = []
    for k in range(copies):
        part = base.copy()
        if k:  # a new ticket from a new customer; a reference keeps the text from being an exact copy
            part["ticket_id"] = part["ticket_id"] + f"-r{k}"
            part["customer_id"] = part["customer_id"] + f"-r{k}"
            part["text"] = part["text"] + f" (ref {k:05d})"
        parts.append(part)
    pd.concat(parts, ignore_index=True).iloc[:rows].to_parquet(path, index=False)


def write_config(folder: Path, train: Path, *, audit: bool, engine: str) -> Path:
    import tomllib

    import tomlkit

    raw = tomllib.loads((ROOT / "labelkit.toml").read_text())
    raw["task"]["labeling_functions"] = [str(ROOT / p) for p in raw["task"]["labeling_functions"]]
    raw["data"]["train"] = str(train)
    raw["data"]["dev"] = str(BUNDLED / "dev.csv")
    raw["data"]["test"] = str(BUNDLED / "test.csv")
    if raw.get("evaluate", {}).get("expectations"):
        raw["evaluate"]["expectations"] = str(ROOT / raw["evaluate"]["expectations"])
    raw.setdefault("audit", {})["enabled"] = audit
    raw.setdefault("lfs", {})["engine"] = engine
    path = folder / "labelkit.toml"
    path.write_text(tomlkit.dumps(raw))
    return path


def measure(config: Path, out: Path) -> dict:
    """One build in this (fresh) process: stage timings from the manifest, peak RSS, headline numbers."""
    from labelkit.settings.config import load_config
    from labelkit.pipeline.run import build

    cpu: dict[str, float] = {}
    wall: dict[str, float] = {}
    peak: dict[str, int] = {}
    starts: dict[str, float] = {}

    def notify(message: str) -> None:  # CPU seconds per stage too: wall time is unreliable on a shared machine
        print(message, file=sys.stderr, flush=True)
        if message.endswith(" …"):
            starts[message[:-2]] = time.process_time()
        elif (done := STAGE_DONE.match(message)) is not None:  # not the audit's per-check lines
            name = done.group(1)
            wall[name] = float(done.group(2))  # also stages the manifest misses
            peak[name] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # which stage set the peak
            if name in starts:
                cpu[name] = round(time.process_time() - starts[name], 1)

    started, started_cpu = time.perf_counter(), time.process_time()
    build(load_config(config), out=out, notify=notify)
    total = time.perf_counter() - started
    manifest = json.loads((out / "manifest.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())  # as written (the in-memory results are typed)
    systems = metrics["systems"]
    systems = systems.get("systems", systems)
    end = metrics.get("end_model") or {}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # worker processes (hashing, --engine processes)
    return {"stages": {**wall, **manifest.get("timings_seconds", {})}, "cpu": cpu, "total": round(total, 1),
            "total_cpu": round(time.process_time() - started_cpu, 1),
            "workers_cpu": round(children.ru_utime + children.ru_stime, 1),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "peak_mb_after": peak,
            "workers_peak_mb": round(children.ru_maxrss / 1024),
            "end_model": end.get("kind") or end.get("features") or "", "end_model_accuracy": _accuracy(systems.get("end_model")),
            "rules_accuracy": _accuracy(systems.get("rule_baseline"))}


def _accuracy(entry) -> float | None:
    if not entry:
        return None
    value = entry.get("accuracy")
    return round(float(value["value"] if isinstance(value, dict) else value), 4)


def run_size(rows: int, folder: Path, *, audit: bool, engine: str, timeout: float) -> dict:
    train = folder / f"train_{rows}.parquet"
    started = time.perf_counter()
    write_train(train, rows)
    config = write_config(folder, train, audit=audit, engine=engine)
    print(f"[{rows:,} rows] input written ({time.perf_counter() - started:.1f}s); building ...", file=sys.stderr, flush=True)
    command = [sys.executable, __file__, "--measure", str(config), str(folder / f"run_{rows}")]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return {"rows": rows, "error": f"timed out after {timeout:.0f}s", "log": _tail(exc.stderr)}
    finally:
        train.unlink(missing_ok=True)
    if done.returncode != 0:
        return {"rows": rows, "error": f"exit {done.returncode}", "log": _tail(done.stderr)}
    return {"rows": rows, **json.loads(done.stdout.strip().splitlines()[-1]), "log": _tail(done.stderr, 6)}


def _tail(text, lines: int = 12) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join((text or "").strip().splitlines()[-lines:])


def table(results: list[dict]) -> str:
    stages = []
    for r in results:
        for name in r.get("stages", {}):
            if name not in stages and ": " not in name:  # sub-steps such as "label model fit: snorkel"
                stages.append(name)
    head = ["rows", *stages, "total", "workers CPU", "peak MB", "worker peak MB", "end model", "acc model", "acc rules"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['rows']:,} | {r['error']} |")
            continue
        cells = [f"{r['rows']:,}", *(f"{r['stages'].get(s, 0):.0f} ({r['cpu'].get(s, 0):.0f})" for s in stages),
                 f"{r['total']:.0f} ({r['total_cpu']:.0f})", f"{r.get('workers_cpu', 0):.0f}",
                 f"{r['peak_mb']:,}", f"{r.get('workers_peak_mb', 0):,}", str(r["end_model"]),
                 str(r["end_model_accuracy"]), str(r["rules_accuracy"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,300000,1000000", help="train sizes, comma-separated")
    parser.add_argument("--no-audit", action="store_true", help="skip the audit (as `build --no-audit`)")
    parser.add_argument("--engine", default="local", choices=["local", "processes", "dask"])
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per size before it is stopped")
    parser.add_argument("--keep", type=Path, help="keep inputs and runs in this folder")
    parser.add_argument("--measure", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]))))
        return 0
    sizes = [int(float(s)) for s in args.rows.split(",") if s.strip()]
    results = []
    with tempfile.TemporaryDirectory(prefix="build_scale_") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for rows in sizes:
            result = run_size(rows, folder, audit=not args.no_audit, engine=args.engine, timeout=args.timeout)
            results.append(result)
            print(f"[{rows:,} rows] {json.dumps({k: v for k, v in result.items() if k != 'log'})}", file=sys.stderr,
                  flush=True)
            if "error" in result:
                print(result["log"], file=sys.stderr)
    print(f"engine={args.engine} audit={'off' if args.no_audit else 'on'}; seconds per stage: wall (CPU of the build process)")
    print(table(results))
    for r in results:
        if r.get("peak_mb_after"):
            print(f"{r['rows']:,} rows, peak RSS (MB) after each stage: "
                  + ", ".join(f"{k} {v:,}" for k, v in r["peak_mb_after"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
