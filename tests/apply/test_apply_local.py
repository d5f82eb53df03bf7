"""Local applier: vectorised declarative LFs, clear errors (parity with snorkel: test_snorkel_parity.py)."""
import re

import numpy as np
import pandas as pd
import pytest

from labelkit import ABSTAIN, keywords, labeling_function, regex
from labelkit.apply.local import apply_lfs
from labelkit.errors import ConfigError, LabelingFunctionError
from labelkit.lfs.batch import Batch

CLASSES = ("ham", "spam")


@labeling_function()
def mentions_my(x):
    return "spam" if isinstance(x.text, str) and "my" in x.text.lower() else ABSTAIN


def test_keyword_word_boundaries_with_accents_and_symbols():
    frame = pd.DataFrame({"text": ["un café noir", "cafés", "écafé", "naïveté", "I love c++!", "c++x", "$$$ now", "x$$$"]})
    lfs = [keywords("ham", ["café", "naïve"], name="accents"), keywords("spam", ["c++", "$$$"], name="symbols")]
    L = apply_lfs(lfs, frame, CLASSES, text_column="text").L
    assert L[:, 0].tolist() == [0, -1, -1, -1, -1, -1, -1, -1]
    assert L[:, 1].tolist() == [-1, -1, -1, -1, 1, -1, 1, -1]  # "x$$$": x before $ is a word character


def test_vectorised_regex_equals_python_re_on_random_text():
    rng = np.random.default_rng(2)
    alphabet = list("abcxyABCXY019 _\t\n\x0b\x1c.-$+#") + ["é", "É", "ſ", "\u212a", "\u0301"]
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 14))) for _ in range(3000)]
    frame = pd.DataFrame({"text": texts})
    patterns = [r"check.*out", r"\d{2,}", r"[^\w\s]{2}", r"\bab\w*", r"x{,2}y", r"\Aa", r"[A-z]+\B", r"\S\s\S", r"a$",
                r"\A\s*(?:\S+\s+){0,2}\S*\s*\Z", r"b\n?$", r"(?:a|b$)"]
    for pattern in patterns:
        for flags in (0, re.IGNORECASE):
            lf = regex("spam", pattern, name="r", flags=flags)
            expected = np.array([lf.pattern.search(t) is not None for t in texts])
            np.testing.assert_array_equal(lf.mask(Batch(frame, text_column="text")), expected, err_msg=pattern)
    for words in (["ab", "c.", "x y", "$"], ["é", "k", "ſ"]):
        lf = keywords("spam", words, name="k")
        expected = np.array([lf.pattern.search(t) is not None for t in texts])
        np.testing.assert_array_equal(lf.mask(Batch(frame, text_column="text")), expected)


def test_regex_on_numeric_column_uses_its_text():
    frame = pd.DataFrame({"text": ["a", "b"], "code": [123, 45]})
    L = apply_lfs([regex("spam", r"^\d{3}", name="three_digits", column="code")], frame, CLASSES, text_column="text").L
    assert L[:, 0].tolist() == [1, -1]


@labeling_function()
def fails_on_b(x):
    if x.text == "b":
        raise ValueError("boom")
    return "ham"


def test_lf_exception_names_lf_and_row_id():
    frame = pd.DataFrame({"id": ["x1", "x2"], "text": ["a", "b"]})
    with pytest.raises(LabelingFunctionError, match=r"LF 'fails_on_b' raised ValueError: boom on train row id='x2'"):
        apply_lfs([fails_on_b], frame, CLASSES, text_column="text", id_column="id", where="train")
    with pytest.raises(LabelingFunctionError, match=r"row #12;"):
        apply_lfs([fails_on_b], frame, CLASSES, text_column="text", row_offset=10)


def test_on_error_abstain_counts_failed_rows():
    frame = pd.DataFrame({"text": ["a", "b", "b", "c"]})
    result = apply_lfs([fails_on_b, mentions_my], frame, CLASSES, text_column="text", on_error="abstain")
    assert result.L[:, 0].tolist() == [0, -1, -1, 0]
    assert result.errors == {"fails_on_b": 2}


def test_bad_vote_and_bad_options_are_reported():
    @labeling_function()
    def returns_int(x):
        return 1

    with pytest.raises(LabelingFunctionError, match=r"returned 1 on data row #1, which is not a class name"):
        apply_lfs([returns_int], pd.DataFrame({"text": ["a"]}), CLASSES, text_column="text")
    with pytest.raises(ConfigError, match="on_error must be one of raise, abstain"):
        apply_lfs([mentions_my], pd.DataFrame({"text": ["a"]}), CLASSES, text_column="text", on_error="skip")
