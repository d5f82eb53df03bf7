"""Label-model selection on generated vote matrices: the metric follows the class balance, a one-class
candidate is named and not chosen, dev noise does not erase an LF, every candidate is recorded, and a
chosen model round-trips through label_model.json."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from labelkit.errors import ConfigError, LabelModelError
from labelkit.evaluate.metrics import classification_metrics, resolve_metric, score_predictions
from labelkit.labelmodels import (
    LABEL_MODELS,
    load_label_model,
    make_label_model,
    save_label_model,
    select_label_model,
)

NEG_LEANING = [0.9, 0.1]  # ties and all-abstain rows go to class 0
POS_LEANING = [0.4, 0.6]  # ... to class 1


def tie_votes(n_neg_clear, n_neg_tied, n_pos_tied, n_pos_clear):
    """Rows voted [0, 0] (clear negative), [0, 1] (a tie) or [1, 1] (clear positive), with gold."""
    L = np.array([[0, 0]] * n_neg_clear + [[0, 1]] * (n_neg_tied + n_pos_tied) + [[1, 1]] * n_pos_clear, np.int8)
    y = np.array([0] * (n_neg_clear + n_neg_tied) + [1] * (n_pos_tied + n_pos_clear))
    return L, y


def test_auto_metric_follows_the_class_balance():
    assert resolve_metric("auto", [0] * 87 + [1] * 13, cardinality=2) == ("f1", 1)
    assert resolve_metric("auto", [1] * 87 + [0] * 13, cardinality=2) == ("f1", 0)
    assert resolve_metric("auto", [0] * 60 + [1] * 40, cardinality=2) == ("accuracy", None)
    assert resolve_metric("auto", [0, 1, 2] * 5, cardinality=3) == ("accuracy", None)
    assert resolve_metric("auto", [0] * 60 + [1] * 40, cardinality=2, positive=1) == ("f1", 1)
    # "always negative" scores 0 under auto on a rare-positive split, 0.87 under accuracy
    y = np.array([0] * 87 + [1] * 13)
    assert score_predictions(y, np.zeros(100, int), cardinality=2, metric="auto") == 0.0
    assert score_predictions(y, np.zeros(100, int), cardinality=2) == pytest.approx(0.87)
    with pytest.raises(ConfigError, match="valid metrics are: auto, accuracy"):
        resolve_metric("auc", y, cardinality=2)


def test_metrics_hold_positive_class_balanced_accuracy_and_single_class():
    m = classification_metrics([0, 0, 0, 1], [0, 0, 1, 1], ["ham", "spam"], positive=1)
    assert m["positive_class"] == {"name": "spam", "precision": 0.5, "recall": 1.0, "f1": 0.6667}
    assert m["balanced_accuracy"] == pytest.approx(round((2 / 3 + 1) / 2, 4))
    assert m["predicts_only"] is None
    assert classification_metrics([0, 1], [0, 0], ["ham", "spam"])["predicts_only"] == "ham"


def test_rare_positive_selection_prefers_the_better_positive_f1():
    # 100 dev rows, 10 positive. Breaking ties negative: accuracy .92, F1 .33; positive: accuracy .88, F1 .62
    L, y = tie_votes(78, 12, 8, 2)
    balances = {"neg": NEG_LEANING, "pos": POS_LEANING}
    by_accuracy = select_label_model(["majority"], L, L, y, cardinality=2, class_balances=balances, metric="accuracy")
    assert by_accuracy.class_balance == "neg"
    auto = select_label_model(["majority"], L, L, y, cardinality=2, class_balances=balances)
    assert (auto.metric, auto.positive, auto.class_balance) == ("f1", 1, "pos")
    assert auto.dev_scores == {"majority (neg prior)": pytest.approx(1 / 3), "majority (pos prior)": pytest.approx(0.625)}
    assert all(c["dev_interval"][0] <= c["dev_score"] <= c["dev_interval"][1] for c in auto.candidates)


def test_a_one_class_candidate_is_named_and_not_chosen():
    # every positive row is a tie: breaking ties negative predicts only class 0 (accuracy .90)
    L, y = tie_votes(70, 20, 10, 0)
    selection = select_label_model(["majority"], L, L, y, cardinality=2, metric="accuracy",
                                   class_balances={"neg": NEG_LEANING, "pos": POS_LEANING}, classes=["ham", "spam"])
    records = {c["key"]: c for c in selection.candidates}
    assert records["majority (neg prior)"]["dev_score"] == pytest.approx(0.9)
    assert records["majority (neg prior)"]["predicts_only"] == 0
    assert selection.key == "majority (pos prior)" and records[selection.key]["predicts_only"] is None
    assert any("predicts only 'ham'" in note and "not chosen" in note for note in selection.notes)


def test_dev_noise_does_not_erase_an_lf_accurate_on_train():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    accuracy = np.array([0.9, 0.75, 0.7, 0.7])
    right = rng.random((2000, 4)) < accuracy
    L = np.where(right, y[:, None], 1 - y[:, None]).astype(np.int8)
    L[rng.random((2000, 4)) < 0.3] = -1
    # a small dev split where LF 0 happens to be right on only 2 of its 6 votes (others: as on train)
    L_dev = np.array([[1, 0, 0, -1]] * 4 + [[0, 0, 0, -1]] * 2 + [[-1, 1, 1, 1]] * 10 + [[-1, 0, 0, 0]] * 10, np.int8)
    y_dev = np.array([0] * 4 + [0] * 2 + [1] * 10 + [0] * 10)
    refined = make_label_model("weighted_majority").use_dev(L_dev, y_dev).fit(L, cardinality=2)
    assert refined.lf_accuracies()[0] > 0.8 and refined.weights[0] > 1.0  # its train estimate (true .9)
    assert refined.kept_on_noise_ == [0]
    trusting = make_label_model("weighted_majority", erase_alpha=1.0).use_dev(L_dev, y_dev).fit(L, cardinality=2)
    assert trusting.lf_accuracies()[0] < 0.5  # what dev alone would have done: LF 0 votes against itself


def test_every_label_model_round_trips_through_json(tmp_path):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 300)
    L = np.where(rng.random((300, 4)) < 0.8, y[:, None], rng.integers(0, 3, (300, 4)))
    L[rng.random((300, 4)) < 0.3] = -1
    L = L.astype(np.int8)
    for name in LABEL_MODELS:
        model = make_label_model(name, **({"n_epochs": 50} if name == "snorkel" else {}))
        if getattr(model, "uses_dev", False):
            model.use_dev(L[:50], y[:50])
        model.fit(L, cardinality=3, class_balance=[0.5, 0.3, 0.2], seed=0)
        path = save_label_model(model, tmp_path / f"{name}.json")
        loaded = load_label_model(path)
        np.testing.assert_allclose(loaded.predict_proba(L), model.predict_proba(L), atol=1e-12, err_msg=name)
        assert (loaded.predict(L) == model.predict(L)).all() and loaded.score(L, y) == model.score(L, y)
        assert json.loads(path.read_text())["name"] == name
    (tmp_path / "bad.json").write_text('{"labelkit_label_model": 1, "name": "metal", "state": {}}')
    with pytest.raises(LabelModelError, match="unknown label model 'metal'"):
        load_label_model(tmp_path / "bad.json")
    with pytest.raises(LabelModelError, match="not a fitted labelkit label model"):
        save_label_model(make_label_model("majority"), tmp_path / "x.json")


def one_class_wrench(folder):
    """Three LFs that only ever vote 'ham': every label model can predict only 'ham'."""
    from labelkit.wrench import write_wrench
    import pandas as pd

    rng = np.random.default_rng(0)
    splits = {}
    for name, n in (("train", 80), ("valid", 40), ("test", 40)):
        y = (np.arange(n) % 4 == 0).astype(int)
        words = np.where(y == 1, "win free cash now", "nice song love it")
        frame = pd.DataFrame({"id": [f"{name}{i}" for i in range(n)],
                              "text": [f"{w} {rng.integers(1000)}" for w in words]})
        L = np.where(rng.random((n, 3)) < 0.7, 0, -1).astype(np.int8)
        splits[name] = (frame, L, y)
    return write_wrench(folder, splits, ["ham", "spam"], "text", id_column="id")


def test_a_build_whose_label_models_predict_one_class_finishes_and_says_so(tmp_path):
    from labelkit.cli.main import cli

    folder = one_class_wrench(tmp_path / "one_class")
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["build", "--wrench", str(folder), "-o", str(out), "--no-audit", "-q",
                                      "--set", "label_model.candidates=majority,weighted_majority"])
    assert result.exit_code == 0, result.output
    assert "predicts only 'ham'" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["systems"]["systems"]["label_model"]["predicts_only"] == "ham"
    assert all(c["predicts_only"] == "ham" for c in metrics["label_models"]["candidates"])
    assert any("every candidate does" in note for note in metrics["label_models"]["notes"])
    assert "predicts only &#x27;ham&#x27;" in (out / "report.html").read_text() or \
        "predicts only &#39;ham&#39;" in (out / "report.html").read_text()
    served = load_label_model(out / "label_model.json")
    assert served.predict(np.array([[0, -1, 0]], np.int8)).tolist() == [0]


def rare_positive_votes(n, seed):
    """13% positives; three sparse, precise LFs vote 1; two broad LFs vote 0 on 60% of all rows."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.13).astype(int)
    fires_pos = rng.random((n, 3)) < np.where(y[:, None] == 1, 0.3, 0.01)
    fires_neg = rng.random((n, 2)) < 0.6
    L = np.hstack([np.where(fires_pos, 1, -1), np.where(fires_neg, 0, -1)]).astype(np.int8)
    return L, y


def test_weighted_majority_with_the_dev_prior_still_finds_the_rare_class():
    # LF accuracies are precisions P(y = vote | LF votes), which already hold the class prior; adding
    # the prior once more per row made this model answer "always negative" (issue 11)
    L, y = rare_positive_votes(4000, seed=1)
    L_dev, y_dev = rare_positive_votes(300, seed=2)
    model = make_label_model("weighted_majority").use_dev(L_dev, y_dev).fit(L, cardinality=2, class_balance=[0.87, 0.13])
    assert score_predictions(y, model.predict(L), cardinality=2, metric="f1", positive=1) > 0.6  # old form: .36
    assert model.predict(np.array([[1, -1, -1, 0, -1]], np.int8)).tolist() == [1]  # one precise vote beats one broad


def test_snorkel_too_wide_is_skipped_with_a_note_and_positive_class_is_checked():
    from labelkit.settings.config import from_dict
    from labelkit.pipeline.stages import positive_class_index

    L, y = tie_votes(20, 5, 5, 10)
    L = np.hstack([L, L]).astype(np.int8)
    selection = select_label_model(["snorkel", "majority"], L, L, y, cardinality=2,
                                   options={"snorkel": {"max_width": 6}})
    assert selection.name == "majority" and np.isnan(selection.dev_scores["snorkel"])
    assert "8-wide overlap matrix (4 LFs x 2 classes)" in selection.notes[0]
    assert "snorkel_max_width" in selection.notes[0]
    config = from_dict({"label_model": {"positive_class": "spam", "metric": "f1"}})
    assert positive_class_index(config, ("ham", "spam")) == 1
    with pytest.raises(ConfigError, match=r"positive_class\] is 'spam', which is not a class; classes are: a, b"):
        positive_class_index(config, ("a", "b"))
    with pytest.raises(ConfigError, match="allowed: auto, accuracy, macro_f1, balanced_accuracy, f1"):
        from_dict({"label_model": {"metric": "auc"}})
