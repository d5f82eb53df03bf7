"""Leakage between splits: shared groups, later-in-time train rows, label-revealing columns."""
from __future__ import annotations

import numpy as np
import pandas as pd

from labelkit.quality.findings import COLUMN_LEVEL_ROW_ID, combine_findings, make_findings
from labelkit.quality.registry import AuditContext, plausible_time_range, register_check, unparseable_times


@register_check("group_leakage", reasons=("group_leakage",))
def group_leakage(ctx: AuditContext) -> pd.DataFrame:
    """Rows whose group key also occurs in another split (every split pair, both sides flagged).
    A hash join: group keys (as str) numbered once over all splits, rows counted per key and split."""
    column = ctx.spec.group_column
    if column is None:
        return combine_findings([])
    names = ctx.split_names
    values = [ctx.splits[s][column] for s in names]
    codes, keys = pd.factorize(pd.concat([v.astype(str) for v in values], ignore_index=True).to_numpy(dtype=object))
    offsets = np.cumsum([0] + [len(v) for v in values])
    codes = {s: np.where(v.notna().to_numpy(), codes[offsets[i]:offsets[i + 1]], -1)  # -1: no group
             for i, (s, v) in enumerate(zip(names, values))}
    counts = {s: np.bincount(c[c >= 0], minlength=len(keys)) for s, c in codes.items()}
    frames = []
    for split in names:
        own = codes[split]
        for other in names:
            if other == split:
                continue
            hit = (own >= 0) & (counts[other][np.maximum(own, 0)] > 0)
            if hit.any():
                evidence = [f"group {keys[g]!r} also in {other} ({counts[other][g]} rows)" for g in own[hit]]
                frames.append(make_findings(split, ctx.ids[split][hit], "group_leakage", 1.0, evidence))
    return _join_evidence(combine_findings(frames))


def _join_evidence(findings: pd.DataFrame) -> pd.DataFrame:
    if findings.empty:
        return findings
    merged = findings.groupby(["split", "row_id", "reason"], sort=False).agg(
        score=("score", "max"), evidence=("evidence", "; ".join)
    ).reset_index()
    return combine_findings([merged])


@register_check("time_leakage", reasons=("time_leakage", "bad_timestamp"))
def time_leakage(ctx: AuditContext) -> pd.DataFrame:
    """Train rows later than the evaluation period; unparseable timestamps.

    The period of each evaluation split ignores outlying times (see `_period`), so a few bogus
    timestamps (1970, the future: the test-row check reports those) do not move it. In a temporal
    split (most train rows before the period starts) every train row after the start is flagged.
    When most train rows fall inside the period the split is random, not temporal: only train rows
    after the END of the period are flagged, with a warning to re-split by time. When most train rows
    are later than the period's end, the warning says so (the evaluation data is older than train).
    Unparseable (non-empty) values become `bad_timestamp` findings plus a warning rather than an
    error, so one bad cell does not stop the audit; missing values are skipped. Score = days late.
    """
    column = ctx.spec.time_column
    if column is None:
        return combine_findings([])
    frames = [_bad_timestamps(ctx, s) for s in ctx.split_names]
    if "train" in ctx.splits:
        for other in [s for s in ctx.split_names if s != "train"]:
            frames.append(_later_than(ctx, other))
    return _join_evidence(combine_findings(frames))


def _later_than(ctx: AuditContext, other: str) -> pd.DataFrame:
    train_times, times = ctx.times["train"], ctx.times[other].dropna()
    if times.empty or train_times.dropna().empty:
        return combine_findings([])
    start, end = _period(times)
    known = train_times.notna().to_numpy()
    after_start = (train_times > start).fillna(False).to_numpy()
    after_end = (train_times > end).fillna(False).to_numpy()
    inside = after_start & ~after_end
    share_inside, share_after = inside[known].mean(), after_end[known].mean()
    period = f"the {other} period ({start.date()} to {end.date()})"
    if share_after > 0.5:
        ctx.warnings.append(
            f"time_leakage: {share_after:.0%} of train rows are later than the end of {period}: the {other} split is "
            f"OLDER than the training data, so its scores say how the model does on the past, not the future. "
            "Re-split by time (train before, evaluation after) to measure that."
        )
        bound, what = start, f"the start of the {other} period"
    elif share_inside > 0.5:
        ctx.warnings.append(
            f"time_leakage: {share_inside:.0%} of train rows fall inside {period}; the split looks random rather "
            f"than temporal, so only train rows after the end of the {other} period are flagged. "
            "Re-split by time to measure how the model does on the future."
        )
        bound, what = end, f"the end of the {other} period"
    else:
        bound, what = start, f"the start of the {other} period"
    late = (train_times > bound).fillna(False).to_numpy()
    if not late.any():
        return combine_findings([])
    days = ((train_times[late] - bound).dt.total_seconds() / 86400.0).to_numpy()
    evidence = [f"time {t.isoformat()} is after {what} ({bound.isoformat()})" for t in train_times[late]]
    return make_findings("train", ctx.ids["train"][late], "time_leakage", days, evidence)


def _period(times: pd.Series):
    """First and last plausible time of a split (see `plausible_time_range`)."""
    low, high = plausible_time_range(times)
    inside = times[(times >= low) & (times <= high)]
    return inside.min(), inside.max()


def _bad_timestamps(ctx: AuditContext, split: str) -> pd.DataFrame:
    values = ctx.splits[split][ctx.spec.time_column]
    bad = unparseable_times(values, ctx.times[split])
    if not bad.any():
        return combine_findings([])
    ids = ctx.ids[split][bad]
    ctx.warnings.append(
        f"{split}: {int(bad.sum())} values in time column {ctx.spec.time_column!r} are not timestamps "
        f"(first row ids: {', '.join(map(repr, ids[:5]))}); they are reported as bad_timestamp."
    )
    evidence = [f"{ctx.spec.time_column}={v!r} is not a timestamp" for v in values[bad]]
    return make_findings(split, ids, "bad_timestamp", 1.0, evidence)


# ---- identifier leakage -------------------------------------------------------------------------

MIN_GOLD_ROWS = 30
PREFIX_LENGTHS = (1, 2, 3, 4)
NUMERIC_BINS = 10


@register_check("identifier_leakage", reasons=("identifier_leakage",))
def identifier_leakage(ctx: AuditContext) -> pd.DataFrame:
    """Columns (not text/label) whose values, prefixes or numeric range predict the gold label.

    For each candidate column and each view of it (raw value; for high-cardinality columns also
    string prefixes of 1-4 characters and 10 quantile bins of numeric values) a lookup model
    (majority label per value, unseen values -> majority class) is scored by stratified k-fold
    cross-validation on the gold rows (dev + test). lift = (accuracy - majority) / (1 - majority):
    the share of the majority baseline's errors the column fixes. A column whose best view has
    lift >= spec.id_leak_threshold is reported once per gold split with row_id "*".
    """
    gold = ctx.gold_splits
    if not gold:
        return combine_findings([])
    spec = ctx.spec
    frame = pd.concat([ctx.splits[s] for s in gold], ignore_index=True)
    y = frame[spec.label_column].astype(str).to_numpy()
    if len(y) < MIN_GOLD_ROWS or len(set(y)) < 2:
        ctx.warnings.append(
            f"identifier_leakage skipped: needs at least {MIN_GOLD_ROWS} gold rows with 2+ classes, "
            f"got {len(y)} rows."
        )
        return combine_findings([])
    folds = _folds(y, spec.cv_folds, spec.seed)
    skip = {spec.text_column, spec.label_column}
    if spec.text_column is None:  # rows without text: the feature vector is the input by design, and one of its
        skip |= set(spec.feature_columns)  # columns predicting the label (mushroom's odor, 98.9%) is no identifier
    frames = []
    for column in [c for c in frame.columns if c not in skip]:
        lift, accuracy, base, view = _best_view(frame[column], y, folds)
        if lift >= spec.id_leak_threshold:
            evidence = (
                f"column {column!r} ({view}) predicts the label with cross-validated accuracy "
                f"{accuracy:.3f} vs {base:.3f} for the majority class (lift {lift:.2f}) on {'+'.join(gold)}"
            )
            for split in gold:
                frames.append(make_findings(split, [COLUMN_LEVEL_ROW_ID], "identifier_leakage", lift, evidence))
    return combine_findings(frames)


def _folds(y: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold number per row, stratified where every class has enough rows."""
    from sklearn.model_selection import KFold, StratifiedKFold

    _, counts = np.unique(y, return_counts=True)
    splitter = (StratifiedKFold if counts.min() >= n_folds else KFold)(n_folds, shuffle=True, random_state=seed)
    fold = np.empty(len(y), dtype=int)
    for i, (_, test_idx) in enumerate(splitter.split(np.zeros(len(y)), y)):
        fold[test_idx] = i
    return fold


def _views(values: pd.Series):
    as_str = values.astype(str).where(values.notna(), "<missing>")
    yield "value", as_str
    if as_str.nunique() <= 0.5 * len(as_str):
        return
    for n in PREFIX_LENGTHS:
        yield f"first {n} characters", as_str.str[:n]
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().mean() > 0.9 and numeric.nunique() > NUMERIC_BINS:
        bins = pd.qcut(numeric.rank(method="first"), NUMERIC_BINS, labels=False)
        yield "numeric range", bins.astype(str)


def _best_view(values: pd.Series, y: np.ndarray, folds: np.ndarray):
    base = _majority_accuracy(y, folds)
    best = (-np.inf, 0.0, base, "")
    for name, keys in _views(values):
        accuracy = _lookup_accuracy(keys.to_numpy(), y, folds)
        lift = (accuracy - base) / (1.0 - base) if base < 1.0 else 0.0
        if lift > best[0]:
            best = (lift, accuracy, base, name)
    return best


def _majority_accuracy(y, folds) -> float:
    correct = 0
    for f in np.unique(folds):
        train, test = folds != f, folds == f
        labels, counts = np.unique(y[train], return_counts=True)
        correct += int((y[test] == labels[np.argmax(counts)]).sum())
    return correct / len(y)


def _lookup_accuracy(keys, y, folds) -> float:
    """Cross-validated accuracy of predicting each key's majority label in the training folds (a tie
    goes to the smallest label; an unseen or missing key gets the training folds' majority class)."""
    key_codes = pd.factorize(keys)[0]  # -1 = missing
    labels, y_codes = np.unique(y, return_inverse=True)
    k = len(labels)
    correct = 0
    for f in np.unique(folds):
        train, test = (folds != f) & (key_codes >= 0), folds == f
        fallback = np.argmax(np.bincount(y_codes[folds != f], minlength=k))
        pairs, counts = np.unique(key_codes[train] * k + y_codes[train], return_counts=True)
        key, label = np.divmod(pairs, k)
        order = np.lexsort((label, -counts, key))  # per key: most frequent, then smallest label
        key, label = key[order], label[order]
        first = np.r_[True, key[1:] != key[:-1]]
        majority = np.full(key_codes.max() + 2, fallback)  # the last slot answers missing keys (-1)
        majority[key[first]] = label[first]
        correct += int((majority[key_codes[test]] == y_codes[test]).sum())
    return correct / len(y)
