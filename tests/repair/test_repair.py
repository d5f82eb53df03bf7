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
from labelkit.repair.label_next import rows_to_label
from labelkit.repair.reweight import DevScores, error_rows, plan_candidates, search_slice, wilson
from labelkit.evaluate.guardrail_slices import Slice, choose_slices


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


def test_a_search_budget_tries_each_strategy_first_and_keeps_the_structure_of_the_results():
    """--max-candidates: the smallest weight of each strategy first; the rest are counted as not fitted,
    and the search reports the same fields (the model in place competes as always)."""
    train_mask, errors = np.array([True, False, False]), np.array([False, True, False])
    plans = plan_candidates(np.ones(3), train_mask, errors, class_weight="none", build_class_weight="none",
                            class_weights=("build", "balanced"), weights=(8.0, 2.0, 4.0))
    assert [(cw, strategy, w) for cw, strategy, _, w in plans[:3]] == [("none", "slice", 2.0), ("none", "errors", 2.0),
                                                                        ("none", "slice", 4.0)]
    assert len(plans) == 2 * 6 + 1  # 2 strategies x 3 weights per class weight, and balanced alone
    fitted, heard = [], []

    def evaluate(weights, class_weight):
        fitted.append((weights.tolist(), class_weight))
        return DevScores(0.80, 0.5 + 0.01 * float(weights.max()), model=len(fitted))

    common = dict(dev_rows=20, floor=0.79, current=DevScores(0.80, 0.40), class_weights=("build", "balanced"),
                  weights=(2.0, 4.0, 8.0))
    full, *_ = search_slice("s", evaluate, np.ones(3), train_mask, errors, **common)
    fitted.clear()
    small, chosen, class_weight, model = search_slice(
        "s", evaluate, np.ones(3), train_mask, errors, max_candidates=2,
        on_candidate=lambda c, spared: heard.append((c.strategy, c.weight, spared)), **common)
    assert fitted == [([2.0, 1.0, 1.0], "none"), ([1.0, 2.0, 1.0], "none")]
    assert heard == [("slice", 2.0, 0), ("errors", 2.0, 0)]  # progress: each candidate as it is scored
    assert (len(full.tried), full.skipped, len(small.tried), small.skipped) == (14, 0, 3, 11)
    assert [(c.strategy, c.weight) for c in small.tried] == [("none", 1.0), ("slice", 2.0), ("errors", 2.0)]
    assert small.chosen.as_dict().keys() == full.chosen.as_dict().keys() and small.chosen.admissible
    assert (small.chosen.strategy, small.chosen.weight, class_weight, model) == ("slice", 2.0, "none", 1)
    # reported in one order: class weight, strategy, weight
    assert [(c.class_weight, c.strategy, c.weight) for c in full.tried[:4]] == [
        ("none", "none", 1.0), ("none", "slice", 2.0), ("none", "slice", 4.0), ("none", "slice", 8.0)]


def test_a_weight_below_the_overall_floor_stops_larger_weights_of_the_same_rows():
    fitted = []

    def evaluate(weights, class_weight):  # the slice's rows (row 0) cost overall dev from x4 on
        fitted.append((float(weights[0]), float(weights[1]), class_weight))
        return DevScores(0.78 if weights[0] >= 4 else 0.80, 0.6)

    heard = []
    search, *_ = search_slice("s", evaluate, np.ones(2), np.array([True, False]), np.array([False, True]),
                              dev_rows=10, floor=0.795, current=DevScores(0.80, 0.5), weights=(2.0, 4.0, 8.0),
                              on_candidate=lambda c, spared: heard.append((c.strategy, c.weight, spared)))
    assert (8.0, 1.0, "none") not in fitted and (1.0, 8.0, "none") in fitted
    assert ("slice", 4.0, 1) in heard and search.pruned == 1 and len(search.tried) == 1 + 5


def test_progress_of_a_few_slow_steps_says_time_so_far_and_left():
    from labelkit.io.progress import Progress

    lines = []
    clock = iter([0.0, 4.0, 10.0]).__next__
    progress = Progress("repair", 5, notify=lines.append, every=0.0, clock=clock, unit="candidate fits")
    progress.advance(1, "country=FR: slice x4")
    progress.advance(1)
    assert lines == ["repair: 1/5 candidate fits, 4s so far, ~16s left — country=FR: slice x4",
                     "repair: 2/5 candidate fits, 10s so far, ~15s left"]


def test_refit_with_large_row_weights_reaches_the_weighted_optimum():
    """Rows weighted x8 stall saga at max_iter; the refit divides the weights by their largest value and
    multiplies C by it (the same objective) and starts from the first model: the weighted optimum."""
    from sklearn.linear_model import LogisticRegression

    from labelkit.endmodel import train_end_model
    from labelkit.endmodel.training import class_multipliers
    from labelkit.repair.refit import Refitter

    rng = np.random.default_rng(0)
    words = [["refund", "invoice", "charged", "payment"], ["wifi", "signal", "outage", "router"],
             ["password", "login", "email", "locked"]]
    y = rng.integers(0, 3, 300)
    texts = [" ".join(rng.choice(words[c], 3).tolist() + rng.choice(sum(words, []), 2).tolist()) for c in y]
    frame = pd.DataFrame({"text": texts})
    Y = np.full((300, 3), 0.1)
    Y[np.arange(300), y] = 0.8
    train, dev = frame.iloc[:200], frame.iloc[200:]
    base = train_end_model(train, Y[:200], ("a", "b", "c"), text_column="text", dev=dev, y_dev=y[200:], Cs=[1.0])
    featurizer = base.pipeline.named_steps["features"]
    refit = Refitter(base=base, featurizer=featurizer, labels="soft", rows=np.arange(200),
                     X=featurizer.transform(train), Y=Y[:200], X_dev=featurizer.transform(dev), y_dev=y[200:],
                     metric=("accuracy", None), seed=0)
    w = np.ones(200)
    w[:20] = 8.0
    model, dev_pred = refit.fit(w, "balanced")
    assert dev_pred.tolist() == model.predict(dev).tolist()
    assert model.C == 1.0 and model.class_weight == "balanced" and "C x 8" in model.notes[-1]
    rows, labels = np.nonzero(Y[:200] > 0)
    weights = (Y[:200] * w[:, None] * class_multipliers(Y[:200], w, "balanced"))[rows, labels]
    optimum = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(refit.X[rows], labels, sample_weight=weights)
    assert np.abs(model.predict_proba(dev) - optimum.predict_proba(refit.X_dev)).max() < 0.01


def test_a_repair_refits_the_label_model_and_the_end_model_path_the_run_chose(task):
    from labelkit.settings.config import load_config
    from labelkit.repair.plan import _chosen_end_model, _chosen_label_model
    from labelkit.results import ChosenEndModel, LabelModels

    config = load_config(task)
    narrowed = _chosen_label_model(config, LabelModels(chosen="snorkel", class_balance="uniform"))
    assert (narrowed.label_model.candidates, narrowed.label_model.class_balance) == (["snorkel"], "uniform")
    assert _chosen_label_model(config, LabelModels(chosen="nothing_known")) is config
    end = _chosen_end_model(config, ChosenEndModel(C=1.0, features="tfidf", class_weight="none"))
    assert end.end_model.C == [c for c in sorted(config.end_model.C) if c <= 1.0] and end.end_model.class_weight == ["none"]


def test_wilson_interval_is_wide_on_a_few_rows():
    assert wilson(0.625, 8)[1] - wilson(0.625, 8)[0] > 0.5 > wilson(0.625, 800)[1] - wilson(0.625, 800)[0]
    assert wilson(0.5, 0) is None


def test_error_set_is_the_slices_own_errors_when_it_has_any():
    mask = np.array([True, True, False])
    assert error_rows(mask, np.array([False, True, True])).tolist() == [False, True, False]
    assert error_rows(mask, np.array([False, False, True])).tolist() == [False, False, True]


# ---------------------------------------------------------------- slices

def test_slices_default_to_the_fired_guardrails_and_parse_column_value():
    from types import SimpleNamespace

    from labelkit.results import Guardrail

    common = dict(size=40, baseline="rule_baseline", model="end_model", baseline_score=0.8, model_score=0.6, gap=-0.2)
    metrics = SimpleNamespace(guardrails=[Guardrail(kind="column", column="country", value="FR", **common),
                                          Guardrail(kind="function", column="non_english", value="true", **common)])
    assert [s.name for s in choose_slices(metrics)] == ["country=FR", "non_english"]
    assert choose_slices(metrics, ("channel=app",)) == [Slice("column", "channel", "app")]
    with pytest.raises(ConfigError, match="country=FR"):
        choose_slices(metrics, ("nonsense",))
    frame = pd.DataFrame({"country": ["FR", "DE", None]})
    assert Slice("column", "country", "FR").mask(frame).tolist() == [True, False, False]


# ---------------------------------------------------------------- rows to label next

def test_rows_to_label_are_chosen_and_written_like_label_next():
    """The slice's rows ranked by label-next's value (uncertainty + rules-vs-model disagreement), in the human
    labels file's blind format: no system's answer, a blank label the studio's queue and the next build read."""
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "text": ["=cmd()", "two words", "three others", "four"]})
    proba = np.array([[0.9, 0.1], [0.55, 0.45], [0.6, 0.4], [0.2, 0.8]])
    rules = np.array([1, 0, 0, 1])  # a: rules say 1, model 0 -> disagreement
    covered = np.array([True, True, True, True])
    mask = np.array([True, True, True, False])
    table = rows_to_label(frame, mask, proba, rules, covered, ("x", "y"), slice_name="s", id_column="id",
                          text_column="text", limit=10)
    assert table["id"].tolist() == ["b", "c", "a"]  # uncertainty 0.9, 0.8; a: 0.2 + 0.5 as the rules disagree
    assert table["why"].str.contains("rules and model disagree").tolist() == [False, False, True]
    assert table["label"].tolist() == ["", "", ""] and set(table["slice"]) == {"s"}
    assert not {"rules_label", "model_label", "model_confidence"} & set(table.columns)


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


@pytest.mark.slow  # a second repair of the small task's build (~5 s)
def test_repair_prints_progress_and_a_tiny_budget_gives_the_same_structure(repaired):
    from labelkit.repair import repair_run

    root, full = repaired
    lines = []
    outcome = repair_run(root / "run", out=root / "budget", slices=("country=FR",), weights=(4.0,),
                         strategies=("slice",), max_candidates=1, notify=lines.append)
    report = outcome.report.to_json()
    fits = [line for line in lines if line.startswith("repair: 1/1 candidate fits, ")]
    assert len(fits) == 1 and "so far" in fits[0] and "country=FR: slice x4" in fits[0] and "dev " in fits[0]
    assert any(line.startswith("repair country=FR: chose ") and "not fitted (--max-candidates)" in line for line in lines)
    assert report.keys() == full.keys() - {"out"}  # the CLI's --json adds the output folder
    entry, full_entry = report["slices"][0], full["slices"][0]
    assert entry.keys() == full_entry.keys() and entry["test"].keys() == full_entry["test"].keys()
    assert len(entry["tried"]) == 2 and len(full_entry["tried"]) == 4  # the model in place + 1 of 3 candidates
    assert report["search"]["candidate_fits"] == 1 and full["search"]["candidate_fits"] == 3
    assert full["search"]["fitted_by"].startswith("repair.refit") and entry["not_fitted"] == {"budget": 2, "below_floor": 0}
    again = repair_run(root / "run", out=root / "budget", slices=("country=FR",), weights=(4.0,),
                       strategies=("slice",), max_candidates=1, force=True)
    assert again.report.to_json() == report  # same data, config and seed: the same repair


def test_repair_refuses_its_own_run_and_a_folder_that_is_no_build(task, tmp_path):
    from labelkit.settings.config import load_config

    run = tmp_path / "run"
    run.mkdir()
    config = load_config(task)
    (run / "manifest.json").write_text(json.dumps({"config": config.to_dict(), "config_path": str(task)}))
    minimal = {"task": {"name": "t", "classes": config.task.classes, "rows": {}},
               "systems": {"n": 0, "classes": config.task.classes, "systems": {}}}
    (run / "metrics.json").write_text(json.dumps({**minimal, "guardrails": []}))
    same = CliRunner().invoke(cli, ["repair", str(run), "--out", str(run)])
    assert same.exit_code == 1 and same.output.startswith("error: ") and "beside" in same.output
    bad = CliRunner().invoke(cli, ["repair", str(run), "--weights", "0.5", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "'0.5'; allowed: a non-empty list of numbers > 1" in bad.output  # a usage error
    assert not (tmp_path / "x").exists()
    (tmp_path / "empty").mkdir()
    none = CliRunner().invoke(cli, ["repair", str(tmp_path / "empty")])
    assert none.exit_code == 1 and "manifest.json does not exist" in none.output
    fired = {"kind": "column", "column": "country", "value": "FR", "size": 40, "baseline": "rule_baseline",
             "model": "end_model", "baseline_score": 0.8, "model_score": 0.6, "gap": -0.2}
    (run / "metrics.json").write_text(json.dumps({**minimal, "guardrails": [fired],
                                                 "human_labels": {"rows": 50, "weight": 2.0}}))
    human = CliRunner().invoke(cli, ["repair", str(run), "--out", str(tmp_path / "y")])
    assert human.exit_code == 1 and "50 human-labelled rows" in human.output and not (tmp_path / "y").exists()
