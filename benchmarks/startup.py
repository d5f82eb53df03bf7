"""Start-up time of `labelkit --help` and which heavy libraries it imports (target: <= 0.3 s, none).

Each measurement is a fresh interpreter; the median of --repeat runs is reported next to a bare
`python -c pass` in the same run, so interpreter start-up can be told apart from labelkit's own cost.

    PYTHONPATH=. python benchmarks/startup.py --repeat 7
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "spacy", "cleanlab", "snorkel", "dask", "distributed", "matplotlib", "sklearn")
HELP = "import sys; sys.argv = ['labelkit', '--help']\nfrom labelkit.cli.main import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
CHECK = ("import sys; sys.argv = ['labelkit', '--help']\nfrom labelkit.cli.main import main\ntry:\n    main()\n"
         "except SystemExit:\n    pass\nsys.stderr.write(','.join(sorted({m.split('.')[0] for m in sys.modules} & set(%r))))"
         % (HEAVY,))


def run_seconds(code: str, repeat: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def heavy_imports() -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=True)
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    bare = run_seconds("pass", args.repeat)
    help_seconds = run_seconds(HELP, args.repeat)
    library = run_seconds("import labelkit, labelkit.apply", args.repeat)
    heavy = heavy_imports()
    print(f"\nstart-up, median of {args.repeat} fresh interpreters")
    print(f"{'python -c pass':34s} {bare:6.3f} s")
    print(f"{'import labelkit, labelkit.apply':34s} {library:6.3f} s")
    print(f"{'labelkit --help':34s} {help_seconds:6.3f} s   (target <= 0.300 s)")
    print(f"heavy libraries imported by --help: {heavy or 'none'}")


if __name__ == "__main__":
    main()
