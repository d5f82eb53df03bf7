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


def load_task_data(config: Config) -> TaskData:
    if config.data.wrench:
        return _load_wrench(config)
    schema = LabelSchema(tuple(config.task.classes))
    data = config.data
    frames, gold, inputs = {}, {}, {}
    for split in SPLITS:
        name = getattr(data, split)
        if not name:
            raise ConfigError(f"[data -> {split}] is not set; give the {split} file (CSV, Parquet or JSONL).")
        path = config.resolve(name)
        frame = read_table(path, string_columns=tuple(c for c in (data.id_column, data.label_column, data.group_column) if c))
        _check_columns(frame, split, path, config)
        _check_ids(frame, data.id_column, path)
        frames[split] = frame
        inputs[split] = {"path": str(path), "sha256": sha256_file(path), "rows": len(frame)}
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
    votes = _vote_columns(inputs, schema, config) if data.vote_columns else None
    return TaskData(schema, frames, gold, inputs, votes=votes, vote_names=list(data.vote_columns) or None)


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
    for column in data.vote_columns:
        needed[column] = "data.vote_columns"
    require_columns(frame, needed, path=path)


def _check_ids(frame: pd.DataFrame, id_column: str, path: Path) -> None:
    ids = frame[id_column]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DatasetError(f"{path}: id column {id_column!r} is empty on row {row + 1}; every row needs an id.")
    duplicated = ids.duplicated()
    if duplicated.any():
        value = ids[duplicated].iloc[0]
        raise DatasetError(f"{path}: id {value!r} appears more than once in column {id_column!r}; ids must be unique.")


def _vote_columns(inputs: dict, schema: LabelSchema, config: Config) -> dict[str, np.ndarray]:
    """Precomputed votes (crowd workers, other models, legacy rules): one column per source."""
    from labelkit.wrench import read_vote_table

    return {split: read_vote_table(Path(info["path"]), config.data.vote_columns, schema.classes)
            for split, info in inputs.items()}


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
