"""Declarative LFs for people who do not code: keywords, regular expressions, column conditions.

Each votes one class where it matches and abstains elsewhere, and runs vectorised over a whole
column instead of row by row.
"""
from __future__ import annotations

import ast
import functools
import operator
import re
from typing import Iterable

import numpy as np
import pandas as pd

from labelkit.errors import LabelingFunctionError
from labelkit.lfs.core import LabelingFunction
from labelkit.schema import ABSTAIN


class DeclarativeLF(LabelingFunction):
    """Votes `label` where `mask(batch)` is true."""

    def __init__(self, name: str, label: str, *, column: str | None = None) -> None:
        super().__init__(name, self._row_vote)
        self.func = None  # declarative LFs have no user function; rows go through _row_vote
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


def _parse_conditions(name: str, expression: str) -> list[tuple[str, str, object]]:
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


# --- RE2 translation (pyarrow.compute) -------------------------------------------------------------
# A Python pattern is run through RE2 only on rows made of ASCII characters and of non-ASCII characters
# that both engines treat alike under the translation (not word characters, not digits, not whitespace,
# no case relation to ASCII: emoji, punctuation such as ’ or …, a byte-order mark, ...), and only when
# every construct in it means the same thing in both engines there; other rows go through Python re.
# Anything untranslatable anything else (look-around, back-references, `$`, flags other than
# IGNORECASE, non-ASCII literals) keeps Python re. The pattern is re-emitted from Python's own parse
# tree, so Python-only syntax such as `{,3}` cannot be misread by RE2.

_SPACE_ASCII = r"\t\n\x{0b}\f\r \x{1c}-\x{1f}"  # what Python's \s matches among ASCII characters
_MAX_RE2_REPEAT = 1000


def _ambiguous_rows(texts) -> np.ndarray:
    """Rows holding a character on which Python re and the RE2 translation could disagree."""
    import pyarrow.compute as pc

    found = pc.match_substring_regex(texts, pattern=_ambiguous_class())
    return found.to_numpy(zero_copy_only=False).astype(bool, copy=False)


@functools.lru_cache(maxsize=1)
def _ambiguous_class() -> str:
    """RE2 class of the non-ASCII characters that are word characters, digits or whitespace in Python,
    or are case variants of ASCII letters (K KELVIN SIGN, LATIN SMALL LETTER LONG S, ...)."""
    import _sre

    def ambiguous(code: int) -> bool:
        ch = chr(code)
        return (ch.isalnum() or ch.isspace() or _sre.unicode_tolower(code) < 128
                or ch.upper().isascii() or ch.lower().isascii())

    ranges, start = [], None
    for code in range(0x80, 0x110000):
        flag = not (0xD800 <= code <= 0xDFFF) and ambiguous(code)
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
    """An RE2 pattern with the same matches as `compiled` on ASCII text, or None when there is none."""
    allowed = re.IGNORECASE | re.UNICODE | re.ASCII
    if not isinstance(compiled.pattern, str) or compiled.flags & ~allowed:
        return None
    try:
        from re import _parser

        items = list(_parser.parse(compiled.pattern, compiled.flags))
        return _emit_sequence(items[:-1]) + _emit_last(*items[-1]) if items else ""
    except (_Untranslatable, re.error, ImportError, AttributeError, TypeError, ValueError):
        return None


def _re2_char(code: int) -> str:
    if code >= 128:
        raise _Untranslatable
    ch = chr(code)
    return ch if ch.isalnum() else "\\x{%02x}" % code


def _emit_last(op, arg) -> str:
    """A final `$` may match before one trailing newline: nothing follows it, so consume that newline."""
    from re import _constants as c

    if op is c.AT and arg is c.AT_END:
        return r"(?:\n?\z)"
    return _emit(op, arg)


def _emit_sequence(items) -> str:
    return "".join(_emit(op, arg) for op, arg in items)


def _emit(op, arg) -> str:
    from re import _constants as c

    if op is c.LITERAL:
        return _re2_char(arg)
    if op is c.NOT_LITERAL:
        return "[^" + _re2_char(arg) + "]"
    if op is c.ANY:
        return "."
    if op is c.IN:
        return _emit_class(arg)
    if op is c.BRANCH:
        return "(?:" + "|".join(_emit_sequence(seq) for seq in arg[1]) + ")"
    if op is c.SUBPATTERN:
        _group, add_flags, del_flags, body = arg
        if add_flags or del_flags:
            raise _Untranslatable
        return "(?:" + _emit_sequence(body) + ")"
    if op in (c.MAX_REPEAT, c.MIN_REPEAT):
        low, high, body = arg
        if low > _MAX_RE2_REPEAT or (high is not c.MAXREPEAT and high > _MAX_RE2_REPEAT):
            raise _Untranslatable
        bounds = "{%d,}" % low if high is c.MAXREPEAT else "{%d,%d}" % (low, high)
        return "(?:" + _emit_sequence(body) + ")" + bounds + ("?" if op is c.MIN_REPEAT else "")
    if op is c.AT:
        return _emit_at(arg)
    raise _Untranslatable  # look-around, back-references, atomic groups, ...


def _emit_at(code) -> str:
    from re import _constants as c

    table = {c.AT_BEGINNING: "^", c.AT_BEGINNING_STRING: r"\A", c.AT_BOUNDARY: r"\b",
             c.AT_NON_BOUNDARY: r"\B", c.AT_END_STRING: r"\z"}
    if code not in table:  # `$` before more pattern: its final-newline rule has no RE2 equivalent
        raise _Untranslatable
    return table[code]


def _emit_class(items) -> str:
    from re import _constants as c

    negate = bool(items) and items[0][0] is c.NEGATE
    if negate:
        items = items[1:]
    if len(items) == 1 and items[0] == (c.CATEGORY, c.CATEGORY_NOT_SPACE):
        return ("[" if negate else "[^") + _SPACE_ASCII + "]"
    parts = []
    for op, arg in items:
        if op is c.LITERAL:
            parts.append(_re2_char(arg))
        elif op is c.RANGE:
            parts.append(_re2_char(arg[0]) + "-" + _re2_char(arg[1]))
        elif op is c.CATEGORY:
            categories = {c.CATEGORY_DIGIT: r"\d", c.CATEGORY_NOT_DIGIT: r"\D", c.CATEGORY_WORD: r"\w",
                          c.CATEGORY_NOT_WORD: r"\W", c.CATEGORY_SPACE: _SPACE_ASCII}
            if arg not in categories:
                raise _Untranslatable
            parts.append(categories[arg])
        else:
            raise _Untranslatable
    if not parts:
        raise _Untranslatable
    return "[" + ("^" if negate else "") + "".join(parts) + "]"
