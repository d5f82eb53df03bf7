"""Drift: each system's scores per time period of the test rows, and the model's drop over time."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError, DatasetError
from labelkit.io.times import parse_utc
from labelkit.evaluate.metrics import (
    accuracy_from_confusion,
    confusion_matrix,
    macro_f1_from_confusion,
    validate_predictions,
)

FREQUENCIES = ("W", "M", "Q", "Y")
AUTO_MAX_PERIODS = 24
AUTO_MIN_MEDIAN_SIZE = 50
MIN_ROWS_FOR_DROP = 20
SHOWN_BAD_ROWS = 5


def drift_table(
    df: pd.DataFrame,
    time_column: str,
    y_true,
    predictions: Mapping[str, np.ndarray],
    classes: Sequence[str],
    *,
    freq: str = "auto",
    model: str = "end_model",
) -> dict:
    """Scores per period; "drop" is the model's accuracy in the first period minus the last
    (periods with fewer than 20 rows are passed over for the drop, unless all are that small).

    freq "auto" picks the finest of week/month/quarter/year with at most 24 periods and a median
    of at least 50 rows per period. Rows with no timestamp are left out and counted; timestamps
    that cannot be parsed raise DatasetError naming the rows.
    """
    if time_column not in df.columns:
        raise ConfigError(
            f"Drift time column {time_column!r} not found in the test data; columns are: "
            f"{', '.join(map(str, df.columns))}. Fix evaluate.time_column in labelkit.toml."
        )
    if freq != "auto" and freq not in FREQUENCIES:
        raise ConfigError(f"Unknown drift frequency {freq!r}; use auto or one of: {', '.join(FREQUENCIES)}.")
    k = len(classes)
    checked = {name: validate_predictions(y_true, pred, k, what=f"{name} predictions")
               for name, pred in predictions.items()}
    times, unparseable = parse_times(df[time_column], time_column, strict=False)
    present = times.notna().to_numpy()
    freq = choose_frequency(times[present]) if freq == "auto" else freq
    periods = times[present].dt.to_period(_period_alias(freq)).astype(str).to_numpy()
    table = [_period_row(label, present, periods, checked, k) for label in sorted(set(periods))]
    drops = _drops(table)
    return {
        "time_column": str(time_column),
        "drop_periods": _drop_periods(table),
        "freq": freq,
        "n_missing_time": int((~present).sum()),
        "unparseable_time": unparseable,
        "periods": table,
        "model": model,
        "drop": drops.get(model),
        "drops": drops,
    }


def parse_times(values: pd.Series, column: str, *, strict: bool = True):
    """Timestamps as naive UTC datetimes; missing stays NaT. Unparseable values raise naming the rows
    (strict), or become NaT and are described in the second return value (not strict)."""
    parsed = parse_utc(values)
    bad = parsed.isna().to_numpy() & values.notna().to_numpy() & (values.astype(str).str.strip() != "").to_numpy()
    message = None
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"row {r + 1} ({values.iloc[r]!r})" for r in rows[:SHOWN_BAD_ROWS])
        more = f" and {len(rows) - SHOWN_BAD_ROWS} more" if len(rows) > SHOWN_BAD_ROWS else ""
        message = (f"Column {column!r} has {len(rows)} timestamps that cannot be parsed: {shown}{more}; "
                   "use ISO dates such as 2024-03-31 or 2024-03-31T12:00:00.")
        if strict:
            raise DatasetError(message)
    parsed = parsed.dt.tz_convert(None)
    return parsed if strict else (parsed, message)


def choose_frequency(times: pd.Series) -> str:
    for freq in FREQUENCIES:
        counts = times.dt.to_period(_period_alias(freq)).value_counts()
        if len(counts) <= AUTO_MAX_PERIODS and counts.median() >= AUTO_MIN_MEDIAN_SIZE:
            return freq
    return "Q"


def _period_alias(freq: str) -> str:
    return {"W": "W", "M": "M", "Q": "Q", "Y": "Y"}[freq]


def _period_row(label, present, periods, checked, k) -> dict:
    in_period = periods == label
    systems = {}
    for name, (gold, pred) in checked.items():
        confusion = confusion_matrix(gold[present][in_period], pred[present][in_period], k)
        systems[name] = {
            "accuracy": round(float(accuracy_from_confusion(confusion)), 4),
            "macro_f1": round(float(macro_f1_from_confusion(confusion)), 4),
        }
    return {"period": str(label), "n": int(in_period.sum()), "systems": systems}


def _drops(table: list[dict]) -> dict:
    large = [row for row in table if row["n"] >= MIN_ROWS_FOR_DROP] or table
    if len(large) < 2:
        return {}
    first, last = large[0]["systems"], large[-1]["systems"]
    return {name: round(first[name]["accuracy"] - last[name]["accuracy"], 4) for name in first}


def _drop_periods(table: list[dict]) -> list[str]:
    large = [row for row in table if row["n"] >= MIN_ROWS_FOR_DROP] or table
    return [large[0]["period"], large[-1]["period"]] if len(large) >= 2 else []
