"""Weighted majority vote: each LF's vote counts with the log-odds of its estimated accuracy.

Model (one-coin, symmetric noise): when LF j votes, the true class is its vote with probability
``a_j`` (its precision, which is what both estimates below measure) and each other class with
``(1 - a_j) / (k-1)``. With LFs independent given the class, each vote's evidence is its posterior
relative to the prior, so with ``n`` votes on a row

    log P(y = c | votes) = log prior_c + sum_{j votes} [log P(y = c | vote_j) - log prior_c] + const
                         = (1 - n) log prior_c + sum_{j votes c} log(a_j (k-1) / (1 - a_j)) + const

An LF's weight is its log-odds, and an LF worse than chance (a_j < 1/k) votes *against* its class.
Adding the prior once per row instead (the textbook form, which treats a_j as P(vote right | y)) counts
it again on top of precisions that already contain it: on WRENCH youtube with spam subsampled to 13%,
that model never predicted spam (test F1 .10 with the dev prior); this one reaches .82.

How ``a_j`` is estimated: a Beta prior whose mean is ``prior_accuracy`` or, when that is None, the
LF's accuracy estimated from the training votes alone
(an unsupervised one-coin EM started from majority vote), and whose strength is
``prior_strength`` pseudo-votes, updated with the LF's correct/incorrect counts on the gold dev
split when ``use_dev(L_dev, y_dev)`` was called. With no dev split the estimate is the prior mean.

Dev cannot erase an LF on noise alone: when the unsupervised estimate says an LF beats chance but
its dev-refined accuracy falls to chance or below, the refinement is kept only if the dev votes show
it worse than chance at the ``erase_alpha`` level (one-sided binomial test); otherwise the LF keeps
its unsupervised estimate (``kept_on_noise_`` lists those LFs; ``erase_alpha=1`` turns this off). On a small or imbalanced dev split an
LF may vote only a handful of times, and 2 right out of 6 is not evidence against an LF that is
right 90% of the time on train.
"""
from __future__ import annotations

import numpy as np

from labelkit.errors import LabelModelError
from labelkit.labelmodels.base import (
    PredictMixin,
    UsesDevMixin,
    compress_patterns,
    fill_prior,
    normalise_log_scores,
    require_fitted,
    resolve_prior,
    validate_label_matrix,
    vote_counts,
)


class WeightedMajorityVote(UsesDevMixin, PredictMixin):
    accuracies: np.ndarray  # fitted, per LF
    weights: np.ndarray  # fitted: log-odds vote weights per LF
    name = "weighted_majority"

    def __init__(
        self,
        *,
        prior_strength: float = 2.0,
        prior_accuracy: float | None = None,
        min_accuracy: float = 0.02, max_accuracy: float = 0.98, erase_alpha: float = 0.05):
        if prior_strength < 0:
            raise LabelModelError(f"prior_strength must be >= 0, got {prior_strength}.")
        if not 0 < min_accuracy < max_accuracy < 1:
            raise LabelModelError(
                f"need 0 < min_accuracy < max_accuracy < 1, got {min_accuracy} and {max_accuracy}."
            )
        if prior_accuracy is not None and not 0 < prior_accuracy < 1:
            raise LabelModelError(f"prior_accuracy must be in (0, 1) or None, got {prior_accuracy}.")
        self.prior_strength = float(prior_strength)
        self.prior_accuracy = prior_accuracy
        self.min_accuracy = float(min_accuracy)
        self.max_accuracy = float(max_accuracy)
        self.erase_alpha = float(erase_alpha)
        self.kept_on_noise_: list[int] = []

    def fit(self, L, *, cardinality, class_balance=None, seed=0, sample_weight=None) -> "WeightedMajorityVote":
        L = validate_label_matrix(L, cardinality=cardinality)
        patterns, weights, _ = compress_patterns(L, sample_weight)
        k = int(cardinality)
        if self.prior_accuracy is None:
            prior_mean = _one_coin_em_accuracies(patterns, weights, k, resolve_prior(class_balance, k))
        else:
            prior_mean = np.full(L.shape[1], self.prior_accuracy)
        correct, voted = self._dev_counts(L.shape[1], k)
        alpha = prior_mean * self.prior_strength
        accuracy = (correct + alpha) / np.maximum(voted + self.prior_strength, 1e-12)
        accuracy = np.where(voted + self.prior_strength > 0, accuracy, prior_mean)
        accuracy = self._keep_unless_significant(accuracy, prior_mean, correct, voted, k)
        self.accuracies = np.clip(accuracy, self.min_accuracy, self.max_accuracy)
        self.weights = np.log(self.accuracies * (k - 1) / (1 - self.accuracies))
        self.cardinality = k
        self.prior = resolve_prior(class_balance, k)
        return self

    def lf_accuracies(self) -> np.ndarray:
        require_fitted(self)
        return self.accuracies.copy()

    def predict_proba(self, L) -> np.ndarray:
        require_fitted(self)
        L = validate_label_matrix(L, cardinality=self.cardinality)
        if L.shape[1] != self.weights.size:
            raise LabelModelError(f"L has {L.shape[1]} LF columns but the model was fitted on {self.weights.size}.")
        scores = log_posterior(L, self.cardinality, self.weights, self.prior)
        return fill_prior(normalise_log_scores(scores), L, self.prior)

    def to_state(self) -> dict:
        require_fitted(self)
        return {"cardinality": self.cardinality, "prior": self.prior.tolist(),
                "accuracies": self.accuracies.tolist(), "weights": self.weights.tolist()}

    @classmethod
    def from_state(cls, state: dict) -> "WeightedMajorityVote":
        model = cls()
        model.cardinality, model.prior = int(state["cardinality"]), np.asarray(state["prior"], dtype=np.float64)
        model.accuracies = np.asarray(state["accuracies"], dtype=np.float64)
        model.weights = np.asarray(state["weights"], dtype=np.float64)
        return model

    def _keep_unless_significant(self, accuracy, prior_mean, correct, voted, k) -> np.ndarray:
        from scipy.stats import binom

        chance = 1.0 / k
        erased = (prior_mean > chance) & (accuracy <= chance) & (voted > 0)
        p_worse = binom.cdf(correct, np.maximum(voted, 1).astype(int), chance)  # P(this few right | chance)
        keep = erased & (p_worse >= self.erase_alpha)
        self.kept_on_noise_ = np.flatnonzero(keep).tolist()
        return np.where(keep, prior_mean, accuracy)

    def _dev_counts(self, n_lfs: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._dev is None:
            return np.zeros(n_lfs), np.zeros(n_lfs)
        L_dev = validate_label_matrix(self._dev[0], cardinality=k, what="L_dev")
        y_dev = self._dev[1]
        if L_dev.shape[1] != n_lfs:
            raise LabelModelError(f"L_dev has {L_dev.shape[1]} LF columns but L has {n_lfs}; use the same LFs.")
        voted = (L_dev >= 0).sum(axis=0).astype(np.float64)
        correct = (L_dev == y_dev[:, None]).sum(axis=0).astype(np.float64)
        return correct, voted


def _one_coin_em_accuracies(L: np.ndarray, weights: np.ndarray, k: int, prior: np.ndarray,
                            n_iter: int = 50, tol: float = 1e-7) -> np.ndarray:
    """Unsupervised LF accuracies under the same one-coin model, by EM from majority vote.

    E-step: posteriors from the current log-odds weights; M-step: an LF's accuracy is the
    (count-weighted) posterior mass on the class it voted, with one pseudo-vote each way.
    Accuracies are kept above chance (1/k + 0.01), the usual assumption that breaks the label-swap
    symmetry; without it, LFs that only vote one class can drift below chance together and flip
    every prediction. LFs that never vote keep the neutral midpoint between chance and 1.
    """
    voted = L >= 0
    votes_per_lf = (voted * weights[:, None]).sum(axis=0)
    counts = vote_counts(L, k)
    totals = counts.sum(axis=1, keepdims=True)
    posterior = np.divide(counts, totals, out=np.tile(prior, (L.shape[0], 1)), where=totals > 0)
    accuracy = np.full(L.shape[1], (1.0 + 1.0 / k) / 2)
    rows = np.arange(L.shape[0])
    for _ in range(n_iter):
        previous = accuracy.copy()
        for lf in range(L.shape[1]):
            hit = posterior[rows[voted[:, lf]], L[voted[:, lf], lf]]
            accuracy[lf] = (np.dot(hit, weights[voted[:, lf]]) + 1.0) / (votes_per_lf[lf] + 2.0)
        accuracy = np.clip(accuracy, 1.0 / k + 0.01, 1 - 1e-3)  # assume better than chance
        log_odds = np.log(accuracy * (k - 1) / (1 - accuracy))
        posterior = normalise_log_scores(log_posterior(L, k, log_odds, prior))
        if np.max(np.abs(accuracy - previous)) < tol:
            break
    return accuracy


def log_posterior(L: np.ndarray, k: int, weights: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Unnormalised log P(y | votes): weighted votes plus (1 - votes on the row) x log prior."""
    n_votes = (L >= 0).sum(axis=1, keepdims=True)
    return vote_counts(L, k, weights) + (1 - n_votes) * np.log(prior)[None, :]
