"""BuildResults (metrics.json) -> list of Sections, one builder per section; a section the build
skipped (None or empty) is left out."""
from __future__ import annotations

from labelkit.report.document import (
    MAX_EXAMPLE_ROWS,
    MAX_SLICE_ROWS,
    Figure,
    Section,
    Table,
    Text,
    interval,
    number,
    pct,
    points,
    short,
)
from labelkit.results import BuildResults


def as_results(results) -> BuildResults:
    return results if isinstance(results, BuildResults) else BuildResults.from_json(results, source="metrics.json")


def build_sections(results: BuildResults, examples: dict | None = None) -> list[Section]:
    builders = (
        _headline, _warnings, _per_class, _confusion, _slices, _lf_summary, _label_model,
        _drift, _audit, _expectations, _examples, _manifest,
    )
    sections = []
    for builder in builders:
        section = builder(results, examples or {})
        if section is not None and section.blocks:
            sections.append(section)
    return sections


def report_title(results: BuildResults) -> str:
    return f"labelkit report: {results.task.name}" if results.task.name else "labelkit report"


def task_line(results: BuildResults) -> str | None:
    task = results.task
    parts = []
    if task.classes:
        parts.append(f"classes: {', '.join(map(str, task.classes))}")
    given = task.rows_before_audit
    if task.rows:
        parts.append("rows: " + ", ".join(
            f"{split} {count:,}" + (f" of {given[split]:,} given" if given.get(split, count) != count else "")
            for split, count in task.rows.items()))
    return "; ".join(parts) or None


def gold_rows_line(results: BuildResults) -> str | None:
    """'Gold rows scored: test 250 of 250, dev 120 of 120.' plus why any were left out."""
    if not results.gold_rows:
        return None
    parts, why = [], []
    for split, g in results.gold_rows.items():
        parts.append(f"{split} {g.scored:,} of {g.given:,}")
        why += [f"{n} {split} row(s): {reason}" for reason, n in g.left_out.items()]
    text = "Gold rows scored: " + ", ".join(parts) + "."
    if why:
        text += (" Left out by the audit: " + "; ".join(why) + ". Scores on every given test row are in the audit's "
                 "before/after table.")
    return text


def _headline(results: BuildResults, _examples) -> Section:
    comparison = results.systems
    systems = comparison.systems
    section = Section("headline", "Headline: baseline vs model on the test set")
    line = task_line(results)
    if line:
        section.blocks.append(Text(line, "muted"))
    gold = gold_rows_line(results)
    if gold:
        section.blocks.append(Text(gold, "warning" if "left out" in gold else "muted"))
    if not systems:
        section.blocks.append(Text("No system was evaluated.", "warning"))
        return section
    paired = comparison.paired_test
    if paired:
        section.blocks.append(Text(f"Verdict: {paired.verdict}", "verdict"))
        section.blocks.append(Text(_paired_sentence(paired), "normal"))
    positive = comparison.positive_class
    rows = [
        [name, pct(m.accuracy), interval(m.accuracy_ci), pct(m.macro_f1), interval(m.macro_f1_ci)]
        + ([pct(m.positive_class.f1 if m.positive_class else None)] if positive else [])
        + [pct(m.balanced_accuracy), pct(m.coverage) if m.coverage is not None else "–", str(m.n),
           single_class_note(m)]
        for name, m in systems.items()
    ]
    confidence = int(round(100 * comparison.confidence))
    section.blocks.append(Table(
        ["system", "accuracy", f"{confidence}% CI", "macro F1", f"{confidence}% CI"]
        + ([f"F1 of {positive!r}"] if positive else []) + ["balanced accuracy", "coverage", "n", "note"], rows,
        caption=f"Intervals: percentile bootstrap, {comparison.n_boot or '?'} resamples, "
                f"seed {'?' if comparison.seed is None else comparison.seed}. Coverage: share of test rows the "
                "system voted on before the abstain policy.",
    ))
    section.blocks.append(Figure("headline", {"systems": systems}, "Accuracy and macro F1 per system with intervals"))
    if results.policy:
        section.blocks.append(Text(f"Policy: {results.policy}", "muted"))
    return section


def single_class_note(entry) -> str:
    """"predicts only 'ham'" for a system whose test predictions are all one class, plus any note."""
    only = f"predicts only {entry.predicts_only!r}" if entry.predicts_only is not None else ""
    return "; ".join(filter(None, [only, entry.note or ""]))


def _paired_sentence(paired) -> str:
    low, high = (list(paired.accuracy_difference_ci) + [None, None])[:2]
    return (
        f"{paired.model} minus {paired.baseline}: {points(paired.accuracy_difference)} accuracy "
        f"(95% paired-bootstrap CI {points(low)} to {points(high)}); McNemar exact p = "
        f"{paired.mcnemar_p:.3g} on {paired.n} rows "
        f"({paired.only_model_correct} rows only the model gets right, "
        f"{paired.only_baseline_correct} only the baseline)."
    )


def _warnings(results: BuildResults, _examples) -> Section | None:
    if not results.warnings:
        return None
    return Section("warnings", "Warnings", [Text(str(w), "warning") for w in results.warnings])


def _per_class(results: BuildResults, _examples) -> Section | None:
    systems, classes = results.systems.systems, results.systems.classes
    if not systems or not classes:
        return None
    headers = ["class", "support"] + [f"{name} F1 (P / R)" for name in systems]
    first = next(iter(systems.values()))
    rows = []
    for cls in classes:
        support = first.per_class.get(cls)
        row = [cls, str(support.support) if support else ""]
        for m in systems.values():
            c = m.per_class.get(cls)
            row.append(f"{pct(c and c.f1)} ({pct(c and c.precision)} / {pct(c and c.recall)})")
        rows.append(row)
    return Section("per_class", "Per-class scores", [Table(headers, rows)])


CONFUSION_SYSTEMS = ("rule_baseline", "label_model", "end_model")


def _confusion(results: BuildResults, _examples) -> Section | None:
    classes = results.systems.classes
    section = Section("confusion", "Confusion matrices (rows: gold, columns: predicted)")
    matrices = {name: m.confusion for name, m in results.systems.systems.items() if m.confusion}
    key = {name: matrices[name] for name in CONFUSION_SYSTEMS if name in matrices}
    matrices = key or matrices  # the trivial baselines' matrices say nothing new
    if matrices:
        section.blocks.append(Figure("confusion", {"classes": classes, "matrices": matrices},
                                     "Confusion matrix per system"))
    for name, matrix in matrices.items():
        rows = [[f"gold {cls}"] + [str(v) for v in matrix[i]] for i, cls in enumerate(classes)]
        section.blocks.append(Table(["", *classes], rows, caption=name))
    return section


def _slices(results: BuildResults, _examples) -> Section | None:
    slices, guardrails = results.slices, results.guardrails
    if not slices and not guardrails:
        return None
    section = Section("slices", "Slices and guardrails")
    baseline, model = results.systems.baseline, results.systems.model
    if guardrails:
        section.blocks.append(Text(
            f"{len(guardrails)} slice(s) where {model} is worse than {baseline} beyond the tolerance:", "warning"))
        section.blocks.append(Table(
            ["slice", "n", baseline, model, "gap", "intervals separate"],
            [[f"{g.column} = {g.value}", str(g.size), pct(g.baseline_score), pct(g.model_score), points(g.gap),
              {True: "yes", False: "no"}.get(g.clear, "–")] for g in guardrails],
            flagged=[True] * len(guardrails),
        ))
    elif slices:
        section.blocks.append(Text(f"No guardrail failures: {model} is not worse than {baseline} on any slice.",
                                   "verdict"))
    if slices:
        flagged_keys = {(g.column, g.value) for g in guardrails}
        systems = list(slices[0].scores)
        metric = slices[0].metric
        section.blocks.append(Figure("slices", {"slices": slices[:MAX_SLICE_ROWS], "flagged": sorted(flagged_keys),
                                                "baseline": baseline, "model": model, "metric": metric},
                                     f"{metric} per slice"))
        shown = slices[:MAX_SLICE_ROWS]
        section.blocks.append(Table(
            ["slice", "source", "n", *[f"{s} {metric}" for s in systems]],
            [[f"{s.column} = {s.value}", s.kind, str(s.size)]
             + [f"{pct(s.scores.get(name))} {interval(s.ci.get(name))}" for name in systems]
             for s in shown],
            flagged=[(s.column, s.value) in flagged_keys for s in shown],
            caption="" if len(slices) <= MAX_SLICE_ROWS else f"First {MAX_SLICE_ROWS} of {len(slices)} slices.",
        ))
    return section


def _lf_summary(results: BuildResults, _examples) -> Section | None:
    lfs = results.lf_summary
    if not lfs:
        return None
    rows = [
        [lf.name, ", ".join(map(str, lf.polarity)), pct(lf.coverage), pct(lf.overlaps), pct(lf.conflicts),
         pct(lf.dev_accuracy), "–" if lf.dev_n is None else str(lf.dev_n)]
        for lf in lfs
    ]
    return Section("lf_summary", "Labeling functions", [
        Figure("lfs", {"lfs": lfs}, "Coverage and dev accuracy per labeling function"),
        Table(["LF", "votes for", "coverage", "overlaps", "conflicts", "dev accuracy", "dev n"], rows),
    ])


def _label_model(results: BuildResults, _examples) -> Section | None:
    info = results.label_models
    if info is None:
        return None
    section = Section("label_model", "Label model")
    if info.chosen:
        section.blocks.append(Text(f"Chosen on dev: {info.candidate or info.chosen}", "verdict"))
    metric = info.metric + (f" of {info.positive_class!r}" if info.metric == "f1" else "")
    if info.candidates:
        section.blocks.append(Table(
            ["candidate", "class balance", f"dev {metric}", "95% interval", "note"],
            [[c.key + (" (chosen)" if c.key == info.candidate else ""), str(c.class_balance),
              pct(c.dev_score) if c.dev_score is not None and c.dev_score == c.dev_score else "skipped",
              interval(c.dev_interval),
              "; ".join(filter(None, [
                  f"predicts only {c.predicts_only!r}" if c.predicts_only is not None else "",
                  "cross-fitted on dev" if c.cross_fitted else "", c.error or ""]))]
             for c in info.candidates],
            caption="Every candidate is fitted on the train votes and scored on the gold dev split; models that "
                    "learn from dev are scored on dev folds they did not see. Intervals: bootstrap over dev rows."))
        section.blocks += [Text(note, "muted") for note in info.notes]
    elif info.dev_scores:
        section.blocks.append(Table(["label model", "dev score"],
                                    [[f"{name} (chosen)" if name == info.chosen else name, number(score)]
                                     for name, score in info.dev_scores.items()]))
    calibration = info.calibration
    if calibration and calibration.confidence:
        section.blocks.append(Figure("calibration", calibration, "Calibration of the label model"))
        section.blocks.append(Table(
            ["bin", "mean confidence", "accuracy", "rows"],
            [[str(b), pct(c), pct(a), str(n)] for b, c, a, n in zip(
                _bin_labels(calibration), calibration.confidence, calibration.accuracy, calibration.count)],
        ))
    return section


def _bin_labels(calibration) -> list[str]:
    bins, n = calibration.bins, len(calibration.confidence)
    if len(bins) == n + 1:
        return [f"{bins[i]:.2f}–{bins[i + 1]:.2f}" for i in range(len(bins) - 1)]
    return [number(b) for b in bins] or [str(i) for i in range(n)]


def _drift(results: BuildResults, _examples) -> Section | None:
    drift = results.drift
    if drift is None or not drift.periods:
        return None
    periods = drift.periods
    systems = list(periods[0].systems)
    section = Section("drift", f"Drift over {drift.time_column}")
    first, last = drift.drop_periods or [periods[0].period, periods[-1].period]
    if drift.drop is not None:
        style = "warning" if drift.drop > 0.05 else "muted"
        section.blocks.append(Text(
            f"{drift.model} accuracy changed by {points(-drift.drop)} from the first period "
            f"({first}) to the last ({last}).", style))
    section.blocks.append(Figure("drift", drift, "Accuracy per period"))
    section.blocks.append(Table(
        ["period", "n", *[f"{s} accuracy" for s in systems]],
        [[p.period, str(p.n), *[pct(p.systems[s].accuracy) for s in systems]] for p in periods],
    ))
    if drift.n_missing_time:
        section.blocks.append(Text(f"{drift.n_missing_time} test rows had no usable timestamp and are left out.", "muted"))
    if drift.unparseable_time:
        section.blocks.append(Text(drift.unparseable_time, "warning"))
    section.blocks += _holdout(drift.temporal_holdout)
    return section


def _holdout(holdout) -> list[Text]:
    if holdout is None:
        return []
    note = [Text(holdout.note, "muted")] if holdout.note else []
    if holdout.skipped:
        return [Text(holdout.skipped[:1].upper() + holdout.skipped[1:], "muted"), *note]
    if not holdout.accuracy:
        return note
    acc = holdout.accuracy
    return [Text(
        f"Temporal holdout on the newest period ({holdout.period}, {holdout.test_rows} test rows): an end "
        f"model trained only on the {holdout.train_rows_before} older train rows scores "
        f"{pct(acc['end_model_trained_on_older_data'])}, the full end model {pct(acc['end_model'])}, the rules "
        f"{pct(acc['rule_baseline'])}. The first number is the honest estimate for next period's data.",
        "warning" if acc["end_model_trained_on_older_data"] < acc["rule_baseline"] else "muted"), *note]


def _audit(results: BuildResults, _examples) -> Section | None:
    audit = results.audit
    if audit is None:
        return None
    section = Section("audit", "Data-quality audit")
    if audit.accounting:
        section.blocks.append(Table(
            ["split", "rows in", "kept", "quarantined", "flagged"],
            [[split, *(number(v) for v in (a.rows_in, a.kept, a.quarantined, a.flagged))]
             for split, a in audit.accounting.items()],
            caption="Row accounting: rows in = kept + quarantined.",
        ))
    if audit.summary:
        section.blocks.append(Table(["reason", "split", "rows"],
                                    [[s.reason, s.split, number(s.count)] for s in audit.summary]))
    before_after = audit.before_after
    if before_after.systems:
        section.blocks.append(Table(
            ["system", "accuracy before cleaning", "after", "change"],
            [[name, pct(v.before), pct(v.after),
              points(v.after - v.before) if v.after is not None and v.before is not None else "–"]
             for name, v in before_after.systems.items()],
            caption=before_after.note or "",
        ))
    elif before_after.note:
        section.blocks.append(Text(before_after.note, "muted"))
    if audit.examples:
        found = audit.examples
        section.blocks.append(Table(
            ["reason", "split", "row", "text", "evidence"],
            [[e.reason, e.split, e.row_id, short(e.text), short(e.evidence, 160)] for e in found[:MAX_EXAMPLE_ROWS]],
            caption=f"Examples ({min(len(found), MAX_EXAMPLE_ROWS)} of {len(found)}).",
        ))
    return section


def _expectations(results: BuildResults, _examples) -> Section | None:
    outcome = results.expectations
    if not outcome:
        return None
    section = Section("expectations", "Expectations")
    section.blocks.append(Table(
        ["system", "passed", "failed", "total"],
        [[name, str(r.passed), str(r.failed), str(r.total)] for name, r in outcome.items()],
        flagged=[bool(r.failed) for r in outcome.values()],
    ))
    failures = [(name, f) for name, r in outcome.items() for f in r.failures]
    if failures:
        section.blocks.append(Table(
            ["system", "row", "text", "wanted", "got"],
            [[name, str(f.row), short(f.text),
              f"= {f.expected}" if f.expected is not None else f"≠ {f.not_expected}", str(f.got)]
             for name, f in failures[:MAX_EXAMPLE_ROWS * 2]],
            flagged=[True] * min(len(failures), MAX_EXAMPLE_ROWS * 2),
        ))
    return section


def _examples(_metrics, examples) -> Section | None:
    if not examples:
        return None
    section = Section("examples", "Example rows")
    for key, value in examples.items():
        if key == "lf_examples" and isinstance(value, dict):
            for lf, kinds in value.items():
                for kind, rows in (kinds or {}).items():
                    if rows:
                        section.blocks.append(_rows_table(rows, caption=f"{lf}: {kind}"))
        elif isinstance(value, list) and value:
            section.blocks.append(_rows_table(value, caption=str(key)))
    return section


def _rows_table(rows: list, *, caption: str) -> Table:
    rows = rows[:MAX_EXAMPLE_ROWS]
    if all(isinstance(r, dict) for r in rows):
        headers = []
        for r in rows:
            headers += [k for k in r if k not in headers]
        return Table(headers, [[short(r.get(h, "")) for h in headers] for r in rows], caption=caption)
    return Table(["text"], [[short(r)] for r in rows], caption=caption)


def _manifest(results: BuildResults, _examples) -> Section | None:
    if results.manifest is None:
        return None
    rows = [[str(key), short(_flat(value), 200)] for key, value in results.manifest.to_json().items()]
    return Section("manifest", "Reproducibility", [Table(["item", "value"], rows)])


def _flat(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(_flat, value))
    return str(value)
