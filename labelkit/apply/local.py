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

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError, LabelingFunctionError
from labelkit.lfs.batch import Batch
from labelkit.lfs.core import LabelingFunction
from labelkit.schema import ABSTAIN_INDEX

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
    L = np.full((len(frame), len(lfs)), ABSTAIN_INDEX, dtype=matrix_dtype(classes))
    spacy_columns = [j for j, lf in enumerate(lfs) if lf.kind.startswith("spacy")]
    masks = _declarative_masks(lfs, batch, context)
    for j, lf in enumerate(lfs):
        if masks.get(j) is not None:
            L[:, j] = np.where(masks[j], context.lookup[lf.label], ABSTAIN_INDEX)
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


def matrix_dtype(classes) -> type:
    return np.int8 if len(classes) < 127 else np.int16


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

def spacy_votes(lfs, batch, *, stop_on_error: bool = False) -> list[tuple[list, list]]:
    """Per spaCy LF: (votes, [(row, exception), ...]). Every text is parsed once; docs are not kept."""
    parser = batch.parser
    nlp = parser.nlp
    blank_english = getattr(parser, "model_name", None) in (None, "", "blank:en")
    matchers = _SharedMatchers.build([lf for lf in lfs if lf.kind == "spacy_patterns"], nlp,
                                     phrase_tokenizer=nlp.make_doc if blank_english else None)
    callers = [None if matchers and lf in matchers.members else _doc_caller(lf) for lf in lfs]
    votes: list[list] = [[] for _ in lfs]
    failures: list[list] = [[] for _ in lfs]
    docs = nlp.pipe(batch.texts(), batch_size=parser.batch_size, n_process=parser.n_process)
    for position, doc in enumerate(docs):
        hits = matchers.hits(doc) if matchers else ()
        for k, call in enumerate(callers):
            if call is None:
                votes[k].append(lfs[k].label if lfs[k] in hits else None)
                continue
            try:
                votes[k].append(call(doc))
            except LabelingFunctionError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported with the LF name and row
                votes[k].append(None)
                failures[k].append((position, exc))
                if stop_on_error:
                    return [(v + [None] * (len(batch) - len(v)), f) for v, f in zip(votes, failures)]
    return list(zip(votes, failures))


def _doc_caller(lf):
    return partial(lf.func, **lf.resources) if lf.resources else lf.func


_PHRASE_TOKENIZERS: dict[int, object] = {}
_ANCHOR_KEY = "labelkit-anchor"


class _SharedMatchers:
    """All spaCy pattern LFs in one Matcher and one PhraseMatcher per attribute, keyed by LF.

    Same votes as each LF's own matchers: an LF votes when any of its token patterns or phrases occurs.
    Simple token patterns (every token one exact LOWER/ORTH/TEXT value, no operators) become phrases,
    which the PhraseMatcher finds much faster than the Matcher.
    """

    def __init__(self, members, nlp, phrase_tokenizer=None) -> None:
        from spacy.matcher import Matcher, PhraseMatcher
        from spacy.tokens import Doc

        from labelkit.lfs.spacy_lfs import _tokenizer_for

        self.members = list(members)
        self.matcher = Matcher(nlp.vocab)
        self.phrase_matchers: dict[str, object] = {}
        self.always_match = False
        self.key_to_lf: dict[int, object] = {}
        # phrases are tokenised as SpacyPatternLF does: spacy.blank("en") on the docs' vocab (which the
        # parser's own make_doc is, when the parser is spacy.blank("en"))
        make_doc = phrase_tokenizer or _PHRASE_TOKENIZERS.get(id(nlp.vocab))
        if make_doc is None:  # building a blank pipeline takes ~0.3 s: once per vocab
            make_doc = _PHRASE_TOKENIZERS[id(nlp.vocab)] = _tokenizer_for(nlp.vocab)
        for lf in self.members:
            key = f"labelkit-lf:{lf.name}"
            self.key_to_lf[nlp.vocab.strings.add(key)] = lf
            token_patterns = []
            for pattern in lf.patterns:
                phrase = _as_phrases(pattern)
                if phrase is None:
                    token_patterns.append(pattern)
                else:
                    attr, sequences = phrase
                    docs = [Doc(nlp.vocab, words=list(words)) for words in sequences]
                    self._phrase_matcher(attr, nlp, PhraseMatcher).add(key, docs)
            if token_patterns:
                self.matcher.add(key, token_patterns)
                for pattern in token_patterns:
                    self._add_anchor(pattern, nlp, Doc, PhraseMatcher)
            if lf.phrases:
                self._phrase_matcher(lf.attr, nlp, PhraseMatcher).add(key, [make_doc(p) for p in lf.phrases])
        self.has_token_patterns = len(self.matcher) > 0
        self.anchor_hash = nlp.vocab.strings.add(_ANCHOR_KEY)

    def _add_anchor(self, pattern, nlp, Doc, PhraseMatcher) -> None:
        """A token every match of `pattern` must contain: docs without any anchor skip the slow Matcher."""
        anchor = _anchor(pattern)
        if anchor is None:
            self.always_match = True
            return
        attr, values = anchor  # found by the same PhraseMatcher pass as the phrases, under its own key
        self._phrase_matcher(attr, nlp, PhraseMatcher).add(_ANCHOR_KEY, [Doc(nlp.vocab, words=[v]) for v in values])

    def _phrase_matcher(self, attr, nlp, PhraseMatcher):
        if attr not in self.phrase_matchers:
            self.phrase_matchers[attr] = PhraseMatcher(nlp.vocab, attr=attr)
        return self.phrase_matchers[attr]

    @classmethod
    def build(cls, members, nlp, *, phrase_tokenizer=None):
        if not members:
            return None
        try:
            return cls(members, nlp, phrase_tokenizer)
        except Exception:  # an invalid pattern: each LF's own matcher reports it with the LF's name
            return None

    def hits(self, doc) -> set:
        keys = set()
        for phrase_matcher in self.phrase_matchers.values():
            keys.update(match[0] for match in phrase_matcher(doc))
        anchored = self.anchor_hash in keys
        if anchored:
            keys.discard(self.anchor_hash)
        if self.has_token_patterns and len(keys) < len(self.key_to_lf) and (anchored or self.always_match):
            keys.update(match[0] for match in self.matcher(doc))
        return {self.key_to_lf[key] for key in keys}


_PHRASE_ATTRS = {"LOWER": "LOWER", "ORTH": "ORTH", "TEXT": "ORTH"}
MAX_PHRASES_PER_PATTERN = 256


def _as_phrases(pattern) -> tuple[str, list[tuple[str, ...]]] | None:
    """(attr, word sequences) when a Matcher pattern is a plain token sequence on one attribute, each
    token one value or an IN list, no operators; else None (it stays in the Matcher)."""
    import itertools

    if not isinstance(pattern, list) or not pattern:
        return None
    attrs, choices = set(), []
    for token in pattern:
        if not isinstance(token, dict) or len(token) != 1:
            return None
        (key, value), = token.items()
        attr = _PHRASE_ATTRS.get(str(key).upper())
        if isinstance(value, dict) and list(value) == ["IN"] and isinstance(value["IN"], list):
            values = value["IN"]
        elif isinstance(value, str):
            values = [value]
        else:
            return None
        if attr is None or not values or not all(_plain_value(v, attr) for v in values):
            return None
        attrs.add(attr)
        choices.append(sorted(set(values)))
    if len(attrs) != 1 or np.prod([len(c) for c in choices]) > MAX_PHRASES_PER_PATTERN:
        return None
    return attrs.pop(), list(itertools.product(*choices))


def _anchor(pattern) -> tuple[str, list[str]] | None:
    """(attr, values) of the first token that every match includes, with plain values; else None."""
    if not isinstance(pattern, list):
        return None
    for token in pattern:
        if not isinstance(token, dict) or token.get("OP", "+") != "+":
            continue
        for key, value in token.items():
            attr = _PHRASE_ATTRS.get(str(key).upper())
            values = value["IN"] if isinstance(value, dict) and list(value) == ["IN"] else [value]
            if attr and isinstance(values, list) and values and all(_plain_value(v, "ORTH") for v in values):
                return attr, sorted(set(values))
    return None


def _plain_value(value, attr: str) -> bool:
    if not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
        return False
    return attr != "LOWER" or value == value.lower()  # a capital never matches LOWER; a phrase would
