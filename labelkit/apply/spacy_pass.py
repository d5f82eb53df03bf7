"""spaCy LFs in one pass: every text parsed once with `nlp.pipe`, every spaCy LF evaluated on each
doc, and all pattern LFs sharing one PhraseMatcher per attribute and one Matcher."""
from __future__ import annotations

import itertools
import math
from functools import partial
from typing import Any, Callable

from labelkit.errors import LabelingFunctionError


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


_PHRASE_TOKENIZERS: dict[int, Callable[[str], Any]] = {}  # id of a vocab -> its phrase tokenizer (text -> Doc)
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
        self.phrase_matchers: dict[str, Any] = {}  # attr -> spaCy PhraseMatcher
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
        keys: set[int] = set()  # match ids (hashes in the vocab's strings)
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
    if len(attrs) != 1 or math.prod(len(c) for c in choices) > MAX_PHRASES_PER_PATTERN:
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
