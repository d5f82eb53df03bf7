"""The monitor table rendered: monitor.json and a self-contained monitor.html (inline SVG, escaped text).

monitor.json keeps the table's numbers as they are. monitor.html is for people: rates and accuracies
as percentages, a Jensen-Shannon distance with three decimals, request counts with thousands
separators, a band as "a – b", an interval as "[a, b]", an alert as "alert" (never True/False), a
missing slice value as "(missing)", plurals that agree. The page is a document of the report's model
(labelkit.report.document: text, tables, line charts) rendered by the report's HTML renderer, which
escapes every piece of text, so this module writes no markup. Tables scroll inside their own box, so
the page fits a phone's width.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from labelkit.report.document import Charts, LineChart, Section, Table, Text

OVERVIEW = [("requests", "all"), ("rules_coverage", "all"), ("lf_conflict_rate", "all"),
            ("output_drift", "end_model"), ("output_drift", "label_model"), ("rules_vs_model", "overall"),
            ("estimated_accuracy", "end_model"), ("accuracy", "end_model")]
MAX_CHARTS = 40
METRIC_NAMES = {"requests": "requests", "lf_coverage": "LF coverage", "lf_conflict_rate": "LF conflict rate",
                "rules_coverage": "rules coverage", "output_drift": "output drift (JS distance)",
                "rules_vs_model": "rules vs model disagreement", "estimated_accuracy": "estimated accuracy",
                "accuracy": "accuracy (labelled rows)", "input_drift": "input drift (embedding distance)"}

TITLE = "labelkit monitor"


def to_json(result) -> dict:
    frame = result.frame
    return {
        "schema": 1,
        "log": str(result.log_path), "reference": str(result.reference.path),
        "reference_build": result.reference.build_id, "primary_builds": result.primary_builds,
        "window": result.settings.window, "settings": vars(result.settings), "rows": int(result.n_rows),
        "windows": sorted(frame["window"].unique().tolist()),
        "latest_window": result.latest_window, "active_alerts": _records(result.active_alerts()),
        "events": _records(frame[frame["event"] != ""]), "empty_windows": result.empty_windows(),
        "notes": result.notes, "metrics": _records(frame), "examples": result.examples,
    }


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 window', '4 windows', '1,200 requests'."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def alerts_active(n: int) -> str:
    """The headline the page and the CLI share: '1 alert active', '13 alerts active', 'no alert active'."""
    return "no alert active" if n == 0 else f"{plural(n, 'alert')} active"


def to_html(result) -> str:
    from labelkit.report.html import CSS, EXTRA_CSS, render_page

    return render_page(TITLE, sections(result), css=CSS + EXTRA_CSS, nav=False)


def sections(result) -> list[Section]:
    """monitor.html as a document: what was read and the headline, the alerts raised, the time series,
    the latest window (alerting rows first, flagged) and examples of disagreement."""
    frame = result.frame
    active = result.active_alerts()
    latest = result.latest_window
    windows = frame["window"].nunique()
    summary = Section("summary", "", [
        Text(f"Log {result.log_path}: {plural(result.n_rows, 'request')} in {plural(windows, 'window')} of "
             f"{result.settings.window}. Reference build {result.reference.path} ({result.reference.build_id})."),
        Text(f"{alerts_active(len(active)).capitalize()} in the latest window ({latest}).",
             "verdict-error" if len(active) else "verdict-ok"),
        *[Text(note, "muted") for note in result.notes + [f"window {w}: no requests" for w in result.empty_windows()]],
    ])
    events = frame[frame["event"] != ""]
    alerts = Section("alerts", "Alerts", [
        _table(events, ["window", "metric", "subject", "event", "n", "value", "reference", "band"]) if len(events)
        else Text("No alert was raised.")])
    charts = []
    for metric, subject in _chart_series(frame):
        series = frame[(frame["metric"] == metric) & (frame["subject"] == subject)]
        if len(series):
            charts.append(line_chart(series, f"{_metric_name(metric)} · {subject_text(subject)}"))
    newest = frame[frame["window"] == latest].sort_values("alert", ascending=False, kind="stable")  # alerting first
    keys = ["window", "kind", "request_id", "slice", "primary", "other", "input"]
    return [summary, alerts, Section("charts", "Time series", [Charts(charts)]),
            Section("latest", f"Latest window ({latest})", [
                _table(newest, ["metric", "subject", "n", "value", "reference", "band", "interval", "alert", "note"],
                       flag="alert")]),
            Section("examples", "Examples of disagreement", [
                _table(pd.DataFrame(result.examples), keys) if result.examples
                else Text("No disagreements to show (or inputs were not logged).")])]


def line_chart(series: pd.DataFrame, title: str) -> LineChart:
    """One series (a metric and subject over windows): its values, its band, its alerting windows."""
    metric = series["metric"].iloc[0]
    values, lower, upper = (series[c].astype(float).tolist() for c in ("value", "lower", "upper"))
    return LineChart(title, [str(w) for w in series["window"]], values, lower, upper,
                     alerting=[bool(a) for a in series["alert"]], text=lambda v: value_text(metric, v))


def _chart_series(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """The overview series, then every series that ever alerted, then challengers overall."""
    wanted = list(OVERVIEW)
    challengers = frame["metric"].str.startswith("challenger:") & (frame["subject"] == "overall")
    pairs = frame.loc[challengers, ["metric", "subject"]].drop_duplicates()
    wanted += [tuple(r) for r in pairs.itertuples(index=False)]
    alerting = frame[frame["alert"] | (frame["event"] != "")][["metric", "subject"]].drop_duplicates()
    wanted += [tuple(r) for r in alerting.itertuples(index=False)]
    seen, out = set(), []
    for key in wanted:
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out[:MAX_CHARTS]


HEADERS = {"n": "rows", "band": "normal band", "interval": "95% interval", "request_id": "request"}
NUMERIC = {"n", "value", "reference", "band", "interval"}


def _table(frame: pd.DataFrame, columns: list[str], flag: str | None = None) -> Table:
    records = frame.to_dict("records")
    return Table([HEADERS.get(c, c) for c in columns], [[cell_text(c, r) for c in columns] for r in records],
                 flagged=[bool(flag and r.get(flag)) for r in records],
                 text_columns=tuple(i for i, c in enumerate(columns) if c in ("input", "note")),
                 number_columns=tuple(i for i, c in enumerate(columns) if c in NUMERIC))


def cell_text(column: str, record: dict) -> str:
    """What a person reads in one cell of a monitor table row."""
    metric = record.get("metric", "")
    if column == "metric":
        return _metric_name(metric)
    if column == "subject":
        return subject_text(record.get(column))
    if column == "n":
        return _count(record.get("n"))
    if column in ("value", "reference"):
        return value_text(metric, record.get(column))
    if column == "band":
        low, high = (value_text(metric, record.get(c)) for c in ("lower", "upper"))
        return f"{low} – {high}" if low and high else f"≥ {low}" if low else f"≤ {high}" if high else ""
    if column == "interval":
        low, high = (value_text(metric, record.get(c)) for c in ("ci_low", "ci_high"))
        return f"[{low}, {high}]" if low and high else ""
    if column in ("alert", "breach"):
        return "alert" if record.get(column) else ""
    if column == "slice":
        return ", ".join(subject_text(part) for part in str(record.get(column) or "").split(", ") if part)
    if column == "input":
        return str(record.get(column) or "")
    return _plain(record.get(column))


def value_text(metric: str, value) -> str:
    """A metric's value as people read it: requests as a count, a JS distance with three decimals,
    rates and accuracies as percentages ("<0.1%" for a rate that is not zero but rounds to it)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    value = float(value)
    if metric == "requests":
        return f"{value:,.0f}"
    if metric in ("output_drift", "input_drift"):
        return f"{value:.3f}"
    if value == 0:
        return "0%"
    if 0 < abs(value) < 0.0005:
        return "<0.1%"
    return f"{value:.1%}"


def subject_text(subject) -> str:
    """A subject as written: a slice whose value is missing ("channel=") says so."""
    text = "" if subject is None else str(subject)
    return f"{text}(missing)" if text.endswith("=") else text


def _metric_name(metric: str) -> str:
    if metric.startswith("challenger:"):
        return f"challenger {metric.split(':', 1)[1]} vs primary"
    return METRIC_NAMES.get(metric, metric)


def _count(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{int(value):,}"


def _plain(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))
