"""The systems a build compares on the same gold test rows, each predicting every row.

Tie/abstain policy (written into every report): majority vote counts each LF vote once; a tie goes
to the tied class that is more frequent in the gold dev split; a row on which every LF abstains gets
the most frequent dev class. Rules are scored on ALL test rows, never only on covered ones.
"""
from __future__ import annotations

import numpy as np

POLICY = (
    "Rules are scored on all test rows. Majority vote: ties go to the tied class that is more frequent "
    "in the gold dev split; rows where every LF abstains get the most frequent dev class. The label "
    "model predicts the class prior on all-abstain rows. Probabilities tied exactly are broken by the "
    "same dev-frequency order."
)


def majority_class(n: int, prior: np.ndarray) -> np.ndarray:
    return np.full(n, int(np.argmax(prior)), dtype=np.int64)


def stratified_random(n: int, prior: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(len(prior), size=n, p=prior / prior.sum()).astype(np.int64)


def rule_baseline(L: np.ndarray, prior: np.ndarray) -> np.ndarray:
    from labelkit.labelmodels import hard_predictions, make_label_model

    model = make_label_model("majority").fit(L, cardinality=len(prior), class_balance=prior)
    return hard_predictions(model.predict_proba(L), prior)


def coverage(L: np.ndarray) -> float:
    return float((L >= 0).any(axis=1).mean()) if len(L) else 0.0
