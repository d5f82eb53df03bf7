"""Breaches -> alerts, per metric and subject, in window order: hysteresis and cooldown.

An alert is raised when a value leaves its band; it stays on until the value is back within
`clear_fraction` of the band (hysteresis), so a value hovering at the edge does not flap. After an
alert clears, a new breach within `cooldown` windows is marked `suppressed` instead of raising again.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def apply_alerts(frame: pd.DataFrame, *, clear_fraction: float, cooldown: int) -> pd.DataFrame:
    frame = frame.copy()
    alert = np.zeros(len(frame), bool)
    event = np.full(len(frame), "", dtype=object)
    columns = {c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
               for c in ("n", "value", "reference", "lower", "upper")}
    breach = frame["breach"].to_numpy(dtype=bool)
    for _, index in frame.groupby(["metric", "subject"], sort=False).indices.items():
        _walk(np.sort(index), columns, breach, alert, event, clear_fraction, cooldown)
    frame["alert"] = alert
    frame["event"] = event
    return frame


def _walk(index, columns, breach, alert, event, clear_fraction, cooldown) -> None:
    on, quiet = False, 0
    for i in index:
        if not on:
            if breach[i]:
                if quiet > 0:
                    event[i] = "suppressed"
                else:
                    on, event[i] = True, "raised"
            quiet = max(0, quiet - 1)
        elif _cleared({c: v[i] for c, v in columns.items()}, clear_fraction):
            on, event[i], quiet = False, "cleared", cooldown
        alert[i] = on


def _cleared(row: dict, clear_fraction: float) -> bool:
    value = row["value"]
    if row["n"] == 0 or np.isnan(value):
        return False  # no evidence either way: the alert stays
    centre = 0.0 if np.isnan(row["reference"]) else row["reference"]
    if not np.isnan(row["upper"]) and value > centre + clear_fraction * (row["upper"] - centre):
        return False
    if not np.isnan(row["lower"]) and value < centre - clear_fraction * (centre - row["lower"]):
        return False
    return True
