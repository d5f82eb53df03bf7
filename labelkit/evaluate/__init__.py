"""Honest evaluation: metrics with intervals, paired tests, slices/guardrails, drift, expectations,
sanity warnings (run-to-run comparison: labelkit.report.compare). Everything returns plain JSON-able dicts and lists."""
from labelkit.evaluate.drift import drift_table
from labelkit.evaluate.expectations import check_expectations, load_expectations
from labelkit.evaluate.guardrails import find_guardrail_failures
from labelkit.evaluate.metrics import classification_metrics
from labelkit.evaluate.sanity import too_good_to_be_true
from labelkit.evaluate.slices import slice_table
from labelkit.evaluate.systems import compare_systems
from labelkit.evaluate.uncertainty import bootstrap_ci, paired_test

__all__ = [
    "bootstrap_ci",
    "check_expectations",
    "classification_metrics",
    "compare_systems",
    "drift_table",
    "find_guardrail_failures",
    "load_expectations",
    "paired_test",
    "slice_table",
    "too_good_to_be_true",
]
