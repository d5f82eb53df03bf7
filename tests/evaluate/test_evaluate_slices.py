import numpy as np
import pandas as pd
import pytest

from labelkit.errors import ConfigError
from labelkit.evaluate import drift_table, find_guardrail_failures, slice_table

CLASSES = ["billing", "connectivity"]


def _planted(seed=0, n=600):
    """The model beats the baseline overall but is much worse on country == FR."""
    rng = np.random.default_rng(seed)
    country = rng.choice(["DE", "FR", "US"], n)
    y = rng.integers(0, 2, n)
    baseline = np.where(rng.random(n) < 0.75, y, 1 - y)
    model_ok = np.where(country == "FR", 0.5, 0.97)
    model = np.where(rng.random(n) < model_ok, y, 1 - y)
    df = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "text": ["some ticket text"] * n,
                       "country": country, "plan": rng.choice(["free", "pro"], n)})
    return df, y, {"rule_baseline": baseline, "end_model": model}


def test_planted_weak_slice_is_flagged_although_model_wins_overall():
    df, y, preds = _planted()
    assert np.mean(preds["end_model"] == y) > np.mean(preds["rule_baseline"] == y)
    slices = slice_table(df, y, preds, CLASSES, slice_columns=["country"], n_boot=200)
    failures = find_guardrail_failures(slices)
    assert [(f["column"], f["value"]) for f in failures] == [("country", "FR")]
    fr = failures[0]
    mask = (df["country"] == "FR").to_numpy()
    assert fr["size"] == int(mask.sum())
    assert fr["model_score"] == round(float(np.mean(preds["end_model"][mask] == y[mask])), 4)
    assert fr["gap"] < -0.02


def test_slice_sources_min_size_and_auto_columns():
    df, y, preds = _planted()
    def is_pro(row):
        return row["plan"] == "pro"
    def frame_fn(frame):
        return frame["country"] == "DE"
    frame_fn.name = "german"
    slices = slice_table(df, y, preds, CLASSES, slice_columns=["country"],
                         slicing_functions=[is_pro, frame_fn], min_size=30, n_boot=50)
    keys = [(s["kind"], s["column"], s["value"]) for s in slices]
    assert ("column", "country", "FR") in keys
    assert ("function", "is_pro", "true") in keys
    assert ("function", "german", "true") in keys
    assert ("auto", "plan", "free") in keys
    assert not any(s["column"] in ("id", "text") for s in slices)
    assert sum(1 for k in keys if k[1] == "country") == 3  # not repeated by auto slices
    pro = next(s for s in slices if s["column"] == "is_pro")
    assert pro["size"] == int((df["plan"] == "pro").sum())
    big = slice_table(df, y, preds, CLASSES, slice_columns=["country"], auto_slices=False, min_size=10_000)
    assert big == []


def test_unknown_slice_column_names_the_columns():
    df, y, preds = _planted()
    with pytest.raises(ConfigError, match="'region' not found.*country"):
        slice_table(df, y, preds, CLASSES, slice_columns=["region"])


def _drifting(n_per_month=80):
    rng = np.random.default_rng(4)
    months = ["2024-01", "2024-02", "2024-03", "2024-04"]
    days = rng.integers(1, 29, n_per_month * len(months))
    dates = np.array([f"{m}-{d:02d}" for m, d in zip(np.repeat(months, n_per_month), days)])
    y = rng.integers(0, 2, len(dates))
    right = np.where(np.char.startswith(dates, "2024-04"), 0.6, 0.95)
    model = np.where(rng.random(len(dates)) < right, y, 1 - y)
    baseline = np.where(rng.random(len(dates)) < 0.8, y, 1 - y)
    return pd.DataFrame({"created": dates}), y, {"rule_baseline": baseline, "end_model": model}


def test_planted_drift_shows_as_a_drop_in_the_latest_period():
    df, y, preds = _drifting()
    out = drift_table(df, "created", y, preds, CLASSES, freq="M")
    assert [p["period"] for p in out["periods"]] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert [p["n"] for p in out["periods"]] == [80] * 4
    last = out["periods"][-1]["systems"]["end_model"]["accuracy"]
    first = out["periods"][0]["systems"]["end_model"]["accuracy"]
    assert last == round(float(np.mean(preds["end_model"][-80:] == y[-80:])), 4)
    assert out["drop"] == round(first - last, 4)
    assert out["drop"] > 0.2
    assert abs(out["drops"]["rule_baseline"]) < 0.15
    assert drift_table(df, "created", y, preds, CLASSES)["freq"] == "M"  # auto: 80 rows a month


def test_unparseable_timestamps_name_the_rows_and_are_left_out():
    df, y, preds = _drifting(n_per_month=5)
    df.loc[3, "created"] = "not a date"
    table = drift_table(df, "created", y, preds, CLASSES)
    assert "row 4 ('not a date')" in table["unparseable_time"]
    assert table["n_missing_time"] == 1 and sum(p["n"] for p in table["periods"]) == len(df) - 1
