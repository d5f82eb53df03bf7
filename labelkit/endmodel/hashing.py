"""Hashing features computed faster for training, equal to scikit-learn's.

`HashingVectorizer` builds every word / character n-gram string of every row in Python and hashes
it: about 3,000 rows/s for the streaming end model's features, most of a streaming fit. A text's
n-grams are made of its words, and words repeat: `FastHashingVectorizer` hashes each *distinct* word
(and word pair) of a batch once and adds the rows up with sparse products, ~6x faster, with the same
matrix (tests/pipeline/test_build_scale_paths.py checks equality). It is used only while training
(`fast_featurizer` swaps it into a copy of the fitted features); the saved model keeps scikit-learn's
own `HashingVectorizer`, so a model file names only trusted types and predicts the same.
"""
from __future__ import annotations

import copy

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer


class FastHashingVectorizer(HashingVectorizer):
    """HashingVectorizer.transform by distinct words (analyzer "char_wb", or "word" with n-grams up
    to 2, default tokenizer and preprocessing); any other setting falls back to scikit-learn's."""

    def transform(self, X):
        if not self._fast_ok() or isinstance(X, str):
            return super().transform(X)
        docs = list(X)
        if not all(isinstance(doc, str) for doc in docs):
            return super().transform(docs)
        return self._finish(self._char_wb(docs) if self.analyzer == "char_wb" else self._words(docs))

    def _fast_ok(self) -> bool:
        simple = (self.input == "content" and self.preprocessor is None and self.tokenizer is None
                  and self.stop_words is None and not callable(self.analyzer))
        if self.analyzer == "char_wb":
            return simple
        return simple and self.analyzer == "word" and self.ngram_range[0] == 1 and self.ngram_range[1] <= 2

    def _char_wb(self, docs):
        """Rows x distinct words (counts) @ distinct words x hashed character n-grams (counts)."""
        pre = self.build_preprocessor()
        A, vocab, _, _ = _counts([pre(doc).split() for doc in docs])
        return A @ self._hash(self._char_wb_ngrams(w) for w in vocab)

    def _words(self, docs):
        pre, tokenize = self.build_preprocessor(), self.build_tokenizer()
        A, vocab, ids, row_of = _counts([tokenize(pre(doc)) for doc in docs])
        X = A @ self._hash([w] for w in vocab)
        first = np.flatnonzero(row_of[:-1] == row_of[1:])  # token positions followed by one of the same row
        if self.ngram_range[1] == 2 and len(first):  # word pairs, " ".join of the two tokens
            pairs, inverse = np.unique(ids[first] * len(vocab) + ids[first + 1], return_inverse=True)
            B = _sparse_counts(row_of[first], inverse.reshape(-1), (len(docs), len(pairs)), self.dtype)
            X = X + B @ self._hash([f"{vocab[p // len(vocab)]} {vocab[p % len(vocab)]}"] for p in pairs)
        return X

    def _hash(self, features):
        return self._get_hasher().transform(features)

    def _finish(self, X):
        from sklearn.preprocessing import normalize

        X = X.tocsr().astype(self.dtype, copy=False)
        X.sum_duplicates()
        X.sort_indices()
        if self.binary:
            X.data.fill(1)
        return normalize(X, norm=self.norm, copy=False) if self.norm is not None else X


def _counts(token_lists):
    """(rows x vocabulary counts, the vocabulary, each token's id in order, each token's row)."""
    from itertools import chain

    import pandas as pd
    import scipy.sparse as sp

    lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    flat = np.fromiter(chain.from_iterable(token_lists), dtype=object, count=int(lengths.sum()))
    ids, vocab = pd.factorize(flat) if len(flat) else (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))
    ids = ids.astype(np.int64)
    starts = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    A = sp.csr_matrix((np.ones(len(ids), dtype=np.float32), ids, starts), shape=(len(token_lists), len(vocab)))
    return A, list(vocab), ids, np.repeat(np.arange(len(token_lists)), lengths)


def _sparse_counts(rows, cols, shape, dtype):
    import scipy.sparse as sp

    return sp.csr_matrix((np.ones(len(rows), dtype=dtype), (rows, cols)), shape=shape)


def fast_featurizer(featurizer):
    """A copy of a fitted ColumnTransformer whose HashingVectorizers (inside FeatureUnions) are
    FastHashingVectorizers with the same parameters: the same transform, faster."""
    fast = copy.deepcopy(featurizer)
    for _, part, _ in getattr(fast, "transformers_", []):
        parts = getattr(part, "transformer_list", None)
        if parts is None:
            continue
        for i, (name, vectorizer) in enumerate(parts):
            if type(vectorizer) is HashingVectorizer:
                parts[i] = (name, FastHashingVectorizer(**vectorizer.get_params()))
    return fast
