"""A compiled scorer for a fitted text-only end model: the served answer without scikit-learn's
per-call machinery.

A one-row answer through the Pipeline costs ~5 ms of CPU, almost all of it checks, sparse-matrix
assembly and dispatch around ~0.1 ms of real work. `TextScorer.compile(pipeline)` reads the fitted
pieces once (each vectorizer's own analyzer, vocabulary and idf; the classifier's coefficients) and
`predict_proba(texts)` does only the work: dict lookups, the tf-idf arithmetic and the dot product.

It computes what scikit-learn computes, in the same dtype and order: counts in the vectorizer's
dtype (float32 for labelkit's), `log(tf) + 1`, `* idf`, the row norm summed in float64 in column
order and divided in float64 (sklearn's `inplace_csr_row_normalize_l2`), the decision summed term by
term in column order in the dtype scipy uses (float32 for labelkit's models) plus the intercept, then
softmax (multiclass) or expit (binary) - so its probabilities equal the Pipeline's, bit for bit on
the bundled example (tests/endmodel/test_scorer.py). Embedding features (``tfidf+embeddings``, ``embeddings``)
are compiled too: their step embeds the one text and its stored entries join the row in column order
(0.6 ms of CPU a request against 0.2 ms for TF-IDF alone and 3.4 ms through the Pipeline; the
probabilities equal the Pipeline's, tests/test_embeddings.py). Anything else (tabular or relation
features, hashing, a classifier other than LogisticRegression) is not compiled: `compile` returns None
and the caller uses the Pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class _Vectorizer:
    """One fitted Count/TfidfVectorizer, as the numbers its transform uses."""

    analyze: Callable[[str], list]
    vocabulary: dict
    offset: int  # its first column in the stacked features
    dtype: np.dtype
    binary: bool
    sublinear: bool
    idf: np.ndarray | None
    norm: str | None

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(sorted columns, values) of one text's row, as the vectorizer's transform computes them."""
        lookup = self.vocabulary.get
        found = [j for j in map(lookup, self.analyze(text)) if j is not None]
        columns, counts = np.unique(np.array(found, dtype=np.int64), return_counts=True)
        values = counts.astype(self.dtype)
        if self.binary:
            values.fill(1)
        if self.sublinear:
            np.log(values, values)
            values += 1.0
        if self.idf is not None:
            values *= self.idf[columns]
        if self.norm is not None and values.size:
            values = _normalize(values, self.norm)
        return columns + self.offset, values


class _EmbeddingPart:
    """A fitted labelkit EmbeddingFeatures step (labelkit/endmodel/embedding_features.py): its own
    transform of one text (a text's vector never depends on its batch), as the (columns, values) of the
    stored entries of that sparse row - what scipy's row-by-row product reads in the Pipeline."""

    dtype = np.dtype(np.float32)

    def __init__(self, transformer, offset: int) -> None:
        self.transformer, self.offset = transformer, offset

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        X = self.transformer.transform([text])
        return X.indices.astype(np.int64) + self.offset, X.data


def _is_embedding(step) -> bool:
    return type(step).__name__ == "EmbeddingFeatures" and type(step).__module__ == "labelkit.endmodel.embedding_features"


def _normalize(values: np.ndarray, norm: str) -> np.ndarray:
    # sklearn's inplace_csr_row_normalize_l1/l2: terms summed one by one into a double (cumsum is
    # sequential, like its loop), each value divided by that double and stored back in its dtype
    terms = np.abs(values) if norm == "l1" else values * values
    total = float(np.cumsum(terms, dtype=np.float64)[-1])
    if total == 0.0:
        return values
    if norm == "l2":
        total = np.sqrt(total)
    return (values.astype(np.float64) / total).astype(values.dtype)


class TextScorer:
    """Probabilities of a compiled text-only pipeline, columns in the classifier's `classes_` order."""

    def __init__(self, vectorizers: list[_Vectorizer | _EmbeddingPart], coef: np.ndarray, intercept: np.ndarray) -> None:
        self.vectorizers = vectorizers
        self.coef_t = np.ascontiguousarray(coef.T)  # (features, k): one row gathered per term
        self.intercept = np.asarray(intercept)
        # scipy multiplies the stacked features by coef_.T in their common dtype (float32 when the
        # classifier was fitted on labelkit's float32 features): the sums are done in that dtype too
        self.dtype = np.result_type(*(v.dtype for v in vectorizers), coef.dtype)
        self.binary = coef.shape[0] == 1

    @classmethod
    def compile(cls, pipeline) -> "TextScorer | None":
        """A scorer for `pipeline` (fitted: ColumnTransformer of one text FeatureUnion of Count/Tfidf
        vectorizers -> LogisticRegression), or None when it has anything else."""
        union = text_only_vectorizers(pipeline)
        classifier = pipeline.steps[-1][1]
        if union is None or not _is_plain_logistic(classifier):
            return None
        vectorizers: list[_Vectorizer | _EmbeddingPart] = []
        offset = 0
        for vectorizer in union:
            if _is_embedding(vectorizer):  # embedding features: the transformer itself, one text at a time
                vectorizers.append(_EmbeddingPart(vectorizer, offset))
                offset += int(vectorizer.n_features_out_)
                continue
            compiled = _compile_vectorizer(vectorizer, offset)
            if compiled is None:
                return None
            vectorizers.append(compiled)
            offset += len(vectorizer.vocabulary_)
        if offset != classifier.coef_.shape[1]:
            return None
        return cls(vectorizers, classifier.coef_, classifier.intercept_)

    def decision(self, text: str) -> np.ndarray:
        """The classifier's decision_function for one text: (k,), or (1,) for a binary model."""
        parts = [v.row(text) for v in self.vectorizers]
        columns = np.concatenate([c for c, _ in parts])
        if not columns.size:
            return np.zeros(len(self.intercept), self.dtype) + self.intercept
        values = np.concatenate([v for _, v in parts]).astype(self.dtype)
        # scipy's csr @ dense: per class one sum, term by term in column order, then + intercept
        terms = values[:, None] * self.coef_t[columns]
        return np.cumsum(terms, axis=0, dtype=self.dtype)[-1] + self.intercept

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 2 if self.binary else len(self.intercept)))
        scores = np.stack([self.decision(text) for text in texts])
        if self.binary:  # LogisticRegression._predict_proba_lr: expit, then [1 - p, p]
            from scipy.special import expit

            p = expit(scores[:, 0])
            return np.stack([1 - p, p], axis=1)
        # sklearn.utils.extmath.softmax, same operations in the same order
        scores -= np.max(scores, axis=1).reshape((-1, 1))
        np.exp(scores, out=scores)
        scores /= np.sum(scores, axis=1).reshape((-1, 1))
        return scores


def _is_plain_logistic(classifier) -> bool:
    from sklearn.linear_model import LogisticRegression

    if type(classifier) is not LogisticRegression or not hasattr(classifier, "coef_"):
        return False
    multi_class = getattr(classifier, "multi_class", "deprecated")  # OvR multiclass normalises differently
    return len(classifier.classes_) <= 2 or multi_class in ("deprecated", "auto", "multinomial")


def _compile_vectorizer(vectorizer, offset: int) -> _Vectorizer | None:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    if type(vectorizer) not in (CountVectorizer, TfidfVectorizer) or not hasattr(vectorizer, "vocabulary_"):
        return None
    dtype = np.dtype(vectorizer.dtype)
    if dtype not in _FLOATS or callable(vectorizer.analyzer) or vectorizer.input != "content":
        return None
    idf = norm = None
    sublinear = False
    if type(vectorizer) is TfidfVectorizer:
        transformer = vectorizer._tfidf  # what TfidfVectorizer.transform applies
        sublinear, norm = bool(transformer.sublinear_tf), transformer.norm
        if norm not in (None, "l1", "l2"):
            return None
        if hasattr(transformer, "idf_"):
            idf = np.asarray(transformer.idf_)
            if idf.dtype != dtype:  # sklearn keeps idf_ in the counts' dtype; anything else: use sklearn
                return None
    return _Vectorizer(vectorizer.build_analyzer(), vectorizer.vocabulary_, offset, dtype, bool(vectorizer.binary),
                       sublinear, idf, norm)


def text_only_vectorizers(pipeline) -> list | None:
    """The fitted text vectorizers when the features are exactly one unweighted FeatureUnion of them on
    the text column (nothing else, nothing passed through, sparse output); else None (use the whole
    pipeline)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion

    features = pipeline.steps[0][1] if len(pipeline.steps) == 2 else None
    if not isinstance(features, ColumnTransformer) or features.remainder != "drop":
        return None
    if not getattr(features, "sparse_output_", False):  # dense features go through BLAS: other sums
        return None
    fitted = [t for t in features.transformers_ if t[0] != "remainder"]
    if len(fitted) != 1 or fitted[0][0] != "text" or not isinstance(fitted[0][1], FeatureUnion):
        return None
    union = fitted[0][1]
    if union.transformer_weights is not None or any(t in ("drop", "passthrough") for _, t in union.transformer_list):
        return None
    return [t for _, t in union.transformer_list]
