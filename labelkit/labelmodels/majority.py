"""Unweighted majority vote: probabilities are vote shares, ties stay explicit."""
from __future__ import annotations

import numpy as np

from labelkit.labelmodels.base import (
    PredictMixin,
    fill_prior,
    require_fitted,
    resolve_prior,
    validate_label_matrix,
    validate_sample_weight,
    vote_counts,
)


class MajorityVote(PredictMixin):
    """proba[i, c] = share of row i's non-abstain votes that went to class c.

    A 2-2 tie gives equal probabilities (``hard_predictions`` breaks it by the prior). Rows where
    every LF abstains get the prior (``class_balance``, or uniform).
    """

    name = "majority"

    def fit(self, L, *, cardinality, class_balance=None, seed=0, sample_weight=None) -> "MajorityVote":
        L = validate_label_matrix(L, cardinality=cardinality)
        validate_sample_weight(sample_weight, L.shape[0])
        self.cardinality = int(cardinality)
        self.prior = resolve_prior(class_balance, self.cardinality)
        return self

    def predict_proba(self, L) -> np.ndarray:
        require_fitted(self)
        L = validate_label_matrix(L, cardinality=self.cardinality)
        counts = vote_counts(L, self.cardinality)
        totals = counts.sum(axis=1, keepdims=True)
        proba = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        return fill_prior(proba, L, self.prior)

    def to_state(self) -> dict:
        require_fitted(self)
        return {"cardinality": self.cardinality, "prior": self.prior.tolist()}

    @classmethod
    def from_state(cls, state: dict) -> "MajorityVote":
        model = cls()
        model.cardinality, model.prior = int(state["cardinality"]), np.asarray(state["prior"], dtype=np.float64)
        return model

