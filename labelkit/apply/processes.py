"""Apply LFs on local worker processes: contiguous row chunks, results stitched back in row order.

LFs travel to the workers by value (cloudpickle), so LFs loaded from a file by `load_lfs` (registered
under a hashed module name that workers cannot import) work too. spaCy pipelines never travel: each
worker loads its own once, and spaCy pattern LFs rebuild their matchers on it.
"""
from __future__ import annotations

import gc
import hashlib
import os
import pickle
import sys

import numpy as np
import pandas as pd

from labelkit.apply.local import ApplyResult, apply_lfs, apply_lfs_marked, unmark_errors, validate_apply_options
from labelkit.errors import ConfigError, LabelingFunctionError

CHUNKS_PER_WORKER = 4  # small enough chunks that a slow chunk does not leave a worker idle
MIN_CHUNK_ROWS = 2_000

_WORKER: dict = {}  # per worker process: unpickled LFs by payload hash, spaCy parsers by model name


def apply_lfs_processes(lfs, frame: pd.DataFrame, classes: tuple[str, ...], *, n_workers: int | None = None,
                        text_column: str | None, id_column: str | None = None, spacy_model: str | None = None,
                        on_error: str = "raise", where: str = "data") -> ApplyResult:
    """Same result as `apply_lfs` (same matrix, same row order), computed on `n_workers` processes."""
    validate_apply_options(lfs, on_error)
    n_workers = resolve_workers(n_workers)
    bounds = chunk_bounds(len(frame), n_workers)
    if n_workers == 1 or len(bounds) <= 1:
        return apply_lfs(lfs, frame, classes, text_column=text_column, id_column=id_column,
                         parser=make_parser(lfs, spacy_model), on_error=on_error, where=where)
    payload = pickle_lfs(lfs)
    parts = _run_pool(payload, frame, bounds, n_workers,
                      dict(classes=tuple(classes), text_column=text_column, id_column=id_column,
                           spacy_model=spacy_model, on_error=on_error, where=where))
    return unmark_errors(np.concatenate(parts, axis=0), [lf.name for lf in lfs])


def _run_pool(payload: bytes, frame, bounds, n_workers: int, options: dict) -> list[np.ndarray]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context(start_method())
    gc.freeze()  # forked workers' garbage collector then skips the parent's objects (no copy-on-write storm)
    pool = ProcessPoolExecutor(n_workers, mp_context=context, initializer=_init_worker, initargs=(sys.path,))
    try:
        futures = [pool.submit(apply_chunk, payload, frame.iloc[start:stop], row_offset=start, **options)
                   for start, stop in bounds]
        return [future.result() for future in futures]
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        gc.unfreeze()


def start_method() -> str:
    """fork where the platform has it (workers start in milliseconds with pandas already imported);
    the LFs still travel pickled, so spawn (macOS, Windows) behaves the same."""
    import multiprocessing

    return "fork" if "fork" in multiprocessing.get_all_start_methods() and sys.platform.startswith("linux") else "spawn"


def _init_worker(parent_path: list[str]) -> None:
    for entry in parent_path:  # so modules importable in the parent (e.g. tests) import in workers too
        if entry not in sys.path:
            sys.path.append(entry)


def apply_chunk(payload: bytes, chunk: pd.DataFrame, *, classes, text_column, id_column, spacy_model,
                on_error, where, row_offset: int = 0) -> np.ndarray:
    """Worker side: the chunk's label matrix with ERROR_CODE where an LF raised (counted by the caller)."""
    lfs = unpickle_lfs(payload)
    return apply_lfs_marked(lfs, chunk.reset_index(drop=True), classes, text_column=text_column,
                            id_column=id_column, parser=worker_parser(lfs, spacy_model),
                            on_error=on_error, where=where, row_offset=row_offset)


def resolve_workers(n_workers: int | None) -> int:
    if n_workers is None:
        return max(1, os.cpu_count() or 1)
    if not isinstance(n_workers, int) or n_workers < 1:
        raise ConfigError(f"n_workers must be a positive integer, got {n_workers!r}.")
    return n_workers


def chunk_bounds(n_rows: int, n_workers: int) -> list[tuple[int, int]]:
    """Contiguous [start, stop) ranges covering all rows, in order."""
    if n_rows == 0:
        return []
    return chunk_bounds_n(n_rows, max(1, min(n_workers * CHUNKS_PER_WORKER, n_rows // MIN_CHUNK_ROWS)))


def chunk_bounds_n(n_rows: int, n_chunks: int) -> list[tuple[int, int]]:
    """`n_chunks` contiguous [start, stop) ranges of near-equal size covering all rows, in order."""
    edges = np.linspace(0, n_rows, max(1, n_chunks) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def pickle_lfs(lfs) -> bytes:
    """cloudpickle the LFs; modules that workers cannot import (LF files loaded by path) go by value."""
    import cloudpickle

    registered = []
    for module in _unimportable_modules(lfs):
        try:
            cloudpickle.register_pickle_by_value(module)
            registered.append(module)
        except ValueError:
            pass  # already registered
    try:
        return cloudpickle.dumps(list(lfs))
    except Exception as exc:
        raise LabelingFunctionError(
            f"Cannot send the LFs to worker processes: {type(exc).__name__}: {str(exc).splitlines()[0]}; "
            f"keep heavy objects such as spaCy pipelines out of LF closures (use spacy_lf / spacy_patterns)."
        ) from None
    finally:
        for module in registered:
            cloudpickle.unregister_pickle_by_value(module)


def _unimportable_modules(lfs) -> list:
    found = {}
    for lf in lfs:
        for func in (getattr(lf, "func", None), type(lf)):
            name = getattr(func, "__module__", None)
            if name and name.startswith("labelkit_lfs_") and name in sys.modules:
                found[name] = sys.modules[name]
    return list(found.values())


def unpickle_lfs(payload: bytes) -> list:
    key = hashlib.sha1(payload).hexdigest()
    cache = _WORKER.setdefault("lfs", {})
    if key not in cache:
        cache.clear()
        cache[key] = pickle.loads(payload)
    return cache[key]


def worker_parser(lfs, spacy_model: str | None):
    """One spaCy pipeline per worker process and model, loaded on first use, never pickled."""
    if not any(lf.kind.startswith("spacy") for lf in lfs):
        return None
    parsers = _WORKER.setdefault("parsers", {})
    if spacy_model not in parsers:
        parsers[spacy_model] = make_parser(lfs, spacy_model)
    return parsers[spacy_model]


def make_parser(lfs, spacy_model: str | None):
    if not any(lf.kind.startswith("spacy") for lf in lfs):
        return None
    from labelkit.lfs.spacy_lfs import SpacyParser

    return SpacyParser(spacy_model)
