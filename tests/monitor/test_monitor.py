"""Monitoring a request log: drift bands, alerts with hysteresis/cooldown, rendering, exit code, webhook.

A small reference build folder (the four files the monitor reads) and a request log are generated
with known rates, so every alert the tests expect is planted and every other window must stay quiet.
"""
from __future__ import annotations

import html
import http.server
import json
import re
import threading
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import launch_chromium
from click.testing import CliRunner

from labelkit.cli.main import cli
from labelkit.monitor import MonitorError, MonitorSettings, run_monitor, write_outputs
from labelkit.monitor.alerts import apply_alerts
from labelkit.monitor.drift import js_distance, psi, rate_band
from labelkit.serve.log import LogMeta, connect, encode_proba, shadow_batch, write_batch

CLASSES = ("billing", "connectivity", "cancellation")
LFS = ("kw_a", "kw_b", "kw_c")
COVERAGE = {"kw_a": 0.3, "kw_b": 0.2, "kw_c": 0.1}
SCRIPT = "<script>alert(1)</script>"
HOSTILE_LF = "kw_<script>alert(\"lf\")</script>&'"  # markup, '&' and both quotes
HOSTILE_SLICE = "<script>alert('slice')</script> & \"FR\""
ENTITY = re.compile(r"&(lt|gt|amp|quot|#x27);")
DAY = 86400
T0 = 1_717_200_000 - 1_717_200_000 % DAY  # a midnight UTC


def write_reference(folder: Path, rng, lfs=LFS) -> Path:
    folder.mkdir(parents=True)
    n = 2000
    train = pd.DataFrame({"id": [f"t{i}" for i in range(n)]})
    for name, planted_name, lf_class in zip(lfs, LFS, CLASSES):
        train[f"lf_{name}"] = np.where(rng.random(n) < COVERAGE[planted_name], lf_class, "")
    train.to_csv(folder / "train_labels.csv", index=False)
    m = 600
    gold = rng.choice(CLASSES, m)
    end = np.where(rng.random(m) < 0.8, gold, rng.choice(CLASSES, m))
    shifted = np.asarray(CLASSES)[(pd.Series(end).map({c: i for i, c in enumerate(CLASSES)}).to_numpy() + 1) % 3]
    rules = np.where(rng.random(m) < 0.9, end, shifted)  # the log's rules also disagree on 10% of rows
    pd.DataFrame({"row_id": range(m), "text": "x", "gold": gold, "pred_label_model": rules, "pred_end_model": end,
                  "country": rng.choice(["US", "FR"], m)}).to_csv(folder / "test_predictions.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps({"task": {"name": "ref", "classes": list(CLASSES), "rows": {}},
                                                     "systems": {"n": m, "classes": list(CLASSES), "systems": {}}}))
    (folder / "manifest.json").write_text(json.dumps({"lf_names": list(lfs), "config": {
        "data": {"slice_columns": ["country"]}, "evaluate": {"slice_columns": []}}}))
    return folder


def write_log(path: Path, rng, *, days=6, per_day=800, drift_from=4, skip_day=None, country=None, lfs=LFS,
              drifting="FR") -> Path:
    """Stable days, then from `drift_from` kw_a (the first LF) fires half as often and the challenger flips
    the rows of the `drifting` country (FR)."""
    con = connect(path, meta=LogMeta(CLASSES, lfs, ("country",)))
    seq = 1
    for day in range(days):
        if day == skip_day:
            continue
        drifted = day >= drift_from
        requests, rules, chall, votes, seqs = [], [], [], [], []
        for _ in range(per_day):
            label = int(rng.integers(0, 3))
            proba = np.full(3, 0.1)
            proba[label] = 0.8
            where = country or (drifting if rng.random() < 0.4 else "US")
            votes.append([0 if rng.random() < COVERAGE["kw_a"] * (0.5 if drifted else 1) else -1,
                          1 if rng.random() < COVERAGE["kw_b"] else -1, 2 if rng.random() < COVERAGE["kw_c"] else -1])
            rules.append(label if rng.random() < 0.9 else (label + 1) % 3)
            flip = rng.random() < (0.4 if drifted and where == drifting else 0.02)
            chall.append((label + 1) % 3 if flip else label)
            ts = T0 + day * DAY + rng.random() * DAY
            requests.append((seq, f"r{seq}", ts, json.dumps({"text": f"ticket {seq} {SCRIPT}"}), where, "b0", label,
                             encode_proba(proba), 1.0, "queued"))
            seqs.append(seq)
            seq += 1
        proba = np.full((len(seqs), 3), 1 / 3)
        write_batch(con, requests, [shadow_batch("rules", "b0", "ok", seqs, preds=rules, proba=proba, votes=votes),
                                    shadow_batch("cand", "b1", "ok", seqs, preds=chall, proba=proba)], {})
    con.close()
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("monitor")
    rng = np.random.default_rng(3)
    return write_reference(folder / "ref", rng), write_log(folder / "log.sqlite", rng)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A monitored log whose first LF and drifting slice value hold markup: both alert, so they are in the
    tables, the charts' captions and the charts' aria-label attributes."""
    folder = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(3)
    lfs = (HOSTILE_LF, *LFS[1:])
    reference = write_reference(folder / "ref", rng, lfs=lfs)
    return run_monitor(write_log(folder / "log.sqlite", rng, lfs=lfs, drifting=HOSTILE_SLICE), reference)


def test_planted_drift_alerts_in_the_first_drifted_window_and_stable_windows_stay_quiet(planted):
    reference, log = planted
    result = run_monitor(log, reference, settings=MonitorSettings(window="1d"))
    frame = result.frame
    windows = sorted(frame["window"].unique())
    assert len(windows) == 6
    stable = frame[frame["window"].isin(windows[:4])]
    assert not stable["alert"].any(), stable[stable["alert"]]
    raised = frame[frame["event"] == "raised"]
    coverage = raised[(raised["metric"] == "lf_coverage") & (raised["subject"] == "kw_a")]
    assert coverage["window"].tolist() == [windows[4]]
    assert frame[(frame["metric"] == "lf_coverage") & (frame["subject"] != "kw_a")]["alert"].sum() == 0
    slice_alerts = raised[raised["metric"] == "challenger:cand"]
    assert set(slice_alerts["subject"]) == {"country=FR", "overall"} and set(slice_alerts["window"]) == {windows[4]}
    latest = result.active_alerts()
    assert {"kw_a", "country=FR"} <= set(latest["subject"]) and result.exit_code() == 1
    # one row per window x metric x subject, with its band
    assert not frame.duplicated(["window", "metric", "subject"]).any()
    row = frame[(frame["metric"] == "lf_coverage") & (frame["subject"] == "kw_a")].iloc[0]
    assert row["reference"] == pytest.approx(0.3, abs=0.03) and row["lower"] < row["value"] < row["upper"]


def test_alerts_have_hysteresis_and_cooldown():
    values = [0.30, 0.10, 0.22, 0.28, 0.10, 0.30, 0.30, 0.10]
    frame = pd.DataFrame({"window": [str(i) for i in range(8)], "start": range(8), "metric": "m", "subject": "s",
                          "n": 100, "value": values, "reference": 0.3, "lower": 0.2, "upper": 0.4})
    frame["breach"] = frame["value"] < frame["lower"]
    out = apply_alerts(frame, clear_fraction=0.5, cooldown=1)
    # 0.22 is back inside the band but not within half of it: the alert holds (hysteresis)
    assert out["alert"].tolist() == [False, True, True, False, False, False, False, True]
    assert out["event"].tolist() == ["", "raised", "", "cleared", "suppressed", "", "", "raised"]


def test_drift_scores_and_bands():
    assert js_distance([10, 0], [0, 10]) == pytest.approx(1.0)
    assert js_distance([5, 5], [50, 50]) == 0.0
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0 and psi([0.9, 0.1], [0.5, 0.5]) > 0.3
    lower, upper = rate_band(0.3, 100, z=3.5, relative=0.4, absolute=0.02)  # noise on the arcsine scale
    assert lower == pytest.approx((100.75 * np.sin(np.arcsin(np.sqrt(0.3)) - 3.5 / 20) ** 2 - 0.375) / 100)
    assert upper > 0.42
    assert rate_band(0.087, 54, z=3.5, relative=0.4, absolute=0.02, n_ref=150)[0] == 0  # 0 of 54: no surprise
    # a small rate strays upwards more than +-z standard errors say: 5% of 68 rows, against 217 test rows
    assert rate_band(0.05, 68, z=3.5, relative=0.4, absolute=0.02, n_ref=217)[1] > 0.2 > 0.05 + 3.5 * np.sqrt(
        0.05 * 0.95 * (1 / 68 + 1 / 217))
    lower, upper = rate_band(0.3, 100_000, z=3.5, relative=0.4, absolute=0.02)
    assert (lower, upper) == pytest.approx((0.18, 0.42))  # with lots of rows, only large changes alert


def test_empty_log_and_empty_windows_say_so(tmp_path):
    rng = np.random.default_rng(0)
    reference = write_reference(tmp_path / "ref", rng)
    empty = tmp_path / "empty.sqlite"
    connect(empty, meta=LogMeta(CLASSES, LFS, ("country",))).close()
    with pytest.raises(MonitorError, match="has no requests: nothing to monitor"):
        run_monitor(empty, reference)
    gap = write_log(tmp_path / "gap.sqlite", rng, days=4, per_day=200, drift_from=99, skip_day=2)
    with pytest.raises(MonitorError, match="no requests between"):
        run_monitor(gap, reference, since=T0 + 2 * DAY, until=T0 + 3 * DAY)
    result = run_monitor(gap, reference)
    assert result.empty_windows() == [pd.Timestamp(T0 + 2 * DAY, unit="s").strftime("%Y-%m-%d %H:%M")]
    empty_row = result.frame[(result.frame["metric"] == "requests") & (result.frame["n"] == 0)].iloc[0]
    assert empty_row["note"] == "no requests in this window" and empty_row["alert"]
    out = CliRunner().invoke(cli, ["monitor", str(empty), "--reference", str(reference)])
    assert out.exit_code == 1 and "nothing to monitor" in out.output
    with pytest.raises(MonitorError, match=r"spans [0-9,]+ windows of 30s .* choose a longer --window"):
        run_monitor(gap, reference, settings=MonitorSettings(window="30s"))  # 4 days of half minutes: too long



def test_labels_joined_by_request_id_give_real_accuracy(planted, tmp_path):
    reference, log = planted
    ids = [f"r{i}" for i in range(1, 4801, 3)]
    con = connect(log)
    preds = dict(con.execute("SELECT request_id, pred FROM requests"))
    con.close()
    pd.DataFrame({"id": ids, "label": [CLASSES[preds[i]] for i in ids]}).to_csv(tmp_path / "labels.csv", index=False)
    result = run_monitor(log, reference, labels=tmp_path / "labels.csv")
    accuracy = result.frame[result.frame["metric"] == "accuracy"]
    assert len(accuracy) == 6 and (accuracy["value"] == 1.0).all() and (accuracy["n"] > 200).all()
    pd.DataFrame({"id": ["r1"], "label": ["refunds"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(MonitorError, match=r"row 2: label 'refunds' is not a class"):
        run_monitor(log, reference, labels=tmp_path / "bad.csv")


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's API)
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_cli_writes_outputs_exits_1_and_posts_the_webhook(planted, tmp_path):
    reference, log = planted
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        out = CliRunner().invoke(cli, ["monitor", str(log), "--reference", str(reference), "-o", str(tmp_path / "m"),
                                       "--webhook", url])
    finally:
        server.shutdown()
    assert out.exit_code == 1, out.output
    assert "ALERT" in out.output and "lf_coverage [kw_a]" in out.output
    payload = _Receiver.received[-1]
    assert {a["subject"] for a in payload["active_alerts"]} >= {"kw_a", "country=FR"}
    data = json.loads((tmp_path / "m" / "monitor.json").read_text())
    assert data["rows"] == 4800 and len(data["windows"]) == 6 and data["examples"]
    quiet = CliRunner().invoke(cli, ["monitor", str(log), "--reference", str(reference), "-o", str(tmp_path / "q"),
                                     "--until", pd.Timestamp(T0 + 4 * DAY, unit="s").isoformat()])
    assert quiet.exit_code == 0 and "no alert active" in quiet.output
    bad = CliRunner().invoke(cli, ["monitor", str(log), "--reference", str(reference), "--threshold", "zz=1"])
    assert bad.exit_code == 2


def test_monitor_html_is_self_contained_escaped_and_renders_in_chromium(planted, tmp_path):
    reference, log = planted
    result = run_monitor(log, reference)
    paths = write_outputs(result, tmp_path / "out")
    page = paths["html"].read_text()
    assert "<script" not in page.lower() and "&lt;script&gt;" in page
    assert not re.search(r"(src|href)=[\"'](https?:)?//", page)
    assert page.count("<svg") >= 8 and len(page) < 1_000_000
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            tab = browser.new_page()
            errors = []
            tab.on("pageerror", lambda e: errors.append(e))
            tab.goto(paths["html"].as_uri())
            assert tab.locator("h1").inner_text() == "labelkit monitor"
            assert tab.locator("svg").count() >= 8
            assert "alerts active in the latest window" in tab.locator("body").inner_text()
            assert tab.locator("svg polyline").first.bounding_box()["width"] > 50
            assert not errors
        finally:
            browser.close()


def test_monitor_html_reads_as_text_for_people_at_desktop_and_phone_width(tmp_path):
    """Numbers as percentages (never 7e-05), no True/False, plurals that agree, a missing slice value
    named, and a page that fits a phone: tables scroll in their own box."""
    import sqlite3

    rng = np.random.default_rng(4)
    reference = write_reference(tmp_path / "ref", rng)
    log = write_log(tmp_path / "one.sqlite", rng, days=1, per_day=300, drift_from=99)
    con = sqlite3.connect(log)
    con.execute("UPDATE slice_values SET value = '' WHERE value = 'FR'")  # requests that had no country
    con.commit()
    con.close()
    result = run_monitor(log, reference, settings=MonitorSettings(window="1d"))
    paths = write_outputs(result, tmp_path / "out")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for width in (1400, 390):
                tab = browser.new_page(viewport={"width": width, "height": 900})
                tab.goto(paths["html"].as_uri())
                text = tab.locator("body").inner_text()
                assert "300 requests in 1 window of 1d" in text and "1 windows" not in text
                assert "country=(missing)" in text and "country=\t" not in text and "country=\n" not in text
                assert not re.search(r"\bTrue\b|\bFalse\b|\d[eE]-\d", text)
                assert re.search(r"\d+\.\d%", text)  # rates as percentages
                assert tab.evaluate("document.documentElement.scrollWidth") <= width  # no sideways page
        finally:
            browser.close()


class _ReadPage(HTMLParser):
    """What a browser reads in a page: its elements, its text and its attribute values (entities decoded)."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.attributes: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += [value or "" for _, value in attrs]

    def handle_data(self, data):
        self.text.append(data)


def assert_escaped(page: str, *texts: str) -> None:
    """Each text reads back as it was written, in the page's text and in an attribute; none became markup."""
    read = _ReadPage(page)
    assert "<script" not in page.lower() and "script" not in read.tags
    for text in texts:
        assert html.escape(text) in page
        assert any(text in chunk for chunk in read.text)
        assert any(text in value for value in read.attributes)  # a chart's aria-label


def test_lf_names_and_slice_values_are_escaped_in_monitor_html(hostile, tmp_path):
    page = write_outputs(hostile, tmp_path)["html"].read_text()
    assert_escaped(page, HOSTILE_LF, f"country={HOSTILE_SLICE}")
    assert f"LF coverage · {HOSTILE_LF}" in _ReadPage(page).text  # a chart's caption


def test_monitor_html_is_escaped_by_the_report_renderer_alone(hostile, monkeypatch):
    """One escaping path: with the report's HTML renderer escaping nothing, monitor.html holds no entity at
    all (the monitor escapes nothing itself) and the check above fails. tests/report does the same for
    report.html."""
    import labelkit.report.html as renderer
    from labelkit.monitor.render import to_html

    monkeypatch.setattr(renderer, "escape", str)
    page = to_html(hostile)
    assert HOSTILE_LF in page and f"country={HOSTILE_SLICE}" in page and not ENTITY.search(page)
    with pytest.raises(AssertionError):
        assert_escaped(page, HOSTILE_LF, f"country={HOSTILE_SLICE}")


def test_a_challenger_without_its_build_folder_is_held_to_the_fixed_limit_and_said_so(planted, tmp_path):
    reference, log = planted
    result = run_monitor(log, reference, settings=MonitorSettings(window="1d"))
    assert any("challenger cand: the log does not say where build b1 is" in note for note in result.notes)
    assert any("held to the fixed challenger_max 0.15" in note for note in result.notes)
    wrong = CliRunner().invoke(cli, ["monitor", str(log), "--reference", str(reference), "--challenger", str(reference),
                                     "-o", str(tmp_path / "m")])
    assert wrong.exit_code == 1 and "--challenger" in wrong.output and "challengers in the log: cand (build b1)" in \
        wrong.output and "Traceback" not in wrong.output


def test_a_logged_input_gives_its_text_only_when_logged_in_full():
    from labelkit.serve.logdata import logged_text

    assert logged_text('{"text": "hi", "id": 3}', "text") == "hi"
    assert logged_text('{"id": 3}', "text") is None
    assert logged_text("sha256:abc", "text") is None and logged_text(None, "text") is None
    assert logged_text("not json", "text") is None
