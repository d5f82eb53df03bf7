"""A quick end model for judging labels, used by the build's choices and checks of itself.

Where only an end model can tell, the build asks a probe: which label model's train labels teach the
best end model (scored on the gold dev labels, which stay valid when the dev *votes* do not), what the
train evidence says about an LF (its train votes against the out-of-fold predictions of a probe
trained on the other rows' votes), and whether the final end model does at least as well as one
trained on plain majority-vote labels.

A probe is ridge regression of the soft labels on the end model's features (the `tfidf` set reduced
to its LSA_DIMS leading singular directions, or the feature columns), factorized once per ridge
strength: predictions are linear in the labels, so ten label-model candidates, each cross-fitted over
five dev folds, cost a few small matrix products (logistic-regression probes, one saga fit per
candidate, took 160 s on semeval). Ridge on soft labels is the least-squares classifier; its scores
rank rows but are not probabilities, which is all judging needs:

- binary tasks scored by a positive class's F1 are judged by the average precision of that class's
  score (threshold-free: the end model chooses its own threshold afterwards);
- other tasks by the task's metric on the argmax, taking the better of the plain argmax and the argmax
  of each class's score divided by its share of the labels (the end model likewise tries "balanced"
  class weights), so candidates are not judged by the class balance the end model corrects anyway.

Train rows: the covered ones (a seeded sample of PROBE_ROWS above that, which bounds the n x n kernel
of the dual solve); ridge's strength is chosen once, on majority-vote labels, and kept for every
candidate, so candidates differ only by their labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PROBE_ROWS = 4_000  # covered train rows a probe trains on (a seeded sample above this)
PROBE_FEATURES = 20_000  # vocabulary per text vectorizer (the end model's is [end_model] max_features)
LSA_DIMS = 160  # wide features are projected on this many singular directions
ALPHAS = (0.1, 0.3, 1.0, 3.0)  # ridge strengths tried once, on majority-vote labels
OOF_FOLDS = 3  # folds of the out-of-fold predictions on train (the train evidence about LFs)
PRIMAL_FEATURES = 2_000  # wider features are reduced to LSA_DIMS first


@dataclass
class Probe:
    X: np.ndarray  # features of the probe's train rows, with a constant column
    rows: np.ndarray  # their positions in the train split
    covered: np.ndarray  # per probe row: some LF voted on it
    X_dev: np.ndarray
    k: int
    metric: tuple  # (name, positive class index or None), as the end model scores dev
    seed: int = 0
    alpha: float = 1.0
    balanced: bool = True  # also try each class's score divided by its label share (see the docstring)
    # the soft label of the rows no LF voted on, when the end model trains on them too (None: left out)
    uncovered_target: np.ndarray | None = None
    _solvers: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, train: pd.DataFrame, dev: pd.DataFrame, covered: np.ndarray, *, text_column: str,
              feature_columns, k: int, metric: tuple, seed: int, max_features: int = PROBE_FEATURES,
              balanced: bool = True, uncovered: bool = False) -> Probe | None:
        """A probe over the `covered` train rows (and, with `uncovered`, the others, which train once
        `uncovered_target` is set), or None when the rows carry nothing to learn from (no text column
        and no feature columns: a votes-only task)."""
        from labelkit.endmodel.features import (build_features, fit_features, is_relation_frame, prepare_frame,
                                                split_feature_columns)

        has_text = bool(text_column) and text_column in train.columns
        feature_columns = [c for c in feature_columns or () if c in train.columns]
        if not has_text and not feature_columns:
            return None
        covered = np.asarray(covered, dtype=bool)
        rows = np.arange(len(covered)) if uncovered else np.flatnonzero(covered)
        if len(rows) > PROBE_ROWS:
            rows = np.sort(np.random.default_rng(seed).choice(rows, PROBE_ROWS, replace=False))
        if covered[rows].sum() < 2 or not len(dev):
            return None
        relation = is_relation_frame(train)
        frame, dev_frame = train.iloc[rows], dev
        try:
            if has_text:
                frame = prepare_frame(frame, text_column, relation=relation)[0]
                dev_frame = prepare_frame(dev, text_column, relation=relation)[0]
                featurizer, X, _ = fit_features("tfidf", frame, text_column, feature_columns,
                                                max_features=max_features, relation=relation)
            else:
                featurizer = build_features("tfidf", text_column, *split_feature_columns(frame, feature_columns),
                                            max_features=max_features, text=False)
                X = featurizer.fit_transform(frame)
            X_dev = featurizer.transform(dev_frame)
        except ValueError:  # e.g. fewer rows than a vectorizer needs: nothing to judge with
            return None
        X, X_dev = _reduced(X, X_dev, seed)
        return cls(X=_with_constant(X), rows=rows, covered=covered[rows], X_dev=_with_constant(X_dev), k=k,
                   metric=metric, seed=seed, balanced=balanced)

    # ------------------------------------------------------------ fitting

    def choose_alpha(self, Y: np.ndarray, y_dev: np.ndarray) -> float:
        """The ridge strength (of ALPHAS) whose probe on probabilities `Y` scores best on dev; kept after."""
        scores = []
        for alpha in ALPHAS:
            self.alpha = alpha
            scores.append(self.score(y_dev, self.dev_scores(Y), Y))
        self.alpha = ALPHAS[int(np.argmax(scores))]
        return self.alpha

    def fit_rows(self) -> np.ndarray:
        """Probe rows that train: the covered ones, and the others once they have a target."""
        return np.arange(len(self.rows)) if self.uncovered_target is not None else np.flatnonzero(self.covered)

    def training_targets(self, Y: np.ndarray) -> np.ndarray:
        """The targets of `fit_rows()` from a label model's probabilities `Y` of every probe row (rows
        no LF voted on take `uncovered_target`, as the end model gives them)."""
        Y = np.asarray(Y, dtype=np.float64)
        if self.uncovered_target is None:
            return Y[self.covered]
        return np.where(self.covered[:, None], Y, np.asarray(self.uncovered_target, dtype=np.float64)[None, :])

    def dev_scores(self, Y: np.ndarray) -> np.ndarray:
        """(n_dev, k) scores of a probe trained on a label model's probabilities `Y` of its rows."""
        return self._solver(self.fit_rows())(self.training_targets(Y), self.X_dev)

    def out_of_fold(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(train, dev) scores of probes trained on OOF_FOLDS folds of the covered probe rows (targets
        `Y` of those rows): each of them by the probe that did not see it, each dev row by the mean of
        the fold probes (so train and dev are judged by models of the same strength)."""
        covered = np.flatnonzero(self.covered)
        n = len(covered)
        folds = np.random.default_rng(self.seed).permutation(n) % OOF_FOLDS
        train, dev = np.zeros((n, self.k)), np.zeros((self.X_dev.shape[0], self.k))
        Y = np.asarray(Y, dtype=np.float64)
        for fold in range(OOF_FOLDS):
            fit, held = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
            solve = self._solver(covered[fit])
            train[held] = solve(Y[fit], self.X[covered[held]])
            dev += solve(Y[fit], self.X_dev) / OOF_FOLDS
        return train, dev

    def dev_predictions(self, Y: np.ndarray, y_dev: np.ndarray) -> np.ndarray:
        """Dev class predictions of a probe trained on `Y`, with the end model's decision rules: on a
        binary task scored by a positive class's F1, the threshold labelkit.endmodel.threshold chooses
        from dev and train; else the better (on dev) of the plain and the balanced argmax. (The
        do-no-harm reference of the checks.)"""
        from labelkit.endmodel.threshold import choose_threshold

        Y = np.asarray(Y, dtype=np.float64)
        scores = self.dev_scores(Y)
        name, positive = self.metric
        if name == "f1" and positive is not None and self.k == 2:
            train = self._solver(self.fit_rows())(self.training_targets(Y), self.X)
            cut = choose_threshold(np.asarray(y_dev) == positive, _unit(scores[:, positive]),
                                   _unit(train[:, positive]))
            if cut is not None:
                return np.where(_unit(scores[:, positive]) >= cut, positive, 1 - positive)
        return max(self._argmaxes(scores, Y), key=lambda p: self._metric(y_dev, p))

    def judgements(self, scores: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """(n, m) what a judge scores on each row: the positive class's score (m = 1) on a binary task
        scored by its F1, else the plain and the balanced argmax (m = 2). Rows of several probes (the
        folds of a cross-fitted candidate) can be stacked and judged together."""
        name, positive = self.metric
        if name == "f1" and positive is not None and self.k == 2:
            return scores[:, [positive]]
        return np.stack(self._argmaxes(scores, Y), axis=1).astype(np.float64)

    def judge(self, y: np.ndarray, judgements: np.ndarray, column: int | None = None) -> tuple[float, int]:
        """(dev score, column): average precision, or the task's metric of the better argmax (`column`
        fixes which one, e.g. on bootstrap resamples of the rows)."""
        y = np.asarray(y, dtype=np.int64)
        if not len(y):
            return float("nan"), 0
        name, positive = self.metric
        if name == "f1" and positive is not None and self.k == 2:
            return average_precision(y == positive, judgements[:, 0]), 0
        columns = range(judgements.shape[1]) if column is None else [column]
        scored = [(self._metric(y, judgements[:, c].astype(np.int64)), c) for c in columns]
        return max(scored, key=lambda sc: (sc[0], -sc[1]))

    def score(self, y: np.ndarray, scores: np.ndarray, Y: np.ndarray) -> float:
        """The judge's dev score of probe scores `scores` from targets `Y` (see the module docstring)."""
        return self.judge(y, self.judgements(scores, Y))[0]

    def _argmaxes(self, scores: np.ndarray, Y: np.ndarray) -> list[np.ndarray]:
        out = [scores.argmax(axis=1)]
        if self.balanced:
            share = self.training_targets(Y).sum(axis=0)
            share = np.maximum(share / max(share.sum(), 1e-12), 1e-6)
            out.append((scores / share[None, :]).argmax(axis=1))
        return out

    def _metric(self, y, predicted) -> float:
        from labelkit.evaluate.metrics import score_predictions

        return score_predictions(y, predicted, cardinality=self.k, metric=self.metric[0], positive=self.metric[1])

    def _solver(self, fit_rows: np.ndarray):
        """A function (Y of the fit rows, X of rows to predict) -> scores, for ridge of strength
        self.alpha on the probe's rows `fit_rows`, factorized once and cached."""
        key = (fit_rows.tobytes(), self.alpha)
        if key not in self._solvers:
            self._solvers[key] = _ridge(self.X[fit_rows], self.alpha)
        return self._solvers[key]


def _reduced(X, X_dev, seed: int):
    """Wide (text) features projected on their LSA_DIMS leading singular directions (fitted on the
    probe's train rows, no labels involved): the solves become d x d with d small."""
    from scipy import sparse

    if X.shape[1] <= PRIMAL_FEATURES:
        return _dense(X), _dense(X_dev)
    from sklearn.utils.extmath import randomized_svd

    rank = min(LSA_DIMS, X.shape[0] - 1, X.shape[1] - 1)
    _, _, components = randomized_svd(X if sparse.issparse(X) else np.asarray(X), rank, n_oversamples=10,
                                      n_iter=1, power_iteration_normalizer="LU", random_state=seed)
    return _dense(X @ components.T), _dense(X_dev @ components.T)


def _ridge(X: np.ndarray, alpha: float):
    """Ridge regression of targets on (dense, narrow) X, factorized once: returns predict(Y, X_new)."""
    from scipy.linalg import cho_factor, cho_solve

    factor = cho_factor(X.T @ X + alpha * np.eye(X.shape[1]))
    return lambda Y, X_new: X_new @ cho_solve(factor, X.T @ Y)


def _dense(M) -> np.ndarray:
    from scipy import sparse

    return M.toarray() if sparse.issparse(M) else np.asarray(M, dtype=np.float64)


def _with_constant(X):
    """X with a column of ones (the intercept, lightly regularised like the rest)."""
    from scipy import sparse

    ones = np.ones((X.shape[0], 1))
    return sparse.hstack([X, ones], format="csr") if sparse.issparse(X) else np.hstack([np.asarray(X, float), ones])


def _unit(values: np.ndarray) -> np.ndarray:
    """Ridge scores squeezed into (0, 1) for the threshold rule (a monotone map: ranks are kept)."""
    return 1.0 / (1.0 + np.exp(-4.0 * (np.asarray(values, dtype=np.float64) - 0.5)))


def average_precision(is_positive: np.ndarray, score: np.ndarray) -> float:
    """Average precision, as sklearn's average_precision_score computes it (tied scores form one
    threshold), without its per-call validation: the judge computes it on hundreds of resamples.
    0 when there is no positive row."""
    is_positive = np.asarray(is_positive, dtype=bool)
    positives = int(is_positive.sum())
    if not positives:
        return 0.0
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="mergesort")
    ranked, hits = np.asarray(score, dtype=np.float64)[order], is_positive[order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # the last row of each tied score
    tp = np.cumsum(hits)[last]
    precision = tp / (last + 1)
    recall_step = np.diff(np.r_[0, tp]) / positives
    return float(np.sum(recall_step * precision))
