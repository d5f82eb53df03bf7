"""A task's data: the train/dev/test splits named in the config, loaded and validated."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.config import Config
from labelkit.errors import ConfigError, DatasetError
from labelkit.io import read_table, require_columns, sha256_file
from labelkit.schema import LabelSchema

SPLITS = ("train", "dev", "test")
GOLD_SPLITS = ("dev", "test")


@dataclass
class TaskData:
    schema: LabelSchema
    frames: dict[str, pd.DataFrame]  # split -> rows, in file order
    gold: dict[str, np.ndarray]  # dev/test -> class indices
    inputs: dict[str, dict] = field(default_factory=dict)  # split -> {"path", "sha256", "rows"}
    votes: dict[str, np.ndarray] | None = None  # precomputed label matrices (WRENCH / vote columns)
    vote_names: list[str] | None = None
    warnings: list[str] = field(default_factory=list)  # loading problems that did not stop the load


def load_task_data(config: Config) -> TaskData:
    if config.data.wrench:
        return _load_wrench(config)
    schema = LabelSchema(tuple(config.task.classes))
    data = config.data
    frames, gold, inputs, warnings = {}, {}, {}, []
    for split in SPLITS:
        names = getattr(data, split)
        if not names:
            raise ConfigError(f"[data -> {split}] is not set; give the {split} file (CSV, Parquet or JSONL).")
        paths = [config.resolve(n) for n in ([names] if isinstance(names, str) else names)]
        frame = _read_split(paths, split, config)
        path = paths[0] if len(paths) == 1 else Path(f"{split} files ({', '.join(p.name for p in paths)})")
        warnings += _rename_repeated_ids(frame, data.id_column, path)
        frames[split] = frame
        inputs[split] = _input_record(paths, len(frame))
        if split in GOLD_SPLITS:
            labels = frame[data.label_column]
            missing = labels.isna().to_numpy()
            if missing.any():
                row = int(np.flatnonzero(missing)[0])
                raise DatasetError(
                    f"{path}: column {data.label_column!r} is empty on row {row + 1} "
                    f"({data.id_column}={frame[data.id_column].iloc[row]!r}); every {split} row needs a gold label."
                )
            gold[split] = schema.encode_gold(labels.tolist(), where=f"{path} column {data.label_column!r}")
    votes = _vote_columns(frames, inputs, schema, config) if data.vote_columns else None
    return TaskData(schema, frames, gold, inputs, votes=votes, vote_names=list(data.vote_columns) or None,
                    warnings=warnings)


def load_split(config: Config, split: str) -> tuple[pd.DataFrame, np.ndarray | None]:
    """One split alone (e.g. gold dev for `labelkit label`): its rows and gold labels (dev/test)."""
    schema = LabelSchema(tuple(config.task.classes))
    names = getattr(config.data, split)
    if not names:
        raise ConfigError(f"[data -> {split}] is not set; give the {split} file (CSV, Parquet or JSONL).")
    paths = [config.resolve(n) for n in ([names] if isinstance(names, str) else names)]
    frame = _read_split(paths, split, config)
    frame.attrs["path"] = str(paths[0])
    if split not in GOLD_SPLITS:
        return frame, None
    return frame, schema.encode_gold(frame[config.data.label_column].tolist(), where=f"{paths[0]} column {config.data.label_column!r}")


def _read_split(paths: list[Path], split: str, config: Config) -> pd.DataFrame:
    data = config.data
    parts = []
    for path in paths:
        part = read_table(path, string_columns=tuple(c for c in (data.id_column, data.label_column, data.group_column) if c))
        _check_columns(part, split, path, config)
        _check_ids(part, data.id_column, path)
        parts.append(part)
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _input_record(paths: list[Path], rows: int) -> dict:
    """Path and SHA-256 of a split's data; several files hash as the hash of their hashes."""
    hashes = [sha256_file(p) for p in paths]
    if len(paths) == 1:
        return {"path": str(paths[0]), "sha256": hashes[0], "rows": rows}
    import hashlib

    combined = hashlib.sha256("".join(hashes).encode()).hexdigest()
    return {"path": [str(p) for p in paths], "sha256": combined, "files_sha256": hashes, "rows": rows}


def _check_columns(frame: pd.DataFrame, split: str, path: Path, config: Config) -> None:
    data = config.data
    needed = {data.id_column: "data.id_column"}
    if not data.vote_columns or data.text_column:
        needed[data.text_column] = "data.text_column"
    if split in GOLD_SPLITS:
        needed[data.label_column] = "data.label_column"
    for column in (data.time_column, data.group_column):
        if column:
            needed[column] = "data.time_column" if column == data.time_column else "data.group_column"
    for column in data.feature_columns:
        needed[column] = "data.feature_columns"
    if split == "test":  # fail before training, not after
        for column in data.slice_columns:
            needed[column] = "data.slice_columns"
        for column in config.evaluate.slice_columns:
            needed[column] = "evaluate.slice_columns"
    for column in data.vote_columns:
        needed[column] = "data.vote_columns"
    require_columns(frame, needed, path=path)


def _check_ids(frame: pd.DataFrame, id_column: str, path: Path) -> None:
    ids = frame[id_column]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DatasetError(f"{path}: id column {id_column!r} is empty on row {row + 1}; every row needs an id.")



def _rename_repeated_ids(frame: pd.DataFrame, id_column: str, path: Path) -> list[str]:
    """Repeated ids get a suffix (`X~2`, `X~3`) so every row can be named; returns a warning."""
    ids = frame[id_column].astype(str)
    repeat = ids.groupby(ids).cumcount().to_numpy()
    if not repeat.any():
        return []
    first = ids[repeat > 0].iloc[0]
    frame[id_column] = [i if r == 0 else f"{i}~{r + 1}" for i, r in zip(ids, repeat)]
    return [f"{path}: {int((repeat > 0).sum())} rows repeat an id of column {id_column!r} (first: {first!r}); "
            f"the later copies were renamed {first + '~2'!r} and so on. Ids should be unique."]


def _vote_columns(frames, inputs: dict, schema: LabelSchema, config: Config) -> dict[str, np.ndarray]:
    """Precomputed votes (crowd workers, other models, legacy rules): one column per source."""
    from labelkit.wrench import votes_from_frame

    return {split: votes_from_frame(frame, config.data.vote_columns, schema.classes, where=inputs[split]["path"])
            for split, frame in frames.items()}


def _load_wrench(config: Config) -> TaskData:
    from labelkit.wrench import read_wrench

    folder = config.resolve(config.data.wrench)
    wrench = read_wrench(folder)
    classes = tuple(config.task.classes) or tuple(wrench.classes)
    schema = LabelSchema(classes)
    split_names = {"train": "train", "dev": "valid", "test": "test"}
    frames, gold, votes, inputs = {}, {}, {}, {}
    for split, name in split_names.items():
        if name not in wrench.splits:
            raise DatasetError(f"WRENCH folder {folder} has no {name}.json; labelkit needs train, valid and test.")
        frame = wrench.splits[name]
        frames[split] = frame
        votes[split] = wrench.label_matrices[name]
        path = folder / f"{name}.json"
        inputs[split] = {"path": str(path), "sha256": sha256_file(path), "rows": len(frame)}
        if split in GOLD_SPLITS:
            gold[split] = schema.encode_gold(frame["label"].tolist(), where=str(path))
    return TaskData(schema, frames, gold, inputs, votes=votes, vote_names=list(wrench.lf_names))
