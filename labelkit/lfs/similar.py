"""Similarity rules: "like these examples" - a few seed texts for a class and a similarity threshold.

    lk.similar_to("billing", ["I was charged twice", "refund my money"], threshold=0.6)
    lk.similar_to("spam", ["check out my channel"], unlike=["great song"], threshold=0.5, model="tfidf")

A row votes the class when its text's cosine similarity to the nearest seed is at least `threshold`
(and, with `unlike` counter-examples, higher than its similarity to the nearest of them); else it
abstains. Texts are embedded with `model`:

- ``"wordllama"`` (default) or any [embeddings] model name or folder (labelkit/embeddings.py);
- ``"tfidf"``: character 3-5-gram TF-IDF fitted on the seed texts alone (no package, no licence
  question; on YouTube comments it did as well as wordllama in issue 24's measurements).

A row's vote depends on its text alone (not on the batch), so the build, `labelkit lfs`, the studio and
serving agree. In a rules file (docs/studio.md)::

    [[rule]]
    name = "like_refund"
    class = "billing"
    kind = "similar"
    examples = ["I want my money back", "refund the double charge"]
    unlike = ["thanks for the refund"]      # optional counter-examples
    threshold = 0.6                          # optional, default 0.5
    model = "tfidf"                          # optional, default wordllama
    min_precision = 0.7                      # optional dev precision bar (below it: a warning)
    abstain_below = true                     # optional: below the bar the rule abstains in the build

**The dev precision check.** A similarity rule fires on meaning, so a loose threshold can vote on many
rows it should not (a weak one lowered the rule baseline on WRENCH semeval in issue 24's measurements).
Before the votes go to the label model, a build measures each similarity rule's precision on the gold
dev rows it fires on (:func:`precision_gate`); below `min_precision` (default 0.5) the build says so in
its warnings, and with `abstain_below` the rule's votes are removed (abstains) in every split of that
build. `labelkit lfs`, the studio and the report show each rule's dev accuracy as for every LF.

**Suggestions.** :func:`suggest_similar` proposes seeds and a threshold per class from the dev rows where
every current rule abstains (`labelkit lfs --suggest-similar`).
"""
from __future__ import annotations

import numpy as np

from labelkit.errors import LabelingFunctionError
from labelkit.lfs.declarative import DeclarativeLF
from labelkit.schema import ABSTAIN

DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_PRECISION = 0.5
TFIDF = "tfidf"


def char_tfidf():
    """The vectorizer of model "tfidf": character 3-5-grams within words, sublinear TF-IDF (unfitted)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, lowercase=True, dtype=np.float64)


class SeedSpace:
    """Seeds embedded once; `similarities(texts)` -> (like, unlike) max cosine per text."""

    def __init__(self, examples, unlike, model: str, root=None) -> None:
        self.model_name = model
        self.root = root
        texts = list(examples) + list(unlike)
        if model == TFIDF:
            self.vectorizer = char_tfidf().fit(texts)
            self.embed = self._tfidf
        else:
            from labelkit.embeddings import load_model

            self.embed = load_model(model, root=root).embed
        seeds = self.embed(texts)
        self.like, self.unlike = seeds[:len(examples)], seeds[len(examples):]

    def _tfidf(self, texts) -> np.ndarray:
        X = self.vectorizer.transform(["" if not isinstance(t, str) else t for t in texts])
        return np.asarray(X.todense(), dtype=np.float64)

    def similarities(self, texts) -> tuple[np.ndarray, np.ndarray]:
        if not len(texts):
            return np.zeros(0), np.zeros(0)
        E = np.asarray(self.embed(list(texts)), dtype=np.float64)
        like = (E @ self.like.T.astype(np.float64)).max(axis=1)
        unlike = (E @ self.unlike.T.astype(np.float64)).max(axis=1) if len(self.unlike) else np.full(len(E), -np.inf)
        return like, unlike


class SimilarLF(DeclarativeLF):
    kind = "similar"

    def __init__(self, name: str, label: str, examples, *, threshold: float = DEFAULT_THRESHOLD, unlike=(),
                 model: str = "wordllama", column: str | None = None, min_precision: float = DEFAULT_MIN_PRECISION,
                 abstain_below: bool = False, root=None) -> None:
        super().__init__(name, label, column=column)
        examples, unlike = _texts_option(name, "examples", examples), _texts_option(name, "unlike", unlike, empty=True)
        for option, value in (("threshold", threshold), ("min_precision", min_precision)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1 <= value <= 1:
                raise LabelingFunctionError(f"LF {name!r}: {option} must be a number in [-1, 1], got {value!r}.")
        self.examples, self.unlike = examples, unlike
        self.threshold, self.model = float(threshold), model
        self.min_precision, self.abstain_below = float(min_precision), bool(abstain_below)
        self.root = root
        self._space: SeedSpace | None = None
        self.gate_note: str | None = None  # set by precision_gate when dev precision is below the bar
        self.dev_precision: float | None = None  # set by precision_gate: this build's dev precision

    @property
    def space(self) -> SeedSpace:
        if self._space is None:
            self._space = SeedSpace(self.examples, self.unlike, self.model, self.root)
        return self._space

    def similarity(self, texts) -> np.ndarray:
        return self.space.similarities(texts)[0]

    def mask(self, batch) -> np.ndarray:
        texts = self._texts(batch)
        like, unlike = batch.memo(("similar", self.name, self.column), lambda: self.space.similarities(texts)) \
            if hasattr(batch, "memo") else self.space.similarities(texts)
        return (like >= self.threshold) & (like > unlike)

    def _row_vote(self, row, text_column):
        like, unlike = self.space.similarities([self._row_text(row, text_column)])
        return self.label if like[0] >= self.threshold and like[0] > unlike[0] else ABSTAIN

    def __repr__(self) -> str:
        return (f"similar_to({self.label!r}, {self.examples!r}, threshold={self.threshold}, unlike={self.unlike!r}, "
                f"model={self.model!r}, name={self.name!r})")

    def __getstate__(self):  # shipped to worker processes without its loaded model
        state = dict(self.__dict__)
        state["_space"] = None
        return state


def _texts_option(name, option, value, *, empty: bool = False) -> list[str]:
    if isinstance(value, str):
        value = [value]
    value = list(value or [])
    if (not value and not empty) or not all(isinstance(v, str) and v.strip() for v in value):
        raise LabelingFunctionError(f"LF {name!r}: {option} must be a{'' if empty else ' non-empty'} list of non-empty "
                                    f"texts, got {value!r}.")
    return value


def similar_to(label: str, examples, *, threshold: float = DEFAULT_THRESHOLD, unlike=(), model: str = "wordllama",
               column: str | None = None, min_precision: float = DEFAULT_MIN_PRECISION, abstain_below: bool = False,
               name: str | None = None) -> SimilarLF:
    """An LF voting `label` on texts like `examples` (cosine >= `threshold`, closer than to any of
    `unlike`); see the module's doc."""
    return SimilarLF(name or f"similar_{label}", label, examples, threshold=threshold, unlike=unlike, model=model,
                     column=column, min_precision=min_precision, abstain_below=abstain_below)


# ------------------------------------------------------------------------------------------ the dev gate
def precision_gate(votes, lfs, y_dev, classes) -> list[str]:
    """Each similarity rule's precision on the gold dev rows it votes on, against its `min_precision`:
    below it a note (returned, for the build's warnings), and with `abstain_below` its column is set to
    abstain in every split of `votes.L` (in place). Other LFs are untouched."""
    notes: list[str] = []
    if y_dev is None or "dev" not in votes.L:
        return notes
    y_dev = np.asarray(y_dev)
    for j, lf in enumerate(lfs):
        if not isinstance(lf, SimilarLF):
            continue
        lf.gate_note = lf.dev_precision = None  # this build's check, not a previous one's
        column = votes.L["dev"][:, j]
        fired = column >= 0
        if not fired.any():
            continue
        precision = float((column[fired] == y_dev[fired]).mean())
        lf.dev_precision = precision
        if precision >= lf.min_precision:
            continue
        action = "it abstains in this build (abstain_below)" if lf.abstain_below else \
            "it still votes (set abstain_below = true to silence it, or raise its threshold)"
        lf.gate_note = (f"similarity rule {lf.name!r}: dev precision {precision:.2f} on the {int(fired.sum())} dev "
                        f"rows it votes on is below its bar min_precision = {lf.min_precision:.2f}; {action}.")
        notes.append(lf.gate_note)
        if lf.abstain_below:
            for split in votes.L:
                votes.L[split][:, j] = -1
    return notes


def gate_notes(lfs) -> list[str]:
    return [lf.gate_note for lf in lfs if isinstance(lf, SimilarLF) and lf.gate_note]


# ------------------------------------------------------------------------------------------ suggestions
def suggest_similar(dev_texts, y_dev, L_dev, classes, *, model: str = TFIDF, seeds: int = 3, min_rows: int = 3,
                    min_precision: float = 0.8, root=None) -> list[dict]:
    """Seed examples and a threshold per class from the gold dev rows where every current LF abstains.

    For each class with at least `min_rows` such rows: the `seeds` rows most similar on average to the
    class's other uncovered rows (its centre), and the lowest threshold at which the rule "like these
    seeds" keeps dev precision >= `min_precision` on ALL dev rows (seeds left out), with the uncovered
    rows of that class it would reach. Returns one dict per class, best coverage first; empty when every
    dev row is covered. Deterministic."""
    texts = ["" if not isinstance(t, str) else t for t in dev_texts]
    y_dev = np.asarray(y_dev, dtype=np.int64)
    L_dev = np.asarray(L_dev)
    uncovered = ~np.any(L_dev >= 0, axis=1) if L_dev.size else np.ones(len(texts), dtype=bool)
    out = []
    if model == TFIDF:
        E = np.asarray(char_tfidf().fit_transform(texts).todense())
    else:
        from labelkit.embeddings import load_model

        E = np.asarray(load_model(model, root=root).embed(texts), dtype=np.float64)
    S = E @ E.T
    for k, name in enumerate(classes):
        rows = np.flatnonzero(uncovered & (y_dev == k))
        if len(rows) < min_rows:
            continue
        centre = S[np.ix_(rows, rows)].mean(axis=1)
        chosen = rows[np.argsort(-centre, kind="stable")[:seeds]]
        others = np.setdiff1d(np.arange(len(texts)), chosen)
        sim = S[np.ix_(others, chosen)].max(axis=1)
        best = None
        for threshold in np.round(np.arange(0.95, 0.0, -0.05), 2):
            fired = sim >= threshold
            if not fired.any():
                continue
            precision = float((y_dev[others][fired] == k).mean())
            if precision < min_precision:
                break
            reach = int((fired & uncovered[others] & (y_dev[others] == k)).sum())
            best = {"class": name, "examples": [texts[i] for i in chosen], "threshold": float(threshold),
                    "dev_precision": round(precision, 3), "dev_rows_fired": int(fired.sum()),
                    "uncovered_rows_reached": reach, "uncovered_rows_of_class": int(len(rows) - len(chosen)),
                    "model": model}
        if best is not None:
            out.append(best)
    return sorted(out, key=lambda s: -s["uncovered_rows_reached"])


def suggestion_rule_toml(suggestion: dict) -> str:
    """A suggestion as a [[rule]] table for a rules file."""
    import json

    name = "like_" + "".join(c if c.isalnum() else "_" for c in suggestion["class"])
    examples = ", ".join(json.dumps(e, ensure_ascii=False) for e in suggestion["examples"])
    label = json.dumps(suggestion["class"], ensure_ascii=False)
    return (f'[[rule]]\nname = "{name}"\nclass = {label}\nkind = "similar"\n'
            f'examples = [{examples}]\nthreshold = {suggestion["threshold"]}\nmodel = "{suggestion["model"]}"\n'
            f'# dev precision {suggestion["dev_precision"]:.2f} on {suggestion["dev_rows_fired"]} other dev rows '
            f'(chosen on dev: '
            f'check it on new rows, e.g. in labelkit studio); reaches '
            f'{suggestion["uncovered_rows_reached"]} of {suggestion["uncovered_rows_of_class"]} uncovered dev rows of '
            f'this class\n')
