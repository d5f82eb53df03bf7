"""Reading data files (CSV/TSV, Parquet, JSONL), hashing them, writing files meant for people, and
replacing one file atomically (atomic_file / atomic_write_text: the one home of a file written to a
temporary name beside it and os.replace'd).

Output folders (atomic replacement, markers, locks) live in `labelkit.io.output_folder`.
"""
from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import secrets
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from labelkit.errors import DatasetError
from labelkit.io.output_folder import atomic_output_dir, is_labelkit_output  # noqa: F401 (re-exported)

FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class ReadOptions:
    """How delimited text files are read ([data] delimiter, header, encoding, columns, quote)."""

    delimiter: str = ""  # "" = from the extension: "," for .csv, tab for .tsv
    header: bool = True  # False: the first line is data; names come from `columns`
    encoding: str = "utf-8"
    columns: tuple[str, ...] = ()  # column names of a headerless file
    quote: str = '"'  # "" = quotes are plain text (raw corpora such as the UCI SMS collection)


def read_table(path: Path, *, string_columns: tuple[str, ...] = (), options: ReadOptions | None = None,
               text: bool = False) -> pd.DataFrame:
    """Read a data file: the one reader of the user's tables (a build's review CSVs: read_review_csv).
    Cells such as "NA" or "None" stay strings; only empty CSV cells are missing. `text=True`, for small
    hand-written tables of names and labels (expectations, vote tables): every CSV/TSV cell is text, an
    empty one "" rather than missing, and a table without rows is returned rather than refused.
    A `.gz` after .csv, .tsv or .jsonl is read compressed."""
    path = Path(path)
    options = options or ReadOptions()
    if not path.exists():
        raise DatasetError(f"Data file {path.resolve()} does not exist.")
    if path.is_dir():
        raise DatasetError(f"Data file {path} is a folder; give a .csv, .tsv, .parquet or .jsonl file.")
    kind = file_kind(path, options)
    try:
        frame = _read(path, kind, string_columns, options, text)
    except DatasetError:
        raise
    except pd.errors.EmptyDataError:
        raise DatasetError(f"Data file {path} is empty.") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(decode_error(path, exc, options.encoding)) from None
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        raise DatasetError(f"Cannot read {path} as {kind}: {str(exc).splitlines()[0]}{_hint(exc, kind)}") from None
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise DatasetError(f"Cannot read {path} as {kind}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if frame.empty and not (text and len(frame.columns)):
        raise DatasetError(f"Data file {path} has no rows.")
    frame.columns = [str(c) for c in frame.columns]
    check_unique_columns(frame.columns, path)
    return frame


def file_kind(path: Path, options: ReadOptions) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if path.suffix.lower() == ".gz" and FORMATS.get(Path(path.stem).suffix.lower()) in ("csv", "tsv", "jsonl"):
        return FORMATS[Path(path.stem).suffix.lower()]  # pandas reads it compressed
    if kind is None and (options.delimiter or not options.header):
        return "csv"  # e.g. the UCI SMS corpus: no extension, a tab-separated text file
    if kind is None:
        raise DatasetError(f"{path}: unknown file type {path.suffix!r}; use one of {', '.join(sorted(FORMATS))}, "
                           f"or set [data] delimiter to read it as delimited text.")
    return kind


def csv_arguments(kind: str, options: ReadOptions, string_columns: tuple[str, ...] = (), text: bool = False) -> dict:
    """pandas.read_csv keywords for a delimited file (shared by whole-file and chunked reading); `text`:
    every cell a string, an empty one "" (read_table)."""
    import csv

    _check_encoding(options.encoding)
    args = dict(sep=options.delimiter or ("\t" if kind == "tsv" else ","), keep_default_na=False, na_values=[""],
                encoding=options.encoding, dtype={c: str for c in string_columns} or None)
    if text:
        args.update(dtype=str, na_values=None)
    if options.quote:
        args["quotechar"] = options.quote
    else:
        args["quoting"] = csv.QUOTE_NONE
    if not options.header:
        if not options.columns:
            raise DatasetError("[data -> header] is false, so [data -> column_names] must name the file's columns, "
                               'e.g. columns = ["label", "text"].')
        args.update(header=None, names=list(options.columns), index_col=False)
    return args


def _read(path: Path, kind: str, string_columns: tuple[str, ...], options: ReadOptions, text: bool) -> pd.DataFrame:
    if kind in ("csv", "tsv"):
        args = csv_arguments(kind, options, string_columns, text)
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # more fields than names: data would be lost
            frame = pd.read_csv(path, **args)
        if options.header:
            check_unique_columns(_raw_header(path, args), path)
        return frame
    if kind == "parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_json(path, lines=True, dtype=False, encoding=options.encoding)
    for column in string_columns:
        if column in frame.columns:
            frame[column] = frame[column].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return frame


def _raw_header(path: Path, args: dict) -> list[str]:
    """The header line as written (pandas renames a repeated name `text` to `text.1`)."""
    first = pd.read_csv(path, **{**args, "header": None, "nrows": 1, "dtype": str, "names": None})
    return [str(v) for v in first.iloc[0].tolist()] if len(first) else []


def check_unique_columns(columns, path) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(columns, start=1):
        if name in seen:
            raise DatasetError(f"{path}: column {name!r} appears twice (columns {seen[name]} and {position}); "
                               f"column names must be unique: rename one of them.")
        seen[name] = position


def decode_error(path: Path, exc: UnicodeDecodeError, encoding: str) -> str:
    byte = exc.object[exc.start:exc.start + 1].hex() if exc.object else "?"
    if exc.object and b"\x00" in exc.object[:4096]:
        return f"Cannot read {path}: it looks like a binary file, not text (byte 0x{byte} at position {exc.start})."
    return (f"Cannot decode {path} as {encoding} (byte 0x{byte} at position {exc.start}); set [data -> encoding] "
            f'to the file\'s encoding, e.g. encoding = "latin-1".')


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DatasetError(f'[data -> encoding] is {encoding!r}, which Python does not know; '
                           f'use e.g. "utf-8", "latin-1" or "cp1252".') from None


def _hint(exc: BaseException, kind: str) -> str:
    text = str(exc)
    if "EOF inside string" in text:
        return '; if quotes in this file are plain text, set [data -> quote] = ""'
    if "Length of header or names" in text:
        return "; a row has more fields than [data -> column_names] names"
    if "Expected" in text and "fields" in text:
        return "; check [data -> delimiter]"
    return ""


def require_columns(frame: pd.DataFrame, columns: dict[str, str], *, path: Path) -> None:
    """`columns` maps a column name to the config setting that names it, for the error message."""
    for column, setting in columns.items():
        if column and column not in frame.columns:
            raise DatasetError(
                f"Column {column!r} not found in {path}; columns are: {', '.join(frame.columns)}. "
                f"Set {setting} in the config."
            )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- files meant for people

def spreadsheet_safe(value):
    """A cell a spreadsheet will not run as a formula: text starting with = + - @ tab or CR gets a
    leading apostrophe (plain numbers such as "-3.5" stay as they are). Text that already starts with
    apostrophes before such a character gets one more, so `unescape_cell` restores every value exactly."""
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def unescape_cell(value):
    """The inverse of spreadsheet_safe, for code that reads a review CSV back."""
    if isinstance(value, str) and value.startswith("'") and value.lstrip("'").startswith(FORMULA_START):
        return value[1:]
    return value


def read_review_csv(path: Path, **read_csv_args) -> pd.DataFrame:
    """A review CSV written by write_review_csv, with the original cell values."""
    frame = pd.read_csv(path, **read_csv_args)
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column].dtype):
            frame[column] = frame[column].map(unescape_cell)
    frame.columns = [unescape_cell(str(c)) for c in frame.columns]
    return frame


def write_review_csv(frame: pd.DataFrame, path: Path, *, append: bool = False) -> None:
    """A CSV for people to open in a spreadsheet: text cells made formula-safe (see spreadsheet_safe).
    Machine exports (cleaned/ splits, WRENCH files) are written exactly, with `to_csv`. `append`: add
    the rows to the file without a header (a large table written chunk by chunk, the same bytes)."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column].dtype):
            safe[column] = _safe_column(safe[column])
    safe.columns = [spreadsheet_safe(str(c)) for c in safe.columns]
    safe.to_csv(path, index=False, header=not append, mode="a" if append else "w")


def _safe_column(values: pd.Series) -> pd.Series:
    """spreadsheet_safe of every cell, computed once per distinct text (vote and label columns hold a
    few class names over millions of rows); missing cells stay missing, cells other than text as they are."""
    if pd.api.types.infer_dtype(values, skipna=True) != "string":  # mixed cells: 1 and 1.0 would share a code
        return values.map(spreadsheet_safe)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    safe = np.array([spreadsheet_safe(u) for u in uniques] + [None], dtype=object)  # code -1 -> None
    return pd.Series(safe[codes], index=values.index, dtype=object)


# ---------------------------------------------------------------- one file replaced atomically

@contextmanager
def atomic_file(path) -> Iterator[Path]:
    """A temporary name beside `path` to write the new file to (nothing is created there yet); when the
    block finishes the file is flushed to disk and os.replace'd onto `path`, so a reader sees the old
    file or the new one, never half of one. On an error `path` is left as it was and the temporary file
    (and any `-wal`/`-shm` file SQLite left beside it) is removed. The new file keeps the permissions of
    the file it replaces; a new one gets the umask's, as a plain write would."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        _fsync(tmp)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)


def atomic_write_text(path, text: str) -> str:
    """`text` written to `path` as UTF-8 through atomic_file; returns the SHA-256 of the bytes written."""
    data = text.encode("utf-8")
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n", encoding="utf-8")


def _json_default(value):
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_build_json(path) -> object:
    """A JSON file of a build's output folder (metrics.json, manifest.json, ...); one-line errors name
    the file when it is missing or not JSON."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} does not exist; is {path.parent} a labelkit build output folder?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path} is not valid JSON ({error}); rebuild the run.") from None

