"""Exact duplicates on normalised text: across splits, within a split, with conflicting labels."""
from __future__ import annotations

import numpy as np
import pandas as pd

from labelkit.quality.findings import combine_findings, make_findings
from labelkit.quality.registry import AuditContext, register_check


def _first_id_and_count(keys: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    """Per non-empty text key: the first row id with it and how many rows share it."""
    frame = pd.DataFrame({"key": keys, "id": ids})
    frame = frame[frame["key"] != 0]
    grouped = frame.groupby("key", sort=False)["id"]
    return pd.DataFrame({"first_id": grouped.first(), "count": grouped.size()})


def _other_split_evidence(matches: pd.DataFrame, other: str, what: str) -> list[str]:
    return [
        f"{what} {other} row {first!r}" + (f" (+{count - 1} more)" if count > 1 else "")
        for first, count in zip(matches["first_id"], matches["count"])
    ]


@register_check("exact_duplicate_cross_split", reasons=("exact_duplicate_cross_split",), needs_text=True, or_features=True)
def exact_duplicate_cross_split(ctx: AuditContext) -> pd.DataFrame:
    """Rows whose normalised text also occurs in another split; both copies get a finding."""
    frames = []
    names = ctx.split_names
    for other in names:
        table = _first_id_and_count(ctx.text_key[other], ctx.ids[other])
        for split in names:
            if split == other:
                continue
            keys = ctx.text_key[split]
            hit = (keys != 0) & np.isin(keys, table.index.to_numpy())
            if not hit.any():
                continue
            matches = table.loc[keys[hit]]
            evidence = _other_split_evidence(matches, other, f"same {ctx.compared} as")
            frames.append(make_findings(split, ctx.ids[split][hit], "exact_duplicate_cross_split", 1.0, evidence))
    return _merge_per_row(combine_findings(frames))


def _merge_per_row(findings: pd.DataFrame) -> pd.DataFrame:
    """One finding per (split, row_id, reason): evidence joined with '; ', max score."""
    if findings.empty or not findings.duplicated(["split", "row_id", "reason"]).any():
        return findings
    merged = findings.groupby(["split", "row_id", "reason"], sort=False).agg(
        score=("score", "max"), evidence=("evidence", "; ".join)
    ).reset_index()
    return combine_findings([merged])


@register_check("duplicate_within_split", reasons=("duplicate_within_split",), needs_text=True, or_features=True)
def duplicate_within_split(ctx: AuditContext) -> pd.DataFrame:
    """Second and later copies of a normalised text in the same split (the first copy stays clean)."""
    frames = []
    for split in ctx.split_names:
        keys, ids = ctx.text_key[split], ctx.ids[split]
        frame = pd.DataFrame({"key": keys, "id": ids})
        later = frame.duplicated("key", keep="first").to_numpy() & (keys != 0)
        if not later.any():
            continue
        first_id = frame[keys != 0].groupby("key", sort=False)["id"].first()
        evidence = [f"same {ctx.compared} as {split} row {f!r}" for f in first_id.loc[keys[later]]]
        frames.append(make_findings(split, ids[later], "duplicate_within_split", 1.0, evidence))
    return combine_findings(frames)


@register_check("duplicate_id", reasons=("duplicate_id",))
def duplicate_id(ctx: AuditContext) -> pd.DataFrame:
    """Row ids used more than once in a split (findings and policies name rows by id)."""
    frames = []
    for split in ctx.split_names:
        ids = pd.Series(ctx.ids[split])
        repeated = ids.duplicated(keep=False).to_numpy()
        if repeated.any():
            counts = ids[repeated].map(ids.value_counts())
            evidence = [f"id occurs {c} times in {split}" for c in counts]
            frames.append(make_findings(split, ids[repeated], "duplicate_id", 1.0, evidence))
            ctx.warnings.append(
                f"{split}: {int(ids[repeated].nunique())} row ids occur more than once (e.g. "
                f"{ids[repeated].iloc[0]!r}); policies act on every row with a flagged id."
            )
    return combine_findings(frames).drop_duplicates(["split", "row_id", "reason"]).reset_index(drop=True)


@register_check("conflicting_duplicate_labels", reasons=("conflicting_duplicate_labels",), needs_text=True, or_features=True)
def conflicting_duplicate_labels(ctx: AuditContext) -> pd.DataFrame:
    """Same normalised text with different gold labels inside one gold split: every copy flagged."""
    frames = []
    for split in ctx.gold_splits:
        labels = ctx.splits[split][ctx.spec.label_column].astype(str).to_numpy()
        frame = pd.DataFrame({"key": ctx.text_key[split], "label": labels})
        frame = frame[frame["key"] != 0]
        n_labels = frame.groupby("key")["label"].nunique()
        conflicted = n_labels.index[n_labels > 1]
        mask = np.isin(ctx.text_key[split], conflicted.to_numpy()) & (ctx.text_key[split] != 0)
        if not mask.any():
            continue
        label_sets = frame[frame["key"].isin(conflicted)].groupby("key")["label"].agg(
            lambda s: ", ".join(sorted(set(s)))
        )
        evidence = [
            f"label {own!r}; the same {'text' if ctx.spec.text_column is not None else 'feature values'} has labels "
            f"{label_sets[k]} in {split}"
            for own, k in zip(labels[mask], ctx.text_key[split][mask])
        ]
        frames.append(make_findings(split, ctx.ids[split][mask], "conflicting_duplicate_labels", 1.0, evidence))
    return combine_findings(frames)
