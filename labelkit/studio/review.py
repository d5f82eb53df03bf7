"""The review queue: rows of the last build worth a human look, and the decisions taken on them.

Sources, each capped so the page stays small (highest score first, then file order):
- `label_issue` / `weak_label_issue` findings in audit_findings.csv (suspect gold / weak labels);
- `test_row` findings (test/QA traffic the audit quarantined): "not a test row" un-quarantines;
- rules-vs-model disagreements on test (test_predictions.csv: rule baseline != end model);
- low-confidence label-model rows on train (train_labels.csv: top probability < LOW_CONFIDENCE).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from labelkit.corrections import Correction, latest
from labelkit.io import read_review_csv

PER_SOURCE = 30
LOW_CONFIDENCE = 0.5
SOURCES = {
    "label_issue": "suspect gold label (cleanlab)",
    "weak_label_issue": "suspect weak label (cross-validated model)",
    "test_row": "test / QA row candidate (quarantined)",
    "rules_vs_model": "rules and model disagree (test)",
    "low_confidence": "label model unsure (train)",
}


@dataclass
class ReviewItem:
    source: str
    split: str
    row_id: str
    text: str
    current: str  # gold label (dev/test) or weak label (train)
    note: str  # what the build saw
    decision: Correction | None = None
    test_row_decision: Correction | None = None

    @property
    def key(self) -> str:
        return f"{self.source}:{self.split}:{self.row_id}"


def read_run_table(run: Path, name: str) -> pd.DataFrame | None:
    path = Path(run) / name
    if not path.is_file():
        return None
    return read_review_csv(path, dtype=str, keep_default_na=False)


def review_items(run: Path, rows: dict[str, pd.DataFrame], labels: dict[str, dict[str, str]],
                 corrections: list[Correction], *, id_column: str, text_column: str) -> list[ReviewItem]:
    """The queue from a build's output folder; `rows`/`labels` are the task's splits and current labels."""
    items: list[ReviewItem] = []
    labels = {**labels, "train": {**labels.get("train", {}), **_weak_labels(run)}}
    texts = {s: dict(zip(f[id_column].astype(str), f[text_column])) for s, f in rows.items() if text_column in f}

    def add(source, split, row_id, note, current=None):
        if split not in rows:
            return
        text = texts.get(split, {}).get(row_id)
        if text is None:
            return  # the row is no longer in the data
        current = current if current is not None else labels.get(split, {}).get(row_id, "")
        items.append(ReviewItem(source, split, row_id, "" if text != text else str(text), current, note))

    findings = read_run_table(run, "audit_findings.csv")
    if findings is not None and len(findings):
        findings["score_num"] = pd.to_numeric(findings["score"], errors="coerce").fillna(0)
        for reason in ("label_issue", "weak_label_issue", "test_row"):
            part = findings[findings["reason"] == reason].sort_values("score_num", ascending=False, kind="stable")
            for record in part.head(PER_SOURCE).to_dict("records"):
                add(reason, record["split"], str(record["row_id"]), str(record["evidence"]))
    predictions = read_run_table(run, "test_predictions.csv")
    if predictions is not None and "pred_rule_baseline" in predictions:
        model = "pred_end_model" if "pred_end_model" in predictions else "pred_label_model"
        if model in predictions:
            differ = predictions[predictions["pred_rule_baseline"] != predictions[model]]
            for record in differ.head(PER_SOURCE).to_dict("records"):
                add("rules_vs_model", "test", str(record["row_id"]),
                    f"rules say {record['pred_rule_baseline']}, {model[5:].replace('_', ' ')} says {record[model]}")
    items += _low_confidence(run, add)
    return _with_decisions(items, corrections)


def _weak_labels(run: Path) -> dict[str, str]:
    table = read_run_table(run, "train_labels.csv")
    if table is None or "weak_label" not in table:
        return {}
    return dict(zip(table[table.columns[0]].astype(str), table["weak_label"]))


def _low_confidence(run: Path, add) -> list:
    table = read_run_table(run, "train_labels.csv")
    if table is None:
        return []
    prob_columns = [c for c in table.columns if c.startswith("prob_")]
    if not prob_columns or "weak_label" not in table:
        return []
    proba = table[prob_columns].apply(pd.to_numeric, errors="coerce").fillna(0)
    top = proba.max(axis=1)
    covered = table["covered"].astype(str).str.lower() == "true" if "covered" in table else True
    unsure = table[(top < LOW_CONFIDENCE) & covered].assign(_top=top).sort_values("_top", kind="stable")
    id_column = table.columns[0]
    for record in unsure.head(PER_SOURCE).to_dict("records"):
        add("low_confidence", "train", str(record[id_column]),
            f"label model: {record['weak_label']} with p={record['_top']:.2f}", current=record["weak_label"])
    return []


def _with_decisions(items: list[ReviewItem], corrections: list[Correction]) -> list[ReviewItem]:
    decided = {(c.split, c.row_id, c.topic): c for c in latest(corrections)}
    for item in items:
        item.decision = decided.get((item.split, item.row_id, "label"))
        item.test_row_decision = decided.get((item.split, item.row_id, "test_row"))
    return items
