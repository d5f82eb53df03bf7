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
# Python's `\s` spelled out (tests check it against every code point): pandas runs a pattern with `\s`
# through Python's `re` row by row, a pattern of plain characters through RE2 over the whole column
_SPACE_CHARS = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SPACE = "[ " + _SPACE_CHARS + "]"
_SPACE_NOT_BLANK = "[" + _SPACE_CHARS + "]"  # whitespace other than " "
_INVISIBLE = "[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
_BREAK = "(?i)<br" + _SPACE + "*/?>"
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&#x27;": "'", "&apos;": "'", "&nbsp;": " "}
_NUMBER = r"\d+(?:[.,]\d+)*"


def normalize_texts(texts: pd.Series) -> pd.Series:
    """NFKC, casefold, collapse whitespace (incl. invisible characters and <br>), trim."""
    s = fold(texts.fillna("").astype(str))  # casefold first: "&AMP;" too
    s = s.str.replace(_INVISIBLE, "", regex=True).str.replace(_BREAK, " ", regex=True)
    for entity, char in _ENTITIES.items():
        s = s.str.replace(entity, char, regex=False)
    s = s.str.replace("&amp;", "&", regex=False)  # last, so "&amp;lt;" stays "&lt;"
    # only runs of 2+ or non-space whitespace: a regex hit per single space costs ~100 bytes of memory each
    return s.str.replace(_SPACE + "{2,}|" + _SPACE_NOT_BLANK, " ", regex=True).str.strip()


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
    s = fold(texts.fillna("").astype(str))
    return by_ascii(s, lambda part: part.str.replace(r"[\W_]+", " ", regex=True)).str.strip()


def fold(texts: pd.Series) -> pd.Series:
    """NFKC, then casefold. An ASCII row is its own NFKC form and its casefold is lower(), which Arrow
    does over the whole column; only the other rows go through Python's unicodedata row by row."""
    return by_ascii(texts, lambda part: part.str.normalize("NFKC").str.casefold(), ascii_op=lambda part: part.str.lower())


def by_ascii(texts: pd.Series, op, *, ascii_op=None) -> pd.Series:
    """`op(texts)`, a str method with a `\\w`, `\\b` or `\\d` pattern, run apart on the ASCII-only rows (pandas
    runs it through RE2 over the whole column there) and on the others (Python's `re`, row by row): the
    same result in the same order, several times faster when most rows are ASCII. `ascii_op`: an
    equivalent of `op` for ASCII rows."""
    ascii_op = ascii_op or op
    ascii_only = texts.str.isascii().fillna(True).to_numpy(dtype=bool)
    if ascii_only.all():
        return ascii_op(texts)
    if not ascii_only.any():
        return op(texts)
    plain = texts.reset_index(drop=True)
    out = pd.concat([ascii_op(plain[ascii_only]), op(plain[~ascii_only])]).sort_index()
    out.index = texts.index
    return out
