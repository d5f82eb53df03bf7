"""Expectations: hand-written example rows each system must get right ("this is billing") or
must not get ("this is not billing"), checked like unit tests."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from labelkit.errors import DatasetError, LabelkitError
from labelkit.io.files import read_table

LABEL_COLUMNS = ("expected", "not_expected")
ABSTAINED = "(abstain)"


def load_expectations(path, classes: Sequence[str], *, text_column: str = "text") -> pd.DataFrame:
    """Read a CSV or JSONL of rows with the text (column `text_column`, or `text`; any other columns
    too) and `expected` and/or `not_expected` holding a class name; every row needs one of the two.
    The text ends up in `text_column`, as the LFs and the end model read it."""
    path = Path(path)
    frame = _read(path)
    if text_column not in frame.columns:
        if "text" not in frame.columns:
            named = "'text'" if text_column == "text" else f"{text_column!r} (or 'text')"
            raise DatasetError(
                f"{path}: expectations need a {named} column; columns are: {', '.join(map(str, frame.columns))}."
            )
        frame = frame.rename(columns={"text": text_column})
    present = [c for c in LABEL_COLUMNS if c in frame.columns]
    if not present:
        raise DatasetError(
            f"{path}: expectations need an 'expected' or 'not_expected' column; columns are: "
            f"{', '.join(map(str, frame.columns))}."
        )
    for column in LABEL_COLUMNS:
        values = frame[column] if column in frame.columns else [None] * len(frame)
        frame[column] = pd.Series([_blank_to_none(v) for v in values], index=frame.index, dtype=object)
    _validate_labels(frame, path, classes)
    return frame.reset_index(drop=True)


def check_expectations(
    expectations_df: pd.DataFrame,
    predictors: Mapping[str, Callable[[pd.DataFrame], np.ndarray]],
    classes: Sequence[str],
    *,
    text_column: str = "text",
) -> dict:
    """Per system: {passed, failed, total, failures: [{row, text, expected|not_expected, got}]}.

    A predictor takes the expectations frame and returns one prediction per row: class indices
    (-1 = abstain) or class names.
    """
    results = {}
    for name, predict in predictors.items():
        got = _as_names(predict(expectations_df), classes, name, len(expectations_df))
        results[name] = _score(expectations_df, got, text_column)
    return results


def _score(frame: pd.DataFrame, got: list[str], text_column: str) -> dict:
    failures = []
    texts = frame[text_column] if text_column in frame.columns else frame["text"]
    for position, (expected, not_expected, text, prediction) in enumerate(
            zip(frame["expected"], frame["not_expected"], texts, got)):
        if expected is not None and prediction != expected:
            failures.append({"row": position + 1, "text": str(text), "expected": expected, "got": prediction})
        elif not_expected is not None and prediction == not_expected:
            failures.append({"row": position + 1, "text": str(text), "not_expected": not_expected, "got": prediction})
    total = len(frame)
    return {"passed": total - len(failures), "failed": len(failures), "total": total, "failures": failures}


def _as_names(predicted, classes: Sequence[str], system: str, n: int) -> list[str]:
    values = np.asarray(predicted)
    if values.shape != (n,):
        raise LabelkitError(
            f"Predictor {system!r} returned shape {values.shape} for {n} expectation rows; "
            "it must return one prediction per row."
        )
    if np.issubdtype(values.dtype, np.integer):
        return [classes[i] if 0 <= i < len(classes) else ABSTAINED for i in values.tolist()]
    return [ABSTAINED if v is None else str(v) for v in values.tolist()]


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DatasetError(f"Expectations file {Path(path).resolve()} does not exist; fix [evaluate -> expectations] "
                           f"in the task's config, or remove the setting (it is optional).")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise DatasetError(f"Expectations file {path} has suffix {suffix!r}; use .csv or .jsonl.")
    return read_table(path, text=True)


def _validate_labels(frame: pd.DataFrame, path: Path, classes: Sequence[str]) -> None:
    known = set(classes)
    header_offset = 2 if path.suffix.lower() == ".csv" else 1  # file line of data row 0
    for position in range(len(frame)):
        labels = {c: frame.at[position, c] for c in LABEL_COLUMNS}
        if labels["expected"] is None and labels["not_expected"] is None:
            raise DatasetError(
                f"{path}: line {position + header_offset} has neither 'expected' nor 'not_expected'; "
                "fill one of them with a class name."
            )
        for column, value in labels.items():
            if value is not None and value not in known:
                raise DatasetError(
                    f"{path}: line {position + header_offset} has {column}={value!r}, which is not a class; "
                    f"classes are: {', '.join(classes)}."
                )
        if labels["expected"] is not None and labels["expected"] == labels["not_expected"]:
            raise DatasetError(
                f"{path}: line {position + header_offset} has expected and not_expected both "
                f"{labels['expected']!r}; a row cannot pass both, so keep one of them."
            )


def _blank_to_none(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None
