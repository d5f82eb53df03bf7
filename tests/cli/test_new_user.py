"""The first ten minutes of a new user (issue 26): a fresh task written from the README's "Your own task"
section — its config block as printed, an LF module in the README's style, ~350 product reviews — built
with `labelkit build`, and the messages met on the way (each names the file, the setting and the fix)."""
from __future__ import annotations

import functools
import html
import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import one_error_line
from labelkit.cli.main import cli

error_line = functools.partial(one_error_line, progress=True)  # the build's progress lines may precede it

README = Path(__file__).resolve().parents[2] / "README.md"
CLASSES = ["positive", "negative", "other"]
# speed only: one label model, one C, few bootstrap resamples, and the audit checks that find copies (the
# ones this task trips on; label issues and outliers cost seconds on any data and find nothing to drop here)
QUICK = ("--set", 'label_model.candidates=["majority"]', "--set", "end_model.compare_hard=false",
         "--set", "end_model.C=[1.0]", "--set", "evaluate.bootstrap=30",
         "--set", "audit.checks=exact_duplicate_cross_split,duplicate_within_split,near_duplicate_cross_split,"
                  "group_leakage,time_leakage,identifier_leakage,test_rows")

PRODUCTS = ["headphones", "blender", "phone case", "desk lamp", "kettle", "backpack", "keyboard", "charger"]
REVIEWS = {
    "positive": ["I love this {p}, works great and arrived fast", "Great {p}, five stars, would buy again",
                 "Excellent {p} for the price, very happy", "This {p} is amazing, highly recommend it"],
    "negative": ["The {p} broke after two days, total waste of money", "Terrible {p}, stopped working, I want a refund",
                 "Awful {p}, cheap plastic and it broke", "Do not buy this {p}, it arrived damaged"],
    "other": ["The {p} is okay, nothing special", "Average {p}, does the job I guess",
              "It is a {p}. Delivery took a week.", "The {p} arrived on time, have not used it yet"],
}
ENDINGS = ["", "", " !", " :)", " thanks", " really", " honestly"]

LF_MODULE = '''
from labelkit import ABSTAIN, keywords, labeling_function, regex

kw_positive = keywords("positive", ["love", "great", "excellent", "amazing"], name="kw_positive")   # whole words, any case
kw_negative = keywords("negative", ["broke", "terrible", "awful", "refund", "damaged"], name="kw_negative")
re_meh = regex("other", r"\\b(okay|average|have not used)\\b", name="re_meh")

@labeling_function()
def delivery_only(row):                # row.text or row["text"]; return a class NAME or ABSTAIN
    return "other" if "delivery" in row.text.lower() else ABSTAIN
'''


def readme_config(classes=CLASSES, lf_module="my_lfs.py") -> str:
    """The README's config block as printed, with this task's classes."""
    section = README.read_text(encoding="utf-8").split("## Your own task", 1)[1]
    block = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    assert 'classes = ["billing", "connectivity", "other"]' in block and '"my_lfs.py"' in block, block
    return block.replace('["billing", "connectivity", "other"]', json.dumps(classes)).replace('"my_lfs.py"', f'"{lf_module}"')


def reviews(n: int, seed: int = 7) -> pd.DataFrame:
    """Product reviews as people write them: a few phrasings per class, so near-copies of a review land
    in train and in test (what the audit's cross-split duplicate checks are for)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(CLASSES, size=n, p=[0.45, 0.35, 0.2])
    texts = [str(rng.choice(REVIEWS[y])).format(p=rng.choice(PRODUCTS)) + str(rng.choice(ENDINGS)) for y in labels]
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 180 * 24, size=n)), unit="h")
    return pd.DataFrame({
        "id": [f"r{i:04d}" for i in range(n)],
        "created_at": times.strftime("%Y-%m-%dT%H:%M:%S"),
        "customer_id": [f"c{rng.integers(0, 10**6):06d}" for _ in range(n)],
        "country": rng.choice(["US", "GB", "DE"], size=n),
        "channel": rng.choice(["web", "app"], size=n),
        "text": texts,
        "label": labels,
    })


def write_review_task(folder: Path, *, n: int = 350, optional_columns: bool = True, expectations: bool = True) -> Path:
    """A new user's task: the README's config, an LF module, train (unlabeled) / dev / test CSVs."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = reviews(n)
    if not optional_columns:
        frame = frame[["id", "text", "label"]]
    n_train, n_dev = int(n * 4 / 7), int(n * 1.5 / 7)
    frame.iloc[:n_train].drop(columns=["label"]).to_csv(folder / "train.csv", index=False)
    frame.iloc[n_train:n_train + n_dev].to_csv(folder / "dev.csv", index=False)
    frame.iloc[n_train + n_dev:].to_csv(folder / "test.csv", index=False)
    if expectations:
        pd.DataFrame({"text": ["I love these headphones", "The kettle broke on day one"],
                      "expected": ["positive", "negative"]}).to_csv(folder / "expectations.csv", index=False)
    (folder / "my_lfs.py").write_text(textwrap.dedent(LF_MODULE), encoding="utf-8")
    config = folder / "labelkit.toml"
    config.write_text(readme_config(), encoding="utf-8")
    return config


def build(config: Path, *args: str):
    out = config.parent / "out"
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(out), *args])
    return result, out



def test_readme_config_on_data_without_its_optional_columns_names_every_one_at_once(tmp_path):
    config = write_review_task(tmp_path / "task", optional_columns=False, expectations=False)
    line = error_line(build(config, "-q")[0])
    for column, setting in [("created_at", "data.time_column"), ("customer_id", "data.group_column"),
                            ("country", "data.slice_columns"), ("channel", "data.slice_columns")]:
        assert repr(column) in line and setting in line, line
    assert "or remove them (they are optional)" in line and str(config) in line, line
    # the expectations file the same config names is missing too: said in the same line, with its fix
    assert f"{(config.parent / 'expectations.csv').resolve()} does not exist" in line, line
    assert "remove the setting (it is optional)" in line, line
    # a required column gets no "remove it"
    config.write_text(readme_config().replace('text_column = "text"', 'text_column = "body"'))
    (config.parent / "expectations.csv").write_text("text,expected\nfine,positive\n")
    line = error_line(build(config, "-q", "--set", "data.time_column=", "--set", "data.group_column=",
                            "--set", "data.slice_columns=[]")[0])
    assert "Column 'body' not found in" in line and "Set data.text_column in" in line and "remove" not in line, line


def test_new_user_builds_a_review_task_and_hears_that_most_of_train_was_quarantined(tmp_path):
    config = write_review_task(tmp_path / "task")
    result, out = build(config, *QUICK)
    assert result.exit_code == 0, result.output
    stdout = result.stdout
    for expected in ("test set: ", "gold rows scored: dev 75 of 75, test 75 of 75", "rule_baseline", "label_model",
                     "end_model", f"report: {out / 'report.html'}"):
        assert expected in stdout, stdout
    metrics = json.loads((out / "metrics.json").read_text())
    kept, given = metrics["audit"]["accounting"]["train"]["kept"], metrics["audit"]["accounting"]["train"]["rows_in"]
    assert given == 200 and kept < 0.8 * given  # near-copies across splits: the train copies are dropped
    loud = [w for w in metrics["warnings"] if w.startswith("The audit quarantined")]
    assert len(loud) == 1, metrics["warnings"]
    warning = loud[0]
    assert f"{given - kept} of {given} train rows" in warning and "near_duplicate_cross_split" in warning
    assert f"under [audit] in {config}" in warning and "--no-audit" in warning
    assert f"warning: {warning}" in stdout  # the CLI summary says it
    assert warning in html.unescape((out / "report.html").read_text())  # the report's warnings too
    assert warning in re.sub(r"\\(.)", r"\1", (out / "report.md").read_text())  # markdown escapes _ and [
    # the advice works as written: the policy line it gives keeps the rows
    policies = re.search(r"set (policies = \{.*?\}) under \[audit\]", warning).group(1)
    config.write_text(config.read_text() + f"\n[audit]\n{policies}\n")
    result, out = build(config, *QUICK, "-q")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["audit"]["accounting"]["train"]["kept"] == given
    assert not [w for w in metrics["warnings"] if w.startswith("The audit quarantined")]


def test_labelkit_audit_says_it_too(tmp_path):
    config = write_review_task(tmp_path / "task")
    result = CliRunner().invoke(cli, ["audit", str(config), "--out", str(tmp_path / "audit"), "-q", "--set",
                                      "audit.checks=exact_duplicate_cross_split,near_duplicate_cross_split"])
    assert result.exit_code == 0, result.output
    assert re.search(r"warning: The audit quarantined \d+ of 200 train rows", result.stdout), result.stdout
    report = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert report["warnings"][0].startswith("The audit quarantined")


def test_a_small_quarantine_stays_quiet():
    from labelkit.quality.policies import CleanResult, quarantine_warnings

    quarantine = pd.DataFrame({"split": ["train"] * 9, "row_id": list("abcdefghi"),
                               "reasons": ["exact_duplicate_cross_split"] * 9})
    accounting = {"train": {"rows_in": 100, "kept": 91, "quarantined": 9, "flagged": 0},
                  "test": {"rows_in": 10, "kept": 10, "quarantined": 0, "flagged": 0}}
    assert quarantine_warnings(CleanResult({}, quarantine, None, accounting, None)) == []
    accounting["train"].update(kept=90, quarantined=10)
    quarantine = pd.concat([quarantine, quarantine.iloc[:1].assign(row_id="j", reasons="test_row;outlier")])
    (line,) = quarantine_warnings(CleanResult({}, quarantine, None, accounting, None), notebook=True)
    # reasons that dropped rows, most rows first; flag-only reasons (outlier) are not blamed
    assert "10 of 100 train rows (10%; reasons: exact_duplicate_cross_split 9, test_row 1)" in line, line
    assert "outlier" not in line
    assert "settings={'audit': {'policies': {'exact_duplicate_cross_split': 'flag', 'test_row': 'flag'}}}" in line
    assert "audit=False" in line



def test_a_build_without_a_config_file_is_told_the_set_option_that_keeps_the_rows():
    """`labelkit build --wrench DIR` has no labelkit.toml to edit: the line gives the --set value, and that
    value, read as the command reads it, sets exactly the named policies."""
    import shlex

    from labelkit.quality.policies import CleanResult, quarantine_warnings
    from labelkit.settings.config import load_config

    quarantine = pd.DataFrame({"split": ["train"] * 20, "row_id": [f"r{i}" for i in range(20)],
                               "reasons": ["duplicate_within_split"] * 12 + ["near_duplicate_cross_split"] * 8})
    accounting = {"train": {"rows_in": 100, "kept": 80, "quarantined": 20, "flagged": 0}}
    (line,) = quarantine_warnings(CleanResult({}, quarantine, None, accounting, None))
    assert "lk.run" not in line and "[audit] in" not in line and "--no-audit" in line, line
    option = re.search(r"build with (--set '[^']+')", line).group(1)
    _, value = shlex.split(option)
    key, text = value.split("=", 1)
    config = load_config(None, overrides={key: text})
    assert config.audit.policies == {"duplicate_within_split": "flag", "near_duplicate_cross_split": "flag"}

# ---------------------------------------------------------------- messages that tell the fix

def test_a_missing_data_file_names_the_resolved_path_and_the_setting(tmp_path):
    config = write_review_task(tmp_path / "task")
    (config.parent / "train.csv").unlink()
    line = error_line(build(config, "-q")[0])
    assert f"Data file {(config.parent / 'train.csv').resolve()} does not exist" in line, line
    assert '[data -> train] = "train.csv", relative to the folder of' in line and str(config) in line, line


def test_a_missing_expectations_file_names_the_real_config(tmp_path):
    config = write_review_task(tmp_path / "task", expectations=False)
    renamed = config.rename(config.parent / "v10_readme.toml")
    line = error_line(build(renamed, "-q")[0])
    assert f"{(renamed.parent / 'expectations.csv').resolve()} does not exist" in line, line
    assert "v10_readme.toml" in line and "labelkit.toml" not in line, line
    assert "remove the setting (it is optional)" in line, line


def test_a_module_without_lfs_names_the_ways_to_declare_them(tmp_path):
    config = write_review_task(tmp_path / "task")
    (config.parent / "my_lfs.py").write_text(
        "from labelkit import ABSTAIN\n\ndef mentions_refund(row):\n    return 'negative' if 'refund' in row.text else ABSTAIN\n")
    line = error_line(build(config, "-q")[0])
    assert "No labeling functions found in" in line and "my_lfs.py" in line, line
    assert "mentions_refund is not an LF" in line and "@labeling_function()" in line, line
    assert "keywords(" in line and "LFS = [mentions_refund]" in line, line


def test_a_missing_lf_module_names_the_resolved_path(tmp_path):
    config = write_review_task(tmp_path / "task")
    (config.parent / "my_lfs.py").unlink()
    line = error_line(build(config, "-q")[0])
    assert f"LF module {(config.parent / 'my_lfs.py').resolve()} does not exist" in line, line
    assert "relative to the config file's folder" in line, line


@pytest.mark.parametrize("command", ["build", "audit", "repair"])
def test_force_help_matches_what_force_does(command):
    """`--force` lets one command's output replace another's; it never replaces a folder labelkit did not make."""
    result = CliRunner().invoke(cli, [command, "--help"])
    text = " ".join(result.output.split())
    force = text[text.index("--force"):]
    force = force[:force.index(" --", 8) if " --" in force[8:] else len(force)]
    assert "Never a folder labelkit did not make" in force and "even if" not in force, force


def test_audit_force_refuses_a_folder_labelkit_did_not_make(tmp_path):
    config = write_review_task(tmp_path / "task")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(cli, ["audit", str(config), "--out", str(mine), "--force", "-q"])
    assert result.exit_code == 1 and (mine / "notes.txt").read_text() == "keep me", result.output
