"""Processes and Dask engines: same matrix, same row order and same error counts as local."""
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from labelkit import keywords, spacy_patterns
from labelkit.apply.engines import apply_with_engine
from labelkit.apply.processes import chunk_bounds, pickle_lfs
from labelkit.errors import ConfigError, LabelingFunctionError
from labelkit.lfs import load_lfs

CLASSES = ("ham", "spam")
LF_MODULE = '''
from labelkit import ABSTAIN, labeling_function, regex

THRESHOLD = 3

@labeling_function()
def short(x):
    return "ham" if len(str(x.text).split()) < THRESHOLD else ABSTAIN

@labeling_function()
def fails_on_seven(x):
    if x.id % 97 == 7:
        raise ValueError("seven")
    return "spam" if "my" in x.text else ABSTAIN

link = regex("spam", r"https?://", name="link")
'''


@pytest.fixture(scope="module")
def lfs(tmp_path_factory):
    path = tmp_path_factory.mktemp("lfs") / "my_lfs.py"
    path.write_text(LF_MODULE)
    return load_lfs([path]) + [
        keywords("spam", ["subscribe", "café"], name="kw"),
        spacy_patterns("spam", [[{"LOWER": "check"}, {"LOWER": "out"}]], name="sp_check", phrases=["my channel"]),
    ]


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    words = np.array(["check", "out", "my", "channel", "subscribe", "song", "café", "http://x", "love", "it"])
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 8))) for _ in range(3000)]
    index = rng.permutation(3000)  # a shuffled index: results must follow row order, not index order
    return pd.DataFrame({"id": np.arange(3000), "text": texts}, index=index)


@pytest.fixture(scope="module")
def local(lfs, frame):
    return apply_with_engine(lfs, frame, CLASSES, engine="local", text_column="text", on_error="abstain")


def test_local_result_is_not_trivial(local):
    assert (local.L != -1).mean(axis=0).min() > 0.05
    assert local.errors == {"fails_on_seven": 31}


def test_processes_engine_equals_local(lfs, frame, local):
    result = apply_with_engine(lfs, frame, CLASSES, engine="processes", n_workers=2, text_column="text",
                               on_error="abstain")
    np.testing.assert_array_equal(result.L, local.L)
    assert result.errors == local.errors and result.lf_names == local.lf_names


def test_processes_engine_raise_names_global_row(lfs, frame):
    with pytest.raises(LabelingFunctionError, match=r"'fails_on_seven' raised ValueError: seven on data row id=np.int64\(7\)"):
        apply_with_engine(lfs, frame, CLASSES, engine="processes", n_workers=2, text_column="text", id_column="id")


def test_dask_engine_on_local_cluster_equals_local(lfs, frame, local):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        result = apply_with_engine(lfs, frame, CLASSES, engine="dask", scheduler=cluster.scheduler_address,
                                   text_column="text", on_error="abstain")
    np.testing.assert_array_equal(result.L, local.L)
    assert result.errors == local.errors


def test_lfs_from_files_pickle_by_value_into_a_fresh_interpreter(lfs, frame, local, tmp_path):
    payload = tmp_path / "lfs.pkl"
    payload.write_bytes(pickle_lfs(lfs))
    frame.to_parquet(tmp_path / "frame.parquet")
    script = textwrap.dedent(f"""
        import pickle, pandas as pd
        from labelkit.apply.local import apply_lfs
        lfs = pickle.loads(open({str(payload)!r}, "rb").read())
        frame = pd.read_parquet({str(tmp_path / 'frame.parquet')!r})
        print(apply_lfs(lfs, frame, ("ham", "spam"), text_column="text", on_error="abstain").L.sum())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == int(local.L.astype(np.int64).sum())


def test_unknown_engine_and_misplaced_scheduler_are_config_errors(lfs, frame):
    with pytest.raises(ConfigError, match="Unknown engine 'spark'; valid engines are: local, processes, dask"):
        apply_with_engine(lfs, frame, CLASSES, engine="spark", text_column="text")
    with pytest.raises(ConfigError, match="only applies to the dask engine"):
        apply_with_engine(lfs, frame, CLASSES, engine="processes", scheduler="tcp://x:1", text_column="text")


def test_chunk_bounds_cover_rows_in_order():
    bounds = chunk_bounds(10_001, 2)
    assert bounds[0][0] == 0 and bounds[-1][1] == 10_001
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert chunk_bounds(0, 2) == [] and chunk_bounds(5, 2) == [(0, 5)]
