"""Time windows: "1d", "6h", "1w", "30m" -> seconds; rows assigned to windows aligned on the epoch (UTC)."""
from __future__ import annotations

import re

import numpy as np

from labelkit.errors import ConfigError
from labelkit.io.times import format_time

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_window(text: str) -> int:
    """'1d' -> 86400. Units: s, m, h, d, w."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", str(text))
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"--window {text!r}: write a number and a unit (s, m, h, d, w), e.g. 1d, 6h, 1w.")
    return int(match.group(1)) * UNITS[match.group(2)]


def window_index(ts: np.ndarray, seconds: int) -> np.ndarray:
    """Window start (epoch seconds) of each timestamp; windows are aligned on 1970-01-01 UTC."""
    return (np.floor(np.asarray(ts, dtype=np.float64) / seconds) * seconds).astype(np.int64)


def window_label(start: int) -> str:
    """A window as the monitor's table names it: its start, UTC, to the minute ('2024-06-03 00:00')."""
    return format_time(start, "%Y-%m-%d %H:%M")


def window_starts(first: int, last: int, seconds: int) -> np.ndarray:
    """Every window from the first to the last, including empty ones (so an empty window is visible)."""
    return np.arange(first, last + seconds, seconds, dtype=np.int64)
