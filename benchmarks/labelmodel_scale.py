"""Label model on data larger than memory: a Parquet label matrix read in chunks, fitted from counts.

Writes a seeded synthetic label matrix (default 10M rows x 20 LFs, int8 columns lf_00..lf_19, votes from
a known generative model: class prior 0.3/0.7, LF coverages 1-15 %, accuracies 60-95 %) to Parquet,
then for each size: one chunked pass counting the distinct vote patterns, and a fit on those patterns
with their counts as sample weights. Reported: pass time, fit time (it should not grow with the row
count), distinct patterns, peak memory of a fresh process per size, and — on a smaller size that fits
in memory — the largest difference between the probabilities of the pattern fit and of the in-memory
fit on the full matrix.

    PYTHONPATH=. python benchmarks/labelmodel_scale.py --rows 10000000 --models dawid_skene,snorkel

``--threads-check WRENCH_DIR`` instead times snorkel's fit on that folder's train votes with torch on
one thread (labelkit's default) and on torch's default thread count, and prints both and the largest
difference of their probabilities:

    PYTHONPATH=. python benchmarks/labelmodel_scale.py --threads-check ../shared/data/wrench_youtube
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_LFS = 20
CHUNK_ROWS = 500_000


def write_votes(path: Path, rows: int, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    coverage = rng.uniform(0.01, 0.15, size=N_LFS)
    accuracy = rng.uniform(0.60, 0.95, size=N_LFS)
    names = [f"lf_{j:02d}" for j in range(N_LFS)]
    schema = pa.schema([(n, pa.int8()) for n in names])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            y = (rng.random(n) < 0.7).astype(np.int8)
            votes = rng.random((n, N_LFS)) < coverage
            right = rng.random((n, N_LFS)) < accuracy
            L = np.where(votes, np.where(right, y[:, None], 1 - y[:, None]), -1).astype(np.int8)
            writer.write_table(pa.table({name: L[:, j] for j, name in enumerate(names)}, schema=schema))


def measure(path: Path, rows: int, models: list[str], check_rows: int) -> dict:
    """Runs in a fresh process so that ru_maxrss is this size's peak."""
    from labelkit.apply.outofcore import PatternCounter, fit_from_patterns, iter_chunks

    names = [f"lf_{j:02d}" for j in range(N_LFS)]
    start = time.perf_counter()
    counter = PatternCounter(names)
    seen = 0
    for chunk in iter_chunks(path, chunk_rows=CHUNK_ROWS, columns=names):
        take = min(len(chunk), rows - seen)
        counter.add(chunk.to_numpy(dtype=np.int8)[:take])
        seen += take
        if seen >= rows:
            break
    counts = counter.result()
    out = {"rows": rows, "pass_seconds": time.perf_counter() - start, "patterns": int(len(counts.patterns)),
           "models": {}}
    for name in models:
        start = time.perf_counter()
        model = fit_from_patterns(counts, name, cardinality=2, seed=0)
        entry = {"fit_seconds": time.perf_counter() - start}
        if rows <= check_rows:
            entry["max_abs_diff_vs_in_memory"] = _in_memory_difference(path, rows, name, model, names)
        out["models"][name] = entry
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _in_memory_difference(path, rows, name, pattern_model, names) -> float:
    import pyarrow.parquet as pq

    from labelkit.labelmodels import make_label_model

    L = pq.read_table(path, columns=names).slice(0, rows).to_pandas().to_numpy(dtype=np.int8)
    in_memory = make_label_model(name).fit(L, cardinality=2, seed=0)
    return float(np.abs(in_memory.predict_proba(L) - pattern_model.predict_proba(L)).max())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--sizes", default=None, help="comma-separated row counts (default: 1M,3M,--rows)")
    parser.add_argument("--models", default="dawid_skene,snorkel")
    parser.add_argument("--check-rows", type=int, default=1_000_000, help="sizes up to this are also fitted in memory")
    parser.add_argument("--data", type=Path, default=Path("/tmp/labelkit_bench_votes.parquet"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads-check", type=Path, metavar="WRENCH_DIR",
                        help="time snorkel's fit with 1 torch thread vs torch's default, then exit")
    args = parser.parse_args(argv)
    if args.threads_check:
        threads_check(args.threads_check)
        return
    models = args.models.split(",")
    if args.child:
        print(json.dumps(measure(args.data, args.rows, models, args.check_rows)))
        return
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else sorted({1_000_000, 3_000_000, args.rows})
    sizes = [s for s in sizes if s <= args.rows]
    start = time.perf_counter()
    write_votes(args.data, args.rows)
    print(f"wrote {args.rows:,} x {N_LFS} votes to {args.data} ({args.data.stat().st_size / 2**20:.0f} MB) "
          f"in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    results = []
    for rows in sizes:
        command = [sys.executable, __file__, "--child", "--rows", str(rows), "--models", args.models,
                   "--check-rows", str(args.check_rows), "--data", str(args.data)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"\nLabel model from a Parquet label matrix, {N_LFS} LFs, chunks of {CHUNK_ROWS:,} rows")
    print(f"{'rows':>12s} {'pass s':>8s} {'patterns':>9s} {'peak MB':>8s}  " +
          "  ".join(f"{m + ' fit s':>18s} {'|p - p_mem|':>12s}" for m in models))
    for r in results:
        cells = []
        for m in models:
            e = r["models"][m]
            diff = e.get("max_abs_diff_vs_in_memory")
            cells.append(f"{e['fit_seconds']:18.3f} {'' if diff is None else f'{diff:.1e}':>12s}")
        print(f"{r['rows']:12,d} {r['pass_seconds']:8.2f} {r['patterns']:9,d} {r['peak_rss_mb']:8.0f}  " + "  ".join(cells))
    args.data.unlink()


def threads_check(folder: Path) -> None:
    import warnings

    import torch

    from labelkit.labelmodels import make_label_model
    from labelkit.wrench import read_wrench

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = read_wrench(folder)
    L = data.label_matrices["train"]
    make_label_model("snorkel", n_epochs=5).fit(L, cardinality=data.cardinality, seed=123)  # imports, warm-up
    probabilities = {}
    for threads in (1, torch.get_num_threads()):
        start = time.perf_counter()
        model = make_label_model("snorkel", torch_threads=threads).fit(L, cardinality=data.cardinality, seed=123)
        probabilities[threads] = model.predict_proba(L)
        print(f"snorkel fit on {folder.name} train ({L.shape[0]:,} x {L.shape[1]}), torch threads {threads}: "
              f"{time.perf_counter() - start:.1f}s")
    first, last = probabilities.values()
    print(f"largest probability difference: {np.abs(first - last).max():.1e}")


if __name__ == "__main__":
    main()
