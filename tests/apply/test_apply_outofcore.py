"""Out of core: chunked reading, pattern counts equal to the in-memory matrix, fit from patterns."""
import numpy as np
import pandas as pd
import pytest

from labelkit import ABSTAIN, keywords, labeling_function
from labelkit.apply.local import apply_lfs
from labelkit.apply.outofcore import PatternCounter, count_patterns, fit_from_patterns, iter_chunks
from labelkit.schema import distinct_votes

CLASSES = ("ham", "spam")


@labeling_function()
def long_text(x):
    return "spam" if len(x.text) > 25 else ABSTAIN


@labeling_function()
def big(x):
    return "ham" if x.amount > 700 else ABSTAIN


LFS = [long_text, big, keywords("spam", ["check", "subscribe"], name="kw"), keywords("ham", ["song", "love"], name="kw_ham")]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(3)
    words = np.array(["check", "out", "my", "song", "love", "subscribe", "nice", "NA", "None"])
    frame = pd.DataFrame({"id": np.arange(5000),
                          "text": [" ".join(rng.choice(words, size=rng.integers(1, 9))) for _ in range(5000)],
                          "amount": rng.integers(0, 1000, size=5000)})
    folder = tmp_path_factory.mktemp("ooc")
    frame.to_parquet(folder / "data.parquet", row_group_size=1000)
    frame.to_csv(folder / "data.csv", index=False)
    return frame, folder


def test_iter_chunks_reads_every_row_in_order(data):
    frame, folder = data
    for name in ("data.parquet", "data.csv"):
        chunks = list(iter_chunks(folder / name, chunk_rows=1200))
        assert max(len(c) for c in chunks) <= 1200 and len(chunks) >= 5
        joined = pd.concat(chunks, ignore_index=True)
        assert joined["text"].tolist() == frame["text"].tolist()  # "NA"/"None" stay strings in CSV too
        assert joined["id"].tolist() == list(range(5000))


@pytest.mark.parametrize("name", ["data.parquet", "data.csv"])
def test_chunked_pattern_counts_equal_in_memory(data, name, tmp_path):
    frame, folder = data
    L = apply_lfs(LFS, frame, CLASSES, text_column="text").L
    expected_patterns, expected_counts, _ = distinct_votes(L)
    counts = count_patterns(LFS, folder / name, CLASSES, text_column="text", chunk_rows=777,
                            matrix_path=tmp_path / "L.npy")
    np.testing.assert_array_equal(counts.patterns, expected_patterns)
    np.testing.assert_array_equal(counts.counts, expected_counts)
    assert counts.n_rows == 5000 and counts.counts.sum() == 5000
    stored = np.load(tmp_path / "L.npy", mmap_mode="r")
    assert stored.dtype == np.int8
    np.testing.assert_array_equal(stored, L)


def test_counter_is_independent_of_chunking():
    rng = np.random.default_rng(0)
    L = rng.integers(-1, 2, size=(1000, 3)).astype(np.int8)
    whole, split = PatternCounter(["a", "b", "c"]), PatternCounter(["a", "b", "c"])
    whole.add(L)
    for part in np.array_split(L, 7):
        split.add(part)
    a, b = whole.result(), split.result()
    np.testing.assert_array_equal(a.patterns, b.patterns)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert len(a.patterns) == 27


@pytest.mark.parametrize("model", ["majority", "dawid_skene", "snorkel"])
def test_fit_from_patterns_equals_in_memory_fit(data, model):
    from labelkit.labelmodels import make_label_model

    frame, folder = data
    L = apply_lfs(LFS, frame, CLASSES, text_column="text").L
    counts = count_patterns(LFS, folder / "data.parquet", CLASSES, text_column="text", chunk_rows=1000)
    from_patterns = fit_from_patterns(counts, model, cardinality=2, seed=0)
    in_memory = make_label_model(model).fit(L, cardinality=2, seed=0)
    expected = in_memory.predict_proba(L)
    np.testing.assert_allclose(from_patterns.predict_proba(L), expected, atol=1e-6)


def test_distinct_votes_are_sorted_as_np_unique_sorts_rows_on_both_paths():
    rng = np.random.default_rng(0)
    packed = rng.integers(-1, 3, size=(500, 6)).astype(np.int8)  # votes fit one int64 key per row
    wide = rng.integers(-1, 120, size=(500, 12)).astype(np.int16)  # they do not: np.unique over rows
    for L in (packed, wide):
        patterns, counts, inverse = distinct_votes(L)
        expected, expected_inverse, expected_counts = np.unique(L, axis=0, return_inverse=True, return_counts=True)
        np.testing.assert_array_equal(patterns, expected)
        np.testing.assert_array_equal(counts, expected_counts)
        np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
        np.testing.assert_array_equal(patterns[inverse], L)
