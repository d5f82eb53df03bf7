"""`labelkit monitor` over a large request log: target <= 10 s for 1M logged rows on 2 cores.

The log is generated synthetically through labelkit.serve.log (the same write path as the server):
N requests over 30 days, the primary's probabilities, the rule system's LF votes and a challenger's
answer per request, three slice columns. The reference is a build folder (--reference RUN_DIR, e.g.
runs/support_tickets) or, without one, a small synthetic reference folder.

    .venv/bin/python benchmarks/monitor.py --rows 1000000 [--reference runs/support_tickets]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labelkit.monitor import MonitorSettings, run_monitor  # noqa: E402
from labelkit.serve.log import LogMeta, connect, shadow_batch, write_batch  # noqa: E402

SLICES = {"country": ["US", "GB", "IN", "DE", "FR"], "channel": ["email", "chat", "phone"], "product": ["tv", "mobile"]}


def synthetic_reference(folder: Path, classes, lf_names, rng) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    n = 5000
    train = pd.DataFrame({"id": range(n)})
    for j, name in enumerate(lf_names):
        train[f"lf_{name}"] = np.where(rng.random(n) < 0.1, classes[j % len(classes)], "")
    train.to_csv(folder / "train_labels.csv", index=False)
    gold = rng.choice(classes, 1000)
    pd.DataFrame({"row_id": range(1000), "text": "x", "gold": gold, "pred_end_model": gold,
                  "pred_label_model": np.where(rng.random(1000) < 0.8, gold, classes[0]),
                  "country": rng.choice(SLICES["country"], 1000)}).to_csv(folder / "test_predictions.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps({"task": {"classes": list(classes)}}))
    (folder / "manifest.json").write_text(json.dumps({"lf_names": list(lf_names), "config": {
        "data": {"slice_columns": list(SLICES)}, "evaluate": {}}}))
    return folder


def generate_log(path: Path, n: int, classes, lf_names, rng, *, chunk: int = 100_000) -> float:
    k, m = len(classes), len(lf_names)
    con = connect(path, meta=LogMeta(tuple(classes), tuple(lf_names), tuple(SLICES)))
    start = time.perf_counter()
    t0 = 1_717_200_000
    for first in range(0, n, chunk):
        size = min(chunk, n - first)
        proba = rng.dirichlet(np.ones(k) * 0.5, size).astype(np.float32)
        pred = proba.argmax(axis=1)
        votes = np.where(rng.random((size, m)) < 0.1, rng.integers(0, k, (size, m)), -1).astype(np.int8)
        rules = np.where(rng.random(size) < 0.8, pred, rng.integers(0, k, size))
        chall = np.where(rng.random(size) < 0.95, pred, rng.integers(0, k, size))
        ts = t0 + np.sort(rng.random(size)) * 30 * 86400
        slices = ["\x1f".join(v) for v in zip(*(rng.choice(vals, size) for vals in SLICES.values()))]
        pb = proba.tobytes()
        seqs = np.arange(first + 1, first + size + 1)
        requests = [(int(s), f"r{s}", float(ts[i]), None, slices[i], "b0", int(pred[i]),
                     pb[i * 4 * k:(i + 1) * 4 * k], 1.0, "queued") for i, s in enumerate(seqs)]
        shadows = []
        for lo in range(0, size, 64):  # the worker answers in batches of up to 64 rows
            part = slice(lo, lo + 64)
            shadows.append(shadow_batch("rules", "b0", "ok", seqs[part], preds=rules[part], proba=proba[part],
                                        votes=votes[part]))
            shadows.append(shadow_batch("cand", "b1", "ok", seqs[part], preds=chall[part], proba=proba[part]))
        write_batch(con, requests, shadows, {})
    con.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference", default=None, help="A build folder (default: synthetic).")
    parser.add_argument("--window", default="1d")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.reference:
            manifest = json.loads((Path(args.reference) / "manifest.json").read_text())
            metrics = json.loads((Path(args.reference) / "metrics.json").read_text())
            classes, lf_names, reference = metrics["task"]["classes"], manifest["lf_names"], Path(args.reference)
        else:
            classes = ["billing", "connectivity", "account", "cancellation", "other"]
            lf_names = [f"lf_{i}" for i in range(22)]
            reference = synthetic_reference(tmp / "ref", classes, lf_names, rng)
        log = tmp / "log.sqlite"
        written = generate_log(log, args.rows, classes, lf_names, rng)
        size_mb = log.stat().st_size / 1e6
        start, cpu = time.perf_counter(), time.process_time()
        result = run_monitor(log, reference, settings=MonitorSettings(window=args.window))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        load = os.getloadavg()[0]
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"log: {args.rows:,} requests x ({len(lf_names)} LFs, 2 shadow systems), {size_mb:.0f} MB, "
          f"written in {written:.1f} s ({args.rows / written:,.0f} requests/s through write_batch)")
    print(f"monitor: {elapsed:.2f} s wall, {cpu:.2f} s CPU (load average {load:.1f} on {os.cpu_count()} cores) "
          f"for {args.rows:,} rows ({args.rows / elapsed:,.0f} rows/s), "
          f"{len(result.frame):,} metric rows over {result.frame['window'].nunique()} windows; "
          f"peak RSS {peak_mb:.0f} MB")
    print(f"target <= 10 s: {'met' if elapsed <= 10 else 'NOT met'} (wall ratio {elapsed / 10:.2f} of the budget; "
          f"CPU ratio {cpu / 10:.2f})")


if __name__ == "__main__":
    main()
