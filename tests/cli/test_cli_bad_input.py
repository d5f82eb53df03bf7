"""Every bad input ends in one line naming the file/column/LF/row, exit code 1, no traceback,
no output folder, and the inputs untouched."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from labelkit.cli.main import cli

from conftest import FAST_BUILD, LF_MODULE


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def run_build(config: Path, *args: str):
    out = config.parent / "out"
    before = digest(config.parent)
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(out), "-q", "--no-audit", *args])
    assert digest(config.parent) == before, "inputs were modified"
    return result, out


def assert_clean_failure(result, out: Path, pattern: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert pd.Series([lines[0]]).str.contains(pattern, regex=True).iloc[0], lines[0]
    assert not out.exists()
    assert not list(out.parent.glob(".out.tmp-*")), "a half-written output folder was left behind"


def test_missing_file(task):
    (task.parent / "dev.csv").unlink()
    result, out = run_build(task)
    assert_clean_failure(result, out, r"dev.csv does not exist")


def test_empty_and_unreadable_files(task):
    (task.parent / "test.csv").write_text("")
    result, out = run_build(task)
    assert_clean_failure(result, out, r"test.csv is empty")
    (task.parent / "test.csv").write_bytes(b"\xff\xfe\x00garbage\x00\xff")
    result, out = run_build(task)
    assert_clean_failure(result, out, r"Cannot read .*test.csv: it looks like a binary file")


@pytest.mark.parametrize("column, setting", [("text", "data.text_column"), ("label", "data.label_column"), ("id", "data.id_column")])
def test_missing_columns(task, column, setting):
    path = task.parent / "dev.csv"
    pd.read_csv(path).drop(columns=[column]).to_csv(path, index=False)
    result, out = run_build(task)
    assert_clean_failure(result, out, rf"Column '{column}' not found in .*dev.csv; columns are: .*Set {setting}")


def set_cell(task, split: str, row: int, column: str, value) -> None:
    path = task.parent / f"{split}.csv"
    frame = pd.read_csv(path)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)


def test_gold_label_not_a_class(task):
    set_cell(task, "test", 4, "label", "refunds")
    result, out = run_build(task)
    assert_clean_failure(result, out, r"test.csv column 'label': row 5 has label 'refunds', which is not a class")


def test_lf_returning_a_non_class(task):
    (task.parent / "lfs.py").write_text(LF_MODULE + "\n@labeling_function()\ndef bad(row):\n    return 'billling'\n")
    result, out = run_build(task)
    assert_clean_failure(result, out, r"LF 'bad' returned 'billling' on train .* row id='tr00000'")


def test_lf_that_raises_and_opt_in_abstain(task):
    (task.parent / "lfs.py").write_text(
        LF_MODULE + "\n@labeling_function()\ndef fragile(row):\n    return 'billing' if row.text.index('invoice') >= 0 else None\n")
    result, out = run_build(task)
    assert_clean_failure(result, out, r"LF 'fragile' raised ValueError: substring not found on train .* row id='tr\d+'")
    result, out = run_build(task, "--lf-errors", "abstain", *FAST_BUILD)
    assert result.exit_code == 0, result.output
    import json

    errors = json.loads((out / "metrics.json").read_text())["lf_errors"]
    assert errors and all(name.startswith("fragile@") and count > 0 for name, count in errors.items())


def test_duplicate_lf_names(task):
    (task.parent / "lfs.py").write_text(LF_MODULE + "\nagain = keywords('billing', ['x'], name='kw_billing')\n")
    result, out = run_build(task)
    assert_clean_failure(result, out, r"Duplicate LF name 'kw_billing'")


def test_fewer_lfs_than_snorkel_needs_skips_snorkel_with_a_note(task):
    (task.parent / "lfs.py").write_text("from labelkit import keywords\nk = keywords('billing', ['invoice'], name='only_one')\n")
    result, out = run_build(task, *FAST_BUILD, "--set", 'label_model.candidates=["majority", "snorkel"]')
    assert result.exit_code == 0, result.output
    import json

    label_models = json.loads((out / "metrics.json").read_text())["label_models"]
    assert label_models["chosen"].startswith("majority")
    assert "at least 3 LFs" in json.dumps(label_models)


def test_no_lf_fires(task):
    (task.parent / "lfs.py").write_text(
        "from labelkit import keywords\n" + "\n".join(
            f"k{i} = keywords('billing', ['zzqx{i}'], name='never_{i}')" for i in range(3)))
    result, out = run_build(task)
    assert_clean_failure(result, out, r"No LF fired on any train row")


def test_unknown_config_key_via_set(task):
    result, out = run_build(task, "--set", "task.sede=3")
    assert_clean_failure(result, out, r"\[task -> sede\] is not a setting")


@pytest.mark.parametrize("setting", ["data.slice_columns", "evaluate.slice_columns"])
def test_slice_column_that_does_not_exist_fails_before_training(task, setting):
    result, out = run_build(task, "--set", f'{setting}=["contry"]')
    assert_clean_failure(result, out, rf"Column 'contry' not found in .*test.csv.*Set {setting}")


def test_time_column_that_does_not_exist(task):
    result, out = run_build(task, "--set", "data.time_column=created")
    assert_clean_failure(result, out, r"Column 'created' not found in .*train.csv.*Set data.time_column")


@pytest.mark.parametrize("content, pattern", [
    ("text,expected\nmy invoice is wrong,billing\nwifi is down,refunds\n",
     r"expect.csv: line 3 has expected='refunds', which is not a class; classes are: billing"),
    ("text,expected,not_expected\nmy invoice is wrong,billing,\nhello,,\n",
     r"expect.csv: line 3 has neither 'expected' nor 'not_expected'"),
    ("text,expected,not_expected\nmy invoice is wrong,billing,billing\n", r"expect.csv: line 2 has expected and not_expected both"),
    ("body,expected\nmy invoice is wrong,billing\n", r"expect.csv: expectations need a 'text' column; columns are: body, expected"),
    (None, r"Expectations file .*expect.csv does not exist"),
])
def test_bad_expectations_file_fails_before_any_work(task, content, pattern):
    # an LF that raises on the first train row: a build that read the expectations only after applying
    # the LFs (or training) would stop on the LF instead, naming it
    (task.parent / "lfs.py").write_text(LF_MODULE + "\n@labeling_function()\ndef applied(row):\n    raise RuntimeError('LFs ran')\n")
    if content is not None:
        (task.parent / "expect.csv").write_text(content)
    result, out = run_build(task, *FAST_BUILD, "--set", "evaluate.expectations=expect.csv")
    assert_clean_failure(result, out, pattern)


def test_unparseable_timestamps_are_named(task):
    set_cell(task, "test", 7, "created_at", "yesterday-ish")
    result = CliRunner().invoke(cli, ["build", str(task), "--out", str(task.parent / "o"), "-q", *FAST_BUILD,
                                      "--set", "end_model.enabled=false",  # the end model plays no part here
                                      "--set", 'audit.checks=["time_leakage", "test_rows", "identifier_leakage"]'])
    assert result.exit_code == 0, result.output
    import json

    metrics = json.loads((task.parent / "o" / "metrics.json").read_text())
    assert any("row 8 ('yesterday-ish')" in w for w in metrics["warnings"]), metrics["warnings"]
    findings = pd.read_csv(task.parent / "o" / "audit_findings.csv")
    assert ((findings["reason"] == "bad_timestamp") & (findings["row_id"] == "te00007")).any()
