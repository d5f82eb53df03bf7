"""`labelkit shadow replay`: the shadow comparison offline, over a file of requests or a serve log.

Runs the primary's end model, its rules and each challenger on every row in chunks and writes a
request log of the same schema as `labelkit serve` (so `labelkit monitor` reads either), plus a
summary of agreement with the primary overall and per slice.
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError, DatasetError
from labelkit.io.files import atomic_file
from labelkit.serve.app import Primary, ServeSettings, log_meta, logged_input
from labelkit.serve.log import connect, encode_proba, record_builds, slice_key, write_batch
from labelkit.serve.shadow import model_system, rules_system, run_systems, shadow_rows
from labelkit.io.times import time_values

LOG_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def read_requests(path, *, id_column: str = "id", time_column: str | None = None) -> pd.DataFrame:
    """Requests as a frame with `_id` and `_ts` columns; a serve log needs its inputs logged in full."""
    path = Path(path)
    if path.suffix.lower() in LOG_SUFFIXES:
        con = connect(path)
        try:
            rows = con.execute("SELECT request_id, ts, input FROM requests ORDER BY seq").fetchall()
        finally:
            con.close()
        if rows and any(r[2] is None or r[2].startswith("sha256:") for r in rows[:1000]):
            raise DatasetError(f"{path}: the log holds no request inputs (served with --log-input hash/none); "
                               "replay needs --log-input full.")
        frame = pd.DataFrame.from_records([json.loads(r[2]) for r in rows])
        frame["_id"], frame["_ts"] = [r[0] for r in rows], [r[1] for r in rows]
        return frame
    from labelkit.io.files import read_table

    frame = read_table(path, string_columns=(id_column,))
    if id_column in frame.columns:
        frame["_id"] = frame[id_column].astype(str)
    else:
        frame["_id"] = [f"row{i}" for i in range(len(frame))]
    if time_column:
        if time_column not in frame.columns:
            raise DatasetError(f"{path}: no time column {time_column!r}; columns are: {', '.join(frame.columns)}.")
        seconds = time_values(frame[time_column])  # epoch seconds, or date/time text (labelkit.io.times)
        if np.isnan(seconds).any():
            bad = int(np.flatnonzero(np.isnan(seconds))[0])
            raise DatasetError(f"{path}, row {bad + 2}: {time_column} {frame[time_column].iloc[bad]!r} is not a time "
                               "(give epoch seconds or an ISO 8601 date/time).")
        frame["_ts"] = seconds
    else:
        frame["_ts"] = time.time()
    return frame


def replay(requests: pd.DataFrame, primary_dir, challengers=(), *, out, rules: bool = True, chunk: int = 2000,
           log_input: str = "full", force: bool = False) -> dict:
    """Score every request with every system; write the log to `out` atomically; return a summary."""
    from labelkit.runs import load_run
    from labelkit.serve.server import challenger_names

    out = Path(out)
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; give --force to replace it, or another --log path.")
    run = load_run(primary_dir)
    primary = Primary.from_run(run)
    missing = [c for c in primary.input_columns if c not in requests.columns]
    if missing:
        raise DatasetError(f"The requests lack the column(s) {', '.join(missing)} that {primary_dir} needs.")
    systems = [rules_system(run)] if rules and run.lfs else []
    builds = {run.build_id: str(Path(primary_dir).resolve())}
    for path, name in zip(challengers, challenger_names(challengers)):
        other = load_run(path)
        builds[other.build_id] = str(Path(path).resolve())
        if tuple(other.classes) != primary.classes:
            raise ConfigError(f"Challenger {path} has classes {list(other.classes)}; "
                              f"the primary has {list(primary.classes)}.")
        systems.append(model_system(other, name=name))
    with atomic_file(out) as tmp:  # SQLite's -wal/-shm files beside it are removed too
        con = connect(tmp, meta=log_meta(primary, [lf.name for lf in run.lfs] if systems and rules and run.lfs else []))
        try:
            record_builds(con, builds)
            _score(con, requests, primary, systems, chunk, ServeSettings(log_input=log_input))
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
    return summarize(out)


def _score(con: sqlite3.Connection, requests: pd.DataFrame, primary: Primary, systems, chunk: int,
           settings: ServeSettings) -> None:
    fields = [c for c in requests.columns if c not in ("_id", "_ts")]
    seq = 1
    for start in range(0, len(requests), chunk):
        part = requests.iloc[start:start + chunk]
        records = part[fields].to_dict("records")
        began = time.perf_counter()
        proba = np.asarray(primary.predict_proba(part[primary.input_columns].reset_index(drop=True)))
        ms = (time.perf_counter() - began) * 1000
        preds = proba.argmax(axis=1)
        rows = [(seq + i, str(rid), float(ts), logged_input(rec, settings),
                 slice_key(rec, primary.slice_columns), primary.build_id,
                 int(preds[i]), encode_proba(proba[i]), ms, "queued" if systems else "none")
                for i, (rid, ts, rec) in enumerate(zip(part["_id"], part["_ts"], records))]
        shadows = shadow_rows([(seq, len(part))], run_systems(systems, records)) if systems else []
        write_batch(con, rows, shadows, {})
        seq += len(part)


def summarize(log_path) -> dict:
    """Agreement of each shadow system with the primary: overall and per slice value."""
    from labelkit.serve.logdata import read_log

    log = read_log(log_path)
    out: dict[str, Any] = {"log": str(log_path), "rows": len(log), "systems": {}}
    for name, column in log.systems.items():
        answered = column.pred >= 0
        agree = (column.pred == log.pred) & answered
        entry: dict[str, Any] = {"build_id": column.build_id, "answered": int(answered.sum()),
                 "errors": int((column.codes == 2).sum()),
                 "agreement": round(float(agree.sum() / max(answered.sum(), 1)), 4), "slices": []}
        for col in log.meta.slice_columns:
            values = log.slices[col].astype(str)
            for value, index in values.groupby(values).indices.items():
                n = int(answered[index].sum())
                if n:
                    entry["slices"].append({"slice": f"{col}={value}", "n": n,
                                            "agreement": round(float(agree[index].sum() / n), 4)})
        entry["slices"].sort(key=lambda s: s["agreement"])
        out["systems"][name] = entry
    return out
