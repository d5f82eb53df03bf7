"""Temporal holdout: how a model trained only on older data does on the newest period.

The build's end model may have seen train rows from the newest period; a model shipped today will
not see next month's. So: fit the same end model (same labels, same C) on the train rows before
the newest test period starts, and score it, the full model and the rules on that period.

It needs at least MIN_ROWS older train rows and newest test rows, and every class present in the
newest period with at least MIN_CLASS_ROWS rows in the older train rows' labels (an end model
fitted on one class, or scored on one, tells nothing). Otherwise it is skipped and the returned
dict says why (`{"skipped": reason}`), which the report shows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MIN_ROWS = 20
MIN_CLASS_ROWS = 5


def temporal_holdout(config, data, proba_train: np.ndarray, L_train: np.ndarray, prior: np.ndarray,
                     preds: dict, end_model, drift: dict, notify=None) -> dict | None:
    """Past [end_model] stream_rows covered older rows, the older-data model trains on a seeded sample
    of them (stages.fit_comparison_model) and the result says so (`sampled_rows`, `note`)."""
    from labelkit.evaluate import classification_metrics
    from labelkit.pipeline.stages import fit_comparison_model

    period = _newest_period(drift)
    if period is None or end_model is None:
        return None
    start = pd.Period(period, freq=drift["freq"]).start_time
    column = config.data.time_column
    train_times = _times(data.frames["train"][column])
    test_times = _times(data.frames["test"][column])
    older = (train_times < start).to_numpy()
    newest = ((test_times >= start) & (test_times < pd.Period(period, freq=drift["freq"]).end_time)).to_numpy()
    problem = _too_thin(older, newest, proba_train, data.gold["test"], data.schema.classes)
    if problem:
        return {"period": period, "skipped": f"temporal holdout on {period} skipped: {problem}."}
    older_data = _subset_train(data, older)
    model, sampling = fit_comparison_model(config, older_data, proba_train[older], L_train[older], prior,
                                           like=end_model, what="The temporal holdout's end model", notify=notify)
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
        **sampling,  # sampled_rows and a note when the older-data model trained on a sample
    }


def _too_thin(older: np.ndarray, newest: np.ndarray, proba_train: np.ndarray, y_test: np.ndarray, classes) -> str | None:
    """Why the holdout cannot say anything useful, or None."""
    if older.sum() < MIN_ROWS or newest.sum() < MIN_ROWS:
        return (f"{int(older.sum())} train rows before the period and {int(newest.sum())} test rows in it; "
                f"it needs {MIN_ROWS} of each")
    present = np.unique(y_test[newest])
    if len(present) < 2:
        return f"the {int(newest.sum())} test rows of the period all have one class ({classes[present[0]]!r})"
    counts = np.bincount(proba_train[older].argmax(axis=1), minlength=len(classes))
    thin = [f"{classes[c]!r} ({counts[c]})" for c in present if counts[c] < MIN_CLASS_ROWS]
    if thin:
        return (f"the older train rows' labels have fewer than {MIN_CLASS_ROWS} rows of {', '.join(thin)}, "
                "so a model trained on them cannot be judged on this period")
    return None


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
