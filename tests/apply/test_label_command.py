"""`labelkit label`: chunked labelling of a big file equals labelling it in memory."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner

from labelkit.cli.main import cli


def test_chunked_labels_equal_in_memory_labels(task, tmp_path):
    train = pd.read_csv(task.parent / "train.csv", dtype={"id": str})
    big = pd.concat([train] * 6, ignore_index=True)
    big["id"] = [f"b{i:05d}" for i in range(len(big))]
    source = tmp_path / "big.parquet"
    big.to_parquet(source)
    out = tmp_path / "labels.parquet"
    before = source.read_bytes()
    result = CliRunner().invoke(cli, ["label", str(task), "--input", str(source), "--out", str(out),
                                      "--chunk-rows", "1000", "--json", "-q"])
    assert result.exit_code == 0, result.output
    assert source.read_bytes() == before
    summary = json.loads(result.output)
    labels = pd.read_parquet(out)
    assert summary["rows"] == len(big) == len(labels)
    assert labels["id"].tolist() == big["id"].tolist()

    # the same model fitted in memory on all rows gives the same probabilities
    from labelkit.apply import apply_lfs
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_split
    from labelkit.labelmodels import class_balance_from_dev, make_label_model
    from labelkit.lfs import load_lfs

    config = load_config(task, environ={})
    lfs = load_lfs([task.parent / "lfs.py"])
    classes = tuple(config.task.classes)
    L = apply_lfs(lfs, big, classes, text_column="text").L
    _, y_dev = load_split(config, "dev")
    prior = class_balance_from_dev(y_dev, len(classes))
    model = make_label_model(summary["label_model"])
    if getattr(model, "uses_dev", False):
        dev, _ = load_split(config, "dev")
        model.use_dev(apply_lfs(lfs, dev, classes, text_column="text").L, y_dev)
    model.fit(L, cardinality=len(classes), class_balance=prior, seed=config.task.seed)
    expected = model.predict_proba(L)
    got = labels[[f"prob_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert labels["covered"].tolist() == (L >= 0).any(axis=1).tolist()


def test_missing_input_is_one_line(task, tmp_path):
    result = CliRunner().invoke(cli, ["label", str(task), "--input", str(tmp_path / "nope.parquet"),
                                      "--out", str(tmp_path / "o.parquet")])
    assert result.exit_code == 1 and result.output.startswith("error: ") and "does not exist" in result.output
