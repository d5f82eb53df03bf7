"""The end model: scikit-learn features + logistic regression trained on (probabilistic) labels.

Soft labels are used by weighted duplication: a row with label probabilities p appears once per
class c with sample weight p[c]. The regularisation strength is chosen on the gold dev split.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from labelkit.errors import DatasetError


@dataclass
class EndModel:
    pipeline: object  # fitted sklearn Pipeline
    classes: tuple[str, ...]
    C: float
    dev_scores: dict[float, float] = field(default_factory=dict)  # C -> dev score (the selection metric)
    train_rows: int = 0

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """(n, k) probabilities over all task classes, even ones the training labels never contained."""
        raw = self.pipeline.predict_proba(frame)
        seen = self.pipeline.classes_
        out = np.zeros((len(frame), len(self.classes)))
        out[:, seen] = raw
        return out

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(frame).argmax(axis=1)

    def save(self, path) -> None:
        import joblib

        _drop_volatile_state(self.pipeline.named_steps["features"])
        joblib.dump(self, path)


def build_features(text_column: str, numeric: list[str], categorical: list[str], *, max_features: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    text = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=max_features,
                                  lowercase=True, strip_accents="unicode", dtype=np.float32)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True,
                                  max_features=max_features, lowercase=True, dtype=np.float32)),
    ])
    parts = [("text", text, text_column)]
    if numeric:
        parts.append(("numeric", StandardScaler(), numeric))
    if categorical:
        parts.append(("categorical", OneHotEncoder(handle_unknown="ignore"), categorical))
    return ColumnTransformer(parts, sparse_threshold=1.0)


def train_end_model(train: pd.DataFrame, targets: np.ndarray, classes: tuple[str, ...], *,
                    text_column: str, feature_columns: list[str], dev: pd.DataFrame, y_dev: np.ndarray,
                    Cs: list[float], soft: bool, max_features: int = 200_000, seed: int = 0,
                    metric: str = "accuracy") -> EndModel:
    """Fit on `train` rows with `targets` ((n, k) probabilities if soft, else (n,) class indices),
    trying each C and keeping the best dev `metric` (accuracy or macro_f1; ties: the smaller C)."""
    from labelkit.labelmodels import score_predictions

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    if len(train) == 0:
        raise DatasetError("No train rows are left to train the end model on (every LF abstained on every row?).")
    frame = _prepare(train, text_column)
    dev_frame = _prepare(dev, text_column)
    numeric, categorical = _split_feature_columns(train, feature_columns)
    features = build_features(text_column, numeric, categorical, max_features=max_features)
    X_rows = features.fit_transform(frame)
    X, y_rows, weights = _expand(X_rows, targets, soft)
    X_dev = features.transform(dev_frame)
    best = None
    scores: dict[float, float] = {}
    for C in sorted(Cs):
        # saga converges in a few passes on l2-normalised TF-IDF rows; lbfgs takes 5-10x longer here
        model = LogisticRegression(C=C, solver="saga", tol=1e-3, max_iter=300, random_state=seed)
        model.fit(X, y_rows, sample_weight=weights)
        score = score_predictions(y_dev, model.predict(X_dev), cardinality=len(classes), metric=metric)
        scores[C] = round(score, 6)
        if best is None or score > best[0]:
            best = (score, C, model)
    pipeline = Pipeline([("features", features), ("model", best[2])])
    return EndModel(pipeline, classes, best[1], scores, train_rows=len(train))


def _drop_volatile_state(features) -> None:
    """sklearn's vectorizers cache `id(stop_words)`, a memory address: drop it so that the same
    build pickles to the same bytes (it is recomputed when needed)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    for _, part, _ in features.transformers_:
        for _, vectorizer in getattr(part, "transformer_list", []):
            if isinstance(vectorizer, TfidfVectorizer) and hasattr(vectorizer, "_stop_words_id"):
                del vectorizer._stop_words_id


def _expand(X, targets: np.ndarray, soft: bool):
    """Soft labels by weighted duplication: one copy of each row per class, weighted by its probability."""
    if not soft:
        return X, np.asarray(targets), None
    n, k = targets.shape
    rows = np.repeat(np.arange(n), k)
    labels = np.tile(np.arange(k), n)
    weights = targets.reshape(-1)
    keep = weights > 1e-3
    return X[rows[keep]], labels[keep], weights[keep]


def _prepare(frame: pd.DataFrame, text_column: str) -> pd.DataFrame:
    out = frame.copy()
    out[text_column] = out[text_column].fillna("").astype(str)
    return out


def _split_feature_columns(frame: pd.DataFrame, columns: list[str]) -> tuple[list[str], list[str]]:
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    categorical = [c for c in columns if c not in numeric]
    return numeric, categorical
