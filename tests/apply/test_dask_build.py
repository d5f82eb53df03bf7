"""A full `labelkit build` with the Dask engine on a real LocalCluster of worker processes gives the
same artifacts as the local engine (LFs shipped to other interpreters, partitions back in order)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from labelkit.cli.main import cli

SAME = ("train_labels.csv", "test_predictions.csv", "metrics.json", "lf_summary.csv")


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as local:
        yield local


FAST = ["--set", "end_model.compare_hard=false", "--set", 'label_model.candidates=["majority", "dawid_skene"]',
        "--set", "end_model.C=[1.0]", "--set", "evaluate.bootstrap=100",
        "--set", 'end_model.features=["tfidf"]', "--set", 'end_model.class_weight=["none"]']


def _build(config, out, *extra):
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(out), "-q", "--no-audit", *FAST, *extra])
    assert result.exit_code == 0, result.output
    return out


def test_dask_votes_of_a_build_on_worker_processes_equal_local(cluster, tmp_path):
    """Fast variant: the build's LF stage (every split) on the cluster's worker processes."""
    import dataclasses

    import numpy as np

    from conftest import write_task
    from labelkit.settings.config import load_config
    from labelkit.data.load import load_task_data
    from labelkit.pipeline.stages import apply_votes, load_labeling_functions

    config = load_config(write_task(tmp_path / "task", n_train=200, n_dev=60, n_test=60))
    data = load_task_data(config)
    lfs = load_labeling_functions(config)[0].lfs
    local = apply_votes(config, data, lfs)
    on_dask = dataclasses.replace(config, lfs=dataclasses.replace(config.lfs, engine="dask",
                                                                  scheduler=cluster.scheduler_address))
    remote = apply_votes(on_dask, data, lfs)
    assert set(remote.L) == {"train", "dev", "test"}
    for split, L in local.L.items():
        assert np.array_equal(L, remote.L[split]) and (L >= 0).any(), split


@pytest.mark.slow
def test_dask_build_on_worker_processes_equals_local(cluster, tmp_path):
    from conftest import write_task

    config = write_task(tmp_path / "task", n_train=240, n_dev=100, n_test=120)
    local = _build(config, tmp_path / "local")
    dask = _build(config, tmp_path / "dask", "--engine", "dask", "--scheduler", cluster.scheduler_address)
    for name in SAME:
        assert (local / name).read_bytes() == (dask / name).read_bytes(), name
    assert b'"engine": "dask"' in (dask / "manifest.json").read_bytes()


@pytest.mark.slow
def test_dask_build_reports_an_unreachable_scheduler_in_one_line(tmp_path):
    from conftest import write_task

    config = write_task(tmp_path / "task", n_train=60, n_dev=40, n_test=40)
    result = CliRunner().invoke(cli, ["build", str(config), "--out", str(tmp_path / "x"), "-q", "--no-audit",
                                      "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "Dask scheduler" in result.output
    assert not (tmp_path / "x").exists()


def test_local_engine_in_chunks_equals_one_pass_and_reports_progress(monkeypatch):
    """Large tables are labelled in chunks with progress lines; the votes and error counts are the same."""
    import numpy as np

    from conftest import CLASSES, make_frame
    from labelkit.pipeline import stages as pipeline
    from labelkit.settings.config import from_dict
    from labelkit.lfs import labeling_function

    @labeling_function()
    def odd_rows_fail(row):
        if row.text.endswith(("1", "3", "5", "7", "9")):
            raise ValueError("odd")
        return "billing" if "invoice" in row.text else None

    frame = make_frame(500, np.random.default_rng(3), "x")
    config = from_dict({"task": {"classes": CLASSES}, "data": {"text_column": "text", "id_column": "id"},
                        "lfs": {"on_error": "abstain"}})
    whole = pipeline.apply_votes_to(config, frame, [odd_rows_fail], tuple(CLASSES), where="train (t.csv)")
    lines = []
    monkeypatch.setattr(pipeline, "PROGRESS_CHUNK_ROWS", 120)
    monkeypatch.setattr("labelkit.io.progress.EVERY", 0.0)
    chunked = pipeline.apply_votes_to(config, frame, [odd_rows_fail], tuple(CLASSES), where="train (t.csv)",
                                      notify=lines.append)
    assert np.array_equal(whole.L, chunked.L) and whole.errors == chunked.errors and whole.errors["odd_rows_fail"] > 0
    assert len(lines) == 5 and lines[-1].startswith("apply LFs: train: 500/500 rows (100%)")


@pytest.mark.parametrize("n_lfs", [5, 25])  # 25 LFs x 3 bits do not fit one int64 key: the row-wise path
def test_build_fits_the_label_model_from_vote_patterns_with_the_same_result(n_lfs):
    import numpy as np

    from labelkit.labelmodels import make_label_model
    from labelkit.pipeline.stages import distinct_votes, label_model_proba

    rng = np.random.default_rng(n_lfs)
    L = np.where(rng.random((300, n_lfs)) < 0.3, rng.integers(0, 4, size=(300, n_lfs)), -1).astype(np.int8)
    patterns, counts, inverse = distinct_votes(L)
    assert np.array_equal(patterns[inverse], L) and counts.sum() == len(L) and len(np.unique(patterns, axis=0)) == len(patterns)
    full = make_label_model("dawid_skene").fit(L, cardinality=4, seed=0)
    compact = make_label_model("dawid_skene").fit(patterns, cardinality=4, seed=0, sample_weight=counts)
    assert np.allclose(full.predict_proba(L), label_model_proba(compact, L), atol=1e-9)
