"""What "normal" looks like, taken from a build's output folder (fitted once, like NannyML's reference).

- LF coverage and conflict rates: the build's train rows (train_labels.csv: each LF's vote per row).
  The build's gold test rows (wrench/test.json) widen the normal range: a difference between train and
  test is already in the build's own report (its drift table), so only a window outside both alerts.
- Output distributions and rules-vs-model disagreement (overall and per slice): the gold test rows
  (test_predictions.csv: every system's prediction), the newest data the build was judged on.
- Champion-vs-challenger disagreement (overall and per slice): the two builds' end-model predictions on
  the same gold test rows (both builds' test_predictions.csv, joined by row id): how much two models
  that are both fine disagree is a property of the pair, known before either is served.
- Calibration for the label-free accuracy estimate: the end model's confidence on the gold test rows
  mapped to its observed correctness (isotonic regression), as CBPE does; and the end model's confusion
  matrix on the same rows, for the estimate under label shift (class shares move, each class's texts
  do not: BBSE, Lipton et al. 2018).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError
from labelkit.io import read_build_json, read_review_csv
from labelkit.schema import vote_dtype


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
    slice_sizes: dict[str, int]  # test rows behind each of those rates
    test_accuracy: float | None
    n_test: int
    calibration: object | None = None  # fitted IsotonicRegression or None
    notes: list[str] = field(default_factory=list)
    test: pd.DataFrame | None = field(default=None, repr=False)  # test_predictions.csv as written
    text_column: str = "text"  # the build's [data] text_column (a logged request's text field)
    confusion: np.ndarray | None = None  # (k, k) end-model counts on gold test: [predicted, gold]
    slice_columns: tuple[str, ...] = ()

    def calibrated(self, confidence: np.ndarray) -> np.ndarray | None:
        if self.calibration is None:
            return None
        return self.calibration.predict(np.asarray(confidence, dtype=np.float64))


def load_reference(run_dir, *, calibrate: bool = True) -> Reference:
    folder = Path(run_dir)
    for name in ("metrics.json", "manifest.json", "train_labels.csv", "test_predictions.csv"):
        if not (folder / name).is_file():
            raise ConfigError(f"--reference {folder} is not a labelkit build output: {name} is missing.")
    metrics = read_build_json(folder / "metrics.json")
    manifest = read_build_json(folder / "manifest.json")
    classes = tuple(metrics["task"]["classes"])
    lf_names = tuple(manifest.get("lf_names") or [])
    # review CSVs are formula-safe ("-ve" is written "'-ve"): read back through the one unescaping reader
    train = read_review_csv(folder / "train_labels.csv", keep_default_na=False, dtype=str,
                            usecols=lambda c: c.startswith("lf_"))
    votes = _vote_matrix(train, lf_names, classes)
    test = read_review_csv(folder / "test_predictions.csv", keep_default_na=False, dtype=str)
    ref = Reference(
        path=folder, build_id=build_id_of(folder),
        classes=classes, lf_names=lf_names,
        lf_coverage={name: float((votes[:, j] >= 0).mean()) if len(votes) else 0.0 for j, name in enumerate(lf_names)},
        conflict_rate=float(conflicts(votes).mean()) if len(votes) else 0.0,
        any_coverage=float((votes >= 0).any(axis=1).mean()) if len(votes) else 0.0, n_train=len(votes),
        test_rates=_test_rates(folder / "wrench" / "test.json", lf_names),
        class_dist=_class_dists(test, classes), disagreement={}, slice_sizes={},
        test_accuracy=_accuracy(test), n_test=len(test), confusion=_confusion(test, classes))
    slice_columns = manifest["config"].get("evaluate", {}).get("slice_columns") or \
        manifest["config"].get("data", {}).get("slice_columns") or []
    ref.disagreement, ref.slice_sizes = _disagreements(test, slice_columns)
    ref.test, ref.slice_columns = test, tuple(slice_columns)
    ref.text_column = manifest["config"].get("data", {}).get("text_column") or "text"
    if calibrate:
        ref.calibration = _calibration(folder, test, classes, manifest, ref.notes)
    return ref


def conflicts(L: np.ndarray) -> np.ndarray:
    """Rows where at least two LFs voted for different classes (-1/-2 are abstains / no votes)."""
    voted = L >= 0
    low = np.where(voted, L, np.iinfo(L.dtype).max).min(axis=1)  # above every class index, in L's dtype
    high = np.where(voted, L, -1).max(axis=1)
    return voted.any(axis=1) & (low != high)


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
    dtype = vote_dtype(len(classes))
    L = np.full((len(train), len(lf_names)), -1, dtype)
    for j, name in enumerate(lf_names):
        column = f"lf_{name}"
        if column in train.columns:  # empty cells (abstains) are not a class: -1
            codes, uniques = pd.factorize(train[column].to_numpy(dtype=object))
            lookup = np.asarray([classes.index(u) if u in classes else -1 for u in uniques] + [-1], dtype=dtype)
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


def _confusion(test: pd.DataFrame, classes) -> np.ndarray | None:
    if "pred_end_model" not in test.columns or not len(test):
        return None
    index = {c: i for i, c in enumerate(classes)}
    pred, gold = test["pred_end_model"].map(index), test["gold"].map(index)
    known = pred.notna() & gold.notna()
    out = np.zeros((len(classes), len(classes)), np.int64)
    np.add.at(out, (pred[known].astype(int).to_numpy(), gold[known].astype(int).to_numpy()), 1)
    return out


def _accuracy(test: pd.DataFrame) -> float | None:
    if "pred_end_model" not in test.columns or not len(test):
        return None
    return float((test["pred_end_model"] == test["gold"]).mean())


def _disagreements(test: pd.DataFrame, slice_columns, other: str = "pred_label_model") -> tuple[dict, dict]:
    """Rates at which the end model and `other` disagree on the test rows, overall and per slice value."""
    if not {"pred_end_model", other} <= set(test.columns) or not len(test):
        return {}, {}
    differ = (test["pred_end_model"] != test[other]).to_numpy()
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


@dataclass
class PairReference:
    """A champion-challenger pair's end-model disagreement on the gold test rows both builds were
    judged on: what their disagreement on traffic is compared with."""

    path: Path
    build_id: str
    rates: dict[str, float]  # "overall" or "col=value" -> disagreement rate on the joined test rows
    sizes: dict[str, int]  # joined test rows behind each rate


def build_id_of(folder: Path) -> str | None:
    """The build id a served build is logged with: the first 12 hex digits of its manifest's SHA-256."""
    import hashlib

    manifest = Path(folder) / "manifest.json"
    return hashlib.sha256(manifest.read_bytes()).hexdigest()[:12] if manifest.is_file() else None


def challenger_reference(ref: Reference, folder, *, name: str, build_id: str | None = None,
                         notes: list[str] | None = None) -> PairReference | None:
    """The pair reference of `ref` (the champion) and the challenger build in `folder`; None, with a
    note saying why, when the folder does not hold the challenger that was served (`build_id`) or its
    test rows are not the champion's."""
    notes = notes if notes is not None else []
    folder = Path(folder)
    path = folder / "test_predictions.csv"
    if not path.is_file():
        notes.append(f"challenger {name}: {folder} has no test_predictions.csv")
        return None
    found = build_id_of(folder)
    if build_id and found != build_id:
        notes.append(f"challenger {name}: {folder} holds build {found}, but the log's answers come from build "
                     f"{build_id} (rebuilt since it was served?)")
        return None
    if ref.test is None or "pred_end_model" not in ref.test.columns or "row_id" not in ref.test.columns:
        notes.append(f"challenger {name}: the reference build's test_predictions.csv has no end-model predictions")
        return None
    other = read_review_csv(path, keep_default_na=False, dtype=str,
                            usecols=lambda c: c in ("row_id", "pred_end_model"))
    if not {"row_id", "pred_end_model"} <= set(other.columns):
        notes.append(f"challenger {name}: {path} has no end-model predictions")
        return None
    other = other.drop_duplicates("row_id").rename(columns={"pred_end_model": "pred_challenger"})
    joined = ref.test.merge(other, on="row_id", how="inner")
    if len(joined) < max(1, len(ref.test) // 2):
        notes.append(f"challenger {name}: only {len(joined)} of the reference build's {len(ref.test)} test rows "
                     f"are in {path}; the two builds were judged on different rows")
        return None
    rates, sizes = _disagreements(joined, ref.slice_columns, other="pred_challenger")
    return PairReference(folder, found or "", rates, sizes)
