"""Authoring LFs: Python, declarative and spaCy LFs vote class names (snorkel parity: test_snorkel_parity.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelkit import ABSTAIN, column_condition, keywords, labeling_function, regex, spacy_lf, spacy_patterns
from labelkit.apply import apply_lfs
from labelkit.errors import LabelingFunctionError
from labelkit.lfs import load_lfs
from labelkit.lfs.spacy_lfs import SpacyParser

CLASSES = ("billing", "connectivity", "account", "cancellation", "other")


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "id": ["a", "b", "c", "d", "e", "f", "g"],
        "text": ["my invoice is wrong", "no signal at home", "I want a refund", "Cancel my plan",
                 "please close my account now", "hi", "résiliation, annulé svp"],
        "amount": [200, 0, 5, 1, 2, 3, 500],
        "country": ["FR", "US", "US", "FR", "US", "US", "FR"],
    })


@labeling_function()
def mentions_invoice(row):
    return "billing" if "invoice" in row.text.lower() else ABSTAIN


def all_lfs():
    @spacy_lf()
    def short_text(doc):
        return "other" if len(doc) < 3 else ABSTAIN

    return [
        mentions_invoice,
        keywords("billing", ["refund", "charged twice"], name="kw_billing"),
        keywords("cancellation", ["annulé", "résiliation"], name="kw_fr_cancel"),
        regex("connectivity", r"\bno (signal|internet)\b", name="re_outage"),
        column_condition("billing", "amount > 100 and country == 'FR'", name="big_fr"),
        spacy_patterns("cancellation", [[{"LOWER": "cancel"}, {"LOWER": "my", "OP": "?"}, {"LOWER": "plan"}]],
                       name="sp_cancel", phrases=["close my account"]),
        short_text,
    ]


def test_votes_are_exact(frame):
    L = apply_lfs(all_lfs(), frame, CLASSES, text_column="text", parser=SpacyParser()).L
    expected = np.array([
        [0, -1, -1, -1, 0, -1, -1],
        [-1, -1, -1, 1, -1, -1, -1],
        [-1, 0, -1, -1, -1, -1, -1],
        [-1, -1, -1, -1, -1, 3, -1],
        [-1, -1, -1, -1, -1, 3, -1],
        [-1, -1, -1, -1, -1, -1, 4],
        [-1, -1, 3, -1, 0, -1, -1],
    ])
    assert L.dtype == np.int8
    np.testing.assert_array_equal(L, expected)


def test_keywords_are_whole_words_and_case_insensitive():
    frame = pd.DataFrame({"text": ["REFUND now", "refunded", "prefund", "a refund."]})
    L = apply_lfs([keywords("billing", ["refund"], name="kw")], frame, CLASSES, text_column="text").L
    assert L[:, 0].tolist() == [0, -1, -1, 0]


def test_row_gives_item_and_attribute_access():
    seen = []

    @labeling_function()
    def look(row):
        seen.append((row.text, row["text"], row.get("missing", "x")))
        return ABSTAIN

    apply_lfs([look], pd.DataFrame({"text": ["t"]}), CLASSES, text_column="text")
    assert seen == [("t", "t", "x")]


def test_lf_returning_non_class_names_lf_and_row(frame):
    @labeling_function()
    def returns_int(row):
        return 1

    with pytest.raises(LabelingFunctionError, match=r"LF 'returns_int' returned 1 on data row id='a'.*not a class"):
        apply_lfs([returns_int], frame, CLASSES, text_column="text", id_column="id")


def test_lf_that_raises_names_lf_and_row_or_abstains(frame):
    @labeling_function()
    def fragile(row):
        if row.id == "c":
            raise ValueError("boom")
        return "other"

    with pytest.raises(LabelingFunctionError, match=r"LF 'fragile' raised ValueError: boom on data row id='c'"):
        apply_lfs([fragile], frame, CLASSES, text_column="text", id_column="id")
    result = apply_lfs([fragile], frame, CLASSES, text_column="text", id_column="id", on_error="abstain")
    assert result.errors == {"fragile": 1}
    assert result.L[:, 0].tolist() == [4, 4, -1, 4, 4, 4, 4]


def test_decorator_without_parentheses_is_explained():
    with pytest.raises(LabelingFunctionError, match="missing its parentheses"):
        @labeling_function
        def oops(row):
            return ABSTAIN


@pytest.mark.parametrize("expression", ["amount >", "amount ~ 3", "amount > banana", "country in 'FR'"])
def test_bad_column_condition(expression):
    with pytest.raises(LabelingFunctionError, match="LF 'c'"):
        column_condition("billing", expression, name="c")


def test_column_condition_on_missing_column(frame):
    lf = column_condition("billing", "price > 3", name="pricey")
    with pytest.raises(LabelingFunctionError, match=r"LF 'pricey' tests column 'price'"):
        apply_lfs([lf], frame, CLASSES, text_column="text")


def test_loader_collects_module_lfs_in_order_and_rejects_duplicates(tmp_path):
    module = tmp_path / "a.py"
    module.write_text(
        "from labelkit import keywords, regex\n"
        "z = keywords('billing', ['bill'], name='z_first')\n"
        "a = regex('other', 'x', name='a_second')\n"
    )
    assert [lf.name for lf in load_lfs([module])] == ["z_first", "a_second"]
    other = tmp_path / "b.py"
    other.write_text("from labelkit import keywords\nz = keywords('billing', ['x'], name='z_first')\n")
    with pytest.raises(LabelingFunctionError, match="Duplicate LF name 'z_first'"):
        load_lfs([module, other])


def test_loader_reports_a_broken_module_in_one_line(tmp_path):
    module = tmp_path / "broken.py"
    module.write_text("x = 1\nraise RuntimeError('bad module')\n")
    with pytest.raises(LabelingFunctionError, match=r"broken.py:2 failed to load: RuntimeError: bad module"):
        load_lfs([module])
