import json

import numpy as np
import pandas as pd
import pytest

from labelkit.errors import DatasetError
from labelkit.evaluate import compare_systems
from labelkit.report.compare import compare_runs

CLASSES = ["ham", "spam"]


def _write_run(folder, gold, preds, *, sha="abc", row_ids=None, slices=()):
    folder.mkdir()
    n = len(gold)
    row_ids = row_ids or [f"r{i}" for i in range(n)]
    table = pd.DataFrame({"row_id": row_ids, "text": [f"<b>comment {i}</b>" for i in range(n)],
                          "gold": [CLASSES[g] for g in gold]})
    for system, pred in preds.items():
        table[f"pred_{system}"] = [CLASSES[p] for p in pred]
    table.to_csv(folder / "test_predictions.csv", index=False)
    (folder / "manifest.json").write_text(json.dumps({"inputs": {"test": {"path": "test.csv", "sha256": sha}}}))
    metrics = {"task": {"name": folder.name, "classes": CLASSES, "rows": {"test": n}},
               "systems": compare_systems(gold, preds, CLASSES, n_boot=10), "slices": list(slices)}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def test_compare_runs_lists_flipped_rows_and_deltas(tmp_path):
    gold = np.array([0, 1] * 50)
    before = gold.copy()
    before[:10] = 1 - before[:10]  # wrong on rows 0..9
    after = gold.copy()
    after[8:12] = 1 - after[8:12]  # wrong on rows 8..11
    slice_a = {"kind": "column", "column": "country", "value": "DE", "size": 40, "scores": {"end_model": 0.8}}
    slice_b = {"kind": "column", "column": "country", "value": "DE", "size": 40, "scores": {"end_model": 0.85}}
    run_a = _write_run(tmp_path / "a", gold, {"end_model": before}, slices=[slice_a])
    run_b = _write_run(tmp_path / "b", gold, {"end_model": after}, slices=[slice_b])
    out = compare_runs(run_a, run_b, n_boot=300)
    delta = out.systems["end_model"]
    assert delta.improved == 8 and delta.regressed == 2 and delta.changed == 10
    assert (delta.accuracy.a, delta.accuracy.b, delta.accuracy.delta) == (0.9, 0.96, 0.06)
    assert delta.accuracy.delta_ci[0] <= 0.06 <= delta.accuracy.delta_ci[1]
    flipped = out.flipped["end_model"]
    assert flipped.total == 10
    assert [r.row_id for r in flipped.rows] == [f"r{i}" for i in (*range(8), 10, 11)]
    assert flipped.rows[0].to_json() == {"row_id": "r0", "text": "<b>comment 0</b>", "gold": "ham", "a": "spam",
                                         "b": "ham", "change": "improved"}
    assert flipped.rows[9].change == "regressed"
    # what `labelkit compare --json` prints
    assert out.to_json()["slices"] == [{"column": "country", "value": "DE", "size": 40, "delta": {"end_model": 0.05}}]
    assert out.to_json()["systems"]["end_model"]["accuracy"] == {"a": 0.9, "b": 0.96, "delta": 0.06,
                                                                 "delta_ci": list(delta.accuracy.delta_ci)}


def test_compare_runs_aligns_rows_written_in_another_order(tmp_path):
    gold = np.array([0, 1, 1, 0])
    run_a = _write_run(tmp_path / "a", gold, {"m": gold})
    order = [3, 2, 1, 0]
    run_b = _write_run(tmp_path / "b", gold[order], {"m": gold[order]}, row_ids=[f"r{i}" for i in order])
    out = compare_runs(run_a, run_b, n_boot=50)
    assert out.systems["m"].changed == 0


def test_compare_runs_refuses_different_test_data(tmp_path):
    gold = np.array([0, 1, 1, 0])
    run_a = _write_run(tmp_path / "a", gold, {"m": gold}, sha="aaaa")
    run_b = _write_run(tmp_path / "b", gold, {"m": gold}, sha="bbbb")
    with pytest.raises(DatasetError, match="different test data"):
        compare_runs(run_a, run_b)
    run_c = _write_run(tmp_path / "c", gold, {"m": gold}, sha="aaaa", row_ids=["r0", "r1", "r2", "x9"])
    with pytest.raises(DatasetError, match=r"different test rows.*only in a: \['r3'\], only in b: \['x9'\]"):
        compare_runs(run_a, run_c)


def test_compare_names_a_prediction_that_is_not_a_class(tmp_path):
    gold = np.array([0, 1, 1, 0])
    run_a = _write_run(tmp_path / "a", gold, {"m": gold})
    run_b = _write_run(tmp_path / "b", gold, {"m": gold})
    table = pd.read_csv(run_b / "test_predictions.csv")
    table.loc[2, "pred_m"] = "eggs"
    table.to_csv(run_b / "test_predictions.csv", index=False)
    with pytest.raises(DatasetError, match=r"test_predictions.csv column 'pred_m': row 3 has label 'eggs', which is "
                                           r"not a class; classes are: ham, spam"):
        compare_runs(run_a, run_b, n_boot=10)
