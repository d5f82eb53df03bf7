"""labelkit against snorkel itself: the reference side is written natively with snorkel's own
`labeling_function` / `LabelingFunction` / `PandasLFApplier` / `LabelModel`, never through labelkit's
code (`lf.to_snorkel()` would call labelkit's own votes and could not catch a labelkit bug).

Each reference LF states the rule its labelkit counterpart documents: keywords are whole words,
case-insensitive unless asked; regex is Python `re.search` (case-insensitive by default); missing
text is the empty string; a column condition holds when every comparison holds.
"""
from __future__ import annotations

import re
import textwrap

import numpy as np
import pandas as pd
import pytest
from snorkel.labeling import LabelingFunction as SnorkelLF
from snorkel.labeling import PandasLFApplier
from snorkel.labeling import labeling_function as snorkel_lf

from labelkit import ABSTAIN, LabelingFunction, column_condition, keywords, labeling_function, regex
from labelkit.apply.local import apply_lfs
from labelkit.labelmodels import make_label_model
from labelkit.lfs.rules import load_rules

CLASSES = ("ham", "spam")
HAM, SPAM, NONE = 0, 1, -1
WORDS = ["check", "out", "My", "channel", "song", "love", "http://x.co", "subscribe", "plz", "café", "CAFÉ", "naïve",
         "c++", "$$$", "ſub", "sub", "KELVIN", "\u212aelvin", "e\u0301t\u00e9", "été", "", "!!", "\n", "\x0b",
         "under_score", "check-out", "2014", "\u00a0", "\U0001F600", "it\u2019s"]


def comments(n=300, seed=0, *, dtype="str"):
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(0, 9))) for _ in range(n)]
    texts[3] = None
    amount = rng.integers(0, 2000, size=n).astype(float)
    amount[5] = np.nan
    return pd.DataFrame({"id": [f"r{i}" for i in range(n)], "text": pd.Series(texts, dtype=dtype),
                         "amount": amount, "country": rng.choice(["FR", "DE", "BE"], size=n),
                         "code": rng.integers(0, 400, size=n)})


def snorkel_matrix(lfs, frame):
    return PandasLFApplier(lfs).apply(frame, progress_bar=False)


def text_of(x, column="text"):
    value = x[column]
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def whole_word(text, word, *, case_sensitive=False):
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, 0 if case_sensitive else re.IGNORECASE) is not None


def assert_same(ours, theirs, frame):
    result = apply_lfs(ours, frame, CLASSES, text_column="text", id_column="id")
    L, expected = result.L, snorkel_matrix(theirs, frame)
    assert L.dtype == np.int8 and result.lf_names == [lf.name for lf in ours] == [lf.name for lf in theirs]
    for j, lf in enumerate(ours):
        rows = np.flatnonzero(L[:, j] != expected[:, j])
        assert rows.size == 0, f"{lf.name}: rows {rows[:5].tolist()} e.g. {frame['text'].iloc[rows[0]]!r}"
    assert ((expected != NONE).sum(axis=0) > 0).all(), "every reference LF votes somewhere"
    assert ((expected == NONE).sum(axis=0) > 0).all(), "and abstains somewhere"


# --- Python LFs: the same user code, run by labelkit's applier and by snorkel's ---------------------

@labeling_function()
def mentions_my(x):
    return "spam" if isinstance(x.text, str) and "my" in x.text.lower() else ABSTAIN


@labeling_function()
def short(x):
    return "ham" if not isinstance(x.text, str) or len(x.text.split()) < 3 else ABSTAIN


@labeling_function()
def big_amount(x):
    return "spam" if x["amount"] > 1500 else ABSTAIN


def lookup(x, words, label):
    return label if isinstance(x.text, str) and any(w in x.text.lower() for w in words) else ABSTAIN


@snorkel_lf(name="mentions_my")
def ref_mentions_my(x):
    return SPAM if isinstance(x.text, str) and "my" in x.text.lower() else NONE


@snorkel_lf(name="short")
def ref_short(x):
    return HAM if not isinstance(x.text, str) or len(x.text.split()) < 3 else NONE


@snorkel_lf(name="big_amount")
def ref_big_amount(x):
    return SPAM if x["amount"] > 1500 else NONE


def ref_lookup(x, words, label):
    return label if isinstance(x.text, str) and any(w in x.text.lower() for w in words) else NONE


@pytest.mark.parametrize("dtype", ["str", object])
def test_python_lfs_match_snorkel(dtype):
    frame = comments(dtype=dtype)
    ours = [mentions_my, short, big_amount,
            LabelingFunction("kw_song", lookup, resources=dict(words=["song", "love"], label="ham"))]
    theirs = [ref_mentions_my, ref_short, ref_big_amount,
              SnorkelLF("kw_song", f=ref_lookup, resources=dict(words=["song", "love"], label=HAM))]
    assert_same(ours, theirs, frame)


# --- declarative LFs (vectorised in labelkit) against snorkel LFs written with Python re / plain Python --

DECLARATIVE = [
    (keywords("spam", ["check out", "subscribe", "plz"], name="kw_spam"), ["check out", "subscribe", "plz"], SPAM,
     False),
    (keywords("ham", ["café", "naïve", "été"], name="kw_accents"), ["café", "naïve", "été"], HAM, False),
    (keywords("spam", ["c++", "$$$", "sub"], name="kw_symbols"), ["c++", "$$$", "sub"], SPAM, False),
    (keywords("ham", ["song", "My"], name="kw_case", case_sensitive=True), ["song", "My"], HAM, True),
    (keywords("spam", ["kelvin", "check"], name="kw_fold"), ["kelvin", "check"], SPAM, False),
]
REGEXES = [  # (pattern, flags, label): RE2 fast path and Python-re-only patterns alike
    (r"check.*out", re.IGNORECASE, SPAM), (r"https?://\S+", re.IGNORECASE, SPAM), (r"^\s*\w+\s*$", re.IGNORECASE, HAM),
    (r"(?<=my )channel", re.IGNORECASE, SPAM), (r"\bsub\b", re.IGNORECASE, SPAM), (r"\d{4}$", 0, HAM),
    (r"[^\w\s]{2}", 0, SPAM), (r"(\w)\1", 0, HAM), (r"\s\s", 0, HAM), (r"caf\u00e9|\u00e9t\u00e9", re.IGNORECASE, HAM),
]


def keyword_reference(name, words, label, case_sensitive):
    def vote(x):
        return label if any(whole_word(text_of(x), w, case_sensitive=case_sensitive) for w in words) else NONE

    return SnorkelLF(name, f=vote)


def regex_reference(name, pattern, flags, label, column="text"):
    def vote(x):
        return label if re.search(pattern, text_of(x, column), flags) else NONE

    return SnorkelLF(name, f=vote)


@snorkel_lf(name="cc")
def ref_condition(x):
    return SPAM if x["amount"] > 1000 and x["country"] == "FR" else NONE


@pytest.mark.parametrize("dtype", ["str", object])
def test_declarative_lfs_match_snorkel(dtype):
    frame = comments(seed=1, dtype=dtype)
    ours = [lf for lf, *_ in DECLARATIVE]
    theirs = [keyword_reference(lf.name, words, label, case) for lf, words, label, case in DECLARATIVE]
    for i, (pattern, flags, label) in enumerate(REGEXES):
        ours.append(regex(CLASSES[label], pattern, name=f"re{i}", flags=flags))
        theirs.append(regex_reference(f"re{i}", pattern, flags, label))
    ours += [column_condition("spam", "amount > 1000 and country == 'FR'", name="cc"),
             regex("ham", r"^\d{3}$", name="re_code", column="code")]
    theirs += [ref_condition, regex_reference("re_code", r"^\d{3}$", re.IGNORECASE, HAM, column="code")]
    assert_same(ours, theirs, frame)


# --- rules file (keywords, regex, phrases, spaCy patterns, column) against native snorkel + spaCy -----------

RULES = textwrap.dedent('''\
    [[rule]]
    name = "kw_refund"
    class = "spam"
    kind = "keywords"
    words = ["subscribe", "check out"]

    [[rule]]
    name = "re_link"
    class = "spam"
    kind = "regex"
    pattern = "https?://\\\\S+"

    [[rule]]
    name = "ph_love"
    class = "ham"
    kind = "phrases"
    phrases = ["love song", "my channel"]

    [[rule]]
    name = "sp_check"
    class = "spam"
    kind = "spacy"
    patterns = [[{LOWER = "check"}, {LOWER = "out", OP = "?"}, {LOWER = "my"}]]

    [[rule]]
    name = "big_fr_be"
    class = "spam"
    kind = "column"
    condition = "amount > 1000 and (country == 'FR' or country == 'BE')"
''')


def spacy_references():
    import spacy
    from spacy.matcher import Matcher, PhraseMatcher

    nlp = spacy.blank("en")
    phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
    phrases.add("ph_love", [nlp.make_doc("love song"), nlp.make_doc("my channel")])
    tokens = Matcher(nlp.vocab)
    tokens.add("sp_check", [[{"LOWER": "check"}, {"LOWER": "out", "OP": "?"}, {"LOWER": "my"}]])

    def ph_love(x):
        return HAM if phrases(nlp(text_of(x))) else NONE

    def sp_check(x):
        return SPAM if tokens(nlp(text_of(x))) else NONE

    return SnorkelLF("ph_love", f=ph_love), SnorkelLF("sp_check", f=sp_check)


@snorkel_lf(name="big_fr_be")
def ref_big_fr_be(x):
    return SPAM if x["amount"] > 1000 and x["country"] in ("FR", "BE") else NONE


def test_rules_file_lfs_match_snorkel(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    extra = ["check out my channel", "Check my channel http://x.co", "LOVE SONG <3", "love  song", "checkout my"]
    frame = comments(n=120, seed=2)
    frame = pd.concat([frame, frame.iloc[:len(extra)].assign(text=extra, id=[f"x{i}" for i in range(len(extra))])],
                      ignore_index=True)
    ours = load_rules([path], classes=list(CLASSES), columns=list(frame.columns))
    ph_love, sp_check = spacy_references()
    theirs = [keyword_reference("kw_refund", ["subscribe", "check out"], SPAM, False),
              regex_reference("re_link", r"https?://\S+", re.IGNORECASE, SPAM), ph_love, sp_check, ref_big_fr_be]
    assert_same(ours, theirs, frame)


# --- the snorkel label model: labelkit fits unique vote patterns with weights through a subclass that
# overrides snorkel's private `_generate_O`; this pins that the result is snorkel's own fit on every row.

def votes(n, accuracies, coverages, k, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    right = rng.random((n, len(accuracies))) < np.asarray(accuracies)
    wrong = (y[:, None] + rng.integers(1, k, size=(n, len(accuracies)))) % k
    covered = rng.random((n, len(accuracies))) < np.asarray(coverages)
    return np.where(covered, np.where(right, y[:, None], wrong), -1)


@pytest.mark.parametrize("k,prior", [(2, [0.6, 0.4]), (3, [0.5, 0.3, 0.2])])
def test_label_model_equals_snorkel_fit_on_all_rows(k, prior):
    import torch
    from snorkel.labeling.model import LabelModel

    L = votes(2000, [0.9, 0.8, 0.7, 0.65], [0.7, 0.5, 0.6, 0.4], k, seed=k)
    options = dict(n_epochs=150, lr=0.01, l2=0.0, optimizer="sgd", prec_init=0.7)
    ours = make_label_model("snorkel", **options).fit(L.astype(np.int8), cardinality=k, class_balance=prior, seed=11)
    theirs = LabelModel(cardinality=k, verbose=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        theirs.fit(L, class_balance=prior, progress_bar=False, seed=11, **options)
    finally:
        torch.set_num_threads(threads)
    assert len(np.unique(L, axis=0)) < len(L) / 5  # labelkit really fitted far fewer (weighted) rows
    np.testing.assert_allclose(ours.mu, theirs.mu.detach().numpy(), atol=2e-5)
    np.testing.assert_allclose(ours.predict_proba(L), theirs.predict_proba(L), atol=2e-5)


def test_label_model_refuses_a_snorkel_that_skips_the_weighted_override(monkeypatch):
    from snorkel.labeling.model import LabelModel

    from labelkit.errors import LabelModelError
    from labelkit.labelmodels.snorkel_model import _weighted_snorkel_class

    monkeypatch.setattr(_weighted_snorkel_class(), "_generate_O", LabelModel._generate_O)  # as if snorkel renamed it
    L = votes(300, [0.9, 0.8, 0.7], [0.7, 0.6, 0.5], 2, seed=0).astype(np.int8)
    with pytest.raises(LabelModelError, match="no longer calls LabelModel._generate_O"):
        make_label_model("snorkel", n_epochs=5).fit(L, cardinality=2, seed=0)
