"""Python labeling functions: a named function from a row to a class name or ABSTAIN."""
from __future__ import annotations

import inspect
from typing import Any, Callable

from labelkit.errors import LabelingFunctionError
from labelkit.schema import ABSTAIN


class LabelingFunction:
    """A named vote. Subclasses either vote per row (`vote_row`) or per batch (`vote_batch`).

    `label` is the single class a declarative LF can vote for (None for Python LFs, which may
    return any class). `kind` names the authoring style, recorded in the LF report.
    """

    kind = "python"
    label: str | None = None

    def __init__(self, name: str, func: Callable[..., Any], *, resources: dict | None = None) -> None:
        if not name or not isinstance(name, str):
            raise LabelingFunctionError(f"A labeling function needs a non-empty name, got {name!r}.")
        self.name = name
        self.func = func
        self.resources = dict(resources or {})

    def __call__(self, row: Any) -> str | None:
        return self.func(row, **self.resources)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    @property
    def source(self) -> str:
        """Text hashed into the build manifest, so a changed LF changes the LF source hash."""
        try:
            return inspect.getsource(self.func)
        except (OSError, TypeError):
            return repr(self)

    def vote_batch(self, batch) -> list:
        """Votes (class names or ABSTAIN) for every row of a `Batch`."""
        func, resources = self.func, self.resources
        rows = batch.rows()
        if resources:
            return [func(row, **resources) for row in rows]
        return [func(row) for row in rows]

    def vote_row(self, row, text_column: str) -> Any:
        """One row's vote, as snorkel would compute it (used for parity checks and error reports)."""
        return self(row)

    def to_snorkel(self, classes: tuple[str, ...], text_column: str = "text"):
        """The same LF as a snorkel LabelingFunction returning class indices (-1 abstains)."""
        from snorkel.labeling import LabelingFunction as SnorkelLF

        index = {name: i for i, name in enumerate(classes)}

        def vote(x, _lf=self):
            value = _lf.vote_row(x, text_column)
            return -1 if value is ABSTAIN else index[value]

        return SnorkelLF(name=self.name, f=vote)


def labeling_function(name: str | None = None, *, resources: dict | None = None):
    """Decorator: turn `f(row) -> class name | ABSTAIN` into a LabelingFunction.

    >>> @labeling_function()
    ... def mentions_invoice(row):
    ...     return "billing" if "invoice" in row.text.lower() else ABSTAIN
    >>> mentions_invoice
    LabelingFunction('mentions_invoice')
    >>> from types import SimpleNamespace
    >>> mentions_invoice(SimpleNamespace(text="Invoice 42 is wrong")), mentions_invoice(SimpleNamespace(text="hi"))
    ('billing', None)
    """
    require_parentheses(name, "labeling_function")

    def wrap(func: Callable[..., Any]) -> LabelingFunction:
        return LabelingFunction(name or func.__name__, func, resources=resources)

    return wrap


def require_parentheses(name, decorator: str) -> None:
    """`@decorator` used without `()` passes the function as `name`: say so instead of failing later."""
    if callable(name):
        raise LabelingFunctionError(
            f"@{decorator} is missing its parentheses on {name.__name__!r}: write @{decorator}()."
        )
