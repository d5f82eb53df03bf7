"""The end model's embedding features (``[end_model] features = ["embeddings"]`` or
``"tfidf+embeddings"``): a scikit-learn transformer that embeds the text column with the model of
``[embeddings] model`` (labelkit/embeddings.py).

Safe to save and load (labelkit/endmodel/store.py, skops, no pickle): the transformer holds data only -
the model's reference (name, version, SHA-256 of its files, dimension) and, for ``lsa``, the fitted
TF-IDF + SVD arrays. The weights of a pretrained model are never copied into a run; loading a model
file resolves the reference on this machine and refuses, in one line, a model whose SHA-256 differs.

The output is a sparse matrix (float32, rows L2-normalised, times ``weight``) with one more column that
is always zero: ColumnTransformer keeps an output sparse only while its density is below 1, and a
sparse matrix is scored by scipy's row-by-row sums, so a served row gets exactly the probabilities
the build computed for it in a batch (dense rows go through BLAS, whose sums depend on the batch).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from labelkit.embeddings import (EmbeddingError, EmbeddingInfo, LsaModel, active_setting, load_model, lsa_embed,
                                 model_key)


class EmbeddingFeatures(TransformerMixin, BaseEstimator):
    def __init__(self, model: str = "wordllama", root: str = ".", lsa_dimensions: int = 256, weight: float = 1.0,
                 seed: int = 0):
        self.model = model
        self.root = root
        self.lsa_dimensions = lsa_dimensions
        self.weight = weight
        self.seed = seed

    @classmethod
    def from_active_setting(cls, weight: float = 1.0) -> "EmbeddingFeatures":
        setting = active_setting()
        return cls(model=setting.model, root=setting.root, lsa_dimensions=setting.lsa_dimensions, weight=weight)

    def fit(self, X, y=None):
        texts = _texts(X)
        if self.model == "lsa":
            fitted = LsaModel.fit(texts, dimensions=self.lsa_dimensions, seed=self.seed)
            self.lsa_ = fitted.pipeline
            _drop_volatile(self.lsa_)
            info = fitted.info
            self.model_key_ = "lsa"
        else:
            self.model_key_ = model_key(self.model, self.root)
            info = load_model(self.model_key_).info
        self.embedding_: dict[str, Any] = {"name": info.name, "version": info.version, "sha256": info.sha256,
                                           "dim": int(info.dim)}
        self.n_features_out_ = int(info.dim) + 1  # + the zero column (see the module's doc)
        return self

    def transform(self, X):
        from scipy import sparse

        if self.model_key_ == "lsa":
            dense = lsa_embed(self.lsa_, _texts(X))
        else:
            dense = self.embedding_model().embed(_texts(X))
        if self.weight != 1.0:
            dense = dense * np.float32(self.weight)
        if self.model_key_ == "lsa":
            _drop_volatile(self.lsa_)
        dense = np.hstack([dense.astype(np.float32, copy=False), np.zeros((len(dense), 1), dtype=np.float32)])
        return sparse.csr_matrix(dense)

    def embedding_model(self):
        """The embedding model this transformer was fitted with, checked against its recorded SHA-256."""
        if self.model_key_ == "lsa":
            return LsaModel(self.lsa_, int(self.embedding_["version"].split()[2]))
        recorded = self.embedding_
        try:
            model = load_model(self.model_key_)
        except EmbeddingError as exc:
            raise EmbeddingError(f"This end model uses embedding model {recorded['name']} {recorded['version']} "
                                 f"(sha256 {recorded['sha256'][:12]}...), which cannot be loaded here: {exc}") from None
        if not model.info.same_model(EmbeddingInfo(**recorded)):
            raise EmbeddingError(
                f"This end model was built with embedding model {recorded['name']} {recorded['version']} (sha256 "
                f"{recorded['sha256'][:12]}..., {recorded['dim']}-d); the one here is {model.info.name} "
                f"{model.info.version} (sha256 {model.info.sha256[:12]}..., {model.info.dim}-d) at "
                f"{model.info.source}. "
                f"Install the same version, or rebuild.")
        return model

    def get_feature_names_out(self, input_features=None):
        names = [f"embedding_{i}" for i in range(self.n_features_out_ - 1)] + ["embedding_zero"]
        return np.asarray(names, dtype=object)


def _texts(X) -> list[str]:
    values = X.iloc[:, 0] if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2 else X
    return ["" if not isinstance(v, str) else v for v in list(values)]


def _drop_volatile(pipeline) -> None:
    # sklearn's vectorizers cache id(stop_words), a memory address: same build -> same bytes
    vectorizer = pipeline.named_steps.get("tfidf")
    if vectorizer is not None and hasattr(vectorizer, "_stop_words_id"):
        del vectorizer._stop_words_id


def embedding_parts(pipeline):
    """Every EmbeddingFeatures in a fitted end-model pipeline."""
    features = pipeline.steps[0][1] if getattr(pipeline, "steps", None) else None
    for _, part, _ in getattr(features, "transformers_", []):
        for _, transformer in getattr(part, "transformer_list", []):
            if isinstance(transformer, EmbeddingFeatures):
                yield transformer


def verify_embeddings(pipeline) -> list[dict]:
    """Check every embedding reference of a loaded pipeline against this machine's model (EmbeddingError,
    one line, when it is missing or differs); returns the references."""
    out = []
    for part in embedding_parts(pipeline):
        part.embedding_model()
        out.append(dict(part.embedding_))
    return out
