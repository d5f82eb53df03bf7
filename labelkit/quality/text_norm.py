"""Text normalisation for duplicate detection: vectorised, so it runs on millions of rows.

Lowercase; HTML tags/entities, URLs and emails become one token each; every number becomes "0";
punctuation and symbols become spaces; whitespace collapses. So "Order #123 late!" and
"order 456 late" are the same text (templated messages differing only in an id are duplicates).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

_HTML_TAG = r"<[^>]{0,200}>"
_HTML_ENTITY = r"&(?:[a-z]{2,8}|#\d{1,6});"
_URL = r"(?:https?://|www\.)\S+"
_EMAIL = r"\S+@\S+\.\S+"


def normalize_texts(texts: pd.Series) -> pd.Series:
    s = texts.fillna("").astype(str).str.lower()
    s = s.str.replace(_HTML_TAG, " ", regex=True).str.replace(_HTML_ENTITY, " ", regex=True)
    s = s.str.replace(_URL, " url ", regex=True).str.replace(_EMAIL, " email ", regex=True)
    s = s.str.replace(r"\d+(?:[.,]\d+)*", " 0 ", regex=True)
    s = s.str.replace(r"[\W_]+", " ", regex=True)
    return s.str.strip()


def text_keys(normalized: pd.Series) -> np.ndarray:
    """64-bit hash per normalised text; empty text maps to 0 so it never counts as a duplicate."""
    keys = pd.util.hash_pandas_object(normalized.reset_index(drop=True), index=False).to_numpy()
    keys = keys.copy()
    keys[keys == 0] = 1  # keep 0 free for "empty"
    keys[(normalized.str.len() == 0).to_numpy()] = 0
    return keys


def simple_lower(texts: pd.Series) -> pd.Series:
    """Lowercase, non-alphanumerics to single spaces (numbers kept): for placeholder matching."""
    return texts.fillna("").astype(str).str.lower().str.replace(r"[\W_]+", " ", regex=True).str.strip()
