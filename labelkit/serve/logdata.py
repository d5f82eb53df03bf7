"""A request log read back as numpy arrays: one pass per table, blobs decoded in bulk."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from labelkit.schema import vote_dtype
from labelkit.serve.log import SLICE_SEPARATOR, LogMeta, connect, read_build_paths, read_meta


STATUSES = ("", "ok", "error", "aborted")  # code 0: the row never reached this system


@dataclass
class SystemColumn:
    """One shadow system's answers aligned to the request rows (-1 where it has no answer)."""

    build_id: str
    pred: np.ndarray  # int16, -1 = no answer (error, aborted, shed, sampled out)
    codes: np.ndarray  # int8 index into STATUSES
    votes: np.ndarray | None = None  # (n, m) vote_dtype(k) for the rule system; rows without answer are -2

    @property
    def status(self) -> np.ndarray:
        return np.asarray(STATUSES, dtype=object)[self.codes]

    @property
    def ok(self) -> np.ndarray:
        return self.codes == 1


@dataclass
class LogData:
    meta: LogMeta
    seq: np.ndarray
    ts: np.ndarray
    pred: np.ndarray
    confidence: np.ndarray  # the primary's top probability, float32
    slices: pd.DataFrame  # one column per slice column, categorical
    request_id: np.ndarray | None
    systems: dict[str, SystemColumn] = field(default_factory=dict)
    primary_builds: list[str] = field(default_factory=list)
    build_paths: dict[str, str] = field(default_factory=dict)  # build id -> folder, as served

    def __len__(self) -> int:
        return len(self.seq)


def read_log(path, *, since: float | None = None, until: float | None = None, with_ids: bool = False) -> LogData:
    con = connect(path)
    try:
        meta = read_meta(con)
        batches = con.execute("SELECT seqs, ts, preds, confidence, slices FROM request_batches ORDER BY id").fetchall()
        slice_values = dict(con.execute("SELECT id, value FROM slice_values"))
        data = _requests(meta, batches, slice_values, since, until)
        del batches
        data.build_paths = read_build_paths(con)
        if len(data):
            lo, hi = int(data.seq[0]), int(data.seq[-1])
            data.primary_builds = [r[0] for r in con.execute(
                "SELECT DISTINCT build_id FROM requests WHERE seq BETWEEN ? AND ?", (lo, hi))]
            if with_ids:
                ids = dict(con.execute("SELECT seq, request_id FROM requests WHERE seq BETWEEN ? AND ?", (lo, hi)))
                data.request_id = np.asarray([ids.get(int(s), "") for s in data.seq], dtype=object)
            shadow = con.execute(
                "SELECT system, build_id, status, seqs, preds, votes FROM shadow ORDER BY id").fetchall()
            data.systems = _systems(meta, data.seq, shadow)
        return data
    finally:
        con.close()


def time_range(path) -> tuple[int, float | None, float | None]:
    """(requests, first time, last time) of the whole log, in epoch seconds."""
    con = connect(path)
    try:
        n, first, last = con.execute("SELECT COUNT(*), MIN(ts), MAX(ts) FROM requests").fetchone()
    finally:
        con.close()
    return int(n), first, last


def read_inputs(path, seqs: list[int]) -> dict[int, tuple[str, str | None]]:
    """(request id, logged input: JSON text, a hash or None) of a few requests, for examples."""
    if not seqs:
        return {}
    con = connect(path)
    try:
        marks = ",".join("?" * len(seqs))
        rows = con.execute(f"SELECT seq, request_id, input FROM requests WHERE seq IN ({marks})",
                           [int(s) for s in seqs])
        return {seq: (rid, text) for seq, rid, text in rows}
    finally:
        con.close()


def logged_text(logged: str | None, text_column: str) -> str | None:
    """The request's `text_column` field from a logged input when the input was logged in full (JSON of
    the fields; labelkit.serve.app.logged_input); None for a hash, nothing, or no such text field."""
    if not logged or logged.startswith("sha256:"):
        return None
    try:
        fields = json.loads(logged)
    except ValueError:
        return None
    value = fields.get(text_column) if isinstance(fields, dict) else None
    return value if isinstance(value, str) else None


def _requests(meta: LogMeta, batches: list, slice_values: dict, since, until) -> LogData:
    """Request batches -> arrays sorted by seq, restricted to [since, until)."""
    def column(i, dtype):
        return np.frombuffer(b"".join(b[i] for b in batches), dtype) if batches else np.zeros(0, dtype)

    seq, ts, pred = column(0, np.int64), column(1, np.float64), column(2, np.int16)
    confidence, keys = column(3, np.float32), column(4, np.int32)
    keep = np.ones(len(seq), bool)
    if since is not None:
        keep &= ts >= since
    if until is not None:
        keep &= ts < until
    order = np.argsort(seq[keep], kind="stable")
    seq, ts, pred, confidence, keys = (a[keep][order] for a in (seq, ts, pred, confidence, keys))
    return LogData(meta, seq, ts, pred, confidence, _slice_frame(keys, slice_values, meta.slice_columns), None)


def _slice_frame(keys: np.ndarray, values: dict, columns: tuple[str, ...]) -> pd.DataFrame:
    """Slice keys -> one categorical column per slice column (only the distinct values are split)."""
    if not len(keys):
        return pd.DataFrame({c: pd.Categorical([]) for c in columns})
    codes, uniques = pd.factorize(keys)
    parts = [values.get(int(u), "").split(SLICE_SEPARATOR) for u in uniques]
    out = {}
    for j, column in enumerate(columns):
        labels = [p[j] if j < len(p) else "" for p in parts]
        categories = sorted(set(labels))
        position = np.asarray([categories.index(v) for v in labels], dtype=np.int32)
        out[column] = pd.Categorical.from_codes(position[codes], categories=categories)
    return pd.DataFrame(out, index=pd.RangeIndex(len(keys)))


def _systems(meta: LogMeta, seq: np.ndarray, batches: list) -> dict[str, SystemColumn]:
    """Shadow batches -> per system, answers aligned to the request rows (later batches win)."""
    out: dict[str, SystemColumn] = {}
    m, dtype = len(meta.lf_names), vote_dtype(len(meta.classes))
    for system, build_id, status, seqs, preds, votes in batches:
        seqs = np.frombuffer(seqs, np.int64)
        index = np.searchsorted(seq, seqs)
        inside = (index < len(seq)) & (seq[np.minimum(index, len(seq) - 1)] == seqs)
        if not inside.any():
            continue
        rows = index[inside]
        column = out.get(system)
        if column is None:
            column = out[system] = SystemColumn(build_id, np.full(len(seq), -1, np.int16), np.zeros(len(seq), np.int8))
        column.codes[rows] = STATUSES.index(status) if status in STATUSES else 2
        column.pred[rows] = np.frombuffer(preds, np.int16)[inside] if preds is not None else -1
        if votes is not None and m:
            if column.votes is None:
                column.votes = np.full((len(seq), m), -2, dtype)
            column.votes[rows] = np.frombuffer(votes, dtype).reshape(-1, m)[inside]
        elif column.votes is not None:
            column.votes[rows] = -2
    return out
