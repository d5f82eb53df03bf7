"""Policies: turn findings into cleaned splits, a quarantine table and explicit row accounting.

Actions per reason:
  drop        drop the flagged row from whatever split it is in
  drop_train  drop it if it is in train; flag it (keep) in dev/test
  drop_test   drop it if it is in dev or test (the evaluation splits); flag it in train
  drop_corroborated  drop it in train; in dev/test only when the finding's score (its number of
              independent signals, e.g. a test account AND placeholder text) is at least 2, else flag
  flag        keep it, list it in `flagged`

Defaults: gold rows are sacred. No single heuristic drops a dev/test row: leakage reasons drop the
TRAIN copy, so the evaluation sets stay intact and scores stay comparable across runs (losing a few
training rows is cheap, changing the test set is not); extra copies within a split are dropped from
train and flagged in dev/test; a suspected test-log row is dropped from dev/test only when two
independent signals agree (`drop_corroborated`). Reasons that need a
human (label issues, conflicting labels, time leakage, bad timestamps, repeated ids) are flagged:
deleting them would hide the problem. Column-level findings (row_id "*") are never row actions;
they are returned as `column_findings`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError, DatasetError
from labelkit.quality.findings import COLUMN_LEVEL_ROW_ID, GOLD_SPLITS, REASONS, isin_strings

POLICIES = ("drop", "drop_train", "drop_test", "drop_corroborated", "flag")
CORROBORATED = 2  # independent signals needed before drop_corroborated drops a gold row
COLUMN_LEVEL_REASONS = ("identifier_leakage",)

DEFAULT_POLICIES: dict[str, str] = {
    "exact_duplicate_cross_split": "drop_train",
    "near_duplicate_cross_split": "drop_train",
    "paraphrase_cross_split": "flag",  # meaning alone is not proof of a leak: a person looks
    "group_leakage": "drop_train",
    "identifier_leakage": "flag",
    "time_leakage": "flag",
    "bad_timestamp": "flag",
    "test_row": "drop_corroborated",
    "duplicate_within_split": "drop_train",
    "duplicate_id": "flag",
    "conflicting_duplicate_labels": "flag",
    "label_issue": "flag",
    "weak_label_issue": "flag",
    "outlier": "flag",
}


def resolve_policies(overrides: dict[str, str] | None) -> dict[str, str]:
    """DEFAULT_POLICIES updated with `overrides`; unknown reasons or actions raise ConfigError."""
    overrides = dict(overrides or {})
    for reason, action in overrides.items():
        if reason not in REASONS:
            raise ConfigError(f"Unknown audit reason {reason!r} in policies; valid reasons are: {', '.join(REASONS)}.")
        if action not in POLICIES:
            raise ConfigError(
                f"Unknown policy {action!r} for reason {reason!r}; valid policies are: {', '.join(POLICIES)}."
            )
        if reason in COLUMN_LEVEL_REASONS and action != "flag":
            raise ConfigError(
                f"Reason {reason!r} is about a whole column, so its policy must be 'flag', got {action!r}; "
                "drop the column from the data instead."
            )
    return {**DEFAULT_POLICIES, **overrides}


@dataclass
class CleanResult:
    splits: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame  # split, row_id, reasons, evidence + original columns
    flagged: pd.DataFrame  # split, row_id, reasons, evidence (rows kept in the data)
    accounting: dict[str, dict[str, int]]
    column_findings: pd.DataFrame


def _drops(split: str, action: str, score: float) -> bool:
    gold = split in GOLD_SPLITS
    return action == "drop" or (action == "drop_train" and split == "train") or (action == "drop_test" and gold) or (
        action == "drop_corroborated" and (split == "train" or (gold and score >= CORROBORATED))
    )


def _check_ids_known(row_findings: pd.DataFrame, split: str, ids: pd.Series) -> None:
    named = row_findings.loc[row_findings["split"] == split, "row_id"]
    unknown = named[~isin_strings(named, ids)]
    if len(unknown):
        raise DatasetError(
            f"Findings name {unknown.nunique()} row ids not in split {split!r} (e.g. {unknown.iloc[0]!r}); "
            "apply policies to the same splits the audit ran on."
        )


def _per_row(rows: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(columns=["split", "row_id", "reasons", "evidence"])
    return rows.groupby(["split", "row_id"], sort=True).agg(
        reasons=("reason", lambda r: ";".join(sorted(set(r)))),
        evidence=("evidence", lambda e: " | ".join(e)),
    ).reset_index()


def apply_policies(splits: dict[str, pd.DataFrame], findings: pd.DataFrame, policies=None, *,
                   id_column: str | None = None) -> CleanResult:
    """Cleaned copies of `splits` (inputs untouched), the quarantine, flagged rows and accounting.

    Rows are matched to findings by id (as str) in `id_column`; when None it is taken from
    `findings.attrs["id_column"]`, which run_audit sets.
    """
    resolved = resolve_policies(policies)
    id_column = id_column or findings.attrs.get("id_column")
    if id_column is None:
        raise ConfigError("apply_policies needs id_column= (findings do not carry one); pass spec.id_column.")
    unknown = sorted(set(findings["reason"]) - set(REASONS))
    if unknown:
        raise DatasetError(f"Findings contain unknown reasons {unknown}; valid reasons are: {', '.join(REASONS)}.")
    column_level = findings["row_id"] == COLUMN_LEVEL_ROW_ID
    row_findings = findings[~column_level]
    drop_mask = np.array([_drops(s, resolved[r], score) for s, r, score in
                          zip(row_findings["split"], row_findings["reason"], row_findings["score"])], dtype=bool)
    dropped = row_findings[drop_mask][["split", "row_id"]].drop_duplicates()
    all_per_row = _per_row(row_findings)
    is_dropped = all_per_row.set_index(["split", "row_id"]).index.isin(dropped.set_index(["split", "row_id"]).index)
    quarantined_rows, flagged = all_per_row[is_dropped], all_per_row[~is_dropped].reset_index(drop=True)
    missing = sorted(set(row_findings["split"]) - set(splits))
    if missing:
        raise DatasetError(f"Findings name splits {missing} that were not passed; splits are: {', '.join(splits)}.")
    cleaned, quarantine_parts, accounting = {}, [], {}
    for split, frame in splits.items():
        column = id_column
        if column not in frame.columns:
            raise DatasetError(f"Id column {column!r} not in split {split!r}; columns are: {', '.join(frame.columns)}.")
        ids = frame[column].astype(str)
        _check_ids_known(row_findings, split, ids)
        q_ids = quarantined_rows.loc[quarantined_rows["split"] == split]
        out = isin_strings(ids, q_ids["row_id"])
        cleaned[split] = frame[~out].copy()
        originals = frame[out].assign(row_id=ids[out].to_numpy())
        quarantine_parts.append(q_ids.merge(originals, on="row_id", how="left", suffixes=("", "_original")))
        n_flagged = int(isin_strings(ids, flagged.loc[flagged["split"] == split, "row_id"]).sum())
        accounting[split] = {"rows_in": len(frame), "kept": int((~out).sum()), "quarantined": int(out.sum()),
                             "flagged": n_flagged}
        assert accounting[split]["rows_in"] == accounting[split]["kept"] + accounting[split]["quarantined"]
    quarantine = (pd.concat(quarantine_parts, ignore_index=True) if quarantine_parts
                  else _per_row(row_findings.iloc[:0]))
    return CleanResult(cleaned, quarantine, flagged, accounting, findings[column_level].reset_index(drop=True))


# A split that loses this share of its rows to the quarantine gets a warning line in the CLI, metrics.json
# and the report. Default policies only drop train copies of leaked or repeated rows: the bundled example
# loses 5% of train to them, real YouTube comments 16% (repeated spam). From one row in ten the model
# learns from noticeably less (or other) data than was given, and the usual cause is a policy that does not
# fit the data (templated texts that are near-duplicates without being leaks), which only the user can judge.
LOUD_QUARANTINE_SHARE = 0.10


def quarantine_warnings(clean: CleanResult, policies=None, *, config_path=None, notebook: bool = False,
                        share: float = LOUD_QUARANTINE_SHARE) -> list[str]:
    """One line per split whose quarantined share is at least `share`: the count, the reasons that
    dropped rows (most rows first) and how to change the policy (in `config_path`, with --set when the build
    has no config file, or lk.run's settings)."""
    resolved = resolve_policies(policies)
    out = []
    for split, counts in clean.accounting.items():
        given, lost = counts["rows_in"], counts["quarantined"]
        if not given or lost / given < share:
            continue
        reasons = clean.quarantine.loc[clean.quarantine["split"] == split, "reasons"].astype(str).str.split(";")
        tally: dict[str, int] = {}
        for reason in reasons.explode().str.strip():
            if reason in resolved and _drops(split, resolved[reason], float("inf")):
                tally[reason] = tally.get(reason, 0) + 1
        top = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
        named = ", ".join(f"{reason} {n}" for reason, n in top)
        flags = ", ".join(f'{reason} = "flag"' for reason, _ in top)
        use = "not trained on" if split == "train" else "not scored"
        if notebook:
            chosen = {reason: "flag" for reason, _ in top}
            fix = f"pass settings={{'audit': {{'policies': {chosen!r}}}}} to lk.Task.from_frames, or lk.run(..., audit=False)"
        elif config_path:
            fix = f"set policies = {{ {flags} }} under [audit] in {config_path}, or build with --no-audit"
        else:  # a build without a config file (labelkit build --wrench DIR)
            fix = f"build with --set 'audit.policies={{ {flags} }}', or with --no-audit"
        out.append(f"The audit quarantined {lost} of {given} {split} rows ({100 * lost / given:.0f}%; "
                   f"{'reasons' if len(top) > 1 else 'reason'}: {named}); they are {use} (quarantine.csv lists "
                   f"them). If they are not leaks or junk (e.g. templated texts), keep them: {fix}.")
    return out
