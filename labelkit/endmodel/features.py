"""Features of the end model: text preparation (shared by fit and predict) and the feature sets
chosen among on dev.

Feature sets (``[end_model] features``):
- ``tfidf``: word 1-2-gram TF-IDF + character 2-5-gram TF-IDF (within word boundaries);
- ``ngrams``: word 1-5-gram counts, the snorkel spam tutorial's features (used there with C = 1e3);
- ``hashing``: word 1-2-gram + character 3-4-gram hashing (no vocabulary: memory fixed by ``n_features``),
  the streaming end model's features (3-4 rather than 2-5 character grams: half the cost per row, the
  same accuracy on the bundled example, benchmarks/endmodel.py);
- ``embeddings``: the text embedded by ``[embeddings] model`` (labelkit/embeddings.py,
  labelkit/endmodel/embedding_features.py): meaning beyond the rules' words;
- ``tfidf+embeddings``: both side by side (measured in benchmarks/embeddings.py).

Relation tasks (rows with ``entity1``, ``entity2`` and their character spans ``span1``, ``span2``, as
WRENCH's semeval/chemprot/spouse sets have them) get one more view, whatever the feature set: the words
between the two entities, which entity comes first, and the entity words (``e1_x``, ``e2_y``).

Texts longer than ``max_text_chars`` are cut there for feature purposes only (the data keep the full text).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FEATURE_SETS = ("tfidf", "ngrams", "hashing", "embeddings", "tfidf+embeddings")
EMBEDDING_SETS = ("embeddings", "tfidf+embeddings")
NO_TEXT = "feature_columns"  # the one feature set of a model without a text column: [data] feature_columns
MAX_TEXT_CHARS = 20_000  # one 50 MB field must not decide the memory of a build
HASHING_FEATURES = 2 ** 20
RELATION_COLUMNS = ("entity1", "entity2", "span1", "span2")
RELATION_VIEW = "__relation__"  # derived column (never in the data)


def is_relation_frame(frame: pd.DataFrame) -> bool:
    """Rows carry two entities and their [start, end) character spans in the text."""
    if not set(RELATION_COLUMNS) <= set(frame.columns) or not len(frame):
        return False
    return all(_is_span(v) for v in frame["span1"].head(20)) and all(_is_span(v) for v in frame["span2"].head(20))


def _is_span(value) -> bool:
    return isinstance(value, (list, tuple, np.ndarray)) and len(value) == 2


def relation_view(frame: pd.DataFrame, texts, max_text_chars: int) -> list[str]:
    out = []
    for text, s1, s2, e1, e2 in zip(texts, frame["span1"], frame["span2"], frame["entity1"], frame["entity2"]):
        if not (_is_span(s1) and _is_span(s2)):
            out.append("")
            continue
        (a, b), first = sorted([(int(s1[0]), int(s1[1])), (int(s2[0]), int(s2[1]))]), int(s1[0]) <= int(s2[0])
        words = " ".join([f"e1_{w}" for w in str(e1).lower().split()] + [f"e2_{w}" for w in str(e2).lower().split()])
        out.append(f"{'e1first' if first else 'e2first'} {text[a[1]:b[0]][:max_text_chars]} {words}")
    return out


def prepare_frame(frame: pd.DataFrame, text_column: str, *, max_text_chars: int = MAX_TEXT_CHARS,
                  row_names=None, relation: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """The frame with its text as strings ('' for missing) cut at `max_text_chars` (+ the relation
    view if `relation`), and the names of the rows that were cut (from `row_names`, else the index)."""
    out = frame.copy(deep=False)
    text = frame[text_column]
    missing = text.isna().to_numpy()
    values = np.where(missing, "", text.astype(str).to_numpy()) if missing.any() else text.astype(str).to_numpy()
    if relation:
        out[RELATION_VIEW] = relation_view(frame, values, max_text_chars)
    lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    long_rows = np.flatnonzero(lengths > max_text_chars)
    if long_rows.size:
        values = values.copy()
        for i in long_rows:
            values[i] = values[i][:max_text_chars]
    out[text_column] = pd.Series(values, index=frame.index, dtype=object)
    names = list(row_names) if row_names is not None else list(frame.index)
    return out, [str(names[i]) for i in long_rows]


def text_vectorizers(name: str, *, max_features: int, min_df: int = 2) -> list[tuple[str, object]]:
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer

    if name == "tfidf":
        return [
            ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, sublinear_tf=True, max_features=max_features,
                                      lowercase=True, strip_accents="unicode", dtype=np.float32)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=min_df, sublinear_tf=True,
                                      max_features=max_features, lowercase=True, dtype=np.float32)),
        ]
    if name == "ngrams":
        return [("words", CountVectorizer(ngram_range=(1, 5), min_df=min_df, max_features=max_features,
                                          lowercase=True, dtype=np.float32))]
    if name in EMBEDDING_SETS:
        from labelkit.endmodel.embedding_features import EmbeddingFeatures

        words = text_vectorizers("tfidf", max_features=max_features, min_df=min_df) if name != "embeddings" else []
        return words + [("embedding", EmbeddingFeatures.from_active_setting())]
    if name == "hashing":
        half = HASHING_FEATURES // 2
        return [
            ("words", HashingVectorizer(ngram_range=(1, 2), n_features=half, alternate_sign=False,
                                        strip_accents="unicode", dtype=np.float32)),
            ("chars", HashingVectorizer(analyzer="char_wb", ngram_range=(3, 4), n_features=half,
                                        alternate_sign=False, dtype=np.float32)),
        ]
    raise ValueError(f"unknown feature set {name!r}")


def build_features(name: str, text_column: str, numeric: list[str], categorical: list[str], *,
                   max_features: int, min_df: int = 2, text: bool = True, relation: bool = False):
    """A ColumnTransformer: the text feature set `name` (unless `text` is False) + the relation view
    (if `relation`) + scaled numeric columns + one-hot categorical columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts: list[tuple[str, Any, Any]] = []  # ColumnTransformer's (name, transformer, columns)
    if text:
        parts.append(("text", FeatureUnion(text_vectorizers(name, max_features=max_features, min_df=min_df)), text_column))
    if relation:  # single-letter words between entities ("a", "s") matter here: \w+ tokens
        view = (HashingVectorizer(ngram_range=(1, 3), token_pattern=r"(?u)\b\w+\b", n_features=2 ** 18,
                                  alternate_sign=False, dtype=np.float32) if name == "hashing" else
                TfidfVectorizer(ngram_range=(1, 3), token_pattern=r"(?u)\b\w+\b", sublinear_tf=True,
                                max_features=max_features, dtype=np.float32))
        parts.append(("relation", FeatureUnion([("between", view)]), RELATION_VIEW))
    if numeric:
        parts.append(("numeric", StandardScaler(), numeric))
    if categorical:
        parts.append(("categorical", OneHotEncoder(handle_unknown="ignore"), categorical))
    if not parts:  # nothing to learn from: a constant feature, so the classifier learns the label balance
        parts.append(("constant", "drop", [text_column] if text_column else []))
    return ColumnTransformer(parts, sparse_threshold=1.0)


def fit_features(name: str, frame: pd.DataFrame, text_column: str, feature_columns: list[str], *,
                 max_features: int, relation: bool = False):
    """Fit a feature set on `frame`; texts with too few shared terms (e.g. unique numbers) fall back to
    min_df=1, and texts with no terms at all to the other feature columns alone.
    Returns (features, X, note or None)."""
    numeric, categorical = split_feature_columns(frame, feature_columns)
    attempts = [(2, True, None),
                (1, True, "the texts share too few terms for min_df=2; every term is kept (min_df=1)"),
                (1, False, "the texts hold no terms to learn from; the end model uses the other feature columns only")]
    if name in ("hashing", "embeddings"):  # no vocabulary to prune
        attempts = attempts[:1]
    if not text_column:  # rows without text: the feature columns are all there is
        attempts = [(1, False, None)]
    for min_df, text, note in attempts:
        features = build_features(name, text_column, numeric, categorical, max_features=max_features,
                                  min_df=min_df, text=text, relation=relation)
        try:
            return features, features.fit_transform(frame), note
        except ValueError as exc:
            if not any(m in str(exc) for m in ("no terms remain", "empty vocabulary", "max_df corresponds to <")):
                raise  # the last: fewer train rows than min_df (one row left after the audit)
    raise AssertionError("unreachable: the last attempt has no vocabulary")


CODE_MAX_VALUES = 20  # an integer feature column with at most this many distinct values holds codes


def split_feature_columns(frame: pd.DataFrame, columns: list[str]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns: numbers are scaled, everything else is one-hot, and so
    is an integer column with at most CODE_MAX_VALUES distinct values in `frame`: such columns hold
    codes (WRENCH mushroom's 22 columns are categories such as odor 0..8), where one weight on the code
    number means nothing. Measured on mushroom (labelkit build --wrench, same labels): end model 96.3%
    test accuracy with the codes scaled, 98.8% one-hot (98.7% both); census's 0/1 columns are floats and
    scaled, which for two values is the same model."""
    numeric = [c for c in columns
               if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    codes = {c for c in numeric if pd.api.types.is_integer_dtype(frame[c]) and frame[c].nunique() <= CODE_MAX_VALUES}
    return [c for c in numeric if c not in codes], [c for c in columns if c not in numeric or c in codes]


def drop_volatile_state(features) -> None:
    """sklearn's vectorizers cache `id(stop_words)`, a memory address: drop it so that the same build
    saves to the same bytes (it is recomputed when needed)."""
    for _, part, _ in getattr(features, "transformers_", []):
        for _, vectorizer in getattr(part, "transformer_list", []):
            if hasattr(vectorizer, "_stop_words_id"):
                del vectorizer._stop_words_id
