"""The compiled text scorer (labelkit/endmodel/scorer.py): a served answer without the Pipeline's
per-call cost, with the Pipeline's probabilities.

The reference is always scikit-learn itself: the fitted Pipeline's predict_proba on the whole
frame. The scorer must match it on the bundled example's test rows, on odd texts (empty, whitespace
only, accents, other scripts, emoji, ligatures, over the text length limit), on random unicode, and
for every vectorizer/classifier setting it claims to cover; anything else must not be compiled and
must still get the Pipeline's answer.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CLASSES, make_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelkit.endmodel import EndModel, load_end_model, save_end_model, train_end_model
from labelkit.endmodel.model import FAST_PATH_ROWS
from labelkit.endmodel.scorer import TextScorer
from labelkit.errors import DatasetError

BUNDLED = Path(__file__).resolve().parents[2] / "datasets" / "support_tickets"
ODD_TEXTS = ["", " ", "\t\n  \r", "a", "I", "é", "e\u0301cole", "ÉCOLE naïve café — 東京 🙂", "ﬁ ligature ǅ İstanbul",
             "Ω≈ç√∫˜µ≤≥÷", "nbsp\u00a0between\u2028lines", "\x00 nul", "refund " * 3000, "x" * 25_000,
             "my invoice my invoice INVOICE", "Ich möchte meine Rechnung sehen, bitte!"]


def _pipeline_proba(model: EndModel, frame: pd.DataFrame) -> np.ndarray:
    """scikit-learn's answer on the whole frame, over all task classes."""
    out = np.zeros((len(frame), len(model.classes)))
    out[:, np.asarray(model.pipeline.classes_, dtype=np.int64)] = model.pipeline.predict_proba(model._prepare(frame))
    return out


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """labelkit's end model (word + char_wb tf-idf, LogisticRegression) on the bundled example's gold dev
    rows, saved and loaded back as `labelkit serve` loads it; and the bundled test rows."""
    dev = pd.read_csv(BUNDLED / "dev.csv", keep_default_na=False, dtype=str)
    test = pd.read_csv(BUNDLED / "test.csv", keep_default_na=False, dtype=str)
    classes = ("billing", "connectivity", "account", "cancellation", "other")
    y = np.array([classes.index(c) for c in dev["label"]])
    model = train_end_model(dev, y, classes, text_column="text", dev=dev.iloc[:100], y_dev=y[:100], soft=False,
                            Cs=[1.0], id_column="ticket_id")
    path = tmp_path_factory.mktemp("scorer") / "model.skops"
    save_end_model(model, path)
    loaded = load_end_model(path)
    assert loaded.compile()
    return loaded, test


def test_compiled_answers_equal_the_pipeline_on_the_bundled_test_rows_and_odd_texts(bundled):
    model, test = bundled
    reference = _pipeline_proba(model, test)
    batches = [model.predict_proba(test.iloc[i:i + FAST_PATH_ROWS]) for i in range(0, len(test), FAST_PATH_ROWS)]
    np.testing.assert_allclose(np.vstack(batches), reference, rtol=0, atol=1e-12)
    rows = [{"text": t} for t in test["text"][:200]]
    one_by_one = np.vstack([model.predict_proba_rows([row]) for row in rows])
    np.testing.assert_allclose(one_by_one, reference[:200], rtol=0, atol=1e-12)

    odd = pd.DataFrame({"text": ODD_TEXTS})
    np.testing.assert_allclose(model.predict_proba_rows(odd.to_dict("records")), _pipeline_proba(model, odd),
                               rtol=0, atol=1e-12)
    assert model.max_text_chars < 25_000  # the long text is cut at the same place on both paths


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=200), min_size=1, max_size=FAST_PATH_ROWS))
def test_compiled_answers_equal_the_pipeline_on_random_unicode(bundled, texts):
    model, _ = bundled
    np.testing.assert_allclose(model.predict_proba_rows([{"text": t} for t in texts]),
                               _pipeline_proba(model, pd.DataFrame({"text": texts})), rtol=0, atol=1e-12)


def _variant(vectorizers, classes, *, dtype=np.float32, **logistic):
    """A fitted text-only pipeline shaped like labelkit's (ColumnTransformer -> FeatureUnion), wrapped."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    frame = make_frame(240, np.random.default_rng(5), "v")
    frame = frame[frame["label"].isin(classes)]
    y = np.array([classes.index(c) for c in frame["label"]])
    features = ColumnTransformer([("text", FeatureUnion(vectorizers), "text")], sparse_threshold=1.0)
    pipeline = Pipeline([("features", features), ("model", LogisticRegression(max_iter=500, **logistic))])
    pipeline.fit(frame.assign(text=frame["text"].astype(str)), y)
    return EndModel(pipeline=pipeline, classes=tuple(classes), C=1.0), frame


def _vectorizer_variants():
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    return {
        "ngrams_counts": [("words", CountVectorizer(ngram_range=(1, 5), dtype=np.float32))],
        "float64_l1_binary_no_idf": [("w", TfidfVectorizer(norm="l1", binary=True, use_idf=False)),
                                     ("c", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), dtype=np.float64))],
        "ascii_accents_no_norm": [("w", TfidfVectorizer(strip_accents="ascii", norm=None, lowercase=False,
                                                        smooth_idf=False, dtype=np.float32))],
    }


@pytest.mark.parametrize("name", ["ngrams_counts", "float64_l1_binary_no_idf", "ascii_accents_no_norm"])
def test_every_covered_vectorizer_setting_matches(name):
    model, frame = _variant(_vectorizer_variants()[name], list(CLASSES))
    assert model.compile()
    texts = pd.DataFrame({"text": list(frame["text"][:40]) + ODD_TEXTS[:12] + ["Ünïcödé ÀÉÎ accents"]})
    np.testing.assert_allclose(model.predict_proba(texts), _pipeline_proba(model, texts), rtol=0, atol=1e-12)


def test_a_binary_model_matches_with_its_shifted_intercept():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from labelkit.endmodel.threshold import shift_intercept

    model, frame = _variant([("w", TfidfVectorizer(dtype=np.float32))], CLASSES[:2])
    shift_intercept(model.pipeline.steps[-1][1], 1, 0.3)  # what a build with a decision threshold stores
    assert model.compile()
    texts = pd.DataFrame({"text": list(frame["text"][:30]) + ODD_TEXTS[:5]})
    got = model.predict_proba(texts)
    np.testing.assert_allclose(got, _pipeline_proba(model, texts), rtol=0, atol=1e-12)
    assert got.shape == (len(texts), 2)


def test_models_it_does_not_cover_are_not_compiled_and_keep_the_pipelines_answer(bundled):
    from sklearn.feature_extraction.text import HashingVectorizer

    bundled_model, test = bundled
    frame = make_frame(200, np.random.default_rng(1), "f")
    y = np.array([CLASSES.index(c) for c in frame["label"]])
    tabular = train_end_model(frame, y, tuple(CLASSES), text_column="text", dev=frame[:60], y_dev=y[:60], soft=False,
                              feature_columns=["country"])
    hashing, _ = _variant([("h", HashingVectorizer(n_features=2 ** 12))], list(CLASSES))
    for model, columns in ((tabular, ["text", "country"]), (hashing, ["text"])):
        assert not model.compile() and model._scorer is None
        rows = frame[columns].iloc[:5]
        np.testing.assert_allclose(model.predict_proba_rows(rows.to_dict("records")), _pipeline_proba(model, rows),
                                   rtol=0, atol=1e-12)
    # compiled, but a row without its text (or with a non-string one) goes the Pipeline's way: one clear error
    with pytest.raises(DatasetError, match="'text'"):
        bundled_model.predict_proba_rows([{"country": "FR"}])
    assert TextScorer.compile(tabular.pipeline) is None
    big = test.iloc[:FAST_PATH_ROWS + 1]  # over the fast-path size: the Pipeline answers
    np.testing.assert_allclose(bundled_model.predict_proba(big), _pipeline_proba(bundled_model, big),
                               rtol=0, atol=1e-12)
