"""`labelkit audit` as a library call: audit the splits, write cleaned data and the quarantine file."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from labelkit.settings.config import Config
from labelkit.data.load import input_paths, load_task_data
from labelkit.io.files import write_json, write_review_csv
from labelkit.io.output_folder import atomic_output_dir, claim_output

FAIL_REASONS = {
    "leakage": ("leak", "cross_split"),
    "test-rows": ("test_row",),
    "label-issues": ("label_issue",),
    "duplicates": ("duplicate",),
}


def run_audit_command(config: Config, *, out: Path, force: bool = False, notify=None) -> dict:
    from labelkit.pipeline.manifest import StageTimer

    # --out is checked and locked before any work (a refused folder costs nothing)
    with claim_output(out, force=force, kind="audit", protect=input_paths(config)):
        return _audit_and_write(config, out=out, force=force, timer=StageTimer(notify))


def _audit_and_write(config: Config, *, out: Path, force: bool, timer) -> dict:
    from labelkit.quality.policies import quarantine_warnings
    from labelkit.pipeline.stages import load_labeling_functions, run_audit

    with timer.stage("load data"):
        data = load_task_data(config)
        modules, _ = load_labeling_functions(config, require_lfs=False)
    with timer.stage("audit"):
        outcome = run_audit(config, data, modules.detectors, notify=timer.notify)
    findings = outcome.result.findings
    report = {
        "task": config.task.name,
        "summary": summary_counts(findings),
        "accounting": outcome.clean.accounting,
        "warnings": quarantine_warnings(outcome.clean, config.audit.policies, config_path=config.path)
        + data.warnings + list(getattr(outcome.result, "warnings", [])),
        "findings": len(findings),
        "out": str(out),
    }
    with timer.stage("write"):
        with atomic_output_dir(out, force=force, kind="audit", protect=input_paths(config)) as tmp:
            (tmp / "cleaned").mkdir()
            for split, frame in outcome.clean.splits.items():
                frame.to_csv(tmp / "cleaned" / f"{split}.csv", index=False)
            write_review_csv(outcome.clean.quarantine, tmp / "quarantine.csv")
            write_review_csv(findings, tmp / "audit_findings.csv")
            write_json(tmp / "audit.json", report)
            write_json(tmp / "manifest.json", {"labelkit_audit": 1, "inputs": data.inputs, "config": config.to_dict(),
                                               "timings_seconds": timer.timings})
    return report


def summary_counts(findings: pd.DataFrame) -> list[dict]:
    if not len(findings):
        return []
    counts = findings.groupby(["reason", "split"]).size().reset_index(name="count")
    return counts.to_dict("records")


def audit_failures(report: dict, checks: list[str]) -> list[str]:
    failures = []
    for check in checks:
        patterns = FAIL_REASONS[check]
        n = sum(row["count"] for row in report["summary"] if any(p in row["reason"] for p in patterns))
        if n:
            failures.append(f"{check}: {n} finding(s)")
    return failures
