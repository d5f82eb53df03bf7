"""Policies, row accounting, quarantine, and config/dataset errors."""
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from labelkit.errors import ConfigError, DatasetError
from labelkit.quality import (
    DEFAULT_POLICIES, REASONS, AuditSpec, apply_policies, audit_weak_labels, run_audit,
)
from labelkit.quality.findings import make_findings, combine_findings
from labelkit.quality.synthetic import CLASSES, make_tickets


def _spec(**kw):
    return AuditSpec(id_column="id", text_column="text", label_column="label", classes=CLASSES, **kw)


@pytest.fixture
def splits():
    train = make_tickets(20, seed=1, id_prefix="tr")
    test = make_tickets(10, seed=2, id_prefix="te")
    return {"train": train, "test": test}


def _findings(rows):
    return combine_findings([make_findings(s, [r], reason, 1.0, f"e-{reason}") for s, r, reason in rows])


def test_default_policies_cover_every_reason():
    assert set(DEFAULT_POLICIES) == set(REASONS)


def test_drop_train_keeps_test_copy_and_quarantines_train_copy(splits):
    findings = _findings([("train", "tr0000001", "exact_duplicate_cross_split"),
                          ("test", "te0000002", "exact_duplicate_cross_split"),
                          ("train", "tr0000001", "group_leakage"),
                          ("test", "te0000003", "label_issue")])
    result = apply_policies(splits, findings, {}, id_column="id")
    assert "tr0000001" not in set(result.splits["train"]["id"])
    assert "te0000002" in set(result.splits["test"]["id"])
    q = result.quarantine
    assert list(q["row_id"]) == ["tr0000001"]
    assert q["reasons"].iloc[0] == "exact_duplicate_cross_split;group_leakage"
    assert q["text"].iloc[0] == splits["train"]["text"].iloc[1]
    assert set(result.flagged["row_id"]) == {"te0000002", "te0000003"}
    assert result.accounting == {"train": {"rows_in": 20, "kept": 19, "quarantined": 1, "flagged": 0},
                                 "test": {"rows_in": 10, "kept": 10, "quarantined": 0, "flagged": 2}}


def test_drop_test_and_drop_policies(splits):
    findings = _findings([("train", "tr0000001", "group_leakage"), ("test", "te0000002", "group_leakage"),
                          ("train", "tr0000005", "label_issue"), ("test", "te0000005", "label_issue")])
    result = apply_policies(splits, findings, {"group_leakage": "drop_test", "label_issue": "drop"}, id_column="id")
    assert result.accounting["train"]["quarantined"] == 1 and result.accounting["train"]["flagged"] == 1
    assert set(result.quarantine["row_id"]) == {"te0000002", "te0000005", "tr0000005"}


def test_inputs_untouched_and_id_column_from_audit(splits):
    before = splits["train"].copy()
    result = run_audit(splits, _spec(checks=("test_rows",)))
    cleaned = apply_policies(splits, result.findings, {})
    pd.testing.assert_frame_equal(splits["train"], before)
    assert cleaned.accounting["train"]["rows_in"] == 20


def test_column_level_findings_not_row_actions(splits):
    findings = _findings([("test", "*", "identifier_leakage")])
    result = apply_policies(splits, findings, {}, id_column="id")
    assert len(result.column_findings) == 1 and result.quarantine.empty
    with pytest.raises(ConfigError, match="must be 'flag'"):
        apply_policies(splits, findings, {"identifier_leakage": "drop"}, id_column="id")


SPLITS = {"train": make_tickets(20, seed=1, id_prefix="tr"), "test": make_tickets(10, seed=2, id_prefix="te")}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["train", "test"]), st.integers(0, 9),
                          st.sampled_from(sorted(REASONS))), max_size=40),
       st.dictionaries(st.sampled_from(sorted(set(REASONS) - {"identifier_leakage"})),
                       st.sampled_from(["drop", "drop_train", "drop_test", "flag"])))
def test_accounting_invariant(rows, policies):
    splits = SPLITS
    prefix = {"train": "tr", "test": "te"}
    findings = _findings([(s, f"{prefix[s]}{i:07d}", r) for s, i, r in rows if r != "identifier_leakage"])
    result = apply_policies(splits, findings, policies, id_column="id")
    for name, frame in splits.items():
        acc = result.accounting[name]
        assert acc["rows_in"] == acc["kept"] + acc["quarantined"] == len(frame)
        assert len(result.splits[name]) == acc["kept"]
        flagged_ids = set(result.flagged.loc[result.flagged["split"] == name, "row_id"])
        assert flagged_ids <= set(result.splits[name]["id"])  # flagged rows stay
    listed = set(zip(result.quarantine["split"], result.quarantine["row_id"])) | set(
        zip(result.flagged["split"], result.flagged["row_id"]))
    assert listed == set(zip(findings["split"], findings["row_id"]))  # nothing dropped or kept silently


@pytest.mark.parametrize("kw, match", [
    ({"checks": ("exact_dupes",)}, "Unknown audit check.*'exact_dupes'.*valid checks are: .*near_duplicate_cross_split"),
    ({"policies": {"dupes": "drop"}}, "Unknown audit reason 'dupes'.*valid reasons are"),
    ({"policies": {"test_row": "delete"}},
     "Unknown policy 'delete'.*valid policies are: drop, drop_train, drop_test, drop_corroborated, flag"),
    ({"rules": [{"column": "customer"}]}, "Invalid test-row rule"),
    ({"near_duplicate_threshold": 1.5}, r"AuditSpec.near_duplicate_threshold is 1.5; allowed: a number in \(0, 1\]"),
])
def test_bad_config_raises_config_error(splits, kw, match):
    with pytest.raises(ConfigError, match=match):
        run_audit(splits, _spec(**kw))


@pytest.mark.parametrize("kw", [{"group_column": "account"}, {"time_column": "when"},
                                {"rules": [{"column": "email", "values": ["x"]}]}])
def test_missing_column_raises_dataset_error_naming_it(splits, kw):
    column = kw.get("group_column") or kw.get("time_column") or "email"
    with pytest.raises(DatasetError, match=f"Column '{column}'|column '{column}'"):
        run_audit(splits, _spec(**kw))


def test_unknown_gold_label_raises(splits):
    splits["test"].loc[0, "label"] = "shipping"
    with pytest.raises(DatasetError, match="row 1 has label 'shipping', which is not a class"):
        run_audit(splits, _spec(checks=("label_issues",)))


def test_findings_for_unknown_rows_raise(splits):
    with pytest.raises(DatasetError, match="not in split 'test' \\(e.g. 'te9'\\)"):
        apply_policies(splits, _findings([("test", "te9", "test_row")]), {}, id_column="id")


def test_weak_label_issues_found():
    import numpy as np

    train = make_tickets(240, seed=3)
    y = np.array([CLASSES.index(lab) for lab in train["label"]])
    flipped = np.arange(0, 240, 12)  # 20 wrong weak labels
    weak = y.copy()
    weak[flipped] = (weak[flipped] + 1) % 3
    proba = np.full((240, 3), 0.1)
    proba[np.arange(240), weak] = 0.8
    findings = audit_weak_labels(train, proba, _spec())
    found = set(findings["row_id"])
    expected = set(train["id"].iloc[flipped])
    assert len(found & expected) / len(expected) >= 0.9 and len(found & expected) / len(found) >= 0.9
    assert set(findings["reason"]) == {"weak_label_issue"}
    with pytest.raises(DatasetError, match=r"weak_proba has shape \(240, 2\)"):
        audit_weak_labels(train, proba[:, :2], _spec())
