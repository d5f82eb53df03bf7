"""Point metrics on int class-index arrays: accuracy, macro F1, per-class table, confusion matrix.

Macro F1 averages over the classes that occur in the gold labels or the predictions (as scikit-learn
does when no `labels` are given), so a class absent from a small test set does not count as F1 = 0.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from labelkit.errors import DatasetError

DIGITS = 4


def classification_metrics(y_true, y_pred, classes: Sequence[str]) -> dict:
    """Accuracy, macro F1, per-class precision/recall/F1/support and the k x k confusion matrix.

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
    return {
        "n": int(len(y_true)),
        "accuracy": _round(accuracy_from_confusion(confusion)),
        "macro_f1": _round(macro_f1_from_confusion(confusion)),
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


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


def _round(value) -> float:
    return round(float(value), DIGITS)
