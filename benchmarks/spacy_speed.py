"""spaCy LFs: total time of applying them vs a bare `nlp.pipe` over the same texts, same run.

labelkit parses each text once (streamed `nlp.pipe`, docs not kept) and runs every spaCy LF on that
parse; pattern LFs share one Matcher and one PhraseMatcher per attribute. The target is a total time
within 1.25x of the bare parse. spaCy pipelines cannot be downloaded here, so the pipeline is
spacy.blank("en") (tokenizer only), which makes the parse cheap and the LF overhead as visible as it gets.

    PYTHONPATH=. python benchmarks/spacy_speed.py --rows 100000
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from apply_speed import spam_comments  # noqa: E402

from labelkit import ABSTAIN, spacy_lf, spacy_patterns  # noqa: E402
from labelkit.apply.engines import apply_with_engine  # noqa: E402

CLASSES = ("ham", "spam")


@spacy_lf()
def has_url(doc):
    return "spam" if any(token.like_url for token in doc) else ABSTAIN


def spacy_lfs() -> list:
    return [
        spacy_patterns("spam", [[{"LOWER": "check"}, {"LOWER": "out"}]], name="check_out"),
        spacy_patterns("spam", [[{"LOWER": "subscribe"}], [{"LOWER": "sub"}, {"LOWER": "to"}]], name="subscribe"),
        spacy_patterns("spam", phrases=["my channel", "my video", "my page"], name="my_channel"),
        spacy_patterns("ham", [[{"LOWER": {"IN": ["song", "songs"]}}]], name="song"),
        spacy_patterns("ham", [[{"LOWER": "love"}, {"IS_ALPHA": True, "OP": "?"}, {"LOWER": "song"}]], name="love_song"),
        has_url,
    ]


def bare_pipe_seconds(texts: list[str], batch_size: int) -> float:
    """Load the pipeline and parse every text: the same work labelkit's timing includes."""
    from labelkit.lfs.spacy_lfs import load_pipeline

    start = time.perf_counter()
    nlp = load_pipeline(None)
    for _doc in nlp.pipe(texts, batch_size=batch_size):
        pass
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--engines", default="local,processes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    frame = spam_comments(args.rows, args.seed)
    texts = frame["text"].tolist()
    import spacy  # noqa: F401 - import time is not parse time: take it out of both measurements

    bare_pipe_seconds(texts[:2000], 256)  # warm-up (vocab, caches) for a fair comparison
    bare = bare_pipe_seconds(texts, 256)
    lfs = spacy_lfs()
    sets = {"pattern LFs": lfs[:-1], "pattern LFs + Python doc LF": lfs}
    print(f"\nspaCy LFs on {args.rows:,} comments, spacy.blank('en'): {len(lfs) - 1} pattern LFs, and the same "
          f"plus 1 Python LF iterating tokens")
    print(f"{'run':46s} {'seconds':>8s} {'docs/s':>10s} {'vs bare nlp.pipe':>17s}")
    print(f"{'bare load + nlp.pipe (no LFs)':46s} {bare:8.2f} {args.rows / bare:10,.0f} {'1.00x':>17s}")
    for title, chosen in sets.items():
        for engine in args.engines.split(","):
            start = time.perf_counter()
            result = apply_with_engine(chosen, frame, CLASSES, engine=engine, text_column="text")
            seconds = time.perf_counter() - start
            coverage = (result.L != -1).mean(axis=0).round(3).tolist()
            print(f"{title + ', ' + engine:46s} {seconds:8.2f} {args.rows / seconds:10,.0f} "
                  f"{seconds / bare:16.2f}x   coverage {coverage}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (this process): {rss:,.0f} MB")
    assert np.isfinite(bare)


if __name__ == "__main__":
    main()
