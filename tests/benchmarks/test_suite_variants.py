"""The stress variants of benchmarks/suite.py and its gate: fast, no builds."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelkit.data.load import TaskData
from labelkit.schema import LabelSchema

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def suite():
    spec = importlib.util.spec_from_file_location("labelkit_bench_suite", ROOT / "benchmarks" / "suite.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _data(k=3, n=(60, 40, 30), lfs=6, seed=0) -> TaskData:
    rng = np.random.default_rng(seed)
    classes = tuple(f"c{i}" for i in range(k))
    frames, gold, votes = {}, {}, {}
    for split, rows in zip(("train", "dev", "test"), n):
        y = rng.integers(0, k, rows)
        frames[split] = pd.DataFrame({"id": [f"{split}{i}" for i in range(rows)], "text": [f"row {i}" for i in range(rows)],
                                      "label": [classes[c] for c in y]})
        L = np.where(rng.random((rows, lfs)) < 0.6, rng.integers(0, k, (rows, lfs)), -1).astype(np.int8)
        L[:, 0] = np.where(rng.random(rows) < 0.9, y, -1)  # LF 0 votes most, and rightly
        votes[split] = L
        if split != "train":
            gold[split] = y
    return TaskData(LabelSchema(classes), frames, gold, votes=votes, vote_names=[f"lf_{j}" for j in range(lfs)])


def _rng():
    return np.random.default_rng(7)


def test_shuffled_dev_permutes_the_dev_votes_only(suite):
    data = _data()
    out = suite.shuffle_dev_votes(data, None, _rng())
    assert not np.array_equal(out.votes["dev"], data.votes["dev"])
    assert sorted(map(tuple, out.votes["dev"].tolist())) == sorted(map(tuple, data.votes["dev"].tolist()))
    for split in ("train", "test"):
        assert out.votes[split] is data.votes[split]
    assert out.frames["dev"] is data.frames["dev"] and out.gold["dev"] is data.gold["dev"]


def test_inverted_lf_maps_its_votes_to_the_next_class_in_every_split(suite):
    data = _data(k=3)
    assert suite.inverted_lf(data) == 0  # the most right minus wrong dev votes
    out = suite.invert_lf(data, None, _rng())
    for split, L in data.votes.items():
        before, after = L[:, 0], out.votes[split][:, 0]
        assert np.array_equal(after[before < 0], before[before < 0])  # abstains stay
        assert np.array_equal(after[before >= 0], (before[before >= 0] + 1) % 3)
        assert np.array_equal(out.votes[split][:, 1:], L[:, 1:])
    binary = _data(k=2)
    flipped = suite.invert_lf(binary, None, _rng()).votes["train"][:, 0]
    fired = binary.votes["train"][:, 0] >= 0
    assert np.array_equal(flipped[fired], 1 - binary.votes["train"][fired, 0])


def test_dropped_and_duplicated_lfs(suite):
    data = _data(lfs=6)
    dropped = suite.drop_lfs(data, 1 / 3, _rng())
    assert len(dropped.vote_names) == 4 and all(L.shape[1] == 4 for L in dropped.votes.values())
    kept = [data.vote_names.index(name) for name in dropped.vote_names]
    assert np.array_equal(dropped.votes["dev"], data.votes["dev"][:, kept])
    assert dropped.vote_names == suite.drop_lfs(data, 1 / 3, _rng()).vote_names  # seeded
    doubled = suite.duplicate_lfs(data, None, _rng())
    assert len(doubled.vote_names) == 12 and len(set(doubled.vote_names)) == 12
    assert np.array_equal(doubled.votes["test"][:, 6:], data.votes["test"])


def test_small_dev_keeps_rows_votes_and_gold_aligned(suite):
    data = _data(n=(60, 40, 30))
    out = suite.small_dev(data, 30, _rng())
    assert len(out.frames["dev"]) == 30 == len(out.gold["dev"]) == len(out.votes["dev"])
    rows = [int(i[3:]) for i in out.frames["dev"]["id"]]
    assert np.array_equal(out.gold["dev"], data.gold["dev"][rows])
    assert np.array_equal(out.votes["dev"], data.votes["dev"][rows])
    assert out.frames["train"] is data.frames["train"]
    with pytest.raises(suite.VariantNotApplicable):
        suite.small_dev(data, 40, _rng())


def test_imbalance_hits_the_share_in_every_split(suite, tmp_path):
    folder = tmp_path / "wrench"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 400), ("valid", 100), ("test", 100)):
        rows = {str(i): {"data": {"text": f"t{i}"}, "label": int(i % 2), "weak_labels": [int(rng.integers(-1, 2))]}
                for i in range(n)}
        (folder / f"{split}.json").write_text(json.dumps(rows), encoding="utf-8")
    (folder / "label.json").write_text(json.dumps({"0": "ham", "1": "spam"}), encoding="utf-8")
    out = suite.bench_module("wrench").imbalanced_copy(folder, tmp_path, 0.13, seed=0)
    for split in ("train", "valid", "test"):
        labels = [r["label"] for r in json.loads((out / f"{split}.json").read_text()).values()]
        assert abs(np.mean(labels) - 0.13) < 0.01


def test_a_pooled_votes_only_matrix_is_split_without_overlap(suite, tmp_path):
    import scipy.io

    source = tmp_path / "pooled"
    source.mkdir()
    y = np.arange(50) % 2
    L = np.stack([y, 1 - y, np.full(50, -1)], axis=1)
    scipy.io.savemat(source / "pooled.mat", {"train_pred": L.astype(float), "train_labels": y[None, :]})
    out = suite.votes_only_folder(source, tmp_path / "out", seed=0)
    sizes = {}
    for split in ("train", "valid", "test"):
        rows = json.loads((out / f"{split}.json").read_text())
        sizes[split] = len(rows)
        for row in rows.values():
            assert row["data"] == {} and row["weak_labels"] == [row["label"], 1 - row["label"], -1]
    assert sizes == {"train": 30, "valid": 10, "test": 10}
    assert json.loads((out / "label.json").read_text()) == {"0": "class_0", "1": "class_1"}


def _row(set_, variant, current, previous, end=True):
    side = lambda v: {"rules": 0.5, "label_model": v, "end_model": v if end else None, "error_checks": []}  # noqa: E731
    return {"set": set_, "variant": variant, "status": "ok", "errors": {}, "current": side(current),
            "previous": side(previous), "headline": "end_model" if end else "label_model", "do_no_harm": 0.8}


def test_the_gate_fails_on_a_loss_over_one_point_or_a_lower_mean(suite):
    ok = suite.summarize([_row("a", "clean", 0.900, 0.905), _row("b", "clean", 0.85, 0.84)])
    assert ok["verdict"] == "PASS" and ok["worst"]["cell"] == "a / clean"
    lost = suite.summarize([_row("a", "clean", 0.88, 0.90), _row("b", "clean", 0.95, 0.90)])
    assert lost["verdict"] == "FAIL" and lost["losers"] == ["a / clean (-2.0)"]
    edge = suite.summarize([_row("a", "clean", 0.8900, 0.9004), _row("b", "clean", 0.95, 0.93)])
    assert edge["verdict"] == "PASS" and edge["worst"]["delta"] == -1.0  # compared as printed
    lower = suite.summarize([_row("a", "clean", 0.899, 0.905), _row("b", "clean", 0.80, 0.80, end=False)])
    assert lower["verdict"] == "FAIL" and lower["mean_drops"]
    shuffled = suite.summarize([_row("a", "clean", 0.95, 0.95), _row("a", "shuffled-dev", 0.92, 0.92)])
    assert shuffled["targets"]["shuffled_dev"][0]["met"] is False
    assert shuffled["targets"]["below_do_no_harm"] == []


def test_plan_filters_and_quick_subset(suite):
    class Args:
        quick, sets, variants = True, [], []

    quick = suite.plan(Args)
    assert ("wrench_youtube", "shuffled-dev") in quick and not any(k == "bundled" for k, _ in quick)
    Args.quick, Args.sets, Args.variants = False, ["wrench_youtube,imdb"], ["clean"]
    assert suite.plan(Args) == [("wrench_youtube", "clean"), ("imdb", "clean")]
    Args.sets = ["nope"]
    with pytest.raises(SystemExit, match="unknown nope"):
        suite.plan(Args)
    assert all(v in suite.VARIANTS for names in suite.PLAN.values() for v in names)
    assert set(suite.PLAN) == set(suite.SETS)
