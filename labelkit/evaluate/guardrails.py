"""Guardrails: slices where the model is worse than the baseline, even if it wins overall."""
from __future__ import annotations

from typing import Iterable


def find_guardrail_failures(
    slices: Iterable[dict],
    *,
    baseline: str = "rule_baseline",
    model: str = "end_model",
    tolerance: float = 0.02,
) -> list[dict]:
    """Slices (from `slice_table`) where score(model) < score(baseline) - tolerance, worst first.

    Each failure: {kind, column, value, size, metric, baseline, model, baseline_score, model_score,
    gap (model - baseline), clear (True when the two slice intervals do not overlap)}.
    """
    failures = []
    for row in slices:
        scores = row.get("scores", {})
        if baseline not in scores or model not in scores:
            continue
        gap = scores[model] - scores[baseline]
        if gap < -tolerance:
            failures.append(_failure(row, baseline, model, gap))
    return sorted(failures, key=lambda failure: (failure["gap"], failure["column"], failure["value"]))


def _failure(row: dict, baseline: str, model: str, gap: float) -> dict:
    intervals = row.get("ci", {})
    clear = None
    if baseline in intervals and model in intervals:
        clear = bool(intervals[model][1] < intervals[baseline][0])
    return {
        "kind": row.get("kind"),
        "column": row.get("column"),
        "value": row.get("value"),
        "size": row.get("size"),
        "metric": row.get("metric", "accuracy"),
        "baseline": baseline,
        "model": model,
        "baseline_score": row["scores"][baseline],
        "model_score": row["scores"][model],
        "gap": round(float(gap), 4),
        "clear": clear,
    }
