"""spaCy LFs: they get a parsed Doc. Every text is parsed once per batch, whatever the number of LFs.

spaCy models cannot be downloaded at run time, so the default pipeline is `spacy.blank("en")`
(tokenizer, Matcher, PhraseMatcher); a pretrained pipeline is used only when configured and installed.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from labelkit.errors import ConfigError, LabelingFunctionError
from labelkit.lfs.core import LabelingFunction, require_parentheses
from labelkit.schema import ABSTAIN


class SpacyParser:
    """Owns the spaCy pipeline and parses texts in batches with `nlp.pipe`."""

    def __init__(self, model: str | None = None, *, batch_size: int = 256, n_process: int = 1) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.n_process = n_process
        self._nlp = None

    @property
    def nlp(self):
        if self._nlp is None:
            self._nlp = load_pipeline(self.model_name)
        return self._nlp

    @property
    def description(self) -> str:
        """Recorded in the manifest: which pipeline parsed the texts."""
        nlp = self.nlp
        return f"{nlp.meta.get('lang', '?')}_{nlp.meta.get('name', '?')}-{nlp.meta.get('version', '?')}" + (
            "" if self.model_name else " (spacy.blank)"
        )

    def parse(self, texts: list[str]) -> list:
        return list(self.nlp.pipe(texts, batch_size=self.batch_size, n_process=self.n_process))


PARSER_ROWS = 50_000  # rows a kept spaCy parser parses before it is renewed: its string store grows with every new word
_row_nlp: list = [None, 0]  # the pipeline `vote_row` parses with, and how many rows it has parsed


def _row_pipeline():
    """The blank pipeline of `vote_row`, shared: building one costs ~0.3 s, and snorkel's applier
    (`to_snorkel`) votes row by row. Rebuilt every PARSER_ROWS rows to bound its memory."""
    if _row_nlp[0] is None or _row_nlp[1] >= PARSER_ROWS:
        _row_nlp[:] = [load_pipeline(None), 0]
    _row_nlp[1] += 1
    return _row_nlp[0]


def load_pipeline(model: str | None):
    import spacy

    if not model or model == "blank:en":
        return spacy.blank("en")
    if model.startswith("blank:"):
        return spacy.blank(model.split(":", 1)[1])
    try:
        return spacy.load(model)
    except OSError:
        raise ConfigError(
            f"spaCy pipeline {model!r} is not installed; install it (python -m spacy download {model}) "
            f"or remove spacy_model from the config to use spacy.blank('en')."
        ) from None


class SpacyLF(LabelingFunction):
    """A Python LF whose input is the spaCy Doc of the row's text."""

    kind = "spacy"

    def vote_batch(self, batch) -> list:
        func, resources = self.func, self.resources
        return [func(doc, **resources) for doc in batch.docs()]

    def vote_row(self, row, text_column: str) -> Any:
        return self.func(_row_pipeline()(str(row[text_column])), **self.resources)


class SpacyPatternLF(SpacyLF):
    """Votes `label` when a spaCy Matcher pattern or PhraseMatcher phrase matches the Doc."""

    kind = "spacy_patterns"

    def __init__(self, name: str, label: str, patterns: list | None, phrases: Iterable[str] | None,
                 attr: str = "LOWER") -> None:
        super().__init__(name, self._match)
        self.label = label
        self.patterns = list(patterns or [])
        self.phrases = list(phrases or [])
        self.attr = attr
        if not self.patterns and not self.phrases:
            raise LabelingFunctionError(f"LF {name!r}: give spaCy token patterns or phrases.")
        self._matchers: dict[int, tuple] = {}

    def _matchers_for(self, vocab):
        key = id(vocab)
        if key not in self._matchers:
            from spacy.matcher import Matcher, PhraseMatcher

            matcher = phrase_matcher = None
            if self.patterns:
                matcher = Matcher(vocab)
                try:
                    matcher.add(self.name, self.patterns)
                except (ValueError, TypeError) as exc:
                    raise LabelingFunctionError(f"LF {self.name!r}: invalid spaCy pattern: {exc}".splitlines()[0]) from None
            if self.phrases:
                phrase_matcher = PhraseMatcher(vocab, attr=self.attr)
                make = _tokenizer_for(vocab)
                phrase_matcher.add(self.name, [make(p) for p in self.phrases])
            self._matchers = {key: (matcher, phrase_matcher)}
        return self._matchers[key]

    def _match(self, doc):
        matcher, phrase_matcher = self._matchers_for(doc.vocab)
        if (matcher is not None and matcher(doc)) or (phrase_matcher is not None and phrase_matcher(doc)):
            return self.label
        return ABSTAIN

    def __getstate__(self):  # matchers hold the vocab; rebuild them after pickling (processes/Dask)
        state = dict(self.__dict__)
        state["_matchers"] = {}
        return state

    @property
    def source(self) -> str:
        return f"spacy_patterns({self.label!r}, {self.patterns!r}, phrases={self.phrases!r}, name={self.name!r})"


def _tokenizer_for(vocab):
    """Tokenise phrases with the same vocab as the parsed docs, as PhraseMatcher requires."""
    import spacy

    return spacy.blank("en", vocab=vocab).make_doc


def spacy_lf(name: str | None = None, *, resources: dict | None = None):
    """Decorator: `f(doc) -> class name | ABSTAIN` where doc is the parsed text."""
    require_parentheses(name, "spacy_lf")

    def wrap(func: Callable[..., Any]) -> SpacyLF:
        return SpacyLF(name or func.__name__, func, resources=resources)

    return wrap


def spacy_patterns(label: str, patterns: list | None = None, *, name: str,
                   phrases: Iterable[str] | None = None, attr: str = "LOWER") -> SpacyPatternLF:
    """Vote `label` when a Matcher token pattern or a PhraseMatcher phrase (matched on `attr`) occurs."""
    return SpacyPatternLF(name, label, patterns, phrases, attr)
