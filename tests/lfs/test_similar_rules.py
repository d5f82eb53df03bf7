"""Similarity rules ("like these examples"): Python, rules files, the studio, the dev precision check,
suggestions. The `tfidf` model needs no optional package; wordllama tests skip without the extra."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import CLASSES, FAST_BUILD, make_frame
from labelkit.errors import LabelingFunctionError

HAS_WORDLLAMA = importlib.util.find_spec("wordllama") is not None


def _apply(lf, frame):
    from labelkit.apply.local import apply_lfs

    return apply_lfs([lf], frame, tuple(CLASSES), text_column="text").L[:, 0]


def test_similar_to_votes_near_its_seeds_and_not_near_its_counter_examples():
    import labelkit as lk

    frame = pd.DataFrame({"text": ["I was charged twice on my invoice", "my invoice was charged two times",
                                   "wifi keeps dropping", "thanks, the invoice is fine now", None]})
    lf = lk.similar_to("billing", ["charged twice on the invoice"], threshold=0.3, model="tfidf",
                       unlike=["the invoice is fine, thanks"], name="like_double_charge")
    votes = _apply(lf, frame)
    assert list(votes) == [0, 0, -1, -1, -1]
    # a row's vote is its own: one row at a time gives the batch's votes, and snorkel's row path agrees
    assert [lf.vote_row({"text": t}, "text") for t in frame["text"]] == ["billing", "billing", None, None, None]
    similarity = lf.similarity(frame["text"].fillna("").tolist())
    assert similarity[0] > similarity[2]


@pytest.mark.parametrize("kwargs, message", [
    ({"examples": []}, "examples must be a non-empty list"),
    ({"examples": ["x"], "threshold": 2}, "threshold must be a number in \\[-1, 1\\]"),
])
def test_bad_similarity_rules_are_one_line(kwargs, message):
    from labelkit.lfs.similar import similar_to

    with pytest.raises(LabelingFunctionError, match=message):
        similar_to("billing", **kwargs)


def test_rules_file_kind_similar(tmp_path):
    from labelkit.lfs.rules import load_rules, parse_rules

    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nname = "like_refund"\nclass = "billing"\nkind = "similar"\n'
                    'examples = ["why is my invoice so high"]\nthreshold = 0.5\nmodel = "tfidf"\n'
                    'unlike = ["wifi down"]\nmin_precision = 0.6\nabstain_below = true\n')
    [lf] = load_rules([path], classes=CLASSES)
    assert lf.kind == "similar" and lf.threshold == 0.5 and lf.abstain_below and lf.min_precision == 0.6
    frame = make_frame(60, np.random.default_rng(1), "r")
    votes = _apply(lf, frame)
    fired = frame["label"][votes >= 0]
    assert len(fired) and (fired == "billing").mean() >= 0.7
    with pytest.raises(LabelingFunctionError, match=r"rules.toml:1: rule 'x': 'threshold' must be a number"):
        parse_rules('[[rule]]\nname = "x"\nclass = "billing"\nkind = "similar"\nexamples = ["a"]\nthreshold = "hi"\n',
                    tmp_path / "rules.toml", classes=CLASSES)
    with pytest.raises(LabelingFunctionError, match="'case_sensitive' is not an option of kind 'similar'"):
        parse_rules('[[rule]]\nname = "x"\nclass = "billing"\nkind = "similar"\nexamples = ["a"]\ncase_sensitive = true\n',
                    tmp_path / "rules.toml", classes=CLASSES)


def test_a_build_checks_similarity_rules_on_dev_before_they_vote(tmp_path):
    """A loose similarity rule for the wrong class: its dev precision is below the bar, the build says so in
    its warnings and, with abstain_below, its votes are gone from every split."""
    from conftest import write_task

    task = write_task(tmp_path / "task", n_train=250, n_dev=100, n_test=80)
    rules = task.parent / "rules.toml"
    rules.write_text('[[rule]]\nname = "loose"\nclass = "billing"\nkind = "similar"\nmodel = "tfidf"\n'
                     'examples = ["wifi keeps dropping", "no internet since this morning"]\nthreshold = 0.2\n'
                     'min_precision = 0.7\nabstain_below = true\n\n'
                     '[[rule]]\nname = "tight"\nclass = "cancellation"\nkind = "similar"\nmodel = "tfidf"\n'
                     'examples = ["I want to cancel my plan"]\nthreshold = 0.5\n')
    text = task.read_text().replace('labeling_functions = ["lfs.py"]', 'labeling_functions = ["lfs.py"]\nrules = ["rules.toml"]')
    task.write_text(text)
    out = task.parent / "out"
    result = subprocess.run([sys.executable, "-m", "labelkit.cli.main", "build", str(task), "--out", str(out), "-q",
                             "--no-audit", *FAST_BUILD], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    [note] = [w for w in metrics["warnings"] if "similarity rule" in w]
    assert "'loose'" in note and "below its bar min_precision = 0.70" in note and "abstains in this build" in note
    labels = pd.read_csv(out / "train_labels.csv")
    assert labels["lf_loose"].isna().all() and labels["lf_tight"].notna().any()
    summary = {row["name"]: row for row in json.loads((out / "lf_summary.json").read_text())["lf_summary"]}
    assert summary["loose"]["coverage"] == 0 and summary["tight"]["coverage"] > 0


def test_precision_gate_leaves_good_rules_and_other_lfs_alone():
    from labelkit.lfs.declarative import keywords
    from labelkit.lfs.similar import precision_gate, similar_to
    from labelkit.pipeline.stages import Votes

    good = similar_to("billing", ["invoice"], model="tfidf", min_precision=0.5, abstain_below=True, name="good")
    bad = similar_to("billing", ["wifi"], model="tfidf", min_precision=0.5, name="bad")
    kw = keywords("billing", ["invoice"], name="kw")
    L = {"train": np.array([[0, 0, 0]] * 4, dtype=np.int8), "dev": np.array([[0, 0, 0], [0, 0, -1], [-1, 0, 0]], dtype=np.int8)}
    votes = Votes({k: v.copy() for k, v in L.items()}, ["good", "bad", "kw"], ["similar", "similar", "keywords"])
    notes = precision_gate(votes, [good, bad, kw], np.array([0, 0, 1]), tuple(CLASSES))
    assert good.dev_precision == 1.0 and bad.dev_precision == pytest.approx(2 / 3)
    assert notes == []  # 2/3 >= 0.5
    bad.min_precision = 0.9
    notes = precision_gate(votes, [good, bad, kw], np.array([0, 0, 1]), tuple(CLASSES))
    assert len(notes) == 1 and "'bad'" in notes[0] and "still votes" in notes[0]
    assert np.array_equal(votes.L["train"], L["train"])  # bad has no abstain_below: warned, untouched


def test_suggestions_come_from_dev_rows_every_rule_abstains_on():
    from labelkit.lfs.similar import suggest_similar, suggestion_rule_toml
    from labelkit.lfs.rules import parse_rules

    dev = make_frame(150, np.random.default_rng(4), "d")
    y = np.array([CLASSES.index(c) for c in dev["label"]])
    L = np.where(y == 0, 0, -1)[:, None].astype(np.int8)  # billing is covered; the others are not
    found = suggest_similar(dev["text"].tolist(), y, L, tuple(CLASSES), model="tfidf")
    assert found and {s["class"] for s in found} <= {"connectivity", "cancellation"}
    for suggestion in found:
        assert suggestion["dev_precision"] >= 0.8 and 0 < suggestion["threshold"] < 1
        assert all(e in set(dev["text"]) for e in suggestion["examples"])
        [rule] = parse_rules(suggestion_rule_toml(suggestion), "suggested.toml", classes=CLASSES)
        assert rule.kind == "similar"
    assert suggest_similar(dev["text"].tolist(), y, np.zeros((len(y), 1), dtype=np.int8), tuple(CLASSES)) == []


def test_lfs_command_suggests_similarity_rules(task):
    from click.testing import CliRunner

    from labelkit.cli.main import cli

    result = CliRunner().invoke(cli, ["lfs", str(task), "--suggest-similar"])
    assert result.exit_code == 0, result.output
    assert "Similarity rules suggested" in result.output or "No similarity rule to suggest" in result.output
    as_json = CliRunner().invoke(cli, ["lfs", str(task), "--suggest-similar", "--json"])
    assert "similar_suggestions" in json.loads(as_json.output)


def test_studio_previews_a_similarity_rule(tmp_path):
    from conftest import write_task
    from starlette.testclient import TestClient

    from labelkit.settings.config import load_config
    from labelkit.studio.app import create_app
    from labelkit.studio.state import open_studio

    config = load_config(write_task(tmp_path / "task", n_train=200, n_dev=90, n_test=60))
    state = open_studio(config, run_dir=None, reviewer="ana")
    base = "http://127.0.0.1:8765"
    client = TestClient(create_app(state), base_url=base)
    assert client.get(f"/?token={state.token}").status_code == 200
    form = {"csrf": state.csrf, "sha": state.rules_sha256, "name": "like_cancel", "class": "cancellation",
            "kind": "similar", "examples": "I want to cancel my plan\n<b>end my contract</b>", "threshold": "0.4",
            "model": "tfidf", "original": ""}
    html = client.post("/preview", data=form, headers={"Origin": base}).text
    assert 'id="preview-coverage"' in html and "<b>end my contract</b>" not in html
    saved = client.post("/save", data=form, headers={"Origin": base}, follow_redirects=False)
    assert saved.status_code == 303
    from labelkit.lfs.rules import read_rules

    [rule] = read_rules(tmp_path / "task" / "rules.toml")
    assert rule.kind == "similar" and rule.options["threshold"] == 0.4 and len(rule.options["examples"]) == 2
    assert 0 < state.workspace.figures("like_cancel").coverage < 1


@pytest.mark.skipif(not HAS_WORDLLAMA, reason="the optional extra is not installed: pip install 'labelkit[embeddings]'")
def test_wordllama_similarity_generalises_beyond_shared_words():
    from labelkit.lfs.similar import similar_to

    lf = similar_to("billing", ["I was charged twice"], threshold=0.5, name="like_charge")
    sims = lf.similarity(["you billed me two times", "my router is broken"])
    assert sims[0] > sims[1]
