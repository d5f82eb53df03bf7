"""End to end: the real server on a loopback port, simulated weeks of traffic, drift, `labelkit monitor`.

The bundled example is built twice (the primary, and a challenger whose LF module adds a careless
rule that sends German tickets to `other`). Weeks 1-4: the primary serves the test rows with its rules
in shadow, then is killed with -9 (the log must stay readable with consistent counters). Weeks 5-6: the
server restarts on the same log with the challenger in shadow, while French traffic rises and the word
"cancel" vanishes from the tickets. `labelkit monitor --window 7d` must raise no alert in weeks 1-4,
flag the `kw_cancel` coverage drop in week 5 and the challenger's disagreement on German traffic.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
LABELKIT = str(Path(sys.executable).with_name("labelkit"))
WEEK = 7 * 86400
T0 = 2800 * WEEK  # a window boundary (windows are aligned on the epoch), in 2023
PER_WEEK = 600
CHALLENGER_RULE = '''

# the challenger's change: a careless rule that sends German tickets to "other"
de_other = keywords("other", ["ich", "bitte", "meine", "mein", "nicht", "ist"], name="de_other")
'''

pytestmark = pytest.mark.slow


def build(config: Path, out: Path) -> Path:
    done = subprocess.run([LABELKIT, "build", str(config), "--no-audit", "--set", "end_model.compare_hard=false",
                           "--out", str(out), "-q"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    reuse = os.environ.get("LABELKIT_E2E_BUILDS")  # "PRIMARY_DIR:CHALLENGER_DIR" made as below, to skip two builds
    if reuse:
        primary, challenger = map(Path, reuse.split(":"))
        return folder, primary, challenger
    primary = build(ROOT / "labelkit.toml", folder / "primary")
    (folder / "chall").mkdir()
    lfs = folder / "chall" / "lfs.py"
    lfs.write_text((ROOT / "labeling_functions" / "support_tickets.py").read_text() + CHALLENGER_RULE)
    config = (ROOT / "labelkit.toml").read_text()
    config = config.replace('"labeling_functions/support_tickets.py"', json.dumps(str(lfs)))
    config = re.sub(r'"datasets/', f'"{ROOT}/datasets/', config)
    (folder / "chall" / "labelkit.toml").write_text(config)
    challenger = build(folder / "chall" / "labelkit.toml", folder / "candidate")
    return folder, primary, challenger


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def servers():
    """Servers started by a test; whatever happens, none outlives it."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def serve(servers: list, *args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([LABELKIT, "serve", *args, "--port", str(port), "--time-field", "timestamp",
                             "--shadow-timeout", "120"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    servers.append(proc)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            health = httpx.get(f"{url}/health", timeout=2).json()
            if health["shadow"]["state"] == "ready":
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("server did not become ready")


def _children(pid: int) -> list[int]:
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid) and "spawn_main" in _cmdline(int(status.parent.name)):
            out.append(int(status.parent.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0]
    except (OSError, IndexError):
        return False
    return "zombie" not in state


def week_rows(test: pd.DataFrame, week: int, rng, *, drift: bool, gold: list) -> list[dict]:
    fr = test["country"] == "FR"
    if drift:  # French traffic rises to 40%
        picks = np.where(rng.random(PER_WEEK) < 0.4, rng.choice(np.flatnonzero(fr), PER_WEEK),
                         rng.choice(np.flatnonzero(~fr), PER_WEEK))
    else:
        picks = rng.integers(0, len(test), PER_WEEK)
    rows = []
    for i, index in enumerate(picks):
        row = test.iloc[int(index)]
        text = row["text"]
        if drift:  # the keyword "cancel" vanishes from the tickets
            text = re.sub(r"\bcancel\b", "stop", text, flags=re.IGNORECASE)
        gold.append((f"w{week}-{i}", row["label"]))
        rows.append({"id": f"w{week}-{i}", "text": text, "country": row["country"], "channel": row["channel"],
                     "product": row["product"], "timestamp": T0 + week * WEEK + float(rng.random()) * WEEK})
    return rows


def send(url: str, rows: list[dict], expect_ok: bool = True) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, len(rows), 50):
            response = client.post("/predict", json={"rows": rows[start:start + 50]})
            assert response.status_code == 200, response.text


def wait_drained(url: str, n: int) -> dict:
    deadline = time.time() + 300
    while time.time() < deadline:
        counters = httpx.get(f"{url}/counters", timeout=5).json()
        if counters["log_pending"] == 0 and counters["shadow_pending_rows"] == 0 and \
                counters["log_written_requests"] >= n:
            return counters
        time.sleep(0.3)
    raise AssertionError(f"shadow/log did not drain: {counters}")


def test_served_weeks_with_drift_are_flagged_by_monitor(builds, servers, tmp_path):
    from labelkit.serve.log import check_log

    folder, primary, challenger = builds
    log = tmp_path / "serve.sqlite"
    test = pd.read_csv(ROOT / "datasets" / "support_tickets" / "test.csv", keep_default_na=False, dtype=str)
    rng = np.random.default_rng(11)

    proc, url = serve(servers, str(primary), "--log", str(log))
    bad = httpx.post(f"{url}/predict", content=b"{nope", timeout=10)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    missing = httpx.post(f"{url}/predict", json={"id": "x", "country": "FR"}, timeout=10)
    assert missing.status_code == 422 and missing.json()["missing"] == ["text"]
    gold = []
    for week in range(4):
        send(url, week_rows(test, week, rng, drift=False, gold=gold))
    counters = wait_drained(url, 4 * PER_WEEK)
    assert counters["requests_queued"] == 4 * PER_WEEK and counters["shadow_ok"] == 4 * PER_WEEK
    worker = _children(proc.pid)
    assert len(worker) == 1
    os.kill(proc.pid, signal.SIGKILL)  # no goodbye: the log must still be whole
    proc.wait(30)
    report = check_log(log)
    assert report["integrity"] == "ok" and report["ok"], report
    assert report["counters"]["requests_queued"] == 4 * PER_WEEK and report["counters"]["shadow_ok"] == 4 * PER_WEEK

    deadline = time.time() + 30  # the orphaned shadow worker notices and exits
    while _alive(worker[0]) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(worker[0])

    proc, url = serve(servers, str(primary), "--shadow", str(challenger), "--log", str(log))
    name = challenger.name  # a challenger is named by its folder
    assert httpx.get(f"{url}/health").json()["shadow"]["systems"] == ["rules", name]
    for week in range(4, 6):
        send(url, week_rows(test, week, rng, drift=True, gold=gold))
    wait_drained(url, 2 * PER_WEEK)
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    assert check_log(log)["ok"]

    out = tmp_path / "monitor"
    labels = tmp_path / "labels.csv"  # gold labels "arriving later" for every request
    pd.DataFrame(gold, columns=["id", "label"]).to_csv(labels, index=False)
    done = subprocess.run([LABELKIT, "monitor", str(log), "--reference", str(primary), "--window", "7d", "-o", str(out),
                           "--labels", str(labels)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr  # alerts are active in the latest window
    data = json.loads((out / "monitor.json").read_text())
    frame = pd.DataFrame(data["metrics"])
    windows = sorted(frame["window"].unique())
    assert len(windows) == 6
    stable = frame[frame["window"].isin(windows[:4])]
    assert not stable["alert"].any(), stable[stable["alert"]][["window", "metric", "subject", "value", "upper"]]
    raised = frame[frame["event"] == "raised"]
    coverage = raised[(raised["metric"] == "lf_coverage") & (raised["subject"] == "kw_cancel")]
    assert coverage["window"].tolist() == [windows[4]], raised[["window", "metric", "subject"]]
    cancel = frame[(frame["metric"] == "lf_coverage") & (frame["subject"] == "kw_cancel")].set_index("window")
    assert cancel.loc[windows[4], "value"] <= 0.5 * cancel.loc[windows[4], "reference"]
    german = raised[(raised["metric"] == f"challenger:{name}") & (raised["subject"] == "country=DE")]
    assert len(german) == 1 and german["window"].iloc[0] in windows[4:]
    fr_rules = raised[(raised["metric"] == "lf_coverage") & raised["subject"].str.startswith("fr_")]
    assert len(fr_rules) and set(fr_rules["window"]) <= set(windows[4:])
    estimate = frame[frame["metric"] == "estimated_accuracy"].set_index("window")
    real = frame[frame["metric"] == "accuracy"].set_index("window")
    assert len(estimate) == len(real) == 6 and (real["n"] == PER_WEEK).all()
    for window in windows:  # the label-free estimate tracks the accuracy measured with the late labels
        assert abs(estimate.loc[window, "value"] - real.loc[window, "value"]) < 0.06
        assert estimate.loc[window, "ci_low"] < estimate.loc[window, "value"] < estimate.loc[window, "ci_high"]

    replayed = subprocess.run([LABELKIT, "shadow", "replay", str(log), "--primary", str(primary), "--challenger",
                               str(challenger), "--log", str(tmp_path / "replay.sqlite"), "--json"],
                              capture_output=True, text=True, timeout=600)
    assert replayed.returncode == 0, replayed.stderr
    summary = json.loads(replayed.stdout)
    assert summary["rows"] == 6 * PER_WEEK and summary["systems"]["rules"]["errors"] == 0
    worst = summary["systems"][name]["slices"][0]
    assert worst["slice"] == "country=DE" and worst["agreement"] < 0.85

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            tab = browser.new_page()
            tab.goto((out / "monitor.html").as_uri())
            body = tab.locator("body").inner_text()
            assert "kw_cancel" in body and "country=DE" in body and "alert(s) active" in body
            assert tab.locator("svg").count() >= 8
        finally:
            browser.close()
