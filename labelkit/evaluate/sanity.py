"""Too good to be true: warnings for scores that usually mean leakage or a broken test set."""
from __future__ import annotations

SMALL_TEST_SET = 100


def too_good_to_be_true(
    system_metrics: dict,
    *,
    leakage_findings_count: int = 0,
    near_perfect: float = 0.98,
    far_above: float = 0.15,
    baseline: str | None = None,
    model: str | None = None,
    small_test_set: int = SMALL_TEST_SET,
) -> list[str]:
    """Warnings (plain sentences) about suspiciously good results (and a test set under
    `small_test_set` rows).

    `system_metrics` is `compare_systems` output or a plain {system: {"accuracy": ..., "n": ...}}.
    """
    systems, baseline, model = _unwrap(system_metrics, baseline, model)
    warnings = []
    for name, metrics in systems.items():
        accuracy = metrics.get("accuracy")
        if accuracy is not None and accuracy >= near_perfect:
            warnings.append(
                f"{name} accuracy {accuracy:.3f} on {metrics.get('n', '?')} test rows is near-perfect; "
                "check for leakage (test rows or near-duplicates in train, features derived from the label) "
                "before trusting it."
            )
    if baseline in systems and model in systems:
        gain = systems[model].get("accuracy", 0.0) - systems[baseline].get("accuracy", 0.0)
        if gain > far_above:
            warnings.append(
                f"{model} beats {baseline} by {gain * 100:.1f} accuracy points (more than "
                f"{far_above * 100:.0f}); a gain that large from weak labels is unusual: check that gold "
                "test labels did not leak into the labeling functions or training data."
            )
    if leakage_findings_count > 0:
        warnings.append(
            f"The audit found {leakage_findings_count} leakage findings (test rows also in train/dev); "
            "test scores may be inflated until they are removed."
        )
    n = _test_size(systems)
    if n is not None and n < small_test_set:
        warnings.append(
            f"The test set has only {n} rows; intervals are wide and small differences between systems "
            "are not meaningful."
        )
    return warnings


def _unwrap(system_metrics: dict, baseline, model):
    if isinstance(system_metrics.get("systems"), dict):
        return (
            system_metrics["systems"],
            baseline or system_metrics.get("baseline", "rule_baseline"),
            model or system_metrics.get("model", "end_model"),
        )
    return system_metrics, baseline or "rule_baseline", model or "end_model"


def _test_size(systems: dict):
    sizes = [m.get("n") for m in systems.values() if isinstance(m.get("n"), int)]
    return max(sizes) if sizes else None
