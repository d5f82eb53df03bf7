"""Pick a label model on the gold dev split.

Every candidate is fitted on L_train and scored on dev with ``hard_predictions`` (tie policy:
higher prior wins). The best score wins; on equal scores the earlier name in the list wins.

Models that learn from dev labels (``uses_dev``, e.g. weighted majority) would be scored on the rows
they learned from, so their dev score is cross-fitted: dev is split into ``dev_folds`` seeded folds
and each fold is predicted by a model that saw the other folds' gold labels only. The returned model
is then fitted with all of dev.

A candidate that cannot be fitted (LabelModelError, e.g. snorkel with fewer than 3 LFs) gets a NaN
score and a line in ``Selection.notes``; if none can be fitted, LabelModelError is raised.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labelkit.errors import ConfigError, LabelModelError
from labelkit.labelmodels.base import hard_predictions, resolve_prior, validate_label_matrix

METRICS = ("accuracy", "macro_f1")


@dataclass
class Selection:
    name: str
    model: object
    dev_scores: dict[str, float]
    prior: np.ndarray
    metric: str = "accuracy"
    notes: list[str] = field(default_factory=list)


def score_predictions(y_true, y_pred, *, cardinality: int, metric: str = "accuracy") -> float:
    """accuracy, or macro-F1 over the classes present in y_true or y_pred."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if metric == "accuracy":
        return float(np.mean(y_true == y_pred)) if y_true.size else float("nan")
    if metric == "macro_f1":
        f1s = []
        for c in range(cardinality):
            tp = np.sum((y_pred == c) & (y_true == c))
            fp = np.sum((y_pred == c) & (y_true != c))
            fn = np.sum((y_pred != c) & (y_true == c))
            if tp + fp + fn:
                f1s.append(2 * tp / (2 * tp + fp + fn))
        return float(np.mean(f1s)) if f1s else float("nan")
    raise ConfigError(f"Unknown selection metric {metric!r}; valid metrics are: {', '.join(METRICS)}.")


def select_label_model(
    names, L_train, L_dev, y_dev, *, cardinality, seed=0, metric="accuracy", class_balance=None,
    options: dict | None = None, dev_folds: int = 5, sample_weight=None,
) -> Selection:
    """Fit each named model on L_train, score on (L_dev, y_dev), return the best as a Selection.

    ``options`` maps a model name to its constructor options, e.g. ``{"snorkel": {"n_epochs": 200}}``.
    ``sample_weight`` (one count per row of L_train) lets L_train be the distinct vote patterns of
    data too large to hold, with their counts.
    """
    from labelkit.labelmodels import make_label_model

    names = list(names)
    if not names:
        raise ConfigError("select_label_model needs at least one label model name.")
    if metric not in METRICS:
        raise ConfigError(f"Unknown selection metric {metric!r}; valid metrics are: {', '.join(METRICS)}.")
    L_dev = validate_label_matrix(L_dev, cardinality=cardinality, what="L_dev")
    y_dev = np.asarray(y_dev, dtype=np.int64).reshape(-1)
    if y_dev.shape[0] != L_dev.shape[0] or y_dev.size == 0:
        raise LabelModelError(
            f"L_dev has {L_dev.shape[0]} rows but y_dev has {y_dev.shape[0]} labels; need the same, non-zero count."
        )
    prior = resolve_prior(class_balance, cardinality)
    options = options or {}
    fit_kwargs = dict(cardinality=cardinality, class_balance=class_balance, seed=seed, sample_weight=sample_weight)
    scores: dict[str, float] = {}
    models: dict[str, object] = {}
    notes: list[str] = []
    for name in names:
        build = lambda: make_label_model(name, **options.get(name, {}))  # noqa: E731
        try:
            models[name], dev_pred = _fit_and_score_dev(build, L_train, L_dev, y_dev, prior, fit_kwargs, dev_folds, seed)
        except LabelModelError as error:  # e.g. snorkel with < 3 LFs: skip the candidate, say why
            scores[name] = float("nan")
            notes.append(f"{name} skipped: {error}")
            continue
        scores[name] = score_predictions(y_dev, dev_pred, cardinality=cardinality, metric=metric)
    fitted = [n for n in names if n in models]
    if not fitted:
        raise LabelModelError("no label model could be fitted: " + " | ".join(notes))
    best = max(fitted, key=lambda n: (_finite(scores[n]), -names.index(n)))
    return Selection(name=best, model=models[best], dev_scores=scores, prior=prior, metric=metric, notes=notes)


def _fit_and_score_dev(build, L_train, L_dev, y_dev, prior, fit_kwargs, dev_folds, seed):
    model = build()
    if getattr(model, "uses_dev", False):
        dev_pred = _cross_fitted_dev_predictions(build, L_train, L_dev, y_dev, prior, fit_kwargs, dev_folds, seed)
        model.use_dev(L_dev, y_dev)
        return model.fit(L_train, **fit_kwargs), dev_pred
    model.fit(L_train, **fit_kwargs)
    return model, hard_predictions(model.predict_proba(L_dev), prior)


def _finite(value: float) -> float:
    return value if np.isfinite(value) else -np.inf


def _cross_fitted_dev_predictions(build, L_train, L_dev, y_dev, prior, fit_kwargs, n_folds, seed) -> np.ndarray:
    n_folds = max(2, min(int(n_folds), y_dev.size))
    folds = np.random.default_rng(seed).permutation(y_dev.size) % n_folds
    predictions = np.empty(y_dev.size, dtype=np.int64)
    for fold in range(n_folds):
        held_out = folds == fold
        model = build().use_dev(L_dev[~held_out], y_dev[~held_out])
        model.fit(L_train, **fit_kwargs)
        predictions[held_out] = hard_predictions(model.predict_proba(L_dev[held_out]), prior)
    return predictions
