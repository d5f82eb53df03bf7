"""The repair's candidate models, fitted cheaply: the first end model's setting (features, C) with new
row weights and class weight, on features computed once.

A candidate of the repair search is the build's end model trained again with some train rows weighted
x w. Going through `labelkit.pipeline.stages.fit_end_model` for each one fits the same vocabulary again and
again, and — worse — saga is slow on row weights above 1: its step size assumes sample weights of about
1, so rows weighted x4 or x8 make it hit max_iter (300 passes, ~8 s each on the bundled example)
without converging (measured there: 11-42 dev rows away from the weighted optimum). Here

  - the features are the first model's own fitted featurizer (it was fitted on exactly these train
    rows, so the vocabulary and every row's vector are what a refit would give), computed once;
  - row weights above 1 are divided by their largest value and C multiplied by it: C * sum(w_i * loss_i)
    + |beta|^2 / 2 is the same objective, so the optimum is the same, and saga converges in ~15-25
    passes instead of stopping at 300;
  - each fit starts from the first model's coefficients (warm start), which are close.

The candidate's metadata keeps the setting's C (`EndModel.C`); the classifier inside holds C x the
scale, and a note says so. Models that are not an in-memory logistic regression (streamed, constant,
refitted on dev) are not handled here: `Refitter.create` returns None and the repair fits through
`fit_end_model` as before.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from labelkit.endmodel.model import EndModel


@dataclasses.dataclass
class Refitter:
    base: EndModel  # the first end model (its setting; its classifier is where every fit starts)
    featurizer: Any  # fitted features (the first model's own, unless it saw rows this one does not)
    labels: str  # soft | hard
    rows: np.ndarray  # positions (in the train split) of the rows it trains on, in training order
    X: Any  # their features (a scipy sparse matrix or an array)
    Y: np.ndarray  # their targets, (rows, k)
    X_dev: Any
    y_dev: np.ndarray
    metric: tuple  # (name, positive class index or None), as the end model scores dev
    seed: int
    X_all: Any = None  # every train row's features (a binary F1 task's threshold quantile), else None

    @classmethod
    def create(cls, config, data, proba_train, L_train, prior, base, *, labels: str | None = None):
        """A refitter for `base` (the end model of this build), or None when it cannot stand in for
        `fit_end_model(..., like=base)`. `labels`: "soft" / "hard" (default: [end_model] labels)."""
        from labelkit.endmodel.features import fit_features
        from labelkit.evaluate.metrics import resolve_metric
        from labelkit.pipeline.stages import positive_class_index, train_targets

        labels = labels or config.end_model.labels
        if (base is None or base.kind != "logistic_regression" or base.C is None or base.trained_on_dev
                or not hasattr(base.pipeline, "named_steps") or not len(data.gold["dev"])
                or getattr(base, "human_weight", None) is not None):  # human-labelled rows: not carried here
            return None
        train = data.frames["train"]
        keep, targets = train_targets(labels, config, proba_train, L_train, prior)
        k = len(base.classes)
        if labels == "soft":
            Y = np.asarray(targets, dtype=np.float64).reshape(-1, k)
        else:
            Y = np.zeros((len(targets), k))
            Y[np.arange(len(targets)), np.asarray(targets, dtype=np.int64)] = 1.0
        rows = np.flatnonzero(keep)
        uncovered = labels == "soft" and base.uncovered_target is not None
        if uncovered:  # trained on the rows no LF votes on too, with their soft label (as the first model)
            extra = np.flatnonzero(~keep)
            rows = np.concatenate([rows, extra])
            Y = np.vstack([Y, np.tile(np.asarray(base.uncovered_target, dtype=np.float64), (len(extra), 1))])
        if int(keep.sum()) >= config.end_model.stream_rows:
            return None  # the build streams at this size; so do the candidates
        frame = _prepared(base, train.iloc[rows])
        featurizer = base.pipeline.named_steps["features"]
        if labels == "hard" and base.uncovered_target is not None:
            # the first model's vocabulary counts the uncovered rows; a hard-label model never sees them
            featurizer = fit_features(base.features, frame, base.text_column, list(base.feature_columns),
                                      max_features=config.end_model.max_features, relation=base.relation)[0]
        y_dev = np.asarray(data.gold["dev"], dtype=np.int64)
        metric = resolve_metric(config.label_model.metric, y_dev, cardinality=k,
                                positive=positive_class_index(config, data.schema.classes))
        X_all = None
        if k == 2 and metric[0] == "f1" and metric[1] is not None:
            X_all = featurizer.transform(_prepared(base, train))
        return cls(base=base, featurizer=featurizer, labels=labels, rows=rows, X=featurizer.transform(frame), Y=Y,
                   X_dev=featurizer.transform(_prepared(base, data.frames["dev"])), y_dev=y_dev, metric=metric,
                   seed=config.task.seed, X_all=X_all)

    def fit(self, row_weights: np.ndarray, class_weight: str):
        """The base setting trained with `row_weights` (one per train row) and `class_weight`: (EndModel, its
        dev predictions), or (None, None) when the weighted targets hold fewer than two classes (the caller
        falls back). The dev predictions are the model's `predict(dev)`, from the features computed once."""
        from labelkit.endmodel.model import EndModel
        from labelkit.endmodel.threshold import shift_intercept
        from labelkit.endmodel.training import (
            class_multipliers, dev_predictions, dev_score, expand_soft, make_classifier, make_pipeline,
        )

        weights = np.asarray(row_weights, dtype=np.float64)[self.rows]
        scale = max(1.0, float(weights.max())) if len(weights) else 1.0
        X_rows, y_rows, w_rows = expand_soft(self.X, self.Y,
                                             (weights / scale)[:, None] * class_multipliers(self.Y, weights, class_weight))
        if len(np.unique(y_rows)) < 2:
            return None, None
        base = self.base
        C = base.C
        assert C is not None  # create() makes a refitter only for a logistic regression with its C
        classifier = make_classifier(self.X.shape[1], C * scale, self.seed)
        start = base.pipeline.named_steps["model"]
        if (hasattr(start, "coef_") and start.coef_.shape[1] == self.X.shape[1]
                and np.array_equal(np.unique(y_rows), start.classes_)):
            classifier.set_params(warm_start=True)
            classifier.coef_, classifier.intercept_ = start.coef_.copy(), start.intercept_.copy()
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():  # as the build's search: dev decides, not saga's last pass
            warnings.simplefilter("ignore", ConvergenceWarning)
            classifier.fit(X_rows, y_rows, sample_weight=w_rows)
        k = len(base.classes)
        predicted, cut = dev_predictions(classifier, self.X_dev, self.y_dev, k=k, metric=self.metric,
                                         X_train=self.X_all)
        score = dev_score(self.y_dev, predicted, k, self.metric)
        if cut is not None:
            shift_intercept(classifier, self.metric[1], cut)
        proba = np.zeros((self.X_dev.shape[0], k))  # as EndModel.predict: argmax over every task class
        proba[:, classifier.classes_] = classifier.predict_proba(self.X_dev)
        note = (f"end model: repair row weights up to x{scale:g}, fitted as weights / {scale:g} with C x {scale:g} "
                f"(the same objective; the classifier holds C={C * scale:g})" if scale > 1 else "")
        model = EndModel(
            make_pipeline(self.featurizer, classifier), base.classes, base.C,
            text_column=base.text_column, feature_columns=list(base.feature_columns), features=base.features,
            class_weight=class_weight, kind=base.kind, max_text_chars=base.max_text_chars, relation=base.relation,
            dev_scores={f"{base.features} C={base.C:g} class_weight={class_weight} (repair row weights)": round(score, 6)},
            train_rows=len(self.rows), threshold=cut, positive=self.metric[1] if cut is not None else None,
            uncovered_target=base.uncovered_target if self.labels == "soft" else None,
            notes=list(base.notes) + ([note] if note else []))
        return model, proba.argmax(axis=1)


def _prepared(base, frame):
    """`frame` as the end model's features read it (text as strings, cut at max_text_chars)."""
    from labelkit.endmodel.features import prepare_frame

    if not base.text_column:
        return frame
    return prepare_frame(frame, base.text_column, max_text_chars=base.max_text_chars, relation=base.relation)[0]
