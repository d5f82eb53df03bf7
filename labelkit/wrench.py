"""WRENCH benchmark folders in and out, plus precomputed vote tables.

A WRENCH folder holds ``train.json``, ``valid.json``, ``test.json`` (each a JSON object mapping a row
id to ``{"data": {...}, "label": int, "weak_labels": [int, ...]}``), ``label.json`` (class index ->
name) and usually a ``readme.txt``. WRENCH calls the gold dev split ``valid``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.errors import DatasetError
from labelkit.schema import vote_dtype

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

    @property
    def cardinality(self) -> int:
        return len(self.classes)


def read_wrench(directory) -> WrenchData:
    """Read a WRENCH folder; malformed files raise DatasetError naming the file and row."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"WRENCH folder {directory} does not exist; pass the folder holding train.json.")
    if not (directory / "train.json").is_file():
        raise DatasetError(f"{directory} has no train.json; a WRENCH folder needs train/valid/test.json.")
    raw = {split: _load_json(directory / f"{split}.json") for split in SPLITS if (directory / f"{split}.json").is_file()}
    classes = _read_classes(directory, raw)
    records = {split: _parse_split(directory / f"{split}.json", rows, len(classes)) for split, rows in raw.items()}
    n_lfs = _common_lf_count(directory, records)
    dtype = vote_dtype(len(classes))
    data = WrenchData(
        directory=directory,
        classes=classes,
        lf_names=[f"lf_{j}" for j in range(n_lfs)],
        splits={split: _frame(rows, classes) for split, rows in records.items()},
        label_matrices={split: _matrix(rows, n_lfs, dtype) for split, rows in records.items()},
        labels={split: np.array([r["label"] for r in rows], dtype=np.int64) for split, rows in records.items()},
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
    checked = {name: _checked_split(name, *parts, classes, text_column, id_column) for name, parts in splits.items()}
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        for name, split in checked.items():
            _write_split(staging / f"{name}.json", *split)
        (staging / "label.json").write_text(json.dumps({str(i): c for i, c in enumerate(classes)}), encoding="utf-8")
        (staging / "readme.txt").write_text(_readme(classes, lf_names), encoding="utf-8")
        _replace_directory(staging, directory)
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


def _load_json(path: Path):
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows exports) is not JSON
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read file ({error}).") from None
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


def _frame(rows: list[dict], classes) -> pd.DataFrame:
    data = pd.DataFrame([r["data"] for r in rows], index=range(len(rows)))
    front = ["text"] if "text" in data.columns else []
    data = data[front + [c for c in data.columns if c != "text"]]
    frame = pd.DataFrame({"id": [r["id"] for r in rows]})
    frame = pd.concat([frame, data.drop(columns=[c for c in data.columns if c in ("id", "label")])], axis=1)
    frame["label"] = pd.Series([classes[r["label"]] if r["label"] >= 0 else None for r in rows], dtype=object)
    return frame


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
    from labelkit.analysis import distinct_votes

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


def _replace_directory(staging: Path, directory: Path) -> None:
    if not directory.exists():
        os.replace(staging, directory)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
    backup.rmdir()
    os.replace(directory, backup)
    try:
        os.replace(staging, directory)
    except OSError:
        os.replace(backup, directory)
        raise
    shutil.rmtree(backup, ignore_errors=True)


# ---------------------------------------------------------------- vote tables


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DatasetError(f"vote table {path} does not exist.")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    try:
        if suffix in (".csv", ".csv.gz"):
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix in (".tsv", ".tsv.gz"):
            return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True, dtype=False)
        if suffix == ".json":
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
