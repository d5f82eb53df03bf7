"""The prediction service: a Starlette app built from an explicit state object (no module globals).

POST /predict answers with the primary build's end model, logs the request and hands a copy to the
shadow worker; GET /health and GET /counters report on the service.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from labelkit.serve.log import LogMeta, LogWriter, encode_proba, slice_key
from labelkit.serve.shadow import Job, ShadowWorker
from labelkit.io.times import time_value
from labelkit.settings.declare import check_declared, same_as
from labelkit.settings.options import ServeOptions


@dataclass
class ServeSettings:
    """The request path's settings. Those `labelkit serve` has as options take their defaults and rules from
    the one declaration (labelkit/settings/options.py ServeOptions): a bad value is refused when made."""

    max_body_bytes: int = same_as(ServeOptions, "max_body_bytes")
    max_batch: int = same_as(ServeOptions, "max_batch")
    log_input: str = same_as(ServeOptions, "log_input")  # full | hash | none
    shadow_sample: float = same_as(ServeOptions, "shadow_sample")  # share sent to the shadow systems (by request id)
    time_field: str | None = None  # a request field used as the log time (replaying/simulating traffic)
    # with time_field, a row without it: "reject" (422) or "now" (logged at arrival)
    missing_time: str = same_as(ServeOptions, "missing_time")
    id_field: str = "id"

    def __post_init__(self) -> None:
        check_declared(self, "ServeSettings")


@dataclass
class Primary:
    """What the request path needs from the primary build."""

    build_id: str
    classes: tuple[str, ...]
    input_columns: list[str]
    slice_columns: list[str]
    predict_proba: Callable[[pd.DataFrame], np.ndarray]  # frame -> (n, k)
    # rows (dicts of input_columns) -> (n, k); None: predict_proba on a frame
    predict_rows: Callable[[list[dict]], np.ndarray] | None = None
    id_column: str | None = None  # the build's [data] id_column: a request's id when it has no `id` field
    text: bool = True  # input_columns[0] is a text; False: a model of feature columns alone (WRENCH vectors)
    numbers: tuple[str, ...] = ()  # input columns the model read as numbers: a request must send numbers

    @classmethod
    def from_run(cls, run) -> "Primary":
        if run.end_model is None:
            from labelkit.errors import ConfigError

            raise ConfigError(f"{run.path} has no end model to serve (built with [end_model] enabled = false).")
        model = run.end_model  # compiled when loaded (labelkit.endmodel.scorer): same probabilities, less CPU
        return cls(run.build_id, tuple(run.classes), list(run.input_columns), run.slice_columns, model.predict_proba,
                   model.predict_proba_rows, run.config.data.id_column, text=bool(run.text_column),
                   numbers=numeric_inputs(model))

    def answer(self, rows: list[dict]) -> np.ndarray:
        inputs = [{c: row[c] for c in self.input_columns} for row in rows]
        if self.predict_rows is not None:
            return np.asarray(self.predict_rows(inputs))
        return np.asarray(self.predict_proba(pd.DataFrame.from_records(inputs)))


@dataclass
class ServeState:
    primary: Primary
    log: LogWriter
    shadow: ShadowWorker | None
    settings: ServeSettings = field(default_factory=ServeSettings)
    counters: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.time)

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counters[name] += n

    def shadow_rows(self, batches: list[tuple]) -> None:
        """The shadow worker's results (one record per batch and system) -> the log and the live counters."""
        for batch in batches:
            self.log.put("shadow", batch)
        with self.lock:
            for batch in batches:
                self.counters[f"shadow_{batch[2]}"] += batch[3]

    def close(self, drain: float = 10.0) -> None:
        """Stop the shadow worker (queued jobs get up to `drain` seconds), then flush the log."""
        if self.shadow is not None:
            self.shadow.stop(drain)
        self.log.close()


class RequestError(Exception):
    def __init__(self, status: int, message: str, **extra) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def log_meta(primary: Primary, lf_names) -> LogMeta:
    return LogMeta(tuple(primary.classes), tuple(lf_names), tuple(primary.slice_columns))


def create_app(state: ServeState):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def predict(request):
        started = time.perf_counter()
        state.count("http_requests")
        try:
            rows, single = parse_rows(await read_body(request, state.settings.max_body_bytes), state)
            answer = answer_rows(state, rows, started)
        except RequestError as exc:
            state.count(f"rejected_{exc.status}")
            state.log.count(f"rejected_{exc.status}")
            return JSONResponse({"error": exc.message, **exc.extra}, status_code=exc.status)
        except Exception as exc:  # the primary model failed: say so, count it, keep serving
            state.count("primary_errors")
            state.log.count("primary_errors")
            return JSONResponse({"error": f"primary model failed: {type(exc).__name__}: {exc}"}, status_code=500)
        return JSONResponse(answer[0] if single else {"predictions": answer})

    async def health(request):
        shadow = state.shadow
        return JSONResponse({
            "status": "ok", "primary_build": state.primary.build_id, "uptime_s": round(time.time() - state.started, 1),
            "shadow": None if shadow is None else {"state": shadow.state, "systems": [s[0] for s in shadow.systems],
                                                   "error": shadow.error, "restarts": shadow.restarts},
            "log": str(state.log.path)})

    async def counters(request):
        with state.lock:
            live = dict(state.counters)
        live.update({"log_pending": state.log.pending, "log_dropped_unflushed": state.log.dropped,
                     "log_written_requests": state.log.written["requests"],
                     "log_written_shadow": state.log.written["shadow"],
                     "shadow_pending_rows": state.shadow.pending_rows if state.shadow else 0})
        return JSONResponse(live)

    routes = [Route("/predict", predict, methods=["POST"]), Route("/health", health), Route("/counters", counters)]
    return Starlette(routes=routes)


async def read_body(request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"request body is {int(declared)} bytes; the limit is {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_rows(body: bytes, state: ServeState) -> tuple[list[dict], bool]:
    """JSON body -> list of row dicts; one object, a list of objects, or {"rows": [...]}."""
    try:
        data = json.loads(body)
    except RecursionError:  # e.g. 100,000 nested "[": the decoder recurses once per level
        raise RequestError(400, "request body is not valid JSON: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, an integer of > 4300 digits
        raise RequestError(400, f"request body is not valid JSON: {str(exc).splitlines()[0][:200]}") from None
    single = isinstance(data, dict) and "rows" not in data
    rows = [data] if single else data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise RequestError(400, 'send a JSON object of fields, a list of objects, or {"rows": [objects]}')
    if len(rows) > state.settings.max_batch:
        raise RequestError(413, f"batch of {len(rows)} rows; the limit is {state.settings.max_batch} rows per request")
    check_fields(rows, state.primary.input_columns, text=state.primary.text, numbers=state.primary.numbers)
    return rows, single


def check_fields(rows: list[dict], required: list[str], *, text: bool = True, numbers=()) -> None:
    """Every row has the required fields; the text (the first, if `text`) is a string and the
    `numbers` fields are numbers."""
    for i, row in enumerate(rows):
        where = f" in row {i}" if len(rows) > 1 else ""
        missing = [c for c in required if c not in row or row[c] is None]
        if missing:
            raise RequestError(422, f"missing field(s){where}: {', '.join(missing)}", missing=missing, row=i)
        if text and not isinstance(row[required[0]], str):  # the text column comes first
            raise RequestError(422, f"field {required[0]!r}{where} must be a string", missing=[], row=i)
        wrong = next((c for c in numbers if not isinstance(row[c], (int, float)) or isinstance(row[c], bool)
                      or row[c] != row[c]), None)
        if wrong is not None:
            raise RequestError(422, f"field {wrong!r}{where} must be a number, got {row[wrong]!r}", missing=[], row=i)


def numeric_inputs(model) -> tuple[str, ...]:
    """The columns an end model's features read as numbers: scaled columns, and one-hot columns whose
    categories are numbers (integer codes)."""
    out = []
    for name, part, columns in getattr(model.pipeline.steps[0][1], "transformers_", []):
        if name == "numeric":
            out += list(columns)
        elif name == "categorical":
            out += [c for c, kinds in zip(columns, part.categories_) if np.asarray(kinds).dtype.kind in "iuf"]
    return tuple(out)


def answer_rows(state: ServeState, rows: list[dict], started: float) -> list[dict]:
    primary, settings = state.primary, state.settings
    now = time.time()
    # both may reject the request (4xx): before anything is answered or logged
    times = [log_time(row, settings.time_field, now, missing=settings.missing_time, index=i, n=len(rows))
             for i, row in enumerate(rows)]
    inputs = [logged_input(row, settings) for row in rows]
    proba = primary.answer(rows)
    preds = proba.argmax(axis=1)
    latency_ms = (time.perf_counter() - started) * 1000
    first = state.log.allocate(len(rows))
    ids = [request_id(row, (settings.id_field, primary.id_column), first + i) for i, row in enumerate(rows)]
    decisions = shadow_decisions(state, rows, ids, first)
    for i, row in enumerate(rows):
        state.log.put("request", (first + i, ids[i], times[i], inputs[i],
                                  slice_key(row, primary.slice_columns),
                                  primary.build_id, int(preds[i]), encode_proba(proba[i]), latency_ms, decisions[i]))
    state.count("rows", len(rows))
    return [{"id": ids[i], "label": primary.classes[preds[i]],
             "probabilities": {c: round(float(p), 6) for c, p in zip(primary.classes, proba[i])},
             "build_id": primary.build_id} for i in range(len(rows))]


def shadow_decisions(state: ServeState, rows: list[dict], ids: list[str], first: int) -> list[str]:
    """Per row: queued, shed (queue full / worker not ready), sampled_out, or none (no shadow)."""
    if state.shadow is None:
        state.count("requests_none", len(rows))
        return ["none"] * len(rows)
    decisions = ["queued" if sampled(i, state.settings.shadow_sample) else "sampled_out" for i in ids]
    # Consecutive sampled rows travel as one job so the worker can batch them.
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and decisions[end] == decisions[start]:
            end += 1
        if decisions[start] == "queued" and not state.shadow.submit(Job(first + start, rows[start:end])):
            decisions[start:end] = ["shed"] * (end - start)
        start = end
    with state.lock:
        state.counters.update(f"requests_{d}" for d in decisions)
    return decisions


def sampled(rid: str, rate: float) -> bool:
    if rate >= 1:
        return True
    digest = hashlib.blake2b(rid.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


def request_id(row: dict, fields: tuple, seq: int) -> str:
    """The first of `fields` the row fills in, else a fresh id."""
    for name in fields:
        value = row.get(name) if name else None
        if value not in (None, ""):
            return str(value)
    return f"r{seq}-{uuid.uuid4().hex[:8]}"


def log_time(row: dict, field_name: str | None, now: float, *, missing: str = "reject", index: int = 0,
             n: int = 1) -> float:
    """The time a row is logged at: `now`, or with a time field (replays, simulations) the row's value
    (epoch seconds or date/time text, labelkit.io.times). A row without the field is refused, unless
    `missing` is "now": a request silently logged at the current time would sit alone in the present,
    far from a replayed past, and every window in between would be an empty window."""
    if not field_name:
        return now
    where = f" in row {index}" if n > 1 else ""
    value = row.get(field_name)
    if value is None or value == "":
        if missing == "now":
            return now
        raise RequestError(422, f"missing field(s){where}: {field_name} (the time field this server logs requests "
                                f"at; serve with --missing-time now to log such requests at their arrival)",
                           missing=[field_name], row=index)
    try:
        return time_value(value)
    except ValueError:
        raise RequestError(422, f"field {field_name!r}{where} is not a time: {str(value)[:50]!r} (give epoch "
                                "seconds or an ISO 8601 date/time)", missing=[], row=index) from None


def logged_input(row: dict, settings: ServeSettings) -> str | None:
    if settings.log_input == "none":
        return None
    try:
        text = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):  # nested too deeply to write back (or a circular structure)
        raise RequestError(400, "request fields are nested too deeply to log") from None
    return text if settings.log_input == "full" else "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
