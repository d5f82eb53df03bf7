"""run_audit: validate, run the selected checks on read-only copies, collect findings."""
from __future__ import annotations

import time

import pandas as pd

# imported for their @register_check side effect; this order is the order checks run and list in
from labelkit.quality import duplicates, near_duplicates, leakage, testrows, label_issues, outliers  # noqa: F401,I001
from labelkit.quality import paraphrase  # noqa: F401,I001  (after the near-duplicate join it complements)
from labelkit.quality.findings import AuditResult, combine_findings, summarize
from labelkit.io.progress import to_stderr
from labelkit.quality.policies import resolve_policies
from labelkit.quality.registry import AuditContext, resolve_checks
from labelkit.quality.spec import AuditSpec, validate_splits

SLOW_CHECK_SECONDS = 2.0  # a check that takes this long gets a progress line ...
PROGRESS_ROWS = 100_000  # ... on stderr when no notify is given and the splits hold this many rows


def run_audit(splits: dict[str, pd.DataFrame], spec: AuditSpec, *, notify=None) -> AuditResult:
    """Run every check in spec.checks (None = all) over the splits; inputs are never modified.
    `notify` gets progress lines from checks that run longer than a few seconds (default: stderr, for
    splits of PROGRESS_ROWS rows or more)."""
    checks = resolve_checks(spec.checks)
    resolve_policies(spec.policies)
    testrows.validate_rules(spec.rules)
    validate_splits(splits, spec)
    loud = sum(len(frame) for frame in splits.values()) >= PROGRESS_ROWS
    say = notify or (to_stderr if loud else (lambda message: None))
    ctx = AuditContext({name: frame.copy() for name, frame in splits.items()}, spec, notify=say)
    frames, ran, timings = [], [], {}
    for check in checks:
        if check.needs_text and spec.text_column is None and not (check.or_features and spec.feature_columns):
            ctx.warnings.append(f"{check.name} skipped: no text_column configured.")
            continue
        started = time.perf_counter()
        frames.append(check.func(ctx))
        timings[check.name] = round(time.perf_counter() - started, 3)
        ran.append(check.name)
        if timings[check.name] >= SLOW_CHECK_SECONDS:
            say(f"audit: {check.name} done ({timings[check.name]:.1f}s; {len(ran)}/{len(checks)} checks)")
    findings = combine_findings(frames)
    findings.attrs["id_column"] = spec.id_column
    notes = [no_text_note(checks, spec)] if spec.text_column is None else []
    return AuditResult(findings, summarize(findings, ctx.split_names), ctx.warnings, tuple(ran), timings, notes)


def no_text_note(checks, spec: AuditSpec) -> str:
    """One line: what an audit without a text column skipped, and what ran on the feature columns instead."""
    from labelkit.wrench import shown_columns

    on_features = [c.name for c in checks if c.needs_text and c.or_features and spec.feature_columns]
    skipped = [c.name for c in checks if c.needs_text and c.name not in on_features]
    parts = []
    if on_features:
        parts.append(f"{', '.join(on_features)} compared the feature columns ({shown_columns(spec.feature_columns)}) "
                     f"instead of text")
    if skipped:
        parts.append(f"{', '.join(skipped)} {'was' if len(skipped) == 1 else 'were'} skipped (text only)")
    if spec.feature_columns and any(c.name == "identifier_leakage" for c in checks):
        parts.append("identifier_leakage left the feature columns out (they are the inputs)")
    if any(c.name == "test_rows" for c in checks):
        parts.append("test_rows looked at ids, accounts and times only (its placeholder-text, test-marker and "
                     "burst detectors read text)")
    return "The audit had no text column: " + ("; ".join(parts) or "no check needed one") + "."

