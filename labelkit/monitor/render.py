"""The monitor table rendered: monitor.json and a self-contained monitor.html (inline SVG, escaped text).

monitor.json keeps the table's numbers as they are. monitor.html is for people: rates and accuracies
as percentages, a Jensen-Shannon distance with three decimals, request counts with thousands
separators, a band as "a – b", an interval as "[a, b]", an alert as "alert" (never True/False), a
missing slice value as "(missing)", plurals that agree. Tables scroll inside their own box, so the
page fits a phone's width.
"""
from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd

OVERVIEW = [("requests", "all"), ("rules_coverage", "all"), ("lf_conflict_rate", "all"),
            ("output_drift", "end_model"), ("output_drift", "label_model"), ("rules_vs_model", "overall"),
            ("estimated_accuracy", "end_model"), ("accuracy", "end_model")]
MAX_CHARTS = 40
METRIC_NAMES = {"requests": "requests", "lf_coverage": "LF coverage", "lf_conflict_rate": "LF conflict rate",
                "rules_coverage": "rules coverage", "output_drift": "output drift (JS distance)",
                "rules_vs_model": "rules vs model disagreement", "estimated_accuracy": "estimated accuracy",
                "accuracy": "accuracy (labelled rows)", "input_drift": "input drift (embedding distance)"}

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.7em;margin:.2em 0}h2{margin-top:1.4em}
.scroll{overflow-x:auto;max-width:100%;margin:1em 0}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}td.nowrap{white-space:nowrap}
td.text{min-width:16em;max-width:40em;overflow-wrap:anywhere}
tr.alert td{background:#fde2e2}.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart{border:1px solid #eee;padding:4px;max-width:100%}.chart svg{max-width:100%;height:auto}
.chart h4{margin:2px 0;font-size:13px;font-weight:600}.muted{color:#666}.ok{color:#18794e}.bad{color:#b42318}
@media (max-width:600px){body{margin:1em auto;padding:0 .6em}h1{font-size:1.4em}}"""


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
    frame = result.frame
    active = result.active_alerts()
    windows = frame["window"].nunique()
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>labelkit monitor</title>"
             f"<style>{CSS}</style></head><body><h1>labelkit monitor</h1>",
             f"<p>Log <code>{_e(result.log_path)}</code>: {plural(result.n_rows, 'request')} in "
             f"{plural(windows, 'window')} of {_e(result.settings.window)}. Reference build "
             f"<code>{_e(result.reference.path)}</code> ({_e(result.reference.build_id)}).</p>"]
    latest = _e(result.latest_window)
    if len(active):
        parts.append(f"<p class='bad'><b>{alerts_active(len(active)).capitalize()} in the latest window ({latest}).</b></p>")
    else:
        parts.append(f"<p class='ok'><b>No alert active in the latest window ({latest}).</b></p>")
    for note in result.notes + [f"window {w}: no requests" for w in result.empty_windows()]:
        parts.append(f"<p class='muted'>{_e(note)}</p>")
    parts.append("<h2>Alerts</h2>")
    events = frame[frame["event"] != ""]
    parts.append(_table(events, ["window", "metric", "subject", "event", "n", "value", "reference", "band"])
                 if len(events) else "<p>No alert was raised.</p>")
    parts.append("<h2>Time series</h2><div class='charts'>")
    for metric, subject in _chart_series(frame):
        series = frame[(frame["metric"] == metric) & (frame["subject"] == subject)]
        if len(series):
            parts.append(f"<div class='chart'><h4>{_e(_metric_name(metric))} · {_e(subject_text(subject))}</h4>"
                         f"{svg_chart(series)}</div>")
    parts.append(f"</div><h2>Latest window ({latest})</h2>")
    newest = frame[frame["window"] == result.latest_window]
    newest = newest.sort_values("alert", ascending=False, kind="stable")  # alerting rows first
    parts.append(_table(newest, ["metric", "subject", "n", "value", "reference", "band", "interval", "alert", "note"],
                        flag="alert"))
    parts.append("<h2>Examples of disagreement</h2>")
    if result.examples:
        keys = ["window", "kind", "request_id", "slice", "primary", "other", "input"]
        parts.append(_table(pd.DataFrame(result.examples), keys))
    else:
        parts.append("<p>No disagreements to show (or inputs were not logged).</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def svg_chart(series: pd.DataFrame, *, width: int = 320, height: int = 140) -> str:
    """A line chart of `value` over windows, with the band (lower/upper) and alerting points in red."""
    metric = series["metric"].iloc[0]
    values = series["value"].astype(float).to_numpy()
    lower = series["lower"].astype(float).to_numpy()
    upper = series["upper"].astype(float).to_numpy()
    finite = np.concatenate([values, lower, upper])
    finite = finite[np.isfinite(finite)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad, n = 40, len(values)

    def x(i):
        return pad + (width - pad - 8) * (i / max(n - 1, 1))

    def y(v):
        return height - 18 - (height - 28) * ((v - lo) / (hi - lo))

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}' role='img'>",
           f"<text x='2' y='12' font-size='10' fill='#777'>{_e(value_text(metric, hi))}</text>",
           f"<text x='2' y='{height - 20}' font-size='10' fill='#777'>{_e(value_text(metric, lo))}</text>"]
    for bound in (lower, upper):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(bound) if np.isfinite(v))
        if points:
            out.append(f"<polyline points='{points}' fill='none' stroke='#bbb' stroke-dasharray='4 3'/>")
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if np.isfinite(v))
    out.append(f"<polyline points='{points}' fill='none' stroke='#2563eb' stroke-width='1.5'/>")
    for i, (v, alerting) in enumerate(zip(values, series["alert"].to_numpy())):
        if np.isfinite(v):
            colour = "#dc2626" if alerting else "#2563eb"
            out.append(f"<circle cx='{x(i):.1f}' cy='{y(v):.1f}' r='3' fill='{colour}'>"
                       f"<title>{_e(series['window'].iloc[i])}: {_e(value_text(metric, v))}</title></circle>")
    out.append(f"<text x='{pad}' y='{height - 4}' font-size='10' fill='#777'>{_e(series['window'].iloc[0])}</text>")
    out.append("</svg>")
    return "".join(out)


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


def _table(frame: pd.DataFrame, columns: list[str], flag: str | None = None) -> str:
    head = "".join(f"<th{' class=num' if c in NUMERIC else ''}>{_e(HEADERS.get(c, c))}</th>" for c in columns)
    body = []
    for record in frame.to_dict("records"):
        cls = " class='alert'" if flag and record.get(flag) else ""
        cells = "".join(_cell(c, record) for c in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<div class='scroll'><table><tr>{head}</tr>{''.join(body)}</table></div>"


def _cell(column: str, record: dict) -> str:
    css = "num" if column in NUMERIC else "nowrap" if column in ("window", "metric", "event", "alert") else \
        "text" if column in ("input", "note") else ""
    return f"<td{f' class={css}' if css else ''}>{_e(cell_text(column, record))}</td>"


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


def _e(value) -> str:
    return html.escape(str(value), quote=True)
