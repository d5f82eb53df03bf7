"""Label models on seeded synthetic votes with known LF accuracies, plus the shared contract."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelkit.errors import ConfigError, LabelModelError
from labelkit.labelmodels import (
    LABEL_MODELS,
    class_balance_from_dev,
    fit_on_patterns,
    hard_predictions,
    make_label_model,
    select_label_model,
)

FAST_OPTIONS = {"snorkel": {"n_epochs": 200}}


def synthetic_votes(n, accuracies, coverages, *, k=2, class_balance=None, seed=0):
    """y ~ class_balance; LF j votes with prob coverages[j], right with prob accuracies[j],
    otherwise a uniformly chosen wrong class (the symmetric one-coin model)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(k, size=n, p=class_balance)
    m = len(accuracies)
    right = rng.random((n, m)) < np.asarray(accuracies)
    wrong = (y[:, None] + rng.integers(1, k, size=(n, m))) % k
    votes = np.where(right, y[:, None], wrong)
    covered = rng.random((n, m)) < np.asarray(coverages)
    return np.where(covered, votes, -1).astype(np.int8), y


def build(name, lfs: int = 3):
    model = make_label_model(name, **FAST_OPTIONS.get(name, {}))
    if name == "logistic_votes":  # learns from gold dev rows only
        model.use_dev(*synthetic_votes(200, [0.8] * lfs, [0.6] * lfs, seed=99))
    return model


def accuracy(model, L, y):
    return float(np.mean(hard_predictions(model.predict_proba(L), model.prior) == y))


UNEVEN_ACC = [0.92, 0.88, 0.62, 0.58, 0.58]
UNEVEN_COV = [0.9, 0.9, 0.9, 0.9, 0.9]


@pytest.fixture(scope="module")
def uneven():
    return synthetic_votes(3000, UNEVEN_ACC, UNEVEN_COV, seed=1)


@pytest.fixture(scope="module")
def uneven_dev():
    return synthetic_votes(400, UNEVEN_ACC, UNEVEN_COV, seed=2)


@pytest.mark.parametrize("name", ["weighted_majority", "snorkel", "dawid_skene"])
def test_models_recover_lf_accuracies(name, uneven):
    L, _ = uneven
    model = build(name).fit(L, cardinality=2, seed=0)
    np.testing.assert_allclose(model.lf_accuracies(), UNEVEN_ACC, atol=0.06)


def test_weighted_majority_dev_accuracies_match_counts(uneven, uneven_dev):
    L, _ = uneven
    L_dev, y_dev = uneven_dev
    model = make_label_model("weighted_majority", prior_strength=0.0).use_dev(L_dev, y_dev).fit(L, cardinality=2)
    voted = L_dev >= 0
    expected = ((L_dev == y_dev[:, None]) & voted).sum(0) / voted.sum(0)
    np.testing.assert_allclose(model.lf_accuracies(), np.clip(expected, 0.02, 0.98), atol=1e-12)


@pytest.mark.parametrize("name", ["weighted_majority", "snorkel", "dawid_skene"])
def test_models_beat_majority_when_lf_accuracies_differ(name, uneven):
    L, y = uneven
    majority = accuracy(make_label_model("majority").fit(L, cardinality=2), L, y)
    learned = accuracy(build(name).fit(L, cardinality=2, seed=0), L, y)
    assert learned > majority + 0.02, (learned, majority)


def test_dawid_skene_multiclass_recovers_confusions():
    L, y = synthetic_votes(4000, [0.85, 0.75, 0.65, 0.55], [0.8] * 4, k=3, class_balance=[0.5, 0.3, 0.2], seed=3)
    model = make_label_model("dawid_skene").fit(L, cardinality=3)
    assert model.abstain_as_vote_ is False
    np.testing.assert_allclose(model.lf_accuracies(), [0.85, 0.75, 0.65, 0.55], atol=0.04)
    np.testing.assert_allclose(model.prior, [0.5, 0.3, 0.2], atol=0.04)
    assert accuracy(model, L, y) > accuracy(make_label_model("majority").fit(L, cardinality=3), L, y)


def test_dawid_skene_uses_abstains_when_lfs_are_unipolar():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, size=2000)
    fires = rng.random((2000, 4)) < np.array([0.6, 0.5, 0.6, 0.5])
    wrong = rng.random((2000, 4)) < 0.1  # 10% of firings on the other class
    target = np.array([1, 1, 0, 0])
    fire = fires & ((y[:, None] == target) ^ wrong)
    L = np.where(fire, target, -1).astype(np.int8)
    auto = make_label_model("dawid_skene").fit(L, cardinality=2)
    assert auto.abstain_as_vote_ is True
    textbook = make_label_model("dawid_skene", abstain_as_vote=False).fit(L, cardinality=2)
    assert accuracy(textbook, L, y) < 0.55  # collapses: unipolar votes carry no evidence
    assert accuracy(auto, L, y) > 0.81


@pytest.mark.parametrize("name", sorted(LABEL_MODELS))
def test_unique_pattern_fit_equals_full_fit(name):
    L, _ = synthetic_votes(800, [0.85, 0.7, 0.6, 0.75], [0.5, 0.6, 0.4, 0.7], seed=5)
    full = build(name, 4).fit(L, cardinality=2, seed=3)
    patterns, counts = np.unique(L, axis=0, return_counts=True)
    compressed = build(name, 4).fit(patterns, cardinality=2, seed=3, sample_weight=counts)
    helper = fit_on_patterns(build(name, 4), L, cardinality=2, seed=3)
    np.testing.assert_allclose(compressed.predict_proba(L), full.predict_proba(L), atol=1e-6)
    np.testing.assert_allclose(helper.predict_proba(L), full.predict_proba(L), atol=1e-6)


@pytest.mark.parametrize("name", sorted(LABEL_MODELS))
def test_all_abstain_rows_get_the_prior_and_rows_sum_to_one(name):
    L, _ = synthetic_votes(500, [0.8, 0.7, 0.75], [0.5, 0.5, 0.5], seed=6)
    prior = np.array([0.7, 0.3])
    model = build(name).fit(L, cardinality=2, class_balance=prior, seed=0)
    proba = model.predict_proba(np.vstack([L, -np.ones((2, 3), dtype=np.int8)]))
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(proba[-2:], [prior, prior], atol=1e-12)
    uniform = build(name).fit(L, cardinality=2, seed=0).predict_proba(np.full((1, 3), -1, dtype=np.int8))
    if name != "dawid_skene":  # Dawid-Skene estimates the class balance unless it is given
        np.testing.assert_allclose(uniform, [[0.5, 0.5]], atol=1e-12)


@pytest.mark.parametrize("name", sorted(LABEL_MODELS))
def test_fit_is_deterministic(name):
    L, _ = synthetic_votes(300, [0.8, 0.7, 0.75], [0.6, 0.6, 0.6], seed=7)
    first = build(name).fit(L, cardinality=2, seed=11).predict_proba(L)
    second = build(name).fit(L, cardinality=2, seed=11).predict_proba(L)
    np.testing.assert_array_equal(first, second)


def test_majority_vote_shares_and_explicit_ties():
    L = np.array([[0, 0, 1], [0, 1, -1], [-1, -1, -1], [2, -1, -1]], dtype=np.int8)
    proba = make_label_model("majority").fit(L, cardinality=3).predict_proba(L)
    np.testing.assert_allclose(proba, [[2 / 3, 1 / 3, 0], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3], [0, 0, 1]])


def test_hard_predictions_tie_policy():
    proba = np.array([[0.5, 0.5, 0.0], [0.2, 0.4, 0.4], [0.6, 0.3, 0.1], [1 / 3, 1 / 3, 1 / 3]])
    prior = np.array([0.2, 0.3, 0.5])
    assert hard_predictions(proba, prior).tolist() == [1, 2, 0, 2]
    assert hard_predictions(proba[:1], np.array([0.5, 0.5, 0.0])).tolist() == [0]  # prior tied: lowest index


def test_class_balance_from_dev_smooths_and_warns():
    y = np.array([0] * 60 + [1] * 40)
    np.testing.assert_allclose(class_balance_from_dev(y, 2), [61 / 102, 41 / 102])
    with pytest.warns(UserWarning, match="class"):
        balance = class_balance_from_dev(np.array([0] * 60), 3)
    np.testing.assert_allclose(balance, [61 / 63, 1 / 63, 1 / 63])
    with pytest.warns(UserWarning, match="only 10 gold rows"):
        class_balance_from_dev(np.array([0, 1] * 5), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        class_balance_from_dev(y, 2)


def test_selection_picks_the_better_model_and_records_scores(uneven, uneven_dev):
    L, _ = uneven
    L_dev, y_dev = uneven_dev
    selection = select_label_model(["majority", "dawid_skene"], L, L_dev, y_dev, cardinality=2, seed=0)
    assert selection.name == "dawid_skene"
    assert set(selection.dev_scores) == {"majority", "dawid_skene"}
    assert selection.dev_scores["dawid_skene"] > selection.dev_scores["majority"]
    expected = accuracy(make_label_model("majority").fit(L, cardinality=2), L_dev, y_dev)
    assert selection.dev_scores["majority"] == pytest.approx(expected)
    np.testing.assert_allclose(selection.prior, selection.model.prior)  # the chosen model's own prior


def test_selection_ties_go_to_the_earlier_name():
    L = np.array([[0, 0, 0], [1, 1, 1]] * 20, dtype=np.int8)
    y = np.array([0, 1] * 20)
    for names in (["dawid_skene", "majority"], ["majority", "dawid_skene"]):
        selection = select_label_model(names, L, L, y, cardinality=2, metric="macro_f1")
        assert selection.name == names[0]
        assert selection.dev_scores == {names[0]: 1.0, names[1]: 1.0}


def test_selection_cross_fits_dev_for_weighted_majority(uneven, uneven_dev):
    L, _ = uneven
    L_dev, y_dev = uneven_dev
    selection = select_label_model(["weighted_majority"], L, L_dev, y_dev, cardinality=2)
    assert 0.8 < selection.dev_scores["weighted_majority"] <= 1.0
    assert selection.model.lf_accuracies()[0] > selection.model.lf_accuracies()[-1]


def test_selection_skips_models_that_cannot_fit():
    L = np.array([[0, 0], [1, 1], [1, -1]] * 10, dtype=np.int8)
    y = np.array([0, 1, 1] * 10)
    selection = select_label_model(["snorkel", "majority"], L, L, y, cardinality=2)
    assert selection.name == "majority"
    assert np.isnan(selection.dev_scores["snorkel"]) and selection.dev_scores["majority"] == 1.0
    assert "snorkel skipped" in selection.notes[0] and "at least 3 LFs" in selection.notes[0]
    with pytest.raises(LabelModelError, match="no label model could be fitted"):
        select_label_model(["snorkel"], L, L, y, cardinality=2)


def test_unknown_names_and_bad_inputs_raise():
    with pytest.raises(ConfigError, match="majority, weighted_majority, snorkel, dawid_skene"):
        make_label_model("metal")
    with pytest.raises(ConfigError, match="Bad options"):
        make_label_model("majority", n_epochs=3)
    with pytest.raises(ConfigError, match="metric"):
        select_label_model(["majority"], np.zeros((2, 3), np.int8), np.zeros((2, 3), np.int8), [0, 0],
                           cardinality=2, metric="auc")
    with pytest.raises(LabelModelError, match="row 1, LF column 2 has vote 5"):
        make_label_model("majority").fit(np.array([[0, 0, 0], [0, 1, 5]]), cardinality=2)
    with pytest.raises(LabelModelError, match="at least 3 LFs"):
        make_label_model("snorkel").fit(np.zeros((4, 2), np.int8), cardinality=2)
    with pytest.raises(LabelModelError, match="not fitted"):
        make_label_model("dawid_skene").predict_proba(np.zeros((1, 3), np.int8))
    with pytest.raises(LabelModelError, match="class_balance has 3 entries"):
        make_label_model("majority").fit(np.zeros((1, 3), np.int8), cardinality=2, class_balance=[0.2, 0.3, 0.5])


def confused_votes(n, seed):
    """5 classes; LF 0 votes 1 when the class is 2 (a confusion no one-coin model can express),
    LFs 1-3 are 70% right; the class balance is uneven."""
    rng = np.random.default_rng(seed)
    y = rng.choice(5, size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    L = np.where(rng.random((n, 4)) < 0.7, y[:, None], rng.integers(0, 5, (n, 4)))
    L[:, 0] = np.where(y == 2, 1, y)
    L[rng.random((n, 4)) < 0.3] = -1
    return L.astype(np.int8), y


def test_logistic_votes_learns_a_confused_lf_from_dev():
    L, y = confused_votes(3000, seed=1)
    L_dev, y_dev = confused_votes(400, seed=2)
    learned = make_label_model("logistic_votes").use_dev(L_dev, y_dev).fit(L, cardinality=5)
    one_coin = make_label_model("weighted_majority").use_dev(L_dev, y_dev).fit(L, cardinality=5)
    assert accuracy(learned, L, y) > accuracy(one_coin, L, y) + 0.03  # .898 vs .856
    selection = select_label_model(["majority", "weighted_majority", "logistic_votes"], L, L_dev, y_dev,
                                   cardinality=5, seed=0, n_boot=20)
    assert selection.name == "logistic_votes" and selection.candidates[-1]["cross_fitted"]


def test_logistic_votes_moves_to_the_candidates_prior_and_needs_dev():
    from sklearn.linear_model import LogisticRegression

    from labelkit.labelmodels.logistic_votes import _features

    L, y = confused_votes(500, seed=3)
    L_dev, y_dev = confused_votes(300, seed=4)
    prior = np.array([0.1, 0.1, 0.1, 0.1, 0.6])
    share = np.bincount(y_dev, minlength=5) / len(y_dev)
    as_dev = make_label_model("logistic_votes").use_dev(L_dev, y_dev).fit(L, cardinality=5, class_balance=share)
    shifted = make_label_model("logistic_votes").use_dev(L_dev, y_dev).fit(L, cardinality=5, class_balance=prior)
    covered = (L >= 0).any(axis=1)
    regression = LogisticRegression(C=1.0, max_iter=2000, tol=1e-6).fit(_features(L_dev, 5), y_dev)
    np.testing.assert_allclose(as_dev.predict_proba(L)[covered],
                               regression.predict_proba(_features(L, 5))[covered], atol=1e-9)
    # Bayes' rule for a new prior: p'(c) proportional to p(c) x prior(c) / dev share(c) on every covered row
    expected = as_dev.predict_proba(L) * prior / share
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(shifted.predict_proba(L)[covered], expected[covered], atol=1e-9)
    with pytest.raises(LabelModelError, match="at least 20"):
        make_label_model("logistic_votes").fit(L, cardinality=5)
    with pytest.raises(LabelModelError, match="two classes"):
        make_label_model("logistic_votes").use_dev(L_dev[:40], np.zeros(40, dtype=int)).fit(L, cardinality=5)
    with pytest.raises(LabelModelError, match="logistic_votes_max_parameters"):
        make_label_model("logistic_votes", max_parameters=100).use_dev(L_dev, y_dev).fit(L, cardinality=5)
    selection = select_label_model(["majority", "logistic_votes"], L, L_dev[:22], y_dev[:22], cardinality=5,
                                   seed=0, n_boot=20)  # dev folds of < 20 rows: skipped with a note
    assert selection.name == "majority" and any("logistic_votes skipped" in n for n in selection.notes)
