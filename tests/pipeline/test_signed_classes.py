"""A task whose class names a spreadsheet would run as formulas ("+ve", "-ve") through build -> replay ->
monitor -> repair. The build writes its review CSVs formula-safe ("'+ve"); the monitor and repair read
them back through labelkit.io.files.read_review_csv. They used plain pandas.read_csv: the monitor counted every
LF vote as an abstain (coverage reference 0) and scored the end model wrong on every gold row (label-free
accuracy estimate ~0, an alert in every window), and repair said the build was "not reproduced"."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import FAST_BUILD, write_data

from labelkit.cli.main import cli

LFS = '''
from labelkit import keywords

kw_pos = keywords("+ve", ["invoice", "refund", "bill", "charged", "payment"], name="kw_pos")
kw_neg = keywords("-ve", ["internet", "wifi", "signal", "router", "cancel", "terminate", "slow"], name="kw_neg")
'''


@pytest.fixture(scope="module")
def signed_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("signed")
    task = root / "task"

    def signed(frame):
        return frame.assign(label=np.where(frame["label"] == "billing", "+ve", "-ve"))

    write_data(task, n_train=400, n_dev=150, n_test=400, seed=5, relabel=signed)
    (task / "lfs.py").write_text(LFS)
    (task / "labelkit.toml").write_text(textwrap.dedent('''
        [task]
        name = "signed"
        classes = ["+ve", "-ve"]
        labeling_functions = ["lfs.py"]
        seed = 7

        [data]
        train = "train.csv"
        dev = "dev.csv"
        test = "test.csv"
        id_column = "id"
        text_column = "text"
        label_column = "label"
        time_column = "created_at"
        slice_columns = ["country"]
    '''))
    built = CliRunner().invoke(cli, ["build", str(task / "labelkit.toml"), "--out", str(root / "run"), "-q",
                                     "--no-audit", *FAST_BUILD, "--set", 'end_model.features=["tfidf"]'])
    assert built.exit_code == 0, built.output
    assert "'+ve" in (root / "run" / "test_predictions.csv").read_text()  # written formula-safe
    return root, task, root / "run"


def test_monitor_reads_signed_class_votes_and_gold(signed_build):
    from labelkit.monitor import MonitorSettings, run_monitor
    from labelkit.monitor.reference import load_reference
    from labelkit.serve.replay import read_requests, replay

    root, task, run = signed_build
    metrics = json.loads((run / "metrics.json").read_text())
    reference = load_reference(run)
    coverage = {lf["name"]: lf["coverage"] for lf in metrics["lf_summary"]}  # on train
    for name, value in reference.lf_coverage.items():
        assert value == pytest.approx(coverage[name], abs=1e-3) and value > 0.1, (name, value)
    assert reference.test_accuracy == pytest.approx(metrics["systems"]["systems"]["end_model"]["accuracy"], abs=1e-6)

    requests = read_requests(task / "test.csv", id_column="id", time_column="created_at")
    log = root / "replay.sqlite"
    replay(requests, run, out=log, force=True)
    result = run_monitor(log, run, settings=MonitorSettings(window="30d"))
    estimate = result.frame[result.frame["metric"] == "estimated_accuracy"]
    assert len(estimate) >= 4 and (estimate["n"] >= 30).all()
    assert (abs(estimate["value"] - reference.test_accuracy) < 0.1).all(), estimate[["window", "value"]]
    assert not result.frame["alert"].any(), result.frame[result.frame["alert"]][["window", "metric", "subject"]]


@pytest.mark.slow  # a repair re-runs the build (~10 s)
def test_repair_reproduces_a_signed_class_build(signed_build):
    root, _, run = signed_build
    repaired = CliRunner().invoke(cli, ["repair", str(run), "--slice", "country=FR", "--weights", "4",
                                        "--strategies", "slice", "--out", str(root / "fixed"), "-q", "--json"])
    assert repaired.exit_code == 0, repaired.output
    assert json.loads(repaired.output)["reproduced"] is True
