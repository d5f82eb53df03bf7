"""Data larger than memory: read in chunks, apply LFs per chunk, keep only what the label model needs.

A label model's fit depends on L only through its distinct vote patterns and how often each occurs, so
a pass over the data keeps `(patterns, counts)` — at most a few thousand rows whatever the data size —
and the model is fitted on them with the counts as `sample_weight`. The label matrix itself, when kept,
is written chunk by chunk to disk as int8.

>>> import numpy as np
>>> counter = PatternCounter(["a", "b"])
>>> counter.add(np.array([[0, -1], [0, -1], [-1, 1]], dtype=np.int8))
>>> result = counter.result()
>>> result.patterns.tolist(), result.counts.tolist(), result.n_rows
([[-1, 1], [0, -1]], [1, 2], 3)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from labelkit.apply.local import ApplyResult, apply_lfs
from labelkit.errors import ConfigError, DatasetError
from labelkit.io.files import ReadOptions, csv_arguments, decode_error, file_kind
from labelkit.schema import distinct_votes, vote_dtype

DEFAULT_CHUNK_ROWS = 200_000


# --- reading ---------------------------------------------------------------------------------------

def iter_chunks(path: Path, *, chunk_rows: int = DEFAULT_CHUNK_ROWS, columns: list[str] | None = None,
                string_columns: tuple[str, ...] = (), options: ReadOptions | None = None) -> Iterator[pd.DataFrame]:
    """DataFrames of at most `chunk_rows` rows from a Parquet or CSV/TSV file, in file order."""
    path = Path(path)
    options = options or ReadOptions()
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be >= 1, got {chunk_rows}.")
    if not path.is_file():
        raise DatasetError(f"Data file {path.resolve()} does not exist.")
    kind = file_kind(path, options)
    if kind == "parquet":
        yield from _parquet_chunks(path, chunk_rows, columns)
    elif kind in ("csv", "tsv"):
        yield from _csv_chunks(path, chunk_rows, columns, csv_arguments(kind, options, string_columns))
    else:
        raise DatasetError(f"{path}: chunked reading supports .parquet, .csv and .tsv files, not {path.suffix!r}.")


def file_columns(path: Path, *, options: ReadOptions | None = None) -> list[str]:
    """The column names of a Parquet or delimited file, read without its rows."""
    path = Path(path)
    options = options or ReadOptions()
    if not path.is_file():
        raise DatasetError(f"Data file {path.resolve()} does not exist.")
    kind = file_kind(path, options)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return [str(c) for c in pq.read_schema(path).names]
        if kind in ("csv", "tsv"):
            if not options.header:
                return list(options.columns)
            args = csv_arguments(kind, options)
            return [str(c) for c in pd.read_csv(path, nrows=0, **args).columns]
    except UnicodeDecodeError as exc:
        raise DatasetError(decode_error(path, exc, options.encoding)) from None
    except pd.errors.EmptyDataError:
        raise DatasetError(f"Data file {path} is empty.") from None
    except DatasetError:
        raise
    except Exception as exc:  # pyarrow/pandas errors for corrupt files
        raise DatasetError(f"Cannot read {path} as {kind}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    raise DatasetError(f"{path}: chunked reading supports .parquet, .csv and .tsv files, not {path.suffix!r}.")


def _parquet_chunks(path: Path, chunk_rows: int, columns):
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except Exception as exc:
        raise DatasetError(f"Cannot read {path} as parquet: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    for record_batch in handle.iter_batches(batch_size=chunk_rows, columns=columns):
        frame = record_batch.to_pandas()
        frame.columns = [str(c) for c in frame.columns]
        yield frame


def _csv_chunks(path: Path, chunk_rows: int, columns, args: dict):
    try:
        reader = pd.read_csv(path, usecols=columns, chunksize=chunk_rows, **args)
        for frame in reader:
            frame.columns = [str(c) for c in frame.columns]
            yield frame
    except UnicodeDecodeError as exc:
        raise DatasetError(decode_error(path, exc, args["encoding"])) from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"Cannot read {path} as csv: {str(exc).splitlines()[0]}") from None


# --- sufficient statistics: unique vote patterns with counts ---------------------------------------

@dataclass
class PatternCounts:
    patterns: np.ndarray  # (n_patterns, n_lfs), sorted rows, label-matrix dtype
    counts: np.ndarray  # (n_patterns,) int64
    lf_names: list[str]
    n_rows: int
    errors: dict[str, int] = field(default_factory=dict)


class PatternCounter:
    """Accumulates vote patterns chunk by chunk (or from Dask partitions); memory ~ distinct patterns."""

    def __init__(self, lf_names: list[str]) -> None:
        self.lf_names = list(lf_names)
        self._counts: dict[bytes, int] = {}
        self._dtype: np.dtype | None = None
        self.n_rows = 0
        self.errors: dict[str, int] = {}

    def add(self, L: np.ndarray, errors: dict[str, int] | None = None) -> None:
        patterns, counts, _ = distinct_votes(L)
        self.add_patterns(patterns, counts)
        for name, count in (errors or {}).items():
            self.errors[name] = self.errors.get(name, 0) + count

    def add_patterns(self, patterns: np.ndarray, counts: np.ndarray) -> None:
        patterns = np.ascontiguousarray(patterns)
        if patterns.ndim != 2 or patterns.shape[1] != len(self.lf_names):
            raise DatasetError(
                f"Vote patterns have shape {patterns.shape}, expected (n, {len(self.lf_names)}) for the LFs "
                f"{self.lf_names}."
            )
        self._dtype = self._dtype or patterns.dtype
        totals = self._counts
        for row, count in zip(patterns, counts.tolist()):
            key = row.tobytes()
            totals[key] = totals.get(key, 0) + int(count)
        self.n_rows += int(np.sum(counts))

    def result(self) -> PatternCounts:
        dtype = self._dtype or np.int8
        width = len(self.lf_names)
        if not self._counts:
            return PatternCounts(np.empty((0, width), dtype), np.zeros(0, np.int64), self.lf_names, 0, dict(self.errors))
        keys = list(self._counts)
        patterns = np.frombuffer(b"".join(keys), dtype=dtype).reshape(len(keys), width)
        counts = np.fromiter(self._counts.values(), dtype=np.int64, count=len(keys))
        order = np.lexsort(patterns.T[::-1])  # deterministic order, whatever the chunking
        return PatternCounts(patterns[order].copy(), counts[order], self.lf_names, self.n_rows, dict(self.errors))


def count_patterns(lfs, path: Path, classes: tuple[str, ...], *, text_column: str | None,
                   id_column: str | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS, parser=None,
                   on_error: str = "raise", matrix_path: Path | None = None,
                   string_columns: tuple[str, ...] = (), options: ReadOptions | None = None) -> PatternCounts:
    """One pass over a Parquet/CSV file: apply the LFs per chunk, count the vote patterns.

    With `matrix_path` the full label matrix is also written there (.npy int8, memory-mappable),
    chunk by chunk, without holding it in memory.
    """
    counter = PatternCounter([lf.name for lf in lfs])
    writer = LabelMatrixWriter(matrix_path, len(lfs), vote_dtype(len(classes))) if matrix_path else None
    offset = 0
    for chunk in iter_chunks(path, chunk_rows=chunk_rows, string_columns=string_columns, options=options):
        result: ApplyResult = apply_lfs(lfs, chunk, classes, text_column=text_column, id_column=id_column,
                                        parser=parser, on_error=on_error, where=str(path), row_offset=offset)
        counter.add(result.L, result.errors)
        if writer is not None:
            writer.append(result.L)
        offset += len(chunk)
    if writer is not None:
        writer.close()
    return counter.result()


def fit_from_patterns(counts: PatternCounts, model: str = "snorkel", *, cardinality: int,
                      class_balance=None, seed: int = 0, **options):
    """Fit a registered label model on the vote patterns, weighted by their counts.

    Equals fitting on the full matrix (the label models' contract), and costs the same for 10 thousand
    or 10 million rows once the patterns are counted.
    """
    from labelkit.labelmodels import make_label_model

    if counts.n_rows == 0:
        raise DatasetError("No rows were labelled: the data is empty, so no label model can be fitted.")
    label_model = make_label_model(model, **options)
    return label_model.fit(counts.patterns, cardinality=cardinality, class_balance=class_balance, seed=seed,
                           sample_weight=counts.counts.astype(np.float64))


class LabelMatrixWriter:
    """Appends label-matrix chunks to a raw file, then turns it into a memory-mappable .npy."""

    def __init__(self, path: Path, n_lfs: int, dtype) -> None:  # dtype: labelkit.schema.vote_dtype(k)
        self.path = Path(path)
        self.n_lfs = n_lfs
        self.dtype = np.dtype(dtype)
        self.n_rows = 0
        self._raw_path = self.path.with_name(self.path.name + ".part")
        self._raw = open(self._raw_path, "wb")

    def append(self, L: np.ndarray) -> None:
        if L.ndim != 2 or L.shape[1] != self.n_lfs:
            raise DatasetError(f"Chunk has shape {L.shape}, expected (n, {self.n_lfs}).")
        self._raw.write(np.ascontiguousarray(L, dtype=self.dtype).tobytes())
        self.n_rows += L.shape[0]

    def close(self) -> None:
        self._raw.close()
        out = np.lib.format.open_memmap(self.path, mode="w+", dtype=self.dtype, shape=(self.n_rows, self.n_lfs))
        rows_per_block = max(1, (64 << 20) // max(1, self.n_lfs * self.dtype.itemsize))
        with open(self._raw_path, "rb") as raw:
            for start in range(0, self.n_rows, rows_per_block):
                stop = min(self.n_rows, start + rows_per_block)
                block = np.frombuffer(raw.read((stop - start) * self.n_lfs * self.dtype.itemsize), dtype=self.dtype)
                out[start:stop] = block.reshape(stop - start, self.n_lfs)
        out.flush()
        del out
        self._raw_path.unlink()
