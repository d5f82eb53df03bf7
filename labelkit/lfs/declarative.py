"""Declarative LFs for people who do not code: keywords, regular expressions, column conditions.

Each votes one class where it matches and abstains elsewhere, and runs vectorised over a whole
column instead of row by row.
"""
from __future__ import annotations

import ast
import functools
import operator
import re
from typing import Any, Iterable

import numpy as np
import pandas as pd

from labelkit.errors import LabelingFunctionError
from labelkit.lfs.core import LabelingFunction
from labelkit.schema import ABSTAIN


class DeclarativeLF(LabelingFunction):
    """Votes `label` where `mask(batch)` is true."""

    def __init__(self, name: str, label: str, *, column: str | None = None) -> None:
        super().__init__(name, self._row_vote)
        self.func = None  # type: ignore[assignment]  # declarative LFs have no user function; rows go through _row_vote
        if not isinstance(label, str):
            raise LabelingFunctionError(f"LF {name!r}: label must be a class name (str), got {label!r}.")
        self.label = label
        self.column = column

    def mask(self, batch) -> np.ndarray:
        raise NotImplementedError

    def vote_batch(self, batch) -> list:
        return [self.label if hit else ABSTAIN for hit in self.mask(batch)]

    def __call__(self, row, text_column: str = "text"):
        return self._row_vote(row, text_column)

    def vote_row(self, row, text_column: str):
        return self._row_vote(row, text_column)

    def _row_vote(self, row, text_column):
        raise NotImplementedError

    def _texts(self, batch) -> list[str]:
        if self.column is None or self.column == batch.text_column:
            return batch.texts()
        if self.column not in batch.frame.columns:
            raise LabelingFunctionError(
                f"LF {self.name!r} reads column {self.column!r}, which is not in the data; "
                f"columns are: {', '.join(map(str, batch.frame.columns))}."
            )
        return ["" if v is None or v != v else str(v) for v in batch.frame[self.column].tolist()]

    def _row_text(self, row, text_column: str) -> str:
        value = row[self.column or text_column]
        return "" if value is None or value != value else str(value)

    @property
    def source(self) -> str:
        return repr(self)


class RegexLF(DeclarativeLF):
    kind = "regex"

    def __init__(self, name, label, pattern: str, *, column=None, flags: int = re.IGNORECASE) -> None:
        super().__init__(name, label, column=column)
        try:
            self.pattern = re.compile(pattern, flags)
        except re.error as exc:
            raise LabelingFunctionError(f"LF {name!r}: invalid regular expression {pattern!r}: {exc}.") from None

    def mask(self, batch) -> np.ndarray:
        if self._re2 is not None and len(batch):
            return self._arrow_mask(batch)
        search = self.pattern.search
        return np.fromiter((search(t) is not None for t in self._texts(batch)), dtype=bool, count=len(batch))

    def _arrow_mask(self, batch) -> np.ndarray:
        """RE2 over the whole column for ASCII rows (identical semantics there); Python re for the rest."""

        column = self.column or batch.text_column
        texts = batch.arrow_texts(column)
        if texts is None:  # not a string column: the same str() conversion as the row path
            texts = batch.cache_arrow(column, self._texts(batch))
        out = self._re2_hits(texts)
        ambiguous = batch.memo(("re2-ambiguous", column), lambda: _ambiguous_rows(texts))
        if ambiguous.any():
            out = out.copy() if not out.flags.writeable else out
            others = np.flatnonzero(ambiguous)
            search = self.pattern.search
            out[others] = [search(t) is not None for t in texts.take(others).to_pylist()]
        return out

    def _re2_hits(self, texts) -> np.ndarray:
        import pyarrow.compute as pc

        hits = pc.match_substring_regex(texts, pattern=self._re2, ignore_case=self._ignore_case)
        return hits.to_numpy(zero_copy_only=False).astype(bool)

    @property
    def _re2(self) -> str | None:
        if not hasattr(self, "_re2_cache"):
            self._re2_cache = self._re2_pattern()
        return self._re2_cache

    @property
    def _ignore_case(self) -> bool:
        return bool(self.pattern.flags & re.IGNORECASE)

    def _re2_pattern(self) -> str | None:
        return re2_translation(self.pattern)

    def _row_vote(self, row, text_column):
        return self.label if self.pattern.search(self._row_text(row, text_column)) else ABSTAIN

    def __repr__(self) -> str:
        return f"regex({self.label!r}, {self.pattern.pattern!r}, name={self.name!r}, column={self.column!r}, flags={self.pattern.flags})"


class KeywordLF(RegexLF):
    kind = "keywords"

    def __init__(self, name, label, words: Iterable[str], *, column=None, case_sensitive=False) -> None:
        words = [w for w in words]
        if not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise LabelingFunctionError(f"LF {name!r}: keywords must be a non-empty list of non-empty strings.")
        self.words = tuple(words)
        alternatives = "|".join(re.escape(w.strip()) for w in sorted(set(words), key=len, reverse=True))
        pattern = rf"(?<!\w)(?:{alternatives})(?!\w)"
        super().__init__(name, label, pattern, column=column, flags=0 if case_sensitive else re.IGNORECASE)

    def _re2_pattern(self) -> str | None:
        """`(?<!\\w)word(?!\\w)` as consuming boundaries (RE2 has no look-around); same hits on ASCII rows."""
        words = sorted({w.strip() for w in self.words}, key=len, reverse=True)
        if not all(w.isascii() for w in words):
            return None
        alternatives = "|".join("".join(_re2_char(ord(ch)) for ch in w) for w in words)
        return rf"(?:^|[^0-9A-Za-z_])(?:{alternatives})(?:[^0-9A-Za-z_]|$)"

    def __repr__(self) -> str:
        return f"keywords({self.label!r}, {list(self.words)!r}, name={self.name!r}, column={self.column!r}, flags={self.pattern.flags})"


_OPERATORS = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt,
}
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*|`[^`]+`)\s*(>=|<=|==|!=|>|<|not in|in)\s*(.+?)\s*$")


def _parse_conditions(name: str, expression: str) -> list[tuple[str, str, Any]]:
    parts = re.split(r"\s+and\s+", expression.strip())
    conditions = []
    for part in parts:
        match = _CONDITION.match(part)
        if not match:
            raise LabelingFunctionError(
                f"LF {name!r}: cannot read condition {part!r}; write 'column op value' with op one of "
                f"> >= < <= == != in, joined by 'and' (e.g. \"amount > 1000 and country == 'FR'\")."
            )
        column, op, raw = match.groups()
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            raise LabelingFunctionError(
                f"LF {name!r}: value {raw!r} in {part!r} is not a number, a quoted string or a list."
            ) from None
        if op in ("in", "not in") and not isinstance(value, (list, tuple, set)):
            raise LabelingFunctionError(f"LF {name!r}: '{op}' needs a list, got {raw!r}.")
        conditions.append((column.strip("`"), op, value))
    return conditions


class ColumnConditionLF(DeclarativeLF):
    kind = "column"

    def __init__(self, name, label, expression: str) -> None:
        super().__init__(name, label)
        self.expression = expression
        self.conditions = _parse_conditions(name, expression)

    def mask(self, batch) -> np.ndarray:
        frame = batch.frame
        result = np.ones(len(frame), dtype=bool)
        for column, op, value in self.conditions:
            if column not in frame.columns:
                raise LabelingFunctionError(
                    f"LF {self.name!r} tests column {column!r}, which is not in the data; "
                    f"columns are: {', '.join(map(str, frame.columns))}."
                )
            result &= self._column_mask(frame[column], op, value)
        return result

    def _column_mask(self, series: pd.Series, op: str, value) -> np.ndarray:
        if op == "in":
            return series.isin(list(value)).to_numpy(dtype=bool)
        if op == "not in":
            return (~series.isin(list(value)) & series.notna()).to_numpy(dtype=bool)
        try:
            out = _OPERATORS[op](series, value)
        except TypeError:
            raise LabelingFunctionError(
                f"LF {self.name!r}: cannot compare column {series.name!r} ({series.dtype}) with {value!r}."
            ) from None
        return out.fillna(False).to_numpy(dtype=bool)

    def _row_vote(self, row, text_column):
        for column, op, value in self.conditions:
            cell = row[column]
            if cell is None or (isinstance(cell, float) and cell != cell):
                return ABSTAIN
            hit = (cell in value) if op == "in" else (cell not in value) if op == "not in" else _OPERATORS[op](cell, value)
            if not hit:
                return ABSTAIN
        return self.label

    def __repr__(self) -> str:
        return f"column_condition({self.label!r}, {self.expression!r}, name={self.name!r})"


def keywords(label: str, words: Iterable[str], *, name: str, column: str | None = None,
             case_sensitive: bool = False) -> KeywordLF:
    """Vote `label` when any of `words` occurs as a whole word (case-insensitive by default)."""
    return KeywordLF(name, label, words, column=column, case_sensitive=case_sensitive)


def regex(label: str, pattern: str, *, name: str, column: str | None = None,
          flags: int = re.IGNORECASE) -> RegexLF:
    """Vote `label` when the Python regular expression `pattern` is found (case-insensitive by default)."""
    return RegexLF(name, label, pattern, column=column, flags=flags)


def column_condition(label: str, expression: str, *, name: str) -> ColumnConditionLF:
    """Vote `label` when every condition holds, e.g. `"amount > 1000 and country == 'FR'"`."""
    return ColumnConditionLF(name, label, expression)


# --- RE2 fast path (pyarrow.compute) ---------------------------------------------------------------
# pyarrow's regex kernels run RE2, which reads many patterns it accepts differently from Python re
# (`\s` misses \x0b, `x{,2}` is a literal, `a$` misses "a\n", `[[:alpha:]]` is a POSIX class, `\B`
# matches ""). So a pattern goes to RE2 only when it is made entirely of the tokens below, which mean
# the same in both engines on rows without ambiguous characters (see _ambiguous_class); a few are
# re-spelled for RE2. Anything else (look-around, back-references, named groups, inline flags,
# non-ASCII literals, flags other than IGNORECASE/ASCII, `$` before more pattern) keeps Python re.
# Only public APIs: the pattern text is read with `re`, and RE2 itself confirms it compiles.

_SPACE_ASCII = r"\t\n\x{0b}\f\r \x{1c}-\x{1f}"  # what Python's \s matches among ASCII characters
_SPACE_ASCII_FLAG = r"\t\n\x{0b}\f\r "  # ... and under re.ASCII
_MAX_RE2_REPEAT = 1000
_PUNCT = r"!-/:-@\[-`{-~"  # ASCII punctuation, as a class body
_TOKEN = re.compile(
    r"(?P<literal>[A-Za-z0-9 _,;:'\"<>=!@#%&~`/-])|(?P<escaped>\\[" + _PUNCT + r"])"
    r"|(?P<same>\\[dDwWtnrf])|(?P<assert>\\[bA]|\^)|(?P<space>\\[sS])|(?P<end_string>\\Z)|(?P<end>\$\Z)"
    r"|(?P<open>\((?:\?:)?)|(?P<close>\))|(?P<alt>\|)|(?P<dot>\.)"
    r"|(?P<set>\[(?P<negate>\^?)(?P<body>(?:\\[" + _PUNCT + r"A-Za-z]|[^\\\[\]])+)\])"
    r"|(?P<repeat>(?:[*+?]|\{(?P<low>\d+)(?:,(?P<high>\d*))?\})\??)"
)
_SET_ATOM = r"[^\\\[\]-]|\\[" + _PUNCT + "]"
_SET_ITEM = re.compile(
    rf"(?P<low>{_SET_ATOM})-(?P<high>{_SET_ATOM})|(?P<atom>{_SET_ATOM})|(?P<same>\\[dDwWtnrf])|(?P<space>\\s)")
_REPEATABLE = {"literal", "escaped", "same", "space", "close", "dot", "set"}


def _ambiguous_rows(texts) -> np.ndarray:
    """Rows holding a character on which Python re and the RE2 spelling could disagree."""
    import pyarrow.compute as pc

    found = pc.match_substring_regex(texts, pattern=_ambiguous_class())
    return found.to_numpy(zero_copy_only=False).astype(bool, copy=False)


@functools.lru_cache(maxsize=1)
def _ambiguous_class() -> str:
    """RE2 class of the non-ASCII characters that are word characters, digits or whitespace in Python,
    or are case variants of ASCII letters (K KELVIN SIGN, LATIN SMALL LETTER LONG S, ...)."""

    def ambiguous(ch: str) -> bool:
        return ch.isalnum() or ch.isspace() or ch.upper().isascii() or ch.lower().isascii()

    ranges, start = [], None
    for code in range(0x80, 0x110000):
        flag = not (0xD800 <= code <= 0xDFFF) and ambiguous(chr(code))
        if flag and start is None:
            start = code
        elif not flag and start is not None:
            ranges.append((start, code - 1))
            start = None
    if start is not None:
        ranges.append((start, 0x10FFFF))
    return "[" + "".join("\\x{%x}-\\x{%x}" % pair for pair in ranges) + "]"


class _Untranslatable(Exception):
    pass


def re2_translation(compiled: re.Pattern) -> str | None:
    """An RE2 pattern with the same matches as `compiled` on rows without ambiguous characters, or None."""
    allowed = re.IGNORECASE | re.UNICODE | re.ASCII
    if not isinstance(compiled.pattern, str) or compiled.flags & ~allowed or not compiled.pattern.isascii():
        return None
    try:
        pattern = _re2_spelling(compiled.pattern, _SPACE_ASCII_FLAG if compiled.flags & re.ASCII else _SPACE_ASCII)
    except _Untranslatable:
        return None
    return pattern if _re2_accepts(pattern, bool(compiled.flags & re.IGNORECASE)) else None


def _re2_spelling(pattern: str, space: str) -> str:
    out, previous, pos = [], None, 0
    while pos < len(pattern):
        token = _TOKEN.match(pattern, pos)
        if token is None:
            raise _Untranslatable
        kind, text = token.lastgroup, token.group()
        assert kind is not None  # every alternative of _TOKEN is a named group
        if kind == "repeat":
            bounds = [int(b) for b in (token["low"], token["high"]) if b]
            if previous not in _REPEATABLE or max(bounds, default=0) > _MAX_RE2_REPEAT:
                raise _Untranslatable  # a possessive `*+`, a repeat of an assertion, `{1001}`, ...
        out.append(_re2_token(kind, text, token, space))
        previous, pos = kind, token.end()
    return "".join(out)


def _re2_token(kind: str, text: str, token: re.Match, space: str) -> str:
    if kind in ("literal", "escaped"):
        return _re2_char(ord(text[-1]))
    if kind == "space":
        return ("[" if text == r"\s" else "[^") + space + "]"
    if kind == "set":
        return "[" + token["negate"] + _re2_set_body(token["body"], space) + "]"
    if kind == "open":
        return "(?:"
    return {"end_string": r"\z", "end": r"(?:\n?\z)"}.get(kind, text)  # `$` at the very end only


def _re2_set_body(body: str, space: str) -> str:
    """Ranges and single characters, `\\d \\w \\s` and their negations (not `\\S`); `-` only first or last."""
    parts = []
    if body.startswith("-"):
        parts.append(_re2_char(ord("-")))
        body = body[1:]
    tail = _re2_char(ord("-")) if body.endswith("-") and not body.endswith("\\-") else ""
    body = body[:-1] if tail else body
    pos = 0
    while pos < len(body):
        item = _SET_ITEM.match(body, pos)
        if item is None:
            raise _Untranslatable
        if item["low"]:
            parts.append(_re2_char(ord(item["low"][-1])) + "-" + _re2_char(ord(item["high"][-1])))
        elif item["atom"]:
            parts.append(_re2_char(ord(item["atom"][-1])))
        else:
            parts.append(space if item["space"] else item["same"])
        pos = item.end()
    if not parts and not tail:
        raise _Untranslatable
    return "".join(parts) + tail


@functools.lru_cache(maxsize=256)
def _re2_accepts(pattern: str, ignore_case: bool) -> bool:
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        pc.match_substring_regex(pa.array([""], type=pa.string()), pattern=pattern, ignore_case=ignore_case)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _re2_char(code: int) -> str:
    if code >= 128:
        raise _Untranslatable
    ch = chr(code)
    return ch if ch.isalnum() else "\\x{%02x}" % code
