"""`labelkit audit` from the command line: outputs, row accounting, --fail-on, bad config."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from labelkit.cli.main import cli


def plant_leak(task) -> str:
    """Copy a test row's text into train; return the train id that now leaks."""
    train, test = pd.read_csv(task.parent / "train.csv"), pd.read_csv(task.parent / "test.csv")
    train.loc[0, "text"] = test.loc[0, "text"]
    train.to_csv(task.parent / "train.csv", index=False)
    return train.loc[0, "id"]


def test_audit_writes_cleaned_splits_and_quarantine(task, tmp_path):
    leaked = plant_leak(task)
    out = tmp_path / "audit"
    result = CliRunner().invoke(cli, ["audit", str(task), "--out", str(out), "--json", "-q"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"reason": "exact_duplicate_cross_split", "split": "train", "count": 1} in report["summary"]
    quarantine = pd.read_csv(out / "quarantine.csv")
    assert quarantine["row_id"].tolist() == [leaked]
    for split, counts in report["accounting"].items():
        kept = pd.read_csv(out / "cleaned" / f"{split}.csv")
        assert counts["rows_in"] == counts["kept"] + counts["quarantined"] == len(kept) + counts["quarantined"]


def test_fail_on_leakage_exits_1_after_writing(task, tmp_path):
    plant_leak(task)
    out = tmp_path / "audit"
    checks = ["--set", 'audit.checks=["exact_duplicate_cross_split", "test_rows"]']  # all checks: the test above
    result = CliRunner().invoke(cli, ["audit", str(task), "--out", str(out), "-q", "--fail-on", "leakage", *checks])
    assert result.exit_code == 1
    assert "check failed: leakage: " in result.output
    assert (out / "quarantine.csv").is_file()
    clean = CliRunner().invoke(cli, ["audit", str(task), "--out", str(out), "-q", "--fail-on", "test-rows", *checks])
    assert clean.exit_code == 0, clean.output


@pytest.mark.parametrize("setting, message", [
    ('audit.policies={group_leakage="nuke"}', "Unknown policy 'nuke' for reason 'group_leakage'"),
    ('audit.policies={bogus="drop"}', "Unknown audit reason 'bogus' in policies"),
    ('audit.checks=["leakz"]', "Unknown audit check(s) 'leakz'"),
    ("data.group_column=cust", "Column 'cust' not found"),
])
def test_bad_audit_config_is_one_line(task, tmp_path, setting, message):
    result = CliRunner().invoke(cli, ["audit", str(task), "--out", str(tmp_path / "a"), "-q", "--set", setting])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "a").exists()


def test_unknown_fail_on_is_a_usage_error(task, tmp_path):
    result = CliRunner().invoke(cli, ["audit", str(task), "--out", str(tmp_path / "a"), "--fail-on", "leaks"])
    assert result.exit_code == 2


def test_build_fail_on_guardrail(tmp_path):
    """The model is worse than the rules on a slice the rules handle: --fail-on guardrail exits 1."""
    from conftest import FAST_BUILD, write_task

    config = write_task(tmp_path / "t")
    # Country FR: almost no FR rows in train, and FR test rows use a word only an LF knows
    for split in ("train", "dev", "test"):
        path = config.parent / f"{split}.csv"
        frame = pd.read_csv(path)
        fr = frame["country"] == "FR"
        if split == "train":
            frame = frame[~fr | (frame.index % 10 == 0)]
        else:
            frame.loc[fr, "text"] = "résiliation " + frame.loc[fr, "id"]
            frame.loc[fr, "label"] = "cancellation"
        frame.to_csv(path, index=False)
    with open(config.parent / "lfs.py", "a") as handle:
        handle.write("\nfr = keywords('cancellation', ['résiliation'], name='fr_cancel')\n")
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(tmp_path / "o"), "-q", "--no-audit", *FAST_BUILD,
                                      "--fail-on", "guardrail"])
    assert result.exit_code == 1, result.output
    assert "guardrail: country=FR" in result.output and "check failed: guardrail" in result.output
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    fr = [g for g in metrics["guardrails"] if g["column"] == "country" and g["value"] == "FR"]
    assert fr and fr[0]["model_score"] < fr[0]["baseline_score"]
