"""Before/after on the gold test rows: per repaired slice and overall, each with a bootstrap
interval, the rules' score beside it, the share of the rules-vs-model gap recovered, and a paired
test (McNemar + paired bootstrap) of the repaired model against the model before."""
from __future__ import annotations

from typing import Any

import numpy as np


def before_after(y: np.ndarray, before: np.ndarray, after: np.ndarray, rules: np.ndarray, *, k: int,
                 seed: int, n_boot: int) -> dict:
    """Scores of one set of rows (a slice, or all test rows)."""
    from labelkit.evaluate import bootstrap_ci, paired_test

    if len(y) == 0:
        return {"rows": 0}
    scores = {name: float(np.mean(pred == y)) for name, pred in
              (("before", before), ("after", after), ("rules", rules))}
    out: dict[str, Any] = {"rows": int(len(y))}
    for name, pred in (("before", before), ("after", after), ("rules", rules)):
        out[name] = round(scores[name], 4)
        out[f"{name}_ci"] = bootstrap_ci(y, pred, k=k, n_boot=n_boot, seed=seed)
    out["change"] = round(scores["after"] - scores["before"], 4)
    gap = scores["rules"] - scores["before"]
    out["gap_before"] = round(-gap, 4)  # model - rules, as the guardrail reports it
    out["gap_after"] = round(scores["after"] - scores["rules"], 4)
    out["gap_recovered"] = round((scores["after"] - scores["before"]) / gap, 4) if gap > 0 else None
    out["paired_test"] = paired_test(y, before, after, k=k, n_boot=n_boot, seed=seed, names=("before", "after"))
    return out
