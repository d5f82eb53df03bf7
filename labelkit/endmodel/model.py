"""The fitted end model: a plain scikit-learn Pipeline (features -> classifier) and the metadata
needed to use it on a DataFrame (classes, text/feature columns, text length limit, how it was chosen)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from labelkit.endmodel.features import MAX_TEXT_CHARS, RELATION_COLUMNS, prepare_frame
from labelkit.errors import DatasetError


@dataclass
class EndModel:
    pipeline: object  # fitted sklearn Pipeline: ("features", ColumnTransformer), ("model", classifier)
    classes: tuple[str, ...]
    C: float | None
    text_column: str = "text"
    feature_columns: list[str] = field(default_factory=list)
    features: str = "tfidf"  # feature set (labelkit.endmodel.features.FEATURE_SETS)
    class_weight: str = "none"  # none | balanced
    kind: str = "logistic_regression"  # logistic_regression | streaming_sgd | constant
    max_text_chars: int = MAX_TEXT_CHARS
    relation: bool = False  # rows carry entity1/entity2/span1/span2: the relation view is a feature too
    dev_scores: dict[str, float] = field(default_factory=dict)  # candidate -> dev score (selection metric)
    train_rows: int = 0
    trained_on_dev: bool = False
    # binary tasks scored by a positive class's F1: P(positive) >= threshold predicts it. Already applied
    # to the pipeline (an intercept shift, so its predict_proba puts that cut at 0.5); recorded here
    threshold: float | None = None
    positive: int | None = None  # the class `threshold` is for
    notes: list[str] = field(default_factory=list)  # why a fallback was taken; shown as build warnings
    # a comparison model trained on a sample at scale: {"sampled_rows": n, "note": ...} ({} otherwise)
    comparison_sampling: dict = field(default_factory=dict)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """(n, k) probabilities over all task classes, even ones the training labels never contained."""
        prepared = self._prepare(frame)
        vectorizers = _text_only_vectorizers(self.pipeline)
        if vectorizers is not None and len(prepared) <= FAST_PATH_ROWS:
            # a served request is one row: ColumnTransformer's and FeatureUnion's checks cost ~4 of the
            # ~7 ms CPU of the answer; for a text-only model the same transforms are called directly
            from scipy import sparse

            texts = prepared[self.text_column].tolist()
            X = sparse.hstack([v.transform(texts) for v in vectorizers], format="csr")
            raw = self.pipeline.steps[-1][1].predict_proba(X)
        else:
            raw = self.pipeline.predict_proba(prepared)
        out = np.zeros((len(frame), len(self.classes)))
        out[:, np.asarray(self.pipeline.classes_, dtype=np.int64)] = raw
        return out

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Class indices (into `classes`)."""
        return self.predict_proba(frame).argmax(axis=1)

    def predict_labels(self, frame: pd.DataFrame) -> list[str]:
        return [self.classes[i] for i in self.predict(frame)]


    def metadata(self) -> dict:
        return {
            "classes": list(self.classes), "C": self.C, "text_column": self.text_column,
            "feature_columns": list(self.feature_columns), "features": self.features,
            "class_weight": self.class_weight, "kind": self.kind, "max_text_chars": self.max_text_chars,
            "relation": self.relation,
            "dev_scores": dict(self.dev_scores), "train_rows": self.train_rows,
            "trained_on_dev": self.trained_on_dev, "notes": list(self.notes),
            "threshold": self.threshold, "positive": self.positive,
        }

    def _prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        needed = [self.text_column, *self.feature_columns, *(RELATION_COLUMNS if self.relation else ())]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DatasetError(
                f"The end model needs column(s) {', '.join(map(repr, missing))}; the table has: "
                f"{', '.join(map(str, frame.columns))}."
            )
        return prepare_frame(frame, self.text_column, max_text_chars=self.max_text_chars, relation=self.relation)[0]


FAST_PATH_ROWS = 64


def _text_only_vectorizers(pipeline) -> list | None:
    """The fitted text vectorizers when the features are exactly one unweighted FeatureUnion of them on
    the text column (nothing else, nothing passed through); else None (use the whole pipeline)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion

    features = pipeline.steps[0][1] if len(pipeline.steps) == 2 else None
    if not isinstance(features, ColumnTransformer) or features.remainder != "drop":
        return None
    fitted = [t for t in features.transformers_ if t[0] != "remainder"]
    if len(fitted) != 1 or fitted[0][0] != "text" or not isinstance(fitted[0][1], FeatureUnion):
        return None
    union = fitted[0][1]
    if union.transformer_weights is not None or any(t in ("drop", "passthrough") for _, t in union.transformer_list):
        return None
    return [t for _, t in union.transformer_list]

