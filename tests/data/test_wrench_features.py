"""WRENCH folders whose rows carry a feature vector and no text (census, mushroom, image-feature sets):
the vector becomes the feature columns feature_0..feature_{d-1}, the end model learns from them, the
audit says which text checks it skipped, and a bad vector is one error line naming file and row."""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import FAST_BUILD, one_error_line
from labelkit.cli.main import cli

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
D_CONTINUOUS, D_CODES = 4, 3


def feature_folder(folder: Path, *, n=(400, 150, 150), n_lfs=5, seed=0, field="feature") -> Path:
    """A learnable binary task: y = 1 when a linear score of 4 continuous values plus the effect of 3
    integer codes is positive (class 1 is about 35% of rows). LFs look at one value each and are right
    about 75% of the time where they vote; the end model must combine the features to do better."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "label.json").write_text(json.dumps({"0": "negative", "1": "positive"}))
    weights = np.array([1.5, -1.0, 0.8, 0.0])
    code_effect = np.array([[-1.0, 0.0, 1.2], [0.8, -0.8, 0.0], [0.0, 0.0, 0.0]])  # per code value, per code column
    for split, size in zip(("train", "valid", "test"), n):
        x = rng.normal(size=(size, D_CONTINUOUS))
        codes = rng.integers(0, 3, size=(size, D_CODES))
        score = x @ weights + code_effect[codes, np.arange(D_CODES)].sum(axis=1) - 0.6
        y = (score > 0).astype(int)
        rows = {}
        for i in range(size):
            votes = []
            for _ in range(n_lfs):
                if rng.random() < 0.5:
                    votes.append(-1)
                else:
                    votes.append(int(y[i]) if rng.random() < 0.75 else 1 - int(y[i]))
            vector = [round(float(v), 4) for v in x[i]] + [int(c) for c in codes[i]]
            rows[f"{split[0]}{i}"] = {"label": int(y[i]), "weak_labels": votes, "data": {field: vector}}
        (folder / f"{split}.json").write_text(json.dumps(rows))
    return folder


def edit_row(folder: Path, split: str, position: int, change) -> str:
    rows = json.loads((folder / f"{split}.json").read_text())
    key = list(rows)[position]
    change(rows[key])
    (folder / f"{split}.json").write_text(json.dumps(rows))
    return key


def build(folder: Path, out: Path, *args):
    return CliRunner().invoke(cli, ["build", "--wrench", str(folder), "--out", str(out), *FAST_BUILD, *args])


def build_quietly(folder: Path, out: Path, *args):
    return build(folder, out, "-q", *args)



COLUMNS = [f"feature_{i}" for i in range(D_CONTINUOUS + D_CODES)]


def test_the_config_of_a_feature_vector_folder_has_no_text_and_the_vector_as_feature_columns(tmp_path):
    from labelkit.settings.config import load_config

    folder = feature_folder(tmp_path / "w", n=(20, 10, 10))
    config = load_config(None, overrides={"data.wrench": str(folder), "task.name": "w"})
    assert config.data.text_column == "" and config.data.feature_columns == COLUMNS
    chosen = load_config(None, overrides={"data.wrench": str(folder), "task.name": "w",
                                          "data.feature_columns": "feature_0,feature_4"})
    assert chosen.data.text_column == "" and chosen.data.feature_columns == ["feature_0", "feature_4"]
    named = load_config(None, overrides={"data.wrench": str(folder), "task.name": "w", "data.text_column": "text"})
    assert named.data.text_column == "text" and named.data.feature_columns == []  # what the user named wins


def test_the_vector_is_read_as_one_numeric_column_per_position(tmp_path):
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data

    folder = feature_folder(tmp_path / "w", n=(20, 10, 10))
    data = load_task_data(load_config(None, overrides={"data.wrench": str(folder), "task.name": "w"}))
    train = data.frames["train"]
    assert list(train.columns) == ["id", *COLUMNS, "label"]
    assert all(pd.api.types.is_float_dtype(train[c]) for c in COLUMNS[:D_CONTINUOUS])
    assert all(pd.api.types.is_integer_dtype(train[c]) for c in COLUMNS[D_CONTINUOUS:])
    raw = json.loads((folder / "train.json").read_text())
    assert train.loc[0, COLUMNS].tolist() == pytest.approx(raw["t0"]["data"]["feature"])
    assert any("rows carry no text" in w and "feature_0 .. feature_6" in w for w in data.warnings), data.warnings


def test_a_feature_vector_set_builds_with_the_end_model_on_its_features(tmp_path):
    from labelkit.endmodel import load_end_model

    folder = feature_folder(tmp_path / "w")
    result = build(folder, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output and "rows carry no text" in result.output
    assert "The audit had no text column" in result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    systems = metrics["systems"]["systems"]
    assert systems["end_model"]["accuracy"] > systems["majority_class"]["accuracy"] + 0.1, systems
    assert systems["end_model"]["accuracy"] > systems["rule_baseline"]["accuracy"], systems
    note = next(w for w in metrics["warnings"] if w.startswith("The audit had no text column"))
    assert "near_duplicate_cross_split" in note and "outliers" in note and "skipped" in note
    assert "exact_duplicate_cross_split" in note and "label_issues" in note  # these ran on the features
    assert note in (tmp_path / "out" / "report.md").read_text().replace("\\_", "_")
    model = load_end_model(tmp_path / "out" / "model.skops")
    assert model.text_column == "" and model.feature_columns == COLUMNS and model.features == "feature_columns"
    encoded = {name: list(cols) for name, _, cols in model.pipeline.named_steps["features"].transformers_
               if name != "remainder"}
    assert encoded == {"numeric": COLUMNS[:D_CONTINUOUS], "categorical": COLUMNS[D_CONTINUOUS:]}  # codes one-hot


def test_the_saved_model_reloads_and_predicts_on_frames_of_feature_columns(tmp_path):
    import labelkit as lk
    from labelkit.endmodel import load_end_model
    from labelkit.errors import DatasetError

    folder = feature_folder(tmp_path / "w", n=(200, 80, 80))
    assert build_quietly(folder, tmp_path / "out").exit_code == 0
    test = pd.read_csv(tmp_path / "out" / "cleaned" / "test.csv")
    predictions = pd.read_csv(tmp_path / "out" / "test_predictions.csv")
    run = lk.load(tmp_path / "out")
    assert run.input_columns == COLUMNS
    proba = run.predict_proba(test[COLUMNS])
    assert proba.shape == (len(test), 2) and np.allclose(proba.sum(axis=1), 1)
    names = np.array(run.classes)[proba.argmax(axis=1)]
    assert names.tolist() == predictions["pred_end_model"].tolist()
    assert np.array_equal(load_end_model(tmp_path / "out" / "model.skops").predict_proba(test), proba)
    with pytest.raises(DatasetError, match=r"needs column\(s\) 'feature_1'"):
        run.predict_proba(test[["feature_0"]])


def test_the_audit_compares_feature_values_for_duplicates(tmp_path):
    folder = feature_folder(tmp_path / "w", n=(200, 80, 80))
    test_rows = json.loads((folder / "test.json").read_text())
    copied = list(test_rows)[0]
    edit_row(folder, "train", 5, lambda row: row["data"].__setitem__("feature", test_rows[copied]["data"]["feature"]))
    assert build_quietly(folder, tmp_path / "out").exit_code == 0
    findings = pd.read_csv(tmp_path / "out" / "audit_findings.csv", dtype=str)
    cross = findings[findings["reason"] == "exact_duplicate_cross_split"]
    assert set(zip(cross["split"], cross["row_id"])) == {("train", "t5"), ("test", copied)}
    assert cross["evidence"].str.contains("same feature values as").all()
    assert "identifier_leakage" not in set(findings["reason"])  # predictive inputs are not identifiers
    train = pd.read_csv(tmp_path / "out" / "cleaned" / "train.csv", dtype={"id": str})
    assert "t5" not in set(train["id"])  # the train copy of a test row is dropped, as for text


@pytest.mark.parametrize("split, change, message", [
    ("valid", lambda row: row["data"].pop("feature"), "has no such field where a feature vector 'feature' of 7 numbers"),
    ("test", lambda row: row["data"]["feature"].pop(), "field 'feature' has 6 values but row 't0' has 7"),
    ("train", lambda row: row["data"]["feature"].__setitem__(2, "x"), "holds 'x' at position 2 (column feature_2)"),
    ("train", lambda row: row["data"]["feature"].__setitem__(5, None), "holds None at position 5 (column feature_5)"),
    ("test", lambda row: row["data"].__setitem__("feature", "1,2,3"), "has a str ('1,2,3') where a feature vector"),
])
def test_a_missing_or_ragged_feature_vector_is_one_line_naming_file_and_row(tmp_path, split, change, message):
    folder = feature_folder(tmp_path / "w", n=(30, 12, 12))
    key = edit_row(folder, split, 3, change)
    line = one_error_line(build_quietly(folder, tmp_path / "out"))
    assert f"{split}.json: row {key!r}" in line and message in line, line
    assert not (tmp_path / "out").exists()


def test_a_named_text_field_that_is_absent_offers_the_feature_vector(tmp_path):
    folder = feature_folder(tmp_path / "w", n=(30, 12, 12))
    line = one_error_line(build_quietly(folder, tmp_path / "out", "--set", "data.text_column=text"))
    assert "train.json: rows have no data field 'text'" in line and "--set data.text_column=" in line
    assert "(fields: feature (a vector of 7 numbers))" in line and "feature vector ('feature')" in line


def test_a_served_feature_model_asks_for_numbers():
    from labelkit.serve.app import RequestError, check_fields

    check_fields([{"f_0": 1.5, "f_1": 2}], ["f_0", "f_1"], text=False, numbers=("f_0", "f_1"))
    with pytest.raises(RequestError, match="field 'f_1' must be a number, got 'x'"):
        check_fields([{"f_0": 1.5, "f_1": "x"}], ["f_0", "f_1"], text=False, numbers=("f_0", "f_1"))
    with pytest.raises(RequestError, match="missing field"):
        check_fields([{"f_0": 1.5}], ["f_0", "f_1"], text=False, numbers=("f_0", "f_1"))


def test_the_first_row_is_read_without_the_rest_of_the_file(tmp_path):
    from labelkit.wrench import feature_columns_of, first_row_data

    folder = tmp_path / "w"
    folder.mkdir()
    row = json.dumps({"label": 0, "weak_labels": [1], "data": {"feature": [0.5] * 3000, "note": "x"}}, indent=2)
    (folder / "train.json").write_text('\ufeff{\n "k" : ' + row + ',\n "broken": ')  # BOM; the rest is cut
    assert first_row_data(folder)["feature"] == [0.5] * 3000
    assert feature_columns_of(folder) == ([f"feature_{i}" for i in range(3000)], ["note"])
    (folder / "train.json").write_text('{"k": {"data": {"text": "hi", "feature": [1, 2]}}}')
    assert feature_columns_of(folder) is None  # rows with text keep their text
    (folder / "train.json").write_text("[1, 2]")
    assert first_row_data(folder) is None  # the loader names what is wrong


# ---------------------------------------------------------------- the shared WRENCH sets (skipped when absent)


def test_mushroom_reads_as_22_code_columns():
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data

    folder = SHARED / "wrench_mushroom"
    if not folder.is_dir():
        pytest.skip("../shared/data/wrench_mushroom not available")
    config = load_config(None, overrides={"data.wrench": str(folder), "task.name": "mushroom"})
    assert config.data.text_column == "" and len(config.data.feature_columns) == 22
    data = load_task_data(config)
    assert {split: len(f) for split, f in data.frames.items()} == {"train": 6499, "dev": 812, "test": 813}
    assert all(pd.api.types.is_integer_dtype(data.frames["train"][c]) for c in config.data.feature_columns)


@pytest.mark.slow
def test_mushroom_builds_an_end_model_on_its_features(tmp_path):
    folder = SHARED / "wrench_mushroom"
    if not folder.is_dir():
        pytest.skip("../shared/data/wrench_mushroom not available")
    result = CliRunner().invoke(cli, ["build", "--wrench", str(folder), "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    systems = json.loads((tmp_path / "out" / "metrics.json").read_text())["systems"]["systems"]
    end = systems["end_model"]["accuracy"]  # 98.8% on logistic_votes labels, 89.4% on weighted-majority ones
    assert end > 0.85 and end >= systems["rule_baseline"]["accuracy"], systems


@pytest.mark.slow
def test_census_reads_as_105_numeric_columns(tmp_path):
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data

    archive = SHARED / "wrench_census" / "census.tar.gz"
    if not archive.is_file():
        pytest.skip("../shared/data/wrench_census/census.tar.gz not available")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "census", filter="data")
    folder = next(p.parent for p in (tmp_path / "census").rglob("train.json"))
    config = load_config(None, overrides={"data.wrench": str(folder), "task.name": "census"})
    assert config.data.text_column == "" and len(config.data.feature_columns) == 105
    data = load_task_data(config)
    assert {split: len(f) for split, f in data.frames.items()} == {"train": 10083, "dev": 5561, "test": 16281}
