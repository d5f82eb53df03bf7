"""spaCy LFs in the local applier: one parse per text, shared matchers with the LFs' own votes."""
import numpy as np
import pandas as pd
import pytest

from labelkit import ABSTAIN, spacy_lf, spacy_patterns
from labelkit.apply.local import apply_lfs
from labelkit.apply.spacy_pass import _SharedMatchers, _anchor, _as_phrases
from labelkit.errors import LabelingFunctionError
from labelkit.lfs.spacy_lfs import SpacyParser

CLASSES = ("ham", "spam")
WORDS = ["Check", "out", "my", "channel", "CHECK", "OUT", "subscribe", "Sub", "song", "I'm", "http://x.co", "!", "café",
         "love", "Love", "it"]


@spacy_lf()
def many_tokens(doc):
    return "ham" if len(doc) > 6 else ABSTAIN


@spacy_lf()
def has_url(doc):
    return "spam" if any(token.like_url for token in doc) else ABSTAIN


PATTERN_LFS = [
    spacy_patterns("spam", [[{"LOWER": "check"}, {"LOWER": "out"}]], name="p_lower_seq"),
    spacy_patterns("spam", [[{"ORTH": "CHECK"}], [{"TEXT": "Sub"}]], name="p_orth"),
    spacy_patterns("spam", [[{"LOWER": "Check"}]], name="p_never"),  # LOWER never has capitals: no votes
    spacy_patterns("spam", [[{"LOWER": {"IN": ["subscribe", "sub"]}}, {"OP": "?", "IS_PUNCT": True}]], name="p_op"),
    spacy_patterns("spam", [[{"LOWER": {"IN": ["my", "out"]}}, {"LOWER": "channel"}]], name="p_in"),
    spacy_patterns("ham", phrases=["my channel", "Café"], name="p_phrases"),
    spacy_patterns("ham", [[{"LOWER": "love"}, {"IS_ALPHA": True, "OP": "?"}, {"ORTH": {"IN": ["it", "song"]}}]],
                   name="p_anchored"),
    spacy_patterns("ham", [[{"LOWER": "Love", "OP": "+"}, {"LOWER": "it"}]], name="p_capital_anchor"),
    spacy_patterns("ham", [[{"LOWER": "song"}]], phrases=["i'm"], name="p_both"),
]


def frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": np.arange(n), "text": [" ".join(rng.choice(WORDS, size=rng.integers(0, 9))) for _ in range(n)]})


def per_lf_votes(lf, texts):
    nlp = SpacyParser(None).nlp
    return [lf.func(doc, **lf.resources) for doc in nlp.pipe(texts)]


def test_shared_matchers_give_each_lfs_own_votes():
    shared = _SharedMatchers.build(PATTERN_LFS, SpacyParser(None).nlp)
    assert shared is not None and set(shared.phrase_matchers) == {"LOWER", "ORTH"}
    data = frame()
    lfs = PATTERN_LFS + [many_tokens, has_url]
    L = apply_lfs(lfs, data, CLASSES, text_column="text").L
    index = {"ham": 0, "spam": 1, None: -1}
    for j, lf in enumerate(lfs):
        expected = [index[v] for v in per_lf_votes(lf, data["text"].tolist())]
        assert L[:, j].tolist() == expected, lf.name
    votes_per_lf = (L != -1).sum(axis=0).tolist()
    assert votes_per_lf[2] == 0 and votes_per_lf[-4] == 0 and min(votes_per_lf[:2] + votes_per_lf[3:-4]) >= 3


def test_spacy_lfs_match_snorkel_applier():
    from snorkel.labeling import PandasLFApplier

    data = frame(n=16, seed=1)  # to_snorkel builds a blank pipeline per row and LF: keep it small
    lfs = [PATTERN_LFS[0], PATTERN_LFS[4], has_url]
    expected = PandasLFApplier([lf.to_snorkel(CLASSES, "text") for lf in lfs]).apply(data, progress_bar=False)
    assert (expected != -1).sum() >= 3
    np.testing.assert_array_equal(apply_lfs(lfs, data, CLASSES, text_column="text").L, expected)


def test_each_text_is_parsed_once_whatever_the_number_of_lfs():
    class CountingParser(SpacyParser):
        calls = 0

        @property
        def nlp(self):
            parent = SpacyParser.nlp.fget(self)
            counter = self

            class Wrapped:
                vocab = parent.vocab
                make_doc = staticmethod(parent.make_doc)

                def pipe(self, texts, **kwargs):
                    texts = list(texts)
                    counter.calls += len(texts)
                    return parent.pipe(texts, **kwargs)

            return Wrapped()

    parser = CountingParser(None)
    apply_lfs(PATTERN_LFS + [many_tokens, has_url], frame(n=50), CLASSES, text_column="text", parser=parser)
    assert parser.calls == 50


def test_phrase_conversion_only_for_plain_token_sequences():
    assert _as_phrases([{"LOWER": "check"}, {"LOWER": "out"}]) == ("LOWER", [("check", "out")])
    assert _as_phrases([{"TEXT": "A"}, {"ORTH": "b"}]) == ("ORTH", [("A", "b")])
    assert _as_phrases([{"LOWER": {"IN": ["sub", "a"]}}, {"LOWER": "x"}]) == ("LOWER", [("a", "x"), ("sub", "x")])
    assert _as_phrases([{"LOWER": "Check"}]) is None
    assert _as_phrases([{"LOWER": "a"}, {"ORTH": "b"}]) is None
    assert _as_phrases([{"LOWER": "a", "OP": "+"}]) is None
    assert _as_phrases([{"LOWER": {"NOT_IN": ["a"]}}]) is None
    assert _anchor([{"IS_ALPHA": True}, {"LOWER": "a", "OP": "?"}, {"ORTH": {"IN": ["b", "c"]}}]) == ("ORTH", ["b", "c"])
    assert _anchor([{"LOWER": "a", "OP": "*"}]) is None


def test_spacy_lf_error_names_row_and_abstain_counts():
    @spacy_lf()
    def fails_on_empty(doc):
        if len(doc) == 0:
            raise IndexError("empty doc")
        return ABSTAIN

    data = pd.DataFrame({"id": ["a", "b", "c"], "text": ["x y", "", "z"]})
    with pytest.raises(LabelingFunctionError, match=r"'fails_on_empty' raised IndexError: empty doc on data row id='b'"):
        apply_lfs([fails_on_empty], data, CLASSES, text_column="text", id_column="id")
    result = apply_lfs([fails_on_empty, has_url], data, CLASSES, text_column="text", on_error="abstain")
    assert result.errors == {"fails_on_empty": 1} and result.L[:, 0].tolist() == [-1, -1, -1]


def _task(n=120):
    from labelkit.settings.config import from_dict
    from labelkit.data.load import task_data_from_frames

    config = from_dict({"task": {"name": "t", "classes": list(CLASSES)},
                        "data": {"id_column": "id", "text_column": "text", "label_column": "label"}})
    frames = {split: frame(n=n, seed=seed).assign(id=lambda f: [f"{split}{i}" for i in f["id"]], label="ham")  # noqa: B023
              for seed, split in enumerate(("train", "dev", "test"))}
    return config, task_data_from_frames(config, frames)


def _counting_pipelines(monkeypatch):
    from labelkit.lfs import spacy_lfs

    loads = []
    real = spacy_lfs.load_pipeline
    monkeypatch.setattr(spacy_lfs, "load_pipeline", lambda model: loads.append(model) or real(model))
    return loads


def test_a_build_parses_every_split_and_the_expectations_with_one_pipeline(monkeypatch):
    from labelkit.pipeline.stages import apply_votes, apply_votes_to

    config, data = _task()
    lfs = PATTERN_LFS + [many_tokens, has_url]
    loads = _counting_pipelines(monkeypatch)
    votes = apply_votes(config, data, lfs)
    extra = frame(n=20, seed=9)  # e.g. the expectations rows, scored later in the build
    L_extra = apply_votes_to(config, extra, lfs, CLASSES, where="expectations", parser=votes.parser).L
    assert len(loads) == 1, loads
    for split, table in [*data.frames.items(), ("extra", extra)]:  # the same votes as a fresh parser per table
        fresh = apply_lfs(lfs, table, CLASSES, text_column="text", parser=SpacyParser(None)).L
        np.testing.assert_array_equal(L_extra if split == "extra" else votes.L[split], fresh, err_msg=split)


def test_the_shared_pipeline_is_renewed_after_parser_rows(monkeypatch):
    from labelkit.pipeline import stages
    from labelkit.lfs import spacy_lfs

    config, data = _task(n=60)
    lfs = PATTERN_LFS + [many_tokens]
    monkeypatch.setattr(spacy_lfs, "PARSER_ROWS", 100)  # memory bound: its string store grows with every word
    loads = _counting_pipelines(monkeypatch)
    votes = stages.apply_votes(config, data, lfs)
    assert len(loads) == 2  # 60 rows, 120 (renewed before test), 60
    for split, table in data.frames.items():
        np.testing.assert_array_equal(votes.L[split], apply_lfs(lfs, table, CLASSES, text_column="text").L)
