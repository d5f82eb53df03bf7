"""The label-model contract plus the small helpers every model shares.

A label model turns a label matrix ``L`` (int, ``-1`` = abstain, ``0..k-1`` = class) into
probabilistic labels. Every model here validates its input the same way, fits on the *unique vote
patterns* of ``L`` weighted by their counts, and gives all-abstain rows the class prior.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from labelkit.errors import LabelModelError
from labelkit.schema import distinct_votes

ABSTAIN_INDEX = -1


@runtime_checkable
class LabelModel(Protocol):
    name: str
    cardinality: int  # fitted
    prior: np.ndarray  # fitted: the class prior (tie-breaking, all-abstain rows)

    def fit(self, L, *, cardinality, class_balance=None, seed=0, sample_weight=None) -> "LabelModel": ...

    def predict_proba(self, L) -> np.ndarray: ...

    def predict(self, L) -> np.ndarray: ...

    def score(self, L, y, *, metric="accuracy", positive=None) -> float: ...


class PredictMixin:
    """``predict`` and ``score`` from ``predict_proba`` and the fitted ``prior`` (tie policy of
    ``hard_predictions``); every label model here inherits them."""

    name: str
    # the fitted state, set by fit() or from_state(); absent before (require_fitted checks prior)
    cardinality: int
    prior: np.ndarray

    def predict_proba(self, L) -> np.ndarray:
        raise NotImplementedError

    def predict(self, L) -> np.ndarray:
        return hard_predictions(self.predict_proba(L), self.prior)

    def score(self, L, y, *, metric: str = "accuracy", positive: int | None = None) -> float:
        from labelkit.evaluate.metrics import score_predictions

        return score_predictions(y, self.predict(L), cardinality=self.cardinality, metric=metric, positive=positive)


class UsesDevMixin:
    """A model that learns from gold dev rows: ``use_dev`` remembers them for the next ``fit``, and
    selection scores it on dev folds it did not see (``uses_dev``)."""

    uses_dev = True
    _dev: tuple[np.ndarray, np.ndarray] | None = None

    def use_dev(self, L_dev, y_dev):
        L_dev = np.asarray(L_dev)
        y_dev = np.asarray(y_dev, dtype=np.int64).reshape(-1)
        if L_dev.ndim != 2 or L_dev.shape[0] != y_dev.shape[0]:
            raise LabelModelError(
                f"L_dev has shape {L_dev.shape} but y_dev has {y_dev.shape[0]} labels; they must have the same rows."
            )
        self._dev = (L_dev, y_dev)
        return self


def validate_label_matrix(L, *, cardinality: int, what: str = "L") -> np.ndarray:
    """Return ``L`` as a 2-D integer array, or raise LabelModelError naming the bad value."""
    if not isinstance(cardinality, (int, np.integer)) or cardinality < 2:
        raise LabelModelError(f"cardinality must be an int >= 2, got {cardinality!r}.")
    L = np.asarray(L)
    if L.ndim != 2:
        raise LabelModelError(f"{what} must be a 2-D matrix (rows x LFs), got shape {L.shape}.")
    if L.shape[1] == 0:
        raise LabelModelError(f"{what} has no LF columns (shape {L.shape}); add labeling functions.")
    if L.size and not np.issubdtype(L.dtype, np.integer):
        raise LabelModelError(f"{what} must hold integer votes, got dtype {L.dtype}; use int8 with -1 = abstain.")
    if L.size:
        low, high = int(L.min()), int(L.max())
        if low < ABSTAIN_INDEX or high >= cardinality:
            bad = low if low < ABSTAIN_INDEX else high
            row, col = np.argwhere(L == bad)[0]
            raise LabelModelError(
                f"{what} row {row}, LF column {col} has vote {bad}; votes must be -1 (abstain) "
                f"or 0..{cardinality - 1} for cardinality {cardinality}."
            )
    return L.astype(np.int64, copy=False)


def validate_sample_weight(sample_weight, n_rows: int) -> np.ndarray:
    """Return float64 weights of length ``n_rows`` (ones when None)."""
    if sample_weight is None:
        return np.ones(n_rows, dtype=np.float64)
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != (n_rows,):
        raise LabelModelError(
            f"sample_weight must have shape ({n_rows},) to match L, got {weights.shape}."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise LabelModelError("sample_weight must be finite and >= 0 (use the count of each vote pattern).")
    if n_rows and weights.sum() <= 0:
        raise LabelModelError("sample_weight sums to 0; at least one row needs a positive weight.")
    return weights


def resolve_prior(class_balance, cardinality: int) -> np.ndarray:
    """The class prior: ``class_balance`` normalised, or uniform when None."""
    if class_balance is None:
        return np.full(cardinality, 1.0 / cardinality)
    prior = np.asarray(class_balance, dtype=np.float64)
    if prior.shape != (cardinality,):
        raise LabelModelError(
            f"class_balance has {prior.size} entries but cardinality is {cardinality}; give one share per class."
        )
    if not np.all(np.isfinite(prior)) or np.any(prior <= 0):
        raise LabelModelError(
            f"class_balance must be positive for every class, got {prior.tolist()}; "
            "smooth it (see class_balance_from_dev)."
        )
    return prior / prior.sum()


def compress_patterns(L: np.ndarray, sample_weight: np.ndarray | None = None):
    """Unique rows of ``L`` and their summed weights: the sufficient statistics of every model here.

    Returns ``(patterns, weights, inverse)`` with ``patterns[inverse] == L``. Because the patterns
    come out sorted, fitting on ``L`` or on ``(unique rows, counts)`` runs the same computation.
    """
    L = np.asarray(L)
    weights = validate_sample_weight(sample_weight, L.shape[0])
    if L.shape[0] == 0:
        return L.copy(), weights, np.zeros(0, dtype=np.int64)
    patterns, _, inverse = distinct_votes(L)
    summed = np.bincount(inverse, weights=weights, minlength=patterns.shape[0])
    keep = summed > 0
    if not keep.all():  # zero-weight patterns carry no evidence
        remap = np.cumsum(keep) - 1
        patterns, summed, inverse = patterns[keep], summed[keep], remap[inverse]
    return patterns, summed, inverse


def fit_on_patterns(model, L, **fit_kwargs):
    """Fit ``model`` on the unique rows of ``L`` weighted by their counts; return the model.

    This is how large data is fitted from sufficient statistics: a million rows with 10 LFs usually
    hold only a few hundred distinct vote patterns. The result equals ``model.fit(L, ...)``
    (tested within 1e-6). Pass ``sample_weight`` in ``fit_kwargs`` to combine it with the counts.

    >>> from labelkit.labelmodels import make_label_model
    >>> L = np.array([[0, 0, -1], [0, 0, -1], [1, -1, 1]], dtype=np.int8)
    >>> model = fit_on_patterns(make_label_model("majority"), L, cardinality=2)
    >>> model.predict_proba(L)[2].tolist()
    [0.0, 1.0]
    """
    patterns, counts, _ = compress_patterns(L, fit_kwargs.pop("sample_weight", None))
    return model.fit(patterns, sample_weight=counts, **fit_kwargs)


def vote_counts(L: np.ndarray, cardinality: int, lf_weights: np.ndarray | None = None) -> np.ndarray:
    """(n, k) sum of (weighted) votes per class; abstains count for nothing."""
    counts = np.zeros((L.shape[0], cardinality), dtype=np.float64)
    weights = np.ones(L.shape[1]) if lf_weights is None else np.asarray(lf_weights, dtype=np.float64)
    for lf in range(L.shape[1]):
        votes = L[:, lf]
        voted = votes >= 0
        counts[np.flatnonzero(voted), votes[voted]] += weights[lf]
    return counts


def require_fitted(model) -> None:
    if getattr(model, "prior", None) is None:
        raise LabelModelError(f"Label model {model.name!r} is not fitted; call fit(L, cardinality=k) first.")


def all_abstain(L: np.ndarray) -> np.ndarray:
    return np.all(L < 0, axis=1)


def fill_prior(proba: np.ndarray, L: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Give every all-abstain row exactly the class prior."""
    proba[all_abstain(L)] = prior
    return proba


def normalise_log_scores(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of log scores, numerically stable."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    proba = np.exp(shifted)
    return proba / proba.sum(axis=1, keepdims=True)


def hard_predictions(proba, prior) -> np.ndarray:
    """Class index per row: argmax of ``proba``; ties go to the tied class with the higher prior.

    Rows whose probabilities equal the prior because every LF abstained therefore get
    ``argmax(prior)``. If the prior is tied too, the lowest class index wins. Two probabilities are
    tied when they differ by at most 1e-9.

    >>> hard_predictions(np.array([[0.5, 0.5], [0.2, 0.8]]), np.array([0.3, 0.7])).tolist()
    [1, 1]
    """
    proba = np.asarray(proba, dtype=np.float64)
    prior = np.asarray(prior, dtype=np.float64)
    if proba.ndim != 2 or prior.shape != (proba.shape[1],):
        raise LabelModelError(
            f"proba must be (n, k) and prior (k,), got {proba.shape} and {prior.shape}."
        )
    if proba.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    tied = proba >= proba.max(axis=1, keepdims=True) - 1e-9
    return np.argmax(np.where(tied, prior[None, :], -np.inf), axis=1).astype(np.int64)


def class_balance_from_dev(y_dev, cardinality, *, smoothing=1.0) -> np.ndarray:
    """Class shares on the gold dev split, add-``smoothing`` (Laplace) so no class gets 0.

    Warns (warnings.warn) when dev is tiny (< 50 rows) or a class is missing from it, because the
    estimate is then mostly the smoothing.
    """
    import warnings

    y = np.asarray(y_dev, dtype=np.int64).reshape(-1)
    if y.size and (y.min() < 0 or y.max() >= cardinality):
        raise LabelModelError(f"y_dev holds class {int(y.max()) if y.max() >= cardinality else int(y.min())}, "
                              f"outside 0..{cardinality - 1}.")
    if smoothing < 0:
        raise LabelModelError(f"smoothing must be >= 0, got {smoothing}.")
    counts = np.bincount(y, minlength=cardinality).astype(np.float64)
    missing = np.flatnonzero(counts == 0)
    if y.size < 50:
        warnings.warn(f"dev has only {y.size} gold rows; the class balance estimate is unreliable.", stacklevel=2)
    if missing.size:
        warnings.warn(
            f"dev has no rows of class(es) {missing.tolist()}; their share comes from smoothing only.",
            stacklevel=2,
        )
    smoothed = counts + smoothing
    if smoothed.sum() <= 0 or np.any(smoothed <= 0):
        raise LabelModelError(
            f"class balance has a zero share for class(es) {missing.tolist()}; use smoothing > 0."
        )
    return smoothed / smoothed.sum()
