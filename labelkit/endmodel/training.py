"""Training helpers shared by the in-memory fit (fit.py) and the streaming fit (stream.py)."""
from __future__ import annotations

import numpy as np

MIN_WEIGHT = 1e-3  # soft-label copies lighter than this are dropped
def class_multipliers(Y: np.ndarray, weights: np.ndarray, setting: str) -> np.ndarray:
    """(1, k) multipliers of each class's copies: "balanced" gives every class the same total weight."""
    k = Y.shape[1]
    if setting == "none":
        return np.ones((1, k))
    mass = (Y * weights[:, None]).sum(axis=0)
    present = mass > 0
    out = np.ones(k)
    out[present] = mass[present].sum() / (present.sum() * mass[present])
    return out[None, :]
def expand_soft(X, Y: np.ndarray, weights: np.ndarray):
    """One copy of each row per class it has weight for, weighted by probability x row weight."""
    W = Y * (weights if weights.ndim == 2 else weights[:, None])  # weights: (n,) per row or (n, k) per copy
    rows, labels = np.nonzero(W > MIN_WEIGHT * (W.max() if W.size else 1))
    return X[rows], labels, W[rows, labels]
def make_pipeline(featurizer, classifier):
    from sklearn.pipeline import Pipeline

    return Pipeline([("features", featurizer), ("model", classifier)])
def dev_score(y_true, y_pred, k: int, metric: tuple) -> float:
    from labelkit.evaluate.metrics import score_predictions

    score = score_predictions(y_true, y_pred, cardinality=k, metric=metric[0], positive=metric[1])
    return -1.0 if score != score else score  # nan (e.g. an empty dev split) ranks last


def best_on_dev(candidates: list, tolerance: float):
    """The first candidate (in order of preference; its dev score first) within `tolerance` (one dev
    row, `one_row`) of the best dev score: a difference of one row on a small dev split is noise."""
    best = max(c[0] for c in candidates)
    return next(c for c in candidates if c[0] >= best - tolerance - 1e-12)


def one_row(y_dev, metric: tuple) -> float:
    """What one dev row is worth in the metric's units, the noise below which dev cannot tell two
    candidates apart: 1 / rows for accuracy-like metrics; for the F1 of a positive class, one row moves
    F1 = 2TP / (2TP + FP + FN) by about 1 / (2 x dev positives), far more than 1 / rows when it is rare."""
    y_dev = np.asarray(y_dev)
    if metric[0] == "f1" and metric[1] is not None:
        return 1.0 / max(2 * int(np.sum(y_dev == metric[1])), 1)
    return 1.0 / max(len(y_dev), 1)
