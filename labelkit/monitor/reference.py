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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError


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
    calibration: Any = None  # fitted IsotonicRegression or None (sklearn has no type information)
    notes: list[str] = field(default_factory=list)
    test: pd.DataFrame | None = field(default=None, repr=False)  # test_predictions.csv as written
    text_column: str = "text"  # the build's [data] text_column (a logged request's text field)
    confusion: np.ndarray | None = None  # (k, k) end-model counts on gold test: [predicted, gold]
    slice_columns: tuple[str, ...] = ()
    run: object = field(default=None, repr=False)  # the build, opened light (labelkit.runs.Run)

    def calibrated(self, confidence: np.ndarray) -> np.ndarray | None:
        if self.calibration is None:
            return None
        return self.calibration.predict(np.asarray(confidence, dtype=np.float64))


def load_reference(run_dir, *, calibrate: bool = True) -> Reference:
    """The reference of the build in `run_dir`, opened as a light Run (labelkit.runs: typed metrics and
    manifest, its CSVs read back unescaped, no LF module imported)."""
    from labelkit.runs import MANIFEST, METRICS, TEST_PREDICTIONS, TRAIN_LABELS, load_run

    folder = Path(run_dir)
    for name in (METRICS, MANIFEST, TRAIN_LABELS, TEST_PREDICTIONS):
        if not (folder / name).is_file():
            raise ConfigError(f"--reference {folder} is not a labelkit build output: {name} is missing.")
    run = load_run(folder, light=True)
    classes, lf_names = run.classes, tuple(run.manifest.lf_names)
    votes = run.train_votes()
    test = run.table(TEST_PREDICTIONS)
    assert test is not None  # the file is there (checked above)
    ref = Reference(
        path=folder, build_id=run.build_id,
        classes=classes, lf_names=lf_names,
        lf_coverage={name: float((votes[:, j] >= 0).mean()) if len(votes) else 0.0 for j, name in enumerate(lf_names)},
        conflict_rate=float(conflicts(votes).mean()) if len(votes) else 0.0,
        any_coverage=float((votes >= 0).any(axis=1).mean()) if len(votes) else 0.0, n_train=len(votes),
        test_rates=_test_rates(run.wrench_votes("test"), lf_names),
        class_dist=_class_dists(test, classes), disagreement={}, slice_sizes={},
        test_accuracy=_accuracy(test), n_test=len(test), confusion=_confusion(test, classes))
    ref.disagreement, ref.slice_sizes = _disagreements(test, run.slice_columns)
    ref.test, ref.slice_columns = test, tuple(run.slice_columns)
    ref.text_column, ref.run = run.config.data.text_column or "text", run
    if calibrate:
        ref.calibration = _calibration(run, test, classes, ref.notes)
    return ref


def conflicts(L: np.ndarray) -> np.ndarray:
    """Rows where at least two LFs voted for different classes (-1/-2 are abstains / no votes)."""
    voted = L >= 0
    low = np.where(voted, L, np.iinfo(L.dtype).max).min(axis=1)  # above every class index, in L's dtype
    high = np.where(voted, L, -1).max(axis=1)
    return voted.any(axis=1) & (low != high)


def _test_rates(L: np.ndarray | None, lf_names) -> dict[str, float]:
    if L is None or not len(L) or L.shape[1] != len(lf_names):
        return {}
    rates = {f"lf:{name}": float((L[:, j] >= 0).mean()) for j, name in enumerate(lf_names)}
    rates["conflict"] = float(conflicts(L).mean())
    rates["any"] = float((L >= 0).any(axis=1).mean())
    return rates


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


def _calibration(run, test: pd.DataFrame, classes, notes: list[str]):
    """Isotonic map from the end model's confidence to its accuracy on the gold test rows."""
    if not run.has("model.skops"):
        notes.append("no model.skops in the reference build: no label-free accuracy estimate")
        return None
    if any(c not in test.columns for c in run.config.data.feature_columns):
        notes.append("the end model uses feature columns that test_predictions.csv lacks: no accuracy estimate")
        return None
    from sklearn.isotonic import IsotonicRegression

    frame = test.rename(columns={"text": run.config.data.text_column})
    proba = np.asarray(run.end_model.predict_proba(frame))
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


def challenger_reference(ref: Reference, folder, *, name: str, build_id: str | None = None,
                         notes: list[str] | None = None) -> PairReference | None:
    """The pair reference of `ref` (the champion) and the challenger build in `folder`; None, with a
    note saying why, when the folder does not hold the challenger that was served (`build_id`) or its
    test rows are not the champion's."""
    from labelkit.runs import build_id as build_id_of  # the id a served build is logged with

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
    other = _read_predictions(folder)
    if other is None or not {"row_id", "pred_end_model"} <= set(other.columns):
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


def _read_predictions(folder: Path) -> pd.DataFrame | None:
    """A challenger's row ids and end-model predictions (its test_predictions.csv read as a light Run reads
    it: cells unescaped); None when the folder is no build."""
    from labelkit.errors import LabelkitError
    from labelkit.runs import TEST_PREDICTIONS, load_run

    try:
        run = load_run(folder, light=True)
    except LabelkitError:
        return None
    return run.table(TEST_PREDICTIONS, usecols=lambda c: c in ("row_id", "pred_end_model"))
