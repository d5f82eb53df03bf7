"""Snorkel's matrix-completion LabelModel, wrapped (not forked) to meet labelkit's contract.

Differences from calling snorkel directly, all deliberate:
- the seed is always passed (snorkel otherwise draws one at import time, so runs differ);
- fitting happens on the unique vote patterns weighted by their counts: a small subclass overrides
  ``_generate_O`` so the overlap matrix O is the *weighted* mean of the pattern outer products, which
  equals snorkel's O on the full matrix; ``mu_eps`` clamping uses the total weight as ``n``;
- ``predict_proba`` returns exactly the class prior for all-abstain rows, and is computed in numpy
  from the fitted ``mu`` (snorkel's own formula), so a model saved as JSON predicts without torch;
- torch runs on one thread during the fit (``torch_threads``): on a 2-core machine the default
  threads made the fit 7x slower (31.7 s vs 4.3 s on WRENCH youtube, issue 11) for the same output;
- snorkel's ValueErrors (fewer than 3 LFs, bad class balance...) become LabelModelError.
"""
from __future__ import annotations

import functools
import time

import numpy as np

from labelkit.errors import LabelModelError
from labelkit.labelmodels.base import (
    PredictMixin,
    compress_patterns,
    fill_prior,
    require_fitted,
    resolve_prior,
    validate_label_matrix,
)

MIN_LFS = 3  # snorkel's LabelModel refuses fewer
# Each epoch works on the (m*k) x (m*k) overlap matrix: WRENCH semeval (164 LFs x 9 classes = 1476)
# took ~1 s per epoch on 2 busy cores, 8 min for 500 epochs, for a model no better than majority vote.
MAX_WIDTH = 600


class SnorkelLabelModel(PredictMixin):
    name = "snorkel"
    mu: np.ndarray  # fitted: (m * k, k) float32, P(LF j votes c | y), snorkel's parameters
    coverage_: np.ndarray  # fitted: share of rows each LF votes on

    def __init__(
        self,
        *,
        n_epochs: int = 500,
        lr: float = 0.01,
        l2: float = 0.0,
        optimizer: str = "sgd",
        prec_init: float = 0.7,
        mu_eps: float | None = None,
        torch_threads: int = 1,
        max_width: int = MAX_WIDTH,
    ):
        if n_epochs < 1 or lr <= 0 or l2 < 0:
            raise LabelModelError(f"snorkel needs n_epochs >= 1, lr > 0, l2 >= 0; got {n_epochs}, {lr}, {l2}.")
        self.train_options = dict(
            n_epochs=int(n_epochs), lr=float(lr), l2=float(l2), optimizer=optimizer,
            prec_init=float(prec_init), mu_eps=mu_eps,
        )
        self.torch_threads = int(torch_threads)
        self.max_width = int(max_width)
        self.fit_seconds_: float = 0.0

    def fit(self, L, *, cardinality, class_balance=None, seed=0, sample_weight=None) -> "SnorkelLabelModel":
        L = validate_label_matrix(L, cardinality=cardinality)
        if L.shape[1] < MIN_LFS:
            raise LabelModelError(
                f"snorkel's LabelModel needs at least {MIN_LFS} LFs, got {L.shape[1]}; "
                "use 'majority', 'weighted_majority' or 'dawid_skene'."
            )
        k = int(cardinality)
        if L.shape[1] * k > self.max_width:
            raise LabelModelError(
                f"snorkel's LabelModel would fit a {L.shape[1] * k}-wide overlap matrix ({L.shape[1]} LFs x {k} "
                f"classes), above max_width {self.max_width}, which takes minutes; raise "
                f"[label_model] snorkel_max_width to fit it anyway.")
        patterns, weights, _ = compress_patterns(L, sample_weight)
        prior = resolve_prior(class_balance, k)
        import torch

        started, threads = time.perf_counter(), torch.get_num_threads()
        model = _weighted_snorkel_class()(cardinality=k, verbose=False)
        model.row_weights = weights
        torch.set_num_threads(self.torch_threads)
        try:
            model.fit(patterns, class_balance=prior.tolist(), progress_bar=False, seed=int(seed), **self.train_options)
        except ValueError as error:
            raise LabelModelError(f"snorkel LabelModel could not be fitted: {error}") from None
        finally:
            torch.set_num_threads(threads)
        if model.n != float(weights.sum()):  # the override below was not called: O would ignore the counts
            raise LabelModelError("this snorkel version no longer calls LabelModel._generate_O, which labelkit "
                                  "overrides to fit weighted vote patterns; install the snorkel version pinned "
                                  "in labelkit's requirements.")
        self.mu = model.mu.cpu().detach().numpy().astype(np.float32)
        self.coverage_ = (weights[:, None] * (patterns >= 0)).sum(axis=0) / weights.sum()
        self.prior, self.cardinality = prior, k
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def predict_proba(self, L) -> np.ndarray:
        require_fitted(self)
        L = validate_label_matrix(L, cardinality=self.cardinality)
        if L.shape[0] == 0:
            return np.zeros((0, self.cardinality))
        k = self.cardinality
        if L.shape[1] * k != self.mu.shape[0]:
            raise LabelModelError(f"L has {L.shape[1]} LF columns but the model was fitted on {self.mu.shape[0] // k}.")
        patterns, _, inverse = compress_patterns(L)
        indicator = np.zeros((patterns.shape[0], patterns.shape[1] * k))  # snorkel's L_ind: column j*k + c
        rows, lfs = np.nonzero(patterns >= 0)
        indicator[rows, lfs * k + patterns[rows, lfs]] = 1.0
        with np.errstate(divide="ignore"):
            scores = np.exp(indicator @ np.log(self.mu) + np.log(self.prior))
        proba = scores / scores.sum(axis=1, keepdims=True)
        return fill_prior(proba, patterns, self.prior)[inverse]

    def lf_accuracies(self) -> np.ndarray:
        """snorkel's estimate of P(LF right | LF votes) per LF (as snorkel's ``get_weights``)."""
        require_fitted(self)
        k = self.cardinality
        diagonals = np.stack([np.diag(self.mu[j * k:(j + 1) * k]) for j in range(self.mu.shape[0] // k)])
        accuracy = diagonals.astype(np.float64) @ self.prior
        return np.clip(accuracy / np.maximum(self.coverage_, 1e-12), 1e-6, 1.0)

    def to_state(self) -> dict:
        require_fitted(self)
        return {"cardinality": self.cardinality, "prior": self.prior.tolist(),
                "mu": self.mu.astype(np.float64).tolist(), "coverage": self.coverage_.tolist()}

    @classmethod
    def from_state(cls, state: dict) -> "SnorkelLabelModel":
        model = cls()
        model.cardinality, model.prior = int(state["cardinality"]), np.asarray(state["prior"], dtype=np.float64)
        model.mu = np.asarray(state["mu"], dtype=np.float64).astype(np.float32)
        model.coverage_ = np.asarray(state["coverage"], dtype=np.float64)
        return model


@functools.cache
def _weighted_snorkel_class() -> type:
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
