"""The monitor table rendered: monitor.json and a self-contained monitor.html (inline SVG, escaped text)."""
from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd

OVERVIEW = [("requests", "all"), ("rules_coverage", "all"), ("lf_conflict_rate", "all"),
            ("output_drift", "end_model"), ("output_drift", "label_model"), ("rules_vs_model", "overall"),
            ("estimated_accuracy", "end_model"), ("accuracy", "end_model")]
MAX_CHARTS = 40

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}
tr.alert td{background:#fde2e2}.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #eee;padding:4px}
.chart h4{margin:2px 0;font-size:13px;font-weight:600}.muted{color:#777}.ok{color:#18794e}.bad{color:#b42318}"""


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


def to_html(result) -> str:
    frame = result.frame
    active = result.active_alerts()
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>labelkit monitor</title><style>{CSS}</style>",
             "</head><body><h1>labelkit monitor</h1>",
             f"<p>Log <code>{_e(result.log_path)}</code> ({result.n_rows:,} requests), reference build "
             f"<code>{_e(result.reference.path)}</code> ({_e(result.reference.build_id)}), windows of "
             f"{_e(result.settings.window)}, {frame['window'].nunique()} windows.</p>"]
    latest = _e(result.latest_window)
    status = (f"<p class='bad'><b>{len(active)} alert(s) active in the latest window ({latest}).</b></p>"
              if len(active) else f"<p class='ok'><b>No alert active in the latest window ({latest}).</b></p>")
    parts.append(status)
    for note in result.notes + [f"window {w}: no requests" for w in result.empty_windows()]:
        parts.append(f"<p class='muted'>{_e(note)}</p>")
    parts.append("<h2>Alerts</h2>")
    events = frame[frame["event"] != ""]
    parts.append(_table(events, ["window", "metric", "subject", "event", "n", "value", "reference", "lower", "upper"])
                 if len(events) else "<p>No alert was raised.</p>")
    parts.append("<h2>Time series</h2><div class='charts'>")
    for metric, subject in _chart_series(frame):
        series = frame[(frame["metric"] == metric) & (frame["subject"] == subject)]
        if len(series):
            parts.append(f"<div class='chart'><h4>{_e(metric)} · {_e(subject)}</h4>{svg_chart(series)}</div>")
    parts.append("</div><h2>Latest window</h2>")
    latest = frame[frame["window"] == result.latest_window]
    parts.append(_table(latest, ["metric", "subject", "n", "value", "reference", "lower", "upper", "ci_low", "ci_high",
                                 "alert", "note"], flag="alert"))
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
    values = series["value"].astype(float).to_numpy()
    lower = series["lower"].astype(float).to_numpy()
    upper = series["upper"].astype(float).to_numpy()
    finite = np.concatenate([values, lower, upper])
    finite = finite[np.isfinite(finite)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad, n = 28, len(values)

    def x(i):
        return pad + (width - pad - 8) * (i / max(n - 1, 1))

    def y(v):
        return height - 18 - (height - 28) * ((v - lo) / (hi - lo))

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>",
           f"<text x='2' y='12' font-size='10' fill='#777'>{hi:.3g}</text>",
           f"<text x='2' y='{height - 20}' font-size='10' fill='#777'>{lo:.3g}</text>"]
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
                       f"<title>{_e(series['window'].iloc[i])}: {v:.4g}</title></circle>")
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


def _table(frame: pd.DataFrame, columns: list[str], flag: str | None = None) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for record in frame.to_dict("records"):
        cls = " class='alert'" if flag and record.get(flag) else ""
        cells = "".join(f"<td>{_e(_fmt(record.get(c)))}</td>" for c in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def _e(value) -> str:
    return html.escape(str(value), quote=True)
