"""A label model learned from the gold dev rows: multinomial logistic regression on the LF votes.

Features of a row: one indicator per (LF, class voted) and the number of votes for each class. The
counts let the model start from majority vote with k weights; the indicators let it learn what
each LF's vote is worth for each class, confusions included (an LF voting 'billing' that is usually
'account'), which weighted majority's one accuracy per LF cannot express and Dawid-Skene's confusion
matrices can only guess without labels.
It needs gold dev rows (``use_dev``) and learns nothing from the train votes; selection scores it on
dev folds it did not see (``uses_dev``), so it is chosen only where dev is large enough to pay off.

Measured, test accuracy of the candidate vs the model chosen before it existed: bundled example (500
dev rows, 5 classes) 67.7 vs 65.7, and chosen; WRENCH youtube (120 dev rows) 86.0 vs 87.6 and
semeval (178 dev rows, 164 LFs) 82.3 vs 82.5, not chosen (`benchmarks/wrench.py`).

Class balance: the regression's intercepts carry dev's class shares; predictions are moved from
those to the candidate's prior (``class_balance``), as Bayes' rule does for a change of prior.
"""
from __future__ import annotations

import numpy as np

from labelkit.errors import LabelModelError
from labelkit.labelmodels.base import (
    PredictMixin,
    UsesDevMixin,
    fill_prior,
    normalise_log_scores,
    require_fitted,
    resolve_prior,
    validate_label_matrix,
    vote_counts,
)

MIN_DEV_ROWS = 20  # fewer gold dev rows than this: skipped, with a note
MAX_PARAMETERS = 500_000  # (LFs x classes + classes) x classes; 300 LFs x 150 classes (6.8M) took 44 s a fit


class LogisticVotes(UsesDevMixin, PredictMixin):
    name = "logistic_votes"
    coef: np.ndarray  # fitted: (k, n_lfs * k + k)
    intercept: np.ndarray  # fitted: (k,), dev shares moved to the prior

    def __init__(self, *, C: float = 1.0, max_parameters: int = MAX_PARAMETERS):
        if not C > 0:
            raise LabelModelError(f"logistic_votes: C must be > 0, got {C}.")
        self.C = float(C)
        self.max_parameters = int(max_parameters)

    def fit(self, L, *, cardinality, class_balance=None, seed=0, sample_weight=None) -> "LogisticVotes":
        from sklearn.linear_model import LogisticRegression

        L = validate_label_matrix(L, cardinality=cardinality)
        k = int(cardinality)
        if self._dev is None or len(self._dev[1]) < MIN_DEV_ROWS:
            rows = 0 if self._dev is None else len(self._dev[1])
            raise LabelModelError(f"logistic_votes learns from gold dev rows and has {rows}; it needs at least "
                                  f"{MIN_DEV_ROWS}.")
        parameters = (L.shape[1] * k + k) * k
        if parameters > self.max_parameters:
            raise LabelModelError(f"logistic_votes would fit {parameters:,} weights ({L.shape[1]} LFs x {k} classes), "
                                  f"above max_parameters {self.max_parameters:,}, which takes minutes; raise "
                                  f"[label_model] logistic_votes_max_parameters to fit it anyway.")
        L_dev = validate_label_matrix(self._dev[0], cardinality=k, what="L_dev")
        y_dev = self._dev[1]
        if L_dev.shape[1] != L.shape[1]:
            raise LabelModelError(f"L_dev has {L_dev.shape[1]} LF columns but L has {L.shape[1]}; use the same LFs.")
        seen = np.unique(y_dev)
        if seen.size < 2:
            raise LabelModelError("logistic_votes needs gold dev rows of at least two classes.")
        regression = LogisticRegression(C=self.C, max_iter=2000, tol=1e-6).fit(_features(L_dev, k), y_dev)
        coef = np.zeros((k, L.shape[1] * k + k))
        # a class absent from dev keeps a very low score: dev gives no evidence it exists
        intercept = np.full(k, -30.0)
        if seen.size == 2:  # sklearn keeps one row of weights for two classes: the second class's log-odds
            coef[seen[1]], intercept[seen] = regression.coef_[0], [0.0, regression.intercept_[0]]
        else:
            coef[seen], intercept[seen] = regression.coef_, regression.intercept_
        self.prior = resolve_prior(class_balance, k)
        dev_share = np.bincount(y_dev, minlength=k)[:k] / len(y_dev)
        intercept[seen] += np.log(self.prior[seen]) - np.log(dev_share[seen])
        self.coef, self.intercept, self.cardinality = coef, intercept, k
        return self

    def predict_proba(self, L) -> np.ndarray:
        require_fitted(self)
        L = validate_label_matrix(L, cardinality=self.cardinality)
        if L.shape[1] * self.cardinality + self.cardinality != self.coef.shape[1]:
            raise LabelModelError(f"L has {L.shape[1]} LF columns, not the ones the model was fitted on.")
        scores = np.asarray(_features(L, self.cardinality) @ self.coef.T) + self.intercept[None, :]
        return fill_prior(normalise_log_scores(scores), L, self.prior)

    def to_state(self) -> dict:
        require_fitted(self)
        return {"cardinality": self.cardinality, "prior": self.prior.tolist(), "C": self.C,
                "coef": self.coef.tolist(), "intercept": self.intercept.tolist()}

    @classmethod
    def from_state(cls, state: dict) -> "LogisticVotes":
        model = cls(C=float(state["C"]))
        model.cardinality, model.prior = int(state["cardinality"]), np.asarray(state["prior"], dtype=np.float64)
        model.coef = np.asarray(state["coef"], dtype=np.float64)
        model.intercept = np.asarray(state["intercept"], dtype=np.float64)
        return model


def _features(L: np.ndarray, k: int):
    """Sparse (n, n_lfs * k + k): one indicator per (LF, class voted), then the votes per class."""
    from scipy import sparse

    rows, lfs = np.nonzero(L >= 0)
    indicators = sparse.csr_matrix((np.ones(rows.size), (rows, lfs * k + L[rows, lfs])),
                                   shape=(L.shape[0], L.shape[1] * k))
    return sparse.hstack([indicators, sparse.csr_matrix(vote_counts(L, k))], format="csr")
