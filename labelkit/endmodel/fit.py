"""Training the end model on (probabilistic) labels, with features, C and class weights chosen on dev.

Soft labels are used by weighted duplication: a row with label probabilities p appears once per class
c with sample weight p[c] (times the row's own `sample_weight`). Class weights "balanced" scale each
class's total training weight to be equal. With `dev_gold`, the chosen setting is refitted on train +
the gold dev rows (test is never used); its dev scores are then from before that refit.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from labelkit.endmodel.features import MAX_TEXT_CHARS, NO_TEXT, fit_features, is_relation_frame, prepare_frame
from labelkit.endmodel.model import EndModel
from labelkit.endmodel.threshold import choose_threshold, shift_intercept
from labelkit.endmodel.training import (
    best_on_dev, class_multipliers, dev_predictions, dev_score, expand_soft, make_classifier, make_pipeline, one_row,
    with_rows,
)
from labelkit.errors import DatasetError

STREAM_ROWS = 50_000  # train rows from which the end model streams (hashing features + SGD)


def train_end_model(train: pd.DataFrame, targets: np.ndarray, classes: tuple[str, ...], *,
                    text_column: str, dev: pd.DataFrame, y_dev: np.ndarray, feature_columns=(),
                    Cs=(1.0,), soft: bool = True, features=("tfidf",), class_weights=("none",),
                    sample_weight=None, dev_gold: bool = False, max_features: int = 50_000,
                    max_text_chars: int = MAX_TEXT_CHARS, seed: int = 0, metric: str = "accuracy",
                    positive: int | None = None, stream_rows: int = STREAM_ROWS, id_column: str | None = None,
                    unlabeled: pd.DataFrame | None = None, unlabeled_weight=None, uncovered_target=None,
                    uncovered_always: bool = False, progress=None, gold: pd.DataFrame | None = None,
                    y_gold=None, gold_weights=(1.0,)) -> EndModel:
    """Fit on `train` with `targets` ((n, k) probabilities if soft, else (n,) class indices) and
    optional per-row `sample_weight`; try every feature set x class weight x C, score each on
    (dev, y_dev) by `metric`, and keep the first (features, then class weights in the order given,
    then the smaller C) within one dev row (1 / dev rows) of the best dev score. Class weight "auto"
    means "none", plus "balanced" when the dev split's smallest class has under half of an even share.
    When the metric is the F1 of a positive class (a binary task), each candidate predicts with its own
    decision threshold (labelkit.endmodel.threshold) and is scored with it; the chosen one keeps it.
    `unlabeled`: the other train rows (no LF voted on them, so no targets); the threshold's train
    quantile is taken over them and `train` together, since dev's positive share describes all train
    rows, not the covered ones (where the rare class is over-represented when LFs target it).
    `uncovered_target` ((k,) probabilities): the `unlabeled` rows' soft label; the chosen setting is
    refitted with those rows too (row weights `unlabeled_weight`, default 1) and kept unless it loses
    more than one dev row against the chosen model (always with `uncovered_always`).
    `gold`, `y_gold`: human-labelled training rows (one-hot targets) added to the chosen setting at a weight
    from `gold_weights` chosen on dev + those rows cross-fitted (labelkit/endmodel/gold.py); the model
    without them is kept as `before_human_labels`."""
    from labelkit.evaluate.metrics import resolve_metric

    notify = progress or (lambda message: None)
    k = len(classes)
    if len(y_dev):
        metric, positive = resolve_metric(metric, y_dev, cardinality=k, positive=positive)
    metric = (metric, positive)  # labelkit.evaluate.metrics.score_predictions: "f1" scores class `positive`
    feature_columns = list(feature_columns)
    if not text_column:  # no text: one feature set, the feature columns (tfidf vs ngrams would be one model twice)
        features = (NO_TEXT,)
    Y = _target_matrix(targets, k, soft, len(train))
    weights = _row_weights(sample_weight, len(train))
    relation = is_relation_frame(train)
    frame, notes = _prepared(train, "train", text_column, max_text_chars, id_column, relation)
    dev_frame, dev_notes = _prepared(dev, "dev", text_column, max_text_chars, id_column, relation)
    notes += dev_notes
    common = dict(classes=tuple(classes), text_column=text_column, feature_columns=feature_columns,
                  max_text_chars=max_text_chars, train_rows=len(train), relation=relation)
    present = np.flatnonzero((Y * weights[:, None]).sum(axis=0) > 0)
    if len(present) < 2:
        return _constant_model(frame, Y, weights, common, notes)
    class_weights = class_weight_settings(class_weights, y_dev, k)
    has_gold = gold is not None and len(gold) > 0
    if has_gold:
        gold, gold_notes = _prepared(gold, "human labels", text_column, max_text_chars, id_column, relation)
        notes += gold_notes
    if len(train) >= stream_rows and text_column:  # without text the features are a few dense columns: in memory
        from labelkit.endmodel.stream import train_streaming

        if has_gold and gold is not None:  # streamed: the human rows join at the first listed weight, not chosen on dev
            frame, Y, weights = with_rows(frame, Y, weights, gold, _target_matrix(y_gold, k, False, len(gold)),
                                          np.full(len(gold), float(list(gold_weights)[0])))
            notes = notes + [f"end model: the {len(gold)} human-labelled rows train the streamed model at weight "
                             f"{list(gold_weights)[0]:g} ([end_model] gold_weight's first value; not chosen on dev)."]

        model = train_streaming(frame, Y, weights, dev_frame, y_dev, common=common, Cs=Cs, seed=seed,
                                metric=metric, notify=notify, class_weight=class_weights[-1])
        model.notes = notes + model.notes
        if any(name in ("embeddings", "tfidf+embeddings") for name in features):
            model.notes.append(f"end model: [end_model] features {', '.join(features)}: the streamed model "
                               f"({len(train):,} rows >= stream_rows) uses hashing features only, no embeddings.")
        if uncovered_target is not None and unlabeled is not None and len(unlabeled):
            model.notes.append(f"end model: the {len(unlabeled):,} train rows where every LF abstains were not added "
                               f"([end_model] include_uncovered): the streamed model trains on covered rows only.")
        return model
    frame_all = frame
    if unlabeled is not None and len(unlabeled) and k == 2 and metric[0] == "f1" and metric[1] is not None:
        frame_all = pd.concat([frame, _prepared(unlabeled, "train", text_column, max_text_chars, None, relation)[0]],
                              ignore_index=True)
    model = _search(frame, Y, weights, dev_frame, y_dev, common=common, features=features,
                    class_weights=class_weights, Cs=Cs, max_features=max_features, seed=seed, metric=metric,
                    notify=notify, frame_all=frame_all)
    model.notes = notes + model.notes
    if uncovered_target is not None and unlabeled is not None and len(unlabeled) and model.kind == "logistic_regression":
        uncovered = _prepared(unlabeled, "train", text_column, max_text_chars, None, relation)[0]
        model, frame, Y, weights = _with_uncovered(
            model, frame, Y, weights, uncovered, np.asarray(uncovered_target, dtype=np.float64),
            _row_weights(unlabeled_weight, len(unlabeled)), dev_frame, y_dev, always=uncovered_always,
            max_features=max_features, seed=seed, metric=metric, notify=notify)
        frame_all = frame
    if has_gold and model.kind == "logistic_regression":
        from labelkit.endmodel.gold import fit_with_gold

        model, frame, Y, weights = fit_with_gold(model, frame, Y, weights, gold, y_gold, gold_weights, dev_frame,
                                                 y_dev, max_features=max_features, seed=seed, metric=metric,
                                                 notify=notify)
        frame_all = frame
    _note_one_class(model, dev_frame, y_dev)
    if dev_gold:
        model = _refit_with_dev(model, frame, Y, weights, dev_frame, y_dev, max_features=max_features, seed=seed,
                                metric=metric, frame_all=frame_all)
    return model


def _search(frame, Y, weights, dev_frame, y_dev, *, common, features, class_weights, Cs, max_features, seed,
            metric, notify, frame_all=None) -> EndModel:
    """Every feature set x class weight x C (a warm-started path per feature set and class weight),
    scored on dev; the first within one dev row of the best is kept. `frame_all`: every train row
    (the threshold's train quantile; default `frame`)."""
    k, frame_all = Y.shape[1], frame if frame_all is None else frame_all
    candidates, scores, notes = [], {}, []  # in order of preference: feature set, class weight, smaller C
    for name in features:
        started = time.perf_counter()
        featurizer, X, note = fit_features(name, frame, common["text_column"], common["feature_columns"],
                                           max_features=max_features, relation=common["relation"])
        if note:
            notes.append(f"end model ({name} features): {note}.")
        X_dev = featurizer.transform(dev_frame)
        thresholded = k == 2 and metric[0] == "f1" and metric[1] is not None
        X_all = featurizer.transform(frame_all) if thresholded and frame_all is not frame else X
        notify(f"end model: {name} features, {X.shape[1]:,} columns on {X.shape[0]:,} rows")
        for class_weight in class_weights:
            X_rows, y_rows, w_rows = expand_soft(X, Y, weights[:, None] * class_multipliers(Y, weights, class_weight))
            for C, score, classifier, cut in _c_path(X_rows, y_rows, w_rows, X_dev, y_dev, Cs=Cs, k=k, metric=metric,
                                                     seed=seed, X_train=X_all):
                scores[f"{name} C={C:g} class_weight={class_weight}"] = round(score, 6)
                candidates.append((score, name, class_weight, C, featurizer, classifier, cut))
        best = max(c[0] for c in candidates if c[1] == name)
        notify(f"end model: {name} features, best dev {metric[0]} {best:.4f} ({time.perf_counter() - started:.1f}s)")
    score, name, class_weight, C, featurizer, classifier, cut = best_on_dev(candidates, one_row(y_dev, metric))
    if cut is not None:
        shift_intercept(classifier, metric[1], cut)
    notify(f"end model: chose {name} features, class weight {class_weight}, C={C:g}"
           + (f", threshold {cut:.3f}" if cut is not None else "") + f" (dev {metric[0]} {score:.4f})")
    return EndModel(make_pipeline(featurizer, classifier), C=C, features=name, class_weight=class_weight,
                    dev_scores=scores, notes=notes, threshold=cut, positive=metric[1] if cut is not None else None,
                    **common)


def _c_path(X, y, w, X_dev, y_dev, *, Cs, k: int, metric: tuple, seed: int, X_train=None):
    """(C, dev score, classifier, threshold) for C in increasing order, each fit warm-started from the
    previous one; from the third C on, the path stops once a larger C gains no more than one dev row
    (larger ones rarely help then, and cost the most: saga needs many more passes at large C).
    threshold: the positive class's decision threshold (None = argmax), see `training.dev_predictions`."""
    from sklearn.exceptions import ConvergenceWarning

    previous, fitted = None, 0
    for C in sorted(Cs):
        classifier = make_classifier(X.shape[1], C, seed)
        if previous is not None and hasattr(previous[1], "coef_"):
            classifier.set_params(warm_start=True)
            classifier.coef_, classifier.intercept_ = previous[1].coef_.copy(), previous[1].intercept_.copy()
        with warnings.catch_warnings():  # saga at tol 1e-3 may stop short at large C; dev decides anyway
            warnings.simplefilter("ignore", ConvergenceWarning)
            classifier.fit(X, y, sample_weight=w)
        predicted, cut = dev_predictions(classifier, X_dev, y_dev, k=k, metric=metric, X_train=X_train)
        score = dev_score(y_dev, predicted, k, metric)
        yield C, score, classifier, cut
        fitted += 1
        if fitted >= 2 and previous is not None and score <= previous[0] + one_row(y_dev, metric) + 1e-12:
            return
        previous = (score, classifier)


def class_weight_settings(settings, y_dev, k: int) -> list[str]:
    out = []
    for setting in settings:
        if setting == "auto":
            share = np.bincount(np.asarray(y_dev, dtype=np.int64), minlength=k)[:k] / max(len(y_dev), 1)
            out += ["none", "balanced"] if share[share > 0].min(initial=1.0) < 0.5 / k else ["none"]
        else:
            out.append(setting)
    return list(dict.fromkeys(out))


def _prepared(frame, split, text_column, max_text_chars, id_column, relation=False):
    if not text_column:  # no text (a WRENCH feature-vector set, a vote table): the feature columns alone
        return frame, []
    if text_column not in frame.columns:
        raise DatasetError(f"The end model needs the text column {text_column!r}; the {split} table has: "
                           f"{', '.join(map(str, frame.columns))}.")
    names = frame[id_column].to_numpy() if id_column and id_column in frame.columns else None
    prepared, cut = prepare_frame(frame, text_column, max_text_chars=max_text_chars, row_names=names,
                                  relation=relation)
    notes = []
    if cut:
        shown = ", ".join(cut[:10]) + (f" and {len(cut) - 10} more" if len(cut) > 10 else "")
        notes.append(f"end model: {len(cut)} {split} text(s) longer than {max_text_chars:,} characters were cut "
                     f"there for features ([end_model] max_text_chars; the data keep the full text): rows {shown}.")
    return prepared, notes


def _target_matrix(targets, k: int, soft: bool, n: int) -> np.ndarray:
    targets = np.asarray(targets)
    if len(targets) != n:
        raise DatasetError(f"The end model got {len(targets)} targets for {n} train rows.")
    if soft:
        return np.asarray(targets, dtype=np.float64).reshape(n, k)
    Y = np.zeros((n, k))
    Y[np.arange(n), targets.astype(np.int64)] = 1.0
    return Y


def _row_weights(sample_weight, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if len(w) != n:
        raise DatasetError(f"sample_weight has {len(w)} values for {n} train rows.")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise DatasetError("sample_weight must be finite and non-negative.")
    return w




def _constant_model(frame, Y, weights, common, notes) -> EndModel:
    """Training labels of one class: a model that says so and predicts it (never a crash)."""
    from sklearn.dummy import DummyClassifier

    from labelkit.endmodel.features import build_features

    mass = (Y * weights[:, None]).sum(axis=0)
    label = int(mass.argmax()) if mass.sum() > 0 else 0
    featurizer = build_features("tfidf", common["text_column"], [], [], max_features=1, text=False)
    X = featurizer.fit_transform(frame)
    classifier = DummyClassifier(strategy="constant", constant=label).fit(X, np.full(len(frame), label))
    name = common["classes"][label]
    notes = notes + [f"end model: every training label is {name!r} ({len(frame)} rows), so the end model predicts "
                     f"{name!r} for every row; a label model that predicts more than one class (or more LFs for "
                     f"the other classes) changes this."]
    return EndModel(make_pipeline(featurizer, classifier), C=None, features="none", kind="constant", notes=notes, **common)


def _note_one_class(model: EndModel, dev_frame, y_dev) -> None:
    predicted = np.unique(model.predict(dev_frame)) if len(dev_frame) else np.array([])
    if len(predicted) == 1 and len(np.unique(y_dev)) > 1:
        model.notes.append(f"end model: predicts only {model.classes[int(predicted[0])]!r} on the dev split "
                           f"({len(dev_frame)} rows, {len(np.unique(y_dev))} classes in gold).")


def _with_uncovered(model: EndModel, frame, Y, weights, uncovered, target, uncovered_weights, dev_frame, y_dev, *,
                    always: bool, max_features: int, seed: int, metric: tuple, notify=None):
    """The chosen setting refitted on the train rows plus the uncovered ones (soft label `target`),
    kept unless dev shows it worse by more than one dev row (or `always`): (model, frame, Y, weights)
    of the model kept. Measured, it helped or tied wherever it was tried (YouTube comments with ten
    hand-written LFs, seeds 0-4: spam F1 at 13% spam 79.8 -> 83.2, at the natural share 86.1 -> 94.0), so dev
    needs to show harm, not a gain, to keep the rows out. A thresholded model gets its threshold
    again, over every train row."""
    k = len(model.classes)
    both, Y_both, w_both = with_rows(frame, Y, weights, uncovered, np.tile(target, (len(uncovered), 1)),
                                     uncovered_weights)
    featurizer, classifier, X = _fit_setting(model, both, Y_both, w_both, max_features=max_features, seed=seed)
    predicted, cut = dev_predictions(classifier, featurizer.transform(dev_frame), y_dev, k=k, metric=metric,
                                     X_train=X)
    score = dev_score(y_dev, predicted, k, metric)
    before = dev_score(y_dev, model.predict(dev_frame), k, metric) if len(y_dev) else score
    model.dev_scores[f"{model.features} C={model.C:g} class_weight={model.class_weight} + {len(uncovered)} uncovered "
                     f"rows"] = round(score, 6)
    kept = always or score >= before - one_row(y_dev, metric) - 1e-12
    if notify:
        notify(f"end model: + {len(uncovered):,} rows where every LF abstains, dev {metric[0]} {before:.4f} -> "
               f"{score:.4f}: " + ("kept" if kept else "left out"))
    if not kept:
        return model, frame, Y, weights
    if cut is not None:
        shift_intercept(classifier, metric[1], cut)
    model.pipeline, model.threshold = make_pipeline(featurizer, classifier), cut
    model.positive = metric[1] if cut is not None else None
    model.uncovered_target, model.train_rows = [float(p) for p in target], len(both)
    shares = ", ".join(f"{name} {p:.2f}" for name, p in zip(model.classes, target))
    model.notes.append(f"end model: also trained on the {len(uncovered)} train rows where every LF abstains, each "
                       f"labelled with the class shares of the gold dev rows where every LF abstains ({shares}); "
                       + ("[end_model] include_uncovered = true." if always else
                          f"dev {metric[0]} {before:.3f} -> {score:.3f} ([end_model] include_uncovered = \"auto\")."))
    return model, both, Y_both, w_both


def _refit_with_dev(model: EndModel, frame, Y, weights, dev_frame, y_dev, *, max_features, seed,
                    metric=("accuracy", None), frame_all=None) -> EndModel:
    """The chosen setting refitted on train + gold dev rows (one-hot, weight 1). A thresholded model
    gets its threshold again from out-of-fold dev probabilities (DEV_FOLDS refits, each without one
    fold of dev), since the refitted model has seen every dev row."""
    featurizer, classifier, X = _fit_with_gold(model, frame, Y, weights, dev_frame, y_dev,
                                               max_features=max_features, seed=seed)
    if model.threshold is not None:
        X_all = X[:len(frame)] if frame_all is None or frame_all is frame else featurizer.transform(frame_all)
        _rethreshold(model, classifier, X_all, frame, Y, weights, dev_frame, y_dev,
                     max_features=max_features, seed=seed, metric=metric)
    model.pipeline = make_pipeline(featurizer, classifier)
    model.trained_on_dev = True
    model.train_rows = len(frame) + len(dev_frame)
    model.notes.append(f"end model: refitted on train + {len(dev_frame)} gold dev rows ([end_model] train_on_dev); "
                       f"its dev scores are from before that, and dev can no longer check it"
                       + (" (its threshold and the cross-fitted dev score are from refits without each dev fold)."
                          if model.threshold is not None else "."))
    return model


DEV_FOLDS = 5


def _fit_with_gold(model: EndModel, frame, Y, weights, gold_frame, y_gold, *, max_features, seed):
    """The model's setting fitted on train + gold rows (one-hot, weight 1): (featurizer, classifier, X)."""
    Y_gold = np.zeros((len(gold_frame), len(model.classes)))
    Y_gold[np.arange(len(gold_frame)), np.asarray(y_gold, dtype=np.int64)] = 1.0
    both, Y_all, w_all = with_rows(frame, Y, weights, gold_frame, Y_gold, np.ones(len(gold_frame)))
    return _fit_setting(model, both, Y_all, w_all, max_features=max_features, seed=seed)


def _fit_setting(model: EndModel, frame, Y, weights, *, max_features, seed):
    """The model's chosen features, class weight and C fitted on these rows: (featurizer, classifier, X)."""
    from sklearn.exceptions import ConvergenceWarning

    featurizer, X, _ = fit_features(model.features, frame, model.text_column, model.feature_columns,
                                    max_features=max_features, relation=model.relation)
    X_rows, y_rows, w_rows = expand_soft(X, Y, weights[:, None] * class_multipliers(Y, weights, model.class_weight))
    assert model.C is not None  # a logistic regression's setting: its C was chosen on dev
    classifier = make_classifier(X.shape[1], model.C, seed)
    with warnings.catch_warnings():  # as in the search: dev decides, not saga's last pass
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(X_rows, y_rows, sample_weight=w_rows)
    return featurizer, classifier, X


def _rethreshold(model: EndModel, classifier, X_train, frame, Y, weights, dev_frame, y_dev, *, max_features, seed,
                 metric) -> None:
    """Choose the refitted classifier's threshold from out-of-fold dev probabilities and shift it."""
    y_dev = np.asarray(y_dev, dtype=np.int64)
    positive = model.positive
    assert positive is not None  # a model with a threshold has its positive class
    n_folds = max(2, min(DEV_FOLDS, len(y_dev)))
    folds = np.random.default_rng(seed).permutation(len(y_dev)) % n_folds
    out_of_fold = np.zeros(len(y_dev))
    for fold in range(n_folds):
        held = folds == fold
        featurizer, part, _ = _fit_with_gold(model, frame, Y, weights, dev_frame.iloc[np.flatnonzero(~held)],
                                             y_dev[~held], max_features=max_features, seed=seed)
        proba = part.predict_proba(featurizer.transform(dev_frame.iloc[np.flatnonzero(held)]))
        out_of_fold[held] = proba[:, list(part.classes_).index(positive)] if positive in part.classes_ else 0.0
    column = list(classifier.classes_).index(positive)
    cut = choose_threshold(y_dev == positive, out_of_fold, classifier.predict_proba(X_train)[:, column])
    if cut is None:
        model.threshold = model.positive = None
        return
    shift_intercept(classifier, positive, cut)
    model.threshold = cut
    predicted = np.where(out_of_fold >= cut, positive, 1 - positive)
    model.dev_scores[f"{model.features} C={model.C:g} class_weight={model.class_weight} refitted on train + dev "
                     f"(out-of-fold)"] = round(dev_score(y_dev, predicted, len(model.classes), metric), 6)
