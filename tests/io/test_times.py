"""One rule for timestamps everywhere (audit, drift, time splits, replay): ISO fast path, mixed retry."""
from __future__ import annotations

import pandas as pd
import pytest

from labelkit.io.times import parse_utc


def test_iso_and_other_formats_parse_as_mixed_would_and_bad_values_are_nat():
    values = pd.Series(["2024-03-31", "2024-03-31T12:00:00+02:00", "31 March 2024", "03/30/2024 10:00",
                        "yesterday-ish", None, ""])
    parsed = parse_utc(values)
    mixed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    pd.testing.assert_series_equal(parsed, mixed)
    assert parsed.iloc[1] == pd.Timestamp("2024-03-31T10:00:00Z")  # offsets converted to UTC
    assert parsed.iloc[2] == pd.Timestamp("2024-03-31T00:00:00Z")  # a format ISO 8601 cannot read
    assert parsed.iloc[4:].isna().all()


def test_epoch_seconds_are_right_whatever_unit_pandas_parsed_to():
    """Text parses to microseconds in pandas 3, numbers to nanoseconds: reading the int64 values as
    nanoseconds put replayed ISO times in January 1970."""
    import numpy as np
    import pytest

    from labelkit.io.times import epoch_seconds, format_time, time_value

    want = 1717372800.0  # 2024-06-03T00:00:00Z
    iso = parse_utc(pd.Series(["2024-06-03T00:00:00+00:00", "2024-06-03T02:00:00+02:00", None]))
    for unit in ("s", "ms", "us", "ns"):
        seconds = epoch_seconds(iso.dt.as_unit(unit))
        assert seconds[:2].tolist() == [want, want] and np.isnan(seconds[2])
    assert epoch_seconds(pd.to_datetime(pd.Series([int(want * 1e9)]), utc=True)).tolist() == [want]
    assert time_value("2024-06-03T00:00:00+00:00") == time_value("2024-06-03") == time_value(want) == want
    assert format_time(want) == "2024-06-03T00:00:00+00:00"
    from labelkit.io.times import time_values

    mixed = time_values(pd.Series(["2024-06-03T00:00:00+00:00", want, str(want), "", None, "soon", True], dtype=object))
    assert mixed[:3].tolist() == [want] * 3 and np.isnan(mixed[3:]).all()  # numbers are epoch seconds
    assert time_values(pd.Series(pd.to_datetime(["2024-06-03"]))).tolist() == [want]  # naive datetimes: UTC
    for bad in ("soon", "", None, True, float("nan")):
        with pytest.raises(ValueError, match="is not a time"):
            time_value(bad)


def test_one_time_value_follows_the_column_rule():
    from labelkit.io.times import utc_timestamp

    assert utc_timestamp("2026-01-31") == pd.Timestamp("2026-01-31T00:00:00Z")  # no offset: UTC
    assert utc_timestamp("2026-01-31T10:00:00+02:00") == pd.Timestamp("2026-01-31T08:00:00Z")
    assert utc_timestamp("31 January 2026") == parse_utc(pd.Series(["31 January 2026"]))[0]
    with pytest.raises(ValueError, match="is not a time"):
        utc_timestamp("yesterday-ish")


def test_a_monitor_window_is_named_by_its_utc_start_to_the_minute():
    from labelkit.monitor.windows import window_label

    assert window_label(1717372800) == "2024-06-03 00:00"
    assert window_label(1717372800 + 6 * 3600 + 59) == "2024-06-03 06:00"
