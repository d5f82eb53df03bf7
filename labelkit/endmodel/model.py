"""The fitted end model: a plain scikit-learn Pipeline (features -> classifier) and the metadata
needed to use it on a DataFrame (classes, text/feature columns, text length limit, how it was chosen)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labelkit.endmodel.features import MAX_TEXT_CHARS, RELATION_COLUMNS, prepare_frame
from labelkit.endmodel.scorer import TextScorer
from labelkit.endmodel.scorer import text_only_vectorizers as _text_only_vectorizers
from labelkit.errors import DatasetError


@dataclass
class EndModel:
    pipeline: Any  # fitted sklearn Pipeline (sklearn has no type information): ("features", ColumnTransformer), ("model", classifier)
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
    # trained on the train rows where every LF abstained too, with this soft label ([end_model] include_uncovered)
    uncovered_target: list[float] | None = None
    notes: list[str] = field(default_factory=list)  # why a fallback was taken; shown as build warnings
    # a comparison model trained on a sample at scale: {"sampled_rows": n, "note": ...} ({} otherwise)
    comparison_sampling: dict = field(default_factory=dict)
    _scorer: TextScorer | None = field(default=None, init=False, repr=False, compare=False)  # set by compile()

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """(n, k) probabilities over all task classes, even ones the training labels never contained."""
        prepared = self._prepare(frame)
        if self._scorer is not None and len(prepared) <= FAST_PATH_ROWS:
            return self._all_classes(self._scorer.predict_proba(prepared[self.text_column].tolist()))
        vectorizers = _text_only_vectorizers(self.pipeline)
        if vectorizers is not None and len(prepared) <= FAST_PATH_ROWS:
            # ColumnTransformer's and FeatureUnion's checks cost ~4 of the ~7 ms CPU of a one-row
            # answer; for a text-only model the same transforms are called directly
            from scipy import sparse

            texts = prepared[self.text_column].tolist()
            X = sparse.hstack([v.transform(texts) for v in vectorizers], format="csr")
            raw = self.pipeline.steps[-1][1].predict_proba(X)
        else:
            raw = self.pipeline.predict_proba(prepared)
        return self._all_classes(raw)

    def predict_proba_rows(self, rows: list[dict]) -> np.ndarray:
        """`predict_proba` of rows given as dicts (a served request) without building a DataFrame when
        the model is compiled and every row has a string text; the same probabilities either way."""
        if self._scorer is not None and len(rows) <= FAST_PATH_ROWS:
            column, limit = self.text_column, self.max_text_chars
            texts = [row.get(column) for row in rows]
            strings = [text[:limit] for text in texts if isinstance(text, str)]
            if len(strings) == len(texts):
                return self._all_classes(self._scorer.predict_proba(strings))
        return self.predict_proba(pd.DataFrame.from_records(rows))

    def compile(self) -> bool:
        """Compile the fitted pipeline into a TextScorer (labelkit.endmodel.scorer) that answers batches
        of up to FAST_PATH_ROWS rows at a fraction of the Pipeline's per-call cost, with its
        probabilities. Call it once the pipeline is final: `load_end_model` does.
        False when the model is not text-only logistic regression: the Pipeline keeps answering."""
        from labelkit.endmodel.scorer import TextScorer

        self._scorer = TextScorer.compile(self.pipeline)
        return self._scorer is not None

    def _all_classes(self, raw: np.ndarray) -> np.ndarray:
        out = np.zeros((len(raw), len(self.classes)))
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
            "threshold": self.threshold, "positive": self.positive, "uncovered_target": self.uncovered_target,
        }

    def _prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        needed = [*([self.text_column] if self.text_column else []), *self.feature_columns,
                  *(RELATION_COLUMNS if self.relation else ())]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            shown = ", ".join(map(repr, missing[:8])) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
            raise DatasetError(
                f"The end model needs column(s) {shown}; the table has: {', '.join(map(str, frame.columns))}."
            )
        if not self.text_column:  # a model of feature columns alone (rows without text)
            return frame
        return prepare_frame(frame, self.text_column, max_text_chars=self.max_text_chars, relation=self.relation)[0]


FAST_PATH_ROWS = 64  # batches up to this size skip the Pipeline's checks (served requests)
