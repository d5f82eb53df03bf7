"""Timestamps in the data: one parsing rule for the audit, drift, splits by time and replayed logs."""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

EPOCH = pd.Timestamp(0, tz="UTC")
MAX_SECONDS = 9.2e9  # |epoch seconds| within pandas' datetime range (1677-09-21 .. 2262-04-11)


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


def epoch_seconds(stamps: pd.Series) -> np.ndarray:
    """UTC datetimes as float seconds since 1970-01-01, whatever time unit pandas parsed them to (text
    parses to microseconds in pandas 3, a bare number to nanoseconds); NaT gives NaN. Never read the
    int64 values of a datetime series: their unit depends on how it was made."""
    seconds = (stamps - EPOCH) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype=np.float64, na_value=np.nan)


def time_values(values: pd.Series) -> np.ndarray:
    """Request times as float epoch seconds (replayed files, served requests): a number, or text that
    is one, is epoch seconds; other text is read by parse_utc (a time without an offset is UTC);
    datetimes are taken as they are (naive ones as UTC). Missing or unreadable values give NaN, and so
    do numbers outside the years 1678-2261 (epoch milliseconds, say, read as seconds)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = values if values.dt.tz is not None else values.dt.tz_localize("UTC")
        return epoch_seconds(stamps.dt.tz_convert("UTC"))
    values = pd.Series(values, dtype=object).reset_index(drop=True)
    flags = values.map(lambda v: isinstance(v, bool))
    numbers_ = pd.to_numeric(values.where(~flags), errors="coerce")
    out = numbers_.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    out[~np.isfinite(out) | (np.abs(out) > MAX_SECONDS)] = np.nan
    text = np.isnan(out) & values.map(lambda v: isinstance(v, str) and bool(v.strip())).to_numpy()
    if text.any():
        out[text] = epoch_seconds(parse_utc(values[text].str.strip()))
    return out


def time_value(value) -> float:
    """One time value as seconds since the epoch, by the rule of time_values. ValueError when it is
    not a time."""
    if isinstance(value, (str, numbers.Real)) and not isinstance(value, bool):
        seconds = time_values(pd.Series([value], dtype=object))[0]
        if np.isfinite(seconds):
            return float(seconds)
    raise ValueError(f"{str(value)[:50]!r} is not a time")


def utc_timestamp(value) -> pd.Timestamp:
    """One date/time (text, a datetime) as a UTC Timestamp by the rule of parse_utc (a time without an
    offset is UTC). ValueError when it is not a time."""
    stamp = parse_utc(pd.Series([value], dtype=object))[0]
    if pd.isna(stamp):
        raise ValueError(f"{str(value)[:50]!r} is not a time")
    return stamp


def format_time(seconds: float, pattern: str | None = None) -> str:
    """Epoch seconds as UTC text: ISO 8601 (`2024-06-03T00:00:00+00:00`) or `pattern` (strftime)."""
    stamp = pd.Timestamp(float(seconds), unit="s", tz="UTC")
    return stamp.isoformat() if pattern is None else stamp.strftime(pattern)
