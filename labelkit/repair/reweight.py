"""Choosing a slice's training weight on dev, under a limit on the overall dev loss, without undoing
the slices repaired before it.

For each slice (worst guardrail first) every candidate is a retrained end model: the slice's train
rows weighted w ("slice"), or the first model's error set weighted w ("errors", just-train-twice:
the train rows whose weak label the first model does not reproduce, inside the slice when it has
any, else everywhere), each with the build's class weight or the other one ("balanced" gives a small
slice's rare classes their share; it is a setting of the whole model, so a later slice keeps it).
A candidate is admissible when
  - its overall dev score is at most `limit` below the unrepaired model's, and
  - no slice repaired before it loses a dev row (its dev score stays at or above the score it has in
    the model accepted so far: with a handful of dev rows an interval would let a later slice undo
    the whole gain, as it did before this check).
Among admissible candidates within one dev row of the best dev score on the slice, the best overall
dev score wins (then the smaller weight, then the build's class weight): one row of a slice's 8 dev
rows is noise, while the overall score is measured on all dev rows. "No change" is always admissible, so
a repair never makes dev worse than the limit allows. Weights of earlier slices are kept.

Weights are tried smallest first; once a weight puts the overall dev score below the floor, the larger
weights of the same rows and class weight are not fitted (a heuristic: more weight on the same rows usually
moves the model further from the overall optimum, but not always — docs/repair.md has what it skipped on
the bundled example). `max_candidates` caps the fits per slice (a search budget). Each fit is cheap
(labelkit/repair/refit.py) and reported as it is scored.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from labelkit.settings.declare import declared
from labelkit.settings.options import RepairOptions

OPTIONS = declared(RepairOptions)  # `labelkit repair`'s options, declared once: the library's defaults and rules
WEIGHTS = tuple(OPTIONS["weights"].default)  # larger weights overfit a small slice (and slow saga down)
STRATEGIES = OPTIONS["strategies"].choices  # every one by default
CLASS_WEIGHTS = OPTIONS["class_weights"].choices  # "build" = the class weight the build chose
DEFAULT_CLASS_WEIGHTS = tuple(OPTIONS["class_weights"].default)
MAX_OVERALL_LOSS = OPTIONS["max_overall_loss"].default  # overall dev score a repair may give up (0.5 points)


@dataclass
class DevScores:
    overall: float
    on_slice: float
    earlier: dict[str, float] = field(default_factory=dict)  # slice repaired before -> its dev score
    model: object = None  # the retrained model (kept for the winner, so it is not fitted twice)


@dataclass
class Candidate:
    strategy: str  # none | slice | errors
    weight: float
    dev_overall: float
    dev_slice: float
    class_weight: str = "none"
    admissible: bool = True
    refused: str = ""  # why it is not admissible
    dev_rows: int = 0
    dev_earlier: dict[str, float] = field(default_factory=dict)
    build_class_weight: bool = True

    def key(self) -> tuple:
        """Order among candidates within one dev row of the best slice score: the overall dev score
        (hundreds of rows) decides, then the smaller weight, the build's class weight, the slice strategy."""
        return (self.dev_overall, -self.weight, self.build_class_weight, self.strategy == "slice", self.dev_slice)

    def as_dict(self) -> dict:
        out = {"strategy": self.strategy, "weight": self.weight, "class_weight": self.class_weight,
               "dev_overall": round(self.dev_overall, 4), "dev_slice": round(self.dev_slice, 4),
               "dev_slice_ci": wilson(self.dev_slice, self.dev_rows), "admissible": self.admissible}
        if self.dev_earlier:
            out["dev_earlier_slices"] = {name: round(v, 4) for name, v in self.dev_earlier.items()}
        if self.refused:
            out["refused"] = self.refused
        return out


@dataclass
class SliceSearch:
    name: str
    dev_rows: int
    train_rows: int
    chosen: Candidate
    tried: list[Candidate] = field(default_factory=list)
    skipped: int = 0  # candidates not fitted: the search budget (max_candidates) ran out
    pruned: int = 0  # candidates not fitted: a smaller weight of the same rows was already below the floor


def wilson(score: float, n: int) -> list[float] | None:
    """95% Wilson interval of a share measured on n rows (None without rows): how little 8 dev rows say."""
    from labelkit.evaluate.uncertainty import wilson as interval

    bounds = None if math.isnan(score) else interval(score * n, n)
    return None if bounds is None else [round(bounds[0], 4), round(bounds[1], 4)]


def row_weights(base: np.ndarray, rows: np.ndarray, weight: float) -> np.ndarray:
    out = base.copy()
    out[rows] = out[rows] * weight
    return out


def error_rows(train_mask: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """The error set used for a slice: its own errors when it has any, else every error."""
    inside = train_mask & errors
    return inside if inside.any() else errors


def class_weight_settings(wanted, build: str, current: str) -> list[str]:
    """The class weights tried: the one in place first, then the others asked for ("build" = the build's)."""
    named = [build if w == "build" else w for w in wanted]
    return list(dict.fromkeys([current, *named]))


def plan_candidates(base: np.ndarray, train_mask: np.ndarray, errors: np.ndarray, *, class_weight: str,
                    build_class_weight: str, class_weights=("build",), weights=WEIGHTS,
                    strategies=STRATEGIES) -> list[tuple[str, str, np.ndarray, float]]:
    """The candidates of one slice's search, in the order they are fitted: (class weight, strategy, row
    weights, weight), without the model in place. The class weight in place first; within a class weight,
    the smallest weight of every strategy before the larger ones (a search cut short by a budget has tried
    each strategy once; a weight whose overall dev score falls below the floor stops that strategy)."""
    rows = {strategy: train_mask if strategy == "slice" else error_rows(train_mask, errors) for strategy in strategies}
    plans = []
    for cw in class_weight_settings(class_weights, build_class_weight, class_weight):
        if cw != class_weight:
            plans.append((cw, "none", base, 1.0))
        for weight in sorted(dict.fromkeys(float(w) for w in weights)):
            for strategy in strategies:
                if rows[strategy].any():
                    plans.append((cw, strategy, row_weights(base, rows[strategy], weight), weight))
    return plans


def search_slice(name: str, evaluate: Callable[[np.ndarray, str], DevScores], base: np.ndarray,
                 train_mask: np.ndarray, errors: np.ndarray, *, dev_rows: int, floor: float, current: DevScores,
                 class_weight: str = "none", build_class_weight: str | None = None, class_weights=("build",),
                 weights=WEIGHTS, strategies=STRATEGIES, max_candidates: int | None = None,
                 on_candidate: Callable[[Candidate, int], None] | None = None,
                 ) -> tuple[SliceSearch, np.ndarray, str, object]:
    """Try the strategies x weights x class weights for one slice, in `plan_candidates` order.
    `evaluate(row_weights, class_weight)` retrains and returns its DevScores; `current` holds the scores of
    the model in place (row weights `base`, `class_weight`), whose `earlier` scores are the floor of the
    slices repaired before. Once a weight puts the overall dev score below the floor, the larger weights of
    the same strategy and class weight are not fitted (more weight on the same rows moves the model further
    from the overall optimum). At most `max_candidates` fits (the search budget). `on_candidate(candidate,
    pruned)` hears each candidate as it is scored, with how many later ones it spared (progress). Returns
    the search, the chosen row weights, class weight and model (None: the model in place)."""
    build_class_weight = build_class_weight or class_weight
    guards = dict(current.earlier)

    def candidate(strategy, weight, cw, scores: DevScores) -> Candidate:
        refused = []
        if scores.overall < floor - 1e-12:
            refused.append(f"overall dev {scores.overall:.4f} below the floor {floor:.4f}")
        lost = [n for n, v in guards.items() if scores.earlier.get(n, v) < v - 1e-12]
        if lost:
            refused.append("loses dev rows of the slice(s) repaired before: " + ", ".join(lost))
        return Candidate(strategy, float(weight), scores.overall, scores.on_slice, cw, not refused,
                         "; ".join(refused), dev_rows, dict(scores.earlier), cw == build_class_weight)

    keep = candidate("none", 1.0, class_weight, current)
    keep.admissible, keep.refused = True, ""  # the model in place passed these checks when it was accepted
    plans = plan_candidates(base, train_mask, errors, class_weight=class_weight,
                            build_class_weight=build_class_weight, class_weights=class_weights, weights=weights,
                            strategies=strategies) if weights else []  # no dev rows: nothing can be chosen
    scored: list[tuple] = []  # (candidate, its weights, its dev scores)
    below, pruned, skipped = set(), 0, 0
    for cw, strategy, candidate_weights, weight in plans:
        if (cw, strategy) in below:
            continue  # counted when its strategy fell below the floor
        if max_candidates is not None and len(scored) >= max_candidates:
            skipped += 1
            continue
        scores = evaluate(candidate_weights, cw)
        c = candidate(strategy, weight, cw, scores)
        scored.append((c, candidate_weights, scores.model))
        spared = 0
        if c.dev_overall < floor - 1e-12 and strategy != "none":
            below.add((cw, strategy))
            spared = sum(1 for p in plans if p[:2] == (cw, strategy) and p[3] > weight)
            pruned += spared
        if on_candidate is not None:
            on_candidate(c, spared)
    # reported and compared in one order (class weight, strategy, weight), whatever order they were fitted in
    order = {cw: i for i, cw in enumerate(class_weight_settings(class_weights, build_class_weight, class_weight))}
    scored.sort(key=lambda e: (order[e[0].class_weight], _strategy_rank(e[0].strategy, strategies), e[0].weight))
    tried = [keep] + [c for c, *_ in scored]
    found = [(keep, base, None)] + [(c, w, m) for c, w, m in scored if c.admissible]
    best, best_weights, best_model = choose(found, dev_rows)
    search = SliceSearch(name, dev_rows, int(train_mask.sum()), best, tried, skipped=skipped, pruned=pruned)
    return search, best_weights, best.class_weight, best_model


def _strategy_rank(strategy: str, strategies) -> int:
    return -1 if strategy == "none" else list(strategies).index(strategy)


def choose(found: list, dev_rows: int):
    """Among admissible (candidate, ...) entries: those within one dev row of the best slice score
    (one row of 8 is noise, not evidence: the end model's own choices follow the same rule), then the
    best by `Candidate.key` (overall dev first). The first entry, the model in place, competes too."""
    top = max(c.dev_slice for c, *_ in found)
    near = [entry for entry in found if entry[0].dev_slice >= top - 1.0 / max(dev_rows, 1) - 1e-12]
    return max(near, key=lambda entry: entry[0].key())
