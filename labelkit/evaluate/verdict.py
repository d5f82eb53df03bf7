"""The build's verdict: one answer that never hides a failing slice.

"model better overall (+14.0 points), worse than the rules on country=FR (−30.0 pts) and
non_english=true (−14.5 pts)". It is made once from the typed results (the paired test, the failed
guardrails, the build's checks of itself) by `pipeline.summarize` (by `labelkit repair` for its repaired
model) and stored in metrics.json (``verdict``); the report, report.md, the CLI and ``build --json`` all
show that same record.

Overall, from the paired test (McNemar + paired bootstrap) of the model against the rules: *better*,
*worse*, or *unclear* (the test cannot tell; the reason says why, e.g. the test set is too small).
Every failed guardrail is named with its gap. An error-level check (the build fell back to a safe
choice) goes into the headline; warning-level checks are listed under it.
"""
from __future__ import annotations

from collections.abc import Sequence

from labelkit.results import BuildResults, Check, Guardrail, PairedTest, Systems, Verdict, VerdictSlice

MINUS = "\u2212"  # the typographic minus: "−30.0 pts"


def compute_verdict(systems: Systems, guardrails: Sequence[Guardrail] = (), checks: Sequence[Check] = ()) -> Verdict:
    """The verdict of a build from its systems (with the paired test), failed guardrails and checks."""
    paired = systems.paired_test
    baseline = paired.baseline if paired else systems.baseline
    model = paired.model if paired else systems.model
    failed = [VerdictSlice(slice=f"{g.column}={g.value}", size=g.size, gap=g.gap, clear=g.clear) for g in guardrails]
    errors = [_check_line(c) for c in checks if c.severity == "error"]
    warnings = [_check_line(c) for c in checks if c.severity == "warning"]
    overall, reason = _overall(paired)
    parts = [_overall_phrase(overall, paired, baseline, model, reason)]
    if failed:
        where = join_and([f"{s.slice} ({signed_points(s.gap, 'pts')})" for s in failed])
        rules = the(baseline)
        if overall == "better":
            parts[0] += f", worse than {rules} on {where}"
        elif overall == "worse":
            parts[0] += f" and on {where}"
        else:
            parts.append(f"{word(model)} worse than {rules} on {where}")
    if errors:
        parts.append("the build fell back: " + "; ".join(c.summary or c.message for c in checks if c.severity == "error"))
    severity = "error" if errors or overall == "worse" else "warning" if failed or warnings or overall != "better" else "ok"
    return Verdict(
        headline="; ".join(parts), overall=overall, severity=severity, baseline=baseline, model=model,
        difference=paired.accuracy_difference if paired else None,
        difference_ci=list(paired.accuracy_difference_ci) if paired else [],
        mcnemar_p=paired.mcnemar_p if paired else None, reason=reason, failed_guardrails=failed,
        errors=errors, warnings=warnings,
    )


def verdict_of(results: BuildResults) -> Verdict:
    """The results' verdict; made from them for a metrics.json written before verdicts existed."""
    if results.verdict is not None:
        return results.verdict
    return compute_verdict(results.systems, results.guardrails, results.checks)


def _overall(paired: PairedTest | None) -> tuple[str, str | None]:
    if paired is None:
        return "none", None
    text = paired.verdict
    if text.startswith("no significant difference"):
        reason = text[len("no significant difference"):].strip()
        if reason.startswith("(") and reason.endswith(")"):
            reason = reason[1:-1]
        return "unclear", reason or f"{format_p(paired.mcnemar_p)} at n={paired.n}"
    return ("better" if paired.accuracy_difference > 0 else "worse"), None


def _overall_phrase(overall: str, paired: PairedTest | None, baseline: str, model: str, reason: str | None) -> str:
    if paired is None:
        return f"no verdict: {word(model)} and {the(baseline)} were not both scored on the gold test rows"
    diff = signed_points(paired.accuracy_difference, "points")
    if overall == "better":
        return f"{word(model)} better overall ({diff})"
    if overall == "worse":
        return f"{word(model)} worse than {the(baseline)} overall ({diff})"
    return f"the paired test cannot tell {word(model)} from {the(baseline)} overall ({diff}; {reason})"


def _check_line(check: Check) -> str:
    line = check.message
    if check.action:
        line += f" ({check.action})"
    return line


def word(name: str) -> str:
    """How a system is named in a sentence: end_model -> 'model', label_model -> 'label model'."""
    return {"end_model": "model", "label_model": "label model", "rule_baseline": "rules"}.get(name, name)


def the(name: str) -> str:
    return "the rules" if name == "rule_baseline" else word(name)


def signed_points(value: float | None, unit: str = "pts") -> str:
    """0.14 -> '+14.0 points'; -0.3 -> '−30.0 pts' (typographic minus); None -> '–'."""
    if value is None:
        return "–"
    rounded = round(100 * float(value), 1)
    return f"{MINUS if rounded < 0 else '+'}{abs(rounded):.1f} {unit}".rstrip()


def join_and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def format_p(p: float | None) -> str:
    """The one p-value formatter (report, report.md, CLI): 'p < 0.001', 'p = 0.034', 'p = –'."""
    value = p_value(p)
    return f"p {value}" if value.startswith("<") else f"p = {value}"


def p_value(p: float | None) -> str:
    """A p-value for a table cell: '< 0.001', '0.034' (three decimals), '–'."""
    if p is None or p != p:
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
