"""The paths a build takes at scale, on tiny data with low thresholds: fast hashing equal to
scikit-learn's, the streaming end model (C on a sample, one final fit, cached / parallel hashing),
comparison models trained on a sample that say so, and the large-table writers."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import CLASSES, make_frame

from labelkit.endmodel import train_end_model

K = len(CLASSES)
TEXTS = ["", "a", "I was charged  twice\ton my invoice!", "Café déjà vu, naïve résumé", "x y z x y z x",
         "=HYPERLINK(1)", "numbers 123 456 123", "ÉCOLE école", " leading and trailing ", "one"]


@pytest.fixture(scope="module")
def splits():
    rng = np.random.default_rng(5)
    train, dev, test = make_frame(400, rng, "tr"), make_frame(120, rng, "dv"), make_frame(150, rng, "te")
    y = {name: np.array([CLASSES.index(c) for c in f["label"]]) for name, f in (("train", train), ("dev", dev),
                                                                                   ("test", test))}
    return train, dev, test, y


def _soft(y, confidence=0.7):
    proba = np.full((len(y), K), (1 - confidence) / (K - 1))
    proba[np.arange(len(y)), y] = confidence
    return proba


def _stream(train, dev, y, **options):
    options = {"Cs": [1.0], **options}
    return train_end_model(train, _soft(y["train"]), tuple(CLASSES), text_column="text", dev=dev, y_dev=y["dev"],
                           stream_rows=1, seed=3, **options)


def test_fast_hashing_equals_scikit_learn(splits):
    from labelkit.endmodel.features import build_features, prepare_frame, text_vectorizers
    from labelkit.endmodel.hashing import FastHashingVectorizer, fast_featurizer

    train = splits[0]
    frame = pd.concat([train.head(100), pd.DataFrame({"id": range(len(TEXTS)), "text": TEXTS, "country": "FR"})],
                      ignore_index=True)
    for _, vectorizer in text_vectorizers("hashing", max_features=0):
        fast = FastHashingVectorizer(**vectorizer.get_params())
        assert abs(fast.transform(frame["text"]) - vectorizer.transform(frame["text"])).max() == 0
    features = build_features("hashing", "text", [], ["country"], max_features=0)
    prepared = prepare_frame(frame, "text")[0]
    features.fit(prepared)
    expected, got = features.transform(prepared), fast_featurizer(features).transform(prepared)
    assert got.shape == expected.shape and got.nnz == expected.nnz and abs(got - expected).max() == 0
    assert all(type(v).__name__ == "HashingVectorizer" for _, v in features.transformers_[0][1].transformer_list)


def test_streaming_chooses_C_on_a_sample_then_fits_all_rows_once(splits, monkeypatch):
    from labelkit.endmodel import stream

    train, dev, test, y = splits
    monkeypatch.setattr(stream, "SEARCH_ROWS", 150)
    lines = []
    model = _stream(train, dev, y, Cs=[0.1, 1.0, 10.0], progress=lines.append)
    assert model.kind == "streaming_sgd" and len(model.dev_scores) == 2  # every other C: 0.1, 10
    assert "seeded sample of 150 rows" in model.notes[-1] and f"over the {len(train)} rows" in model.notes[-1]
    assert any("final fit on all 400 rows" in line for line in lines)
    assert lines[-1].startswith("end model (streaming): 2,000/2,000 rows")  # 400 rows x 5 passes
    assert np.mean(model.predict(test) == y["test"]) > 0.85
    again = _stream(train, dev, y, Cs=[0.1, 1.0, 10.0])
    assert np.array_equal(again.pipeline[-1].coef_, model.pipeline[-1].coef_)


def test_cached_and_parallel_hashing_fit_the_same_model(splits, monkeypatch):
    from labelkit.endmodel import stream

    train, dev, _, y = splits
    monkeypatch.setattr(stream, "CHUNK_ROWS", 150)  # 3 chunks
    reference = _stream(train, dev, y).pipeline[-1].coef_  # chunks hashed once, kept for passes 2-5
    monkeypatch.setattr(stream, "CACHE_NNZ", 0)  # every pass hashes again ...
    monkeypatch.setattr(stream, "PARALLEL_ROWS", 1)  # ... in forked worker processes
    assert np.array_equal(_stream(train, dev, y).pipeline[-1].coef_, reference)


def test_comparison_models_past_stream_rows_train_on_a_sample_and_say_so(splits, monkeypatch):
    from labelkit.pipeline import stages
    from labelkit.settings.config import from_dict
    from labelkit.data.load import TaskData
    from labelkit.schema import LabelSchema

    train, dev, test, y = splits
    monkeypatch.setattr(stages, "COMPARE_ROWS", 120)
    config = from_dict({"task": {"classes": CLASSES, "seed": 1},
                        "end_model": {"C": [1.0], "stream_rows": 300}})
    data = TaskData(LabelSchema(tuple(CLASSES)), {"train": train, "dev": dev, "test": test},
                    {"dev": y["dev"], "test": y["test"]})
    L = np.zeros((len(train), 1), dtype=np.int8)
    end_model, hard = stages.fit_end_models(config, data, _soft(y["train"]), L, np.full(K, 1 / K))
    assert end_model.kind == hard.kind == "streaming_sgd"
    assert hard.comparison_sampling["sampled_rows"] == 120 and hard.train_rows == 120
    assert "stream_rows" in hard.comparison_sampling["note"] and "400" in hard.comparison_sampling["note"]
    config.end_model.stream_rows = 1000  # below stream_rows: every row, nothing to say
    _, hard = stages.fit_end_models(config, data, _soft(y["train"]), L, np.full(K, 1 / K))
    assert hard.comparison_sampling == {} and hard.train_rows == len(train)


@pytest.mark.slow
def test_a_build_past_stream_rows_says_which_comparisons_were_sampled(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from conftest import write_task

    from labelkit.pipeline import stages
    from labelkit.cli.main import cli

    monkeypatch.setattr(stages, "COMPARE_ROWS", 150)
    config = write_task(tmp_path / "task", n_train=600)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(out), "-q", "--set", "end_model.stream_rows=200"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["end_model"]["kind"] == "streaming_sgd"
    assert metrics["systems"]["systems"]["end_model_hard_labels"]["sampled_rows"] == 150
    assert metrics["audit"]["before_after"]["sampled_rows"] == 150
    assert "stream_rows" in metrics["audit"]["before_after"]["note"]
    holdout = metrics["drift"]["temporal_holdout"]
    assert "skipped" in holdout or holdout["sampled_rows"] == 150


def test_large_table_writers_write_the_same_bytes_in_chunks(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from labelkit.pipeline import artifacts
    from labelkit.settings.config import from_dict
    from labelkit.io.files import write_review_csv
    from labelkit.labelmodels import hard_predictions
    from labelkit.wrench import write_wrench

    frame = pd.DataFrame({"id": ["a", "b", "=c", "d", "e"], "text": ["héllo \"q\"\n", None, "=SUM(1)", "x\u2028y", "+1"]})
    L = np.array([[0, -1], [1, 2], [-1, -1], [0, 0], [2, -1]], dtype=np.int8)
    write_wrench(tmp_path / "w", {"train": (frame, L, None), "test": (frame, L, np.array([0, 1, 2, 0, 1]))}, CLASSES,
                 "text", id_column="id")  # written row by row: the bytes of json.dumps of the whole split
    whole = {key: {"data": {"text": None if pd.isna(text) else text}, "label": label, "weak_labels": [int(v) for v in row]}
             for key, text, label, row in zip(frame["id"], frame["text"], [None] * len(frame), L)}
    assert (tmp_path / "w" / "train.json").read_bytes() == json.dumps(whole, ensure_ascii=False, indent=1).encode()
    for entry, label in zip(whole.values(), [0, 1, 2, 0, 1]):
        entry["label"] = label
    assert (tmp_path / "w" / "test.json").read_bytes() == json.dumps(whole, ensure_ascii=False, indent=1).encode()

    proba = np.tile([0.5, 0.3, 0.2], (len(frame), 1))
    config = from_dict({"task": {"classes": ["=x", *CLASSES[1:]]}, "data": {"id_column": "id"}})
    data = SimpleNamespace(schema=SimpleNamespace(classes=("=x", *CLASSES[1:])), frames={"train": frame})
    votes = SimpleNamespace(L={"train": L}, lf_names=["kw", "=lf"])
    selection = SimpleNamespace(prior=np.full(K, 1 / K))
    monkeypatch.setattr(artifacts, "TRAIN_LABELS_CHUNK", 2)
    artifacts._write_train_labels(tmp_path, config, data, votes, proba, selection, selection.prior)
    names = np.array(["=x", *CLASSES[1:], ""], dtype=object)  # the table as it was built before, whole
    table = pd.DataFrame({"id": frame["id"], "text": frame["text"], "lf_kw": names[L[:, 0]], "lf_=lf": names[L[:, 1]],
                          **{f"prob_{c}": proba[:, k] for k, c in enumerate(data.schema.classes)},
                          "weak_label": names[hard_predictions(proba, selection.prior)], "covered": (L >= 0).any(axis=1)})
    write_review_csv(table, tmp_path / "whole.csv")
    assert (tmp_path / "train_labels.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
