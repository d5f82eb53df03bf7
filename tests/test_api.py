"""The notebook API: a build on DataFrames in memory, saved and loaded back; the docs notebook runs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labelkit as lk
from labelkit.errors import DatasetError
from labelkit.report.compare import compare_runs
from labelkit.results import load_results

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["ham", "spam"]


def _frames(n=120, seed=0):
    rng = np.random.default_rng(seed)
    spam = ["subscribe to my channel", "check out my channel", "free gift card click here", "visit my website now"]
    ham = ["great song love it", "this video is amazing", "best music ever", "i love this part of the song"]

    def split(size):
        labels = rng.integers(0, 2, size)
        texts = [f"{(spam if y else ham)[rng.integers(0, 4)]} {rng.integers(0, 50)}" for y in labels]
        return pd.DataFrame({"text": texts, "label": [CLASSES[y] for y in labels]})

    return split(n), split(60), split(60)


def _lfs():
    return [lk.keywords("spam", ["subscribe", "channel", "click"], name="kw_spam"),
            lk.keywords("ham", ["song", "music", "love"], name="kw_ham"),
            lk.regex("spam", r"\bwebsite\b", name="re_site")]


@pytest.fixture(scope="module")
def result():
    train, dev, test = _frames()
    task = lk.Task.from_frames(train.drop(columns="label"), dev, test, classes=CLASSES,
                               settings={"label_model": {"candidates": ["majority", "weighted_majority"]},
                                         "end_model": {"compare_hard": False}})
    return lk.run(task, _lfs(), audit=False)


def test_run_in_memory_exposes_matrix_summary_models_and_metrics(result):
    assert result.L.shape == (120, 3)
    assert set(np.unique(result.L)) <= {-1, 0, 1}
    summary = result.lf_summary()
    assert list(summary.index) == ["kw_spam", "kw_ham", "re_site"]
    assert summary.loc["kw_spam", "coverage"] > 0.3
    proba = result.label_model.predict_proba(result.L)
    assert proba.shape == (120, 2) and np.allclose(proba.sum(axis=1), 1)
    systems = result.systems()
    # the data is separable by the keywords: the rules and the model must beat the majority guess
    assert systems.loc["end_model", "accuracy"] > systems.loc["majority_class", "accuracy"] + 0.2
    page = result.report()._repr_html_()
    assert "<html" in page.lower()
    assert "rows: train 120, dev 60, test 60" in page  # the report reads what a real build produces


def test_saved_run_loads_back_and_predicts_the_same(result, tmp_path):
    out = result.save(tmp_path / "run")
    loaded = lk.load(out)
    frame = pd.DataFrame({"text": ["subscribe to my channel 3", "great song love it 7"]})
    assert np.allclose(loaded.predict_proba(frame), result.end_model.predict_proba(frame))
    assert list(loaded.classes) == CLASSES
    assert loaded.results == result.metrics == load_results(out)  # metrics.json reads back as the same results
    same = compare_runs(out, out, n_boot=20)
    assert same.n == 60 and all(d.changed == 0 for d in same.systems.values())


def test_save_reuses_the_plots_report_drew_and_writes_the_same_bytes(result, tmp_path, monkeypatch):
    from labelkit.report import plots, render_html

    drawn = []
    for kind, draw in list(plots.PLOTS.items()):
        monkeypatch.setitem(plots.PLOTS, kind, lambda data, kind=kind, draw=draw: drawn.append(kind) or draw(data))
    result._html = None  # the module's result may have drawn its report already
    page = result.report().html
    assert drawn, "report() drew no plot"
    drawn.clear()
    out = result.save(tmp_path / "run")
    assert drawn == [], f"save() drew {drawn} again"
    saved = (out / "report.html").read_text(encoding="utf-8")
    fresh = render_html(result.metrics, {"lf_examples": result._examples})  # outside the store: drawn anew
    assert drawn and saved == page == fresh


def test_in_memory_task_is_validated_and_never_modified():
    train, dev, test = _frames(20)
    before = dev.copy()
    with pytest.raises(DatasetError, match="label"):
        lk.run(lk.Task.from_frames(train, dev.assign(label=["maybe"] * len(dev)), test, classes=CLASSES), _lfs(),
               audit=False)
    pd.testing.assert_frame_equal(dev, before)


def test_docs_notebook_runs_headless(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel's tempfile.mkdtemp() (the notebook's save) lands here

    notebook = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("text/html" in o.get("data", {}) for o in outputs)  # the report rendered inline


def test_a_loaded_build_votes_on_requests_that_lack_a_column_its_rules_test(tmp_path):
    """Serving sends what the client has: a column of the build's data that a request lacks is missing,
    so a rule testing it abstains instead of failing the whole rules system."""
    from labelkit.settings.config import from_dict
    from labelkit.results import BuildResults, Manifest
    from labelkit.runs import Run

    lfs = [lk.column_condition("spam", "channel == 'bot'", name="bot_channel"), *_lfs()]
    config = from_dict({"task": {"classes": CLASSES}, "data": {"text_column": "text"}})
    results = BuildResults.from_json({"task": {"name": "t", "classes": CLASSES, "rows": {}},
                                      "systems": {"n": 0, "classes": CLASSES, "systems": {}}})
    run = Run(tmp_path, Manifest(data_columns=["id", "text", "channel"]), results, config, lfs=lfs)
    L = run.votes(pd.DataFrame({"text": ["subscribe to my channel", "great song"]}))
    assert L.tolist() == [[-1, 1, -1, -1], [-1, -1, 0, -1]]
    with_column = run.votes(pd.DataFrame({"text": ["great song"], "channel": ["bot"]}))
    assert with_column.tolist() == [[1, -1, 0, -1]]


def test_rows_no_lf_votes_on_join_training_unless_switched_off(tmp_path):
    """'this video is amazing' is ham no LF votes on: the end model learns it from the uncovered train
    rows, labelled with the gold shares of the dev rows no LF votes on (all ham here)."""
    train, dev, test = _frames(seed=3)
    settings = {"label_model": {"candidates": ["majority"]}, "end_model": {"compare_hard": False, "C": [1.0]}}

    def build(**end_model):
        task = lk.Task.from_frames(train.drop(columns="label"), dev, test, classes=CLASSES,
                                   settings={**settings, "end_model": {**settings["end_model"], **end_model}})
        return lk.run(task, _lfs(), audit=False)

    added, covered_only = build(), build(include_uncovered=False)
    assert added.metrics.end_model.uncovered_label["ham"] > 0.8
    assert covered_only.metrics.end_model.uncovered_label is None
    assert "uncovered_label" not in covered_only.metrics.to_json()["end_model"]
    uncovered = int((~(added.L >= 0).any(axis=1)).sum())
    assert added.metrics.end_model.train_rows == covered_only.metrics.end_model.train_rows + uncovered > uncovered
    assert added.end_model.predict_labels(pd.DataFrame({"text": ["this video is amazing 7"]})) == ["ham"]
    added.save(tmp_path / "run")
    assert lk.load(tmp_path / "run").end_model.uncovered_target == added.end_model.uncovered_target


def test_a_votes_only_task_from_frames_builds_its_label_models(tmp_path):
    """[data] vote_columns given to Task.from_frames are the votes (no text, no LFs): the label models
    run on them, as `labelkit build` reads vote columns from files."""
    rng = np.random.default_rng(3)

    def split(n):
        y = rng.integers(0, 2, n)
        right = rng.random((n, 4)) < 0.85
        votes = np.where(rng.random((n, 4)) < 0.7, np.where(right, y[:, None], 1 - y[:, None]), -1)
        return pd.DataFrame({**{f"w{j}": votes[:, j] for j in range(4)}, "label": [CLASSES[v] for v in y]})

    task = lk.Task.from_frames(split(300), split(80), split(80), classes=CLASSES, text="",
                               vote_columns=["w0", "w1", "w2", "w3"],
                               settings={"end_model": {"enabled": False},
                                         "label_model": {"candidates": ["majority", "dawid_skene"]}})
    run = lk.run(task, audit=False)
    assert run.L.shape == (300, 4) and run.lf_names == ["w0", "w1", "w2", "w3"]
    assert run.systems().loc["label_model", "accuracy"] > 0.8
    run.save(tmp_path / "out")  # the LF examples of rows without text
    assert (tmp_path / "out" / "metrics.json").is_file()
