"""Snorkel's matrix-completion LabelModel, wrapped (not forked) to meet labelkit's contract.

Differences from calling snorkel directly, all deliberate:
- the seed is always passed (snorkel otherwise draws one at import time, so runs differ);
- fitting happens on the unique vote patterns weighted by their counts: a small subclass overrides
  ``_generate_O`` so the overlap matrix O is the *weighted* mean of the pattern outer products, which
  equals snorkel's O on the full matrix; ``mu_eps`` clamping uses the total weight as ``n``;
- ``predict_proba`` returns exactly the class prior for all-abstain rows;
- snorkel's ValueErrors (fewer than 3 LFs, bad class balance...) become LabelModelError.
"""
from __future__ import annotations

import functools

import numpy as np

from labelkit.errors import LabelModelError
from labelkit.labelmodels.base import (
    compress_patterns,
    fill_prior,
    require_fitted,
    resolve_prior,
    validate_label_matrix,
)

MIN_LFS = 3  # snorkel's LabelModel refuses fewer


class SnorkelLabelModel:
    name = "snorkel"

    def __init__(
        self,
        *,
        n_epochs: int = 500,
        lr: float = 0.01,
        l2: float = 0.0,
        optimizer: str = "sgd",
        prec_init: float = 0.7,
        mu_eps: float | None = None,
    ):
        if n_epochs < 1 or lr <= 0 or l2 < 0:
            raise LabelModelError(f"snorkel needs n_epochs >= 1, lr > 0, l2 >= 0; got {n_epochs}, {lr}, {l2}.")
        self.train_options = dict(
            n_epochs=int(n_epochs), lr=float(lr), l2=float(l2), optimizer=optimizer,
            prec_init=float(prec_init), mu_eps=mu_eps,
        )
        self.cardinality: int | None = None
        self.prior: np.ndarray | None = None
        self._model = None

    def fit(self, L, *, cardinality, class_balance=None, seed=0, sample_weight=None) -> "SnorkelLabelModel":
        L = validate_label_matrix(L, cardinality=cardinality)
        if L.shape[1] < MIN_LFS:
            raise LabelModelError(
                f"snorkel's LabelModel needs at least {MIN_LFS} LFs, got {L.shape[1]}; "
                "use 'majority', 'weighted_majority' or 'dawid_skene'."
            )
        patterns, weights, _ = compress_patterns(L, sample_weight)
        k = int(cardinality)
        prior = resolve_prior(class_balance, k)
        model = _weighted_snorkel_class()(cardinality=k, verbose=False)
        model.row_weights = weights
        try:
            model.fit(patterns, class_balance=prior.tolist(), progress_bar=False, seed=int(seed), **self.train_options)
        except ValueError as error:
            raise LabelModelError(f"snorkel LabelModel could not be fitted: {error}") from None
        model.coverage = (weights[:, None] * (patterns >= 0)).sum(axis=0) / weights.sum()
        self._model, self.prior, self.cardinality = model, prior, k
        return self

    def predict_proba(self, L) -> np.ndarray:
        require_fitted(self)
        L = validate_label_matrix(L, cardinality=self.cardinality)
        if L.shape[0] == 0:
            return np.zeros((0, self.cardinality))
        patterns, _, inverse = compress_patterns(L)
        proba = np.asarray(self._model.predict_proba(patterns), dtype=np.float64)
        proba /= proba.sum(axis=1, keepdims=True)
        return fill_prior(proba, patterns, self.prior)[inverse]

    def lf_accuracies(self) -> np.ndarray:
        """snorkel's estimate of P(LF right | LF votes) per LF."""
        require_fitted(self)
        return np.asarray(self._model.get_weights(), dtype=np.float64)


@functools.cache
def _weighted_snorkel_class():
    """Build the subclass lazily so importing labelkit does not import torch/snorkel."""
    import torch
    from snorkel.labeling.model import LabelModel

    class _WeightedPatternLabelModel(LabelModel):
        row_weights: np.ndarray

        def _generate_O(self, L: np.ndarray, higher_order: bool = False) -> None:
            L_aug = self._get_augmented_label_matrix(L, higher_order=higher_order)
            self.d = L_aug.shape[1]
            weights = self.row_weights
            weighted_mean = L_aug.T @ (L_aug * weights[:, None]) / weights.sum()
            self.O = torch.from_numpy(weighted_mean).float().to(self.config.device)
            self.n = float(weights.sum())  # rows represented, for snorkel's mu_eps default

    return _WeightedPatternLabelModel
