"""The prediction service: request handling, the request log, and shadow isolation.

The primary here is a real scikit-learn model trained on the shared synthetic tickets; the shadow
systems are real functions that answer, raise or hang, run by the real worker (thread mode, so the
tests stay fast; the process mode is exercised in test_serve_e2e.py).
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import CLASSES, LoopbackServer, free_port, make_frame
from labelkit.serve.app import Primary, ServeSettings, ServeState, create_app
from labelkit.serve.log import LogMeta, LogWriter, RequestLogError, check_log, connect, write_batch
from labelkit.serve.shadow import ShadowWorker, System

META = LogMeta(tuple(CLASSES), ("kw_a", "kw_b"), ("country",))


@pytest.fixture(scope="module")
def primary() -> Primary:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    frame = make_frame(300, np.random.default_rng(0), "p")
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=200)).fit(frame["text"], frame["label"])
    order = [list(model.classes_).index(c) for c in CLASSES]
    return Primary("primary01", tuple(CLASSES), ["text"], ["country"],
                   lambda f: model.predict_proba(f["text"])[:, order])


def votes_system(name="rules"):
    def predict(frame):
        L = np.stack([frame["text"].str.contains("invoice").map({True: 0, False: -1}),
                      frame["text"].str.contains("wifi").map({True: 1, False: -1})], axis=1).astype(np.int8)
        proba = np.full((len(frame), 3), 1 / 3)
        return proba.argmax(axis=1), proba, L
    return System(name, "rules01", predict)


def raising_system(frame):
    raise RuntimeError("challenger exploded")


def hanging_system(frame):
    time.sleep(30)


def make_state(tmp_path, primary, systems, *, queue_size=100, timeout=5.0, **settings) -> ServeState:
    """A service logging to tmp_path/serve.sqlite; `systems` (a list) run as shadows in a thread worker."""
    log = LogWriter(tmp_path / "serve.sqlite", META, interval=0.01).start()
    state = ServeState(primary, log, None, ServeSettings(**settings))
    if systems is not None:
        state.shadow = ShadowWorker(lambda: systems, state.shadow_rows, queue_size=queue_size, timeout=timeout,
                                    mode="thread", on_event=state.count).start()
        assert state.shadow.wait_ready(10)
    return state


def process_state(tmp_path, primary, *, timeout: float) -> ServeState:
    """make_state with process_systems in a real worker process (the default queue size), ready."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the worker process cannot import tests/
    state = make_state(tmp_path, primary, None)
    state.shadow = ShadowWorker(process_systems, state.shadow_rows, timeout=timeout, mode="process",
                                on_event=state.count).start()
    assert state.shadow.wait_ready(60), state.shadow.error
    return state


def client_for(state):
    from starlette.testclient import TestClient

    return TestClient(create_app(state))


def rows(n, start=0):
    return [{"id": f"q{start + i}", "text": t, "country": c}
            for i, (t, c) in enumerate(zip(["my invoice is wrong", "wifi down again", "cancel my plan"] * n,
                                           ["FR", "US", "GB"] * n))][:n]


def test_predict_answers_logs_and_counts(tmp_path, primary):
    state = make_state(tmp_path, primary, [votes_system(), System("chall", "c01", lambda f: (
        np.zeros(len(f), int), np.tile([1.0, 0, 0], (len(f), 1)), None))])
    client = client_for(state)
    one = client.post("/predict", json={"id": "a1", "text": "I was charged twice on my invoice", "country": "FR"})
    assert one.status_code == 200 and one.json()["id"] == "a1"
    assert one.json()["label"] == "billing" and abs(sum(one.json()["probabilities"].values()) - 1) < 1e-4
    batch = client.post("/predict", json={"rows": rows(5)})
    assert [p["id"] for p in batch.json()["predictions"]] == [f"q{i}" for i in range(5)]
    assert client.get("/health").json()["shadow"]["systems"] == ["rules", "chall"]
    state.close()
    con = connect(tmp_path / "serve.sqlite")
    requests = con.execute("SELECT request_id, slices, input, shadow FROM requests_view ORDER BY seq").fetchall()
    assert [r[0] for r in requests] == ["a1"] + [f"q{i}" for i in range(5)]
    assert requests[0][1] == "FR" and json.loads(requests[0][2])["text"].endswith("invoice")
    con.close()
    from labelkit.serve.logdata import read_log

    log = read_log(tmp_path / "serve.sqlite")
    assert set(log.systems) == {"rules", "chall"} and (log.systems["chall"].status == "ok").all()
    assert log.systems["rules"].votes[1].tolist() == [0, -1]  # seq 2: "my invoice is wrong"
    assert log.slices["country"].tolist() == ["FR", "FR", "US", "GB", "FR", "US"]
    report = check_log(tmp_path / "serve.sqlite")
    assert report["ok"] and report["counters"]["requests_queued"] == 6 and report["counters"]["shadow_ok"] == 12


def test_bad_requests_get_400_413_422_with_a_message(tmp_path, primary):
    state = make_state(tmp_path, primary, None, max_body_bytes=2000, max_batch=3)
    client = client_for(state)
    bad = client.post("/predict", content=b'{"text": "unterminated', headers={"content-type": "application/json"})
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    assert client.post("/predict", json=[1, 2]).status_code == 400
    missing = client.post("/predict", json={"id": "x", "country": "FR"})
    assert missing.status_code == 422 and missing.json()["missing"] == ["text"] and "text" in missing.json()["error"]
    in_batch = client.post("/predict", json=[{"text": "a"}, {"txt": "b"}])
    assert in_batch.status_code == 422 and "row 1" in in_batch.json()["error"]
    assert client.post("/predict", json={"text": 5}).status_code == 422
    big = client.post("/predict", json={"text": "x" * 5000})
    assert big.status_code == 413 and "2000 bytes" in big.json()["error"]
    assert client.post("/predict", json=rows(4)).status_code == 413
    counters = client.get("/counters").json()
    assert counters["rejected_400"] == 2 and counters["rejected_422"] == 3 and counters["rejected_413"] == 2
    state.close()
    stored = check_log(tmp_path / "serve.sqlite")["counters"]
    assert stored["rejected_422"] == 3 and "requests_none" not in stored  # nothing logged as answered


def test_the_answer_comes_from_the_compiled_end_model_with_the_pipelines_probabilities(tmp_path):
    """A real labelkit end model, compiled as `labelkit serve` loads it: the request path hands it the
    row dicts (no DataFrame) and answers with the scikit-learn Pipeline's probabilities."""
    import pandas as pd

    from labelkit.endmodel import train_end_model

    frame = make_frame(150, np.random.default_rng(3), "s")
    y = np.array([CLASSES.index(c) for c in frame["label"]])
    model = train_end_model(frame, y, tuple(CLASSES), text_column="text", dev=frame[:50], y_dev=y[:50], soft=False)
    assert model.compile()
    calls = []
    primary = Primary("m01", tuple(CLASSES), ["text"], ["country"], model.predict_proba,
                      lambda inputs: calls.append(inputs) or model.predict_proba_rows(inputs))
    state = make_state(tmp_path, primary, None)
    texts = list(frame["text"][:4]) + ["", "café 東京 🙂"]
    batch = client_for(state).post("/predict", json={"rows": [{"id": f"s{i}", "text": t, "country": "FR"}
                                                              for i, t in enumerate(texts)]})
    state.close()
    assert calls == [[{"text": t} for t in texts]]
    expected = np.zeros((len(texts), len(CLASSES)))
    expected[:, model.pipeline.classes_] = model.pipeline.predict_proba(model._prepare(pd.DataFrame({"text": texts})))
    for answer, proba in zip(batch.json()["predictions"], expected):
        assert answer["probabilities"] == {c: round(float(p), 6) for c, p in zip(CLASSES, proba)}
        assert answer["label"] == CLASSES[int(proba.argmax())]


@pytest.mark.parametrize("broken", [raising_system, hanging_system], ids=["raises", "hangs"])
def test_a_broken_shadow_never_touches_the_primary_answer(tmp_path, primary, broken):
    reference = make_state(tmp_path / "ref", primary, None)
    expected = client_for(reference).post("/predict", json={"rows": rows(6)}).json()
    reference.close()
    state = make_state(tmp_path / "shadow", primary, [votes_system(), System("broken", "b01", broken)], timeout=0.5)
    client = client_for(state)
    started = time.perf_counter()
    answers = [client.post("/predict", json={"rows": rows(6)}).json() for _ in range(3)]
    assert time.perf_counter() - started < 5  # a hung shadow does not hold requests
    for answer in answers:
        assert [(p["label"], p["probabilities"]) for p in answer["predictions"]] == \
               [(p["label"], p["probabilities"]) for p in expected["predictions"]]
    if broken is hanging_system:
        deadline = time.time() + 10
        while state.shadow.restarts == 0 and time.time() < deadline:
            time.sleep(0.05)
        assert state.shadow.restarts >= 1
    state.close()
    con = connect(tmp_path / "shadow" / "serve.sqlite")
    statuses = dict(con.execute("SELECT status, SUM(n) FROM shadow WHERE system = 'broken' GROUP BY status").fetchall())
    con.close()
    expected_status = "error" if broken is raising_system else "aborted"
    assert statuses.get(expected_status, 0) >= 6
    report = check_log(tmp_path / "shadow" / "serve.sqlite")
    assert report["ok"]
    counters = report["counters"]
    # every answered row is queued, shed or sampled out; every queued row got an outcome per system
    assert counters["requests_queued"] + counters.get("requests_shed", 0) == 18
    outcomes = sum(counters.get(f"shadow_{k}", 0) for k in ("ok", "error", "aborted"))
    assert outcomes == 2 * counters["requests_queued"]


def test_sampling_and_shedding_are_counted(tmp_path, primary):
    state = make_state(tmp_path / "a", primary, [votes_system()], shadow_sample=0.0)
    client = client_for(state)
    client.post("/predict", json={"rows": rows(10)})
    assert client.get("/counters").json()["requests_sampled_out"] == 10
    state.close()
    state = make_state(tmp_path / "b", primary, [System("slow", "s01", hanging_system)], queue_size=1, timeout=60)
    client = client_for(state)
    for i in range(5):
        client.post("/predict", json=rows(1, start=i))
    counters = client.get("/counters").json()
    assert counters["requests_queued"] + counters["requests_shed"] == 5 and counters["requests_shed"] >= 3
    state.close(drain=0.1)
    report = check_log(tmp_path / "b" / "serve.sqlite")
    assert report["ok"] and report["counted"]["shadow_aborted"] == report["counters"]["requests_queued"]


def test_log_from_another_schema_version_or_build_is_refused(tmp_path):
    path = tmp_path / "log.sqlite"
    con = connect(path, meta=META)
    write_batch(con, [(1, "a", 0.0, None, "FR", "b1", 0, b"\0" * 12, 1.0, "none")], [], {})
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(RequestLogError, match="schema version 99; this labelkit reads version 1"):
        connect(path)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.close()
    with pytest.raises(RequestLogError, match="not a labelkit request log"):
        connect(other)
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(RequestLogError, match="not a labelkit request log"):
        connect(tmp_path / "junk.sqlite")
    fresh = tmp_path / "fresh.sqlite"
    connect(fresh, meta=META).close()
    with pytest.raises(RequestLogError, match="classes"):
        connect(fresh, meta=LogMeta(("a", "b"), META.lf_names, META.slice_columns))


WRITER_SCRIPT = """
import sys, time
import numpy as np
from labelkit.serve.log import LogMeta, LogWriter, shadow_batch
log = LogWriter(sys.argv[1], LogMeta(("a", "b", "c"), ("lf",), ("country",)), interval=0.005).start()
i = 0
while True:
    first = log.allocate(20)
    for j in range(20):
        log.put("request", (first + j, f"r{first + j}", time.time(), "{}", "FR", "b1", 0,
                            np.float32([1, 0, 0]).tobytes(), 0.1, "queued"))
    log.put("shadow", shadow_batch("rules", "b1", "ok", range(first, first + 20), preds=[0] * 20,
                                   proba=np.tile([1.0, 0, 0], (20, 1)), votes=np.zeros((20, 1))))
    i += 1
    if i == 5:
        print("writing", flush=True)
    time.sleep(0.001)
"""


def test_kill_9_leaves_a_readable_log_with_consistent_counters(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    path = tmp_path / "log.sqlite"
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    report = check_log(path)
    assert report["integrity"] == "ok" and report["ok"], report
    assert report["counters"]["requests_queued"] > 100


def hang_on_marker(frame):
    if frame["text"].str.contains("HANG").any():
        time.sleep(60)
    return np.zeros(len(frame), int), np.tile([1.0, 0.0, 0.0], (len(frame), 1)), None


def process_systems():
    return [votes_system(), System("fragile", "f01", hang_on_marker)]


def test_real_uvicorn_on_loopback_with_the_shadow_in_a_killable_process(tmp_path, primary):

    import httpx

    state = process_state(tmp_path, primary, timeout=1.0)
    if hasattr(os, "SCHED_IDLE"):  # the loaded worker only gets CPU the server leaves: a waking request preempts it
        assert os.sched_getscheduler(state.shadow._worker.pid) == os.SCHED_IDLE
        assert os.getsid(state.shadow._worker.pid) == state.shadow._worker.pid  # its CPU not counted in our session
    served = LoopbackServer(create_app(state)).__enter__()
    try:
        url = served.url
        first_pid = state.shadow._worker.pid
        normal = httpx.post(f"{url}/predict", json={"id": "n1", "text": "wifi down", "country": "US"}).json()
        deadline = time.time() + 60
        while state.shadow.pending_rows and time.time() < deadline:  # n1 answered before h1 comes: not one batch
            time.sleep(0.02)
        started = time.perf_counter()
        hung = httpx.post(f"{url}/predict", json={"id": "h1", "text": "wifi down HANG", "country": "US"})
        assert hung.status_code == 200 and time.perf_counter() - started < 1.0
        assert hung.json()["label"] == normal["label"] == "connectivity"
        deadline = time.time() + 60
        while (state.shadow.restarts == 0 or state.shadow.state != "ready") and time.time() < deadline:
            time.sleep(0.05)
        assert state.shadow.restarts == 1 and state.shadow._worker.pid != first_pid
        if hasattr(os, "SCHED_IDLE"):
            assert os.sched_getscheduler(state.shadow._worker.pid) == os.SCHED_IDLE
        httpx.post(f"{url}/predict", json={"id": "n2", "text": "my invoice", "country": "FR"})
        while state.shadow.pending_rows and time.time() < deadline:
            time.sleep(0.05)
        assert httpx.get(f"{url}/health").json()["shadow"]["restarts"] == 1
    finally:
        served.__exit__(None, None, None)
        state.close()
    from labelkit.serve.logdata import read_log

    data = read_log(tmp_path / "serve.sqlite")
    assert data.systems["fragile"].status.tolist() == ["ok", "aborted", "ok"]
    assert data.systems["rules"].status.tolist() == ["ok", "aborted", "ok"]
    assert check_log(tmp_path / "serve.sqlite")["ok"]


def test_replay_refuses_a_log_without_inputs(tmp_path, primary):
    from labelkit.errors import DatasetError
    from labelkit.serve.replay import read_requests

    state = make_state(tmp_path, primary, None, log_input="hash")
    client_for(state).post("/predict", json=rows(3))
    state.close()
    con = connect(tmp_path / "serve.sqlite")
    assert all(r[0].startswith("sha256:") for r in con.execute("SELECT input FROM requests"))
    con.close()
    with pytest.raises(DatasetError, match="holds no request inputs"):
        read_requests(tmp_path / "serve.sqlite")


def test_a_request_is_named_by_id_or_else_by_the_builds_id_column(tmp_path, primary):
    import dataclasses

    state = make_state(tmp_path, dataclasses.replace(primary, id_column="ticket_id"), [])
    client = client_for(state)
    answers = client.post("/predict", json={"rows": [
        {"ticket_id": "T-9", "text": "wifi down", "country": "US"},
        {"id": "a1", "ticket_id": "T-10", "text": "wifi down", "country": "US"},
        {"text": "wifi down", "country": "US"}]}).json()["predictions"]
    state.close()
    assert [a["id"] for a in answers[:2]] == ["T-9", "a1"] and answers[2]["id"].startswith("r")
    con = connect(tmp_path / "serve.sqlite")
    assert [r[0] for r in con.execute("SELECT request_id FROM requests ORDER BY seq")][:2] == ["T-9", "a1"]
    con.close()


def test_bodies_that_break_the_json_decoder_get_400_on_a_real_server(tmp_path, primary):
    """100,000 nested "[" (200 KB) made the decoder recurse until RecursionError, answered 500 and counted
    as a failure of the primary model; an integer of 5,000 digits raised ValueError the same way."""
    import httpx

    state = make_state(tmp_path, primary, None)
    with LoopbackServer(create_app(state)) as served:
        nested = httpx.post(f"{served.url}/predict", content=b"[" * 100_000 + b"]" * 100_000, timeout=30)
        huge = httpx.post(f"{served.url}/predict", content=b'{"text": ' + b"7" * 5000 + b"}", timeout=30)
        fine = httpx.post(f"{served.url}/predict", json={"id": "a", "text": "wifi down", "country": "US"})
        counters = httpx.get(f"{served.url}/counters").json()
    state.close()
    assert nested.status_code == 400 and nested.json() == {"error": "request body is not valid JSON: nested too deeply"}
    assert huge.status_code == 400 and huge.json()["error"].startswith("request body is not valid JSON: ")
    assert "\n" not in huge.json()["error"]
    assert fine.status_code == 200
    assert counters["rejected_400"] == 2 and "primary_errors" not in counters


def test_a_request_without_the_time_field_is_refused_not_logged_now(tmp_path, primary):
    """With --time-field (replays, simulations), a row that lacks the field used to be logged at the
    current time: one stray request in a replayed year made ~170 empty weekly windows, each alerting."""
    import httpx

    from labelkit.serve.logdata import read_log

    state = make_state(tmp_path / "reject", primary, None, time_field="ts")
    with LoopbackServer(create_app(state)) as served:
        iso = httpx.post(f"{served.url}/predict", json={"id": "a", "text": "wifi", "country": "US",
                                                         "ts": "2024-06-03T00:00:00+00:00"})
        epoch = httpx.post(f"{served.url}/predict", json={"id": "b", "text": "wifi", "country": "US",
                                                           "ts": 1717372800.5})
        missing = httpx.post(f"{served.url}/predict", json={"rows": [
            {"id": "c", "text": "wifi", "country": "US", "ts": "2024-06-03"},
            {"id": "d", "text": "wifi", "country": "US"}]})
        bad = httpx.post(f"{served.url}/predict", json={"id": "e", "text": "wifi", "country": "US", "ts": "soon"})
        millis = httpx.post(f"{served.url}/predict", json={"id": "m", "text": "wifi", "country": "US",
                                                            "ts": 1717372800000})  # milliseconds: year 56000
    state.close()
    assert iso.status_code == epoch.status_code == 200
    assert missing.status_code == 422 and missing.json()["missing"] == ["ts"] and missing.json()["row"] == 1
    assert "in row 1: ts" in missing.json()["error"] and "--missing-time now" in missing.json()["error"]
    assert bad.status_code == 422 and "'ts' is not a time: 'soon'" in bad.json()["error"]
    assert millis.status_code == 422 and "give epoch seconds" in millis.json()["error"]
    log = read_log(tmp_path / "reject" / "serve.sqlite", with_ids=True)
    assert log.request_id.tolist() == ["a", "b"]  # nothing of the refused batch was logged
    assert log.ts.tolist() == [1717372800.0, 1717372800.5]

    state = make_state(tmp_path / "now", primary, None, time_field="ts", missing_time="now")
    with LoopbackServer(create_app(state)) as served:
        before = time.time()
        arrived = httpx.post(f"{served.url}/predict", json={"id": "f", "text": "wifi", "country": "US"})
    state.close()
    assert arrived.status_code == 200
    assert before - 1 <= read_log(tmp_path / "now" / "serve.sqlite").ts[0] <= time.time()


def test_sigterm_closes_the_service_then_exits_0(tmp_path, primary):
    """uvicorn stops gracefully on SIGTERM, then raises the signal again: the process died by it before
    the service was closed, leaving the shadow worker to find out alone and its queue's semaphores to
    the resource tracker ("There appear to be 3 leaked semaphore objects"). run_server closes the
    service (worker stopped, log flushed) and ends in SystemExit(0). A real signal to this process."""
    import threading

    import httpx

    from labelkit.serve.server import run_server

    state = process_state(tmp_path, primary, timeout=30)
    worker = state.shadow._worker
    port = free_port()
    answers = []

    def client():
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        answers.append(httpx.post(f"{url}/predict", json={"rows": rows(3)}, timeout=30).status_code)
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=client, daemon=True).start()
    with pytest.raises(SystemExit) as stopped:
        run_server(state, port=port)
    assert stopped.value.code == 0 and answers == [200]
    assert signal.getsignal(signal.SIGTERM) == before
    assert state.shadow.state == "stopped" and not worker.is_alive()
    report = check_log(tmp_path / "serve.sqlite")
    assert report["ok"] and report["counters"]["requests_queued"] == 3
    assert report["counters"].get("shadow_ok", 0) + report["counters"].get("shadow_aborted", 0) == 6
