"""WRENCH benchmark folders in and out, plus precomputed vote tables.

A WRENCH folder holds ``train.json``, ``valid.json``, ``test.json`` (each a JSON object mapping a row
id to ``{"data": {...}, "label": int, "weak_labels": [int, ...]}``), ``label.json`` (class index ->
name) and usually a ``readme.txt``. WRENCH calls the gold dev split ``valid``.

Rows of tabular and image sets (census, mushroom, the image-feature sets) carry no text but a feature
vector, ``"data": {"feature": [3, 1, 2, ...]}``. When the rows have no text field, every field holding
a list of numbers is expanded into one column per position, ``feature_0 .. feature_{d-1}``: plain
numeric columns are what the rest of labelkit already knows how to check (``[data] feature_columns``),
export, slice and feed to the end model, and what a user has at prediction time (a DataFrame with those
columns, not a column of lists). ``feature_columns_of`` reads the first train row only, so that a
config can default ``[data] text_column = ""`` and ``feature_columns`` to these columns before loading.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.errors import DatasetError
from labelkit.io.files import read_table
from labelkit.io.output_folder import swap_in
from labelkit.schema import distinct_votes, vote_dtype

SPLITS = ("train", "valid", "test")
ABSTAIN_TOKENS = {"", "abstain", "-1", "none", "null", "nan"}


@dataclass
class WrenchData:
    """One WRENCH dataset: per split a DataFrame (id, text, data columns, label) and a vote matrix."""

    directory: Path
    classes: tuple[str, ...]
    lf_names: list[str]
    splits: dict[str, pd.DataFrame]
    label_matrices: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]  # gold class indices per split, -1 where a row has no label
    feature_vectors: dict[str, int] = field(default_factory=dict)  # field -> length, expanded to columns NAME_i
    sha256: dict[str, str] = field(default_factory=dict)  # split -> SHA-256 of its file, of the bytes read

    @property
    def cardinality(self) -> int:
        return len(self.classes)


def read_wrench(directory, *, text_field: str | None = "text") -> WrenchData:
    """Read a WRENCH folder; malformed files raise DatasetError naming the file and row. When the
    rows have no `text_field` (None: never), list-of-number fields become columns NAME_0..NAME_{d-1}."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"WRENCH folder {directory} does not exist; pass the folder holding train.json.")
    if not (directory / "train.json").is_file():
        raise DatasetError(f"{directory} has no train.json; a WRENCH folder needs train/valid/test.json.")
    digests: dict[str, str] = {}
    raw = {split: _load_json(directory / f"{split}.json", digests=digests)
           for split in SPLITS if (directory / f"{split}.json").is_file()}
    classes = _read_classes(directory, raw)
    records = {split: _parse_split(directory / f"{split}.json", rows, len(classes)) for split, rows in raw.items()}
    n_lfs = _common_lf_count(directory, records)
    first: dict = next((rows[0]["data"] for rows in records.values() if rows), {})
    vectors = feature_vectors(first, text_field)
    dtype = vote_dtype(len(classes))
    data = WrenchData(
        directory=directory,
        classes=classes,
        lf_names=[f"lf_{j}" for j in range(n_lfs)],
        splits={split: _frame(rows, classes, vectors, directory / f"{split}.json") for split, rows in records.items()},
        label_matrices={split: _matrix(rows, n_lfs, dtype) for split, rows in records.items()},
        labels={split: np.array([r["label"] for r in rows], dtype=np.int64) for split, rows in records.items()},
        feature_vectors=vectors,
        sha256=digests,
    )
    if "valid" in data.labels:
        _warn_missing_dev_classes(directory / "valid.json", data.labels["valid"], classes)
    return data


def write_wrench(directory, splits, classes, text_column, *, id_column=None, lf_names=None, overwrite=False) -> Path:
    """Write ``splits`` ({name: (df, L, y or None)}) as a WRENCH folder, atomically.

    ``df[text_column]`` becomes ``data.text``; ``df[id_column]`` (default: 0..n-1) becomes the row key.
    Rows without gold (``y`` None or -1) get ``"label": null``. Files are written to a temporary
    folder next to ``directory`` and renamed into place; an existing folder needs ``overwrite=True``.
    """
    directory = Path(directory)
    classes = tuple(str(c) for c in classes)
    if directory.exists() and not overwrite:
        raise DatasetError(f"{directory} already exists; pass overwrite=True (or --force) to replace it.")
    checked = {name: _checked_split(name, df, L, y, classes, text_column, id_column)
               for name, (df, L, y) in splits.items()}
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        for name, split in checked.items():
            _write_split(staging / f"{name}.json", *split)
        (staging / "label.json").write_text(json.dumps({str(i): c for i, c in enumerate(classes)}), encoding="utf-8")
        (staging / "readme.txt").write_text(_readme(classes, lf_names), encoding="utf-8")
        swap_in(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def read_vote_table(path, vote_columns, classes) -> np.ndarray:
    """A precomputed vote matrix from a csv/tsv/parquet/jsonl/json file: one column per source.

    Empty cells, "ABSTAIN", -1, None/NaN mean abstain; other values are class names or, failing
    that, class indices. Returns an int8 (int16 beyond 126 classes) matrix with -1 = abstain.
    """
    path = Path(path)
    return votes_from_frame(_read_table(path), vote_columns, classes, where=path)


def votes_from_frame(table: pd.DataFrame, vote_columns, classes, *, where) -> np.ndarray:
    """The vote matrix held in `vote_columns` of an already loaded table (see read_vote_table)."""
    path = where
    classes = tuple(str(c) for c in classes)
    missing = [c for c in vote_columns if c not in table.columns]
    if missing:
        raise DatasetError(
            f"{path}: vote column(s) {', '.join(missing)} not found; columns are: {', '.join(map(str, table.columns))}."
        )
    dtype = vote_dtype(len(classes))
    L = np.empty((len(table), len(vote_columns)), dtype=dtype)
    lookup = _vote_lookup(classes)
    for j, column in enumerate(vote_columns):
        for row, value in enumerate(table[column].tolist()):
            L[row, j] = _parse_vote(value, lookup, path, column, row, classes)
    return L


# ---------------------------------------------------------------- reading helpers


def _load_json(path: Path, *, digests: dict[str, str] | None = None):
    """The JSON object in `path`; with `digests`, its SHA-256 too (digests[stem]: the input's hash, from the
    bytes read here, so a large file is not read a second time to be hashed)."""
    try:
        data = path.read_bytes()
        # decoded as path.read_text decodes; a byte-order mark (Windows exports) is not JSON
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig").read()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read file ({error}).") from None
    if digests is not None:
        digests[path.stem] = hashlib.sha256(data).hexdigest()
    del data
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as error:
        raise DatasetError(
            f"{path}: malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}; fix or re-export the file."
        ) from None
    if not isinstance(rows, dict):
        raise DatasetError(f"{path}: expected a JSON object mapping row id -> row, got {type(rows).__name__}.")
    if _SURROGATE_ESCAPE.search(text):  # only then can a string hold half of a UTF-16 pair
        rows, replaced = _without_lone_surrogates(rows)
        if replaced:
            warnings.warn(f"{path}: {replaced} string(s) hold half of a UTF-16 surrogate pair (a \\uD800-\\uDFFF "
                          f"escape without its other half), which no file can store; each was replaced by U+FFFD.",
                          stacklevel=3)
    return rows


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # after json.loads, pairs are whole characters


def _without_lone_surrogates(value):
    """(value with each lone surrogate in its strings, keys included, replaced by U+FFFD, strings changed)."""
    if isinstance(value, str):
        fixed, n = _LONE_SURROGATE.subn("\ufffd", value)
        return fixed, int(n > 0)
    if isinstance(value, list):
        items = [_without_lone_surrogates(v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    if isinstance(value, dict):
        out, total = {}, 0
        for key, item in value.items():
            key, n_key = _without_lone_surrogates(key)
            out[key], n = _without_lone_surrogates(item)
            total += n_key + n
        return out, total
    return value, 0


def _read_classes(directory: Path, raw: dict) -> tuple[str, ...]:
    label_file = directory / "label.json"
    if label_file.is_file():
        return _classes_from_label_json(label_file)
    readme = directory / "readme.txt"
    if readme.is_file():
        found = dict(re.findall(r"^\s*(\d+)\s+as\s+(\S+)", readme.read_text(encoding="utf-8", errors="replace"), re.M))
        if found and sorted(int(i) for i in found) == list(range(len(found))) and len(found) >= 2:
            return tuple(found[str(i)] for i in range(len(found)))
    highest = max((_max_int(rows) for rows in raw.values()), default=1)
    return tuple(str(i) for i in range(max(highest + 1, 2)))


def _classes_from_label_json(path: Path) -> tuple[str, ...]:
    mapping = _load_json(path)
    try:
        by_index = {int(key): name for key, name in mapping.items()}
    except ValueError:
        raise DatasetError(f"{path}: keys must be class indices 0..k-1, got {list(mapping)}.") from None
    indices = sorted(by_index)
    if indices != list(range(len(mapping))) or len(indices) < 2:
        raise DatasetError(f"{path}: keys must be 0..k-1 with k >= 2, got {sorted(mapping)}.")
    classes = tuple(str(by_index[i]) for i in indices)
    repeated = sorted({c for c in classes if classes.count(c) > 1})
    if repeated:
        raise DatasetError(f"{path}: class name(s) {', '.join(map(repr, repeated))} appear more than once; "
                           f"every class needs its own name.")
    return classes


def _max_int(rows: dict) -> int:
    highest = 0
    for row in rows.values():
        if isinstance(row, dict):
            values = list(row.get("weak_labels") or []) + [row.get("label")]
            highest = max([highest] + [v for v in values if isinstance(v, int)])
    return highest


def _parse_split(path: Path, rows: dict, k: int) -> list[dict]:
    parsed, n_lfs, first_key = [], None, None
    for key, row in rows.items():
        if not isinstance(row, dict) or "weak_labels" not in row:
            raise DatasetError(f"{path}: row {key!r} is not an object with 'weak_labels'; every row needs data, label, weak_labels.")
        votes = row["weak_labels"]
        if isinstance(votes, list) and any(isinstance(v, float) for v in votes):  # 1.0: a pandas export
            votes = [int(v) if isinstance(v, float) and v.is_integer() else v for v in votes]
        if not isinstance(votes, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in votes):
            raise DatasetError(f"{path}: row {key!r} weak_labels must be a list of ints, got {votes!r}.")
        if n_lfs is None:
            n_lfs, first_key = len(votes), key
        elif len(votes) != n_lfs:
            raise DatasetError(
                f"{path}: row {key!r} has {len(votes)} weak labels but row {first_key!r} has {n_lfs}; every row needs one vote per LF."
            )
        bad = [(j, v) for j, v in enumerate(votes) if not -1 <= v < k]
        if bad:
            j, v = bad[0]
            raise DatasetError(f"{path}: row {key!r} LF lf_{j} has vote {v}; votes must be -1 (abstain) or 0..{k - 1}.")
        parsed.append({"id": str(key), "data": _data_of(path, key, row), "label": _label_of(path, key, row, k), "votes": votes})
    return parsed


def _data_of(path: Path, key, row: dict) -> dict:
    data = row.get("data", {})
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: row {key!r} 'data' must be an object, got {type(data).__name__}.")
    return _flatten(data)


def _flatten(data: dict, prefix: str = "") -> dict:
    flat = {}
    for name, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _label_of(path: Path, key, row: dict, k: int) -> int:
    label = row.get("label")
    if isinstance(label, float) and label.is_integer():  # 1.0: a pandas export
        label = int(label)
    if label is None or label == -1:
        return -1
    if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < k:
        raise DatasetError(f"{path}: row {key!r} has label {label!r}; labels must be 0..{k - 1} (see label.json).")
    return label


def _common_lf_count(directory: Path, records: dict) -> int:
    counts = {split: len(rows[0]["votes"]) for split, rows in records.items() if rows}
    if not counts:
        raise DatasetError(f"{directory}: every split is empty; train.json needs at least one row.")
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{split}.json has {n}" for split, n in counts.items())
        raise DatasetError(f"{directory}: splits disagree on the number of LFs ({detail}); regenerate them with the same LFs.")
    return next(iter(counts.values()))


def _frame(rows: list[dict], classes, vectors: dict[str, int] | None = None, path: Path | None = None) -> pd.DataFrame:
    data = pd.DataFrame([r["data"] for r in rows], index=range(len(rows)))
    if vectors and rows:
        data = _expand_vectors(data, rows, vectors, path)
    front = ["text"] if "text" in data.columns else []
    data = data[front + [c for c in data.columns if c != "text"]]
    frame = pd.DataFrame({"id": [r["id"] for r in rows]})
    frame = pd.concat([frame, data.drop(columns=[c for c in data.columns if c in ("id", "label")])], axis=1)
    frame["label"] = pd.Series([classes[r["label"]] if r["label"] >= 0 else None for r in rows], dtype=object)
    return frame


# ---------------------------------------------------------------- feature vectors (rows without text)


def feature_vectors(data: dict, text_field: str | None = "text") -> dict[str, int]:
    """{field: length} of the feature-vector fields of one row's flattened `data`: the fields holding a
    list of numbers (nulls allowed here, refused when the rows are read), when the row has no
    `text_field` (None: whatever fields it has). {} for a row with text or without such a field."""
    if text_field and text_field in data:
        return {}
    return {name: len(value) for name, value in data.items() if _is_vector(value)}


def _is_vector(value) -> bool:
    if not isinstance(value, list) or not value:
        return False
    numbers = [v for v in value if v is not None]
    return bool(numbers) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers)


def vector_columns(vectors: dict[str, int]) -> list[str]:
    """The columns the feature vectors become: NAME_0 .. NAME_{d-1} per field, in field order."""
    return [f"{name}_{i}" for name, width in vectors.items() for i in range(width)]


def shown_columns(columns) -> str:
    """'a, b, c' for a few columns, 'feature_0 .. feature_104' for many (messages, notes)."""
    columns = list(columns)
    return ", ".join(columns) if len(columns) <= 4 else f"{columns[0]} .. {columns[-1]}"


def feature_columns_of(directory, text_field: str | None = "text") -> tuple[list[str], list[str]] | None:
    """(feature columns, the row's text fields) a WRENCH folder's rows give without text, from the first
    row of train.json alone (a config's defaults depend on it; the whole file is read by `read_wrench`),
    or None when that row has `text_field`, no feature vector, or cannot be read (the loader names why)."""
    data = first_row_data(directory)
    if data is None:
        return None
    vectors = feature_vectors(data, text_field)
    if not vectors:
        return None
    return vector_columns(vectors), [name for name, value in data.items() if isinstance(value, str)]


def first_row_data(directory) -> dict | None:
    """The flattened `data` of the first row of `directory`/train.json, reading only as much of the
    file as that row needs (census's train.json is 38 MB); None when it cannot be read."""
    decoder = json.JSONDecoder()
    text, size = "", 1 << 16
    try:
        with open(Path(directory) / "train.json", encoding="utf-8-sig") as file:
            while True:
                chunk = file.read(size)
                text += chunk
                found, row = _first_value(text, decoder)
                if found or not chunk:
                    break
                size *= 2
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not found or not isinstance(row, dict) or not isinstance(row.get("data", {}), dict):
        return None
    return _flatten(row.get("data", {}))


def _first_value(text: str, decoder) -> tuple[bool, object]:
    """(True, the first value of the JSON object `text` starts) or (False, None) when `text` does not
    hold all of it (or is not such an object: the loader says what is wrong)."""
    i = _skip_space(text, 0)
    if i >= len(text) or text[i] != "{":
        return False, None
    try:
        _, i = decoder.raw_decode(text, _skip_space(text, i + 1))  # the row's key
        i = _skip_space(text, i)
        if i >= len(text) or text[i] != ":":
            return False, None
        value, _ = decoder.raw_decode(text, _skip_space(text, i + 1))
    except json.JSONDecodeError:
        return False, None
    return True, value


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _expand_vectors(data: pd.DataFrame, rows: list[dict], vectors: dict[str, int], path) -> pd.DataFrame:
    """`data` with each feature-vector field replaced, in place, by its columns NAME_0..NAME_{d-1}."""
    first = rows[0]["id"]
    for name, width in vectors.items():
        columns = [f"{name}_{i}" for i in range(width)]
        clash = [c for c in columns if c in data.columns]
        if clash:
            raise DatasetError(f"{path}: data field {name!r} is a feature vector whose columns are named {name}_0.."
                               f"{name}_{width - 1}, but the rows also have a field {clash[0]!r}; rename one of them.")
        block = pd.DataFrame(_vector_block(path, rows, name, width, first), columns=columns, index=data.index)
        if block.dtypes.iloc[0] == np.float64:  # a vector of floats and integers: the integer places stay integers
            integers = _integer_places(block.to_numpy(), rows, name)
            if integers:
                block = block.astype({columns[j]: np.int64 for j in integers})
        at = data.columns.get_loc(name) if name in data.columns else len(data.columns)
        data = pd.concat([data.iloc[:, :at], block, data.iloc[:, at + 1:]], axis=1)
    return data


def _integer_places(block: np.ndarray, rows: list[dict], name: str) -> list[int]:
    """Positions where every row's JSON value is an integer (a code, as `3`, not a measure, as `3.0`)."""
    whole = np.flatnonzero((np.mod(block, 1) == 0).all(axis=0) & (np.abs(block) < 2 ** 53).all(axis=0))
    return [int(j) for j in whole if all(type(row["data"][name][j]) is int for row in rows)]


def _vector_block(path, rows: list[dict], name: str, width: int, first: str) -> np.ndarray:
    """The (rows, width) numbers of field `name`: int64 when every value is an integer, else float64.
    A row without the field, of another length, or with a value that is not a finite number is named."""
    values = []
    for row in rows:
        value = row["data"].get(name)
        if not isinstance(value, list):
            shown = "no such field" if name not in row["data"] else f"a {type(value).__name__} ({repr(value)[:40]})"
            raise DatasetError(f"{path}: row {row['id']!r} has {shown} where a feature vector {name!r} of {width} "
                               f"numbers is expected (as in row {first!r}); every row needs one.")
        if len(value) != width:
            raise DatasetError(f"{path}: row {row['id']!r} field {name!r} has {len(value)} values but row {first!r} "
                               f"has {width}; every row needs a feature vector of the same length.")
        values.append(value)
    block: np.ndarray = np.array(values)
    if block.dtype.kind in "iuf" and np.isfinite(block).all():
        return block
    for row, value in zip(rows, values):  # name the first bad value
        for j, v in enumerate(value):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v):
                raise DatasetError(f"{path}: row {row['id']!r} field {name!r} holds {v!r} at position {j} "
                                   f"(column {name}_{j}); a feature vector needs a finite number in every place "
                                   f"(fill gaps, e.g. with 0).")
    return block.astype(np.float64)  # integers too large for int64


def _matrix(rows: list[dict], n_lfs: int, dtype) -> np.ndarray:
    if not rows:
        return np.zeros((0, n_lfs), dtype=dtype)
    return np.array([r["votes"] for r in rows], dtype=dtype)


def _warn_missing_dev_classes(path: Path, y: np.ndarray, classes) -> None:
    present = set(y[y >= 0].tolist())
    missing = [classes[i] for i in range(len(classes)) if i not in present]
    if missing:
        only = (f" Every dev row is of class {classes[next(iter(present))]!r}, so the choices made on dev (label model, "
                f"class balance, end-model settings) favour predicting it." if len(present) == 1 else "")
        warnings.warn(f"{path}: dev split has no rows of class(es) {', '.join(missing)}; dev scores ignore them.{only}",
                      stacklevel=3)


# ---------------------------------------------------------------- writing helpers


def _checked_split(name, df, L, y, classes, text_column, id_column):
    """(row keys, texts, labels, L) of one split, checked: one row of L and y per row, unique keys."""
    L = np.asarray(L)
    n = len(df)
    if text_column not in df.columns:
        raise DatasetError(f"split {name!r}: text column {text_column!r} not found; columns are: {', '.join(map(str, df.columns))}.")
    if L.ndim != 2 or L.shape[0] != n:
        raise DatasetError(f"split {name!r}: L has shape {L.shape} but the frame has {n} rows; they must match.")
    if L.size and (L.min() < -1 or L.max() >= len(classes)):
        raise DatasetError(f"split {name!r}: L holds votes outside -1..{len(classes) - 1}.")
    labels = np.full(n, -1, dtype=np.int64) if y is None else np.asarray(y).reshape(-1).astype(np.int64)
    if len(labels) != n:
        raise DatasetError(f"split {name!r}: y has {len(labels)} labels but the frame has {n} rows.")
    keys = df[id_column].astype(str).to_numpy() if id_column else np.arange(n).astype(str)
    if len(pd.unique(keys)) != n:
        raise DatasetError(f"split {name!r}: id column {id_column!r} has duplicate ids; WRENCH row keys must be unique.")
    return keys, df[text_column].to_numpy(), labels, L


def _write_split(path: Path, keys, texts, labels, L) -> None:
    """One split's JSON, row by row: the bytes of json.dumps({key: {"data": {"text": ...}, "label": ...,
    "weak_labels": [...]}}, ensure_ascii=False, indent=1), without a dict per row (a million rows took
    GBs that way). Each distinct row of votes is formatted once."""
    patterns, _, which = distinct_votes(L) if L.shape[1] else (L[:1], None, np.zeros(len(L), dtype=np.int64))
    blocks = [("[\n" + ",\n".join(f"   {int(v)}" for v in p) + "\n  ]") if len(p) else "[]" for p in patterns]
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    with open(path, "w", encoding="utf-8") as out:
        out.write("{" if len(keys) else "{}")
        for i, (key, text, label) in enumerate(zip(keys, texts, labels)):
            text = "null" if pd.isna(text) else dumps(str(text))
            out.write(f'{"," if i else ""}\n {dumps(str(key))}: {{\n  "data": {{\n   "text": {text}\n  }},\n'
                      f'  "label": {int(label) if label >= 0 else "null"},\n  "weak_labels": {blocks[which[i]]}\n }}')
        out.write("\n}" if len(keys) else "")


def _readme(classes, lf_names) -> str:
    lines = ["Exported by labelkit.", ""]
    lines += [f"{i} as {c}" for i, c in enumerate(classes)] + ["-1 as ABSTAIN", ""]
    if lf_names:
        lines += ["Labeling functions list:", ""] + [f"    {name}," for name in lf_names]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- vote tables


def _read_table(path: Path) -> pd.DataFrame:
    """The vote table through labelkit.io.files.read_table (cells as text); a .json table (one JSON object of
    columns), which read_table does not take, is read here."""
    if not path.is_file():
        raise DatasetError(f"vote table {path} does not exist.")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    if suffix in (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".jsonl", ".ndjson"):
        return read_table(path, text=True)
    if suffix == ".json":
        try:
            return pd.read_json(path, dtype=False)
        except (ValueError, OSError) as error:
            raise DatasetError(f"{path}: cannot parse vote table ({error}).") from None
    raise DatasetError(f"{path}: unsupported vote table format {suffix!r}; use .csv, .tsv, .parquet, .jsonl or .json.")


def _vote_lookup(classes) -> dict[str, int]:
    lookup = {str(i): i for i in range(len(classes))}
    lookup.update({name: i for i, name in enumerate(classes)})  # names win over indices
    return lookup


def _parse_vote(value, lookup, path, column, row, classes) -> int:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return -1
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    text = str(value).strip()
    if text in lookup:
        return lookup[text]
    if text.lower() in ABSTAIN_TOKENS:
        return -1
    raise DatasetError(
        f"{path}: column {column!r} row {row + 1} has vote {value!r}, which is not a class; "
        f"use a class name ({', '.join(classes)}), an index 0..{len(classes) - 1}, or empty/ABSTAIN/-1."
    )
