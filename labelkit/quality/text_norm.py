"""Text normalisation for duplicate detection: vectorised, so it runs on millions of rows.

The one normalisation behind exact-duplicate keys and near-duplicate similarity: Unicode NFKC,
casefold, whitespace runs collapsed to one space, trimmed. "Whitespace" includes invisible format
characters (zero-width spaces, the byte-order mark many exported comments end with, soft hyphens)
and HTML line breaks (`<br />`), and the common HTML entities (`&amp;`, `&#39;`, any case) are decoded,
so an HTML-escaped export of a text equals the text. Nothing else: texts that differ in a
number, a URL or punctuation are NOT exact duplicates ("Order #123 late" != "order #456 late";
two different links are two texts). The near-duplicate check may still find them similar, and says
in its evidence when two texts differ only in numbers, URLs or punctuation (`loose_texts`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

_URL = r"(?:https?://|www\.)\S+"
_INVISIBLE = "[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
_BREAK = r"(?i)<br\s*/?>"
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&#x27;": "'", "&apos;": "'", "&nbsp;": " "}
_NUMBER = r"\d+(?:[.,]\d+)*"


def normalize_texts(texts: pd.Series) -> pd.Series:
    """NFKC, casefold, collapse whitespace (incl. invisible characters and <br>), trim."""
    s = texts.fillna("").astype(str).str.normalize("NFKC").str.casefold()  # casefold first: "&AMP;" too
    s = s.str.replace(_INVISIBLE, "", regex=True).str.replace(_BREAK, " ", regex=True)
    for entity, char in _ENTITIES.items():
        s = s.str.replace(entity, char, regex=False)
    s = s.str.replace("&amp;", "&", regex=False)  # last, so "&amp;lt;" stays "&lt;"
    # only runs of 2+ or non-space whitespace: a regex hit per single space costs ~100 bytes of memory each
    return s.str.replace(r"\s{2,}|[^\S ]", " ", regex=True).str.strip()


def loose_texts(normalized: pd.Series) -> pd.Series:
    """For evidence only: URLs -> "url", numbers -> "0", punctuation dropped."""
    s = normalized.str.replace(_URL, " url ", regex=True).str.replace(_NUMBER, " 0 ", regex=True)
    return s.str.replace(r"[\W_]+", " ", regex=True).str.strip()


def text_keys(normalized: pd.Series) -> np.ndarray:
    """64-bit hash per normalised text; empty text maps to 0 so it never counts as a duplicate."""
    keys = pd.util.hash_pandas_object(normalized.reset_index(drop=True), index=False).to_numpy()
    keys = keys.copy()
    keys[keys == 0] = 1  # keep 0 free for "empty"
    keys[(normalized.str.len() == 0).to_numpy()] = 0
    return keys


def simple_lower(texts: pd.Series) -> pd.Series:
    """Lowercase, non-alphanumerics to single spaces (numbers kept): for placeholder matching."""
    s = texts.fillna("").astype(str).str.normalize("NFKC").str.casefold()
    return s.str.replace(r"[\W_]+", " ", regex=True).str.strip()
