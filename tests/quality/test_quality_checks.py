"""Each planted fault is found with the right reason, and clean rows are not flagged."""
import numpy as np
import pandas as pd
import pytest

from labelkit.quality import AuditSpec, run_audit, test_row_detector
from labelkit.quality.synthetic import CLASSES, make_tickets


def _typo(text: str) -> str:
    words = text.split()
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    w = words[longest]
    words[longest] = w[:2] + w[3] + w[2] + w[4:]
    return " ".join(words)


@pytest.fixture(scope="module")
def planted():
    train = make_tickets(300, seed=1, id_prefix="tr", start="2024-01-01")
    dev = make_tickets(150, seed=2, id_prefix="dv", start="2025-01-01")
    test = make_tickets(150, seed=3, id_prefix="te", start="2025-01-01")
    expected = {}

    def add_train(rows: pd.DataFrame, tag: str):
        nonlocal train
        rows = rows.copy()
        rows["id"] = [f"{tag}{i}" for i in range(len(rows))]
        rows["customer"] = f"{tag}-customer"  # copies keep train-side group and time
        rows["created"] = pd.Timestamp("2024-06-01")
        train = pd.concat([train, rows], ignore_index=True)
        return list(rows["id"])

    exact_src = test.iloc[:5].copy()
    exact_src["text"] = " " + exact_src["text"].str.upper().str.replace(" ", " \t ") + "\n"  # case + whitespace
    exact_train = add_train(exact_src, "exact")
    expected["exact_duplicate_cross_split"] = {("train", i) for i in exact_train} | {("test", i) for i in test["id"][:5]}

    near_src = test.iloc[5:10].copy()
    near_src["text"] = near_src["text"].map(_typo)
    near_train = add_train(near_src, "near")
    expected["near_duplicate_cross_split"] = {("train", i) for i in near_train} | {("test", i) for i in test["id"][5:10]}

    train.loc[10:13, "customer"] = test["customer"].iloc[20]
    leaked_test = test.index[test["customer"] == test["customer"].iloc[20]]
    expected["group_leakage"] = {("train", i) for i in train["id"][10:14]} | {("test", i) for i in test["id"][leaked_test]}

    train.loc[20:22, "created"] = pd.Timestamp("2025-06-01")
    expected["time_leakage"] = {("train", i) for i in train["id"][20:23]}

    train.loc[30, "text"] = "asdf"
    train.loc[31, "customer"] = "qa_tester"
    train.loc[32, "id"] = "test-account-1"
    expected["test_row"] = {("train", i) for i in train["id"][30:33]}

    dup = add_train(train.iloc[40:43], "dup")
    expected["duplicate_within_split"] = {("train", i) for i in dup}

    conflict = test.iloc[[30, 31]].copy()
    conflict["id"] = ["conf0", "conf1"]
    conflict["label"] = [CLASSES[(CLASSES.index(lab) + 1) % 3] for lab in conflict["label"]]
    test = pd.concat([test, conflict], ignore_index=True)
    expected["duplicate_within_split"] |= {("test", "conf0"), ("test", "conf1")}
    expected["conflicting_duplicate_labels"] = {("test", i) for i in ["conf0", "conf1"] + list(test["id"][[30, 31]])}

    rng = np.random.default_rng(7)
    flip = rng.choice(len(dev), size=10, replace=False)
    dev.loc[flip, "label"] = [CLASSES[(CLASSES.index(lab) + 1) % 3] for lab in dev.loc[flip, "label"]]
    expected["label_issue"] = {("dev", i) for i in dev["id"][flip]} | expected["conflicting_duplicate_labels"]

    for frame in (train, dev, test):
        frame["channel"] = rng.choice(["web", "phone", "chat"], size=len(frame))
        frame["ticket_code"] = [f"{lab[0].upper()}-{n}" for lab, n in zip(frame["label"], rng.integers(1000, 9999, len(frame)))]
    return {"train": train, "dev": dev, "test": test}, expected


def _spec(**kw):
    return AuditSpec(id_column="id", text_column="text", label_column="label", classes=CLASSES,
                     group_column="customer", time_column="created", **kw)


def _found(result, reason):
    f = result.findings[result.findings["reason"] == reason]
    return set(zip(f["split"], f["row_id"]))


def _precision_recall(found, expected):
    tp = len(found & expected)
    return (tp / len(found) if found else 1.0), (tp / len(expected) if expected else 1.0)


@pytest.fixture(scope="module")
def audit(planted):
    splits, _ = planted
    return run_audit(splits, _spec(checks=(
        "exact_duplicate_cross_split", "near_duplicate_cross_split", "duplicate_within_split",
        "conflicting_duplicate_labels", "group_leakage", "time_leakage", "test_rows", "identifier_leakage",
    )))


@pytest.mark.parametrize("reason", [
    "exact_duplicate_cross_split", "near_duplicate_cross_split", "group_leakage", "time_leakage",
    "test_row", "duplicate_within_split", "conflicting_duplicate_labels",
])
def test_planted_faults_found_exactly(audit, planted, reason):
    _, expected = planted
    assert _found(audit, reason) == expected[reason]


def test_near_duplicate_evidence_names_match_and_similarity(audit, planted):
    splits, _ = planted
    f = audit.findings[(audit.findings["reason"] == "near_duplicate_cross_split") & (audit.findings["row_id"] == "near0")]
    assert f["evidence"].iloc[0].startswith("similar to test row") and repr(splits["test"]["id"][5]) in f["evidence"].iloc[0]
    assert "char 3-gram Jaccard" in f["evidence"].iloc[0] and 0.7 <= f["score"].iloc[0] < 1.0


def test_identifier_leakage_flags_label_prefix_column_only(audit):
    f = audit.findings[audit.findings["reason"] == "identifier_leakage"]
    assert set(f["split"]) == {"dev", "test"} and set(f["row_id"]) == {"*"}
    assert all("'ticket_code' (first 1 characters)" in e for e in f["evidence"])
    assert not any("channel" in e or "customer" in e for e in f["evidence"])


def test_label_issues_precision_recall(planted):
    splits, expected = planted
    result = run_audit(splits, _spec(checks=("label_issues",)))
    precision, recall = _precision_recall(_found(result, "label_issue"), expected["label_issue"])
    assert precision >= 0.8 and recall >= 0.8, (precision, recall)
    scores = result.findings["score"]
    assert ((scores >= 0) & (scores <= 1)).all()


def test_label_issues_too_small_warns_and_continues():
    small = make_tickets(12, seed=4)
    result = run_audit({"train": make_tickets(20, seed=5, id_prefix="x"), "test": small},
                       _spec(checks=("label_issues", "duplicate_within_split")))
    assert any("label_issues skipped" in w for w in result.warnings)
    assert result.checks_run == ("label_issues", "duplicate_within_split")


def test_user_rules_and_detectors():
    train = make_tickets(40, seed=6)
    train.loc[3, "customer"] = "internal-qa-team"
    train.loc[5, "text"] = "my SYNTHETIC load row number 17"

    @test_row_detector("synthetic_marker")
    def synthetic_marker(df):
        return df["text"].str.contains("SYNTHETIC").to_numpy()

    spec = _spec(checks=("test_rows",), rules=[{"column": "customer", "values": ["internal-qa-team"], "name": "staff"}],
                 detectors=[synthetic_marker])
    result = run_audit({"train": train}, spec)
    f = result.findings.set_index("row_id")["evidence"]
    assert "rule staff: customer='internal-qa-team'" in f[train["id"][3]]
    assert f[train["id"][5]].startswith("detector synthetic_marker [1 independent signal")


def test_burst_and_timestamp_detectors():
    train = make_tickets(40, seed=8)
    train.loc[0:5, "text"] = "WIN a free phone now"
    train.loc[0:5, "customer"] = "promo99"
    train.loc[0:5, "created"] = pd.Timestamp("2024-03-01 10:00") + pd.to_timedelta(range(6), unit="min")
    train.loc[20:22, "text"] = "WIN a free phone now"  # same text and source, days apart: not a burst
    train.loc[20:22, "customer"] = "promo99"
    train.loc[20:22, "created"] = pd.Timestamp("2024-05-01") + pd.to_timedelta([0, 3, 6], unit="D")
    train.loc[10, "created"] = pd.Timestamp("1970-01-01")
    train.loc[11, "created"] = pd.Timestamp("2030-01-01")
    result = run_audit({"train": train}, _spec(checks=("test_rows",), now="2026-01-01"))
    f = result.findings.set_index("row_id")["evidence"]
    assert set(f.index) == set(train["id"][[0, 1, 2, 3, 4, 5, 10, 11]])
    assert f[train["id"][0]].startswith("burst: 6 identical rows from customer='promo99' within 1h")
    assert f[train["id"][10]].startswith("epoch_timestamp")
    assert "future_timestamp" in f[train["id"][11]]


def test_bad_timestamps_become_findings_and_warning():
    train = make_tickets(30, seed=9)
    train["created"] = train["created"].astype(str)
    train.loc[4, "created"] = "not a date"
    result = run_audit({"train": train, "test": make_tickets(30, seed=10, id_prefix="q", start="2026-01-01")},
                       _spec(checks=("time_leakage",)))
    assert _found(result, "bad_timestamp") == {("train", train["id"][4])}
    assert any(repr(train["id"][4]) in w for w in result.warnings)


def test_summary_and_determinism(planted, audit):
    splits, _ = planted
    again = run_audit(splits, _spec(checks=audit.checks_run))
    pd.testing.assert_frame_equal(audit.findings, again.findings)
    assert audit.summary.loc["time_leakage", "train"] == 3
    assert audit.summary.loc["near_duplicate_cross_split", "total"] == 10


def test_inputs_not_modified(planted):
    splits, _ = planted
    before = {k: v.copy() for k, v in splits.items()}
    run_audit(splits, _spec(checks=("test_rows", "duplicate_within_split")))
    for k in splits:
        pd.testing.assert_frame_equal(splits[k], before[k])


def test_time_leakage_robust_to_bogus_test_timestamps_and_random_splits():
    train = make_tickets(40, seed=11, start="2024-01-01")
    test = make_tickets(40, seed=12, id_prefix="q", start="2025-01-01")
    test["created"] = pd.to_datetime(test["created"])
    test.loc[0, "created"] = pd.Timestamp("1970-01-01")  # a bogus test timestamp must not flag all of train
    result = run_audit({"train": train, "test": test}, _spec(checks=("time_leakage",)))
    assert _found(result, "time_leakage") == set()
    # a random split: train spread over the same period as test -> only rows after its end, plus a warning
    mixed = make_tickets(40, seed=13, start="2025-01-01")
    mixed["created"] = pd.to_datetime(mixed["created"])
    mixed.loc[5, "created"] = pd.to_datetime(test["created"]).max() + pd.Timedelta(days=30)
    result = run_audit({"train": mixed, "test": test}, _spec(checks=("time_leakage",)))
    assert _found(result, "time_leakage") == {("train", mixed["id"][5])}
    assert any("split looks random" in w for w in result.warnings)


def test_test_marker_text_and_out_of_range_timestamps():
    train = make_tickets(60, seed=21)
    train["created"] = pd.to_datetime(train["created"])
    train.loc[2, "text"] = "qa run 588, please ignore"
    train.loc[3, "text"] = "TEST - do not route"
    long_text = "Please ignore my previous message: " + "the invoice is wrong and I was charged twice " * 3
    train.loc[4, "text"] = long_text  # a real ticket that happens to say "please ignore"
    train.loc[5, "text"] = "I think i've fixed it can you send a test message?"
    train.loc[7, "created"] = pd.Timestamp("2031-03-14T09:26:53")
    result = run_audit({"train": train}, _spec(checks=("test_rows",)))
    f = result.findings.set_index("row_id")["evidence"]
    assert f[train["id"][2]].startswith("test_marker_text") and f[train["id"][3]].startswith("test_marker_text")
    assert train["id"][5] not in f.index  # a real message that mentions a test
    assert train["id"][4] not in f.index
    assert "out_of_range_timestamp" in f[train["id"][7]]
    assert set(f.index) == {train["id"][i] for i in (2, 3, 7)}


def test_outliers_flag_rows_unlike_the_rest():
    train = make_tickets(300, seed=31)
    odd = [5, 77, 150]
    for i, position in enumerate(odd):
        train.loc[position, "text"] = ["Zxqv plorb wuggle frint spazzle morp", "Kvetch blorf zindle quarp snoo",
                                       "Ulbrecht gnasp vorl thrimble"][i] + f" {i}"
    result = run_audit({"train": train}, _spec(checks=("outliers",)))
    found = _found(result, "outlier")
    assert {("train", train["id"][p]) for p in odd} <= found
    assert len(found) <= 0.02 * len(train)  # a short review list, not the data


def test_feature_columns_take_part_in_duplicates():
    """A short memo repeats across different transactions: only identical inputs are duplicates."""
    train = pd.DataFrame({"id": ["a", "b", "c"], "text": ["rent", "rent", "rent"], "amount": [900, 450, 900],
                          "customer": ["x", "y", "z"]})
    spec = AuditSpec(id_column="id", text_column="text", label_column="label", classes=CLASSES,
                     group_column="customer", checks=("duplicate_within_split",), feature_columns=("amount",))
    result = run_audit({"train": train}, spec)
    assert _found(result, "duplicate_within_split") == {("train", "c")}


def test_spelled_out_whitespace_equals_python_s_on_every_code_point():
    """normalize_texts spells `\\s` out so pandas can run it through RE2; it must mean exactly `\\s`."""
    import re

    from labelkit.quality.text_norm import _SPACE, _SPACE_NOT_BLANK

    every = "".join(map(chr, range(0x110000)))
    assert re.findall(_SPACE, every) == re.findall(r"\s", every)
    assert re.findall(_SPACE_NOT_BLANK, every) == re.findall(r"[^\S ]", every)


def test_audit_reports_progress_through_notify(monkeypatch):
    """Long checks say how far they are: the near-duplicate join per streamed chunk, then each slow check."""
    import labelkit.io.progress
    import labelkit.quality.audit
    from labelkit.quality import near_duplicates

    monkeypatch.setattr(labelkit.io.progress, "EVERY", 0.0)
    monkeypatch.setattr(labelkit.quality.audit, "SLOW_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(near_duplicates, "PROBE_CHUNK", 50)
    train = make_tickets(200, seed=4, id_prefix="tr", start="2024-01-01")
    test = make_tickets(40, seed=5, id_prefix="te", start="2025-01-01")
    spec = AuditSpec(id_column="id", text_column="text", label_column="label", classes=CLASSES,
                     checks=("exact_duplicate_cross_split", "near_duplicate_cross_split"))
    lines = []
    run_audit({"train": train, "test": test}, spec, notify=lines.append)
    assert lines[0].startswith("audit: exact_duplicate_cross_split done (") and lines[0].endswith("1/2 checks)")
    assert lines[1].startswith("near duplicates: train rows: 50/200 rows (25%)")
    assert lines[-1].startswith("audit: near_duplicate_cross_split done (") and lines[-1].endswith("2/2 checks)")
