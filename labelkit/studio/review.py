"""The review queue: rows of the last build worth a human look, and the decisions taken on them.

Sources, each capped so the page stays small (highest score first, then file order):
- `label_next`: rows waiting for a human label: the blank-label rows of the human labels file
  (`[data] human_labels`, written by `labelkit label-next`) and the `label_next.csv` of a `labelkit repair`
  output. Blind (the text and the row's columns only) with a label form; a label goes into the human labels
  file, which the next build trains on;
- `gold_review`: gold dev/test rows, **blind**: no system's answer, no score and not the current gold label
  either; the reviewer says which class the row is. The rows are the ones the build flagged (cleanlab's
  suspect gold labels, test rows where the rules and the model disagree) mixed, in a seeded shuffle, with
  as many rows drawn at random from dev and test for audit, so that a correction is not only ever made
  where the model disagrees (which would lean the test score toward the model). A label equal to the gold
  one is recorded as `confirm`, another as `change`; which queue the row came from (flagged or drawn) is
  kept server-side and recorded in the decision's reason, for the report;
- `test_row` findings (test/QA traffic the audit quarantined): "not a test row" un-quarantines;
- `weak_label_issue` findings and low-confidence label-model rows on train (train_labels.csv: top probability
  < LOW_CONFIDENCE): training labels, shown with the weak label to confirm or change.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelkit.data.corrections import Correction, latest

PER_SOURCE = 30
AUDIT_ROWS = 15  # gold rows drawn at random for the blind review, at least (as many as were flagged, up to PER_SOURCE)
LOW_CONFIDENCE = 0.5
SOURCES = {
    "label_next": "label next (rows for the next build)",
    "gold_review": "gold rows, blind review (dev/test)",
    "test_row": "test / QA row candidate (quarantined)",
    "weak_label_issue": "suspect weak label (cross-validated model)",
    "low_confidence": "label model unsure (train)",
}
GOLD_QUEUES = {"label_issue": "flagged: suspect gold label (cleanlab)",
               "rules_vs_model": "flagged: rules and model disagree",
               "audit": "drawn at random for audit"}
BLIND = ("label_next", "gold_review")  # sources shown without any system's answer


@dataclass
class ReviewItem:
    source: str
    split: str
    row_id: str
    text: str
    current: str  # gold label (dev/test) or weak label (train); never shown for a blind source
    note: str  # what the build saw; never shown for a blind source
    decision: Correction | None = None
    test_row_decision: Correction | None = None
    queue: str = ""  # gold_review: label_issue / rules_vs_model / audit (server-side only)
    details: dict | None = None  # label_next: the row's other columns (slice and feature columns)
    labelled: str = ""  # label_next: the label already given

    @property
    def key(self) -> str:
        return f"{self.source}:{self.split}:{self.row_id}"

    @property
    def blind(self) -> bool:
        return self.source in BLIND


def read_run_table(run, name: str) -> pd.DataFrame | None:
    """A CSV of the last build (a light labelkit.runs.Run, or None before any build), cells as written."""
    return None if run is None else run.table(name)


def review_items(run, rows: dict[str, pd.DataFrame], labels: dict[str, dict[str, str]],
                 corrections: list[Correction], *, id_column: str, text_column: str, seed: int = 0,
                 pending: pd.DataFrame | None = None, label_column: str = "label",
                 detail_columns=()) -> list[ReviewItem]:
    """The queue from the last build (`run`: a light labelkit.runs.Run, None when there is none yet);
    `rows`/`labels` are the task's splits and current labels; `pending`: the human labels file's rows
    (labelkit.human.labels.read_human_file), for `label_next`."""
    items: list[ReviewItem] = []
    train_labels = read_run_table(run, "train_labels.csv")  # read once: weak labels and the unsure rows
    labels = {**labels, "train": {**labels.get("train", {}), **_weak_labels(train_labels)}}
    texts = {s: dict(zip(f[id_column].astype(str), f[text_column])) for s, f in rows.items() if text_column in f}

    def add(source, split, row_id, note, current=None, **extra):
        if split not in rows:
            return
        text = texts.get(split, {}).get(row_id)
        if text is None:
            return  # the row is no longer in the data
        current = current if current is not None else labels.get(split, {}).get(row_id, "")
        items.append(ReviewItem(source, split, row_id, "" if text != text else str(text), current, note, **extra))

    items += _label_next(run, pending, id_column=id_column, text_column=text_column, label_column=label_column,
                         detail_columns=detail_columns)
    findings = read_run_table(run, "audit_findings.csv")
    flagged: dict[tuple[str, str], str] = {}
    if findings is not None and len(findings):
        findings["score_num"] = pd.to_numeric(findings["score"], errors="coerce").fillna(0)
        part = findings[(findings["reason"] == "label_issue") & findings["split"].isin(["dev", "test"])]
        for record in part.sort_values("score_num", ascending=False, kind="stable").head(PER_SOURCE).to_dict("records"):
            flagged.setdefault((record["split"], str(record["row_id"])), "label_issue")
        for reason in ("weak_label_issue", "test_row"):
            part = findings[findings["reason"] == reason].sort_values("score_num", ascending=False, kind="stable")
            for record in part.head(PER_SOURCE).to_dict("records"):
                add(reason, record["split"], str(record["row_id"]), str(record["evidence"]))
    predictions = read_run_table(run, "test_predictions.csv")
    if predictions is not None and "pred_rule_baseline" in predictions:
        model = "pred_end_model" if "pred_end_model" in predictions else "pred_label_model"
        if model in predictions:
            differ = predictions[predictions["pred_rule_baseline"] != predictions[model]]
            for row_id in differ["row_id"].astype(str).head(PER_SOURCE):
                flagged.setdefault(("test", row_id), "rules_vs_model")
    for split, row_id, queue in _gold_review(flagged, rows, id_column, seed):
        add("gold_review", split, row_id, GOLD_QUEUES[queue], queue=queue)
    items += _low_confidence(train_labels, add)
    return _with_decisions(items, corrections)


def _gold_review(flagged: dict, rows: dict, id_column: str, seed: int) -> list[tuple[str, str, str]]:
    """Flagged gold rows plus as many drawn at random from dev and test (at least AUDIT_ROWS), in one
    seeded shuffle: the order says nothing about why a row is there."""
    rng = np.random.default_rng(seed)
    chosen = list(flagged.items())[:PER_SOURCE]
    gold = [(s, str(i)) for s in ("dev", "test") if s in rows for i in rows[s][id_column].astype(str)]
    others = [g for g in gold if g not in flagged]
    n_audit = min(len(others), max(AUDIT_ROWS, len(chosen)))
    drawn = [others[i] for i in rng.choice(len(others), size=n_audit, replace=False)] if n_audit else []
    mixed = [(s, r, q) for (s, r), q in chosen] + [(s, r, "audit") for s, r in drawn]
    return [mixed[i] for i in rng.permutation(len(mixed))]


def _label_next(run, pending: pd.DataFrame | None, *, id_column, text_column, label_column,
                detail_columns) -> list[ReviewItem]:
    """Rows waiting for a label: the human labels file's (blank label first, then labelled ones, so a label
    can be corrected), and a repair output's label_next.csv rows not in that file."""
    items, known = [], set()
    frames = []
    if pending is not None and len(pending):
        frames.append(pending.assign(_from="file"))
        known = set(pending[id_column].astype(str))
    repaired = read_run_table(run, "label_next.csv")
    if repaired is not None and len(repaired):
        ids = repaired[id_column] if id_column in repaired else repaired.get("row_id")
        if ids is not None:
            repaired = repaired.assign(**{id_column: ids.astype(str)})
            repaired = repaired[~repaired[id_column].isin(known)]
            repaired["_label"] = repaired.get(label_column, pd.Series("", index=repaired.index)).fillna("")
            frames.append(repaired.assign(_from="run"))
    for frame in frames:
        waiting = frame[frame["_label"].astype(str) == ""]
        for record in waiting.head(PER_SOURCE).to_dict("records"):
            text = record.get(text_column, "")
            details = {c: record.get(c) for c in detail_columns if c in record and _filled(record.get(c))}
            items.append(ReviewItem("label_next", "train", str(record[id_column]),
                                    "" if not _filled(text) else str(text), "", "", details=details,
                                    queue=record["_from"]))
    return items


def _filled(value) -> bool:
    return value is not None and value == value and str(value) != ""


def _weak_labels(table: pd.DataFrame | None) -> dict[str, str]:
    """train_labels.csv's weak label per row id."""
    if table is None or "weak_label" not in table:
        return {}
    return dict(zip(table[table.columns[0]].astype(str), table["weak_label"]))


def _low_confidence(table: pd.DataFrame | None, add) -> list:
    """The train rows of train_labels.csv the label model is unsure of, given to `add`."""
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
        if item.source == "label_next":
            continue  # its label lives in the human labels file
        item.decision = decided.get((item.split, item.row_id, "label"))
        item.test_row_decision = decided.get((item.split, item.row_id, "test_row"))
    return items
