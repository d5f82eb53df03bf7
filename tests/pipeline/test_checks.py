"""The build's checks of itself (labelkit/pipeline/checks.py), the probe that answers them (labelkit/endmodel/probe.py)
and what the build does about them: dev votes that look unrelated to dev gold and unlike the train votes
stop the label model learning from them; a label model whose labels train an end model worse than plain
majority vote is replaced by majority vote; `--fail-on checks` turns an error into exit 1."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from labelkit.pipeline import checks
from labelkit.cli.main import cli

HAM = ["great song", "love this video", "she sings so well", "this is my favourite", "beautiful voice",
       "amazing music", "so good", "the best part is the chorus", "watching again", "brings back memories"]
SPAM = ["check out my channel", "subscribe to my page", "free gift cards here", "visit my website now",
        "click this link", "follow me please", "win money fast", "cheap followers at my site"]
FILLER = ["today", "wow", "lol", "yes", "really", "again", "omg", "haha", "cool", "ok"]


def spam_folder(folder: Path, *, dev_votes: str = "clean", n=(500, 150, 200), spam_share=0.3, seed=0) -> Path:
    """Comments of two kinds; four keyword LFs right ~90% of the time on train and test. `dev_votes`:
    clean, shuffled (dev vote rows permuted: joined on the wrong key) or contradicting (every 'spam' vote
    of dev moved to a ham row: the held-back SMS set's dev split)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "label.json").write_text(json.dumps({"0": "ham", "1": "spam"}))
    for split, size in zip(("train", "valid", "test"), n):
        y = (rng.random(size) < spam_share).astype(int)
        texts = [f"{rng.choice(SPAM if t else HAM)} {' '.join(rng.choice(FILLER, size=3))} {i}" for i, t in enumerate(y)]
        L = np.full((size, 4), -1)
        for j in range(4):
            fires = rng.random(size) < 0.55
            right = rng.random(size) < 0.9
            L[fires, j] = np.where(right[fires], y[fires], 1 - y[fires])
        if split == "valid" and dev_votes == "shuffled":
            L = L[rng.permutation(size)]
        if split == "valid" and dev_votes == "contradicting":
            spam_rows, ham_rows = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
            moved = L.copy()
            moved[spam_rows] = np.where(L[spam_rows] == 1, -1, L[spam_rows])  # spam rows lose their spam votes
            targets = rng.choice(ham_rows, size=len(spam_rows))
            moved[targets] = np.where(L[spam_rows] == 1, 1, moved[targets])  # ... which land on ham rows
            L = moved
        rows = {f"{split[0]}{i}": {"label": int(y[i]), "weak_labels": [int(v) for v in L[i]], "data": {"text": texts[i]}}
                for i in range(size)}
        (folder / f"{split}.json").write_text(json.dumps(rows))
    return folder


FAST = ("--set", "end_model.compare_hard=false", "--set", "end_model.C=[1.0]", "--set", "evaluate.bootstrap=50",
        "--no-audit")


def build(folder: Path, out: Path, *args):
    result = CliRunner().invoke(cli, ["build", "--wrench", str(folder), "--out", str(out), "--json", *FAST, *args])
    return result


def metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


# ---------------------------------------------------------------- units

def test_kappa_is_one_for_agreement_zero_for_independence_negative_for_contradiction():
    a = np.array([0, 1, 0, 1, 1, 0, 0, 1] * 20)
    assert checks.kappa(a, a, 2) == pytest.approx(1.0)
    assert checks.kappa(a, 1 - a, 2) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    assert abs(checks.kappa(rng.integers(0, 2, 4000), rng.integers(0, 2, 4000), 2)) < 0.05
    low, high = checks.kappa_interval(a, a, 2, seed=0)
    assert low == high == 1.0


def test_majority_proba_splits_ties_and_gives_uncovered_rows_the_prior():
    L = np.array([[0, 0, -1], [0, 1, -1], [-1, -1, -1]])
    proba = checks.majority_proba(L, 2, np.array([0.8, 0.2]))
    assert proba.tolist() == [[1.0, 0.0], [0.5, 0.5], [0.8, 0.2]]


def test_do_no_harm_is_an_error_only_beyond_dev_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    good = np.where(rng.random(300) < 0.9, y, 1 - y)
    bad = np.where(rng.random(300) < 0.6, y, 1 - y)
    assert checks.do_no_harm(y, bad, good, k=2, metric=("accuracy", None), seed=0)["severity"] == "error"
    assert checks.do_no_harm(y, good, bad, k=2, metric=("accuracy", None), seed=0)["severity"] == "info"
    assert checks.do_no_harm(y, good, good, k=2, metric=("accuracy", None), seed=0)["severity"] == "info"


def test_class_shares_names_an_end_model_that_predicts_the_rare_class_everywhere():
    y = np.array([0] * 87 + [1] * 13)
    inverted = np.array([1] * 90 + [0] * 10)
    found = checks.class_shares(inverted, y, np.array([0.85, 0.15]), ["ham", "spam"])
    assert found["severity"] == "warning" and "'spam' on 90% of dev rows" in found["message"]
    assert checks.class_shares(y.copy(), y, np.array([0.85, 0.15]), ["ham", "spam"])["severity"] == "info"


def test_the_probe_judges_true_labels_above_shuffled_ones(tmp_path):
    import pandas as pd

    from labelkit.endmodel.probe import Probe

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    texts = [f"{rng.choice(SPAM if t else HAM)} {rng.choice(FILLER)}" for t in y]
    frame = pd.DataFrame({"text": texts})
    probe = Probe.build(frame.iloc[:300], frame.iloc[300:], np.ones(300, bool), text_column="text",
                        feature_columns=[], k=2, metric=("accuracy", None), seed=0)
    true = np.eye(2)[y[:300]]
    shuffled = np.eye(2)[rng.permutation(y[:300])]
    right = probe.score(y[300:], probe.dev_scores(true), true)
    assert right > 0.95
    assert probe.score(y[300:], probe.dev_scores(shuffled), shuffled) < right - 0.2
    assert Probe.build(frame.iloc[:300], frame.iloc[300:], np.ones(300, bool), text_column="",
                       feature_columns=[], k=2, metric=("accuracy", None), seed=0) is None  # votes only


def test_average_precision_matches_scikit_learn_with_ties():
    from sklearn.metrics import average_precision_score

    from labelkit.endmodel.probe import average_precision

    rng = np.random.default_rng(3)
    for _ in range(50):
        y = rng.random(40) < 0.3
        score = np.round(rng.random(40), 1)
        if y.any():
            assert average_precision(y, score) == pytest.approx(average_precision_score(y, score))


def test_a_label_model_that_reads_a_supported_vote_against_its_class_is_named():
    from labelkit.labelmodels.selection import _flipped_votes

    class Reads:  # P(class 1) falls below its prior after lf_b's vote for class 1
        prior = np.array([0.7, 0.3])

        def predict_proba(self, L):
            return np.where((L[:, [1]] == 1), [[0.9, 0.1]], [[0.2, 0.8]])

    supported = np.array([[False, True], [False, True]])
    flips = _flipped_votes(Reads(), supported, ["ham", "spam"], ["lf_a", "lf_b"])
    assert flips == ["lf_b's 'spam' vote lowers P('spam') below its prior"]


# ---------------------------------------------------------------- builds

def test_clean_dev_votes_raise_no_finding_and_keep_the_previous_choice(tmp_path):
    folder = spam_folder(tmp_path / "clean")
    result = build(folder, tmp_path / "out")
    assert result.exit_code == 0, result.output
    found = metrics(tmp_path / "out")["checks"]
    assert [c for c in found if c["severity"] in ("error", "warning")] == []
    info = metrics(tmp_path / "out")["label_models"]
    assert info["chosen_by"] == "label_model"  # the dev votes are trusted: their own dev score decides


def test_shuffled_dev_votes_raise_the_finding_and_no_label_model_learns_from_them(tmp_path):
    folder = spam_folder(tmp_path / "shuffled", dev_votes="shuffled")
    result = build(folder, tmp_path / "out")
    assert result.exit_code == 0, result.output
    m = metrics(tmp_path / "out")
    error = next(c for c in m["checks"] if c["name"] == "dev_votes")
    assert error["severity"] == "error" and "no aggregation is learned from the dev votes" in error["action"]
    assert "refitted on train + the 150 gold dev rows" in error["action"]  # dev gold stays valid: it trains too
    assert m["end_model"]["trained_on_dev"] is True
    info = m["label_models"]
    assert info["chosen"] in ("majority", "snorkel", "dawid_skene") and info["chosen_by"] == "end_model"
    learned = [c for c in info["candidates"] if c["learns_from_dev"]]
    assert learned and all("learns from the dev votes" in c["excluded"] for c in learned)
    assert m["systems"]["systems"]["end_model"]["accuracy"] > 0.9
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["checks"][0]["name"] == "dev_votes" and "the build fell back" in summary["verdict"]["headline"]
    failing = build(folder, tmp_path / "out2", "--fail-on", "checks")
    assert failing.exit_code == 1 and "checks: 1 error-level finding" in failing.output


def test_dev_votes_for_a_class_worse_than_no_vote_bind_the_dev_learners(tmp_path):
    """Every 'spam' vote of dev sits on a ham row while train's are right: the build names the class and
    no label model that learns from dev may read those votes backwards (the held-back SMS failure)."""
    folder = spam_folder(tmp_path / "sms", dev_votes="contradicting")
    result = build(folder, tmp_path / "out")
    assert result.exit_code == 0, result.output
    m = metrics(tmp_path / "out")
    found = {c["name"]: c for c in m["checks"]}
    assert found["lf_dev_vs_train"]["severity"] == "warning"
    assert [f["class"] for f in found["lf_dev_vs_train"]["evidence"]["classes"] if f["below_dev_share"]] == ["spam"]
    assert "'spam'" in found["lf_dev_vs_train"]["action"]
    learned = {c["key"]: c for c in m["label_models"]["candidates"] if c["learns_from_dev"]}
    assert all(c["excluded"] for c in learned.values())  # unrelated dev votes, or flipped 'spam' votes
    assert not m["label_models"]["chosen"] == "logistic_votes"
    assert m["systems"]["systems"]["end_model"]["accuracy"] > 0.9


def test_a_lone_dev_learner_on_contradicting_dev_votes_falls_back_to_majority_vote(tmp_path):
    """The held-back SMS failure: every 'spam' vote of dev sits on a ham row. Forced to logistic_votes
    alone, the label model reads 'spam' votes as ham; the end model its labels train is worse than one on
    plain majority vote, so the build falls back and says so."""
    folder = spam_folder(tmp_path / "sms", dev_votes="contradicting")
    result = build(folder, tmp_path / "out", "--set", 'label_model.candidates=["logistic_votes"]')
    assert result.exit_code == 0, result.output
    m = metrics(tmp_path / "out")
    assert m["label_models"]["chosen"] == "majority"
    harm = next(c for c in m["checks"] if c["name"] == "do_no_harm")
    assert harm["severity"] == "error" and harm["action"].startswith("fell back to majority-vote labels")
    after = m["systems"]["systems"]["end_model"]["accuracy"]
    assert after > 0.9
    build(folder, tmp_path / "before", "--set", 'label_model.candidates=["logistic_votes"]',
          "--set", "checks.fallback=false")  # the same finding, nothing done about it
    before = metrics(tmp_path / "before")
    assert before["label_models"]["chosen"] == "logistic_votes"
    assert before["systems"]["systems"]["end_model"]["accuracy"] < after - 0.15


def test_only_a_class_whose_dev_votes_are_worse_than_no_vote_binds():
    """Train: each LF's spam votes agree with what the others teach. Dev: spam votes land on ham rows
    (precision 0 against a 30% spam share) -> binding; an LF merely less accurate on dev only warns."""
    rng = np.random.default_rng(0)
    n = 400
    taught = rng.integers(0, 2, n)
    L_train = np.stack([np.where(rng.random(n) < 0.5, taught, -1) for _ in range(3)], axis=1)
    y_dev = (rng.random(300) < 0.3).astype(int)
    draw = lambda: rng.random(300)  # noqa: E731
    L_dev = np.stack([np.where(y_dev == 0, np.where(draw() < 0.3, 1, np.where(draw() < 0.4, 0, -1)), -1)
                      for _ in range(3)], axis=1)  # spam votes only on ham rows, ham votes right
    evidence = checks.VoteEvidence()
    found = checks._lf_findings(evidence, L_train, {j: taught[L_train[:, j] >= 0] for j in range(3)}, L_dev, y_dev,
                                2, ["a", "b", "c"], ["ham", "spam"])
    bound = evidence.contradicted_support()
    assert found and bound[:, 1].all()  # spam votes: right on train, worse than no vote on dev
    classes = {f["class"]: f["below_dev_share"] for f in found[0]["evidence"]["classes"]}
    assert classes["spam"] is True and classes.get("ham", False) is False
    # dev votes merely less accurate (55% right, above the class share): a warning that binds nothing
    L_dev = np.stack([np.where(rng.random(300) < 0.5, np.where(rng.random(300) < 0.55, y_dev, 1 - y_dev), -1)
                      for _ in range(3)], axis=1)
    evidence = checks.VoteEvidence()
    found = checks._lf_findings(evidence, L_train, {j: taught[L_train[:, j] >= 0] for j in range(3)}, L_dev, y_dev,
                                2, ["a", "b", "c"], ["ham", "spam"])
    assert found and not evidence.contradicted_support().any()
