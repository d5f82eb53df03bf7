"""Apply LFs to a DataFrame in this process, fast.

Row-wise LFs see lightweight row objects built once per batch (no pandas Series per row, unlike
snorkel's PandasLFApplier); declarative LFs run vectorised over whole columns; spaCy LFs share one
parse of the texts (`nlp.pipe`, batched).

>>> import pandas as pd
>>> from labelkit import keywords
>>> lf = keywords("spam", ["subscribe"], name="kw_subscribe")
>>> apply_lfs([lf], pd.DataFrame({"text": ["Subscribe now", "nice song"]}), ("ham", "spam"),
...           text_column="text").L.tolist()
[[1], [-1]]
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from labelkit.apply.spacy_pass import spacy_votes
from labelkit.errors import ConfigError, LabelingFunctionError
from labelkit.lfs.batch import Batch
from labelkit.lfs.core import LabelingFunction
from labelkit.schema import ABSTAIN_INDEX, vote_dtype

if TYPE_CHECKING:
    from labelkit.lfs.spacy_lfs import SpacyParser

ERROR_CODE = -2  # marks a vote whose LF raised (on_error="abstain"); turned into ABSTAIN_INDEX + a count
ON_ERROR = ("raise", "abstain")


@dataclass
class ApplyResult:
    L: np.ndarray  # (n_rows, n_lfs) int8, -1 abstain
    lf_names: list[str]
    errors: dict[str, int] = field(default_factory=dict)  # LF name -> rows where it raised (on_error="abstain")


def apply_lfs(lfs: list[LabelingFunction], frame: pd.DataFrame, classes: tuple[str, ...], *,
              text_column: str | None, id_column: str | None = None, parser=None,
              on_error: str = "raise", where: str = "data", row_offset: int = 0) -> ApplyResult:
    """Votes of every LF on every row of `frame`, as an int8 label matrix.

    on_error="raise" stops at the first LF exception naming the LF and row id; "abstain" counts the
    row as an abstain and reports how many rows each LF failed on. `row_offset` is added to row
    numbers in messages when `frame` is one chunk of a larger table.
    """
    marked = apply_lfs_marked(lfs, frame, classes, text_column=text_column, id_column=id_column,
                              parser=parser, on_error=on_error, where=where, row_offset=row_offset)
    return unmark_errors(marked, [lf.name for lf in lfs])


def apply_lfs_marked(lfs, frame: pd.DataFrame, classes, *, text_column, id_column=None, parser=None,
                     on_error="raise", where="data", row_offset=0) -> np.ndarray:
    """Like `apply_lfs` but failed votes stay ERROR_CODE in the matrix (engines count them after merging)."""
    validate_apply_options(lfs, on_error)
    if parser is None and needs_parser(lfs):
        from labelkit.lfs.spacy_lfs import SpacyParser

        parser = SpacyParser(None)
    batch = Batch(frame, text_column=text_column, parser=parser)
    context = _Context(classes, id_column, where, row_offset, on_error)
    L = np.full((len(frame), len(lfs)), ABSTAIN_INDEX, dtype=vote_dtype(len(classes)))
    spacy_columns = [j for j, lf in enumerate(lfs) if lf.kind.startswith("spacy")]
    masks = _declarative_masks(lfs, batch, context)
    for j, lf in enumerate(lfs):
        mask = masks.get(j)
        if mask is not None:
            L[:, j] = np.where(mask, context.lookup[lf.label], ABSTAIN_INDEX)
        elif j not in spacy_columns:
            L[:, j] = _lf_codes(lf, batch, context)
    if spacy_columns and len(frame):
        results = spacy_votes([lfs[j] for j in spacy_columns], batch, stop_on_error=on_error != "abstain")
        for j, (votes, failed_rows) in zip(spacy_columns, results):
            _raise_first_failure(lfs[j], failed_rows, batch, context)
            codes = _encode(votes, lfs[j], batch.frame, context)
            codes[[row for row, _ in failed_rows]] = ERROR_CODE
            L[:, j] = codes
    return L


def _raise_first_failure(lf, failed_rows, batch, context: _Context) -> None:
    if failed_rows and context.on_error != "abstain":
        position, exc = failed_rows[0]
        raise LabelingFunctionError(
            f"LF {lf.name!r} raised {type(exc).__name__}: {exc} on {context.where} row "
            f"{_row_name(batch.frame, position, context)}; fix the LF or pass --lf-errors abstain."
        )


def unmark_errors(L: np.ndarray, lf_names: list[str]) -> ApplyResult:
    """ERROR_CODE cells -> abstain, counted per LF."""
    failed = (L == ERROR_CODE)
    counts = failed.sum(axis=0)
    errors = {name: int(c) for name, c in zip(lf_names, counts) if c}
    if errors:
        L[failed] = ABSTAIN_INDEX
    return ApplyResult(L=L, lf_names=list(lf_names), errors=errors)


def validate_apply_options(lfs, on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ConfigError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}.")
    names = [lf.name for lf in lfs]
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise LabelingFunctionError(f"Duplicate LF names {duplicated}; LF names must be unique.")


def needs_parser(lfs) -> bool:
    return any(lf.kind.startswith("spacy") for lf in lfs)


class KeptParser:
    """One spaCy parser kept across tables (a build's splits, a served run's batches): building
    spacy.blank costs ~0.3 s each time. Renewed once it has parsed PARSER_ROWS rows, so its string
    store (it grows with every new word) stays bounded by the rows, not by how long it lives."""

    def __init__(self, model: str | None) -> None:
        self.model = model
        self._parser: SpacyParser | None = None
        self._rows = 0

    def take(self, lfs, rows: int):
        """The parser for a table (or chunk) of `rows` rows: None when `lfs` have no spaCy LF."""
        from labelkit.lfs.spacy_lfs import PARSER_ROWS, SpacyParser

        if not needs_parser(lfs):
            return None
        if self._parser is None or self._rows >= PARSER_ROWS:
            self._parser, self._rows = SpacyParser(self.model), 0
        self._rows += rows
        return self._parser


@dataclass
class _Context:
    classes: tuple
    id_column: str | None
    where: str
    row_offset: int
    on_error: str

    def __post_init__(self):
        self.lookup = {name: i for i, name in enumerate(self.classes)}
        self.codes = {None: ABSTAIN_INDEX, **self.lookup}


def _lf_codes(lf, batch, context: _Context) -> np.ndarray:
    mask = _declarative_mask(lf, batch, context)
    if mask is not None:
        return np.where(mask, context.lookup[lf.label], ABSTAIN_INDEX).astype(np.int16)
    votes, failed_rows = _votes(lf, batch, context)
    codes = _encode(votes, lf, batch.frame, context)
    if failed_rows:
        codes[failed_rows] = ERROR_CODE
    return codes


THREADED_MIN_ROWS = 20_000  # below this, threads cost more than they save


def _declarative_masks(lfs, batch, context: _Context) -> dict[int, np.ndarray | None]:
    """Masks of the vectorised LFs, computed on threads (Arrow's regex kernels release the GIL)."""
    columns = [j for j, lf in enumerate(lfs) if _is_vectorised(lf, context)]
    if len(columns) < 2 or len(batch) < THREADED_MIN_ROWS:
        return {j: _declarative_mask(lfs[j], batch, context) for j in columns}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(columns), os.cpu_count() or 1)) as pool:
        masks = list(pool.map(lambda j: _declarative_mask(lfs[j], batch, context), columns))
    return dict(zip(columns, masks))


def _is_vectorised(lf, context: _Context) -> bool:
    return lf.func is None and hasattr(lf, "mask") and lf.label in context.lookup


def _declarative_mask(lf, batch, context):
    """The vectorised path: a boolean mask, or None when the LF is not declarative (or fails: then rows tell)."""
    if lf.func is not None or not hasattr(lf, "mask") or lf.label not in context.lookup:
        return None
    try:
        return lf.mask(batch)
    except LabelingFunctionError:
        raise
    except Exception:
        return None


def _votes(lf, batch, context: _Context) -> tuple[list, list[int]]:
    try:
        if type(lf).vote_batch is LabelingFunction.vote_batch:  # plain row-wise LF: one C-level loop
            func = partial(lf.func, **lf.resources) if lf.resources else lf.func
            return list(map(func, batch.rows())), []
        return lf.vote_batch(batch), []
    except LabelingFunctionError:
        raise
    except Exception:
        pass  # find the failing row(s) one by one, below
    votes, failed = [], []
    for position in range(len(batch)):
        try:
            votes.append(_vote_at(lf, batch, position))
        except LabelingFunctionError:
            raise
        except Exception as exc:
            if context.on_error != "abstain":
                raise LabelingFunctionError(
                    f"LF {lf.name!r} raised {type(exc).__name__}: {exc} on {context.where} row "
                    f"{_row_name(batch.frame, position, context)}; fix the LF or pass --lf-errors abstain."
                ) from None
            votes.append(None)
            failed.append(position)
    return votes, failed


def _vote_at(lf, batch, position: int):
    if lf.kind.startswith("spacy"):
        return lf.func(batch.docs()[position], **lf.resources)
    if lf.func is None:  # declarative
        return lf.vote_row(batch.rows()[position], batch.text_column)
    return lf.func(batch.rows()[position], **lf.resources)


def _encode(votes: list, lf, frame, context: _Context) -> np.ndarray:
    try:
        return np.fromiter(map(context.codes.get, votes), dtype=np.int16, count=len(votes))
    except (KeyError, TypeError, ValueError):  # None from .get (unknown value) or an unhashable vote
        for position, value in enumerate(votes):
            if value is not None and (not isinstance(value, str) or value not in context.lookup):
                raise LabelingFunctionError(
                    f"LF {lf.name!r} returned {value!r} on {context.where} row "
                    f"{_row_name(frame, position, context)}, which is not a class name or ABSTAIN; "
                    f"classes are: {', '.join(context.lookup)}."
                ) from None
        raise


def _row_name(frame: pd.DataFrame, position: int, context: _Context) -> str:
    id_column = context.id_column
    if id_column and id_column in frame.columns:
        return f"{id_column}={frame[id_column].iloc[position]!r}"
    return f"#{context.row_offset + position + 1}"


# --- spaCy LFs: one streamed nlp.pipe pass, all spaCy LFs per doc, pattern LFs through shared matchers ---
