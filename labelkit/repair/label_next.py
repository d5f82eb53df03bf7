"""The slice's unlabeled train rows most worth a human label next, chosen like `labelkit label-next --slice`
(labelkit/human/label_next.py): the model's uncertainty, rules-vs-model disagreement (one of them is wrong, and the
guardrail says it is often the model) and a diversity term."""
from __future__ import annotations

import numpy as np
import pandas as pd


def rows_to_label(frame: pd.DataFrame, mask: np.ndarray, proba: np.ndarray, rules: np.ndarray,
                  covered: np.ndarray, classes, *, slice_name: str, id_column: str, text_column: str,
                  limit: int) -> pd.DataFrame:
    """At most `limit` rows of the slice, most useful first, with a blank `label` column to fill in: chosen and
    written by `labelkit label-next`'s code (labelkit.human.label_next: ActiveLab uncertainty, rules-vs-model
    disagreement, diversity; blind, in the human labels file's format), so the studio's "label next" queue
    shows them and a filled file is human labels the next build reads. `classes` is unused (kept for callers)."""
    from labelkit.human.label_next import slice_rows_to_label

    return slice_rows_to_label(frame, mask, proba, rules, covered, slice_name=slice_name, id_column=id_column,
                               text_column=text_column, limit=limit)
