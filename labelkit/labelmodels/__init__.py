"""Label models: combine LF votes into probabilistic labels, and pick one on dev.

>>> import numpy as np
>>> L = np.array([[0, 0, -1], [1, 1, 0], [-1, -1, -1]], dtype=np.int8)
>>> model = make_label_model("majority").fit(L, cardinality=2)
>>> model.predict_proba(L).round(3).tolist()
[[1.0, 0.0], [0.333, 0.667], [0.5, 0.5]]
"""
from __future__ import annotations

from typing import Any

from labelkit.errors import ConfigError
from labelkit.labelmodels.base import (
    LabelModel,
    class_balance_from_dev,
    compress_patterns,
    fit_on_patterns,
    hard_predictions,
)
from labelkit.labelmodels.dawid_skene import DawidSkene
from labelkit.labelmodels.logistic_votes import LogisticVotes
from labelkit.labelmodels.majority import MajorityVote
from labelkit.labelmodels.persist import load_label_model, save_label_model
from labelkit.labelmodels.selection import Selection, score_predictions, select_label_model
from labelkit.labelmodels.snorkel_model import SnorkelLabelModel
from labelkit.labelmodels.weighted import WeightedMajorityVote

LABEL_MODELS: dict[str, type[Any]] = {  # name -> class (each has from_state; see persist.py)
    "majority": MajorityVote,
    "weighted_majority": WeightedMajorityVote,
    "snorkel": SnorkelLabelModel,
    "dawid_skene": DawidSkene,
    "logistic_votes": LogisticVotes,
}


def make_label_model(name: str, **options) -> LabelModel:
    """Build a registered label model; an unknown name or option raises ConfigError."""
    if name not in LABEL_MODELS:
        raise ConfigError(f"Unknown label model {name!r}; valid names are: {', '.join(LABEL_MODELS)}.")
    try:
        return LABEL_MODELS[name](**options)
    except TypeError as error:
        raise ConfigError(f"Bad options for label model {name!r}: {error}.") from None


__all__ = [
    "LABEL_MODELS",
    "LabelModel",
    "Selection",
    "class_balance_from_dev",
    "compress_patterns",
    "fit_on_patterns",
    "hard_predictions",
    "load_label_model",
    "make_label_model",
    "save_label_model",
    "score_predictions",
    "select_label_model",
]
