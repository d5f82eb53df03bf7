"""Input drift in `labelkit monitor --embedding-drift MODEL` (labelkit/monitor/embedding_drift.py): quiet on
stable windows, fires on a topic shift. The `lsa` model needs no optional package; a wordllama run skips
without the extra."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import make_frame
from labelkit.serve.log import LogMeta, connect, encode_proba, write_batch

CLASSES = ("billing", "connectivity", "cancellation")
DAY = 86400
T0 = 1_717_200_000 - 1_717_200_000 % DAY
SPORTS = ["the match went to extra time and the striker scored twice", "our team lost the final on penalties again",
          "the referee gave a red card in the first half", "great goal from the winger in the last minute",
          "the coach changed the lineup before the derby", "tickets for the cup game sold out in an hour"]


def write_reference(folder, rng):
    folder.mkdir(parents=True)
    train = make_frame(1500, rng, "t")
    pd.DataFrame({"id": train["id"], "text": train["text"]}).to_csv(folder / "train_labels.csv", index=False)
    test = make_frame(400, rng, "s")
    pd.DataFrame({"row_id": test["id"], "text": test["text"], "gold": test["label"], "pred_end_model": test["label"]}
                 ).to_csv(folder / "test_predictions.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps({"task": {"name": "ref", "classes": list(CLASSES), "rows": {}},
                                                     "systems": {"n": 0, "classes": list(CLASSES), "systems": {}}}))
    (folder / "manifest.json").write_text(json.dumps({"lf_names": [], "config": {"data": {"text_column": "text"}}}))
    return folder


def write_log(path, rng, *, days=7, per_day=300, shift_from=5, shift_share=0.6):
    """Days of requests drawn like the build's rows; from `shift_from` most are about another topic."""
    con = connect(path, meta=LogMeta(CLASSES, (), ()))
    seq = 1
    for day in range(days):
        frame = make_frame(per_day, rng, f"d{day}")
        requests = []
        for text in frame["text"]:
            if day >= shift_from and rng.random() < shift_share:
                text = str(rng.choice(SPORTS)) + " " + str(rng.integers(1, 99))
            proba = np.array([0.8, 0.1, 0.1])
            requests.append((seq, f"r{seq}", T0 + day * DAY + rng.random() * DAY, json.dumps({"text": text}), "",
                             "b0", 0, encode_proba(proba), 1.0, "none"))
            seq += 1
        write_batch(con, requests, [], {})
    con.close()
    return path


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift")
    rng = np.random.default_rng(5)
    return write_reference(folder / "ref", rng), write_log(folder / "log.sqlite", rng)


def _drift_rows(reference, log, model):
    from labelkit.monitor import MonitorSettings, run_monitor

    result = run_monitor(log, reference, settings=MonitorSettings(window="1d"), embedding_drift=model)
    frame = result.frame
    return frame[frame["metric"] == "input_drift"].reset_index(drop=True), result


def test_input_drift_is_quiet_on_stable_windows_and_fires_on_a_topic_shift(logged):
    reference, log = logged
    rows, result = _drift_rows(reference, log, "lsa")
    assert len(rows) == 7 and set(rows["subject"]) == {"lsa"}
    assert not rows["breach"][:5].any(), rows[["window", "value", "upper"]]
    assert rows["breach"][5:].all(), rows[["window", "value", "upper"]]
    assert (rows["value"][5:] > 2 * rows["upper"][5:]).all()  # not a close call
    assert (rows["n"] == 300).all() and rows["reference"].nunique() == 1
    active = result.active_alerts()
    assert "input_drift" in set(active["metric"])


def test_the_band_comes_from_sampling_noise_and_the_test_rows():
    from labelkit.monitor.embedding_drift import DriftSpace

    rng = np.random.default_rng(0)
    train, test = make_frame(800, rng, "a")["text"].tolist(), make_frame(200, rng, "b")["text"].tolist()
    space = DriftSpace(train, test, "lsa")
    assert space.noise(30) > space.noise(300) > 0  # fewer rows, more noise
    assert space.upper(100) == pytest.approx(space.reference + space.noise(100) + space.noise(200))
    # windows drawn from the train rows stay under the band almost always
    draws = [space.distance([train[i] for i in rng.choice(len(train), 100, replace=False)]) for _ in range(50)]
    assert max(draws) <= space.upper(100)


def test_cli_option_and_the_page(logged, tmp_path):
    from labelkit.cli.main import cli

    reference, log = logged
    result = CliRunner().invoke(cli, ["monitor", str(log), "--reference", str(reference), "--window", "1d",
                                      "--embedding-drift", "lsa", "-o", str(tmp_path / "out"), "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "monitor.html").read_text()
    assert "input drift (embedding distance)" in page
    payload = json.loads((tmp_path / "out" / "monitor.json").read_text())
    assert "input_drift" in json.dumps(payload)


def test_hashed_inputs_give_a_note_and_no_rows(tmp_path):
    from labelkit.monitor import MonitorSettings, run_monitor

    rng = np.random.default_rng(2)
    reference = write_reference(tmp_path / "ref", rng)
    con = connect(tmp_path / "log.sqlite", meta=LogMeta(CLASSES, (), ()))
    requests = [(i + 1, f"r{i}", T0 + i, "sha256:" + "0" * 64, "", "b0", 0, encode_proba(np.array([0.8, 0.1, 0.1])),
                 1.0, "none") for i in range(40)]
    write_batch(con, requests, [], {})
    con.close()
    result = run_monitor(tmp_path / "log.sqlite", reference, settings=MonitorSettings(window="1d"), embedding_drift="lsa")
    assert not (result.frame["metric"] == "input_drift").any()
    assert any("no logged text" in note for note in result.notes)


@pytest.mark.skipif(importlib.util.find_spec("wordllama") is None,
                    reason="the optional extra is not installed: pip install 'labelkit[embeddings]'")
def test_wordllama_input_drift(logged):
    reference, log = logged
    rows, _ = _drift_rows(reference, log, "wordllama")
    assert not rows["breach"][:5].any() and rows["breach"][5:].all()
