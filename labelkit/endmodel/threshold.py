"""The decision threshold of a binary end model whose selection metric is the F1 of a positive class.

A model trained on soft labels, or with strong regularisation, ranks rows well but its positive-class
probabilities rarely sit where 0.5 is the best cut (measured on WRENCH youtube with spam subsampled
to 10-20%: benchmarks/README.md). Two estimates of the cut, each weak alone:

- the threshold with the best dev F1 (ties: the one nearest 0.5): unbiased but noisy when dev holds
  a handful of positives;
- the threshold above which the dev share of positives (add-one smoothed) of the *train* rows'
  probabilities lie: stable (many rows, no labels needed) but biased when train and dev differ. All
  train rows count, also those no LF voted on (fit.py's `unlabeled`): LFs that target the rare class
  cover rows where it is over-represented, and a quantile over those puts the cut too high (WRENCH
  youtube, spam subsampled to 10 / 13 / 20%: end-model spam F1 +0.7 / +0.8 / -0.4, 10 subsamples each;
  benchmarks/README.md).

The threshold used is their mean in logit space, so each shrinks the other. It is applied as a shift
of the classifier's intercept, so the saved scikit-learn pipeline, ``EndModel.predict`` and every
``predict_proba`` consumer (serve, monitor, replay) make the same decision; ``EndModel.threshold``
records it on the unshifted probability.
"""
from __future__ import annotations

import numpy as np

EPS = 1e-4  # thresholds are kept in [EPS, 1 - EPS] so their logit is finite


def _logit(p):
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _f1(y: np.ndarray, predicted: np.ndarray) -> float:
    tp = int(np.sum(y & predicted))
    wrong = int(np.sum(y ^ predicted))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + wrong)


def best_dev_threshold(is_positive: np.ndarray, p_dev: np.ndarray) -> float:
    """The cut with the best dev F1: 0.5 and every midpoint between distinct dev probabilities are
    tried; among equal scores, the one nearest 0.5 in logit space."""
    values = np.unique(p_dev)
    cuts = np.concatenate([[0.5], (values[1:] + values[:-1]) / 2])
    scores = np.array([_f1(is_positive, p_dev >= cut) for cut in cuts])
    tied = cuts[scores >= scores.max() - 1e-12]
    return float(tied[np.argmin(np.abs(_logit(tied)))])


def train_quantile_threshold(p_train: np.ndarray, positive_share: float) -> float:
    """The cut above which `positive_share` of the train rows' probabilities lie."""
    return float(np.quantile(p_train, 1 - positive_share)) if len(p_train) else 0.5


def choose_threshold(is_positive, p_dev, p_train) -> float | None:
    """The positive class's decision threshold (on its probability), or None when dev has no positive
    row (nothing to choose from)."""
    is_positive = np.asarray(is_positive, dtype=bool)
    if not is_positive.any() or is_positive.all():
        return None
    share = (is_positive.sum() + 1) / (is_positive.size + 2)
    both = (_logit(best_dev_threshold(is_positive, np.asarray(p_dev))) +
            _logit(train_quantile_threshold(np.asarray(p_train), share))) / 2
    return float(np.clip(1 / (1 + np.exp(-both)), EPS, 1 - EPS))


def shift_intercept(classifier, positive: int, threshold: float) -> None:
    """Make `classifier` predict `positive` exactly when its unshifted probability of `positive` is
    >= threshold (binary linear models: the decision function is the logit of classes_[1])."""
    shift = float(_logit(threshold))
    if int(classifier.classes_[1]) != positive:  # P(positive) >= t  <=>  logit P(classes_[1]) <= -logit t
        shift = -shift
    classifier.intercept_ = np.asarray(classifier.intercept_, dtype=np.float64) - shift


def predicts_positive(proba: np.ndarray, classes, positive: int, threshold: float) -> np.ndarray:
    """Class indices from an unshifted binary classifier's probabilities under `threshold`."""
    classes = np.asarray(classes, dtype=np.int64)
    column = int(np.flatnonzero(classes == positive)[0])
    other = int(classes[1 - column])
    return np.where(proba[:, column] >= threshold, positive, other)
