"""Timestamps in the data: one parsing rule for the audit, drift, splits by time and replayed logs."""
from __future__ import annotations

import pandas as pd


def parse_utc(values: pd.Series) -> pd.Series:
    """Timestamps as UTC datetimes; missing or unparseable values are NaT. ISO 8601 first (fast, and
    what a file of one format usually holds); values that fail are retried with mixed formats, so the
    result is that of format="mixed" at a fraction of its cost."""
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    retry = parsed.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if retry.any():
        again = pd.to_datetime(values[retry], errors="coerce", utc=True, format="mixed")
        parsed, again = _common_unit(parsed, again)
        parsed[retry] = again
    return parsed


_UNITS = ("s", "ms", "us", "ns")  # coarse to fine


def _common_unit(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Both series in the coarser of their time units (a bare number parses as nanoseconds, ISO text
    as microseconds; coarser never overflows), so one can be written into the other."""
    unit = min(a.dt.unit, b.dt.unit, key=_UNITS.index)
    return tuple(x.dt.floor(unit).dt.as_unit(unit) if x.dt.unit != unit else x.copy() for x in (a, b))
