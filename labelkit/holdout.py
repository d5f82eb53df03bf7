"""Temporal holdout: how a model trained only on older data does on the newest period.

The build's end model may have seen train rows from the newest period; a model shipped today will
not see next month's. So: fit the same end model (same labels, same C) on the train rows before
the newest test period starts, and score it, the full model and the rules on that period.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MIN_ROWS = 20


def temporal_holdout(config, data, proba_train: np.ndarray, L_train: np.ndarray, prior: np.ndarray,
                     preds: dict, end_model, drift: dict) -> dict | None:
    from labelkit.evaluate import classification_metrics
    from labelkit.pipeline import fit_end_model

    period = _newest_period(drift)
    if period is None or end_model is None:
        return None
    start = pd.Period(period, freq=drift["freq"]).start_time
    column = config.data.time_column
    train_times = _times(data.frames["train"][column])
    test_times = _times(data.frames["test"][column])
    older = (train_times < start).to_numpy()
    newest = ((test_times >= start) & (test_times < pd.Period(period, freq=drift["freq"]).end_time)).to_numpy()
    if older.sum() < MIN_ROWS or newest.sum() < MIN_ROWS:
        return None
    older_data = _subset_train(data, older)
    model = fit_end_model(config, older_data, proba_train[older], L_train[older], prior, Cs=[end_model.C])
    y = data.gold["test"][newest]
    score = lambda pred: round(classification_metrics(y, pred, data.schema.classes)["accuracy"], 4)  # noqa: E731
    return {
        "period": period,
        "test_rows": int(newest.sum()),
        "train_rows_before": int(older.sum()),
        "train_rows_total": int(len(older)),
        "accuracy": {
            "end_model_trained_on_older_data": score(model.predict(data.frames["test"].loc[newest])),
            "end_model": score(preds["end_model"][newest]),
            "rule_baseline": score(preds["rule_baseline"][newest]),
        },
    }


def _newest_period(drift: dict) -> str | None:
    periods = [p for p in drift.get("periods", []) if p["n"] >= MIN_ROWS]
    return periods[-1]["period"] if periods else None


def _times(values: pd.Series) -> pd.Series:
    """Times as drift_table reads them (unparseable ones are NaT, already reported there)."""
    from labelkit.evaluate.drift import parse_times

    return parse_times(values, str(values.name), strict=False)[0]


def _subset_train(data, mask: np.ndarray):
    import dataclasses

    frames = dict(data.frames)
    frames["train"] = data.frames["train"].loc[mask]
    return dataclasses.replace(data, frames=frames)
