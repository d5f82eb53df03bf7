"""Legal but odd WRENCH folders: `labelkit build --wrench` succeeds with a sane report or stops with one
`error:` line naming the file or option, never an internal error."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import FAST_BUILD, one_error_line
from labelkit.cli.main import cli

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()


def wrench_folder(folder: Path, *, k=3, n=(60, 30, 30), n_lfs=6, names=None, text=None, seed=0) -> Path:
    """A WRENCH folder of generated rows: LF j votes class j % k on rows of that class (and now and then
    on others); `text(rng, y, split, i)` gives a row's text (default: random words + a class word)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = names or [f"class{i}" for i in range(k)]
    (folder / "label.json").write_text(json.dumps({str(i): c for i, c in enumerate(names)}))
    text = text or (lambda rng, y, split, i: " ".join(rng.choice(WORDS, 6)) + f" topic{y}")
    for split, size in zip(("train", "valid", "test"), n):
        rows = {}
        for i in range(size):
            y = i % k
            votes = [j % k if rng.random() < (0.6 if j % k == y else 0.05) else -1 for j in range(n_lfs)]
            rows[str(i)] = {"label": y, "weak_labels": votes, "data": {"text": text(rng, y, split, i)}}
        (folder / f"{split}.json").write_text(json.dumps(rows))
    return folder


def edit_split(folder: Path, split: str, change) -> None:
    rows = json.loads((folder / f"{split}.json").read_text())
    for i, row in enumerate(rows.values()):
        change(i, row)
    (folder / f"{split}.json").write_text(json.dumps(rows))


def build(folder: Path, out: Path, *args):
    return CliRunner().invoke(cli, ["build", "--wrench", str(folder), "--out", str(out), "-q", *FAST_BUILD, *args])



def test_a_set_whose_text_field_has_another_name(tmp_path):
    folder = wrench_folder(tmp_path / "w")
    for split in ("train", "valid", "test"):
        edit_split(folder, split, lambda i, row: row.__setitem__("data", {"sentence": row["data"]["text"]}))
    line = one_error_line(build(folder, tmp_path / "out", "--no-audit"))
    assert "train.json" in line and "'text'" in line and "sentence" in line and "data.text_column" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_set_whose_text_field_has_another_name_builds_once_it_is_named(tmp_path):
    folder = wrench_folder(tmp_path / "w")
    for split in ("train", "valid", "test"):
        edit_split(folder, split, lambda i, row: row.__setitem__("data", {"sentence": row["data"]["text"]}))
    result = build(folder, tmp_path / "out", "--no-audit", "--set", "data.text_column=sentence")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("split", ["valid", "test"])
def test_an_empty_gold_split_is_named(tmp_path, split):
    folder = wrench_folder(tmp_path / "w")
    (folder / f"{split}.json").write_text("{}")
    line = one_error_line(build(folder, tmp_path / "out"))
    assert f"{split}.json has no rows" in line


@pytest.mark.parametrize("label_json, message", [
    ({"0": "a", "1": "a", "2": "b"}, "class name(s) 'a' appear more than once"),
    ({"00": "a", "1": "b", "2": "c"}, None),  # a zero-padded key is still index 0
])
def test_label_json_names(tmp_path, label_json, message):
    from labelkit.errors import DatasetError
    from labelkit.wrench import read_wrench

    folder = wrench_folder(tmp_path / "w")
    (folder / "label.json").write_text(json.dumps(label_json))
    if message is None:
        assert read_wrench(folder).classes == ("a", "b", "c")
    else:
        with pytest.raises(DatasetError, match=r"label.json: " + message.replace("(", r"\(").replace(")", r"\)")):
            read_wrench(folder)


def test_dev_of_one_class_is_a_build_warning_not_a_stray_python_warning(tmp_path, recwarn):
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data

    folder = wrench_folder(tmp_path / "w")
    edit_split(folder, "valid", lambda i, row: row.__setitem__("label", 2))
    data = load_task_data(load_config(None, overrides={"data.wrench": str(folder), "task.name": "w"}))
    assert not [w for w in recwarn if "dev split" in str(w.message)]
    assert any("no rows of class(es) class0, class1" in w and "Every dev row is of class 'class2'" in w
               for w in data.warnings), data.warnings


def test_gold_texts_without_any_term_skip_the_text_checks_of_the_audit(tmp_path):
    """Empty and whitespace-only texts everywhere: the audit's text models have no vocabulary."""
    from labelkit.quality import AuditSpec, run_audit

    frames = {split: pd.DataFrame({"id": [f"{split}{i}" for i in range(n)], "text": ["", " ", "\t\n"] * (n // 3),
                                   "label": [f"c{i % 2}" for i in range(n)]})
              for split, n in (("train", 60), ("dev", 30), ("test", 30))}
    spec = AuditSpec(id_column="id", text_column="text", label_column="label", classes=("c0", "c1"),
                     checks=("label_issues", "outliers"))
    result = run_audit(frames, spec)
    assert any("label_issues skipped" in w and "no words" in w for w in result.warnings), result.warnings
    assert any("outliers: skipped" in w for w in result.warnings), result.warnings


def test_end_model_features_fit_on_a_single_train_row():
    """One train row left (min_df=2 cannot hold): every term is kept, with a note."""
    from labelkit.endmodel.features import fit_features

    frame = pd.DataFrame({"text": ["only row here"]})
    features, X, note = fit_features("tfidf", frame, "text", [], max_features=1000)
    assert X.shape[0] == 1 and X.shape[1] > 0 and "min_df=1" in note


@pytest.mark.slow
def test_one_train_row_left_after_the_audit_still_trains_an_end_model(tmp_path):
    """Every train text the same: the audit keeps one copy, and the end model's min_df=2 cannot hold."""
    folder = wrench_folder(tmp_path / "w", text=lambda rng, y, split, i: "same words" if split == "train"
                           else " ".join(rng.choice(WORDS, 6)) + f" topic{y}")
    result = build(folder, tmp_path / "out")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["task"]["rows"]["train"] == 1


def test_auto_metric_falls_back_to_accuracy_when_dev_has_no_row_of_the_rare_class():
    """F1 of a class absent from dev is 0 for every system: choosing by it would pick at random."""
    from labelkit.evaluate.metrics import resolve_metric

    assert resolve_metric("auto", [0] * 30, cardinality=2) == ("accuracy", None)
    assert resolve_metric("auto", [0] * 29 + [1], cardinality=2) == ("f1", 1)


def test_half_of_a_surrogate_pair_is_replaced_with_a_warning(tmp_path):
    """Legal JSON ("\\ud83d" alone, a cut emoji) that no UTF-8 file can hold: U+FFFD and a build warning."""
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data

    folder = wrench_folder(tmp_path / "w")
    rows = json.loads((folder / "train.json").read_text())
    rows["0"]["data"]["text"] = "cut emoji \ud83d here, whole one \U0001F600"
    (folder / "train.json").write_text(json.dumps(rows))  # ensure_ascii: written as \ud83d escapes
    data = load_task_data(load_config(None, overrides={"data.wrench": str(folder), "task.name": "w"}))
    assert data.frames["train"]["text"][0] == "cut emoji \ufffd here, whole one \U0001F600"
    assert any("train.json: 1 string(s) hold half of a UTF-16 surrogate pair" in w for w in data.warnings)
    data.frames["train"].to_csv(tmp_path / "t.csv", encoding="utf-8")  # what crashed the build's writers


def test_a_class_no_lf_votes_for_and_a_dev_split_without_votes_are_named():
    from labelkit.pipeline.scoring import vote_warnings

    L = np.array([[0, -1], [1, 1], [-1, -1]], dtype=np.int8)
    assert vote_warnings({"train": L, "dev": L}, ("a", "b")) == []
    (warning,) = vote_warnings({"train": L, "dev": L}, ("a", "b", "c d"))
    assert "No LF votes for class(es) 'c d'" in warning
    (warning,) = vote_warnings({"train": L, "dev": np.full((4, 2), -1, dtype=np.int8)}, ("a", "b"))
    assert "Every LF abstains on all 4 dev rows" in warning


def test_a_gold_row_without_label_is_named_by_its_key(tmp_path):
    folder = wrench_folder(tmp_path / "w")
    edit_split(folder, "test", lambda i, row: row.__setitem__("label", None if i == 3 else row["label"]))
    line = one_error_line(build(folder, tmp_path / "out"))
    assert "test.json: 1 of 30 rows have no label (null or -1), the first is row '3'" in line


def test_notebook_api_runs_a_wrench_config_on_its_votes(tmp_path):
    """Task.from_config on a config naming a WRENCH folder keeps the folder's classes and votes."""
    from labelkit.api import Task, run

    folder = wrench_folder(tmp_path / "w", n=(30, 20, 20))
    config = tmp_path / "labelkit.toml"
    config.write_text(f'[task]\nname = "w"\n[data]\nwrench = "{folder}"\n[label_model]\ncandidates = ["majority"]\n'
                      f'[end_model]\nC = [1.0]\ncompare_hard = false\n[evaluate]\nbootstrap = 20\n')
    task = Task.from_config(config)
    assert task.config.task.classes == ["class0", "class1", "class2"] and task.votes["train"].shape == (30, 6)
    result = run(task, audit=False)
    assert result.lf_names == [f"lf_{j}" for j in range(6)]
    assert result.metrics.task.rows["test"] == 20


def test_a_time_field_mixing_dates_numbers_and_junk_parses():
    """JSON fields mix kinds: a bare number parses in nanoseconds, ISO text in microseconds."""
    from labelkit.io.times import parse_utc

    parsed = parse_utc(pd.Series(["2020-01-01", "not a date", 5, None, "Jan 5 2021 10:00"], dtype=object))
    assert parsed.isna().tolist() == [False, True, False, True, False]
    assert str(parsed[4]) == "2021-01-05 10:00:00+00:00"


def test_feature_fields_the_end_model_cannot_take_are_named():
    from labelkit.data.load import check_feature_values
    from labelkit.errors import DatasetError

    frame = pd.DataFrame({"n": [1.0, None, 3.0], "mixed": pd.Series([1, "s", None], dtype=object),
                          "country": pd.Series(["FR", None, "DE"], dtype=object)})
    check_feature_values(frame, "train.json", ["country"])
    with pytest.raises(DatasetError, match="train.json: feature column 'n' has no number on row 2"):
        check_feature_values(frame, "train.json", ["n"])
    with pytest.raises(DatasetError, match=r"feature column 'mixed' mixes numbers \(row 1: 1\) and text \(row 2: 's'\)"):
        check_feature_values(frame, "train.json", ["mixed"])


def test_missing_feature_values_take_part_in_near_duplicates():
    """pandas' str dtype keeps a missing value missing: the duplicate key must not turn into NaN."""
    from labelkit.quality import AuditSpec, run_audit

    frames = {split: pd.DataFrame({"id": [f"{split}{i}" for i in range(6)], "text": [f"some words {i}" for i in range(6)],
                                   "label": ["a", "b"] * 3, "country": pd.Series(["FR", None] * 3, dtype=object)})
              for split in ("train", "dev", "test")}
    spec = AuditSpec(id_column="id", text_column="text", label_column="label", classes=("a", "b"),
                     checks=("near_duplicate_cross_split",), feature_columns=("country",))
    result = run_audit(frames, spec)  # crashed: np.bincount of the -1 code pandas gives a missing key
    assert result.checks_run == ("near_duplicate_cross_split",) and not result.warnings


def test_task_classes_cannot_reorder_a_wrench_folders_classes(tmp_path):
    """Votes are indices in label.json's order: other names (or the same in another order) would
    silently misread every vote, so they stop the build; without label.json they name the indices."""
    folder = wrench_folder(tmp_path / "w")
    line = one_error_line(build(folder, tmp_path / "out", "--set", 'task.classes=["class1","class0","class2"]'))
    assert "[task -> classes]" in line and "label.json has 3 classes ['class0', 'class1', 'class2']" in line
    (folder / "label.json").unlink()
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data

    data = load_task_data(load_config(None, overrides={"data.wrench": str(folder), "task.name": "w",
                                                       "task.classes": '["x","y","z"]'}))
    assert data.schema.classes == ("x", "y", "z") and data.frames["dev"]["label"][:3].tolist() == ["x", "y", "z"]


def test_train_made_of_test_copies_stops_naming_the_audit_reasons(tmp_path):
    folder = wrench_folder(tmp_path / "w", n=(20, 20, 20), text=lambda rng, y, split, i: f"the same sentence number {i}")
    line = one_error_line(build(folder, tmp_path / "out"))
    assert "No train rows are left after the audit quarantined them all (" in line
    assert "exact_duplicate_cross_split: 20 rows" in line and "--no-audit" in line


def test_a_byte_order_mark_and_integral_float_votes_are_read(tmp_path):
    """What Windows tools and pandas exports write: a BOM before the JSON, 1.0 for 1."""
    from labelkit.errors import DatasetError
    from labelkit.wrench import read_wrench

    folder = wrench_folder(tmp_path / "w", n=(4, 3, 3))
    rows = json.loads((folder / "train.json").read_text())
    rows["0"]["weak_labels"] = [float(v) for v in rows["0"]["weak_labels"]]
    rows["0"]["label"] = 0.0
    (folder / "train.json").write_text("\ufeff" + json.dumps(rows), encoding="utf-8")
    data = read_wrench(folder)
    assert data.label_matrices["train"][0].tolist() == rows["0"]["weak_labels"] and data.labels["train"][0] == 0
    rows["0"]["weak_labels"][0] = 0.5
    (folder / "train.json").write_text(json.dumps(rows))
    with pytest.raises(DatasetError, match=r"train.json: row '0' weak_labels must be a list of ints"):
        read_wrench(folder)


@pytest.mark.parametrize("folder, name", [("yt (copy)", "yt _copy_"), (".hidden", "hidden"), ("v1.0 ü", "v1.0 ü"),
                                          ("...", "wrench")])
def test_the_default_task_name_of_any_folder_name_is_valid(tmp_path, folder, name):
    """`build --wrench DIR` names the task (and runs/NAME) after the folder, whatever it is called."""
    from labelkit.cli.build import load_wrench_config

    path = wrench_folder(tmp_path / folder, n=(3, 3, 3))
    assert load_wrench_config(str(path), (), {}).task.name == name


@pytest.mark.filterwarnings("ignore:Glyph")  # no CJK font for the plots' class names on this machine
def test_a_folder_with_many_quirks_at_once_builds_and_says_what_is_odd(tmp_path):
    """6 classes named with spaces, quotes, HTML and digits; one class no LF votes for; a class missing
    from dev; an LF that never fires and one that always fires; empty, whitespace-only and non-ASCII
    texts; extra data fields of every JSON kind."""
    names = ["a b", 'say "hi"', "<b>x</b>", "42", "ünï 类", "never voted"]
    folder = wrench_folder(tmp_path / "w", k=6, n=(90, 36, 36), n_lfs=10, names=names)
    for split in ("train", "valid", "test"):
        def quirks(i, row):  # called by edit_split below, in this iteration
            row["weak_labels"] = [v if v != 5 else -1 for v in row["weak_labels"]]  # no LF votes 'never voted'
            row["weak_labels"][0], row["weak_labels"][1] = -1, 2  # never fires, always fires
            row["data"]["text"] = ["", "  \t", "日本語 🙂 " + row["data"]["text"], row["data"]["text"]][i % 4]
            row["data"].update(tokens=["a", i], meta={"n": i, "none": None}, score=i / 3, missing=None)
            if split == "valid" and row["label"] == 3:  # noqa: B023
                row["label"] = 0  # dev has no row of class '42'
        edit_split(folder, split, quirks)
    result = build(folder, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "No LF votes for class(es) 'never voted'" in result.output
    assert "dev split has no rows of class(es) 42" in result.output
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
