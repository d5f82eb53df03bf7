"""Compare two build runs on the same test data: metric deltas with paired intervals, slice deltas
and the rows whose prediction flipped.

Each run is opened light (labelkit.runs.load_run: metrics.json as BuildResults, manifest.json as Manifest,
no LF module imported) and its test_predictions.csv (row_id, text, gold, pred_<system> as class names,
slice columns) read through the Run, cells unescaped. The comparison is typed too: RunComparison, whose
to_json() is what `labelkit compare --json` prints.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelkit.errors import DatasetError
from labelkit.evaluate.uncertainty import mcnemar_exact_p, paired_bootstrap_diff, percentile_interval
from labelkit.io.records import Record
from labelkit.results import SliceScores

PREDICTIONS_FILE = "test_predictions.csv"
PREDICTION_PREFIX = "pred_"
MAX_FLIPPED_ROWS = 200


@dataclass(kw_only=True)
class MetricDelta(Record):
    a: float
    b: float
    delta: float  # b - a
    delta_ci: list[float | None]  # paired bootstrap, 95%


@dataclass(kw_only=True)
class SystemDelta(Record):
    improved: int  # rows wrong in A, right in B
    regressed: int
    changed: int
    mcnemar_p: float
    accuracy: MetricDelta
    macro_f1: MetricDelta


@dataclass(kw_only=True)
class FlippedRow(Record):
    row_id: str
    text: str
    gold: str
    a: str
    b: str
    change: str  # improved | regressed | changed


@dataclass(kw_only=True)
class Flipped(Record):
    total: int
    shown: int
    rows: list[FlippedRow]


@dataclass(kw_only=True)
class SliceDelta(Record):
    column: str
    value: str
    size: int | None
    delta: dict[str, float]  # system -> B - A on the slice


@dataclass(kw_only=True)
class RunComparison(Record):
    run_a: str
    run_b: str
    n: int
    test_sha256: str
    systems: dict[str, SystemDelta]
    slices: list[SliceDelta]
    flipped: dict[str, Flipped]


def compare_runs(run_a, run_b, *, seed: int = 0, n_boot: int = 1000, max_rows: int = MAX_FLIPPED_ROWS) -> RunComparison:
    """Deltas run_b - run_a per system; refuses (DatasetError) when the test data differ."""
    from labelkit.runs import load_run

    run_a, run_b = Path(run_a), Path(run_b)
    opened_a, opened_b = load_run(run_a, light=True), load_run(run_b, light=True)
    test_sha256 = _same_test_hash(opened_a, opened_b)
    table_a, table_b = _read_predictions(opened_a), _read_predictions(opened_b)
    table_b = _align_rows(run_a, table_a, run_b, table_b)
    results_a, results_b = opened_a.results, opened_b.results
    classes = results_a.classes
    systems = sorted(set(_systems(table_a)) & set(_systems(table_b)))
    gold = _encode(table_a["gold"], classes, run_a)
    deltas, flips = {}, {}
    for system in systems:
        pred_a = _encode(table_a[PREDICTION_PREFIX + system], classes, run_a)
        pred_b = _encode(table_b[PREDICTION_PREFIX + system], classes, run_b)
        deltas[system] = _system_delta(gold, pred_a, pred_b, len(classes), seed, n_boot)
        flips[system] = _flipped_rows(table_a, gold, pred_a, pred_b, classes, max_rows)
    return RunComparison(run_a=str(run_a), run_b=str(run_b), n=int(len(gold)),
                         test_sha256=test_sha256, systems=deltas,
                         slices=_slice_deltas(results_a.slices, results_b.slices), flipped=flips)


def _system_delta(gold, pred_a, pred_b, k, seed, n_boot) -> SystemDelta:
    from labelkit.evaluate.metrics import confusion_matrix, accuracy_from_confusion, macro_f1_from_confusion

    right_a, right_b = pred_a == gold, pred_b == gold
    improved = int(np.sum(~right_a & right_b))
    regressed = int(np.sum(right_a & ~right_b))
    metrics: dict[str, Any] = {}  # metric -> MetricDelta
    for metric, score in (("accuracy", accuracy_from_confusion), ("macro_f1", macro_f1_from_confusion)):
        a = float(score(confusion_matrix(gold, pred_a, k)))
        b = float(score(confusion_matrix(gold, pred_b, k)))
        samples = paired_bootstrap_diff(gold, pred_a, pred_b, k=k, metric=metric, n_boot=n_boot, seed=seed)
        metrics[metric] = MetricDelta(a=round(a, 4), b=round(b, 4), delta=round(b - a, 4),
                                      delta_ci=[*percentile_interval(samples, 0.95)])
    return SystemDelta(improved=improved, regressed=regressed, changed=int(np.sum(pred_a != pred_b)),
                       mcnemar_p=round(mcnemar_exact_p(regressed, improved), 6), **metrics)


def _flipped_rows(table, gold, pred_a, pred_b, classes, max_rows) -> Flipped:
    changed = np.flatnonzero(pred_a != pred_b)
    rows = []
    for position in changed[:max_rows]:
        was_right, is_right = pred_a[position] == gold[position], pred_b[position] == gold[position]
        change = "improved" if is_right and not was_right else "regressed" if was_right else "changed"
        rows.append(FlippedRow(
            row_id=str(table["row_id"].iloc[position]),
            text=str(table["text"].iloc[position]) if "text" in table.columns else "",
            gold=classes[gold[position]], a=classes[pred_a[position]], b=classes[pred_b[position]], change=change,
        ))
    return Flipped(total=int(len(changed)), shown=len(rows), rows=rows)


def _slice_deltas(slices_a: list[SliceScores], slices_b: list[SliceScores]) -> list[SliceDelta]:
    by_key = {(s.column, s.value): s for s in slices_b}
    out = []
    for slice_a in slices_a:
        slice_b = by_key.get((slice_a.column, slice_a.value))
        if slice_b is None:
            continue
        deltas = {s: round(slice_b.scores[s] - slice_a.scores[s], 4) for s in slice_a.scores if s in slice_b.scores}
        out.append(SliceDelta(column=slice_a.column, value=slice_a.value, size=slice_b.size, delta=deltas))
    return out


def _same_test_hash(run_a, run_b) -> str:
    hash_a, hash_b = _test_hash(run_a), _test_hash(run_b)
    if hash_a != hash_b:
        raise DatasetError(
            f"Runs {run_a.path} and {run_b.path} were evaluated on different test data (test sha256 {hash_a[:12]} vs "
            f"{hash_b[:12]}); compare runs built from the same test file."
        )
    return hash_a


def _test_hash(run) -> str:
    test = run.manifest.inputs.get("test")
    if test is None or not test.sha256:
        raise DatasetError(f"{run.path / 'manifest.json'} has no inputs.test.sha256; rebuild the run with labelkit build.")
    return str(test.sha256)


def _align_rows(run_a, table_a, run_b, table_b) -> pd.DataFrame:
    ids_a, ids_b = set(table_a["row_id"]), set(table_b["row_id"])
    if ids_a != ids_b or len(table_a) != len(table_b):
        only_a, only_b = sorted(ids_a - ids_b)[:5], sorted(ids_b - ids_a)[:5]
        raise DatasetError(
            f"Runs {run_a} and {run_b} have different test rows ({len(table_a)} vs {len(table_b)} rows; "
            f"only in a: {only_a}, only in b: {only_b}); compare runs built from the same test file."
        )
    return table_b.set_index("row_id").loc[table_a["row_id"]].reset_index()


def _read_predictions(run) -> pd.DataFrame:
    path = run.path / PREDICTIONS_FILE
    table = run.table(PREDICTIONS_FILE)
    if table is None:
        raise DatasetError(f"{path} does not exist; is {run.path} a labelkit build output folder?")
    for column in ("row_id", "gold"):
        if column not in table.columns:
            raise DatasetError(f"{path} has no {column!r} column; columns are: {', '.join(table.columns)}.")
    if table["row_id"].duplicated().any():
        duplicate = table.loc[table["row_id"].duplicated(), "row_id"].iloc[0]
        raise DatasetError(f"{path} has duplicate row_id {duplicate!r}; row ids must be unique.")
    return table


def _systems(table: pd.DataFrame) -> list[str]:
    return [c[len(PREDICTION_PREFIX):] for c in table.columns if c.startswith(PREDICTION_PREFIX)]


def _encode(values: pd.Series, classes: list[str], run: Path) -> np.ndarray:
    """Class names -> indices through the task's LabelSchema (one home for label encoding)."""
    from labelkit.schema import LabelSchema

    where = f"{run / PREDICTIONS_FILE} column {values.name!r}"
    return LabelSchema(tuple(classes)).encode_gold(values.tolist(), where=where)
