"""Vectorised regex/keyword LFs vote exactly where Python's `re.search` finds a match, row by row.

The fast path runs RE2 (pyarrow.compute) only for patterns whose meaning is the same in both engines
and only on rows without characters the engines treat differently; everything else uses Python re.
These tests compare the vectorised mask with a plain per-row `re.search` on tricky patterns and text.
"""
import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelkit import keywords, regex
from labelkit.lfs import declarative
from labelkit.lfs.batch import Batch
from labelkit.lfs.declarative import re2_translation

KELVIN, LONG_S, DOTTED_I, DOTLESS_I = "\u212a", "\u017f", "\u0130", "\u0131"
TEXTS = [
    "", "a", "a\n", "a\n\n", "\na", "ab", "ba", "abc abc", "ABC", "x{,2}y", "xxy", "y", "check it out", "CHECK OUT",
    "a\x0bb", "a\x1cb", "a\tb", "a b", "a\u00a0b", "a\u2003b", "caf\u00e9", "CAF\u00c9", "cafe\u0301", "na\u00efve",
    KELVIN + "elvin", "kelvin", LONG_S + "ub", "sub", DOTTED_I + "stanbul", "istanbul", DOTLESS_I, "I",
    "under_score", "c++", "$$$", "x$$$", "\u0663\u0664", "12", "1a2", "\u2019s", "it\u2019s", "\U0001F600 lol",
    "\ufeffbom", "[:alpha:]", ":]", "]", "-", "^", "a.b", "http://x.co/a?b=1", "https://\u00e9.fr", "aa", "abab",
    "\u00df", "SS", "ss", "\u212b", "\u00c5", "x" * 30,
]
PATTERNS = [
    # look-around, back-references, atomic/possessive (Python re only)
    r"(?<=my )channel", r"(?<!\w)ab(?!\w)", r"a(?=b)", r"(?<!\s)b", r"(a|b)\1", r"(?P<x>ab)(?P=x)", r"(?>a+)b",
    r"a*+b", r"(?i)abc", r"(?i:abc)d?",
    # word boundaries and classes that differ between engines outside ASCII
    r"\bab\b", r"\Ba", r"\B", r"x*\B", r"\w+", r"\W", r"\d", r"\D+", r"\s", r"\S\s\S", r"[\s\d]", r"[^\w\s]{2}",
    r"[A-z]+", r"[Z-a]", r"[^a-z]", r"[-a]", r"[a-]", r"[\]\-]", r"[[:alpha:]]",
    # anchors, Python-only repeat syntax, long repeats
    r"a$", r"^a$", r"a$b", r"a\Z", r"\Aa", r"^\s*\w+\s*$", r"(?:a|b$)", r"b\n?$", r"\n$", r"x{,2}y", r"x{2}",
    r"x{1,1001}", r"a{2,}?", r"(?:ab)+", r"a|", r"",
    # unicode literals and escapes in the pattern
    "caf\u00e9", r"caf\u00e9", r"caf\xe9", "\u00e9", r"\u0663", "k", "s", "i", r"\x41", r"\101", "\u00df",
    r"check.*out", r"https?://\S+", r"\A\s*(?:\S+\s+){0,3}\S*\s*\Z",
]


def frames(texts):
    """The same texts as a pyarrow-backed string column, an object column and a column with None."""
    yield pd.DataFrame({"text": pd.array(texts, dtype="str")})
    yield pd.DataFrame({"text": pd.Series(texts, dtype=object)})
    yield pd.DataFrame({"text": pd.Series([None, *texts], dtype=object)})


def per_row(compiled, frame):
    return np.array([compiled.search("" if t is None else t) is not None for t in frame["text"].tolist()])


def assert_mask_equals_re(lf, texts):
    for frame in frames(texts):
        mask = lf.mask(Batch(frame, text_column="text"))
        expected = per_row(lf.pattern, frame)
        differ = [frame["text"].iloc[i] for i in np.flatnonzero(mask != expected)]
        assert not differ, f"{lf!r} differs from re.search on {differ!r}"


@pytest.mark.parametrize("flags", [0, re.IGNORECASE, re.IGNORECASE | re.ASCII, re.MULTILINE])
def test_regex_mask_equals_python_re_on_tricky_patterns(flags):
    for pattern in PATTERNS:
        try:
            re.compile(pattern, flags)
        except re.error:
            continue
        assert_mask_equals_re(regex("spam", pattern, name="r", flags=flags), TEXTS)


@pytest.mark.parametrize("case_sensitive", [False, True])
def test_keyword_mask_equals_python_re(case_sensitive):
    for words in (["ab", "c++", "$$$", "x y"], ["caf\u00e9", "k", "s", "i"], ["kelvin", "SUB", "under_score"]):
        assert_mask_equals_re(keywords("spam", words, name="k", case_sensitive=case_sensitive), TEXTS)


def test_fast_path_is_used_for_common_patterns_and_refused_for_unsafe_ones():
    for common in (r"check.*out", r"https?://\S+", r"^\s*\w+\s*$", r"\d{2,}", r"[^\w\s]{2}", r"a\Z"):
        assert re2_translation(re.compile(common, re.IGNORECASE)) is not None, common
    assert keywords("spam", ["check out", "c++"], name="k")._re2 is not None
    for unsafe in (r"a$b", r"(?<=a)b", r"(a)\1", "caf\u00e9", r"x{,2}", r"\B", r"a*+", r"[[:alpha:]]", r"x{1,1001}"):
        assert re2_translation(re.compile(unsafe)) is None, unsafe
    assert re2_translation(re.compile("a", re.MULTILINE)) is None


def test_translator_uses_no_private_regex_internals():
    tree = ast.parse(Path(declarative.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {f"{node.module}.{alias.name}" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) for alias in node.names}
    private = {name for name in imported - {"__future__.annotations"}
               if any(part.startswith("_") for part in name.split("."))}
    assert not private, private


# --- property test: random patterns built from tokens on which the engines are known to differ -----------

ATOMS = ["a", "b", "k", "s", "i", "A", "K", "S", "1", " ", "_", "-", ".", r"\.", r"\$", r"\d", r"\D", r"\w", r"\W",
         r"\s", r"\S", r"\n", "[a-c]", "[^a-c]", r"[\s\d]", r"[^\w\s]", "[A-z]", r"[\w-]", "\u00e9", KELVIN, r"\x0b"]
ASSERTIONS = [r"\b", r"\B", "^", "$", r"\A", r"\Z", "(?=a)", "(?!b)", "(?<=a)", r"(?<!\s)"]
REPEATS = ["*", "+", "?", "*?", "+?", "{2}", "{1,3}", "{,2}", "{2,}"]
ALPHABET = ("abkisAKSI1 _-.$\n\t\x0b\x1c" + "\u00e9\u00c9" + KELVIN + LONG_S + DOTTED_I + DOTLESS_I
            + "\u00a0\u0663\u2019\u0301")


def _patterns():
    atom = st.sampled_from(ATOMS)
    repeated = st.builds(lambda a, r: a + r, atom, st.sampled_from(REPEATS))
    leaf = st.one_of(atom, repeated, st.sampled_from(ASSERTIONS))
    return st.recursive(
        st.lists(leaf, min_size=1, max_size=4).map("".join),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map("".join),
            st.tuples(inner, inner).map(lambda p: f"(?:{p[0]}|{p[1]})"),
            st.tuples(inner, st.sampled_from(REPEATS)).map(lambda p: f"(?:{p[0]}){p[1]}"),
            st.tuples(inner, st.sampled_from(["", "*"])).map(lambda p: f"({p[0]})\\1{p[1]}"),
        ),
        max_leaves=6,
    )


def random_regex_mask_equals_python_re(pattern, flags, texts):
    try:
        re.compile(pattern, flags)
    except re.error:
        return
    lf = regex("spam", pattern, name="r", flags=flags)
    frame = pd.DataFrame({"text": pd.array(texts, dtype="str")})
    np.testing.assert_array_equal(lf.mask(Batch(frame, text_column="text")), per_row(lf.pattern, frame),
                                  err_msg=f"{pattern!r} flags={flags} texts={texts!r}")


RANDOM = dict(pattern=_patterns(), flags=st.sampled_from([0, re.IGNORECASE, re.IGNORECASE | re.ASCII]),
              texts=st.lists(st.text(ALPHABET, max_size=8), min_size=1, max_size=25))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(**RANDOM)
def test_random_regex_mask_equals_python_re(pattern, flags, texts):
    random_regex_mask_equals_python_re(pattern, flags, texts)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(**RANDOM)
def test_random_regex_mask_equals_python_re_many(pattern, flags, texts):
    random_regex_mask_equals_python_re(pattern, flags, texts)
