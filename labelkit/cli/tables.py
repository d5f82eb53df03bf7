"""Plain-text tables for the terminal (stdout). Reports for files live in labelkit/report/."""
from __future__ import annotations

from labelkit.io.display import interval_text


def _pct(value) -> str:
    return "—" if value is None else f"{100 * float(value):5.1f}%"


def _p(value: float) -> str:
    from labelkit.evaluate.verdict import format_p

    return format_p(value)  # the report's formatter: 'p < 0.001', 'p = 0.034'


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def headline_table(results) -> str:
    """The build's headline for the terminal; `results`: labelkit.results.BuildResults."""
    block = results.systems
    rows = []
    for name, entry in block.systems.items():
        positive = [_pct(entry.positive_class.f1 if entry.positive_class else None)] if block.positive_class else []
        only = entry.predicts_only
        rows.append([name, _pct(entry.accuracy), interval_text(entry.accuracy_ci), _pct(entry.macro_f1),
                     interval_text(entry.macro_f1_ci)] + positive
                    + [_pct(entry.coverage) if entry.coverage is not None else "",
                       f"predicts only {only!r}" if only is not None else ""])
    text = f"test set: {block.n} gold rows, 95% bootstrap intervals\n"
    gold = results.gold_rows
    if gold:
        text += "gold rows scored: " + ", ".join(f"{s} {g.scored} of {g.given}" for s, g in gold.items())
        text += "".join(f"; {n} {s} left out ({r})" for s, g in gold.items() for r, n in g.left_out.items())
        text += "\n"
    positive = [f"F1 {block.positive_class!r}"] if block.positive_class else []
    text += _table(["system", "accuracy", "95% CI", "macro-F1", "95% CI"] + positive + ["coverage", "note"], rows)
    paired = block.paired_test
    if paired:
        text += (f"\n{paired.model} vs {paired.baseline}: {paired.verdict} "
                 f"(accuracy difference {100 * paired.accuracy_difference:+.1f} points, "
                 f"95% CI {interval_text(paired.accuracy_difference_ci)}, McNemar {_p(paired.mcnemar_p)})")
    info = results.label_models
    if info is not None and info.chosen:
        scores = ", ".join(f"{k} {_pct(v).strip() if v == v else 'skipped'}" for k, v in info.dev_scores.items())
        metric = info.metric + (f" of {info.positive_class!r}" if info.metric == "f1" else "")
        text += f"\nlabel model: {info.candidate or info.chosen} (dev {metric}: {scores})"
        text += "".join(f"\nlabel model note: {note}" for note in info.notes)
    return text


def checks_text(results) -> str:
    """The build's checks of itself that found something, most severe first: what the CLI summary opens
    with ('' when every check passed; metrics.json 'checks' holds them all, with their evidence)."""
    lines = []
    for check in results.checks:
        if check.severity in ("error", "warning"):
            lines.append(f"check {check.severity} ({check.name}): {check.message}")
            if check.action:
                lines.append(f"  done: {check.action}")
    return "\n".join(lines)


def verdict_text(results) -> str:
    """The verdict for the terminal: 'verdict: …' and one indented line per check the build raised."""
    from labelkit.evaluate.verdict import verdict_of

    verdict = verdict_of(results)
    lines = [f"verdict: {verdict.headline}"]
    lines += [f"  the build fell back: {e}" for e in verdict.errors]
    lines += [f"  check: {w}" for w in verdict.warnings]
    return "\n".join(lines)


def build_json(results, *, out, failed_checks) -> dict:
    """What `labelkit build --json` prints: the verdict and the headline sections of the results, as in
    metrics.json."""
    from labelkit.evaluate.verdict import verdict_of

    return {"out": str(out), "verdict": verdict_of(results).to_json(), "checks": [c.to_json() for c in results.checks],
            "systems": results.systems.to_json(),
            "guardrails": [g.to_json() for g in results.guardrails],
            "gold_rows": {split: g.to_json() for split, g in results.gold_rows.items()},
            "failed_checks": list(failed_checks)}


def lf_table(report: dict) -> str:
    rows = []
    for lf in report["lf_summary"]:
        rows.append([lf["name"], lf["kind"], ",".join(lf["polarity"]) or "—", _pct(lf["coverage"]),
                     _pct(lf["overlaps"]), _pct(lf["conflicts"]), _pct(lf["dev_accuracy"]), str(lf["dev_n"])])
    stats = report["label_matrix"]["train"]
    head = (f"{report['task']}: {len(report['lf_summary'])} LFs on {stats['rows']} train rows; "
            f"{_pct(stats['covered']).strip()} of rows get at least one vote, {stats['all_abstain_rows']} get none.\n")
    errors = report.get("lf_errors") or {}
    tail = "".join(f"\nLF {name} raised on {count} row(s) (counted as abstains)" for name, count in errors.items())
    return head + _table(["LF", "kind", "polarity", "coverage", "overlaps", "conflicts", "dev acc", "dev n"], rows) + tail


def lf_examples_text(report: dict) -> str:
    lines = []
    for name, entry in report["examples"].items():
        lines.append(f"\n{name}")
        for kind, label in (("fires", "fires"), ("wrong_on_dev", "wrong on dev"), ("conflicts", "conflicts")):
            for example in entry.get(kind, []):
                extra = f" (gold {example['gold']})" if "gold" in example else ""
                if "others" in example:
                    extra = "; other votes: " + ", ".join(f"{k}={v}" for k, v in example["others"].items())
                lines.append(f"  {label:12} → {example['vote']}{extra}: [{example['row_id']}] {example.get('text', '')[:100]}")
    return "\n".join(lines)


def audit_text(report: dict) -> str:
    rows = [[r["reason"], r["split"], str(r["count"])] for r in report["summary"]]
    text = _table(["reason", "split", "rows"], rows) if rows else "no findings"
    acc = [[split, str(v["rows_in"]), str(v["kept"]), str(v["quarantined"]), str(v.get("flagged", 0))]
           for split, v in report["accounting"].items()]
    text += "\n\n" + _table(["split", "rows in", "kept", "quarantined", "flagged"], acc)
    gold = [f"{split} {v['kept']} of {v['rows_in']}" for split, v in report["accounting"].items() if split in ("dev", "test")]
    if gold:
        text += "\ngold rows kept: " + ", ".join(gold)
    for warning in report.get("warnings", []):
        text += f"\nwarning: {warning}"
    return text + f"\ncleaned splits and quarantine.csv: {report['out']}"


def compare_text(result, *, flips: int = 10) -> str:
    """`labelkit compare` for the terminal; `result`: labelkit.report.compare.RunComparison."""
    from labelkit.evaluate.verdict import p_value

    rows = []
    for name, d in result.systems.items():
        acc, f1 = d.accuracy, d.macro_f1
        rows.append([name, _pct(acc.a), _pct(acc.b), f"{100 * acc.delta:+.1f}", interval_text(acc.delta_ci),
                     f"{100 * f1.delta:+.1f}", str(d.improved), str(d.regressed), p_value(d.mcnemar_p)])
    text = f"A = {result.run_a}\nB = {result.run_b}\nsame test data: {result.n} rows (sha256 {result.test_sha256[:12]})\n"
    text += _table(["system", "acc A", "acc B", "Δ acc", "95% CI", "Δ macro-F1", "improved", "regressed", "McNemar p"], rows)
    slices = [s for s in result.slices if s.delta]
    if slices:
        key = "end_model" if "end_model" in result.systems else next(iter(result.systems), None)
        worst = sorted(slices, key=lambda s: s.delta.get(key, 0))[:5]
        text += f"\n\nlargest {key} slice drops (B - A):\n"
        text += _table(["slice", "size", "Δ"], [[f"{s.column}={s.value}", str(s.size),
                                                 f"{100 * s.delta.get(key, 0):+.1f}"] for s in worst])
    system = "end_model" if "end_model" in result.flipped else next(iter(result.flipped), None)
    if system:
        flipped = result.flipped[system]
        text += f"\n\n{system}: {flipped.total} test rows changed prediction"
        for row in flipped.rows[:flips]:
            text += f"\n  {row.change:9} [{row.row_id}] gold {row.gold}: {row.a} → {row.b}  {row.text[:90]}"
    return text
