"""`labelkit repair`: weight search under the dev limit, rows to label next, candidate LFs, and the
repaired build end to end (a build's layout that `labelkit compare` reads; model outputs are the model's)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from labelkit.cli.main import cli
from labelkit.errors import ConfigError
from labelkit.repair.candidates import candidate_ngrams, ngrams, snippet
from labelkit.repair.label_next import DISAGREE, UNSURE, rows_to_label
from labelkit.repair.reweight import DevScores, error_rows, search_slice, wilson
from labelkit.repair.slices import Slice, choose_slices


# ---------------------------------------------------------------- weight search

def test_search_picks_the_best_slice_score_within_the_overall_limit():
    train_mask = np.array([True, True, False, False])
    errors = np.array([False, False, True, False])
    # (overall, slice) per slice weight: 8 is best on the slice but costs too much overall
    table = {2.0: (0.80, 0.60), 4.0: (0.798, 0.70), 8.0: (0.70, 0.90)}

    def evaluate(weights, class_weight):
        w = float(weights[0]) if weights[0] != 1 else None
        return DevScores(*table[w]) if w is not None else DevScores(0.79, 0.55)  # "errors": slice rows stay 1

    search, chosen, class_weight, _ = search_slice(
        "country=FR", evaluate, np.ones(4), train_mask, errors, dev_rows=50, floor=0.80 - 0.005,
        current=DevScores(0.80, 0.50), weights=(2.0, 4.0, 8.0))
    assert (search.chosen.strategy, search.chosen.weight, class_weight) == ("slice", 4.0, "none")
    assert chosen.tolist() == [4.0, 4.0, 1.0, 1.0]
    assert [c.admissible for c in search.tried if c.weight == 8.0 and c.strategy == "slice"] == [False]
    assert search.chosen.as_dict()["dev_slice_ci"][0] < 0.7 < search.chosen.as_dict()["dev_slice_ci"][1]


def test_one_dev_row_is_noise_so_the_overall_dev_score_decides_within_it():
    scores = {2.0: DevScores(0.790, 6 / 8), 4.0: DevScores(0.801, 5 / 8), 8.0: DevScores(0.80, 4 / 8)}
    search, chosen, _, _ = search_slice(
        "country=FR", lambda w, cw: scores[float(w[0])], np.ones(2), np.array([True, False]), np.zeros(2, dtype=bool),
        dev_rows=8, floor=0.79, current=DevScores(0.795, 3 / 8), weights=(2.0, 4.0, 8.0), strategies=("slice",))
    assert (search.chosen.weight, chosen.tolist()) == (4.0, [4.0, 1.0])  # 6/8 vs 5/8: one row; 0.801 > 0.790


def test_search_keeps_the_model_when_no_weight_helps_on_dev():
    search, chosen, _, model = search_slice(
        "s", lambda w, cw: DevScores(0.80, 0.40), np.ones(3), np.array([True, False, False]),
        np.zeros(3, dtype=bool), dev_rows=5, floor=0.795, current=DevScores(0.80, 0.50), weights=(2.0, 4.0))
    assert search.chosen.strategy == "none" and chosen.tolist() == [1.0, 1.0, 1.0] and model is None


def test_a_later_slice_may_not_undo_an_earlier_one_on_dev():
    """The joint-repair regression: non_english's best weight cost FR dev rows; it is refused now."""
    def evaluate(weights, class_weight):
        if class_weight == "balanced":  # best for this slice and overall, but FR loses a dev row
            return DevScores(0.82, 0.70, {"country=FR": 0.625}, model="balanced model")
        return DevScores(0.80, 0.60 if weights[0] > 1 else 0.40, {"country=FR": 0.75}, model=f"x{weights[0]:g}")

    search, _, class_weight, model = search_slice(
        "non_english", evaluate, np.ones(3), np.array([True, False, False]), np.zeros(3, dtype=bool), dev_rows=6,
        floor=0.795, current=DevScores(0.80, 0.40, {"country=FR": 0.75}), class_weight="none",
        class_weights=("build", "balanced"), weights=(2.0,), strategies=("slice",))
    assert (search.chosen.strategy, class_weight, model) == ("slice", "none", "x2")
    refused = [c for c in search.tried if c.class_weight == "balanced"]
    assert refused and all(not c.admissible and "country=FR" in c.refused for c in refused)
    assert {(c.strategy, c.class_weight) for c in search.tried} == {("none", "none"), ("slice", "none"),
                                                                     ("none", "balanced"), ("slice", "balanced")}


def test_wilson_interval_is_wide_on_a_few_rows():
    assert wilson(0.625, 8)[1] - wilson(0.625, 8)[0] > 0.5 > wilson(0.625, 800)[1] - wilson(0.625, 800)[0]
    assert wilson(0.5, 0) is None


def test_error_set_is_the_slices_own_errors_when_it_has_any():
    mask = np.array([True, True, False])
    assert error_rows(mask, np.array([False, True, True])).tolist() == [False, True, False]
    assert error_rows(mask, np.array([False, False, True])).tolist() == [False, False, True]


# ---------------------------------------------------------------- slices

def test_slices_default_to_the_fired_guardrails_and_parse_column_value():
    metrics = {"guardrails": [{"kind": "column", "column": "country", "value": "FR"},
                              {"kind": "function", "column": "non_english", "value": "true"}]}
    assert [s.name for s in choose_slices(metrics)] == ["country=FR", "non_english"]
    assert choose_slices(metrics, ("channel=app",)) == [Slice("column", "channel", "app")]
    with pytest.raises(ConfigError, match="country=FR"):
        choose_slices(metrics, ("nonsense",))
    frame = pd.DataFrame({"country": ["FR", "DE", None]})
    assert Slice("column", "country", "FR").mask(frame).tolist() == [True, False, False]


# ---------------------------------------------------------------- rows to label next

def test_rows_to_label_puts_disagreements_first_then_the_least_sure():
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "text": ["=cmd()", "two", "three", "four"]})
    proba = np.array([[0.9, 0.1], [0.55, 0.45], [0.6, 0.4], [0.2, 0.8]])
    rules = np.array([1, 0, 0, 1])  # a: rules say 1, model 0 -> disagreement
    covered = np.array([True, True, True, True])
    mask = np.array([True, True, True, False])
    table = rows_to_label(frame, mask, proba, rules, covered, ("x", "y"), slice_name="s", id_column="id",
                          text_column="text", limit=10)
    assert table["row_id"].tolist() == ["a", "b", "c"]
    assert table["reason"].tolist() == [DISAGREE, UNSURE, UNSURE]
    assert table["rules_label"].tolist() == ["y", "x", "x"] and table["label"].tolist() == ["", "", ""]


# ---------------------------------------------------------------- candidate LFs

def test_candidate_ngrams_come_from_the_rules_right_rows_and_are_checked_on_train():
    source = ["ma facture est fausse", "facture en double", "plus de réseau", "la facture encore"]
    labels = [0, 0, 1, 0]
    train = ["facture impayée", "ma facture", "réseau coupé", "facture", "bonjour", "facture du mois"]
    rules = np.array([0, 0, 1, 1, -1, 0])
    covered = np.array([True, True, True, True, False, True])
    found = candidate_ngrams(source, labels, train, rules, covered, ["la facture"], np.array([0]), ("billing", "net"))
    assert found[0]["ngram"] == "facture" and found[0]["class"] == "billing" and found[0]["support"] == 3
    assert found[0]["train_fires"] == 4 and found[0]["train_agreement"] == 0.75
    assert found[0]["dev_accuracy"] == 1.0
    text = snippet("country=FR", 4, found)
    compile(text, "candidate_lfs.py", "exec")  # valid Python, offered as text
    assert 'keywords(\'billing\', [\'facture\']' in text and "NOT applied" in text
    assert "ma" not in ngrams("ma")  # unigrams need 3+ letters


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def repaired(tmp_path_factory):
    from conftest import write_task

    root = tmp_path_factory.mktemp("repair")
    config = write_task(root / "task", n_train=240, n_dev=120, n_test=150)
    fast = ["--set", "end_model.compare_hard=false", "--set", 'label_model.candidates=["majority"]',
            "--set", "end_model.C=[1.0]", "--set", "evaluate.bootstrap=100",
            "--set", 'end_model.features=["tfidf"]', "--set", 'end_model.class_weight=["none"]']
    built = CliRunner().invoke(cli, ["build", str(config), "--out", str(root / "run"), "-q", "--no-audit", *fast])
    assert built.exit_code == 0, built.output
    result = CliRunner().invoke(cli, ["repair", str(root / "run"), "--slice", "country=FR", "--weights", "4",
                                      "--strategies", "slice", "--out", str(root / "fixed"), "-q", "--json"])
    assert result.exit_code == 0, result.output
    return root, json.loads(result.output)


@pytest.mark.slow  # a build and a repair of a small task (~10 s); unit tests above run by default
def test_repair_writes_a_build_that_compare_reads(repaired):
    root, report = repaired
    for name in ("metrics.json", "manifest.json", "test_predictions.csv", "train_labels.csv", "model.skops",
                 "report.html", "repair.md", "label_next.csv", "candidate_lfs.py"):
        assert (root / "fixed" / name).is_file(), name
    assert [s["slice"] for s in report["slices"]] == ["country=FR"]
    entry = report["slices"][0]
    assert {c["strategy"] for c in entry["tried"]} == {"none", "slice"}
    assert entry["test"]["rows"] > 0 and "paired_test" in entry["test"] and len(entry["test"]["after_ci"]) == 2
    assert report["limit"]["dev_floor"] == pytest.approx(report["limit"]["dev_score_before"] - 0.005, abs=1e-4)
    assert report["reproduced"] is True
    metrics = json.loads((root / "fixed" / "metrics.json").read_text())
    assert metrics["repair"]["slices"][0]["chosen"] == entry["chosen"]
    compared = CliRunner().invoke(cli, ["compare", str(root / "run"), str(root / "fixed")])
    assert compared.exit_code == 0, compared.output


@pytest.mark.slow  # a build and a repair of a small task (~10 s); unit tests above run by default
def test_repaired_predictions_are_the_models_own(repaired):
    from labelkit.endmodel import load_end_model

    root, _ = repaired
    test = pd.read_csv(root / "task" / "test.csv")
    model = load_end_model(root / "fixed" / "model.skops")
    predictions = pd.read_csv(root / "fixed" / "test_predictions.csv", dtype=str)
    assert predictions["pred_end_model"].tolist() == [model.classes[i] for i in model.predict(test)]


def test_repair_refuses_its_own_run_and_a_folder_that_is_no_build(task, tmp_path):
    from labelkit.config import load_config

    run = tmp_path / "run"
    run.mkdir()
    config = load_config(task)
    (run / "manifest.json").write_text(json.dumps({"config": config.to_dict(), "config_path": str(task)}))
    (run / "metrics.json").write_text(json.dumps({"guardrails": []}))
    same = CliRunner().invoke(cli, ["repair", str(run), "--out", str(run)])
    assert same.exit_code == 1 and same.output.startswith("error: ") and "beside" in same.output
    bad = CliRunner().invoke(cli, ["repair", str(run), "--weights", "0.5", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "greater than 1" in bad.output and not (tmp_path / "x").exists()
    (tmp_path / "empty").mkdir()
    none = CliRunner().invoke(cli, ["repair", str(tmp_path / "empty")])
    assert none.exit_code == 1 and "manifest.json does not exist" in none.output
