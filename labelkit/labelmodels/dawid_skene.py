"""Dawid-Skene: EM over per-LF confusion matrices, abstains ignored.

Model: a latent class ``y`` with prior ``pi``; each LF that votes draws its vote from its own row
``theta[j, y, :]`` of a k x k confusion matrix (whether it votes is assumed independent of ``y``, so
abstains carry no evidence). EM starts from majority-vote posteriors (which fixes the class
permutation), is fully deterministic, and works on the unique vote patterns weighted by counts.

Smoothing is a Dirichlet prior on every confusion row: ``smoothing`` pseudo-votes spread evenly plus
``diagonal_prior`` extra pseudo-votes on the correct class (a mild belief that LFs beat chance).

Abstains are ignored by default, except that ``abstain_as_vote="auto"`` (the default) treats an
abstain as an observed (k+1)-th response when some LF votes only one class on the training
votes: ignoring abstains makes such unipolar LFs uninformative and EM collapses onto one class.
Pass ``abstain_as_vote=False`` for textbook Dawid-Skene.
The class prior is held fixed when ``class_balance`` is given, otherwise re-estimated each M-step
(with ``class_smoothing`` pseudo-rows per class) unless ``estimate_class_balance=False``.
"""
from __future__ import annotations

import numpy as np

from labelkit.errors import LabelModelError
from labelkit.labelmodels.base import (
    PredictMixin,
    compress_patterns,
    fill_prior,
    normalise_log_scores,
    require_fitted,
    resolve_prior,
    validate_label_matrix,
    vote_counts,
)


class DawidSkene(PredictMixin):
    name = "dawid_skene"
    abstain_as_vote_: bool  # fitted: abstain_as_vote resolved on the training votes
    confusion: np.ndarray  # fitted: (m, k true, k voted), rows sum to 1

    def __init__(
        self,
        *,
        smoothing: float = 1.0,
        diagonal_prior: float = 1.0,
        class_smoothing: float = 1.0,
        estimate_class_balance: bool = True,
        abstain_as_vote: bool | str = "auto",
        max_iter: int = 200,
        tol: float = 1e-8,
    ):
        if smoothing < 0 or diagonal_prior < 0 or class_smoothing < 0:
            raise LabelModelError(
                f"smoothing, diagonal_prior and class_smoothing must be >= 0, got "
                f"{smoothing}, {diagonal_prior}, {class_smoothing}."
            )
        if max_iter < 1:
            raise LabelModelError(f"max_iter must be >= 1, got {max_iter}.")
        self.smoothing = float(smoothing)
        self.diagonal_prior = float(diagonal_prior)
        self.class_smoothing = float(class_smoothing)
        self.estimate_class_balance = bool(estimate_class_balance)
        if abstain_as_vote not in (True, False, "auto"):
            raise LabelModelError(f"abstain_as_vote must be True, False or 'auto', got {abstain_as_vote!r}.")
        self.abstain_as_vote = abstain_as_vote
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.n_iter_: int = 0

    def fit(self, L, *, cardinality, class_balance=None, seed=0, sample_weight=None) -> "DawidSkene":
        L = validate_label_matrix(L, cardinality=cardinality)
        patterns, weights, _ = compress_patterns(L, sample_weight)
        k = int(cardinality)
        fixed_prior = class_balance is not None or not self.estimate_class_balance
        prior = resolve_prior(class_balance, k)
        self.abstain_as_vote_ = _resolve_abstain_as_vote(self.abstain_as_vote, patterns, weights, k)
        one_hot = _one_hot_votes(patterns, k, self.abstain_as_vote_)
        posterior = _majority_posterior(patterns, k, prior)
        previous = None
        for iteration in range(1, self.max_iter + 1):  # noqa: B007 (read after the loop: n_iter_)
            confusion = self._m_step_confusion(one_hot, posterior, weights, k)
            if not fixed_prior:
                prior = self._m_step_prior(posterior, weights, k)
            log_scores = _log_scores(one_hot, confusion, prior)
            posterior = normalise_log_scores(log_scores)
            if previous is not None and np.max(np.abs(posterior - previous)) < self.tol:
                break
            previous = posterior
        self.n_iter_ = iteration
        self.confusion, self.prior, self.cardinality = confusion, prior, k
        return self

    def predict_proba(self, L) -> np.ndarray:
        require_fitted(self)
        L = validate_label_matrix(L, cardinality=self.cardinality)
        if L.shape[1] != self.confusion.shape[0]:
            raise LabelModelError(
                f"L has {L.shape[1]} LF columns but the model was fitted on {self.confusion.shape[0]}."
            )
        patterns, _, inverse = compress_patterns(L)  # predict each distinct pattern once
        one_hot = _one_hot_votes(patterns, self.cardinality, self.abstain_as_vote_)
        proba = normalise_log_scores(_log_scores(one_hot, self.confusion, self.prior))
        return fill_prior(proba, patterns, self.prior)[inverse]

    def lf_accuracies(self) -> np.ndarray:
        """P(LF vote is right | it votes) = sum_y pi_y theta[j,y,y] / sum_y pi_y P(LF votes | y)."""
        require_fitted(self)
        votes = self.confusion[:, :, : self.cardinality]  # drop the abstain column, if any
        right = np.einsum("y,jyy->j", self.prior, votes)
        voted = np.einsum("y,jyc->j", self.prior, votes)
        return right / voted

    def to_state(self) -> dict:
        require_fitted(self)
        return {"cardinality": self.cardinality, "prior": self.prior.tolist(),
                "confusion": self.confusion.tolist(), "abstain_as_vote": bool(self.abstain_as_vote_)}

    @classmethod
    def from_state(cls, state: dict) -> "DawidSkene":
        model = cls()
        model.cardinality, model.prior = int(state["cardinality"]), np.asarray(state["prior"], dtype=np.float64)
        model.confusion = np.asarray(state["confusion"], dtype=np.float64)
        model.abstain_as_vote_ = bool(state["abstain_as_vote"])
        return model

    def _m_step_confusion(self, one_hot, posterior, weights, k) -> np.ndarray:
        # counts[j, y, c] = sum_i w_i q_i(y) [L_ij = c]
        counts = np.einsum("iy,ijc->jyc", posterior * weights[:, None], one_hot)
        columns = one_hot.shape[2]
        counts += self.smoothing / columns
        counts[:, :, :k] += self.diagonal_prior * np.eye(k)[None, :, :]
        totals = counts.sum(axis=2, keepdims=True)
        uniform = np.full_like(counts, 1.0 / k)
        return np.divide(counts, totals, out=uniform, where=totals > 0)

    def _m_step_prior(self, posterior, weights, k) -> np.ndarray:
        shares = (posterior * weights[:, None]).sum(axis=0) + self.class_smoothing
        if shares.sum() <= 0 or np.any(shares <= 0):
            return np.full(k, 1.0 / k)
        return shares / shares.sum()


def _resolve_abstain_as_vote(setting, L: np.ndarray, weights: np.ndarray, k: int) -> bool:
    """'auto': model abstains as responses when some LF only ever votes one class.

    Such a unipolar LF (e.g. a keyword LF that only says SPAM) has a confusion matrix whose voted
    column is ~1 for every true class once abstains are ignored, so its votes carry no evidence and
    EM drifts to whatever the class prior favours (52.8% on WRENCH youtube). Its abstains are
    then its only signal about the other classes.
    """
    if setting != "auto":
        return bool(setting)
    for lf in range(L.shape[1]):
        voted = (L[:, lf] >= 0) & (weights > 0)
        if np.unique(L[voted, lf]).size < min(2, k):
            return True
    return False


def _one_hot_votes(L: np.ndarray, k: int, abstain_as_vote: bool = False) -> np.ndarray:
    """(n, m, k) indicator of each LF's vote, all-zero where the LF abstains; with
    ``abstain_as_vote`` a (k+1)-th column marks the abstain as an observed response."""
    one_hot = np.zeros((L.shape[0], L.shape[1], k + int(abstain_as_vote)), dtype=np.float64)
    rows, lfs = np.nonzero(L >= 0)
    one_hot[rows, lfs, L[rows, lfs]] = 1.0
    if abstain_as_vote:
        rows, lfs = np.nonzero(L < 0)
        one_hot[rows, lfs, k] = 1.0
    return one_hot


def _log_scores(one_hot: np.ndarray, confusion: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """log prior_y + sum_j log theta[j, y, vote_j] (abstains add 0)."""
    log_confusion = np.log(np.clip(confusion, 1e-300, None))
    return np.log(prior)[None, :] + np.einsum("ijc,jyc->iy", one_hot, log_confusion)


def _majority_posterior(L: np.ndarray, k: int, prior: np.ndarray) -> np.ndarray:
    counts = vote_counts(L, k)
    totals = counts.sum(axis=1, keepdims=True)
    posterior = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    return fill_prior(posterior, L, prior)
