"""A small, safe grammar for column conditions in rules files. Nothing is ever `eval`-ed.

    condition  := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" or ")" | comparison
    comparison := column op value | column ["not"] "in" list | column "is" ["not"] "missing"
                | column ["not"] "contains" string
    op         := == != < <= > >=
    column     := name | `any name in backticks`
    value      := number | 'text' | "text" | true | false

A number compares numerically (cells that are not numbers never match); text compares as text.
A missing cell matches nothing except `is missing` (and `not (...)` of a comparison).

>>> import pandas as pd
>>> cond = parse_condition("amount > 1000 and (country == 'FR' or country == 'BE')")
>>> sorted(cond.columns())
['amount', 'country']
>>> cond.mask(pd.DataFrame({"amount": [2000, 5, 3000], "country": ["FR", "FR", "US"]})).tolist()
[True, False, False]
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labelkit.errors import LabelingFunctionError

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<quoted>`[^`]+`)
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
    | (?P<word>[A-Za-z_][\w.]*)
    )""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "in", "is", "missing", "contains", "true", "false"}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}


class ConditionError(LabelingFunctionError):
    """A condition that does not follow the grammar; the message says where."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ConditionError(f"cannot read {text[pos:].strip()[:20]!r} at character {pos + 1}")
        kind = match.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        value, start = match.group(kind), match.start(kind)
        if kind == "word" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        tokens.append(_Token(kind, value, start))
        pos = match.end()
    return tokens


# ---------------------------------------------------------------- nodes (vectorised and per row)

class _Node:
    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def row(self, row) -> bool:
        raise NotImplementedError

    def columns(self) -> set[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class _Compare(_Node):
    column: str
    op: str  # ==, !=, <, ..., in, not in, contains, not contains, missing, not missing
    value: Any = None  # a str or number; a tuple of them for in / not in; None for missing

    def columns(self) -> set[str]:
        return {self.column}

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        series = frame[self.column]
        present = series.notna().to_numpy(dtype=bool)
        if self.op in ("missing", "not missing"):
            return ~present if self.op == "missing" else present
        if self.op in ("in", "not in"):
            hit = _as_text_or_number(series, self.value[0] if self.value else "").isin(list(self.value))
            hit = hit.to_numpy(dtype=bool)
            return (hit if self.op == "in" else ~hit) & present
        if self.op in ("contains", "not contains"):
            text = series.astype(str).str.lower()
            hit = text.str.contains(str(self.value).lower(), regex=False).to_numpy(dtype=bool)
            return (hit if self.op == "contains" else ~hit) & present
        values = _as_text_or_number(series, self.value)
        with np.errstate(invalid="ignore"):
            out = _COMPARE[self.op](values, self.value)
        return out.fillna(False).to_numpy(dtype=bool) & values.notna().to_numpy(dtype=bool)

    def row(self, row) -> bool:
        cell = row[self.column]
        missing = cell is None or (isinstance(cell, float) and cell != cell) or cell is pd.NA
        if self.op in ("missing", "not missing"):
            return missing if self.op == "missing" else not missing
        if missing:
            return False
        if self.op in ("contains", "not contains"):
            hit = str(self.value).lower() in str(cell).lower()
            return hit if self.op == "contains" else not hit
        if self.op in ("in", "not in"):
            probe = self.value[0] if self.value else ""
            converted = _cell_as(cell, probe)
            hit = converted is not None and converted in self.value
            return hit if self.op == "in" else not hit
        converted = _cell_as(cell, self.value)
        return converted is not None and bool(_COMPARE[self.op](converted, self.value))


@dataclass(frozen=True)
class _Not(_Node):
    inner: _Node

    def columns(self):
        return self.inner.columns()

    def mask(self, frame):
        return ~self.inner.mask(frame)

    def row(self, row):
        return not self.inner.row(row)


@dataclass(frozen=True)
class _Bool(_Node):
    op: str  # and | or
    parts: tuple

    def columns(self):
        return set().union(*(p.columns() for p in self.parts))

    def mask(self, frame):
        masks = [p.mask(frame) for p in self.parts]
        return np.logical_and.reduce(masks) if self.op == "and" else np.logical_or.reduce(masks)

    def row(self, row):
        results = (p.row(row) for p in self.parts)
        return all(results) if self.op == "and" else any(results)


def _as_text_or_number(series: pd.Series, value) -> pd.Series:
    """The column as numbers when the value is a number (non-numbers -> missing), else as text."""
    if isinstance(value, bool):
        return series.map(lambda v: v if isinstance(v, bool) else str(v).lower() == "true" if v == v and v is not None else None)
    if isinstance(value, (int, float)):
        return pd.to_numeric(series, errors="coerce")
    return series.map(lambda v: None if v is None or v != v else str(v))


def _cell_as(cell, value):
    if isinstance(value, bool):
        return cell if isinstance(cell, bool) else str(cell).lower() == "true"
    if isinstance(value, (int, float)):
        try:
            number = float(cell)
        except (TypeError, ValueError):
            return None
        return None if number != number else number
    return str(cell)


# ---------------------------------------------------------------- parser

class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def parse(self) -> _Node:
        if not self.tokens:
            raise ConditionError("the condition is empty")
        node = self._or()
        if self.i < len(self.tokens):
            token = self.tokens[self.i]
            raise ConditionError(f"unexpected {token.text!r} at character {token.pos + 1}")
        return node

    def _peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self, *texts: str) -> _Token | None:
        token = self._peek()
        if token is not None and token.kind in ("keyword", "op") and token.text in texts:
            self.i += 1
            return token
        return None

    def _expect(self, text: str) -> None:
        if self._take(text) is None:
            raise ConditionError(f"expected {text!r} {self._where()}")

    def _where(self) -> str:
        token = self._peek()
        return f"at character {token.pos + 1} (found {token.text!r})" if token else "at the end"

    def _or(self) -> _Node:
        parts = [self._and()]
        while self._take("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else _Bool("or", tuple(parts))

    def _and(self) -> _Node:
        parts = [self._not()]
        while self._take("and"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else _Bool("and", tuple(parts))

    def _not(self) -> _Node:
        if self._take("not"):
            return _Not(self._not())
        if self._take("("):
            node = self._or()
            self._expect(")")
            return node
        return self._comparison()

    def _comparison(self) -> _Node:
        token = self._peek()
        if token is None or token.kind not in ("word", "quoted"):
            raise ConditionError(f"expected a column name {self._where()}")
        self.i += 1
        column = token.text.strip("`")
        if self._take("is"):
            negate = self._take("not") is not None
            self._expect("missing")
            return _Compare(column, "not missing" if negate else "missing")
        negate = self._take("not") is not None
        if self._take("in"):
            return _Compare(column, "not in" if negate else "in", self._list())
        if self._take("contains"):
            value = self._value()
            return _Compare(column, "not contains" if negate else "contains", str(value))
        if negate:
            raise ConditionError(f"expected 'in' or 'contains' after 'not' {self._where()}")
        op = self._take(*_COMPARE)
        if op is None:
            raise ConditionError(f"expected an operator (== != < <= > >= in contains is) after {column!r} {self._where()}")
        return _Compare(column, op.text, self._value())

    def _list(self) -> tuple:
        self._expect("[")
        values = [self._value()]
        while self._take(","):
            values.append(self._value())
        self._expect("]")
        kinds = {isinstance(v, str) for v in values}
        if len(kinds) > 1:
            raise ConditionError("a list must hold only numbers or only texts")
        return tuple(values)

    def _value(self):
        token = self._peek()
        if token is None:
            raise ConditionError("expected a value at the end")
        self.i += 1
        if token.kind == "number":
            number = float(token.text)
            return int(number) if number.is_integer() and re.fullmatch(r"-?\d+", token.text) else number
        if token.kind == "string":
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "keyword" and token.text in ("true", "false"):
            return token.text == "true"
        raise ConditionError(f"expected a number, a quoted text, true or false at character {token.pos + 1} "
                             f"(found {token.text!r}; quote texts: 'FR')")


def parse_condition(text: str) -> _Node:
    """The parsed condition (raises ConditionError saying where it does not follow the grammar)."""
    if not isinstance(text, str):
        raise ConditionError(f"a condition must be text, got {text!r}")
    return _Parser(text).parse()
