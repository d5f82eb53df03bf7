"""Point metrics on int class-index arrays: accuracy, macro F1, balanced accuracy, F1/precision/recall
of a positive class, per-class table, confusion matrix. The one home for metrics: selection, the end
model's C and the reports all score through ``score_predictions`` / ``classification_metrics``.

Macro F1 averages over the classes that occur in the gold labels or the predictions (as scikit-learn
does when no `labels` are given), so a class absent from a small test set does not count as F1 = 0.

Selection metric ``"auto"`` (the default of ``[label_model] metric``): on a binary task whose rarer
class has under ``IMBALANCE_SHARE`` (30%) of the gold dev rows, F1 of the positive class (the
``[task] positive_class``, else the rarer class), because accuracy there rewards "always negative";
otherwise accuracy. ``resolve_metric`` says which one was used and why.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from labelkit.errors import ConfigError, DatasetError

DIGITS = 4
METRICS = ("auto", "accuracy", "macro_f1", "balanced_accuracy", "f1")
IMBALANCE_SHARE = 0.30


def resolve_metric(metric: str, y_dev, *, cardinality: int, positive: int | None = None) -> tuple[str, int | None]:
    """The concrete ``(metric, positive class index)`` behind a configured metric name.

    >>> resolve_metric("auto", [0] * 9 + [1], cardinality=2)
    ('f1', 1)
    >>> resolve_metric("auto", [0, 1, 1, 0], cardinality=2)
    ('accuracy', None)
    >>> resolve_metric("auto", [0, 0, 0, 0], cardinality=2)  # no dev row of the rare class
    ('accuracy', None)
    """
    if metric not in METRICS:
        raise ConfigError(f"Unknown metric {metric!r}; valid metrics are: {', '.join(METRICS)}.")
    y = np.asarray(y_dev, dtype=np.int64).reshape(-1)
    if metric == "auto":
        if cardinality != 2 or y.size == 0:
            return "accuracy", None
        shares = np.bincount(y, minlength=2) / y.size
        if positive is None and (shares.min() >= IMBALANCE_SHARE or shares.min() == 0):
            return "accuracy", None  # a class absent from dev has F1 0 under every system: no choice left
        return "f1", int(np.argmin(shares)) if positive is None else int(positive)
    if metric == "f1" and positive is None:
        if cardinality != 2:
            raise ConfigError("metric 'f1' needs a positive class on a task with more than 2 classes; "
                              "set [task -> positive_class] or use macro_f1.")
        positive = int(np.argmin(np.bincount(y, minlength=2))) if y.size else 1
    return metric, (positive if metric == "f1" else None)


def score_predictions(y_true, y_pred, *, cardinality: int, metric: str = "accuracy",
                      positive: int | None = None) -> float:
    """One number for selection: accuracy, macro_f1, balanced_accuracy, f1 (of class ``positive``),
    or auto (see ``resolve_metric``, resolved on ``y_true``). NaN on 0 rows.

    >>> score_predictions([0, 0, 0, 1], [0, 0, 0, 0], cardinality=2, metric="auto")
    0.0
    """
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    metric, positive = resolve_metric(metric, y_true, cardinality=cardinality, positive=positive)
    if y_true.size == 0:
        return float("nan")
    if metric == "accuracy":
        return float(skm.accuracy_score(y_true, y_pred))
    if metric == "macro_f1":
        present = np.union1d(y_true, y_pred)
        return float(skm.f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
    if metric == "balanced_accuracy":
        return float(balanced_accuracy(y_true, y_pred))
    return float(skm.f1_score(y_true, y_pred, labels=[positive], average="macro", zero_division=0))


def balanced_accuracy(y_true, y_pred) -> float:
    """Mean recall over the gold classes present (sklearn's balanced_accuracy_score)."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():  # a class predicted but absent from gold: sklearn warns, we don't care
        warnings.simplefilter("ignore")
        return float(balanced_accuracy_score(y_true, y_pred))


def positive_class_metrics(y_true, y_pred, positive: int) -> dict:
    """Precision, recall and F1 of class ``positive`` (0 where undefined)."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=[positive], zero_division=0)
    return {"precision": _round(p[0]), "recall": _round(r[0]), "f1": _round(f[0])}


def single_class(y_pred, classes: Sequence[str]) -> str | None:
    """The name of the only class a system predicts (None when it predicts two or more)."""
    values = np.unique(np.asarray(y_pred))
    return str(classes[int(values[0])]) if values.size == 1 else None


def classification_metrics(y_true, y_pred, classes: Sequence[str], *, positive: int | None = None) -> dict:
    """Accuracy, macro F1, balanced accuracy, per-class precision/recall/F1/support, the k x k
    confusion matrix, ``predicts_only`` (the single class predicted, else None) and, when
    ``positive`` is given, ``positive_class`` with its precision/recall/F1.

    >>> m = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], ["ham", "spam"])
    >>> m["accuracy"], m["confusion"]
    (0.75, [[1, 1], [0, 2]])
    """
    y_true, y_pred = validate_predictions(y_true, y_pred, len(classes), what="predictions")
    confusion = confusion_matrix(y_true, y_pred, len(classes))
    precision, recall, f1 = per_class_scores(confusion)
    per_class = {
        name: {
            "precision": _round(precision[i]),
            "recall": _round(recall[i]),
            "f1": _round(f1[i]),
            "support": int(confusion[i].sum()),
        }
        for i, name in enumerate(classes)
    }
    out = {
        "n": int(len(y_true)),
        "accuracy": _round(accuracy_from_confusion(confusion)),
        "macro_f1": _round(macro_f1_from_confusion(confusion)),
        "balanced_accuracy": _round(balanced_accuracy(y_true, y_pred)),
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "predicts_only": single_class(y_pred, classes),
    }
    if positive is not None:
        out["positive_class"] = {"name": str(classes[positive]), **positive_class_metrics(y_true, y_pred, positive)}
    return out


def validate_predictions(y_true, y_pred, k: int, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays 1-D ints in 0..k-1 and of equal length; otherwise a DatasetError saying which."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise DatasetError(
            f"Gold labels and {what} must be 1-D arrays of the same length, but gold has shape "
            f"{y_true.shape} and {what} have shape {y_pred.shape}."
        )
    if len(y_true) == 0:
        raise DatasetError(f"Cannot evaluate {what} on 0 rows; the test split is empty.")
    for name, values in (("gold labels", y_true), (what, y_pred)):
        if not np.issubdtype(values.dtype, np.integer):
            raise DatasetError(f"{name} must be int class indices, got dtype {values.dtype}.")
        bad = (values < 0) | (values >= k)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DatasetError(
                f"{name} hold {int(values[row])} at row {row + 1}, outside 0..{k - 1} for {k} classes; "
                "resolve abstains (-1) before evaluating."
            )
    return y_true.astype(np.int64), y_pred.astype(np.int64)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Rows are gold classes, columns predicted classes."""
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def per_class_scores(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 per class; 0 where undefined (no predictions / no support)."""
    true_pos = np.diagonal(confusion, axis1=-2, axis2=-1).astype(float)
    predicted = confusion.sum(axis=-2)
    support = confusion.sum(axis=-1)
    precision = np.divide(true_pos, predicted, out=np.zeros_like(true_pos), where=predicted > 0)
    recall = np.divide(true_pos, support, out=np.zeros_like(true_pos), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_pos), where=denominator > 0)
    return precision, recall, f1


def accuracy_from_confusion(confusion: np.ndarray) -> np.ndarray | float:
    """Works on one (k, k) matrix or a stack (b, k, k)."""
    correct = np.diagonal(confusion, axis1=-2, axis2=-1).sum(axis=-1)
    return correct / confusion.sum(axis=(-2, -1))


def macro_f1_from_confusion(confusion: np.ndarray) -> np.ndarray | float:
    """Mean F1 over classes present in gold or predictions; works on (k, k) or (b, k, k)."""
    _, _, f1 = per_class_scores(confusion)
    present = (confusion.sum(axis=-1) + confusion.sum(axis=-2)) > 0
    return (f1 * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)


def metric_from_confusion(confusion: np.ndarray, metric: str, positive: int | None = None) -> np.ndarray | float:
    """A concrete metric (not "auto") on one (k, k) confusion matrix or a stack (b, k, k): how the
    bootstrap intervals of the label-model selection are computed."""
    if metric == "accuracy":
        return accuracy_from_confusion(confusion)
    if metric == "macro_f1":
        return macro_f1_from_confusion(confusion)
    precision, recall, f1 = per_class_scores(confusion)
    if metric == "f1":
        return f1[..., positive]
    if metric == "balanced_accuracy":
        present = confusion.sum(axis=-1) > 0
        return (recall * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)
    raise ConfigError(f"Unknown metric {metric!r}; valid metrics are: {', '.join(METRICS[1:])}.")


def calibration_bins(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Per confidence bin with rows (of `bins` equal-width bins of the top probability): [low, high], mean
    confidence, accuracy of the argmax, rows. What the report's calibration table and chart show."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    out: dict[str, list] = {"bins": [], "confidence": [], "accuracy": [], "count": []}
    for b in range(bins):
        mask = which == b
        if mask.any():
            out["bins"].append([round(float(edges[b]), 2), round(float(edges[b + 1]), 2)])
            out["confidence"].append(round(float(confidence[mask].mean()), 4))
            out["accuracy"].append(round(float(correct[mask].mean()), 4))
            out["count"].append(int(mask.sum()))
    return out


def _round(value) -> float:
    return round(float(value), DIGITS)
