"""One rule for timestamps everywhere (audit, drift, time splits, replay): ISO fast path, mixed retry."""
from __future__ import annotations

import pandas as pd

from labelkit.times import parse_utc


def test_iso_and_other_formats_parse_as_mixed_would_and_bad_values_are_nat():
    values = pd.Series(["2024-03-31", "2024-03-31T12:00:00+02:00", "31 March 2024", "03/30/2024 10:00",
                        "yesterday-ish", None, ""])
    parsed = parse_utc(values)
    mixed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    pd.testing.assert_series_equal(parsed, mixed)
    assert parsed.iloc[1] == pd.Timestamp("2024-03-31T10:00:00Z")  # offsets converted to UTC
    assert parsed.iloc[2] == pd.Timestamp("2024-03-31T00:00:00Z")  # a format ISO 8601 cannot read
    assert parsed.iloc[4:].isna().all()
