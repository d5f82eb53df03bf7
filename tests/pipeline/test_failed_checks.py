"""--fail-on: each check fails the build exactly when its finding is present."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from labelkit.pipeline.scoring import failed_checks


def _audit(*reasons):
    findings = pd.DataFrame({"split": ["train"] * len(reasons), "row_id": [str(i) for i in range(len(reasons))],
                             "reason": list(reasons), "score": [1.0] * len(reasons), "evidence": [""] * len(reasons)})
    return SimpleNamespace(result=SimpleNamespace(findings=findings), weak_findings=None)


SYSTEMS = {"baseline": "rule_baseline", "model": "end_model",
           "systems": {"rule_baseline": {"accuracy": 0.70, "n": 50}, "end_model": {"accuracy": 0.78, "n": 50}}}
# a small test set and notes that are not about scores (a sampled comparison) are not too-good findings
CLEAN = {"guardrails": [], "expectations": {"end_model": {"failures": []}}, "systems": SYSTEMS,
         "warnings": ["end_model_hard_labels was trained on a sample of 50,000 rows"]}
TOO_GOOD = {"baseline": "rule_baseline", "model": "end_model",
            "systems": {"rule_baseline": {"accuracy": 0.70, "n": 500}, "end_model": {"accuracy": 0.998, "n": 500}}}


def _results(data: dict):
    """Typed results (what failed_checks reads) from the few sections a case sets; the rest minimal."""
    from labelkit.results import BuildResults

    systems = data["systems"]
    task = {"name": "t", "classes": ["a", "b"], "rows": {}}
    scores = {name: {"n": s["n"], "accuracy": s["accuracy"], "macro_f1": s["accuracy"]}
              for name, s in systems["systems"].items()}
    failures = {name: {"passed": 0, "failed": len(e["failures"]), "total": len(e["failures"]), "failures":
                       [{"row": f["row"], "got": "a", "expected": "b"} for f in e["failures"]]}
                for name, e in data["expectations"].items()}
    guardrails = [{"column": "country", "value": "FR", "size": 40, "baseline": "rule_baseline", "model": "end_model",
                   "baseline_score": 0.8, "model_score": 0.6, "gap": -0.2} for _ in data["guardrails"]]
    return BuildResults.from_json({"task": task, "systems": {**systems, "n": 50, "classes": ["a", "b"],
                                                             "systems": scores},
                                   "guardrails": guardrails, "expectations": failures, "warnings": data["warnings"]})


@pytest.mark.parametrize("check, metrics, audit, expected", [
    ("too-good", {**CLEAN, "systems": TOO_GOOD}, None, "too-good: end_model accuracy 0.998"),
    ("expectations", {**CLEAN, "expectations": {"end_model": {"failures": [{"row": 1}, {"row": 2}]}}}, None,
     "expectations: 2 expectation(s) failed"),
    ("guardrail", {**CLEAN, "guardrails": [{"slice": "country = FR"}]}, None, "guardrail: 1 slice(s)"),
    ("test-rows", CLEAN, _audit("test_row_account", "exact_duplicate_within_split"), "test-rows: 1 test/QA row"),
    ("leakage", CLEAN, _audit("group_leakage", "near_duplicate_cross_split", "label_issue"), "leakage: 2"),
])
def test_each_check_fails_only_on_its_own_finding(check, metrics, audit, expected):
    metrics = _results(metrics)
    failed = failed_checks(metrics, audit, [check])
    assert len(failed) == 1 and failed[0].startswith(expected)
    assert failed_checks(_results(CLEAN), _audit("exact_duplicate_within_split"), [check]) == []
    others = [c for c in ("too-good", "expectations", "guardrail", "test-rows", "leakage") if c != check]
    assert failed_checks(metrics, audit, others) == []  # a finding fails only the check that names it
