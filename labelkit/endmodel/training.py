"""Training helpers shared by the in-memory fit (fit.py), the streaming fit (stream.py), the fit with
human-labelled rows (gold.py) and repair's refits (labelkit/repair/refit.py): the classifier, its dev
predictions (and threshold), rows appended to the training rows, class weights, soft-label copies."""
from __future__ import annotations

import numpy as np
import pandas as pd

from labelkit.endmodel.threshold import choose_threshold, predicts_positive

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


def make_classifier(n_features: int, C: float, seed: int):
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    if n_features == 0:  # no feature at all (e.g. every text empty): the training labels' balance
        return DummyClassifier(strategy="prior")

    # saga converges in a few passes on l2-normalised TF-IDF rows; lbfgs takes 5-10x longer there
    return LogisticRegression(C=C, solver="saga", tol=1e-3, max_iter=300, random_state=seed)


def dev_predictions(classifier, X_dev, y_dev, *, k: int, metric: tuple, X_train=None):
    """Dev predictions and the decision threshold behind them: on a binary task scored by the F1 of a
    positive class, a threshold chosen from the dev and train probabilities (threshold.py); else argmax."""
    if not _thresholded(classifier, k, metric) or X_train is None or not len(y_dev):
        return classifier.predict(X_dev), None
    column = list(classifier.classes_).index(metric[1])
    p_dev = classifier.predict_proba(X_dev)
    cut = choose_threshold(np.asarray(y_dev) == metric[1], p_dev[:, column],
                           classifier.predict_proba(X_train)[:, column])
    if cut is None:
        return classifier.predict(X_dev), None
    return predicts_positive(p_dev, classifier.classes_, metric[1], cut), cut


def _thresholded(classifier, k: int, metric: tuple) -> bool:
    return (k == 2 and metric[0] == "f1" and metric[1] is not None and hasattr(classifier, "intercept_")
            and len(getattr(classifier, "classes_", ())) == 2)


def with_rows(frame, Y, weights, extra, Y_extra, w_extra):
    """The training rows with `extra` rows (their targets and weights) appended."""
    both = pd.concat([frame, extra[frame.columns.intersection(extra.columns)]], ignore_index=True)
    return both, np.vstack([Y, Y_extra]), np.concatenate([weights, w_extra])
