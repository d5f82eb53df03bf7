import numpy as np
import pytest

from labelkit.errors import DatasetError
from labelkit.evaluate import bootstrap_ci, classification_metrics, compare_systems, paired_test
from labelkit.evaluate.uncertainty import mcnemar_exact_p, needed_test_size

CLASSES = ["ham", "spam", "other"]


def test_classification_metrics_exact_values():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    m = classification_metrics(y_true, y_pred, CLASSES)
    assert m["n"] == 6
    assert m["accuracy"] == round(4 / 6, 4)
    assert m["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert m["per_class"]["ham"] == {"precision": 1.0, "recall": 0.6667, "f1": 0.8, "support": 3}
    assert m["per_class"]["spam"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_class"]["other"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert m["macro_f1"] == round((0.8 + 0.5 + 2 / 3) / 3, 4)


def test_macro_f1_ignores_classes_absent_from_gold_and_predictions():
    m = classification_metrics([0, 1, 0, 1], [0, 1, 0, 0], CLASSES)
    # ham f1 = 0.8, spam f1 = 2/3; "other" never occurs and is not averaged in
    assert m["macro_f1"] == round((0.8 + 2 / 3) / 2, 4)
    assert m["per_class"]["other"]["support"] == 0


def test_abstains_left_in_predictions_are_rejected_with_the_fix():
    with pytest.raises(DatasetError, match="resolve abstains"):
        classification_metrics([0, 1], [0, -1], CLASSES)
    with pytest.raises(DatasetError, match="same length"):
        classification_metrics([0, 1, 1], [0, 1], CLASSES)


def test_bootstrap_ci_contains_point_and_narrows_with_n():
    rng = np.random.default_rng(1)
    widths = []
    for n in (100, 2000):
        y = rng.integers(0, 2, n)
        pred = np.where(rng.random(n) < 0.8, y, 1 - y)
        point = float(np.mean(pred == y))
        low, high = bootstrap_ci(y, pred, k=2, n_boot=500, seed=0)
        assert low <= point <= high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2


def test_bootstrap_ci_is_deterministic_given_seed():
    y = np.array([0, 1, 1, 0, 1] * 20)
    pred = np.array([0, 1, 0, 0, 1] * 20)
    first = bootstrap_ci(y, pred, k=2, metric="macro_f1", seed=3)
    assert first == bootstrap_ci(y, pred, k=2, metric="macro_f1", seed=3)


def test_mcnemar_exact_known_values():
    # 1 vs 9 discordant: 2 * P(X <= 1 | Binomial(10, 0.5)) = 2 * 11 / 1024
    assert mcnemar_exact_p(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact_p(5, 5) == 1.0
    assert mcnemar_exact_p(0, 0) == 1.0


def test_paired_test_counts_discordant_rows_and_says_model_better():
    y = np.zeros(200, dtype=int)
    baseline = y.copy()
    baseline[:40] = 1  # baseline wrong on rows 0..39
    model = y.copy()
    model[35:45] = 1  # model wrong on rows 35..44
    result = paired_test(y, baseline, model, k=2, n_boot=500)
    assert result["only_baseline_correct"] == 5
    assert result["only_model_correct"] == 35
    assert result["accuracy_difference"] == 0.15
    assert result["mcnemar_p"] < 0.001
    assert result["accuracy_difference_ci"][0] > 0
    assert result["verdict"] == "model better"


def test_paired_test_small_test_set_says_how_many_rows_are_needed():
    y = np.zeros(40, dtype=int)
    baseline, model = y.copy(), y.copy()
    baseline[:6] = 1
    model[:3] = 1
    result = paired_test(y, baseline, model, k=2, n_boot=300)
    # by hand (Connor 1987): p_disc = d = 3/40 = 0.075; (1.96 * sqrt(0.075) + 0.8416 * sqrt(0.075 - 0.075**2))**2
    # / 0.075**2 = (0.53676 + 0.22167)**2 / 0.005625 = 102.26 -> 103 rows
    assert result["needed_n"] == needed_test_size(40, 0, 3) == needed_test_size(40, 3, 0) == 103
    assert needed_test_size(40, 2, 2) is None
    assert result["verdict"] == "no significant difference (test set too small to tell: n=40, needs ~103)"


def test_compare_systems_shapes_and_coverage():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    base = np.where(rng.random(300) < 0.6, y, rng.integers(0, 3, 300))
    model = np.where(rng.random(300) < 0.9, y, rng.integers(0, 3, 300))
    out = compare_systems(y, {"rule_baseline": base, "end_model": model}, CLASSES,
                          coverage={"rule_baseline": 0.5}, n_boot=300)
    assert out["n"] == 300 and out["classes"] == CLASSES
    entry = out["systems"]["end_model"]
    assert entry["accuracy"] == round(float(np.mean(model == y)), 4)
    assert entry["accuracy_ci"][0] <= entry["accuracy"] <= entry["accuracy_ci"][1]
    assert entry["macro_f1_ci"][0] <= entry["macro_f1"] <= entry["macro_f1_ci"][1]
    assert out["systems"]["rule_baseline"]["coverage"] == 0.5
    assert "coverage" not in entry
    assert out["paired_test"]["verdict"] == "model better"
    assert compare_systems(y, {"end_model": model}, CLASSES, n_boot=50)["paired_test"] is None


def test_bootstrap_draws_are_the_same_whole_or_chunked_and_every_caller_scores_them_alike(monkeypatch):
    """labelkit.evaluate.uncertainty is the one home of the bootstrap: the build's intervals (chunked to bound
    memory), the label-model selection and the checks (whole) read the same resamples for the same seed."""
    from labelkit.evaluate import uncertainty

    rng = np.random.default_rng(1)
    y, pred = rng.integers(0, 3, 101), rng.integers(0, 3, 101)
    whole = uncertainty.resampled_scores(y, pred, uncertainty.resamples(101, 50, seed=7), k=3, metric="macro_f1")
    monkeypatch.setattr(uncertainty, "_CHUNK_CELLS", 101 * 3)  # 3 resamples a chunk
    chunked = uncertainty.bootstrap_samples(y, pred, k=3, metric="macro_f1", n_boot=50, seed=7)
    np.testing.assert_array_equal(chunked, whole)
    low, high = uncertainty.percentile_bounds(whole)
    assert uncertainty.percentile_interval(whole) == [round(low, 4), round(high, 4)] and low < whole.mean() < high
    assert uncertainty.percentile_bounds(np.array([np.nan, 0.5, 0.5])) == (0.5, 0.5)  # nan resamples left out


def test_wilson_interval_values():
    from labelkit.evaluate.uncertainty import wilson

    low, high = wilson(8, 10)
    assert round(low, 4) == 0.4902 and round(high, 4) == 0.9433
    assert wilson(0, 0) is None and wilson(10, 10)[1] == 1.0
