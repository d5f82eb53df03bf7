"""Slicing functions: written like LFs, they pick the rows of a slice the report scores separately."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from labelkit.errors import LabelingFunctionError
from labelkit.lfs.core import require_parentheses


class SlicingFunction:
    """`func(row) -> bool`. Called on a DataFrame it returns the boolean mask of its rows."""

    def __init__(self, name: str, func: Callable[[Any], bool]) -> None:
        self.name = name
        self.func = func

    def __call__(self, rows):
        if isinstance(rows, pd.DataFrame):
            from labelkit.lfs.batch import Batch

            out = np.zeros(len(rows), dtype=bool)
            for position, row in enumerate(Batch(rows, text_column=None).rows()):
                try:
                    out[position] = bool(self.func(row))
                except Exception as exc:
                    raise LabelingFunctionError(
                        f"Slicing function {self.name!r} raised {type(exc).__name__}: {exc} on row {position + 1}."
                    ) from None
            return out
        return bool(self.func(rows))

    def __repr__(self) -> str:
        return f"SlicingFunction({self.name!r})"


def slicing_function(name: str | None = None):
    """Decorator: `f(row) -> bool` becomes a named slice of the test set in the report.

    >>> @slicing_function()
    ... def long_tickets(row):
    ...     return len(row.text) > 400
    >>> import pandas as pd
    >>> long_tickets(pd.DataFrame({"text": ["short", "x" * 500]})).tolist()
    [False, True]
    """
    require_parentheses(name, "slicing_function")

    def wrap(func):
        return SlicingFunction(name or func.__name__, func)

    return wrap
