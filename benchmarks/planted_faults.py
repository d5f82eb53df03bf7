"""Precision and recall of `labelkit audit` on the faults planted in the bundled example.

    python benchmarks/planted_faults.py [labelkit.toml]

Each planted fault (datasets/support_tickets/planted_faults.csv) counts as found when its row gets
one of the reasons below. Precision per reason: the share of flagged rows that a planted fault
explains (the row itself, or for cross-split duplicates and group leakage its train counterpart).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {  # planted fault -> audit reasons that catch it
    "test_text": {"test_row", "duplicate_within_split"},
    "test_customer_id": {"test_row"},
    "burst_duplicate": {"test_row", "duplicate_within_split"},
    "bad_timestamp": {"test_row", "bad_timestamp"},
    "exact_duplicate_of_train": {"exact_duplicate_cross_split"},
    "near_duplicate_of_train": {"near_duplicate_cross_split", "exact_duplicate_cross_split"},
    "customer_in_train": {"group_leakage"},
    "wrong_gold_label": {"label_issue"},
}


def main(config_path: Path) -> None:
    from labelkit.config import load_config
    from labelkit.data import load_task_data
    from labelkit.pipeline import run_audit

    config = load_config(config_path)
    data = load_task_data(config)
    findings = run_audit(config, data).result.findings
    planted = pd.read_csv(config.resolve("datasets/support_tickets/planted_faults.csv"), dtype=str, keep_default_na=False)
    flagged = findings.groupby(["split", "row_id"])["reason"].apply(set).to_dict()

    print(f"{'planted fault':28} {'rows':>5} {'found':>6} {'recall':>7}")
    for fault, reasons in EXPECTED.items():
        rows = planted[planted["fault"] == fault]
        found = sum(bool(flagged.get((s, i), set()) & reasons) for s, i in zip(rows["split"], rows["ticket_id"]))
        print(f"{fault:28} {len(rows):5d} {found:6d} {found / max(len(rows), 1):7.1%}")
    column = findings[(findings["reason"] == "identifier_leakage") & findings["evidence"].str.contains("routing_code")]
    print(f"{'leaky_column (routing_code)':28} {1:5d} {int(len(column) > 0):6d} {float(len(column) > 0):7.1%}")

    explained = _explained_rows(planted, data, config)
    print(f"\n{'reason':30} {'flagged':>8} {'planted':>8} {'precision':>10}")
    for reason in ["exact_duplicate_cross_split", "near_duplicate_cross_split", "group_leakage", "test_row",
                   "label_issue", "bad_timestamp"]:
        rows = findings[findings["reason"] == reason]
        keys = set(zip(rows["split"], rows["row_id"].astype(str)))
        good = len(keys & explained[reason])
        print(f"{reason:30} {len(keys):8d} {good:8d} {good / max(len(keys), 1):10.1%}")


def _explained_rows(planted: pd.DataFrame, data, config) -> dict[str, set]:
    """(split, row id) pairs a planted fault accounts for, per audit reason."""
    test_like = set(zip(planted.loc[planted["fault"].isin(["test_text", "test_customer_id", "burst_duplicate", "bad_timestamp"]), "split"],
                        planted.loc[planted["fault"].isin(["test_text", "test_customer_id", "burst_duplicate", "bad_timestamp"]), "ticket_id"]))
    copies = planted[planted["fault"].isin(["exact_duplicate_of_train", "near_duplicate_of_train"])]
    copy_rows = set(zip(copies["split"], copies["ticket_id"])) | {("train", d) for d in copies["detail"]}
    customers = set(planted.loc[planted["fault"] == "customer_in_train", "detail"])
    group_rows = set()
    for split, frame in data.frames.items():
        hit = frame[config.data.group_column].astype(str).isin(customers)
        group_rows |= {(split, str(i)) for i in frame.loc[hit, config.data.id_column]}
    wrong = planted[planted["fault"] == "wrong_gold_label"]
    return {
        "exact_duplicate_cross_split": copy_rows | test_like,  # QA texts repeat across splits too
        "near_duplicate_cross_split": copy_rows | test_like,
        "group_leakage": group_rows | test_like,
        "test_row": test_like,
        "label_issue": set(zip(wrong["split"], wrong["ticket_id"])),
        "bad_timestamp": test_like,
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "labelkit.toml")
