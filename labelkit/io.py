"""Reading data files (CSV, Parquet, JSONL), hashing them, and writing output folders atomically."""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd

from labelkit.errors import DatasetError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def read_table(path: Path, *, string_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a data file. Cells such as "NA" or "None" stay strings; only empty CSV cells are missing."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"Data file {path} does not exist.")
    if path.is_dir():
        raise DatasetError(f"Data file {path} is a folder; give a .csv, .parquet or .jsonl file.")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DatasetError(f"{path}: unknown file type {path.suffix!r}; use one of {', '.join(sorted(FORMATS))}.")
    try:
        frame = _read(path, kind, string_columns)
    except DatasetError:
        raise
    except pd.errors.EmptyDataError:
        raise DatasetError(f"Data file {path} is empty.") from None
    except (UnicodeDecodeError, ValueError, OSError, pd.errors.ParserError) as exc:
        raise DatasetError(f"Cannot read {path} as {kind}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise DatasetError(f"Cannot read {path} as {kind}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if frame.empty:
        raise DatasetError(f"Data file {path} has no rows.")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _read(path: Path, kind: str, string_columns: tuple[str, ...]) -> pd.DataFrame:
    if kind in ("csv", "tsv"):
        dtypes = {c: str for c in string_columns}
        return pd.read_csv(path, sep="\t" if kind == "tsv" else ",", keep_default_na=False, na_values=[""],
                           dtype=dtypes or None, encoding="utf-8")
    if kind == "parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_json(path, lines=True, dtype=False)
    for column in string_columns:
        if column in frame.columns:
            frame[column] = frame[column].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return frame


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


@contextmanager
def atomic_output_dir(out: Path, *, force: bool) -> Iterator[Path]:
    """Yield a temporary folder beside `out`; it becomes `out` only if the block finishes.

    A failed build leaves no half-written output: the temporary folder is removed.
    """
    out = Path(out)
    if out.exists() and not force and not _is_labelkit_output(out):
        raise DatasetError(
            f"Output folder {out} already exists and is not a labelkit output; pass --force to replace it or choose --out."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def _is_labelkit_output(folder: Path) -> bool:
    """A previous build/audit (it has our manifest) may be replaced without --force."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and ("labelkit_build" in manifest or "labelkit_audit" in manifest)


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
