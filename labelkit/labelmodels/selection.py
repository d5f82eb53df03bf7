"""Pick a label model on the gold dev split.

Candidates are (model, class balance) pairs: each name in ``names`` is fitted on L_train under each
setting of ``class_balances`` (default: the single ``class_balance``). A candidate is scored on dev
with ``hard_predictions`` under its own prior (tie policy: higher prior wins).

- Metric: ``resolve_metric`` (``"auto"`` = F1 of the positive class on a binary task whose rarer
  class is under 30% of dev, else accuracy).
- Cross-fitting: models that learn from dev labels (``uses_dev``, e.g. weighted majority) are scored
  on dev folds they did not see (``dev_folds`` seeded folds); the returned model then uses all of dev.
- Intervals: every candidate is scored on the same ``n_boot`` seeded resamples of the dev rows; the
  95% percentile interval is kept, and candidates whose interval holds the winner's score are named
  in ``notes`` as not clearly worse.
- One-class guard: a candidate whose labels on the train and dev votes are all one class is named
  ("predicts only 'ham'") and is chosen only if every candidate is.
- The best score wins; on equal scores the earlier name, then the earlier class balance, wins.

A candidate that cannot be fitted (LabelModelError, e.g. snorkel with fewer than 3 LFs) gets a NaN
score and a line in ``Selection.notes``; if none can be fitted, LabelModelError is raised.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from labelkit.errors import ConfigError, LabelModelError
from labelkit.labelmodels.base import hard_predictions, validate_label_matrix

N_BOOT = 200
CONFIDENCE = 0.95


@dataclass
class Selection:
    name: str  # the chosen model's registry name
    model: object
    dev_scores: dict[str, float]  # candidate key -> dev score (NaN = could not be fitted)
    prior: np.ndarray  # the chosen candidate's prior (tie-breaking, all-abstain rows)
    metric: str = "accuracy"  # the concrete metric used (never "auto")
    notes: list[str] = field(default_factory=list)
    positive: int | None = None  # class index scored by metric "f1"
    key: str = ""  # the chosen candidate's key, e.g. "snorkel (uniform prior)"
    class_balance: str = ""  # the chosen candidate's class-balance setting
    candidates: list[dict] = field(default_factory=list)  # one JSON-able record per candidate
    fitted: dict[str, object] = field(default_factory=dict, repr=False)  # candidate key -> fitted model


def score_predictions(y_true, y_pred, *, cardinality: int, metric: str = "accuracy", positive=None) -> float:
    """See labelkit.evaluate.metrics.score_predictions (the one home for metrics)."""
    from labelkit.evaluate.metrics import score_predictions as score

    return score(y_true, y_pred, cardinality=cardinality, metric=metric, positive=positive)


def select_label_model(
    names, L_train, L_dev, y_dev, *, cardinality, seed=0, metric="auto", class_balance=None,
    options: dict | None = None, dev_folds: int = 5, sample_weight=None, positive: int | None = None,
    class_balances: dict | None = None, n_boot: int = N_BOOT, classes=None,
) -> Selection:
    """Fit each named model on L_train under each class balance, score on (L_dev, y_dev), return the
    best as a Selection.

    ``options`` maps a model name to its constructor options, e.g. ``{"snorkel": {"n_epochs": 200}}``.
    ``class_balances`` maps a setting's label to a balance (None = uniform / estimated), e.g.
    ``{"dev": [0.8, 0.2], "uniform": None}``. ``sample_weight`` (one count per row of L_train) lets
    L_train be the distinct vote patterns of data too large to hold, with their counts.
    """
    from labelkit.evaluate.metrics import resolve_metric

    names = list(names)
    if not names:
        raise ConfigError("select_label_model needs at least one label model name.")
    L_train = validate_label_matrix(L_train, cardinality=cardinality, what="L_train")
    L_dev = validate_label_matrix(L_dev, cardinality=cardinality, what="L_dev")
    y_dev = np.asarray(y_dev, dtype=np.int64).reshape(-1)
    if y_dev.shape[0] != L_dev.shape[0] or y_dev.size == 0:
        raise LabelModelError(
            f"L_dev has {L_dev.shape[0]} rows but y_dev has {y_dev.shape[0]} labels; need the same, non-zero count."
        )
    if y_dev.min() < 0 or y_dev.max() >= cardinality:
        bad = int(y_dev.min() if y_dev.min() < 0 else y_dev.max())
        raise LabelModelError(f"y_dev holds class {bad}, outside 0..{cardinality - 1}; gold dev labels must be classes.")
    metric, positive = resolve_metric(metric, y_dev, cardinality=cardinality, positive=positive)
    balances = dict(class_balances) if class_balances else {"given": class_balance}
    resamples = np.random.default_rng(seed).integers(0, y_dev.size, size=(n_boot, y_dev.size))
    context = dict(L_train=L_train, L_dev=L_dev, y_dev=y_dev, cardinality=cardinality, seed=seed,
                   sample_weight=sample_weight, dev_folds=dev_folds, metric=metric, positive=positive,
                   resamples=resamples)
    records, fitted, notes = [], {}, []
    with _one_blas_thread():
        for name in names:
            for label, balance in balances.items():
                key = name if len(balances) == 1 else f"{name} ({label} prior)"
                record, model = _evaluate_candidate(name, key, label, balance, (options or {}).get(name, {}), context)
                records.append(record)
                if model is None:
                    notes.append(f"{key} skipped: {record['error']}")
                else:
                    fitted[key] = model
    if not fitted:
        raise LabelModelError("no label model could be fitted: " + " | ".join(notes))
    best = _choose(records)
    notes += _selection_notes(records, best, classes or [str(i) for i in range(cardinality)])
    return Selection(
        name=best["model"], model=fitted[best["key"]], prior=fitted[best["key"]].prior, metric=metric,
        dev_scores={r["key"]: r["dev_score"] for r in records}, notes=notes, positive=positive,
        key=best["key"], class_balance=best["class_balance"], candidates=records, fitted=fitted,
    )


def _one_blas_thread():
    """Label models are small dense problems: a second BLAS thread spins more than it helps (one
    logistic_votes fit on semeval's dev votes: 3.9 s with OpenBLAS's 2 threads on a busy 2-core
    machine, 0.12 s with one). Torch's threads are pinned by the snorkel model itself."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _evaluate_candidate(name, key, label, balance, model_options, c) -> tuple[dict, object]:
    from labelkit.labelmodels import make_label_model

    record = {"key": key, "model": name, "class_balance": label, "dev_score": float("nan"),
              "dev_interval": None, "predicts_only": None, "fit_seconds": None, "cross_fitted": False}
    fit_kwargs = dict(cardinality=c["cardinality"], class_balance=balance, seed=c["seed"],
                      sample_weight=c["sample_weight"])
    build = lambda: make_label_model(name, **model_options)  # noqa: E731
    started = time.perf_counter()
    try:
        model, dev_pred, record["cross_fitted"] = _fit_and_predict_dev(build, fit_kwargs, c)
    except LabelModelError as error:  # e.g. snorkel with < 3 LFs: skip the candidate, say why
        record["error"] = str(error)
        return record, None
    record["fit_seconds"] = round(time.perf_counter() - started, 3)
    y_dev = c["y_dev"]
    record["dev_score"] = score_predictions(y_dev, dev_pred, cardinality=c["cardinality"], metric=c["metric"],
                                            positive=c["positive"])
    record["dev_interval"] = _interval(y_dev, dev_pred, c)
    predicted = np.union1d(np.unique(model.predict(c["L_train"])), np.unique(dev_pred))
    if predicted.size == 1:
        record["predicts_only"] = int(predicted[0])
    return record, model


def _fit_and_predict_dev(build, fit_kwargs, c):
    model = build()
    if getattr(model, "uses_dev", False):
        dev_pred = _cross_fitted_dev_predictions(build, fit_kwargs, c)
        model.use_dev(c["L_dev"], c["y_dev"])
        return model.fit(c["L_train"], **fit_kwargs), dev_pred, True
    model.fit(c["L_train"], **fit_kwargs)
    return model, hard_predictions(model.predict_proba(c["L_dev"]), model.prior), False


def _cross_fitted_dev_predictions(build, fit_kwargs, c) -> np.ndarray:
    y_dev, L_dev = c["y_dev"], c["L_dev"]
    n_folds = max(2, min(int(c["dev_folds"]), y_dev.size))
    folds = np.random.default_rng(c["seed"]).permutation(y_dev.size) % n_folds
    predictions = np.empty(y_dev.size, dtype=np.int64)
    for fold in range(n_folds):
        held_out = folds == fold
        model = build().use_dev(L_dev[~held_out], y_dev[~held_out])
        model.fit(c["L_train"], **fit_kwargs)
        predictions[held_out] = hard_predictions(model.predict_proba(L_dev[held_out]), model.prior)
    return predictions


def _interval(y_dev, dev_pred, c) -> list[float]:
    from labelkit.evaluate.metrics import metric_from_confusion

    k = c["cardinality"]
    cells = (y_dev * k + dev_pred)[c["resamples"]]
    confusion = np.stack([np.bincount(row, minlength=k * k) for row in cells]).reshape(-1, k, k)
    samples = metric_from_confusion(confusion, c["metric"], c["positive"])
    tail = (1 - CONFIDENCE) / 2 * 100
    return [round(float(v), 4) for v in np.percentile(samples, [tail, 100 - tail])]


def _choose(records: list[dict]) -> dict:
    fitted = [r for r in records if r["fit_seconds"] is not None]
    eligible = [r for r in fitted if r["predicts_only"] is None] or fitted
    order = {id(r): i for i, r in enumerate(records)}
    return max(eligible, key=lambda r: (_finite(r["dev_score"]), -order[id(r)]))


def _selection_notes(records: list[dict], best: dict, classes) -> list[str]:
    notes = [f"{r['key']} predicts only {classes[r['predicts_only']]!r} on the train and dev votes; "
             + ("every candidate does, so it was kept." if r is best else "not chosen.")
             for r in records if r["predicts_only"] is not None]
    close = [r["key"] for r in records if r is not best and r["dev_interval"]
             and r["dev_interval"][0] <= best["dev_score"] <= r["dev_interval"][1]]
    if close:
        notes.append(f"{best['key']} chosen; not clearly better on dev than: {', '.join(close)} "
                     f"(their 95% dev intervals hold its score).")
    return notes


def _finite(value: float) -> float:
    return value if np.isfinite(value) else -np.inf
