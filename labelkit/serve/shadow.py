"""Shadow systems run off the request path: a worker fed by a bounded queue.

The primary answer never waits for them. The worker (a separate process by default, so its CPU work
does not hold the server's GIL) takes queued jobs in batches, runs every shadow system on the batch
(the primary build's rules: LF votes + label model; each challenger build's end model) and hands the
results back to the server, which logs them. A system that raises is logged as `error` for those rows;
a batch that runs longer than `timeout` gets the worker killed and restarted, and every job it had
not answered is logged as `aborted`. A full queue sheds the job (counted by the server).
"""
from __future__ import annotations

import collections
import functools
import pickle
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from labelkit.serve.log import shadow_batch

MAX_BATCH_ROWS = 256  # rows per shadow batch: bounds a batch's run time (the timeout applies per batch)
LINGER = 0.2  # seconds a batch waits for more jobs: a batch has a fixed cost (~15 ms per system), so
# fewer, larger batches take far less of the CPU the primary answer needs (1.0 -> 0.6 ms per row)


@dataclass
class System:
    """One shadow system: `predict(frame) -> (class indices, proba (n, k), votes (n, m) or None)`."""

    name: str
    build_id: str
    predict: Callable[[pd.DataFrame], tuple]
    warmup: dict | None = None  # a row run once before the worker reports ready (lazy imports, parsers)


@dataclass
class Job:
    seq: int  # first sequence number; rows get seq, seq+1, ...
    rows: list  # list of dicts (the request fields)


def rules_system(run, *, name: str = "rules") -> System:
    """The build's rule system: its LFs applied in this process, combined by its label model."""
    return System(name, run.build_id, functools.partial(_predict_rules, run), _warmup_row(run))


def model_system(run, *, name: str) -> System:
    return System(name, run.build_id, functools.partial(_predict_model, run), _warmup_row(run))


def _warmup_row(run) -> dict:
    return {column: "warm up the rules" if column == run.text_column else 0 for column in run.input_columns}


def _predict_rules(run, frame: pd.DataFrame):
    L = run.votes(frame)  # keeps one spaCy parser across batches
    preds, proba = run.predict_rules(L)  # ties: the label model's own prior, as the build scored it
    return preds, proba, L


def _predict_model(run, frame: pd.DataFrame):
    proba = run.predict_proba(frame)
    return proba.argmax(axis=1), proba, None


def load_systems(primary: str, challengers: tuple[str, ...], names: tuple[str, ...],
                 rules: bool = True) -> list[System]:
    """What the worker process runs: loads the builds itself (no models cross the process boundary)."""
    from labelkit.runs import load_run

    return systems_from_runs(load_run(primary) if rules else None, [load_run(path) for path in challengers], names)


def systems_from_runs(rules_run, challengers: list, names: tuple[str, ...]) -> list[System]:
    """The rule system of `rules_run` (None: no rules) and each challenger run's end model."""
    systems = [rules_system(rules_run)] if rules_run is not None else []
    return systems + [model_system(run, name=name) for run, name in zip(challengers, names)]


def run_systems(systems: list[System], rows: list[dict]) -> list[tuple]:
    """Every system on one batch: per system (name, build_id, status, preds, proba, votes, ms, error)."""
    frame = pd.DataFrame.from_records(rows)
    out = []
    for system in systems:
        start = time.perf_counter()
        try:
            preds, proba, votes = system.predict(frame)
            if len(preds) != len(rows) or len(proba) != len(rows):
                raise ValueError(f"returned {len(preds)} predictions for {len(rows)} rows")
            status, error = "ok", None
        except Exception as exc:  # a broken shadow is data for the log, never a crash
            preds = proba = votes = None
            status, error = "error", f"{type(exc).__name__}: {str(exc)[:300]}"
        ms = (time.perf_counter() - start) * 1000
        out.append((system.name, system.build_id, status, preds, proba, votes, ms, error))
    return out


def job_seqs(jobs: list[tuple[int, int]]) -> np.ndarray:
    """(first seq, rows) per job -> every row's seq, in order."""
    return np.concatenate([np.arange(first, first + n, dtype=np.int64) for first, n in jobs])


def shadow_rows(jobs: list[tuple[int, int]], results: list[tuple]) -> list[tuple]:
    """Log records (one shadow batch per system) for the results of `run_systems` on these jobs."""
    seqs = job_seqs(jobs)
    out = []
    for name, build_id, status, preds, proba, votes, ms, error in results:
        if status == "ok":
            out.append(shadow_batch(name, build_id, status, seqs, preds=preds, proba=proba, votes=votes,
                                    latency_ms=ms))
        else:
            out.append(shadow_batch(name, build_id, status, seqs, latency_ms=ms, error=error))
    return out


class PipeInbox:
    """The worker process's end of the job pipe: pickled lists of jobs, None = stop."""

    def __init__(self, reader) -> None:
        self.reader = reader

    def get(self, timeout: float):
        if not self.reader.poll(max(timeout, 0.0)):
            raise queue.Empty
        return pickle.loads(self.reader.recv_bytes())


def _next_jobs(inbox, parent: int | None):
    """The next list of jobs; None (stop) when the server process is gone (killed with -9: no one to
    answer to) or the pipe is closed."""
    import os

    while True:
        try:
            return inbox.get(timeout=1.0)
        except queue.Empty:
            if parent is not None and os.getppid() != parent:
                return None
        except (EOFError, OSError):
            return None


def _take_batch(inbox, parent: int | None, linger: float) -> tuple[list, bool]:
    """(jobs, stop): the next message of jobs, then more until MAX_BATCH_ROWS rows or `linger` seconds
    (messages hold <= MAX_BATCH_ROWS rows, so a batch holds < 2 * MAX_BATCH_ROWS, or one large request)."""
    jobs = _next_jobs(inbox, parent)
    if jobs is None:
        return [], True
    deadline = time.monotonic() + linger
    while sum(len(job.rows) for job in jobs) < MAX_BATCH_ROWS:
        try:
            more = inbox.get(timeout=max(deadline - time.monotonic(), 0.0))
        except queue.Empty:
            break
        except (EOFError, OSError):
            return jobs, True
        if more is None:
            return jobs, True
        jobs += more
    return jobs, False


def _worker_loop(make_systems, jobs, results, busy, parent: int | None = None, linger: float = LINGER,
                 on_ready: Callable[[], None] = lambda: None) -> None:
    """The worker's main loop (process or thread): load systems, then answer batches until None."""
    try:
        systems = make_systems()
    except Exception as exc:
        results.put(("failed", f"{type(exc).__name__}: {exc}"))
        return
    for system in systems:  # the first call loads parsers and models lazily: not on a real batch's clock
        if system.warmup is not None:
            try:
                system.predict(pd.DataFrame([system.warmup]))
            except Exception:
                pass  # a system that fails here fails on real rows too, where it is logged
    on_ready()
    results.put(("ready", [(s.name, s.build_id) for s in systems]))
    while True:
        batch, stop = _take_batch(jobs, parent, linger)
        if batch:
            busy.value = time.time()
            seqs = [(job.seq, len(job.rows)) for job in batch]
            rows = [row for job in batch for row in job.rows]
            try:
                results.put(("done", seqs, shadow_rows(seqs, run_systems(systems, rows))))
            except Exception:
                results.put(("crashed", seqs, traceback.format_exc(limit=3)))
            busy.value = 0.0
        if stop:
            return


def _process_main(payload: bytes, jobs, results, busy, parent: int, linger: float) -> None:
    import os
    import warnings

    import cloudpickle

    warnings.filterwarnings("ignore")
    try:
        os.nice(10)  # the primary answer gets the CPU first; shadow work waits when cores are busy
    except OSError:
        pass
    _worker_loop(cloudpickle.loads(payload), PipeInbox(jobs), results, busy, parent, linger, idle_priority)


def idle_priority() -> None:
    """Once loaded, the worker runs as SCHED_IDLE (Linux): a waking server thread preempts it at once,
    where a niced worker can hold the core for its time slice (milliseconds at the primary's p99).
    It also leaves the server's session: Linux shares CPU between sessions (autogroups) before
    processes, so in the server's session the worker's CPU would count against the server's share;
    in its own, at the lowest autogroup priority, it does not. It gets the CPU the primary leaves;
    if that is too little, its queue fills and jobs are shed, counted."""
    import os

    try:
        os.setsid()
        with open("/proc/self/autogroup", "w") as autogroup:
            autogroup.write("19")
    except OSError:
        pass  # not Linux, or autogroups off: the scheduling policy below still applies
    if hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass  # not allowed here: the nice value still applies


class _Busy:
    value = 0.0


class ShadowWorker:
    """Runs shadow systems off the request path. `submit` never blocks; `on_rows` receives log rows.

    mode "process" (default) isolates CPU work and hangs in a child process that can be killed;
    mode "thread" is for tests and tiny deployments (a hung thread is abandoned and replaced).

    `submit` only appends to an in-process outbox: it wakes no thread and pickles nothing, because on
    two busy cores a woken thread can take the core (and the GIL) from the request being answered. A
    shipper thread sends the outbox to the worker every `ship_interval` seconds as one pickled message.
    At most `queue_size` jobs are in flight (submitted, not yet answered); more are shed.
    """

    # set by _launch, per mode: a spawned process or a thread, its results queue, the worker's inbox
    _worker: Any
    _results: Any
    _send: Callable[[Any], None]

    def __init__(self, make_systems: Callable[[], list[System]], on_rows: Callable[[list[tuple]], None], *,
                 queue_size: int = 1000, timeout: float = 30.0, mode: str = "process",
                 on_event: Callable[[str, int], None] | None = None, linger: float = LINGER,
                 ship_interval: float = 0.05) -> None:
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread', got {mode!r}")
        self.make_systems, self.on_rows, self.on_event = make_systems, on_rows, on_event or (lambda name, n: None)
        self.queue_size, self.timeout, self.mode, self.linger = queue_size, timeout, mode, linger
        self.ship_interval = ship_interval
        self.systems: list[tuple[str, str]] = []
        self.state = "starting"  # starting | ready | failed | stopped
        self.error: str | None = None
        self.restarts = 0
        self._pending: dict[int, int] = {}  # seq -> rows, submitted and not yet answered
        self._outbox: collections.deque = collections.deque()  # submitted, not yet shipped to the worker
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._generation = 0

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "ShadowWorker":
        self._launch()
        threading.Thread(target=self._watch, name="labelkit-shadow-watchdog", daemon=True).start()
        return self

    def wait_ready(self, timeout: float = 120.0) -> bool:
        self._ready.wait(timeout)
        return self.state == "ready"

    def _launch(self) -> None:
        self._generation += 1
        if self.mode == "process":
            import multiprocessing
            import os

            import cloudpickle

            ctx = multiprocessing.get_context("spawn")
            reader, writer = ctx.Pipe(duplex=False)
            self._results = ctx.Queue()
            self._busy = ctx.Value("d", 0.0, lock=False)
            self._worker = ctx.Process(target=_process_main, name="labelkit-shadow", daemon=True,
                                       args=(cloudpickle.dumps(self.make_systems), reader, self._results,
                                             self._busy, os.getpid(), self.linger))
            self._worker.start()
            reader.close()  # the child has its copy; with ours closed, a dead child breaks the pipe
            send: Callable[[Any], None] = functools.partial(_send_pickled, writer, threading.Lock())
        else:
            inbox: queue.Queue = queue.Queue()
            self._results, self._busy = queue.Queue(), _Busy()
            self._worker = threading.Thread(target=_worker_loop, name="labelkit-shadow", daemon=True,
                                            args=(self.make_systems, inbox, self._results, self._busy, None,
                                                  self.linger))
            self._worker.start()
            send = inbox.put
        self._send = send
        threading.Thread(target=self._ship, args=(self._generation, send), daemon=True,
                         name="labelkit-shadow-shipper").start()
        threading.Thread(target=self._collect, args=(self._generation, self._results), daemon=True,
                         name="labelkit-shadow-collector").start()

    def stop(self, timeout: float = 10.0) -> None:
        """Let queued jobs finish (up to `timeout`), then stop; anything unanswered is logged `aborted`."""
        deadline = time.monotonic() + timeout
        if self.state == "ready":
            while self._pending and time.monotonic() < deadline:
                time.sleep(0.02)
        self._stopping.set()
        try:
            self._send(None)
        except (OSError, ValueError):
            pass
        self._kill()
        self._abort_pending("the server stopped before the shadow systems answered")
        self.state = "stopped"

    def _kill(self) -> None:
        if self.mode == "process" and self._worker.is_alive():
            self._worker.join(0.5)
            if self._worker.is_alive():
                self._worker.kill()
                self._worker.join(2)

    # --- request path ---------------------------------------------------------------------------
    def submit(self, job: Job) -> bool:
        """Queue a job; False (shed) when `queue_size` jobs are in flight or the worker is not ready."""
        with self._lock:
            if self.state != "ready" or len(self._pending) >= self.queue_size:
                return False
            self._pending[job.seq] = len(job.rows)
            self._outbox.append(job)
        return True

    @property
    def pending_rows(self) -> int:
        with self._lock:
            return sum(self._pending.values())

    # --- worker side ----------------------------------------------------------------------------
    def _ship(self, generation: int, send) -> None:
        """Every `ship_interval`: the outbox as one message to the worker (blocking here, never in submit)."""
        while not self._stopping.wait(self.ship_interval) and generation == self._generation:
            while self._outbox:  # messages of <= MAX_BATCH_ROWS rows, so a worker batch stays bounded
                jobs, rows = [], 0
                while self._outbox and rows < MAX_BATCH_ROWS:
                    jobs.append(self._outbox.popleft())
                    rows += len(jobs[-1].rows)
                try:
                    send(jobs)
                except (OSError, ValueError):
                    return  # the worker is gone: the watchdog aborts these jobs and starts a new one

    def _collect(self, generation: int, results) -> None:
        while not self._stopping.is_set() and generation == self._generation:
            try:
                message = results.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            if generation != self._generation:
                return  # a result from a worker that was already replaced: its jobs were aborted
            self._handle(message)

    def _handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "ready":
            with self._lock:
                self.systems, self.state = message[1], "ready"
            self._ready.set()
        elif kind == "failed":
            self.state, self.error = "failed", message[1]
            self._ready.set()
        elif kind == "done":
            with self._lock:  # jobs already logged as aborted (worker replaced meanwhile) are not logged twice
                answered = [self._pending.pop(seq, None) is not None for seq, _ in message[1]]
            if all(answered):
                self.on_rows(message[2])
        elif kind == "crashed":
            with self._lock:
                for seq, _ in message[1]:
                    self._pending.pop(seq, None)
            self.on_rows(self._aborted_rows(message[1], f"shadow batch failed: {message[2].splitlines()[-1]}"))

    def _watch(self) -> None:
        while not self._stopping.wait(0.1):
            if self.state != "ready":
                continue
            started = self._busy.value
            hung = started and time.time() - started > self.timeout
            dead = self.mode == "process" and not self._worker.is_alive()
            if hung or dead:
                reason = (f"a shadow batch ran longer than {self.timeout:g} s" if hung
                          else f"the shadow worker died (exit code {self._worker.exitcode})")
                self.on_event("shadow_restarts", 1)
                self.restarts += 1
                with self._lock:  # with submit locked out, every job in flight is in _pending: all aborted
                    self.state = "starting"
                    self._ready.clear()
                    self._generation += 1  # results of the old worker are ignored from now on
                    self._outbox.clear()
                self._kill()
                self._abort_pending(f"{reason}; worker restarted")
                self._launch()

    def _abort_pending(self, reason: str) -> None:
        with self._lock:
            jobs, self._pending = list(self._pending.items()), {}
        if jobs:
            self.on_rows(self._aborted_rows(jobs, reason))

    def _aborted_rows(self, jobs, reason: str) -> list[tuple]:
        seqs = job_seqs(list(jobs))
        return [shadow_batch(name, build_id, "aborted", seqs, error=reason[:300])
                for name, build_id in (self.systems or [("shadow", "")])]


def _send_pickled(writer, lock, jobs) -> None:
    data = pickle.dumps(jobs, protocol=pickle.HIGHEST_PROTOCOL)
    with lock:  # the shipper and stop() share the pipe
        writer.send_bytes(data)
