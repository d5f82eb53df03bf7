"""Compare two build runs on the same test data: metric deltas with paired intervals, slice deltas
and the rows whose prediction flipped.

A run folder holds metrics.json, manifest.json ({"inputs": {"test": {"sha256": ...}}}) and
test_predictions.csv (row_id, text, gold, pred_<system> as class names, slice columns).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.errors import DatasetError
from labelkit.io import read_review_csv
from labelkit.evaluate.uncertainty import mcnemar_exact_p, paired_bootstrap_diff, percentile_interval

PREDICTIONS_FILE = "test_predictions.csv"
PREDICTION_PREFIX = "pred_"
MAX_FLIPPED_ROWS = 200


def compare_runs(run_a, run_b, *, seed: int = 0, n_boot: int = 1000, max_rows: int = MAX_FLIPPED_ROWS) -> dict:
    """Deltas run_b - run_a per system; refuses (DatasetError) when the test data differ."""
    run_a, run_b = Path(run_a), Path(run_b)
    manifest_a, manifest_b = _read_json(run_a / "manifest.json"), _read_json(run_b / "manifest.json")
    _same_test_hash(run_a, manifest_a, run_b, manifest_b)
    table_a, table_b = _read_predictions(run_a), _read_predictions(run_b)
    table_b = _align_rows(run_a, table_a, run_b, table_b)
    metrics_a, metrics_b = _read_json(run_a / "metrics.json"), _read_json(run_b / "metrics.json")
    classes = _classes(metrics_a, table_a, table_b)
    systems = sorted(set(_systems(table_a)) & set(_systems(table_b)))
    gold = _encode(table_a["gold"], classes, run_a)
    deltas, flips = {}, {}
    for system in systems:
        pred_a = _encode(table_a[PREDICTION_PREFIX + system], classes, run_a)
        pred_b = _encode(table_b[PREDICTION_PREFIX + system], classes, run_b)
        deltas[system] = _system_delta(gold, pred_a, pred_b, len(classes), seed, n_boot)
        flips[system] = _flipped_rows(table_a, gold, pred_a, pred_b, classes, max_rows)
    return {
        "run_a": str(run_a),
        "run_b": str(run_b),
        "n": int(len(gold)),
        "test_sha256": manifest_a["inputs"]["test"]["sha256"],
        "systems": deltas,
        "slices": _slice_deltas(metrics_a.get("slices") or [], metrics_b.get("slices") or []),
        "flipped": flips,
    }


def _system_delta(gold, pred_a, pred_b, k, seed, n_boot) -> dict:
    right_a, right_b = pred_a == gold, pred_b == gold
    improved = int(np.sum(~right_a & right_b))
    regressed = int(np.sum(right_a & ~right_b))
    out = {
        "improved": improved,
        "regressed": regressed,
        "changed": int(np.sum(pred_a != pred_b)),
        "mcnemar_p": round(mcnemar_exact_p(regressed, improved), 6),
    }
    from labelkit.evaluate.metrics import confusion_matrix, accuracy_from_confusion, macro_f1_from_confusion

    for metric, score in (("accuracy", accuracy_from_confusion), ("macro_f1", macro_f1_from_confusion)):
        a = float(score(confusion_matrix(gold, pred_a, k)))
        b = float(score(confusion_matrix(gold, pred_b, k)))
        samples = paired_bootstrap_diff(gold, pred_a, pred_b, k=k, metric=metric, n_boot=n_boot, seed=seed)
        out[metric] = {"a": round(a, 4), "b": round(b, 4), "delta": round(b - a, 4),
                       "delta_ci": percentile_interval(samples, 0.95)}
    return out


def _flipped_rows(table, gold, pred_a, pred_b, classes, max_rows) -> dict:
    changed = np.flatnonzero(pred_a != pred_b)
    rows = []
    for position in changed[:max_rows]:
        was_right, is_right = pred_a[position] == gold[position], pred_b[position] == gold[position]
        change = "improved" if is_right and not was_right else "regressed" if was_right else "changed"
        rows.append({
            "row_id": str(table["row_id"].iloc[position]),
            "text": str(table["text"].iloc[position]) if "text" in table.columns else "",
            "gold": classes[gold[position]],
            "a": classes[pred_a[position]],
            "b": classes[pred_b[position]],
            "change": change,
        })
    return {"total": int(len(changed)), "shown": len(rows), "rows": rows}


def _slice_deltas(slices_a: list[dict], slices_b: list[dict]) -> list[dict]:
    by_key = {(s.get("column"), s.get("value")): s for s in slices_b}
    out = []
    for slice_a in slices_a:
        slice_b = by_key.get((slice_a.get("column"), slice_a.get("value")))
        if slice_b is None:
            continue
        scores_a, scores_b = slice_a.get("scores", {}), slice_b.get("scores", {})
        deltas = {s: round(scores_b[s] - scores_a[s], 4) for s in scores_a if s in scores_b}
        out.append({"column": slice_a.get("column"), "value": slice_a.get("value"),
                    "size": slice_b.get("size"), "delta": deltas})
    return out


def _same_test_hash(run_a, manifest_a, run_b, manifest_b) -> None:
    hash_a, hash_b = _test_hash(run_a, manifest_a), _test_hash(run_b, manifest_b)
    if hash_a != hash_b:
        raise DatasetError(
            f"Runs {run_a} and {run_b} were evaluated on different test data (test sha256 {hash_a[:12]} vs "
            f"{hash_b[:12]}); compare runs built from the same test file."
        )


def _test_hash(run: Path, manifest: dict) -> str:
    try:
        return str(manifest["inputs"]["test"]["sha256"])
    except (KeyError, TypeError):
        raise DatasetError(
            f"{run / 'manifest.json'} has no inputs.test.sha256; rebuild the run with labelkit build."
        ) from None


def _align_rows(run_a, table_a, run_b, table_b) -> pd.DataFrame:
    ids_a, ids_b = set(table_a["row_id"]), set(table_b["row_id"])
    if ids_a != ids_b or len(table_a) != len(table_b):
        only_a, only_b = sorted(ids_a - ids_b)[:5], sorted(ids_b - ids_a)[:5]
        raise DatasetError(
            f"Runs {run_a} and {run_b} have different test rows ({len(table_a)} vs {len(table_b)} rows; "
            f"only in a: {only_a}, only in b: {only_b}); compare runs built from the same test file."
        )
    return table_b.set_index("row_id").loc[table_a["row_id"]].reset_index()


def _read_predictions(run: Path) -> pd.DataFrame:
    path = run / PREDICTIONS_FILE
    if not path.is_file():
        raise DatasetError(f"{path} does not exist; is {run} a labelkit build output folder?")
    table = read_review_csv(path, dtype=str, keep_default_na=False)
    for column in ("row_id", "gold"):
        if column not in table.columns:
            raise DatasetError(f"{path} has no {column!r} column; columns are: {', '.join(table.columns)}.")
    if table["row_id"].duplicated().any():
        duplicate = table.loc[table["row_id"].duplicated(), "row_id"].iloc[0]
        raise DatasetError(f"{path} has duplicate row_id {duplicate!r}; row ids must be unique.")
    return table


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(f"{path} does not exist; is {path.parent} a labelkit build output folder?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path} is not valid JSON ({error}); rebuild the run.") from None


def _systems(table: pd.DataFrame) -> list[str]:
    return [c[len(PREDICTION_PREFIX):] for c in table.columns if c.startswith(PREDICTION_PREFIX)]


def _classes(metrics: dict, *tables) -> list[str]:
    classes = (metrics.get("task") or {}).get("classes") or (metrics.get("systems") or {}).get("classes")
    if classes:
        return list(classes)
    names = set()
    for table in tables:
        names.update(table["gold"])
        for system in _systems(table):
            names.update(table[PREDICTION_PREFIX + system])
    return sorted(names)


def _encode(values: pd.Series, classes: list[str], run: Path) -> np.ndarray:
    lookup = {name: i for i, name in enumerate(classes)}
    unknown = sorted(set(values) - set(lookup))
    if unknown:
        raise DatasetError(
            f"{run / PREDICTIONS_FILE} column {values.name!r} holds {unknown[:3]}, not classes of the task "
            f"({', '.join(classes)}); rebuild the run."
        )
    return values.map(lookup).to_numpy(dtype=np.int64)
