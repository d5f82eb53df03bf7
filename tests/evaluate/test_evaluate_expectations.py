import json

import numpy as np
import pytest

from labelkit.errors import DatasetError
from labelkit.evaluate import check_expectations, load_expectations, too_good_to_be_true

CLASSES = ["billing", "connectivity", "NA"]


def test_load_csv_keeps_na_as_a_label_and_checks_systems(tmp_path):
    path = tmp_path / "exp.csv"
    path.write_text(
        "text,expected,not_expected,country\n"
        "refund my invoice,billing,,DE\n"
        "wifi drops,,billing,FR\n"
        "whatever,NA,,US\n"
    )
    frame = load_expectations(path, CLASSES)
    assert list(frame["expected"]) == ["billing", None, "NA"]
    assert list(frame["not_expected"]) == [None, "billing", None]
    assert list(frame["country"]) == ["DE", "FR", "US"]

    def keyword(df):
        return np.array([0 if "invoice" in t or "wifi" in t else -1 for t in df["text"]])

    def names(df):
        return np.array(["billing", "connectivity", "NA"])

    out = check_expectations(frame, {"rules": keyword, "model": names}, CLASSES)
    assert out["model"] == {"passed": 3, "failed": 0, "total": 3, "failures": []}
    assert out["rules"]["passed"] == 1 and out["rules"]["failed"] == 2
    assert out["rules"]["failures"] == [
        {"row": 2, "text": "wifi drops", "not_expected": "billing", "got": "billing"},
        {"row": 3, "text": "whatever", "expected": "NA", "got": "(abstain)"},
    ]


def test_unknown_label_names_file_line_and_value(tmp_path):
    path = tmp_path / "exp.csv"
    path.write_text("text,expected\nok,billing\nbad,biling\n")
    with pytest.raises(DatasetError, match=r"exp.csv: line 3 has expected='biling'.*classes are: billing"):
        load_expectations(path, CLASSES)


def test_text_in_the_tasks_text_column_and_contradictory_rows(tmp_path):
    path = tmp_path / "exp.csv"
    path.write_text("text,expected\nrefund my invoice,billing\n")
    frame = load_expectations(path, CLASSES, text_column="body")  # 'text' becomes the task's text column
    assert list(frame.columns) == ["body", "expected", "not_expected"]
    out = check_expectations(frame, {"m": lambda df: np.array(["billing"])}, CLASSES, text_column="body")
    assert out["m"]["passed"] == 1
    path.write_text("body,not_expected\nwifi drops,billing\n")
    assert list(load_expectations(path, CLASSES, text_column="body")["body"]) == ["wifi drops"]
    with pytest.raises(DatasetError, match=r"exp.csv: expectations need a 'message' \(or 'text'\) column"):
        load_expectations(path, CLASSES, text_column="message")
    path.write_text("text,expected,not_expected\na,billing,\nb,NA,NA\n")
    with pytest.raises(DatasetError, match=r"exp.csv: line 3 has expected and not_expected both 'NA'"):
        load_expectations(path, CLASSES)


def test_jsonl_and_missing_label_columns(tmp_path):
    path = tmp_path / "exp.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"text": "a", "expected": "billing"},
                                                       {"text": "b", "not_expected": "connectivity"}]))
    frame = load_expectations(path, CLASSES)
    assert list(frame["expected"]) == ["billing", None]
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\na,billing\n")
    with pytest.raises(DatasetError, match="'expected' or 'not_expected'"):
        load_expectations(bad, CLASSES)
    with pytest.raises(DatasetError, match="does not exist"):
        load_expectations(tmp_path / "missing.csv", CLASSES)


def test_too_good_to_be_true_warnings():
    systems = {"systems": {"rule_baseline": {"accuracy": 0.70, "n": 500}, "end_model": {"accuracy": 0.99, "n": 500}},
               "baseline": "rule_baseline", "model": "end_model"}
    warnings = too_good_to_be_true(systems, leakage_findings_count=3)
    assert len(warnings) == 3
    assert "end_model accuracy 0.990" in warnings[0] and "near-perfect" in warnings[0]
    assert "by 29.0 accuracy points" in warnings[1]
    assert "3 leakage findings" in warnings[2]
    calm = {"rule_baseline": {"accuracy": 0.80, "n": 500}, "end_model": {"accuracy": 0.86, "n": 500}}
    assert too_good_to_be_true(calm) == []
    tiny = {"end_model": {"accuracy": 0.8, "n": 40}}
    assert too_good_to_be_true(tiny) == [
        "The test set has only 40 rows; intervals are wide and small differences between systems are not meaningful."
    ]
