"""`labelkit build` end to end on a small task the tests make: artifacts, numbers, determinism, manifest."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from labelkit.cli.main import cli

ARTIFACTS = ["metrics.json", "manifest.json", "report.md", "report.html", "train_labels.csv", "test_predictions.csv",
             "lf_summary.json", "lf_summary.csv", "model.skops", "quarantine.csv", "audit_findings.csv",
             "cleaned/train.csv", "cleaned/dev.csv", "cleaned/test.csv",
             "wrench/train.json", "wrench/valid.json", "wrench/test.json", "wrench/label.json"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from conftest import write_task

    root = tmp_path_factory.mktemp("built")
    config = write_task(root / "task")
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(root / "run1"), "-q"])
    assert result.exit_code == 0, result.output
    return config, root / "run1", result.output


def test_all_artifacts_are_written(built):
    _, out, _ = built
    for name in ARTIFACTS:
        assert (out / name).is_file(), name


def test_report_compares_rules_and_model_on_all_test_rows(built):
    config, out, stdout = built
    metrics = json.loads((out / "metrics.json").read_text())
    systems = metrics["systems"]["systems"]
    assert set(systems) == {"majority_class", "stratified_random", "rule_baseline", "label_model", "end_model",
                            "end_model_hard_labels"}
    n_test = metrics["task"]["rows"]["test"]
    assert all(entry["n"] == n_test for entry in systems.values())  # rules scored on ALL test rows
    # the keyword rules are good on this data; a majority-class guess is not
    assert systems["rule_baseline"]["accuracy"] > systems["majority_class"]["accuracy"] + 0.2
    assert systems["end_model"]["accuracy"] > 0.8
    lo, hi = systems["end_model"]["accuracy_ci"]
    assert lo <= systems["end_model"]["accuracy"] <= hi
    assert "ties go to the tied class" in metrics["policy"]
    report = (out / "report.md").read_text().replace("\\_", "_")
    assert "rule_baseline" in report and "end_model" in report
    assert "rule_baseline" in stdout and "end_model" in stdout


def test_train_labels_hold_votes_probabilities_and_labels(built):
    _, out, _ = built
    table = pd.read_csv(out / "train_labels.csv", keep_default_na=False)
    probs = table[[c for c in table.columns if c.startswith("prob_")]]
    assert ((probs.sum(axis=1) - 1).abs() < 1e-4).all()
    assert {"lf_kw_billing", "lf_re_cancel", "weak_label", "covered"} <= set(table.columns)
    assert set(table["weak_label"]) <= {"billing", "connectivity", "cancellation"}


def test_manifest_records_what_the_build_was_made_from(built):
    config, out, _ = built
    manifest = json.loads((out / "manifest.json").read_text())
    for split in ("train", "dev", "test"):
        path = config.parent / f"{split}.csv"
        assert manifest["inputs"][split]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["lf_source_sha256"] and manifest["seed"] == 7
    assert manifest["versions"]["snorkel"] and manifest["versions"]["scikit-learn"]
    assert manifest["config"]["task"]["classes"] == ["billing", "connectivity", "cancellation"]
    assert set(manifest["timings_seconds"]) >= {"load data", "apply LFs", "label model", "end model", "evaluate"}


def test_rows_in_equal_rows_kept_plus_quarantined(built):
    _, out, _ = built
    metrics = json.loads((out / "metrics.json").read_text())
    for split, counts in metrics["audit"]["accounting"].items():
        assert counts["rows_in"] == counts["kept"] + counts["quarantined"], split
        assert len(pd.read_csv(out / "cleaned" / f"{split}.csv")) == counts["kept"]


def test_same_seed_same_artifacts(built, tmp_path):
    """A second build in a fresh interpreter with another hash seed writes the same bytes."""
    import os
    import subprocess
    import sys

    config, first, _ = built
    second = tmp_path / "run2"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-m", "labelkit.cli.main", "build", str(config), "--out", str(second), "-q"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for name in ARTIFACTS:
        if name == "manifest.json":
            continue  # compared below, without timings
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    strip = lambda m: {k: v for k, v in m.items() if k != "timings_seconds"}  # noqa: E731
    assert strip(json.loads((first / "manifest.json").read_text())) == strip(json.loads((second / "manifest.json").read_text()))


def test_lfs_command_json(task):
    result = CliRunner().invoke(cli, ["lfs", str(task), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    by_name = {lf["name"]: lf for lf in report["lf_summary"]}
    assert by_name["kw_billing"]["polarity"] == ["billing"]
    assert 0.2 < by_name["kw_billing"]["coverage"] < 0.6
    assert by_name["kw_billing"]["dev_accuracy"] == pytest.approx(1.0)
    assert report["examples"]["kw_billing"]["fires"]


def test_help_is_clear():
    runner = CliRunner()
    for args in (["--help"], ["build", "--help"], ["lfs", "--help"], ["audit", "--help"], ["compare", "--help"],
                 ["label", "--help"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0 and "Example" in result.output, args


def test_wrench_export_round_trips(built):
    from labelkit.wrench import read_wrench

    _, out, _ = built
    wrench = read_wrench(out / "wrench")
    train = pd.read_csv(out / "train_labels.csv", keep_default_na=False)
    assert wrench.classes == ("billing", "connectivity", "cancellation")
    assert wrench.label_matrices["train"].shape == (len(train), 5)
    first = [train[c].iloc[0] for c in train.columns if c.startswith("lf_")]
    assert [wrench.classes[v] if v >= 0 else "" for v in wrench.label_matrices["train"][0]] == first


def test_build_from_a_wrench_folder(built, tmp_path):
    from conftest import FAST_BUILD

    _, out, _ = built
    result = CliRunner().invoke(cli, ["build", "--wrench", str(out / "wrench"), "--out", str(tmp_path / "w"), "-q",
                                      *FAST_BUILD, "--set", "task.seed=3"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert metrics["task"]["classes"] == ["billing", "connectivity", "cancellation"]
    assert metrics["systems"]["systems"]["rule_baseline"]["accuracy"] > 0.8


def test_slicing_functions_and_detectors_from_lf_modules(tmp_path):
    from conftest import FAST_BUILD, LF_MODULE, write_task

    module = LF_MODULE + """
from labelkit import slicing_function, test_row_detector

@slicing_function()
def mentions_thanks(row):
    return "thanks" in row.text

@test_row_detector("staff_account")
def staff(frame):
    return frame["customer"].str.startswith("CSTAFF")
"""
    config = write_task(tmp_path / "t", lf_module=module)
    test = pd.read_csv(tmp_path / "t" / "train.csv")
    test.loc[:2, "customer"] = "CSTAFF-1"
    test.to_csv(tmp_path / "t" / "train.csv", index=False)
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(tmp_path / "o"), "-q", *FAST_BUILD,
                                      "--set", 'audit.checks=["test_rows"]', "--set", "audit.weak_label_issues=false"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    sliced = [s for s in metrics["slices"] if s["column"] == "mentions_thanks"]
    assert sliced and sliced[0]["kind"] == "function"
    quarantine = pd.read_csv(tmp_path / "o" / "quarantine.csv")
    staff_rows = quarantine[quarantine["reasons"].str.contains("test_row")]
    assert set(staff_rows["row_id"]) == {"tr00000", "tr00001", "tr00002"}
    assert staff_rows["evidence"].str.contains("staff_account").all()


def test_tabular_feature_columns_reach_the_end_model(task, tmp_path):
    from conftest import FAST_BUILD

    from labelkit.endmodel import load_end_model

    for split in ("train", "dev", "test"):
        path = task.parent / f"{split}.csv"
        frame = pd.read_csv(path)
        frame["length"] = frame["text"].str.len()
        frame.to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["build", str(task), "--out", str(tmp_path / "o"), "-q", "--no-audit", *FAST_BUILD,
                                      "--set", 'data.feature_columns=["country", "length"]'])
    assert result.exit_code == 0, result.output
    model = load_end_model(tmp_path / "o" / "model.skops")
    columns = {name: cols for name, _, cols in model.pipeline.named_steps["features"].transformers_}
    assert columns["numeric"] == ["length"] and columns["categorical"] == ["country"]


def test_compare_two_builds_and_refuse_different_test_data(built, tmp_path):
    from conftest import FAST_BUILD, LF_MODULE, write_task

    _, first, _ = built
    second = tmp_path / "fewer_lfs"  # the same data without the cancellation LF: predictions must flip
    without_cancel = "\n".join(line for line in LF_MODULE.splitlines() if "re_cancel" not in line)
    fewer = write_task(tmp_path / "task_b", lf_module=without_cancel)
    result = CliRunner().invoke(cli, ["build", str(fewer), "--out", str(second), "-q", "--no-audit", *FAST_BUILD])
    assert result.exit_code == 0, result.output
    compared = CliRunner().invoke(cli, ["compare", str(first), str(second), "--json"])
    assert compared.exit_code == 0, compared.output
    delta = json.loads(compared.output)
    # the deltas, recomputed by hand from the two builds' per-row predictions
    a, b = (pd.read_csv(run / "test_predictions.csv", dtype=str).set_index("row_id") for run in (first, second))
    b = b.loc[a.index]
    for system in ("rule_baseline", "end_model"):
        pred_a, pred_b = a[f"pred_{system}"], b[f"pred_{system}"]
        right_a, right_b = pred_a == a["gold"], pred_b == b["gold"]
        got = delta["systems"][system]
        assert got["changed"] == int((pred_a != pred_b).sum()) > 0, system
        assert (got["improved"], got["regressed"]) == (int((~right_a & right_b).sum()), int((right_a & ~right_b).sum()))
        assert got["accuracy"] == {"a": round(right_a.mean(), 4), "b": round(right_b.mean(), 4),
                                   "delta": round(right_b.mean() - right_a.mean(), 4),
                                   "delta_ci": got["accuracy"]["delta_ci"]}
    assert delta["systems"]["rule_baseline"]["accuracy"]["delta"] < 0  # no LF votes cancellation any more
    assert delta["n"] == json.loads((first / "metrics.json").read_text())["task"]["rows"]["test"]
    # a build on other test rows is refused in one line
    other = tmp_path / "task2"
    other_config = write_task(other, seed=99)
    result = CliRunner().invoke(cli, ["build", str(other_config), "--out", str(tmp_path / "other"), "-q", "--no-audit",
                                      "--set", "end_model.enabled=false", "--set", 'label_model.candidates=["majority"]'])
    assert result.exit_code == 0, result.output
    refused = CliRunner().invoke(cli, ["compare", str(first), str(tmp_path / "other")])
    assert refused.exit_code == 1 and refused.output.startswith("error: ") and "different test data" in refused.output


@pytest.mark.slow  # the engines' votes are compared row by row in test_apply_engines.py (default run)
def test_process_engine_gives_the_same_build(built, tmp_path):
    config, first, _ = built
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(tmp_path / "p"), "-q", "--engine", "processes"])
    assert result.exit_code == 0, result.output
    for name in ("train_labels.csv", "test_predictions.csv", "metrics.json"):
        assert (first / name).read_bytes() == (tmp_path / "p" / name).read_bytes(), name
