"""The audit on real-looking data: short near copies, normalisation, test-log rows, sacred gold rows,
honest time messages and a temporal holdout that skips instead of misleading."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from labelkit.quality import AuditSpec, apply_policies, run_audit
from labelkit.quality import near_duplicates
from labelkit.quality.near_duplicates import similar_pairs

WORDS = ["are", "you", "this", "now", "buzy", "check", "out", "my", "channel", "video", "song", "love", "nice",
         "great", "hey", "guys", "subscribe", "please", "the", "best", "shakira", "waka", "music", "lol"]


def _frame(prefix, texts, **columns):
    n = len(texts)
    data = {"id": [f"{prefix}{i}" for i in range(n)], "text": list(texts),
            "label": columns.pop("label", ["ham"] * n), "author": columns.pop("author", [f"{prefix}a{i}" for i in range(n)])}
    data.update(columns)
    return pd.DataFrame(data)


def _spec(**kw):
    return AuditSpec(id_column="id", text_column="text", label_column="label", classes=("ham", "spam"), **kw)


def _found(result, reason):
    f = result.findings[result.findings["reason"] == reason]
    return set(zip(f["split"], f["row_id"]))


def _brute_force_pairs(left, right, *, threshold, ngram=3):
    """Every pair's Jaccard of char n-gram sets through a dense overlap matrix (sklearn counts the grams)."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(analyzer="char", ngram_range=(ngram, ngram), binary=True, lowercase=False).fit(left + right)
    a, b = vectorizer.transform(left).astype(np.float64), vectorizer.transform(right).astype(np.float64)
    inter = (a @ b.T).toarray()
    size_a, size_b = np.asarray(a.sum(axis=1)).ravel(), np.asarray(b.sum(axis=1)).ravel()
    jaccard = inter / (size_a[:, None] + size_b[None, :] - inter)
    usable = (size_a[:, None] >= near_duplicates.MIN_GRAMS) & (size_b[None, :] >= near_duplicates.MIN_GRAMS)
    u, v = np.nonzero((jaccard >= threshold - 1e-9) & usable)
    return set(zip(u, v)), jaccard[u, v]


def _short_texts(n_base=1500, seed=0):
    from labelkit.quality.synthetic import vocabulary

    rng = np.random.default_rng(seed)
    vocab = np.concatenate([vocabulary(size=300), WORDS])
    base = [" ".join(rng.choice(vocab, size=rng.integers(3, 9))) for _ in range(n_base)]
    edits = [t + " " + rng.choice(WORDS) if i % 2 else t.replace(t.split()[0], rng.choice(WORDS), 1)
             for i, t in enumerate(base[:1000])]  # short near copies: a token appended or a word changed
    return sorted(set(base + edits))


@pytest.mark.parametrize("ngram, threshold", [(3, 0.7), (4, 0.6)])
def test_near_duplicate_join_equals_brute_force_on_short_texts(monkeypatch, ngram, threshold):
    monkeypatch.setattr(near_duplicates, "PROBE_CHUNK", 97)  # both sides in many chunks, by rows ...
    monkeypatch.setattr(near_duplicates, "CHUNK_CHARS", 2_000)  # ... and by characters
    monkeypatch.setattr(near_duplicates, "PRODUCT_PAIRS", 300)  # and the sparse products in row blocks
    texts = _short_texts()
    left, right = texts[0::2], texts[1::2]
    got = similar_pairs(left, right, threshold=threshold, ngram=ngram)
    expected, sims = _brute_force_pairs(left, right, threshold=threshold, ngram=ngram)
    assert len(expected) > 20  # the generator makes enough close pairs for the comparison to mean something
    assert set(zip(got["u"], got["v"])) == expected
    np.testing.assert_allclose(np.sort(got["sim"]), np.sort(sims), rtol=1e-6)


def test_near_duplicates_across_three_splits_equal_brute_force(monkeypatch):
    """train is streamed past an index of dev+test; dev-test pairs come from the index queried with itself."""
    monkeypatch.setattr(near_duplicates, "PROBE_CHUNK", 101)
    texts = _short_texts(n_base=900, seed=1)
    parts = {"train": texts[0::3], "dev": texts[1::3], "test": texts[2::3]}
    parts["train"] = parts["train"] + parts["dev"][:3]  # identical texts are the exact check's, not this one's
    splits = {s: _frame(s[:2], t) for s, t in parts.items()}
    result = run_audit(splits, _spec(checks=("near_duplicate_cross_split",)))
    expected = set()
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pairs, _ = _brute_force_pairs(parts[a], parts[b], threshold=0.7)
            pairs = {(u, v) for u, v in pairs if parts[a][u] != parts[b][v]}
            expected |= {(a, f"{a[:2]}{u}") for u, _ in pairs} | {(b, f"{b[:2]}{v}") for _, v in pairs}
    assert {s for s, _ in expected} == {"train", "dev", "test"}
    assert _found(result, "near_duplicate_cross_split") == expected


def test_gold_row_with_many_train_copies_has_one_finding_with_a_count(monkeypatch):
    monkeypatch.setattr(near_duplicates, "PROBE_CHUNK", 7)  # the copies come in several chunks
    base = "my internet keeps dropping every evening since monday"
    train = _frame("tr", [f"{base} (ref {k:05d})" for k in range(40)] + ["something else entirely here"])
    test = _frame("te", [base, "an unrelated gold row about billing"])
    result = run_audit({"train": train, "test": test}, _spec(checks=("near_duplicate_cross_split",)))
    found = result.findings
    gold = found[found["split"] == "test"]
    assert gold["row_id"].tolist() == ["te0"]
    assert "(and 39 more train rows at >= 0.7)" in gold["evidence"].iloc[0]
    assert set(found.loc[found["split"] == "train", "row_id"]) == {f"tr{k}" for k in range(40)}


def test_short_near_copy_found_with_score_in_evidence():
    train = _frame("tr", ["Are you this now buzy x", "totally different words here"])
    test = _frame("te", ["Are you this now buzy", "another unrelated comment"])
    result = run_audit({"train": train, "test": test}, _spec(checks=("near_duplicate_cross_split",)))
    assert _found(result, "near_duplicate_cross_split") == {("train", "tr0"), ("test", "te0")}
    evidence = result.findings["evidence"].iloc[0]
    assert "char 3-gram Jaccard 0.9" in evidence


def test_exact_keys_normalise_unicode_case_whitespace_but_not_numbers_or_urls():
    train = _frame("tr", ["ＣＨＥＣＫ  out   my channel\ufeff", "my order 123 from last week is still late", "https://youtu.be/abc123",
                          "http://www.example.com/a"])
    test = _frame("te", ["check out my channel", "my order 456 from last week is still late", "https://youtu.be/xyz789",
                         "http://www.example.com/b"])
    checks = ("exact_duplicate_cross_split", "near_duplicate_cross_split", "duplicate_within_split")
    result = run_audit({"train": train, "test": test}, _spec(checks=checks))
    assert _found(result, "exact_duplicate_cross_split") == {("train", "tr0"), ("test", "te0")}
    near = result.findings[(result.findings["reason"] == "near_duplicate_cross_split") & (result.findings["row_id"] == "tr1")]
    assert "differ only in numbers, URLs or punctuation" in near["evidence"].iloc[0]
    urls = run_audit({"test": _frame("u", [f"https://www.youtube.com/watch?v=vid{i:04d}" for i in range(20)])},
                     _spec(checks=("duplicate_within_split",)))
    assert urls.findings.empty  # distinct URL-only texts are distinct texts


def test_test_log_rows_found_and_a_real_mention_of_a_test_is_not():
    texts = ["asdf asdf asdf", "this is a test", "test test", "Lorem ipsum dolor sit amet", "sdfghjkl",
             "I think i've fixed it can you send a test message?", "passed my driving test with this song on",
             "love this song", "great video", "nice", "lol", "hey"]
    authors = ["ann", "bob", "cy", "di", "ed", "fay", "gus", "loadtest", "qa_bot", "test_user", "tester01", "Testa Rossa"]
    result = run_audit({"train": _frame("r", texts, author=authors)}, _spec(checks=("test_rows",)))
    assert _found(result, "test_row") == {("train", f"r{i}") for i in (0, 1, 2, 3, 4, 7, 8, 9, 10)}


def test_bursts_need_a_short_window():
    times = pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:02", "2024-01-01 10:05",
                            "2024-02-01 00:00", "2024-03-01 00:00", "2024-04-01 00:00"])
    frame = _frame("b", ["free followers at example.org"] * 6, author=["bot1"] * 3 + ["fan"] * 3, created=times)
    result = run_audit({"train": frame}, _spec(checks=("test_rows",), time_column="created"))
    assert _found(result, "test_row") == {("train", "b0"), ("train", "b1"), ("train", "b2")}


def test_gold_rows_keep_their_count_under_default_policies():
    train = _frame("tr", ["hello there friend", "copy of a test row here", "qa run 5 please ignore",
                          "my favourite song ever"], author=["x", "y", "loadtest", "tester01"])
    dev = _frame("dv", ["great song", "great song", "this is a test"], author=["p", "q", "r"])
    test = _frame("te", ["copy of a test row here", "I think i've fixed it can you send a test message?",
                         "love it", "love it", "asdf asdf asdf"], author=["s", "t", "u", "v", "qa_bot"])
    splits = {"train": train, "dev": dev, "test": test}
    result = run_audit(splits, _spec(checks=("exact_duplicate_cross_split", "duplicate_within_split", "test_rows")))
    clean = apply_policies(splits, result.findings)
    assert clean.accounting["dev"]["kept"] == 3 and clean.accounting["test"]["kept"] == 4
    dropped = set(zip(clean.quarantine["split"], clean.quarantine["row_id"]))
    assert ("test", "te4") in dropped  # two independent signals: a QA sender AND placeholder text
    assert ("train", "tr1") in dropped and ("test", "te0") not in dropped  # the train side of a copy goes
    assert ("test", "te1") not in dropped and ("test", "te1") not in _found(result, "test_row")
    assert {("train", "tr2"), ("train", "tr3")} <= dropped  # one signal is enough in train


def test_long_texts_are_cut_with_a_warning_naming_the_row():
    big = "spam " * 400_000  # 2 MB in one cell
    train = _frame("tr", [big, "short one"])
    test = _frame("te", [big[:-10] + "different", "short two"])
    result = run_audit({"train": train, "test": test}, _spec(checks=("near_duplicate_cross_split",)))
    assert any("first 10,000" in w and "'tr0'" in w for w in result.warnings)


def test_time_leakage_says_when_train_is_newer_than_test():
    train = _frame("tr", [f"text {i}" for i in range(30)],
                   created=pd.date_range("2025-06-01", periods=30, freq="D"))
    test = _frame("te", [f"other {i}" for i in range(30)], created=pd.date_range("2024-01-01", periods=30, freq="D"))
    result = run_audit({"train": train, "test": test}, _spec(checks=("time_leakage",), time_column="created"))
    assert any("100% of train rows are later than the end of the test period" in w for w in result.warnings)
    assert not any("looks random" in w for w in result.warnings)


def test_one_class_temporal_holdout_is_skipped_not_a_crash():
    from labelkit.pipeline.holdout import temporal_holdout

    train = pd.DataFrame({"created": pd.date_range("2024-01-01", periods=60, freq="D").astype(str)})
    test = pd.DataFrame({"created": pd.date_range("2024-04-01", periods=60, freq="D").astype(str)})
    data = SimpleNamespace(frames={"train": train, "test": test}, gold={"test": np.zeros(60, dtype=int)},
                           schema=SimpleNamespace(classes=("ham", "spam")))
    config = SimpleNamespace(data=SimpleNamespace(time_column="created"))
    proba = np.tile([0.2, 0.8], (60, 1))
    drift = {"freq": "M", "periods": [{"period": "2024-04", "n": 30}, {"period": "2024-05", "n": 30}]}
    out = temporal_holdout(config, data, proba, np.zeros((60, 1)), np.array([0.5, 0.5]), {}, object(), drift)
    assert out["skipped"].startswith("temporal holdout on 2024-05 skipped: the 30 test rows of the period all have one class")
    test_two = dict(data.gold, test=np.arange(60) % 2)
    out = temporal_holdout(config, SimpleNamespace(**{**vars(data), "gold": test_two}), proba, np.zeros((60, 1)),
                           np.array([0.5, 0.5]), {}, object(), drift)
    assert "fewer than 5 rows of 'ham' (0)" in out["skipped"]  # older train labels are all spam


@pytest.mark.slow
def test_youtube_planted_faults_benchmark_targets():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "youtube_spam_collection"  # ../shared
    if not folder.exists():
        pytest.skip("shared YouTube data not available")
    import importlib.util

    spec = importlib.util.spec_from_file_location("pf", Path(__file__).parents[2] / "benchmarks" / "planted_faults.py")
    pf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pf)
    p = pf.plant(pf.load_youtube(folder), 0)
    result = run_audit(p.splits, AuditSpec(classes=("ham", "spam"), **pf.COLUMNS))
    flagged = result.findings.groupby(["split", "row_id"])["reason"].apply(set).to_dict()
    for fault, reasons in pf.FAULT_REASONS.items():
        if fault == "wrong gold label":
            continue
        rows = p.faults[fault]
        assert sum(bool(flagged.get(r, set()) & reasons) for r in rows) >= 0.95 * len(rows), fault


def test_report_and_cli_say_how_many_gold_rows_were_scored_and_why():
    from labelkit.cli.tables import headline_table
    from labelkit.report.sections import gold_rows_line
    from labelkit.results import BuildResults
    from labelkit.pipeline.scoring import gold_rows_scored

    quarantine = pd.DataFrame({"split": ["test", "train"], "row_id": ["t9", "r1"], "reasons": ["test_row", "test_row"]})
    audit = SimpleNamespace(clean=SimpleNamespace(quarantine=quarantine))
    data = SimpleNamespace(frames={"dev": pd.DataFrame({"x": range(120)}), "test": pd.DataFrame({"x": range(249)})})
    gold = gold_rows_scored(data, audit)
    assert gold == {"dev": {"given": 120, "scored": 120, "left_out": {}},
                    "test": {"given": 250, "scored": 249, "left_out": {"test_row": 1}}}
    results = BuildResults.from_json({"task": {"name": "t", "classes": ["ham", "spam"], "rows": {}}, "gold_rows": gold,
                                      "systems": {"n": 249, "classes": ["ham", "spam"], "systems": {}}})
    line = gold_rows_line(results)
    assert line.startswith("Gold rows scored: dev 120 of 120, test 249 of 250.") and "The audit left out 1 test row (test_row)." in line
    assert "gold rows scored: dev 120 of 120, test 249 of 250; 1 test left out (test_row)" in headline_table(results)
