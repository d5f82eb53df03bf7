"""Data-quality audit: registered checks -> findings -> policies -> cleaned splits + quarantine.

    from labelkit.quality import AuditSpec, run_audit, apply_policies
    result = run_audit({"train": train, "test": test}, AuditSpec("id", "text", "label", ("a", "b")))
    cleaned = apply_policies({"train": train, "test": test}, result.findings, {"test_row": "flag"})
"""
from __future__ import annotations

from labelkit.quality.audit import run_audit
from labelkit.quality.findings import FINDING_COLUMNS, REASONS, AuditResult
from labelkit.quality.policies import DEFAULT_POLICIES, POLICIES, CleanResult, apply_policies
from labelkit.quality.registry import CHECKS, register_check
from labelkit.quality.spec import AuditSpec
from labelkit.quality.testrows import test_row_detector
from labelkit.quality.label_issues import audit_weak_labels

__all__ = [
    "AuditSpec", "AuditResult", "CleanResult", "run_audit", "audit_weak_labels", "apply_policies",
    "REASONS", "DEFAULT_POLICIES", "POLICIES", "FINDING_COLUMNS", "CHECKS", "register_check",
    "test_row_detector",
]
