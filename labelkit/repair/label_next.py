"""The slice's unlabeled train rows most worth a human label next: first the rows where the rules
and the model disagree (one of them is wrong, and the guardrail says it is often the model), then
the rows the model is least sure of (smallest margin between its top two classes)."""
from __future__ import annotations

import numpy as np
import pandas as pd

DISAGREE = "rules and model disagree"
UNSURE = "model unsure"


def rows_to_label(frame: pd.DataFrame, mask: np.ndarray, proba: np.ndarray, rules: np.ndarray,
                  covered: np.ndarray, classes, *, slice_name: str, id_column: str, text_column: str,
                  limit: int) -> pd.DataFrame:
    """At most `limit` rows of the slice, most useful first, with a blank `label` column to fill in."""
    positions = np.flatnonzero(mask)
    if len(positions) == 0 or limit <= 0:
        return pd.DataFrame(columns=_columns(text_column))
    p = proba[positions]
    model = p.argmax(axis=1)
    ordered = np.sort(p, axis=1)
    margin = ordered[:, -1] - (ordered[:, -2] if p.shape[1] > 1 else 0.0)
    disagree = covered[positions] & (rules[positions] != model)
    ids = frame[id_column].astype(str).to_numpy()[positions]
    order = np.lexsort((ids, margin, ~disagree))[:limit]
    chosen = positions[order]
    texts = frame[text_column].to_numpy()[chosen] if text_column in frame.columns else [""] * len(chosen)
    return pd.DataFrame({
        "slice": slice_name,
        "row_id": ids[order],
        "reason": np.where(disagree[order], DISAGREE, UNSURE),
        "rules_label": [classes[r] if c else "" for r, c in zip(rules[chosen], covered[chosen])],
        "model_label": [classes[m] for m in model[order]],
        "model_confidence": np.round(ordered[order, -1], 4),
        "margin": np.round(margin[order], 4),
        text_column: texts,
        "label": "",
    })[_columns(text_column)]


def _columns(text_column: str) -> list[str]:
    return ["slice", "row_id", "reason", "rules_label", "model_label", "model_confidence", "margin", text_column,
            "label"]
