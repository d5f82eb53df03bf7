"""A chunk of rows as LFs see it: lazily built row objects and spaCy docs, each built once."""
from __future__ import annotations

import threading
from collections import namedtuple
from typing import Any

import pandas as pd


def _row_class(columns: list[str]):
    """A namedtuple subclass with attribute access (row.text) and item access (row["text"])."""
    # names that are not identifiers (`routing code`, `_x`, `class`) get positional field names (`_0`); they
    # stay reachable as row["routing code"] and getattr(row, "routing code")
    base = namedtuple("Row", columns, rename=True)  # type: ignore[misc]  # the fields are the frame's columns
    position = {c: i for i, c in enumerate(columns)}

    class Row(base):
        __slots__ = ()

        def __getitem__(self, key):
            if isinstance(key, str):
                return tuple.__getitem__(self, position[key])
            return tuple.__getitem__(self, key)

        def __getattr__(self, key):  # columns whose names are not identifiers
            try:
                return tuple.__getitem__(self, position[key])
            except KeyError:
                raise AttributeError(f"row has no column {key!r}; columns are: {', '.join(columns)}") from None

        def get(self, key, default=None):
            i = position.get(key)
            return default if i is None else tuple.__getitem__(self, i)

        def keys(self):
            return list(columns)

    return Row


class Batch:
    """Rows of one DataFrame chunk plus caches shared by all LFs applied to it."""

    def __init__(self, frame: pd.DataFrame, *, text_column: str | None, parser=None) -> None:
        self.frame = frame
        self.text_column = text_column
        self.parser = parser
        self._rows: list | None = None
        self._docs: list | None = None
        self._texts: list[str] | None = None
        self._arrow: dict[str, object] = {}
        self._memo: dict = {}
        self._lock = threading.RLock()  # LFs may run on threads: each cache is built once

    def __len__(self) -> int:
        return len(self.frame)

    def rows(self) -> list:
        with self._lock:
            if self._rows is None:
                Row = _row_class([str(c) for c in self.frame.columns])
                columns = [self.frame[c].tolist() for c in self.frame.columns]
                self._rows = [Row._make(values) for values in zip(*columns)] if columns else []
            return self._rows

    def texts(self) -> list[str]:
        with self._lock:
            if self._texts is None:
                values = self.frame[self.text_column].tolist()
                self._texts = ["" if _is_missing(v) else str(v) for v in values]
            return self._texts

    def arrow_texts(self, column: str):
        """The column as a pyarrow string array (missing -> ""), or None when it is not a string column."""
        with self._lock:
            if column not in self._arrow:
                series = self.frame[column]
                if series.dtype == object or not pd.api.types.is_string_dtype(series.dtype):
                    return None
                import pyarrow as pa

                array = pa.array(series, from_pandas=True)
                self._arrow[column] = array.fill_null("") if array.null_count else array
            return self._arrow[column]

    def memo(self, key, factory):
        """A value computed once per batch and shared by every LF (e.g. per-column arrays)."""
        with self._lock:
            if key not in self._memo:
                self._memo[key] = factory()
            return self._memo[key]

    def cache_arrow(self, column: str, texts: list[str]):
        """Cache a pyarrow copy of already converted texts, shared by every LF reading `column`."""
        with self._lock:
            if column not in self._arrow:
                import pyarrow as pa

                self._arrow[column] = pa.array(texts, type=pa.large_string())
            return self._arrow[column]

    def docs(self) -> list:
        """spaCy docs of the text column, parsed once per batch whatever the number of spaCy LFs."""
        if self._docs is None:
            self._docs = self.parser.parse(self.texts())
        return self._docs


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA
