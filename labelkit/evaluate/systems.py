"""Every system scored on the same test rows, with intervals, and the baseline-vs-model paired test."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from labelkit.errors import ConfigError
from labelkit.evaluate.metrics import classification_metrics, validate_predictions
from labelkit.evaluate.uncertainty import bootstrap_samples, paired_test, percentile_interval

CONFIDENCE = 0.95


def compare_systems(
    y_true,
    predictions: Mapping[str, np.ndarray],
    classes: Sequence[str],
    *,
    coverage: Mapping[str, float] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    baseline: str = "rule_baseline",
    model: str = "end_model",
    positive: int | None = None,
    metric: str = "accuracy",
) -> dict:
    """Metrics + 95% percentile-bootstrap CIs per system, and the paired test baseline vs model.

    Returns {"n", "classes", "confidence", "n_boot", "seed", "baseline", "model",
    "systems": {name: {accuracy, accuracy_ci, macro_f1, macro_f1_ci, balanced_accuracy, per_class,
    confusion, n, coverage, predicts_only, positive_class (with ``positive``)}}, "paired_test": {...} or
    None when baseline or model is not among the systems, "positive_class": name or None, "metric": the
    selection metric the build used}.
    """
    if not predictions:
        raise ConfigError("compare_systems needs at least one system's predictions; got none.")
    k = len(classes)
    systems = {}
    for name, pred in predictions.items():
        gold, pred = validate_predictions(y_true, pred, k, what=f"{name} predictions")
        systems[name] = _system_entry(gold, pred, classes, seed=seed, n_boot=n_boot, positive=positive)
        if coverage is not None and name in coverage:
            systems[name]["coverage"] = round(float(coverage[name]), 4)
    paired = None
    if baseline in predictions and model in predictions:
        paired = paired_test(
            y_true, predictions[baseline], predictions[model], k=k, n_boot=n_boot, seed=seed,
            names=(baseline, model),
        )
    return {
        "n": int(len(np.asarray(y_true))),
        "classes": list(classes),
        "confidence": CONFIDENCE,
        "n_boot": n_boot,
        "seed": seed,
        "baseline": baseline,
        "model": model,
        "positive_class": None if positive is None else str(classes[positive]),
        "metric": metric,
        "systems": systems,
        "paired_test": paired,
    }


def _system_entry(gold, pred, classes, *, seed: int, n_boot: int, positive: int | None = None) -> dict:
    entry = classification_metrics(gold, pred, classes, positive=positive)
    for metric in ("accuracy", "macro_f1"):
        samples = bootstrap_samples(gold, pred, k=len(classes), metric=metric, n_boot=n_boot, seed=seed)
        entry[f"{metric}_ci"] = percentile_interval(samples, CONFIDENCE)
    return entry
