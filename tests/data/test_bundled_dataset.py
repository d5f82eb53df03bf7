"""The bundled support_tickets data: documented shape, reproducible generator, consistent faults."""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "datasets" / "support_tickets"
GENERATOR = ROOT / "datasets" / "make_support_tickets.py"
CLASSES = ("billing", "connectivity", "account", "cancellation", "other")
BASE_COLUMNS = ["ticket_id", "customer_id", "created_at", "country", "channel", "product", "text", "routing_code"]
EXPECTED = {
    "train": (6000, BASE_COLUMNS),
    "dev": (500, BASE_COLUMNS + ["label"]),
    "test": (1000, BASE_COLUMNS + ["label"]),
    "expectations": (30, ["ticket_id", "country", "channel", "product", "text", "expected", "not_expected", "description"]),
    "planted_faults": (374, ["split", "ticket_id", "fault", "detail"]),
}


def read(name: str, folder: Path = DATA) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def load_generator():
    spec = importlib.util.spec_from_file_location("make_support_tickets", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_support_tickets"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_file_has_documented_rows_and_columns(name):
    frame = read(name)
    rows, columns = EXPECTED[name]
    assert list(frame.columns) == columns
    assert len(frame) == rows


@pytest.mark.slow  # regenerates all 7,500 rows; run with -m slow after changing the generator
def test_generator_reproduces_the_bundled_files_byte_for_byte(tmp_path):
    assert load_generator().main(["--out", str(tmp_path)]) == 0
    for name in EXPECTED:
        bundled = hashlib.sha256((DATA / f"{name}.csv").read_bytes()).hexdigest()
        regenerated = hashlib.sha256((tmp_path / f"{name}.csv").read_bytes()).hexdigest()
        assert regenerated == bundled, f"{name}.csv differs: rerun python datasets/make_support_tickets.py"


def test_bundled_files_are_small():
    assert sum((DATA / f"{name}.csv").stat().st_size for name in EXPECTED) < 3_000_000


@pytest.mark.parametrize("split", ["dev", "test"])
def test_gold_labels_are_class_names(split):
    assert set(read(split)["label"]) <= set(CLASSES)
    assert set(read(split)["label"]) == set(CLASSES)


def test_expectation_labels_are_class_names_or_blank():
    frame = read("expectations")
    assert set(frame["expected"]) <= set(CLASSES) | {""}
    assert set(frame["not_expected"]) <= set(CLASSES) | {""}
    assert ((frame["expected"] != "") | (frame["not_expected"] != "")).all()


def test_ticket_ids_are_unique_across_splits():
    ids = pd.concat([read(split)["ticket_id"] for split in ("train", "dev", "test")])
    assert ids.is_unique


def test_planted_fault_ids_exist_in_their_splits():
    faults = read("planted_faults")
    row_faults = faults[faults["ticket_id"] != "*"]
    for split, group in row_faults.groupby("split"):
        assert set(group["ticket_id"]) <= set(read(split)["ticket_id"]), split
    assert set(faults.loc[faults["ticket_id"] == "*", "fault"]) == {
        "leaky_column", "rules_weak_slice", "guardrail_slice", "drift_period"}


def test_planted_fault_counts_match_the_readme():
    faults = read("planted_faults")
    counts = faults[faults["ticket_id"] != "*"].groupby(["split", "fault"])["ticket_id"].nunique().to_dict()
    assert counts[("test", "exact_duplicate_of_train")] == 30
    assert counts[("test", "near_duplicate_of_train")] == 30
    assert counts[("test", "customer_in_train")] == 50
    assert counts[("dev", "wrong_gold_label")] == 15
    assert counts[("test", "wrong_gold_label")] == 30
    assert counts[("train", "test_text")] == 90


def test_planted_duplicates_and_shared_customers_really_are_there():
    train, test, faults = read("train"), read("test"), read("planted_faults")
    train_by_id = train.set_index("ticket_id")
    test_by_id = test.set_index("ticket_id")
    for row in faults[faults["fault"] == "exact_duplicate_of_train"].itertuples():
        assert test_by_id.at[row.ticket_id, "text"] == train_by_id.at[row.detail, "text"]
    for row in faults[faults["fault"] == "near_duplicate_of_train"].itertuples():
        assert test_by_id.at[row.ticket_id, "text"] != train_by_id.at[row.detail, "text"]
    shared = set(train["customer_id"]) & set(test["customer_id"])
    planted = set(faults.loc[faults["fault"] == "customer_in_train", "detail"])
    assert len(planted) == 40
    assert all(c.startswith(("qa_", "TEST-")) for c in shared - planted)  # QA sources send to every split


def test_routing_code_leaks_the_gold_label():
    test = read("test")
    prefix = {"billing": "BIL", "connectivity": "CON", "account": "ACC", "cancellation": "CAN", "other": "OTH"}
    assert (test["routing_code"].str[2:5] == test["label"].map(prefix)).all()


def test_fr_slice_is_small_in_train_and_large_in_test():
    assert (read("train")["country"] == "FR").sum() == 15
    assert (read("test")["country"] == "FR").sum() == 80


def test_example_lfs_load_and_vote_on_the_bundled_rows():
    from labelkit.apply.local import apply_lfs
    from labelkit.lfs import load_lfs
    from labelkit.lfs.spacy_lfs import SpacyParser

    lfs = load_lfs([ROOT / "labeling_functions" / "support_tickets.py"])
    assert 15 <= len(lfs) <= 25
    assert len({lf.name for lf in lfs}) == len(lfs)
    gold = pd.concat([read("dev"), read("test")], ignore_index=True)
    L = apply_lfs(lfs, gold, CLASSES, text_column="text", parser=SpacyParser()).L
    assert set(L.ravel().tolist()) == {-1, 0, 1, 2, 3, 4}
    assert (L >= 0).any(axis=0).sum() == len(lfs)  # every LF votes somewhere on dev+test
    assert 0.5 < (L >= 0).any(axis=1).mean() < 0.9  # the rules leave part of the data uncovered
