"""Per-slice scores: config columns, slicing functions and automatic categorical slices.

A slice is a boolean mask over the test rows. Each row of the table names where the slice came from
(`kind`: column / function / auto), its `column` and `value`, its `size`, and per system the metric
and a bootstrap interval. Slices smaller than `min_size` are left out (their scores are noise).
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError, LabelingFunctionError
from labelkit.evaluate.metrics import validate_predictions
from labelkit.evaluate.uncertainty import bootstrap_samples, percentile_interval, METRICS
from labelkit.evaluate.metrics import confusion_matrix, accuracy_from_confusion, macro_f1_from_confusion

MAX_AUTO_VALUES = 20
TEXT_LIKE_MEAN_LENGTH = 40
ID_LIKE_NAMES = {"id", "row_id", "text", "label", "gold", "uid", "uuid", "comment_id"}
MISSING = "(missing)"
SLICE_BOOT = 500


def slice_table(
    df: pd.DataFrame,
    y_true,
    predictions: Mapping[str, np.ndarray],
    classes: Sequence[str],
    *,
    slice_columns: Iterable[str] = (),
    slicing_functions: Iterable[Callable] = (),
    auto_slices: bool = True,
    min_size: int = 30,
    metric: str = "accuracy",
    exclude_columns: Iterable[str] = (),
    seed: int = 0,
    n_boot: int = SLICE_BOOT,
) -> list[dict]:
    """One dict per slice of at least `min_size` rows:
    {kind, column, value, size, metric, scores: {system: value}, ci: {system: [low, high]}}."""
    if metric not in METRICS:
        raise ConfigError(f"Unknown slice metric {metric!r}; valid metrics are: {', '.join(METRICS)}.")
    if len(df) != len(np.asarray(y_true)):
        raise ConfigError(
            f"Slice table needs one test row per gold label, but the frame has {len(df)} rows and "
            f"there are {len(np.asarray(y_true))} gold labels."
        )
    k = len(classes)
    checked = {name: validate_predictions(y_true, pred, k, what=f"{name} predictions")
               for name, pred in predictions.items()}
    rows = []
    for kind, column, value, mask in iter_slices(
        df, slice_columns, slicing_functions, auto_slices=auto_slices, exclude_columns=exclude_columns
    ):
        size = int(mask.sum())
        if size < min_size:
            continue
        rows.append(_slice_row(kind, column, value, mask, checked, k, metric, seed, n_boot))
    return rows


def iter_slices(df, slice_columns, slicing_functions, *, auto_slices, exclude_columns):
    """Yield (kind, column, value, mask) for every candidate slice, in a stable order."""
    slice_columns = list(slice_columns)
    for column in slice_columns:
        if column not in df.columns:
            raise ConfigError(
                f"Slice column {column!r} not found in the test data; columns are: "
                f"{', '.join(map(str, df.columns))}. Fix evaluate.slice_columns in labelkit.toml."
            )
        yield from _column_slices("column", df, column)
    for function in slicing_functions:
        yield "function", slicing_function_name(function), "true", slicing_mask(function, df)
    if auto_slices:
        skip = set(slice_columns) | set(exclude_columns)
        for column in auto_slice_columns(df):
            if column not in skip:
                yield from _column_slices("auto", df, column)


def auto_slice_columns(df: pd.DataFrame) -> list[str]:
    """Categorical-looking columns: object/string/category/bool, 2..20 distinct values, not id/text."""
    chosen = []
    for column in df.columns:
        series = df[column]
        name = str(column).lower()
        if name in ID_LIKE_NAMES or name.endswith("_id") or name.endswith("_text"):
            continue
        if not _is_categorical_dtype(series):
            continue
        if series.dtype == object and series.map(lambda v: isinstance(v, (list, dict, set, np.ndarray))).any():
            continue  # list-valued fields (e.g. WRENCH entity spans) cannot be a slice
        distinct = series.nunique(dropna=True)
        if not 2 <= distinct <= MAX_AUTO_VALUES:
            continue
        if series.dropna().astype(str).str.len().mean() > TEXT_LIKE_MEAN_LENGTH:
            continue
        chosen.append(column)
    return chosen


def slicing_function_name(function) -> str:
    return str(getattr(function, "name", None) or getattr(function, "__name__", None) or repr(function))


def slicing_mask(function, df: pd.DataFrame) -> np.ndarray:
    """Call `function` on the whole frame; if that does not give one bool per row, call it per row."""
    try:
        result = function(df)
    except Exception:  # noqa: BLE001 - a row-wise function may fail on a frame; try it per row
        result = None
    if result is not None and not np.isscalar(result) and len(np.asarray(result)) == len(df):
        return pd.Series(np.asarray(result, dtype=object)).fillna(False).astype(bool).to_numpy()
    name = slicing_function_name(function)
    mask = np.zeros(len(df), dtype=bool)
    for position, (_, row) in enumerate(df.iterrows()):
        try:
            mask[position] = bool(function(row))
        except Exception as error:  # noqa: BLE001 - reported with the function and the row
            raise LabelingFunctionError(
                f"Slicing function {name!r} raised {type(error).__name__}: {error} on test row "
                f"{position + 1}; make it return True/False for every row."
            ) from None
    return mask


def _column_slices(kind: str, df: pd.DataFrame, column: str):
    values = df[column]
    missing = values.isna().to_numpy()
    as_text = values.astype(str).to_numpy()
    for value in sorted(set(as_text[~missing])):
        yield kind, str(column), value, (as_text == value) & ~missing
    if missing.any():
        yield kind, str(column), MISSING, missing


def _slice_row(kind, column, value, mask, checked, k, metric, seed, n_boot) -> dict:
    scores, intervals = {}, {}
    for name, (gold, pred) in checked.items():
        gold_s, pred_s = gold[mask], pred[mask]
        confusion = confusion_matrix(gold_s, pred_s, k)
        point = accuracy_from_confusion(confusion) if metric == "accuracy" else macro_f1_from_confusion(confusion)
        scores[name] = round(float(point), 4)
        samples = bootstrap_samples(gold_s, pred_s, k=k, metric=metric, n_boot=n_boot, seed=seed)
        intervals[name] = percentile_interval(samples, 0.95)
    return {
        "kind": kind,
        "column": column,
        "value": value,
        "size": int(mask.sum()),
        "metric": metric,
        "scores": scores,
        "ci": intervals,
    }


def _is_categorical_dtype(series: pd.Series) -> bool:
    dtype = series.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )
