"""Data inputs beyond one CSV per split: several files, Parquet/JSONL, precomputed vote columns,
repeated ids, and label cells such as "NA" that pandas would otherwise turn into missing values."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from labelkit.cli.main import cli
from labelkit.config import load_config
from labelkit.data import load_task_data
from labelkit.errors import DatasetError


def test_several_train_files_and_other_formats(task):
    folder = task.parent
    train = pd.read_csv(folder / "train.csv")
    train.iloc[:150].to_parquet(folder / "train_a.parquet")
    train.iloc[150:].to_json(folder / "train_b.jsonl", orient="records", lines=True)
    config = load_config(task, overrides={"data.train": '["train_a.parquet", "train_b.jsonl"]'}, environ={})
    data = load_task_data(config)
    assert len(data.frames["train"]) == len(train)
    assert data.frames["train"]["id"].tolist() == train["id"].tolist()
    assert len(data.inputs["train"]["files_sha256"]) == 2


def test_repeated_ids_are_renamed_with_a_warning(task):
    path = task.parent / "train.csv"
    train = pd.read_csv(path)
    train.loc[5, "id"] = train.loc[4, "id"]
    train.to_csv(path, index=False)
    data = load_task_data(load_config(task, environ={}))
    ids = data.frames["train"]["id"]
    assert ids.is_unique and ids.iloc[5] == f"{train.loc[4, 'id']}~2"
    assert any("repeat an id" in w for w in data.warnings)


def test_labels_like_NA_stay_strings(tmp_path):
    from conftest import write_task

    config = write_task(tmp_path / "t")
    text = config.read_text().replace('classes = ["billing", "connectivity", "cancellation"]',
                                      'classes = ["billing", "connectivity", "NA"]')
    config.write_text(text)
    for split in ("dev", "test"):
        frame = pd.read_csv(config.parent / f"{split}.csv")
        frame["label"] = frame["label"].replace({"cancellation": "NA"})
        frame.to_csv(config.parent / f"{split}.csv", index=False)
    data = load_task_data(load_config(config, environ={}))
    assert (data.gold["dev"] == 2).sum() > 10


def test_build_from_precomputed_vote_columns(tmp_path):
    from conftest import write_task

    config = write_task(tmp_path / "t")
    rng = np.random.default_rng(1)
    for split in ("train", "dev", "test"):
        path = config.parent / f"{split}.csv"
        frame = pd.read_csv(path)
        truth = frame["label"] if "label" in frame else pd.Series(rng.choice(["billing", "connectivity", "cancellation"], len(frame)))
        for worker, accuracy in (("w1", 0.9), ("w2", 0.8), ("w3", 0.7)):
            noisy = np.where(rng.random(len(frame)) < accuracy, truth, rng.choice(["billing", "connectivity", "cancellation"], len(frame)))
            frame[worker] = np.where(rng.random(len(frame)) < 0.8, noisy, "")
        frame.to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(tmp_path / "o"), "-q", "--no-audit",
                                      "--set", 'data.vote_columns=["w1", "w2", "w3"]'])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert [lf["name"] for lf in metrics["lf_summary"]] == ["w1", "w2", "w3"]
    assert metrics["systems"]["systems"]["label_model"]["accuracy"] > 0.75


def test_vote_values_outside_the_classes(tmp_path):
    from conftest import write_task

    config = write_task(tmp_path / "t")
    for split in ("train", "dev", "test"):
        path = config.parent / f"{split}.csv"
        frame = pd.read_csv(path)
        frame["w1"] = "billing"
        if split == "dev":
            frame.loc[3, "w1"] = "refunds"
        frame.to_csv(path, index=False)
    with pytest.raises(DatasetError, match="refunds"):
        load_task_data(load_config(config, overrides={"data.vote_columns": '["w1"]'}, environ={}))
