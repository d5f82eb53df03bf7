"""Label-free monitoring of a served build: `monitor(log, reference)` -> a tidy table and its renderings.

Shaped like NannyML's estimators: the reference is fitted once on the build's own files, each window
of the request log is scored against it, and every output (HTML, JSON, exit code, webhook) comes from
one table with a row per window x metric x subject.

>>> result = run_monitor("serve.sqlite", "runs/support_tickets")  # doctest: +SKIP
>>> result.frame[result.frame.alert]                               # doctest: +SKIP
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from labelkit.errors import LabelkitError
from labelkit.monitor.metrics import MonitorSettings, compute_metrics
from labelkit.io.times import format_time
from labelkit.settings.declare import check_values, declared
from labelkit.settings.options import MonitorOptions

if TYPE_CHECKING:
    from labelkit.monitor.reference import Reference

__all__ = ["MonitorError", "MonitorResult", "MonitorSettings", "run_monitor", "write_outputs"]
MAX_EXAMPLES = 12
OPTIONS = declared(MonitorOptions)  # `labelkit monitor`'s options: fail_on's default and choices
MAX_WINDOWS = 10_000  # windows in one table (empty ones included): a year of hours fits, 27 years of days


class MonitorError(LabelkitError):
    """Nothing to monitor (an empty log or window range) or inputs that do not fit together."""


@dataclass
class MonitorResult:
    frame: pd.DataFrame
    settings: MonitorSettings
    log_path: Path
    reference: Reference
    n_rows: int
    primary_builds: list[str]
    notes: list[str] = field(default_factory=list)
    examples: list[dict] = field(default_factory=list)

    @property
    def latest_window(self) -> str:
        return str(self.frame["window"].iloc[-1]) if len(self.frame) else ""

    def active_alerts(self) -> pd.DataFrame:
        return self.frame[(self.frame["window"] == self.latest_window) & self.frame["alert"]]

    def alerts(self) -> pd.DataFrame:
        return self.frame[self.frame["alert"]]

    def empty_windows(self) -> list[str]:
        rows = self.frame[(self.frame["metric"] == "requests") & (self.frame["n"] == 0)]
        return rows["window"].tolist()

    def exit_code(self, fail_on: str = OPTIONS["fail_on"].default) -> int:
        """0 = quiet; 1 = an alert is active (in the latest window, or in any with fail_on='any')."""
        check_values(MonitorOptions, "MonitorResult.exit_code", fail_on=fail_on)
        if fail_on == "never":
            return 0
        alerts = self.alerts() if fail_on == "any" else self.active_alerts()
        return 1 if len(alerts) else 0


def run_monitor(log_path, reference_dir, *, settings: MonitorSettings | None = None, labels=None,
                labels_id_column: str = "id", labels_column: str = "label", since: float | None = None,
                until: float | None = None, challengers=(), embedding_drift: str = "") -> MonitorResult:
    """`challengers`: build folders of challengers in the log, when they are no longer where they were
    served from (the log records each served build's folder); matched by build id, else by name."""
    from labelkit.monitor.alerts import apply_alerts
    from labelkit.serve.logdata import read_log
    from labelkit.monitor.reference import load_reference
    from labelkit.monitor.windows import parse_window

    settings = settings or MonitorSettings()
    seconds = parse_window(settings.window)
    log = read_log(log_path, since=since, until=until, with_ids=labels is not None)
    if not len(log):
        raise MonitorError(_nothing_to_monitor(log_path, since, until))
    windows = int(np.floor(log.ts.max() / seconds) - np.floor(log.ts.min() / seconds)) + 1
    if windows > MAX_WINDOWS:
        raise MonitorError(f"Request log {log_path} spans {windows:,} windows of {settings.window} (from "
                           f"{format_time(log.ts.min())} to {format_time(log.ts.max())}); at most {MAX_WINDOWS:,} "
                           f"are shown: choose a longer --window or a range with --since/--until.")
    reference = load_reference(reference_dir)
    notes = list(reference.notes)
    pairs = _pair_references(log, reference, challengers, settings, notes)
    y = _join_labels(labels, log, labels_id_column, labels_column) if labels is not None else None
    frame = compute_metrics(log, reference, settings, seconds, y, challengers=pairs)
    if embedding_drift:  # input drift in an embedding space (labelkit/monitor/embedding_drift.py)
        from labelkit.monitor.embedding_drift import embedding_drift_rows
        from labelkit.monitor.metrics import COLUMNS

        rows = embedding_drift_rows(log_path, log, reference, settings, seconds, embedding_drift, notes=notes)
        frame = pd.concat([frame, pd.DataFrame(rows, columns=COLUMNS)], ignore_index=True) if rows else frame
        frame = frame.sort_values(["start", "metric", "subject"], kind="stable").reset_index(drop=True)
    frame = apply_alerts(frame, clear_fraction=settings.clear_fraction, cooldown=settings.cooldown)
    result = MonitorResult(frame, settings, Path(log_path), reference, len(log), log.primary_builds, notes=notes)
    if reference.build_id not in log.primary_builds:
        result.notes.append(f"the log was served by build(s) {', '.join(log.primary_builds)}, not by the reference "
                            f"build {reference.build_id}")
    if "rules" not in log.systems:
        result.notes.append("no rule-system results in the log (served without shadow rules): no LF metrics")
    result.examples = _examples(log, Path(log_path), result)
    return result


def _pair_references(log, reference, explicit, settings: MonitorSettings, notes: list[str]) -> dict:
    """Per challenger in the log: its PairReference with the champion, or None (fixed limit, noted).
    The folder is the one given (`explicit`, matched by build id, else by folder name), else the one
    the log recorded when it was served."""
    from labelkit.monitor.reference import challenger_reference
    from labelkit.runs import build_id

    given = [Path(p) for p in explicit]
    ids = [build_id(p) for p in given]  # each manifest hashed once
    by_id = dict(zip(ids, given))
    by_name = {p.resolve().name: p for p in given}
    systems = {name: column for name, column in log.systems.items() if name != "rules"}
    for path, found in zip(given, ids):
        if not any(found == c.build_id or path.resolve().name == name for name, c in systems.items()):
            served = ", ".join(f"{name} (build {c.build_id})" for name, c in systems.items()) or "none"
            raise MonitorError(f"--challenger {path}: the log has no answers from its build {found}; "
                               f"challengers in the log: {served}.")
    out = {}
    for name, column in systems.items():
        folder = by_id.get(column.build_id) or by_name.get(name) or log.build_paths.get(column.build_id)
        pair = None
        if folder is not None:
            pair = challenger_reference(reference, folder, name=name, build_id=column.build_id, notes=notes)
        elif column.build_id:
            notes.append(f"challenger {name}: the log does not say where build {column.build_id} is "
                         "(give --challenger DIR)")
        if pair is None:
            notes.append(f"challenger {name}: no disagreement on gold test rows to compare with, so its "
                         f"disagreement is held to the fixed challenger_max {settings.challenger_max:g}")
        out[name] = pair
    return out


def write_outputs(result: MonitorResult, out: Path) -> dict[str, Path]:
    """monitor.json and monitor.html in `out`, each replaced atomically; nothing else is touched."""
    from labelkit.io.files import atomic_write_text
    from labelkit.monitor.render import to_html, to_json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "monitor.json", "html": out / "monitor.html"}
    atomic_write_text(paths["json"], json.dumps(to_json(result), indent=1, default=str))
    atomic_write_text(paths["html"], to_html(result))
    return paths


def _join_labels(path, log, id_column: str, label_column: str) -> np.ndarray:
    from labelkit.io.files import read_table

    table = read_table(Path(path), string_columns=(id_column, label_column))
    for column in (id_column, label_column):
        if column not in table.columns:
            raise MonitorError(f"--labels {path}: no column {column!r}; columns are: {', '.join(table.columns)}.")
    index = {c: i for i, c in enumerate(log.meta.classes)}
    unknown = table[~table[label_column].isin(index)]
    if len(unknown):
        row = unknown.index[0]
        raise MonitorError(f"--labels {path}, row {row + 2}: label {unknown[label_column].iloc[0]!r} is not a class; "
                           f"classes are: {', '.join(log.meta.classes)}.")
    known = dict(zip(table[id_column].astype(str), table[label_column].map(index)))
    return np.asarray([known.get(str(rid), -1) for rid in log.request_id], dtype=np.int16)


def _examples(log, log_path: Path, result: MonitorResult) -> list[dict]:
    """A few rows where the shadow systems disagree with the primary, latest alerting windows first."""
    from labelkit.serve.logdata import read_inputs
    from labelkit.monitor.windows import parse_window, window_index

    starts = window_index(log.ts, parse_window(result.settings.window))
    labels = {int(s): w for s, w in result.frame[["start", "window"]].drop_duplicates().itertuples(index=False)}
    picked = []
    for name, column in log.systems.items():
        rows = np.flatnonzero((column.pred >= 0) & (column.pred != log.pred))
        picked += [(name, int(i)) for i in rows[::-1][: MAX_EXAMPLES // max(1, len(log.systems))]]
    inputs = read_inputs(log_path, [int(log.seq[i]) for _, i in picked])
    classes = log.meta.classes
    out = []
    for name, i in picked:
        request_id, text = inputs.get(int(log.seq[i]), ("", None))
        out.append({
            "window": labels.get(int(starts[i]), ""),
            "kind": "rules vs model" if name == "rules" else f"{name} vs primary",
            "request_id": request_id, "seq": int(log.seq[i]),
            "slice": ", ".join(f"{c}={log.slices[c].iloc[i]}" for c in log.meta.slice_columns),
            "primary": classes[int(log.pred[i])], "other": classes[int(log.systems[name].pred[i])],
            "input": _input_text(text, result.reference.text_column)[:400]})
    return out


def _input_text(logged: str | None, text_column: str) -> str:
    """A logged input as people read it: the request's text field when the input was logged in full
    (JSON of the fields), else what was logged (a hash, or nothing)."""
    from labelkit.serve.logdata import logged_text

    text = logged_text(logged, text_column)
    return text if text is not None else logged or ""


def _nothing_to_monitor(log_path, since: float | None, until: float | None) -> str:
    """Why a log gave no rows: empty, or the range chosen (--since/--until) is outside its requests."""
    from labelkit.serve.logdata import time_range

    n, first, last = time_range(log_path)
    if since is None and until is None or not n or first is None or last is None:
        return f"Request log {log_path} has no requests: nothing to monitor (empty window)."
    if since is not None and until is not None:
        chosen = f"between {format_time(since)} and {format_time(until)}"
    elif since is not None:
        chosen = f"at or after {format_time(since)}"
    else:
        assert until is not None  # since and until both None returned above
        chosen = f"before {format_time(until)}"
    return (f"Request log {log_path} has no requests {chosen}: nothing to monitor (empty window). Its {n:,} "
            f"requests run from {format_time(first)} to {format_time(last)}; change --since/--until.")
