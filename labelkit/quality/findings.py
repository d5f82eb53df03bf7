"""Findings: the one table every check returns, the reason codes, and the audit result."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

FINDING_COLUMNS = ["split", "row_id", "reason", "score", "evidence"]
SPLIT_ORDER = ("train", "dev", "test")
GOLD_SPLITS = ("dev", "test")
COLUMN_LEVEL_ROW_ID = "*"  # row_id of a finding about a whole column, not one row

REASONS: dict[str, str] = {
    "exact_duplicate_cross_split": "Same text in two splits after NFKC, casefold and whitespace normalisation "
                                   "(numbers, URLs, punctuation must match).",
    "near_duplicate_cross_split": "Text in another split is nearly the same (char 3-gram Jaccard >= threshold; exact similarity join).",
    "paraphrase_cross_split": "Text in another split means nearly the same in other words (embedding cosine >= "
                              "[audit] paraphrase_threshold, char 3-gram Jaccard below the near-duplicate threshold); "
                              "flagged for review, never dropped on this alone.",
    "group_leakage": "The row's group key also occurs in another split.",
    "identifier_leakage": "A non-text column predicts the gold label far better than the majority class (column-level).",
    "time_leakage": "A train row is later than an evaluation split's period (its start for a temporal split, its end for a random one).",
    "bad_timestamp": "The time column value cannot be parsed as a timestamp.",
    "test_row": "Looks like a test/placeholder/bot row (test account, placeholder text, burst, odd timestamp, "
                "user rule or detector); score = independent signals.",
    "duplicate_within_split": "A later copy of a normalised text already in the same split.",
    "duplicate_id": "The row id occurs more than once in its split.",
    "conflicting_duplicate_labels": "Same normalised text has different gold labels within a gold split.",
    "label_issue": "Gold label disagrees with out-of-fold predictions (cleanlab); for human review.",
    "weak_label_issue": "Weak label disagrees with a cross-validated end model (cleanlab).",
    "outlier": "Unlike the rest of the data (cleanlab Datalab outlier score on text features); for a look.",
}


def make_findings(split: str, row_ids, reason: str, scores, evidence) -> pd.DataFrame:
    """A findings frame for one split and reason; scalars broadcast over `row_ids`."""
    row_ids = [str(r) for r in row_ids]
    n = len(row_ids)
    scores = np.broadcast_to(np.asarray(scores, dtype=float), (n,)) if n else np.empty(0)
    evidence = [evidence] * n if isinstance(evidence, str) else list(evidence)
    return pd.DataFrame(
        {"split": [split] * n, "row_id": row_ids, "reason": [reason] * n,
         "score": np.array(scores, dtype=float), "evidence": evidence},
        columns=FINDING_COLUMNS,
    )


def isin_strings(values, candidates) -> np.ndarray:
    """Boolean mask: which `values` are among `candidates`, compared exactly as Python objects through
    one hash table (pandas' Arrow-string `isin` builds a Python scalar per candidate: seconds at 1M)."""
    candidates = np.asarray(candidates, dtype=object)
    return pd.Series(np.asarray(values, dtype=object), dtype=object).isin(candidates).to_numpy()


def empty_findings() -> pd.DataFrame:
    return make_findings("train", [], "test_row", [], [])


def combine_findings(frames) -> pd.DataFrame:
    """Concatenate and sort deterministically: split order, reason, row id, evidence."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_findings()
    out = pd.concat(frames, ignore_index=True)
    split_rank = out["split"].map({s: i for i, s in enumerate(SPLIT_ORDER)}).fillna(len(SPLIT_ORDER))
    out = out.assign(_rank=split_rank).sort_values(
        ["_rank", "split", "reason", "row_id", "evidence"], kind="mergesort"
    )
    return out.drop(columns="_rank").reset_index(drop=True)


def summarize(findings: pd.DataFrame, splits) -> pd.DataFrame:
    """Counts of findings per reason (rows) x split (columns), with a total column."""
    columns = [s for s in SPLIT_ORDER if s in splits] + [s for s in splits if s not in SPLIT_ORDER]
    table = pd.crosstab(findings["reason"], findings["split"]) if len(findings) else pd.DataFrame()
    table = table.reindex(columns=columns, fill_value=0).fillna(0).astype(int)
    table["total"] = table.sum(axis=1)
    table.index.name = "reason"
    table.columns.name = None
    return table


@dataclass
class AuditResult:
    findings: pd.DataFrame
    summary: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    checks_run: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)  # check name -> seconds
    # what the audit could not do with these data (no text column): said with the build's warnings too
    notes: list[str] = field(default_factory=list)

    def count(self, reason: str, split: str | None = None) -> int:
        mask = self.findings["reason"] == reason
        if split is not None:
            mask &= self.findings["split"] == split
        return int(mask.sum())

    def to_dict(self) -> dict:
        """JSON-able: counts per reason x split, warnings, checks run (findings stay a table)."""
        return {
            "summary": {r: {k: int(v) for k, v in row.items()} for r, row in self.summary.iterrows()},
            "warnings": list(self.warnings),
            "checks_run": list(self.checks_run),
            "n_findings": int(len(self.findings)),
        }
