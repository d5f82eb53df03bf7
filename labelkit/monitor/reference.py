"""What "normal" looks like, taken from a build's output folder (fitted once, like NannyML's reference).

- LF coverage and conflict rates: the build's train rows (train_labels.csv: each LF's vote per row).
  The build's gold test rows (wrench/test.json) widen the normal range: a difference between train and
  test is already in the build's own report (its drift table), so only a window outside both alerts.
- Output distributions and rules-vs-model disagreement (overall and per slice): the gold test rows
  (test_predictions.csv: every system's prediction), the newest data the build was judged on.
- Calibration for the label-free accuracy estimate: the end model's confidence on the gold test rows
  mapped to its observed correctness (isotonic regression), as CBPE does.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError
from labelkit.io import read_build_json


@dataclass
class Reference:
    path: Path
    build_id: str
    classes: tuple[str, ...]
    lf_names: tuple[str, ...]
    lf_coverage: dict[str, float]
    conflict_rate: float
    any_coverage: float
    n_train: int
    test_rates: dict[str, float]  # the same rates on the gold test rows ("lf:<name>", "conflict", "any")
    class_dist: dict[str, np.ndarray]  # system -> predicted class distribution on test
    disagreement: dict[str, float]  # "overall" or "col=value" -> rules-vs-model disagreement on test
    slice_sizes: dict[str, int]
    test_accuracy: float | None
    n_test: int
    calibration: object | None = None  # fitted IsotonicRegression or None
    notes: list[str] = field(default_factory=list)

    def calibrated(self, confidence: np.ndarray) -> np.ndarray | None:
        if self.calibration is None:
            return None
        return self.calibration.predict(np.asarray(confidence, dtype=np.float64))


def load_reference(run_dir, *, calibrate: bool = True) -> Reference:
    folder = Path(run_dir)
    for name in ("metrics.json", "manifest.json", "train_labels.csv", "test_predictions.csv"):
        if not (folder / name).is_file():
            raise ConfigError(f"--reference {folder} is not a labelkit build output: {name} is missing.")
    import hashlib

    metrics = read_build_json(folder / "metrics.json")
    manifest = read_build_json(folder / "manifest.json")
    classes = tuple(metrics["task"]["classes"])
    lf_names = tuple(manifest.get("lf_names") or [])
    train = pd.read_csv(folder / "train_labels.csv", keep_default_na=False, dtype=str,
                        usecols=lambda c: c.startswith("lf_"))
    votes = _vote_matrix(train, lf_names, classes)
    test = pd.read_csv(folder / "test_predictions.csv", keep_default_na=False, dtype=str)
    ref = Reference(
        path=folder, build_id=hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()[:12],
        classes=classes, lf_names=lf_names,
        lf_coverage={name: float((votes[:, j] >= 0).mean()) if len(votes) else 0.0 for j, name in enumerate(lf_names)},
        conflict_rate=float(conflicts(votes).mean()) if len(votes) else 0.0,
        any_coverage=float((votes >= 0).any(axis=1).mean()) if len(votes) else 0.0, n_train=len(votes),
        test_rates=_test_rates(folder / "wrench" / "test.json", lf_names),
        class_dist=_class_dists(test, classes), disagreement={}, slice_sizes={},
        test_accuracy=_accuracy(test), n_test=len(test))
    slice_columns = manifest["config"].get("evaluate", {}).get("slice_columns") or \
        manifest["config"].get("data", {}).get("slice_columns") or []
    ref.disagreement, ref.slice_sizes = _disagreements(test, slice_columns)
    if calibrate:
        ref.calibration = _calibration(folder, test, classes, manifest, ref.notes)
    return ref


def conflicts(L: np.ndarray) -> np.ndarray:
    """Rows where at least two LFs voted for different classes (-1/-2 are abstains / no votes)."""
    voted = np.where(L >= 0, L, np.int8(127)).astype(np.int16)
    low = voted.min(axis=1)
    high = np.where(L >= 0, L, -1).max(axis=1)
    return (low != 127) & (high >= 0) & (low != high)


def _test_rates(path: Path, lf_names) -> dict[str, float]:
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text(encoding="utf-8"))
    L = np.asarray([row["weak_labels"] for row in rows.values()], dtype=np.int16).reshape(len(rows), -1)
    if not len(L) or L.shape[1] != len(lf_names):
        return {}
    rates = {f"lf:{name}": float((L[:, j] >= 0).mean()) for j, name in enumerate(lf_names)}
    rates["conflict"] = float(conflicts(L).mean())
    rates["any"] = float((L >= 0).any(axis=1).mean())
    return rates


def _vote_matrix(train: pd.DataFrame, lf_names, classes) -> np.ndarray:
    L = np.full((len(train), len(lf_names)), -1, np.int8)
    for j, name in enumerate(lf_names):
        column = f"lf_{name}"
        if column in train.columns:  # empty cells (abstains) are not a class: -1
            codes, uniques = pd.factorize(train[column].to_numpy(dtype=object))
            lookup = np.asarray([classes.index(u) if u in classes else -1 for u in uniques] + [-1], dtype=np.int8)
            L[:, j] = lookup[codes]  # code -1 (missing) picks the trailing -1
    return L


def _class_dists(test: pd.DataFrame, classes) -> dict[str, np.ndarray]:
    out = {}
    for system in ("end_model", "label_model"):
        column = f"pred_{system}"
        if column in test.columns:
            counts = test[column].value_counts()
            out[system] = np.array([counts.get(c, 0) for c in classes], dtype=np.float64)
    return out


def _accuracy(test: pd.DataFrame) -> float | None:
    if "pred_end_model" not in test.columns or not len(test):
        return None
    return float((test["pred_end_model"] == test["gold"]).mean())


def _disagreements(test: pd.DataFrame, slice_columns) -> tuple[dict, dict]:
    if not {"pred_end_model", "pred_label_model"} <= set(test.columns):
        return {}, {}
    differ = (test["pred_end_model"] != test["pred_label_model"]).to_numpy()
    rates, sizes = {"overall": float(differ.mean())}, {"overall": len(test)}
    for column in slice_columns:
        if column not in test.columns:
            continue
        for value, index in test.groupby(column).indices.items():
            rates[f"{column}={value}"] = float(differ[index].mean())
            sizes[f"{column}={value}"] = len(index)
    return rates, sizes


def _calibration(folder: Path, test: pd.DataFrame, classes, manifest: dict, notes: list[str]):
    """Isotonic map from the end model's confidence to its accuracy on the gold test rows."""
    if not (folder / "model.skops").is_file():
        notes.append("no model.skops in the reference build: no label-free accuracy estimate")
        return None
    data = manifest["config"].get("data", {})
    needed = list(data.get("feature_columns") or [])
    if any(c not in test.columns for c in needed):
        notes.append("the end model uses feature columns that test_predictions.csv lacks: no accuracy estimate")
        return None
    try:
        from labelkit.endmodel import load_end_model
    except ImportError:
        notes.append("this labelkit cannot load model.skops yet: no label-free accuracy estimate")
        return None
    from sklearn.isotonic import IsotonicRegression

    model = load_end_model(folder / "model.skops")
    frame = test.rename(columns={"text": data.get("text_column", "text")})
    proba = np.asarray(model.predict_proba(frame))
    correct = (np.asarray(classes, dtype=object)[proba.argmax(axis=1)] == test["gold"].to_numpy()).astype(float)
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba.max(axis=1), correct)
