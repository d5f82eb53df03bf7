"""Human-labelled training rows in the end model: their weight chosen on dev plus the rows themselves,
cross-fitted, so that no row is scored by a model that saw its label.

The chosen setting (features, class weight, C) is refitted on the weak-labelled rows plus the human rows
(one-hot targets) at each weight in [end_model] gold_weight. Each weight is scored on the gold dev rows
(by the model on every human row) pooled with the human rows themselves, each predicted by a model fitted
without its fold (GOLD_FOLDS folds). The best pooled score wins; a weight within one pooled row of it that
comes earlier in the list is preferred (as for C: a one-row difference is noise). Features are fitted
once on the weak and human rows' texts (no label is used to fit them), so a weight costs
GOLD_FOLDS + 1 classifier fits, each warm-started from the last.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd

GOLD_FOLDS = 5


def fit_with_gold(model, frame: pd.DataFrame, Y: np.ndarray, weights: np.ndarray, gold: pd.DataFrame,
                  y_gold: np.ndarray, gold_weights, dev_frame: pd.DataFrame, y_dev: np.ndarray, *,
                  max_features: int, seed: int, metric: tuple, notify=None):
    """(model with the human rows, frame, Y, weights of what it was trained on). `model` is the chosen
    model on the weak labels alone; it is kept, as `model.before_human_labels`, for the comparison."""
    from labelkit.endmodel.features import fit_features
    from labelkit.endmodel.threshold import shift_intercept
    from labelkit.endmodel.training import dev_predictions, dev_score, make_pipeline, with_rows

    k = len(model.classes)
    y_gold = np.asarray(y_gold, dtype=np.int64)
    n_gold = len(y_gold)
    Y_gold = np.zeros((n_gold, k))
    Y_gold[np.arange(n_gold), y_gold] = 1.0
    both, Y_both, _ = with_rows(frame, Y, weights, gold, Y_gold, np.ones(n_gold))
    featurizer, X, _ = fit_features(model.features, both, model.text_column, model.feature_columns,
                                    max_features=max_features, relation=model.relation)
    X_dev = featurizer.transform(dev_frame)
    X_gold = X[len(frame):]
    folds = np.random.default_rng(seed).permutation(n_gold) % max(1, min(GOLD_FOLDS, n_gold))
    y_pooled = np.concatenate([np.asarray(y_dev, dtype=np.int64), y_gold])
    before_dev = np.asarray(model.predict(dev_frame), dtype=np.int64) if len(dev_frame) else np.zeros(0, np.int64)
    before_gold = np.asarray(model.predict(gold), dtype=np.int64)
    scores = {"without": {"dev": dev_score(y_dev, before_dev, k, metric) if len(y_dev) else None,
                          "human_rows": float(np.mean(before_gold == y_gold)),
                          "pooled": dev_score(y_pooled, np.concatenate([before_dev, before_gold]), k, metric)}}
    candidates, previous = [], None
    fold_start: dict[int, object] = {}  # fold -> its classifier at the previous weight (a warm start)
    for w in gold_weights:
        w_all = np.concatenate([weights, np.full(n_gold, float(w))])
        classifier = _fit(model, X, Y_both, w_all, seed, previous)
        dev_pred, cut = dev_predictions(classifier, X_dev, y_dev, k=k, metric=metric, X_train=X)
        oof = np.zeros(n_gold, dtype=np.int64)
        for fold in np.unique(folds) if len(list(gold_weights)) > 1 else ():  # one weight: nothing to choose
            held = folds == fold
            w_fold = w_all.copy()
            w_fold[len(frame):][held] = 0.0  # the held-out human rows do not train the model that scores them
            # warm-started from this fold's model at the previous weight: never from one that saw the fold's labels
            part = _fit(model, X, Y_both, w_fold, seed, fold_start.get(fold))
            fold_start[fold] = part
            oof[held] = _predict(part, X_gold[held], cut, metric)
        chosen_among = len(list(gold_weights)) > 1
        pooled = dev_score(y_pooled, np.concatenate([np.asarray(dev_pred, dtype=np.int64), oof]), k, metric) \
            if chosen_among else 0.0
        scores[f"{w:g}"] = {"dev": dev_score(y_dev, dev_pred, k, metric) if len(y_dev) else None,
                            "human_rows": float(np.mean(oof == y_gold)) if chosen_among else None,
                            "pooled": pooled if chosen_among else None}
        candidates.append((pooled, float(w), classifier, cut))
        previous = classifier
        if notify:
            line = scores[f"{w:g}"]
            notify(f"end model: + {n_gold} human-labelled rows at weight {w:g}: dev {metric[0]} {line['dev'] or 0:.4f}"
                   + (f", human rows (cross-fitted) {line['human_rows']:.3f}" if chosen_among else ""))
    tolerance = 1.0 / max(len(y_pooled), 1)
    best = max(c[0] for c in candidates)
    pooled, chosen, classifier, cut = next(c for c in candidates if c[0] >= best - tolerance - 1e-12)
    before = copy.copy(model)
    before.notes = list(model.notes)
    half = None
    if n_gold >= 8:  # what the build says more labels are worth starts from a model with half of them
        w_half = np.concatenate([weights, np.full(n_gold, chosen)])
        w_half[len(frame):][np.random.default_rng(seed).permutation(n_gold)[n_gold // 2:]] = 0.0
        part = _fit(model, X, Y_both, w_half, seed)  # cold: not from a model that saw the other half
        if cut is not None:
            shift_intercept(part, metric[1], cut)
        half = copy.copy(model)
        half.pipeline, half._scorer = make_pipeline(featurizer, part), None
        half.threshold, half.positive = cut, metric[1] if cut is not None else None
    if cut is not None:
        shift_intercept(classifier, metric[1], cut)
    model.pipeline, model.threshold = make_pipeline(featurizer, classifier), cut
    model.positive = metric[1] if cut is not None else None
    model.train_rows = model.train_rows + n_gold
    model.before_human_labels = before
    model.half_human_labels = half  # trained with a seeded half of the human rows (n_gold // 2), or None
    model.human_weight = chosen
    model.human_scores = scores
    if chosen > 1:
        model.notes.append(f"end model: human rows at weight {chosen:g} are fitted as weights / {chosen:g} with C x "
                           f"{chosen:g} (the same objective; the classifier holds C={model.C * chosen:g}).")
    fixed = len(list(gold_weights)) == 1
    model.notes.append(
        f"end model: also trained on {n_gold} human-labelled rows at weight {chosen:g} "
        + ("([end_model] gold_weight)" if fixed else
           f"(chosen among {', '.join(f'{w:g}' for w in gold_weights)} on dev + the human rows cross-fitted: "
           f"pooled {metric[0]} {scores['without']['pooled']:.3f} without them -> {pooled:.3f})") + ".")
    return model, both, Y_both, np.concatenate([weights, np.full(n_gold, chosen)])


def _fit(model, X, Y, w, seed: int, start=None):
    """The model's class weight and C fitted on (X, Y) with row weights `w`, warm-started from `start`."""
    from sklearn.exceptions import ConvergenceWarning

    from labelkit.endmodel.training import class_multipliers, expand_soft, make_classifier

    # weights above 1 are divided by the largest and C multiplied by it: C * sum(w_i * loss_i) + |beta|^2 / 2 is the
    # same objective, and saga (whose step size assumes weights of about 1) converges instead of running to max_iter
    scale = max(1.0, float(w.max())) if len(w) else 1.0
    X_rows, y_rows, w_rows = expand_soft(X, Y, (w / scale)[:, None] * class_multipliers(Y, w, model.class_weight))
    classifier = make_classifier(X.shape[1], model.C * scale, seed)
    if start is not None and hasattr(start, "coef_") and start.coef_.shape[1] == X.shape[1] \
            and np.array_equal(np.unique(y_rows), start.classes_):
        classifier.set_params(warm_start=True)
        classifier.coef_, classifier.intercept_ = start.coef_.copy(), start.intercept_.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(X_rows, y_rows, sample_weight=w_rows)
    return classifier


def _predict(classifier, X, cut, metric) -> np.ndarray:
    from labelkit.endmodel.threshold import predicts_positive

    if not len(X.shape) or X.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if cut is not None and metric[1] is not None and metric[1] in classifier.classes_:
        return np.asarray(predicts_positive(classifier.predict_proba(X), classifier.classes_, metric[1], cut))
    return np.asarray(classifier.predict(X), dtype=np.int64)
