"""The build's verdict (labelkit/evaluate/verdict.py): one answer that names every failed guardrail, says
when the paired test cannot tell or the model is worse than the rules, carries the build's error-level
checks of itself, and is the same record in metrics.json, report.html, report.md, the CLI and --json."""
import json
import re

from click.testing import CliRunner
from conftest import FAST_BUILD

from labelkit.cli.tables import build_json, verdict_text
from labelkit.evaluate.verdict import compute_verdict, format_p, p_value, verdict_of
from labelkit.report import render_html, render_markdown
from labelkit.results import BuildResults, Check, Guardrail, PairedTest, SystemScores, Systems, TaskInfo

CLASSES = ["billing", "connectivity"]


def systems(difference=0.14, ci=(0.11, 0.17), p=1e-9, verdict="model better", model="end_model"):
    paired = PairedTest(baseline="rule_baseline", model=model, n=990, only_baseline_correct=59,
                        only_model_correct=198, accuracy_difference=difference, accuracy_difference_ci=list(ci),
                        mcnemar_p=p, verdict=verdict)
    scores = {name: SystemScores(n=990, accuracy=acc, macro_f1=acc) for name, acc in
              (("rule_baseline", 0.648), (model, 0.648 + difference))}
    return Systems(n=990, classes=CLASSES, systems=scores, model=model, paired_test=paired)


def guardrail(column, value, gap, clear=None):
    return Guardrail(column=column, value=value, size=80, baseline="rule_baseline", model="end_model",
                     baseline_score=0.875, model_score=0.875 + gap, gap=gap, clear=clear)


FR = guardrail("country", "FR", -0.30, clear=True)
NON_ENGLISH = guardrail("non_english", "true", -0.145)
FELL_BACK = Check(name="dev_votes_vs_gold", severity="error", subject="label_model",
                  message="the label model scored below the rules on dev", action="used the rules' majority vote")
SHARES = Check(name="class_shares", severity="warning", message="the model predicts 'other' twice as often as dev has it")
INFO = Check(name="lf_dev_vs_train", severity="info", message="kw_billing fires as often on dev as on train")


def test_headline_names_every_failed_guardrail_and_an_error_level_check():
    verdict = compute_verdict(systems(), [FR, NON_ENGLISH], [FELL_BACK, SHARES, INFO])
    assert verdict.headline == (
        "model better overall (+14.0 points), worse than the rules on country=FR (−30.0 pts) and "
        "non_english=true (−14.5 pts); the build fell back: the label model scored below the rules on dev")
    assert verdict.overall == "better" and verdict.severity == "error"
    assert [s.slice for s in verdict.failed_guardrails] == ["country=FR", "non_english=true"]
    assert verdict.failed_guardrails[0].gap == -0.30 and verdict.failed_guardrails[0].clear is True
    assert verdict.errors == ["the label model scored below the rules on dev (used the rules' majority vote)"]
    assert verdict.warnings == ["the model predicts 'other' twice as often as dev has it"]  # info stays out


def test_no_failed_guardrail_means_no_slice_in_the_headline():
    verdict = compute_verdict(systems(), [], [])
    assert verdict.headline == "model better overall (+14.0 points)"
    assert "worse than the rules on" not in verdict.headline
    assert verdict.severity == "ok" and verdict.failed_guardrails == [] and verdict.errors == []
    assert compute_verdict(systems(), [], [SHARES]).severity == "warning"  # a warning is not "all clear"


def test_the_paired_test_that_cannot_tell_and_a_model_worse_than_the_rules():
    unclear = compute_verdict(systems(0.02, (-0.01, 0.05), 0.2,
                                      "no significant difference (test set too small to tell: n=990, needs ~4100)"),
                              [FR])
    assert unclear.overall == "unclear" and unclear.severity == "warning"
    assert unclear.headline == ("the paired test cannot tell model from the rules overall (+2.0 points; test set "
                                "too small to tell: n=990, needs ~4100); model worse than the rules on country=FR "
                                "(−30.0 pts)")
    worse = compute_verdict(systems(-0.05, (-0.08, -0.02), 0.001, "baseline better"), [])
    assert worse.overall == "worse" and worse.severity == "error"
    assert worse.headline == "model worse than the rules overall (−5.0 points)"
    both = compute_verdict(systems(-0.05, (-0.08, -0.02), 0.001, "baseline better"), [FR, NON_ENGLISH])
    assert both.headline == ("model worse than the rules overall (−5.0 points) and on country=FR (−30.0 pts) and "
                             "non_english=true (−14.5 pts)")
    label_model = compute_verdict(systems(model="label_model"), [])
    assert label_model.headline == "label model better overall (+14.0 points)"


def test_one_p_value_formatter():
    assert [format_p(p) for p in (0.0, 0.0004, 0.0342, 1.0, None)] == [
        "p < 0.001", "p < 0.001", "p = 0.034", "p = 1.000", "p = –"]
    assert p_value(0.0) == "< 0.001" and p_value(0.5) == "0.500"


def results_with(verdict=True, checks=(FELL_BACK, SHARES)):
    results = BuildResults(task=TaskInfo(name="tickets", classes=CLASSES, rows={"test": 990}), systems=systems(),
                           guardrails=[FR, NON_ENGLISH], checks=list(checks))
    if verdict:
        results.verdict = compute_verdict(results.systems, results.guardrails, results.checks)
    return results


def test_the_same_verdict_in_metrics_json_the_report_the_cli_and_json(tmp_path):
    results = results_with()
    headline = results.verdict.headline
    data = results.to_json()
    assert list(data)[:4] == ["schema_version", "task", "verdict", "checks"]
    again = BuildResults.from_json(json.loads(json.dumps(data)))
    assert again == results and again.verdict.headline == headline
    old = {k: v for k, v in data.items() if k != "verdict"}  # a metrics.json from before verdicts
    assert verdict_of(BuildResults.from_json(old)) == results.verdict

    page = render_html(results, plots=False)
    body = page.split("<body>", 1)[1]
    first = re.search(r'<p class="verdict verdict-error"><b>Verdict:</b> ([^<]*)</p>', body)
    assert first and body.index(first.group(0)) < body.index("<nav>") and body.index("<h1>") < body.index(first.group(0))
    assert first.group(1) == ("Model better overall (+14.0 points), worse than the rules on country=FR (−30.0 pts) "
                              "and non_english=true (−14.5 pts); the build fell back: the label model scored below "
                              "the rules on dev")
    assert "<li>The build fell back: the label model scored below the rules on dev (used the rules&#x27; majority " \
           "vote)</li>" in page
    assert '<ul class="warning"><li>the model predicts &#x27;other&#x27; twice as often as dev has it</li></ul>' in page
    checks = page.split('<section id="checks">', 1)[1]  # every check, info too, in its own section
    assert checks.count("<tr") == 3 and '<tr class="flag"><td>error</td><td>dev_votes_vs_gold</td>' in checks

    text = render_markdown(results)
    assert text.splitlines()[2] == (
        "> ✗ **Verdict: Model better overall (+14.0 points), worse than the rules on country=FR (−30.0 pts) and "
        "non\\_english=true (−14.5 pts); the build fell back: the label model scored below the rules on dev**")
    assert "- ⚠ the model predicts 'other' twice as often as dev has it" in text

    assert verdict_text(results).splitlines() == [
        f"verdict: {headline}",
        "  the build fell back: the label model scored below the rules on dev (used the rules' majority vote)",
        "  check: the model predicts 'other' twice as often as dev has it"]
    printed = build_json(results, out=tmp_path, failed_checks=[])
    assert printed["verdict"] == data["verdict"] and list(printed)[:2] == ["out", "verdict"]


def test_a_build_stores_its_verdict_and_prints_it(task, tmp_path):
    """Through the pipeline: metrics.json carries the verdict the pipeline made, `--json` prints that
    record, report.md opens with it and the CLI summary ends with it."""
    from labelkit.cli.main import cli
    from labelkit.results import load_results

    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["build", str(task), "--out", str(out), "-q", "--no-audit", *FAST_BUILD])
    assert result.exit_code == 0, result.output
    stored = json.loads((out / "metrics.json").read_text())
    verdict = stored["verdict"]
    assert list(stored)[:3] == ["schema_version", "task", "verdict"] and verdict["headline"]
    assert result.output.splitlines()[-2] == f"verdict: {verdict['headline']}"
    for g in stored["guardrails"]:
        assert f"{g['column']}={g['value']}" in verdict["headline"]
    if not stored["guardrails"]:
        assert "worse than the rules on" not in verdict["headline"]
    assert build_json(load_results(out), out=out, failed_checks=[])["verdict"] == verdict
    lines = (out / "report.md").read_text(encoding="utf-8").splitlines()
    assert lines[2].startswith("> ") and "**Verdict: " in lines[2]
