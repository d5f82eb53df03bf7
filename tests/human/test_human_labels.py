"""Human-labelled training rows (labelkit/human/labels.py, labelkit/endmodel/gold.py) and the label-next picker
(labelkit/human/label_next.py, `labelkit label-next`): the user's path pool -> picker -> filled file -> build."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import CLASSES, make_frame, write_task

from labelkit.errors import DatasetError

FAST = {"label_model.candidates": '["majority"]', "end_model.compare_hard": "false", "end_model.C": "[1.0]",
        "evaluate.bootstrap": "50", "audit.weak_label_issues": "false"}


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "labelkit.cli.main", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small task, built once (fast settings), with a pool of new rows from another draw."""
    from labelkit.settings.config import load_config
    from labelkit.pipeline.run import build

    folder = tmp_path_factory.mktemp("human") / "task"
    config_path = write_task(folder, n_train=300, n_dev=120, n_test=150)
    run = folder / "run"
    build(load_config(config_path, overrides=FAST), out=run)
    pool = make_frame(120, np.random.default_rng(99), "po")
    test = pd.read_csv(folder / "test.csv")
    copies = pd.DataFrame([{**test.iloc[0].to_dict(), "id": "po_copy"},  # a test row's text under a new id
                           {**pool.iloc[1].to_dict(), "id": "po_repeat"}])  # the same text twice in the pool
    pool = pd.concat([pool, copies], ignore_index=True)
    pool.drop(columns=["label"]).to_csv(folder / "pool.csv", index=False)
    pool[["id", "label"]].to_csv(folder / "pool_gold.csv", index=False)  # the stand-in person
    return config_path, run, folder


@pytest.mark.slow  # a build and three CLI runs (~30 s); the picker's and the checks' logic run by default below
def test_label_next_ranks_a_pool_and_appends_a_blind_batch(built, tmp_path):
    config_path, run, folder = built
    out = tmp_path / "label_next.csv"
    done = _cli("label-next", run, "--budget", 6, "--pool", folder / "pool.csv", "-o", out)
    assert done.returncode == 0, done.stderr
    assert "same id or (near-)same text as a dev/test row" in done.stdout and "repeated id or text" in done.stdout
    batch = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(batch) == 6 and (batch["label"] == "").all()
    assert not {"po_copy", "po_repeat"} & set(batch["id"])
    # blind: a person labels the text, never the model's or the rules' answer
    assert not any(c in batch.columns for c in ("model_label", "rules_label", "model_confidence"))
    assert not batch["why"].str.contains("|".join(CLASSES)).any()
    assert list(batch.columns[:2]) == ["id", "label"] and {"text", "country", "pool", "priority"} <= set(batch.columns)

    batch.loc[0, "label"] = "billing"  # a person fills in one label, then asks for more
    batch.to_csv(out, index=False)
    again = _cli("label-next", run, "--budget", 4, "--pool", folder / "pool.csv", "-o", out, "--json")
    assert again.returncode == 0, again.stderr
    grown = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(grown) == 10 and grown["id"].is_unique and grown.loc[0, "label"] == "billing"
    assert json.loads(again.stdout)["left_out"]["already in the human labels file"] == 6


@pytest.mark.slow
def test_label_next_refuses_bad_input_in_one_line(built, tmp_path):
    config_path, run, folder = built
    no_text = tmp_path / "pool.csv"
    pd.DataFrame({"id": ["a"], "body": ["x"]}).to_csv(no_text, index=False)
    done = _cli("label-next", run, "--budget", 3, "--pool", no_text, "-o", tmp_path / "out.csv")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "no column(s) 'text'" in done.stderr
    zero = _cli("label-next", run, "--budget", 0, "-o", tmp_path / "o.csv")  # a usage error (options.LabelNextOptions)
    assert zero.returncode == 2 and "'--budget': 0 is not in the range x>=1" in zero.stderr
    bad = _cli("label-next", run, "--budget", 3, "--slice", "nope", "-o", tmp_path / "o.csv")
    assert bad.returncode == 1 and "--slice 'nope'" in bad.stderr


def test_the_picker_spreads_its_batch_over_different_rows():
    """Ten copies (but for one number) of the most valuable text and ten distinct rows a little less
    valuable: a batch of five takes one copy, not five."""
    from labelkit.human.label_next import choose

    texts = [f"router broken again number {i}" for i in range(10)] + \
            [f"{w} invoice question about my plan" for w in ("why", "odd", "late", "double", "new", "old", "big",
                                                              "small", "first", "last")]
    scored = pd.DataFrame({"value": [1.0] * 10 + [0.9] * 10, "uncertainty": [1.0] * 10 + [0.9] * 10})
    chosen = choose(scored, pd.DataFrame({"text": texts}), "text", 5, seed=0)
    assert sum(i < 10 for i in chosen) == 1 and len(set(chosen)) == 5
    assert all(i < 10 for i in choose(scored, pd.DataFrame({"text": texts}), "text", 5, strategy="activelab"))


@pytest.mark.slow  # two builds; the checks themselves run by default (test_human_rows_that_copy_dev_or_test_...)
def test_human_rows_train_the_end_model_and_never_reach_dev_or_test(built, tmp_path):
    """The filled batch, a pending row, rows that copy dev/test (same id, same text, near-same text), a row
    with a train row's id: the build trains on the good ones, refuses the others, and says so."""
    from labelkit.settings.config import load_config
    from labelkit.pipeline.run import build

    config_path, _, folder = built
    pool = pd.read_csv(folder / "pool.csv")
    gold = pd.read_csv(folder / "pool_gold.csv").set_index("id")["label"]
    dev, test, train = (pd.read_csv(folder / f"{s}.csv") for s in ("dev", "test", "train"))
    rows = pool.iloc[:30].assign(label=lambda f: f["id"].map(gold))
    rows.loc[rows.index[-1], "label"] = ""  # not labelled yet
    leaks = pd.DataFrame([
        {**test.iloc[3].to_dict(), "label": test.label[3]},  # same id as a test row
        {**dev.iloc[4].to_dict(), "id": "new_a", "label": dev.label[4]},  # same text as a dev row
        {**test.iloc[5].to_dict(), "id": "new_b", "text": test.text[5] + " ok", "label": test.label[5]},  # near copy
        {"id": train.id[7], "label": "Cancellation"},  # a train row, its class written as a spreadsheet user may
    ])
    human = tmp_path / "human.csv"
    pd.concat([rows, leaks], ignore_index=True).to_csv(human, index=False)
    out = tmp_path / "run"
    outcome = build(load_config(config_path, overrides={**FAST, "data.human_labels": str(human)}), out=out)
    section = outcome.results.human_labels
    assert section["rows"] == 29 + 1 and section["in_train"] == 1
    assert section["refused"] == {"same_id_as_gold": 1, "same_text_as_gold": 1, "near_duplicate_of_gold": 1}
    evidence = {r["row_id"]: r["evidence"] for r in section["refused_rows"]}
    assert evidence["new_b"].startswith(f"near duplicate of test row '{test.id[5]}' (Jaccard")
    source = section["sources"][0]
    assert source["path"] == str(human) and source["pending"] == 1 and source["labelled"] == 33 and source["used"] == 30
    assert section["weight"] in (1.0, 2.0, 4.0, 8.0) and set(section["weight_scores"]) == {"without", "1", "2", "4", "8"}
    assert section["summary"][-1].startswith("overall: ") and "after 30 human labels" in section["summary"][-1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["human_labels"]["sources"][0]["sha256"] == source["sha256"] and manifest["human_labels"]["rows"] == 30
    systems = json.loads((out / "metrics.json").read_text())["systems"]["systems"]
    assert {"end_model", "end_model_before_human_labels"} <= set(systems)
    report = (out / "report.md").read_text()
    assert "## Human labels" in report and "after 30 human labels" in report and "near duplicate of gold" in report


def test_a_label_that_is_not_a_class_is_one_line(tmp_path):
    from labelkit.settings.config import load_config
    from labelkit.human.labels import read_human_file

    config_path = write_task(tmp_path / "task", n_train=60, n_dev=40, n_test=40)
    path = tmp_path / "labels.csv"
    pd.DataFrame({"id": ["x1", "x2"], "text": ["a", "b"], "label": ["billing", "biling"]}).to_csv(path, index=False)
    with pytest.raises(DatasetError, match=r"labels.csv line 3 \(row 'x2'\): label 'biling' is not a class \(did you "
                                           r"mean 'billing'\?\)"):
        read_human_file(path, load_config(config_path), tuple(CLASSES))
    done = _cli("build", config_path, "--set", f"data.human_labels={path}", "--out", tmp_path / "r", "-q",
                "--no-audit")
    assert done.returncode == 1 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "label 'biling' is not a class" in done.stderr and not (tmp_path / "r").exists()


def test_human_rows_that_copy_dev_or_test_are_refused_with_the_evidence(tmp_path):
    """The checks on their own (no build): same id, same normalised text, near-same text as a dev/test row;
    a blank label waits; a train row's id takes the train row's data; later sources win."""
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data
    from labelkit.human.labels import load_human_labels

    config_path = write_task(tmp_path / "task", n_train=80, n_dev=40, n_test=40)
    folder = config_path.parent
    dev, test, train = (pd.read_csv(folder / f"{s}.csv") for s in ("dev", "test", "train"))
    rows = pd.DataFrame([
        {"id": "h1", "text": "the router light is red and nothing loads", "label": "connectivity"},
        {"id": "h2", "text": "a row nobody has labelled yet", "label": ""},
        {"id": test.id[0], "text": "anything", "label": "billing"},
        {"id": "h3", "text": "  " + dev.text[1].upper() + " ", "label": dev.label[1]},
        {"id": "h4", "text": test.text[2] + "!", "label": test.label[2]},
        {"id": train.id[3], "label": "billing"},
        {"id": "h1", "text": "the router light is red and nothing loads", "label": "billing"},  # later wins
    ])
    rows.to_csv(folder / "label_next.csv", index=False)  # the default [data] human_labels
    config = load_config(config_path)
    data = load_task_data(config)
    human = load_human_labels(config, data, data)
    assert human.frame["id"].tolist() == [train.id[3], "h1"] and [CLASSES[i] for i in human.y] == ["billing"] * 2
    assert human.frame["text"].tolist()[0] == train.text[3] and human.train_position.tolist() == [3, -1]
    refused = {r["row_id"]: (r["reason"], r["evidence"]) for r in human.refused}
    assert refused[test.id[0]] == ("same_id_as_gold", f"same id as test row {test.id[0]!r}")
    assert refused["h3"] == ("same_text_as_gold", f"same text as dev row {dev.id[1]!r}")
    assert refused["h4"][0] == "near_duplicate_of_gold" and f"test row {test.id[2]!r} (Jaccard" in refused["h4"][1]
    source = human.files[0]
    assert (source["rows"], source["labelled"], source["pending"], source["used"]) == (7, 6, 1, 2)
    assert "given twice with different classes" in human.notes[0]
    weights = human.train_weights(len(data.frames["train"]))
    assert weights[3] == 0 and weights.sum() == len(weights) - 1  # it trains once, as a human row


def test_no_human_row_is_scored_by_a_model_that_saw_its_label(tmp_path):
    """Human rows with random labels: a model that saw a row's label would get it right far above chance; the
    cross-fitted score of the weight search stays near chance while the final model fits them."""
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data
    from labelkit.endmodel import train_end_model

    config_path = write_task(tmp_path / "task", n_train=150, n_dev=60, n_test=20)
    data = load_task_data(load_config(config_path))
    rng = np.random.default_rng(3)
    noise = make_frame(60, rng, "nz").assign(text=lambda f: [" ".join(rng.choice(list("abcdefgh"), 12)) + f" z{i}"
                                                             for i in range(len(f))])
    y_noise = rng.integers(0, 3, size=60)
    train = data.frames["train"]
    weak = np.full((len(train), 3), 1 / 3)
    weak[np.arange(len(train)), rng.integers(0, 3, size=len(train))] += 0.5
    model = train_end_model(train, weak / weak.sum(axis=1, keepdims=True), tuple(CLASSES), text_column="text",
                            dev=data.frames["dev"], y_dev=data.gold["dev"], Cs=[10.0], gold=noise, y_gold=y_noise,
                            gold_weights=(8.0, 16.0), seed=0)
    crossed = max(v["human_rows"] for k, v in model.human_scores.items() if k != "without")
    in_sample = float(np.mean(model.predict(noise) == y_noise))
    assert crossed < 0.5 < in_sample


@pytest.mark.slow  # a build, a replay into a real serve log, and label-next over it
def test_label_next_reads_a_serve_log(built, tmp_path):
    """Production traffic as the pool: requests logged by the serve machinery (a real SQLite log written by
    `labelkit shadow replay`), ranked, and written with the request ids."""
    from labelkit.serve.replay import read_requests, replay

    config_path, run, folder = built
    requests = pd.read_csv(folder / "pool.csv").head(60)
    log = tmp_path / "traffic.sqlite"
    replay(read_requests(folder / "pool.csv").head(60), run, out=log)
    done = _cli("label-next", run, "--budget", 5, "--pool", log, "-o", tmp_path / "next.csv")
    assert done.returncode == 0, done.stderr
    assert f"the requests logged in {log}" in done.stdout
    batch = pd.read_csv(tmp_path / "next.csv", dtype=str, keep_default_na=False)
    assert len(batch) == 5 and set(batch["id"]) <= set(requests["id"]) and (batch["label"] == "").all()
    assert set(batch["pool"]) == {str(log)}
    hashed = tmp_path / "hashed.sqlite"
    replay(read_requests(folder / "pool.csv").head(5), run, out=hashed, log_input="hash")
    refused = _cli("label-next", run, "--budget", 5, "--pool", hashed, "-o", tmp_path / "n2.csv")
    assert refused.returncode == 1 and "--log-input full" in refused.stderr
