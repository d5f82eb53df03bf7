"""The request log: an embedded SQLite database (WAL mode) with a schema version, written in batches.

One row per answered request (`requests`; `requests_view` shows it with readable time and slices),
the same requests' time, prediction, confidence and slice per written batch as arrays
(`request_batches`, what the monitor reads: a million requests are a few thousand rows), and
one per shadow batch and system (`shadow`: the batch's request seqs, predictions, probabilities and LF
votes as arrays, because the worker answers in batches and the monitor reads them back). Counters
live in the same database and are updated in the same transaction as the rows they count, so a
server killed with -9 leaves a log whose counters match its rows (`check_log`).
Probabilities are stored as float32 bytes and LF votes as bytes of the label matrix's dtype
(labelkit.schema.vote_dtype: int8, int16 beyond 126 classes): compact, and fast to read back as numpy
arrays for the monitor.
"""
from __future__ import annotations

import collections
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelkit.errors import DatasetError
from labelkit.schema import vote_dtype

SCHEMA_VERSION = 1
SLICE_SEPARATOR = "\x1f"


def slice_key(row: dict, columns) -> str:
    """A request's slice values as logged: one text per slice column, "" where the value is missing
    (absent, null or NaN; never the text "None")."""
    def text(value) -> str:
        return "" if value is None or (isinstance(value, float) and value != value) else str(value)

    return SLICE_SEPARATOR.join(text(row.get(c)) for c in columns)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS slice_values(id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS requests(
    seq INTEGER PRIMARY KEY, request_id TEXT NOT NULL, ts REAL NOT NULL, input TEXT,
    slice INTEGER NOT NULL REFERENCES slice_values(id), build_id TEXT NOT NULL, pred INTEGER NOT NULL,
    proba BLOB NOT NULL, latency_ms REAL NOT NULL, shadow TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts);
CREATE TABLE IF NOT EXISTS request_batches(
    id INTEGER PRIMARY KEY, n INTEGER NOT NULL, seqs BLOB NOT NULL, ts BLOB NOT NULL, preds BLOB NOT NULL,
    confidence BLOB NOT NULL, slices BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS requests_id ON requests(request_id);
CREATE TABLE IF NOT EXISTS shadow(
    id INTEGER PRIMARY KEY, system TEXT NOT NULL, build_id TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,
    seqs BLOB NOT NULL, preds BLOB, proba BLOB, votes BLOB, latency_ms REAL, error TEXT);
CREATE VIEW IF NOT EXISTS requests_view AS
    SELECT r.seq, r.request_id, datetime(r.ts, 'unixepoch') AS time, r.input, s.value AS slices, r.build_id, r.pred,
           r.latency_ms, r.shadow FROM requests r JOIN slice_values s ON s.id = r.slice;
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# Request rows by what happened to their shadow job; shadow rows by outcome. Both add up, always.
SHADOW_DECISIONS = ("queued", "shed", "sampled_out", "none")
SHADOW_OUTCOMES = ("ok", "error", "aborted")


class RequestLogError(DatasetError):
    """A request log that cannot be opened, is from another schema version, or does not fit the build."""


@dataclass(frozen=True)
class LogMeta:
    classes: tuple[str, ...]
    lf_names: tuple[str, ...]
    slice_columns: tuple[str, ...]

    def to_rows(self) -> list[tuple[str, str]]:
        return [("classes", json.dumps(list(self.classes))), ("lf_names", json.dumps(list(self.lf_names))),
                ("slice_columns", json.dumps(list(self.slice_columns)))]


def connect(path, *, meta: LogMeta | None = None) -> sqlite3.Connection:
    """Open (or create, when `meta` is given) a request log; checks the schema version and the build fit."""
    path = Path(path)
    if meta is None and not path.is_file():
        raise RequestLogError(f"Request log {path} does not exist.")
    if meta is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise RequestLogError(f"{path} is not a labelkit request log (SQLite says: {exc}).") from None
    if not tables and meta is not None:
        _create(con, meta)
        return con
    if "meta" not in tables:
        con.close()
        raise RequestLogError(f"{path} is an SQLite database but not a labelkit request log (no meta table).")
    stored = dict(con.execute("SELECT key, value FROM meta"))
    version = stored.get("schema_version")
    if version != str(SCHEMA_VERSION):
        con.close()
        raise RequestLogError(
            f"Request log {path} has schema version {version}; this labelkit reads version {SCHEMA_VERSION}. "
            "Start a new log (serve --log NEW.sqlite) or use the labelkit version that wrote it.")
    if meta is not None:
        _check_fits(path, stored, meta)
    return con


def read_meta(con: sqlite3.Connection) -> LogMeta:
    return read_meta_from(dict(con.execute("SELECT key, value FROM meta")))


def _create(con: sqlite3.Connection, meta: LogMeta) -> None:
    con.execute("BEGIN IMMEDIATE")
    for statement in filter(str.strip, _SCHEMA.split(";\n")):
        con.execute(statement)
    con.executemany("INSERT INTO meta VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("created", str(time.time())), *meta.to_rows()])
    con.execute("COMMIT")


def _check_fits(path: Path, stored: dict, meta: LogMeta) -> None:
    have = read_meta_from(stored)
    for field_name in ("classes", "lf_names", "slice_columns"):
        if getattr(have, field_name) != getattr(meta, field_name):
            raise RequestLogError(
                f"Request log {path} was written for a build with {field_name} {list(getattr(have, field_name))}; "
                f"this build has {list(getattr(meta, field_name))}. Use a new log file.")


def read_meta_from(stored: dict) -> LogMeta:
    return LogMeta(tuple(json.loads(stored["classes"])), tuple(json.loads(stored["lf_names"])),
                   tuple(json.loads(stored["slice_columns"])))


BUILD_KEY = "build_path:"  # meta rows BUILD_KEY + build id -> the build's folder (for the monitor)


def record_builds(con: sqlite3.Connection, paths: dict[str, str]) -> None:
    """Remember where each served build (primary, challengers) lives, by build id: the monitor reads a
    challenger's test predictions from there. Meta rows, so logs without them still read."""
    con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [(BUILD_KEY + build_id, str(path)) for build_id, path in paths.items() if build_id])


def read_build_paths(con: sqlite3.Connection) -> dict[str, str]:
    return {key[len(BUILD_KEY):]: value for key, value in con.execute(
        "SELECT key, value FROM meta WHERE key LIKE ?", (BUILD_KEY + "%",))}


def next_seq(con: sqlite3.Connection) -> int:
    return int(con.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()[0]) + 1


def write_batch(con: sqlite3.Connection, requests: list[tuple], shadows: list[tuple], counters: dict[str, int]) -> None:
    """One transaction: request rows, shadow batches and the counter increments that count them.

    A request row is (seq, request_id, ts, input, slices text, build_id, pred, proba bytes, latency_ms,
    shadow decision); a shadow batch is (system, build_id, status, n, seqs bytes, preds bytes, proba
    bytes, votes bytes, latency_ms, error) - see `shadow_batch`.
    """
    con.execute("BEGIN IMMEDIATE")
    try:
        if requests:
            keys = _slice_keys(con, {row[4] for row in requests})
            con.executemany("INSERT INTO requests VALUES (?,?,?,?,?,?,?,?,?,?)",
                            [(*row[:4], keys[row[4]], *row[5:]) for row in requests])
            con.execute("INSERT INTO request_batches(n, seqs, ts, preds, confidence, slices) VALUES (?,?,?,?,?,?)",
                        _request_arrays(requests, keys))
        if shadows:
            con.executemany("INSERT INTO shadow(system, build_id, status, n, seqs, preds, proba, votes, latency_ms, "
                            "error) VALUES (?,?,?,?,?,?,?,?,?,?)", shadows)
        increments = dict(counters)
        for row in requests:
            increments[f"requests_{row[9]}"] = increments.get(f"requests_{row[9]}", 0) + 1
        for row in shadows:
            increments[f"shadow_{row[2]}"] = increments.get(f"shadow_{row[2]}", 0) + row[3]
        con.executemany(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            [(k, int(v)) for k, v in increments.items() if v])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _request_arrays(requests: list[tuple], keys: dict[str, int]) -> tuple:
    proba = np.frombuffer(b"".join(row[7] for row in requests), np.float32).reshape(len(requests), -1)
    return (len(requests), np.asarray([row[0] for row in requests], np.int64).tobytes(),
            np.asarray([row[2] for row in requests], np.float64).tobytes(),
            np.asarray([row[6] for row in requests], np.int16).tobytes(), proba.max(axis=1).tobytes(),
            np.asarray([keys[row[4]] for row in requests], np.int32).tobytes())


def shadow_batch(system: str, build_id: str, status: str, seqs, *, preds=None, proba=None, votes=None,
                 latency_ms: float | None = None, error: str | None = None) -> tuple:
    """A shadow batch record: one system's answers (or failure) for a list of request seqs. Votes come
    with probabilities (n, k) and are stored as vote_dtype(k)."""
    seqs = np.asarray(seqs, dtype=np.int64)
    if votes is not None and proba is None:
        raise ValueError("shadow_batch: votes need the probabilities beside them (their width is the class count)")
    return (system, build_id, status, len(seqs), seqs.tobytes(),
            None if preds is None else np.asarray(preds, dtype=np.int16).tobytes(),
            None if proba is None else np.ascontiguousarray(proba, dtype=np.float32).tobytes(),
            None if votes is None else np.ascontiguousarray(votes, dtype=vote_dtype(np.shape(proba)[1])).tobytes(),
            latency_ms, error)


def _slice_keys(con: sqlite3.Connection, values: set[str]) -> dict[str, int]:
    con.executemany("INSERT OR IGNORE INTO slice_values(value) VALUES (?)", [(v,) for v in values])
    marks = ",".join("?" * len(values))
    return dict((v, k) for k, v in con.execute(f"SELECT id, value FROM slice_values WHERE value IN ({marks})",
                                               list(values)))


def read_counters(con: sqlite3.Connection) -> dict[str, int]:
    return dict(con.execute("SELECT name, value FROM counters ORDER BY name"))


def check_log(path) -> dict:
    """integrity_check plus counters recomputed from the rows; `ok` is True when both agree."""
    con = connect(path)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        stored = read_counters(con)
        counted = {f"requests_{k}": v for k, v in con.execute("SELECT shadow, COUNT(*) FROM requests GROUP BY shadow")}
        batched = con.execute("SELECT COALESCE(SUM(n), 0) FROM request_batches").fetchone()[0]
        counted.update({f"shadow_{k}": v for k, v in con.execute("SELECT status, SUM(n) FROM shadow GROUP BY status")})
    finally:
        con.close()
    row_keys = {f"requests_{d}" for d in SHADOW_DECISIONS} | {f"shadow_{o}" for o in SHADOW_OUTCOMES}
    row_counters = {k: v for k, v in stored.items() if k in row_keys}
    return {"integrity": integrity, "counters": stored, "counted": counted,
            "ok": integrity == "ok" and row_counters == counted and batched == sum(
                v for k, v in counted.items() if k.startswith("requests_"))}


def encode_proba(proba: np.ndarray) -> bytes:
    return np.ascontiguousarray(proba, dtype=np.float32).tobytes()


class LogWriter:
    """A thread that writes accepted records to the log in batched transactions, every `interval` s.

    `put` never blocks the request path and wakes no thread (it appends to a deque: on two busy cores
    a woken writer would take the core from the request being answered). When `max_pending` records
    are waiting, a record is counted as `log_dropped` (persisted with the next batch), never silently lost.
    """

    def __init__(self, path, meta: LogMeta, *, max_pending: int = 100_000, batch_size: int = 5000,
                 interval: float = 0.05) -> None:
        self.path = Path(path)
        self.con = connect(self.path, meta=meta)
        self.seq = next_seq(self.con)
        self.queue: collections.deque = collections.deque()
        self.max_pending, self.batch_size, self.interval = max_pending, batch_size, interval
        self._lock = threading.Lock()
        self._dropped = 0
        self._unwritten = 0
        self.written = {"requests": 0, "shadow": 0, "batches": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labelkit-log-writer", daemon=True)

    def start(self) -> "LogWriter":
        self._thread.start()
        return self

    def allocate(self, n: int) -> int:
        """Reserve `n` consecutive sequence numbers; returns the first."""
        with self._lock:
            first, self.seq = self.seq, self.seq + n
        return first

    def put(self, kind: str, row: tuple) -> bool:
        with self._lock:
            if self._unwritten >= self.max_pending:
                self._dropped += 1
                return False
            self._unwritten += 1
            self.queue.append((kind, row))
        return True

    def count(self, name: str, n: int = 1) -> None:
        """A counter with no row behind it (e.g. a rejected request), persisted with the next batch."""
        self.put("counter", (name, n))

    @property
    def pending(self) -> int:
        """Records accepted and not yet committed (queued or in the batch being written)."""
        return self._unwritten

    @property
    def dropped(self) -> int:
        return self._dropped

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.interval)
            while self.queue:
                self._flush(self._take())
            if stopping:
                return

    def _take(self) -> list:
        items: list = []
        while self.queue and len(items) < self.batch_size:
            items.append(self.queue.popleft())
        return items

    def _flush(self, items: list) -> None:
        requests = [row for kind, row in items if kind == "request"]
        shadows = [row for kind, row in items if kind == "shadow"]
        counters: dict[str, int] = {}
        for kind, row in items:
            if kind == "counter":
                counters[row[0]] = counters.get(row[0], 0) + row[1]
        with self._lock:
            dropped, self._dropped = self._dropped, 0
        counters["log_dropped"] = dropped
        write_batch(self.con, requests, shadows, counters)
        with self._lock:
            self._unwritten -= len(items)
        self.written["requests"] += len(requests)
        self.written["shadow"] += len(shadows)
        self.written["batches"] += 1

    def close(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.con.close()
