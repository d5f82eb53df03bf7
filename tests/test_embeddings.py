"""The embedding home (labelkit/embeddings.py) and the end model's embedding features.

Tests that need the optional extra (wordllama) skip with a reason when it is absent; the others use
the `lsa` model, which is fitted on the data itself, and never import wordllama."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import CLASSES, FAST_BUILD, make_frame
from labelkit import embeddings
from labelkit.settings.config import from_dict
from labelkit.embeddings import EmbeddingError, EmbeddingSetting, LsaModel, using
from labelkit.errors import ConfigError

HAS_WORDLLAMA = importlib.util.find_spec("wordllama") is not None
needs_wordllama = pytest.mark.skipif(not HAS_WORDLLAMA, reason="the optional extra is not installed: "
                                                               "pip install 'labelkit[embeddings]' (wordllama)")


def _frames(seed=0, n=240):
    frame = make_frame(n, np.random.default_rng(seed), "e")
    y = np.array([CLASSES.index(c) for c in frame["label"]])
    return frame, y


def test_config_section_checks_the_model_and_its_keys(tmp_path):
    assert from_dict({}).embeddings.model == "wordllama"
    assert from_dict({"embeddings": {"model": "lsa", "lsa_dimensions": 64}}).embeddings.lsa_dimensions == 64
    with pytest.raises(ConfigError, match=r"\[embeddings -> model\] is 'wordlama'; allowed: wordllama, minilm, lsa"):
        from_dict({"embeddings": {"model": "wordlama"}})
    with pytest.raises(ConfigError, match=r"\[embeddings -> modle\] is not a setting"):
        from_dict({"embeddings": {"modle": "lsa"}})
    with pytest.raises(ConfigError, match=r"lsa_dimensions\] is 1; allowed"):
        from_dict({"embeddings": {"lsa_dimensions": 1}})
    with pytest.raises(ConfigError, match="tfidf, ngrams, hashing, embeddings, tfidf\\+embeddings"):
        from_dict({"end_model": {"features": ["glove"]}})
    folder = tmp_path / "my_model"
    folder.mkdir()
    config = from_dict({"embeddings": {"model": "my_model"}}, root=tmp_path)
    assert embeddings.EmbeddingSetting.from_config(config).key() == str(folder.resolve())


def test_a_missing_package_is_one_line_naming_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wordllama" else real(name, *a))
    monkeypatch.setattr(embeddings, "_LOADED", {})
    with pytest.raises(EmbeddingError) as caught:
        embeddings.load_model("wordllama")
    message = str(caught.value)
    assert "\n" not in message and "pip install 'labelkit[embeddings]'" in message
    assert not embeddings.available("wordllama")
    with pytest.raises(EmbeddingError, match="fitted on a task's texts"):
        embeddings.load_model("lsa")
    # a config that uses it says so when it is loaded, before any work
    with pytest.raises(ConfigError, match=r"\[embeddings -> model\] is 'wordllama', whose package wordllama is not "
                                          r"installed: pip install 'labelkit\[embeddings\]'"):
        from_dict({"end_model": {"features": ["tfidf", "tfidf+embeddings"]}})
    assert from_dict({}).end_model.features == ["tfidf"]  # not used: nothing to install


def test_lsa_vectors_do_not_depend_on_the_batch():
    frame, _ = _frames()
    model = LsaModel.fit(frame["text"], dimensions=32)
    whole = model.embed(frame["text"].tolist())
    assert whole.shape == (len(frame), model.info.dim) and whole.dtype == np.float32
    one_by_one = np.vstack([model.embed([t]) for t in frame["text"][:30]])
    assert np.array_equal(one_by_one, whole[:30])
    assert np.allclose(np.linalg.norm(whole, axis=1)[np.abs(whole).sum(axis=1) > 0], 1, atol=1e-5)
    assert model.info.sha256 == LsaModel.fit(frame["text"], dimensions=32).info.sha256  # seeded


@pytest.mark.parametrize("features", ["embeddings", "tfidf+embeddings"])
def test_end_model_with_lsa_embeddings_saves_safely_and_serves_the_builds_probabilities(tmp_path, features):
    from labelkit.endmodel import train_end_model
    from labelkit.endmodel.store import load_end_model, save_end_model

    frame, y = _frames()
    with using(EmbeddingSetting(model="lsa", lsa_dimensions=32)):
        model = train_end_model(frame[:160], y[:160], tuple(CLASSES), text_column="text", dev=frame[160:],
                                y_dev=y[160:], soft=False, features=(features,), Cs=(1.0,))
    assert model.features == features
    path = tmp_path / "model.skops"
    save_end_model(model, path)
    first = path.read_bytes()
    loaded = load_end_model(path)
    test = make_frame(50, np.random.default_rng(9), "t")
    batch = loaded.predict_proba(test)
    assert np.array_equal(batch, model.predict_proba(test))
    served = np.vstack([loaded.predict_proba_rows([{"text": t}]) for t in test["text"]])
    assert np.array_equal(served, batch)
    save_end_model(loaded, path)
    assert path.read_bytes() == first  # byte-identical


def test_a_build_with_embedding_features_serves_what_it_predicted(tmp_path):
    """`labelkit build` with tfidf+embeddings: test_predictions.csv's end-model labels and the build's
    probabilities are what `labelkit serve`'s primary answers row by row."""
    from conftest import write_task
    from labelkit.runs import load_run
    from labelkit.serve.app import Primary

    task = write_task(tmp_path / "task", n_train=250, n_dev=100, n_test=80)
    with open(task, "a") as handle:
        handle.write('\n[embeddings]\nmodel = "lsa"\nlsa_dimensions = 32\n')
    out = task.parent / "out"
    result = subprocess.run([sys.executable, "-m", "labelkit.cli.main", "build", str(task), "--out", str(out), "-q",
                             "--no-audit", *FAST_BUILD, "--set", 'end_model.features=["tfidf+embeddings"]'],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["end_model"]["features"] == "tfidf+embeddings"
    manifest = json.loads((out / "manifest.json").read_text())  # the embedding model referenced, not copied
    [reference] = manifest["end_model"]["embeddings"]
    assert reference["name"] == "lsa" and len(reference["sha256"]) == 64
    run = load_run(out)
    primary = Primary.from_run(run)
    test = pd.read_csv(task.parent / "test.csv")
    predictions = pd.read_csv(out / "test_predictions.csv")
    test = test[test["id"].astype(str).isin(predictions["row_id"].astype(str))].reset_index(drop=True)
    rows = [{c: row[c] for c in primary.input_columns} for row in test.to_dict("records")]
    served = np.vstack([primary.answer([row]) for row in rows])
    assert np.array_equal(served, run.end_model.predict_proba(test))
    by_id = dict(zip(predictions["row_id"].astype(str), predictions["pred_end_model"]))
    assert [CLASSES[i] for i in served.argmax(axis=1)] == [by_id[str(i)] for i in test["id"]]


def test_a_model_file_refuses_a_different_embedding_model(tmp_path):
    from labelkit.endmodel import train_end_model
    from labelkit.endmodel.embedding_features import embedding_parts
    from labelkit.endmodel.store import load_end_model, save_end_model

    folder = _static_folder(tmp_path / "static")
    frame, y = _frames()
    with using(EmbeddingSetting(model=str(folder))):
        model = train_end_model(frame[:160], y[:160], tuple(CLASSES), text_column="text", dev=frame[160:],
                                y_dev=y[160:], soft=False, features=("embeddings",), Cs=(1.0,))
    reference = next(embedding_parts(model.pipeline)).embedding_
    assert reference["name"] == str(folder) and len(reference["sha256"]) == 64
    path = tmp_path / "model.skops"
    save_end_model(model, path)
    assert b"safetensors" not in path.read_bytes()  # a reference, never the weights
    assert np.array_equal(load_end_model(path).predict_proba(frame), model.predict_proba(frame))
    # the folder's weights change: the file no longer loads, in one line
    vectors = np.load(tmp_path / "vectors.npy")
    _write_static(folder, vectors * 2)
    embeddings._LOADED.pop(str(folder.resolve()), None)
    with pytest.raises(EmbeddingError) as caught:
        load_end_model(path)
    assert "\n" not in str(caught.value) and "sha256" in str(caught.value) and "rebuild" in str(caught.value)


def _static_folder(folder):
    """A model2vec-style static model folder (model.safetensors + tokenizer.json): a tiny word-level
    tokenizer over the synthetic tickets' words and seeded random vectors."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    frame, _ = _frames()
    words = sorted({w for t in frame["text"] for w in t.lower().split()})
    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(words)}}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    from tokenizers.normalizers import Lowercase

    tokenizer.normalizer = Lowercase()
    folder.mkdir(parents=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    vectors = np.random.default_rng(0).normal(size=(len(vocab), 16)).astype(np.float32)
    np.save(folder.parent / "vectors.npy", vectors)
    _write_static(folder, vectors)
    return folder


def _write_static(folder, vectors):
    from safetensors.numpy import save_file

    save_file({"embeddings": vectors}, str(folder / "model.safetensors"))


def test_a_static_model_folder_loads_once_and_drops_unknown_tokens(tmp_path):
    folder = _static_folder(tmp_path / "static")
    model = embeddings.load_model(str(folder))
    assert embeddings.load_model(str(folder)) is model  # once per process
    out = model.embed(["invoice refund", "zzzz qqqq", "", None])
    assert out.shape == (4, 16)
    assert np.isclose(np.linalg.norm(out[0]), 1, atol=1e-5)
    assert not out[1:].any()  # unknown words only / empty / missing: a zero vector


@needs_wordllama
def test_wordllama_loads_offline_and_matches_its_own_embed():
    import os

    import wordllama
    from wordllama import WordLlama

    model = embeddings.load_model("wordllama")
    assert model.info.dim == 256 and model.info.version and len(model.info.sha256) == 64
    texts = ["I was charged twice", "no internet since monday", "", "café 東京 🙂"] * 3
    ours = model.embed(texts)
    reference = WordLlama.load(cache_dir=os.path.dirname(wordllama.__file__), disable_download=True)
    theirs = reference.embed([t for t in texts if t], norm=True)
    assert np.allclose(ours[[i for i, t in enumerate(texts) if t]], theirs, atol=1e-6)
    assert not ours[2].any()
    assert np.array_equal(np.vstack([model.embed([t]) for t in texts]), ours)


@needs_wordllama
def test_wordllama_end_model_roundtrip(tmp_path):
    from labelkit.endmodel import train_end_model
    from labelkit.endmodel.store import load_end_model, save_end_model

    frame, y = _frames()
    with using(EmbeddingSetting(model="wordllama")):
        model = train_end_model(frame[:160], y[:160], tuple(CLASSES), text_column="text", dev=frame[160:],
                                y_dev=y[160:], soft=False, features=("tfidf+embeddings",), Cs=(1.0,))
    path = tmp_path / "m.skops"
    save_end_model(model, path)
    loaded = load_end_model(path)
    served = np.vstack([loaded.predict_proba_rows([{"text": t}]) for t in frame["text"][:40]])
    assert np.array_equal(served, model.predict_proba(frame[:40]))
