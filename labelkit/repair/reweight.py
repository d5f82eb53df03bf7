"""Choosing a slice's training weight on dev, under a limit on the overall dev loss.

For each slice (worst guardrail first) every candidate is a retrained end model: the slice's train
rows weighted w ("slice"), or the first model's error set weighted w ("errors", just-train-twice:
the train rows whose weak label the first model does not reproduce, inside the slice when it has
any, else everywhere). A candidate is admissible when its overall dev score is at most `limit`
below the unrepaired model's; the admissible candidate with the best dev score on the slice wins
(ties: the better overall dev score, then the smaller weight). "No change" is always a candidate,
so a repair never makes dev worse than the limit allows. Weights of earlier slices are kept while
later slices are searched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

WEIGHTS = (2.0, 4.0, 8.0)  # larger weights overfit a small slice (and slow saga down)
STRATEGIES = ("slice", "errors")
MAX_OVERALL_LOSS = 0.005  # overall dev score a repair may give up (0.5 points)


@dataclass
class Candidate:
    strategy: str  # none | slice | errors
    weight: float
    dev_overall: float
    dev_slice: float
    admissible: bool = True

    def key(self) -> tuple:
        return (self.dev_slice, self.dev_overall, -self.weight, self.strategy == "slice")

    def as_dict(self) -> dict:
        return {"strategy": self.strategy, "weight": self.weight, "dev_overall": round(self.dev_overall, 4),
                "dev_slice": round(self.dev_slice, 4), "admissible": self.admissible}


@dataclass
class SliceSearch:
    name: str
    dev_rows: int
    train_rows: int
    chosen: Candidate
    tried: list[Candidate] = field(default_factory=list)


def row_weights(base: np.ndarray, rows: np.ndarray, weight: float) -> np.ndarray:
    out = base.copy()
    out[rows] = out[rows] * weight
    return out


def error_rows(train_mask: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """The error set used for a slice: its own errors when it has any, else every error."""
    inside = train_mask & errors
    return inside if inside.any() else errors


def search_slice(name: str, evaluate: Callable[[np.ndarray], tuple[float, float]], base: np.ndarray,
                 train_mask: np.ndarray, errors: np.ndarray, *, dev_rows: int, floor: float,
                 current: tuple[float, float], weights=WEIGHTS, strategies=STRATEGIES) -> tuple[SliceSearch, np.ndarray]:
    """Try every strategy x weight for one slice; `evaluate(row_weights)` retrains and returns
    (overall dev score, slice dev score). Returns the search and the chosen row weights."""
    keep = Candidate("none", 1.0, current[0], current[1], current[0] >= floor)
    best, best_weights, tried = keep, base, [keep]
    for strategy in strategies:
        rows = train_mask if strategy == "slice" else error_rows(train_mask, errors)
        if not rows.any():
            continue
        for weight in weights:
            candidate_weights = row_weights(base, rows, weight)
            overall, on_slice = evaluate(candidate_weights)
            candidate = Candidate(strategy, float(weight), overall, on_slice, overall >= floor - 1e-12)
            tried.append(candidate)
            if candidate.admissible and (not best.admissible or candidate.key() > best.key()):
                best, best_weights = candidate, candidate_weights
    search = SliceSearch(name, dev_rows, int(train_mask.sum()), best, tried)
    return search, best_weights
