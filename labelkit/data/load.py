"""A task's data: the train/dev/test splits named in the config, loaded and validated."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.settings.config import Config
from labelkit.errors import ConfigError, DatasetError
from labelkit.io.files import ReadOptions, check_unique_columns, read_table, sha256_file
from labelkit.schema import LabelSchema
from labelkit.io.times import parse_utc

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
    expectations: pd.DataFrame | None = None  # [evaluate] expectations, read and checked with the data


def load_task_data(config: Config) -> TaskData:
    if config.data.wrench:
        return _load_wrench(config)
    schema = LabelSchema(tuple(config.task.classes))
    data = config.data
    frames, gold, inputs, warnings = {}, {}, {}, []
    parts = split_labeled_file(config) if data.labeled else None
    missing: list[MissingColumns] = []  # every split's missing columns are named at once
    for split in SPLITS:
        if parts is not None:
            paths, frame = [config.resolve(data.labeled)], parts[split]
        else:
            paths = _split_paths(config, split)
            try:
                frame = _read_split(paths, split, config)
            except MissingColumns as exc:
                missing.append(exc)
                continue
        path = paths[0] if len(paths) == 1 else Path(f"{split} files ({', '.join(p.name for p in paths)})")
        warnings += _rename_repeated_ids(frame, data.id_column, path)
        frames[split] = frame
        inputs[split] = _input_record(paths, len(frame))
        if parts is not None:
            inputs[split]["split"] = _split_description(config)
        if split in GOLD_SPLITS:
            gold[split] = _gold(frame, split, path, schema, config)
    if missing:
        raise MissingColumns([m for exc in missing for m in exc.missing], config, also=_missing_expectations(config))
    votes = _vote_columns(frames, inputs, schema, config) if data.vote_columns else None
    return TaskData(schema, frames, gold, inputs, votes=votes, vote_names=list(data.vote_columns) or None,
                    warnings=warnings)


def with_expectations(config: Config, data: TaskData) -> TaskData:
    """`data` with the [evaluate] expectations file read and checked (file, columns, class names, rows),
    so a bad file stops the build before any work; read once, kept with the data. No file: unchanged."""
    if not config.evaluate.expectations or data.expectations is not None:
        return data
    from labelkit.evaluate.expectations import load_expectations

    problem = _missing_expectations(config)
    if problem:
        raise DatasetError(problem[0].upper() + problem[1:])
    table = load_expectations(config.resolve(config.evaluate.expectations), data.schema.classes,
                              text_column=config.data.text_column or "text")
    return dataclasses.replace(data, expectations=table)


def load_split(config: Config, split: str) -> tuple[pd.DataFrame, np.ndarray | None]:
    """One split alone (e.g. gold dev for `labelkit label`): its rows and gold labels (dev/test)."""
    schema = LabelSchema(tuple(config.task.classes))
    if config.data.labeled:
        paths, frame = [config.resolve(config.data.labeled)], split_labeled_file(config)[split]
    else:
        paths = _split_paths(config, split)
        frame = _read_split(paths, split, config)
    frame.attrs["path"] = str(paths[0])
    if split not in GOLD_SPLITS:
        return frame, None
    return frame, schema.encode_gold(frame[config.data.label_column].tolist(), where=f"{paths[0]} column {config.data.label_column!r}")


def _split_paths(config: Config, split: str) -> list[Path]:
    names = getattr(config.data, split)
    if not names:
        raise ConfigError(f"[data -> {split}] is not set; give the {split} file (CSV, Parquet or JSONL), "
                          f"or one labeled file as [data -> labeled] to be split.")
    names = [names] if isinstance(names, str) else list(names)
    for name in names:
        _require_file(config, "data", split, name)
    return [config.resolve(n) for n in names]


def _no_file(config: Config, section: str, key: str, value: str, what: str = "data file") -> str | None:
    """'data file /abs/x.csv does not exist ([data -> train] = "x.csv", relative to ...); fix the path', or None."""
    path = config.resolve(value)
    if path.exists():
        return None
    named = f'[{section} -> {key}] = "{value}"'
    if config.path is not None and not Path(value).expanduser().is_absolute():
        named += f", relative to the folder of {config.path}"
    return f"{what} {path.resolve()} does not exist ({named}); fix the path"


def _require_file(config: Config, section: str, key: str, value: str) -> None:
    problem = _no_file(config, section, key, value, "Data file")
    if problem:
        raise DatasetError(problem + ", or move the file there.")


def _missing_expectations(config: Config) -> str:
    """'' or why the [evaluate] expectations file cannot be read (it is optional: remove the setting)."""
    if not config.evaluate.expectations:
        return ""
    problem = _no_file(config, "evaluate", "expectations", config.evaluate.expectations, "expectations file")
    return problem + ", or remove the setting (it is optional)." if problem else ""


# settings that name columns and may be left out of a config
OPTIONAL_COLUMN_SETTINGS = ("data.time_column", "data.group_column", "data.slice_columns", "evaluate.slice_columns",
                            "data.feature_columns", "data.vote_columns")


class MissingColumns(DatasetError):
    """Columns the config names that a data file lacks: (column, setting, file, the file's columns) each;
    the message names them all at once, and says "or remove it" for optional settings."""

    def __init__(self, missing: list[tuple[str, str, str, tuple[str, ...]]], config: Config, also: str = "") -> None:
        self.missing = missing
        super().__init__(_missing_columns_message(missing, config) + (f" Also: {also}" if also else ""))


def _missing_columns_message(missing, config: Config) -> str:
    settings: dict[str, tuple[list[str], list[str]]] = {}  # setting -> (its missing columns, files lacking them)
    have: dict[tuple[str, ...], list[str]] = {}  # a file's columns -> files with exactly those
    for column, setting, file, columns in missing:
        names, files = settings.setdefault(setting, ([], []))
        names += [column] if column not in names else []
        files += [file] if file not in files else []
        if file not in have.setdefault(tuple(columns), []):
            have[tuple(columns)].append(file)
    columns_are = "; ".join(", ".join(c) + (f" ({', '.join(f)})" if len(have) > 1 else "") for c, f in have.items())
    where = f" in {config.path}" if config.path is not None else ""
    optional = [s for s in settings if s in OPTIONAL_COLUMN_SETTINGS]
    required = [s for s in settings if s not in OPTIONAL_COLUMN_SETTINGS]
    if len(settings) == 1 and len(next(iter(settings.values()))[0]) == 1:
        setting, (names, files) = next(iter(settings.items()))
        fix = f"Set {setting}{where} to one of them" + (", or remove it (it is optional)" if optional else "")
        return f"Column {names[0]!r} not found in {', '.join(files)}; columns are: {columns_are}. {fix}."
    found = "; ".join(f"{', '.join(map(repr, names))} ({setting}) in {', '.join(files)}"
                      for setting, (names, files) in settings.items())
    them, are = ("it", "it is") if len(optional) == 1 else ("them", "they are")
    if not optional:
        fix = f"Set {', '.join(required)}{where} to columns the files have."
    elif not required:
        fix = f"Set {', '.join(optional)}{where} to columns the files have, or remove {them} ({are} optional)."
    else:
        fix = (f"Set {', '.join(required)}{where} to columns the files have; set {', '.join(optional)} likewise, "
               f"or remove {them} ({are} optional).")
    return f"Columns not found: {found}; columns are: {columns_are}. {fix}"


def read_options(config: Config) -> ReadOptions:
    d = config.data
    delimiter = "\t" if d.delimiter in ("\\t", "tab") else d.delimiter
    return ReadOptions(delimiter=delimiter, header=d.header, encoding=d.encoding, columns=tuple(d.column_names),
                       quote=d.quote)


def _read_split(paths: list[Path], split: str, config: Config) -> pd.DataFrame:
    parts = [_read_file(path, split, config) for path in paths]
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _read_file(path: Path, split: str, config: Config) -> pd.DataFrame:
    data = config.data
    frame = read_table(path, string_columns=tuple(c for c in (data.id_column, data.label_column, data.group_column) if c),
                       options=read_options(config))
    if not data.header and data.id_column not in frame.columns:  # a headerless file without ids: line numbers
        frame.insert(0, data.id_column, [str(i) for i in range(1, len(frame) + 1)])
    _check_columns(frame, split, path, config)
    _check_ids(frame, data.id_column, path)
    check_value_types(frame, path, config)
    return frame


# ---------------------------------------------------------------- one labeled file -> train/dev/test

def split_labeled_file(config: Config) -> dict[str, pd.DataFrame]:
    """[data -> labeled] split into train/dev/test: seeded random or by time (oldest rows train, newest
    test). Rows without a label go to train; the train part drops the label column (LFs must not see it)."""
    data = config.data
    _require_file(config, "data", "labeled", data.labeled)
    path = config.resolve(data.labeled)
    frame = _read_file(path, "test", config)  # the test split needs every column a split can need
    labeled = np.flatnonzero(frame[data.label_column].notna().to_numpy())
    if data.split == "time":
        times = parse_utc(frame[data.time_column].iloc[labeled])
        if times.isna().any():
            row = int(labeled[np.flatnonzero(times.isna().to_numpy())[0]])
            raise DatasetError(f"{path}: column {data.time_column!r} on row {row + 1} is "
                               f"{frame[data.time_column].iloc[row]!r}, not a time; [data -> split] = 'time' needs "
                               f"a time on every labeled row.")
        order = labeled[np.argsort(times.to_numpy(), kind="stable")]
    else:
        order = np.random.default_rng(data.split_seed).permutation(labeled)
    _, f_dev, f_test = data.split_fractions
    n_dev, n_test = round(f_dev * len(order)), round(f_test * len(order))
    n_train = len(order) - n_dev - n_test
    if n_dev < 1 or n_test < 1 or n_train + (len(frame) - len(labeled)) < 1:
        raise DatasetError(f"{path}: {len(labeled)} labeled rows split by [data -> split_fractions] = "
                           f"{data.split_fractions} leave train, dev or test without rows; give more rows or other fractions.")
    unlabeled = np.flatnonzero(frame[data.label_column].isna().to_numpy())
    rows = {"train": np.concatenate([order[:n_train], unlabeled]), "dev": order[n_train:n_train + n_dev],
            "test": order[n_train + n_dev:]}
    parts = {split: frame.iloc[np.sort(index)].reset_index(drop=True) for split, index in rows.items()}
    parts["train"] = parts["train"].drop(columns=[data.label_column])
    return parts


def _split_description(config: Config) -> str:
    d = config.data
    how = f"random, split_seed {d.split_seed}" if d.split == "random" else f"by {d.time_column}"
    return f"{how}, fractions {list(d.split_fractions)} of {d.labeled}"


def input_paths(config: Config) -> list[Path]:
    """Files and folders a command reads (config, data, LF modules...): an output may never replace them."""
    names: list = [config.data.wrench, config.data.labeled, config.evaluate.expectations,
                   getattr(config.data, "corrections", "")]
    for setting in (config.data.train, config.data.dev, config.data.test, config.task.labeling_functions,
                    getattr(config.task, "rules", []), getattr(config.data, "human_labels", [])):
        names += [setting] if isinstance(setting, str) else list(setting)
    paths = [Path(config.path), Path(config.root)] if config.path is not None else []
    return paths + [config.resolve(n) for n in names if n]


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
    missing = [(column, setting, str(path), tuple(map(str, frame.columns)))
               for column, setting in needed.items() if column and column not in frame.columns]
    if missing:
        raise MissingColumns(missing, config)


UNHASHABLE = (list, dict, set, np.ndarray)


def check_value_types(frame: pd.DataFrame, path, config: Config) -> None:
    """Columns the config names must hold one plain value per row (not lists, e.g. WRENCH entity spans)."""
    d = config.data
    named = {d.id_column: "data.id_column", d.text_column: "data.text_column", d.label_column: "data.label_column",
             d.time_column: "data.time_column", d.group_column: "data.group_column"}
    for settings, where in ((d.slice_columns, "data.slice_columns"), (config.evaluate.slice_columns, "evaluate.slice_columns"),
                            (d.feature_columns, "data.feature_columns")):
        named.update({c: where for c in settings})
    for column, setting in named.items():
        if column and column in frame.columns and frame[column].dtype == object:
            row = first_unhashable(frame[column])
            if row is not None:
                value = repr(frame[column].iloc[row])
                raise DatasetError(
                    f"{path}: column {column!r} holds a {type(frame[column].iloc[row]).__name__} on row {row + 1} "
                    f"({value[:60]}); {setting} needs one plain value (text, number, date) per row."
                )
    check_feature_values(frame, path, d.feature_columns)


def check_feature_values(frame: pd.DataFrame, path, columns) -> None:
    """What the end model cannot take in a feature column: a number missing from a numeric column,
    numbers mixed with text (one-hot encoding needs one kind per column)."""
    for column in columns:
        if column not in frame.columns:
            continue
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) and values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise DatasetError(f"{path}: feature column {column!r} has no number on row {row + 1}; "
                               f"data.feature_columns need a value on every row (fill the gaps, e.g. with 0).")
        if values.dtype == object:
            present = np.flatnonzero(values.notna().to_numpy())
            is_text = np.fromiter((isinstance(v, str) for v in values.to_numpy()[present]), dtype=bool, count=len(present))
            if is_text.any() and not is_text.all():
                number, text = present[~is_text][0], present[is_text][0]
                raise DatasetError(f"{path}: feature column {column!r} mixes numbers (row {number + 1}: "
                                   f"{values.iloc[number]!r}) and text (row {text + 1}: {values.iloc[text]!r}); "
                                   f"data.feature_columns need one kind per column.")


def first_unhashable(series: pd.Series) -> int | None:
    """Position of the first list/dict/set/array cell, or None."""
    for position, value in enumerate(series.to_numpy()):
        if isinstance(value, UNHASHABLE):
            return position
    return None


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
    n = int((repeat > 0).sum())
    return [f"{path}: {n} {'row repeats' if n == 1 else 'rows repeat'} an id of column {id_column!r} (first: {first!r}); "
            f"the later copies were renamed {first + '~2'!r} and so on. Ids should be unique."]


def _vote_columns(frames, inputs: dict, schema: LabelSchema, config: Config) -> dict[str, np.ndarray]:
    """Precomputed votes (crowd workers, other models, legacy rules): one column per source."""
    from labelkit.wrench import votes_from_frame

    return {split: votes_from_frame(frame, config.data.vote_columns, schema.classes, where=inputs[split]["path"])
            for split, frame in frames.items()}


def _load_wrench(config: Config) -> TaskData:
    import warnings

    from labelkit.wrench import read_wrench

    folder = config.resolve(config.data.wrench)
    with warnings.catch_warnings(record=True) as caught:  # reading problems go to the build's warnings
        warnings.simplefilter("always")
        wrench = read_wrench(folder, text_field=config.data.text_column or None)
    if not wrench.lf_names:
        raise DatasetError(f"{folder}: every row's weak_labels is empty; a WRENCH set needs the votes of at least one LF.")
    classes = _wrench_classes(config, wrench, folder)
    schema = LabelSchema(classes)
    split_names = {"train": "train", "dev": "valid", "test": "test"}
    frames, gold, votes, inputs = {}, {}, {}, {}
    for split, name in split_names.items():
        if name not in wrench.splits:
            raise DatasetError(f"WRENCH folder {folder} has no {name}.json; labelkit needs train, valid and test.")
        frame = wrench.splits[name]
        if not len(frame):
            raise DatasetError(f"{folder / f'{name}.json'} has no rows; labelkit needs rows in train, valid (gold dev) "
                               f"and test.")
        _check_wrench_text(frame, folder / f"{name}.json", config.data.text_column, wrench.feature_vectors)
        check_value_types(frame, folder / f"{name}.json", config)
        frames[split] = frame
        votes[split] = wrench.label_matrices[name]
        path = folder / f"{name}.json"
        inputs[split] = {"path": str(path), "sha256": wrench.sha256[name], "rows": len(frame)}  # hashed as read
        if split in GOLD_SPLITS:
            unlabeled = np.flatnonzero(wrench.labels[name] < 0)
            if unlabeled.size:
                raise DatasetError(f"{path}: {unlabeled.size} of {len(frame)} rows have no label (null or -1), the "
                                   f"first is row {frame['id'].iloc[unlabeled[0]]!r}; every {name} row needs a gold "
                                   f"label 0..{wrench.cardinality - 1}.")
            gold[split] = schema.encode_gold(frame["label"].tolist(), where=str(path))
    notes = [str(w.message) for w in caught] + _feature_vector_notes(config, frames["train"], folder)
    return TaskData(schema, frames, gold, inputs, votes=votes, vote_names=list(wrench.lf_names), warnings=notes)


def _feature_vector_notes(config: Config, train: pd.DataFrame, folder: Path) -> list[str]:
    """What a build of a WRENCH set without text uses instead (config.wrench_feature_defaults set the
    columns): said once with the build's warnings, since a user expecting a text model must see it."""
    from labelkit.wrench import shown_columns

    d = config.data
    if d.text_column or not d.feature_columns:
        return []
    unused = [c for c in train.columns if c not in ("id", "label", *d.feature_columns) and train[c].dtype == object]
    return [f"{folder}: rows carry no text; the end model learns from {len(d.feature_columns)} feature column(s) "
            f"{shown_columns(d.feature_columns)} (the rows' feature vector, one column per position; "
            f"[data] feature_columns)" + (f"; field(s) {', '.join(map(repr, unused))} are not used (name one with "
                                           f"--set data.text_column=FIELD to learn from it as text)" if unused else "")
            + "."]


def _wrench_classes(config: Config, wrench, folder: Path) -> tuple[str, ...]:
    """The folder's classes; [task -> classes] may only name them (by index) when there is no label.json,
    since votes and labels are indices into label.json's order."""
    given, found = tuple(config.task.classes), tuple(wrench.classes)
    if not given or given == found:
        return found
    named = (folder / "label.json").is_file()
    if named or len(given) != len(found):
        source = f"{folder / 'label.json'}" if named else f"{folder} (its votes and labels)"
        fix = "leave task.classes unset" if named else f"give {len(found)} names in index order or leave task.classes unset"
        raise ConfigError(f"[task -> classes] is {list(given)} but {source} has {len(found)} classes {list(found)}; "
                          f"WRENCH votes and labels are indices in that order, so {fix}.")
    names = dict(zip(found, given))
    for frame in wrench.splits.values():
        frame["label"] = frame["label"].map(names)  # None (no label) stays None
    return given


def _check_wrench_text(frame: pd.DataFrame, path: Path, text_column: str, vectors=None) -> None:
    """The text field must be among the rows' `data` fields (WRENCH calls it "text"; some sets do not)."""
    if text_column and text_column not in frame.columns:
        from labelkit.wrench import vector_columns

        expanded = set(vector_columns(dict(vectors)))
        fields = [f"{name} (a vector of {width} numbers)" for name, width in dict(vectors).items()]
        fields += [str(c) for c in frame.columns if c not in ("id", "label") and c not in expanded]
        raise DatasetError(f"{path}: rows have no data field {text_column!r} (fields: {', '.join(fields) or 'none'}); "
                           f"name the text field with --set data.text_column=FIELD"
                           + (f", or learn from the rows' feature vector ({', '.join(map(repr, vectors or {}))}) alone "
                              f"with --set data.text_column=" if vectors else "") + ".")


def task_data_from_frames(config: Config, frames: dict[str, pd.DataFrame]) -> TaskData:
    """A task's splits given in memory (the notebook API): validated like files, copied, never modified."""
    schema = LabelSchema(tuple(config.task.classes))
    data = config.data
    out, gold, inputs, warnings = {}, {}, {}, []
    for split in SPLITS:
        if split not in frames or not isinstance(frames[split], pd.DataFrame):
            raise DatasetError(f"The {split} split must be a pandas DataFrame.")
        frame = frames[split].reset_index(drop=True).copy()
        where = Path(f"<{split} DataFrame>")
        check_unique_columns([str(c) for c in frame.columns], where)
        _check_columns(frame, split, where, config)
        _check_ids(frame, data.id_column, where)
        check_value_types(frame, where, config)
        warnings += _rename_repeated_ids(frame, data.id_column, where)
        import hashlib

        try:
            digest = pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
        except TypeError:  # unhashable cells (lists, e.g. entity spans): hash their JSON text instead
            digest = frame.to_json(orient="split", index=False, default_handler=str).encode()
        inputs[split] = {"path": str(where), "sha256": hashlib.sha256(digest).hexdigest(), "rows": len(frame)}
        out[split] = frame
        if split in GOLD_SPLITS:
            gold[split] = _gold(frame, split, where, schema, config)
    votes = _vote_columns(out, inputs, schema, config) if data.vote_columns else None  # as load_task_data reads them
    return TaskData(schema, out, gold, inputs, votes=votes, vote_names=list(data.vote_columns) or None, warnings=warnings)


def _gold(frame: pd.DataFrame, split: str, where, schema: LabelSchema, config: Config) -> np.ndarray:
    """A gold split's labels as class indices; an empty label names its row and id."""
    data = config.data
    labels = frame[data.label_column]
    missing = labels.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DatasetError(
            f"{where}: column {data.label_column!r} is empty on row {row + 1} "
            f"({data.id_column}={frame[data.id_column].iloc[row]!r}); every {split} row needs a gold label."
        )
    return schema.encode_gold(labels.tolist(), where=f"{where} column {data.label_column!r}")
