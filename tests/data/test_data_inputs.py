"""Data inputs beyond one CSV per split: several files, Parquet/JSONL, precomputed vote columns,
repeated ids, and label cells such as "NA" that pandas would otherwise turn into missing values."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from labelkit.cli.main import cli
from labelkit.settings.config import load_config
from labelkit.data.load import load_task_data
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
    assert any("1 row repeats an id" in w for w in data.warnings)


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
    from conftest import FAST_BUILD, write_task

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
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(tmp_path / "o"), "-q", "--no-audit", *FAST_BUILD,
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


# ---------------------------------------------------------------- files as users have them (issue 11 item 7)

SMS_LINES = [
    ("ham", 'Go until jurong point, crazy.. Available only in bugis n great world la e buffet... Cine there got amore wat...'),
    ("spam", "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121 \u00a31.50"),
    ("ham", '"Hey, are you coming?" she asked'),
    ("spam", "WINNER!! As a valued network customer you have been selected to receivea \u00a3900 prize reward!"),
]


def write_sms_task(folder, *, rows: int = 200, extra: str = ""):
    """A headerless, latin-1, tab-separated `label<TAB>text` file like the UCI SMS Spam Collection."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{label}\t{text} #{i}" for i in range(rows) for label, text in [SMS_LINES[i % len(SMS_LINES)]]]
    (folder / "SMSSpamCollection").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    (folder / "lfs.py").write_text("from labelkit import keywords\nk = keywords('spam', ['free', 'winner'], name='k')\n")
    config = folder / "labelkit.toml"
    config.write_text(
        '[task]\nname = "sms"\nclasses = ["ham", "spam"]\nlabeling_functions = ["lfs.py"]\n\n'
        '[data]\nlabeled = "SMSSpamCollection"\ndelimiter = "\\t"\nheader = false\ncolumn_names = ["label", "text"]\n'
        'encoding = "latin-1"\nquote = ""\nsplit = "random"\nsplit_fractions = [0.6, 0.2, 0.2]\nsplit_seed = 5\n' + extra)
    return config


def test_headerless_latin1_tsv_split_into_train_dev_test(tmp_path):
    config = write_sms_task(tmp_path / "sms")
    data = load_task_data(load_config(config, environ={}))
    frames = data.frames
    assert [len(frames[s]) for s in ("train", "dev", "test")] == [120, 40, 40]
    ids = [set(frames[s]["id"]) for s in ("train", "dev", "test")]
    assert set.union(*ids) == {str(i) for i in range(1, 201)} and sum(map(len, ids)) == 200  # line numbers, disjoint
    assert "label" not in frames["train"].columns  # LFs never see the train part's labels
    texts = pd.concat([frames[s]["text"] for s in ("dev", "test")]).tolist()
    assert any("\u00a31.50" in t for t in texts) and any(t.startswith('"Hey, are you coming?"') for t in texts)
    by_id = {row.id: row.label for s in ("dev", "test") for row in frames[s].itertuples()}
    assert all(by_id[i] == SMS_LINES[(int(i) - 1) % 4][0] for i in by_id)  # labels stay with their rows
    again = load_task_data(load_config(config, environ={}))
    assert again.frames["test"]["id"].tolist() == frames["test"]["id"].tolist()  # seeded
    other = load_task_data(load_config(config, overrides={"data.split_seed": "6"}, environ={}))
    assert other.frames["test"]["id"].tolist() != frames["test"]["id"].tolist()
    assert "random, split_seed 5" in data.inputs["test"]["split"]


def test_a_wrong_encoding_names_the_option(tmp_path):
    config = write_sms_task(tmp_path / "sms")
    with pytest.raises(DatasetError, match=r"Cannot decode .*SMSSpamCollection as utf-8 \(byte 0xa3 .*set \[data -> encoding\]"):
        load_task_data(load_config(config, overrides={"data.encoding": "utf-8"}, environ={}))


def test_quotes_as_plain_text_need_the_quote_option(tmp_path):
    config = write_sms_task(tmp_path / "sms", rows=3)
    (config.parent / "SMSSpamCollection").write_bytes(b'ham\t"unclosed quote\nspam\tfree\n')
    with pytest.raises(DatasetError, match=r'set \[data -> quote\] = ""'):
        load_task_data(load_config(config, overrides={"data.quote": '"\\""'}, environ={}))


def test_time_ordered_split(tmp_path):
    from conftest import make_frame

    folder = tmp_path / "t"
    folder.mkdir()
    frame = make_frame(100, np.random.default_rng(0), "r")
    frame.loc[[3, 50], "label"] = None  # unlabeled rows go to train
    frame.to_csv(folder / "all.csv", index=False)
    (folder / "lfs.py").write_text("")
    config = folder / "labelkit.toml"
    config.write_text('[task]\nclasses = ["billing", "connectivity", "cancellation"]\n\n'
                      '[data]\nlabeled = "all.csv"\nsplit = "time"\ntime_column = "created_at"\n'
                      'split_fractions = [0.5, 0.25, 0.25]\n')
    data = load_task_data(load_config(config, environ={}))
    train, dev, test = (pd.to_datetime(data.frames[s]["created_at"]) for s in ("train", "dev", "test"))
    assert [len(data.frames[s]) for s in ("train", "dev", "test")] == [52, 24, 24]  # 98 labeled + 2 unlabeled
    labeled_train = train[~data.frames["train"]["id"].isin(["r00003", "r00050"])]
    assert labeled_train.max() <= dev.min() and dev.max() <= test.min()
