"""BuildResults (metrics.json) -> list of Sections, one builder per section; a section the build
skipped (None or empty) is left out. The first section is the verdict (labelkit.evaluate.verdict)."""
from __future__ import annotations

from labelkit.io.display import interval_text
from labelkit.evaluate.verdict import format_p, signed_points, verdict_of
from labelkit.report.document import (
    EXAMPLE_TEXT,
    MAX_EXAMPLE_ROWS,
    MAX_SLICE_ROWS,
    Bullets,
    Figure,
    Section,
    Table,
    Text,
    number,
    pct,
    short,
)
from labelkit.results import BuildResults

KEY_SYSTEMS = ("rule_baseline", "label_model", "end_model")  # the systems the per-class, slice and drift tables show


def as_results(results) -> BuildResults:
    return results if isinstance(results, BuildResults) else BuildResults.from_json(results, source="metrics.json")


def build_sections(results: BuildResults, examples: dict | None = None) -> list[Section]:
    from labelkit.report.human import human_labels_section  # human-labelled rows, gold changes

    builders = (
        _verdict, _headline, human_labels_section, _warnings, _slices, _per_class, _confusion, _lf_summary, _label_model,
        _drift, _audit, _expectations, _examples, _checks, _manifest,
    )
    sections = []
    for builder in builders:
        section = builder(results, examples or {})
        if section is not None and section.blocks:
            sections.append(section)
    return sections


def report_title(results: BuildResults) -> str:
    return f"labelkit report: {results.task.name}" if results.task.name else "labelkit report"


def key_systems(results: BuildResults, names) -> list[str]:
    """The rules, the label model and the model among `names` (all of them when none is there)."""
    wanted = (*KEY_SYSTEMS, results.systems.model)
    return [n for n in names if n in wanted] or list(names)


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


def left_out_reasons(results: BuildResults) -> dict[str, dict[str, int]]:
    """Audit reason -> split -> gold rows it left out (a row can have several reasons), most rows first."""
    counts: dict[str, dict[str, int]] = {}
    for split, g in results.gold_rows.items():
        for combination, n in g.left_out.items():
            for reason in filter(None, str(combination).split(";")):
                by_split = counts.setdefault(reason, {})
                by_split[split] = by_split.get(split, 0) + n
    return dict(sorted(counts.items(), key=lambda item: (-sum(item[1].values()), item[0])))


def gold_rows_line(results: BuildResults) -> str | None:
    """'Gold rows scored: dev 497 of 500, test 990 of 1,000.' and, in a sentence, what the audit left out:
    its reasons inline when there are at most two, else a pointer to the audit's table of them."""
    if not results.gold_rows:
        return None
    parts = [f"{split} {g.scored:,} of {g.given:,}" for split, g in results.gold_rows.items()]
    text = "Gold rows scored: " + ", ".join(parts) + "."
    left = {split: g.given - g.scored for split, g in results.gold_rows.items() if g.left_out}
    if not left:
        return text
    rows = " and ".join(f"{n:,} {split}" for split, n in left.items())
    plural = "s" if sum(left.values()) != 1 else ""
    reasons = left_out_reasons(results)
    if len(reasons) <= 2:
        why = ", ".join(f"{reason}: {sum(c.values()):,}" if len(reasons) > 1 else reason for reason, c in reasons.items())
        text += f" The audit left out {rows} row{plural} ({why})."
    else:
        text += (f" The audit left out {rows} row{plural} for {len(reasons)} reasons (table under Data-quality "
                 "audit).")
    return text + " Scores on every given test row are in the audit's before/after table."


# ---------------------------------------------------------------- the verdict, first thing on the page

def _verdict(results: BuildResults, _examples) -> Section:
    verdict = verdict_of(results)
    section = Section("verdict", "Verdict")
    section.blocks.append(Text(verdict.headline[:1].upper() + verdict.headline[1:], f"verdict-{verdict.severity}",
                               label="Verdict:"))
    if verdict.errors:
        section.blocks.append(Bullets([f"The build fell back: {e}" for e in verdict.errors], "error"))
    if verdict.warnings:
        section.blocks.append(Bullets(verdict.warnings, "warning"))
    paired = results.systems.paired_test
    if paired:
        section.blocks.append(Text(_paired_sentence(paired), "muted"))
    return section


def _paired_sentence(paired) -> str:
    low, high = (list(paired.accuracy_difference_ci) + [None, None])[:2]
    return (
        f"{paired.model} minus {paired.baseline}: {signed_points(paired.accuracy_difference)} accuracy on "
        f"{paired.n:,} gold test rows (95% paired-bootstrap CI {signed_points(low, '')} to {signed_points(high)}; "
        f"McNemar exact {format_p(paired.mcnemar_p)}; {paired.only_model_correct} rows only the model gets right, "
        f"{paired.only_baseline_correct} only the baseline)."
    )


def _headline(results: BuildResults, _examples) -> Section:
    comparison = results.systems
    systems = comparison.systems
    section = Section("headline", "Every system on the gold test rows", nav="Systems")
    line = task_line(results)
    if line:
        section.blocks.append(Text(line, "muted"))
    gold = gold_rows_line(results)
    if gold:
        section.blocks.append(Text(gold, "muted"))
    if not systems:
        section.blocks.append(Text("No system was evaluated.", "warning"))
        return section
    positive = comparison.positive_class
    rows = [
        [name, pct(m.accuracy), interval_text(m.accuracy_ci), pct(m.macro_f1), interval_text(m.macro_f1_ci)]
        + ([pct(m.positive_class.f1 if m.positive_class else None)] if positive else [])
        + [pct(m.balanced_accuracy), pct(m.coverage) if m.coverage is not None else "–", f"{m.n:,}",
           single_class_note(m)]
        for name, m in systems.items()
    ]
    confidence = int(round(100 * comparison.confidence))
    headers = (["system", "accuracy", f"{confidence}% CI", "macro F1", f"{confidence}% CI"]
               + ([f"F1 of {positive!r}"] if positive else []) + ["balanced accuracy", "coverage", "n", "note"])
    section.blocks.append(Table(
        headers, rows, text_columns=(len(headers) - 1,),
        caption=f"Intervals: percentile bootstrap, {comparison.n_boot or '?'} resamples, "
                f"seed {'?' if comparison.seed is None else comparison.seed}. Coverage: share of test rows the "
                "system voted on before the abstain policy.",
    ))
    section.blocks.append(Figure("headline", {"systems": systems},
                                 "Accuracy and macro F1 per system with 95% intervals, in the table's order"))
    if results.policy:
        section.blocks.append(Text(f"Policy: {results.policy}", "muted"))
    return section


def single_class_note(entry) -> str:
    """"predicts only 'ham'" for a system whose test predictions are all one class, plus any note."""
    only = f"predicts only {entry.predicts_only!r}" if entry.predicts_only is not None else ""
    return "; ".join(filter(None, [only, entry.note or ""]))


def _warnings(results: BuildResults, _examples) -> Section | None:
    if not results.warnings:
        return None
    return Section("warnings", "Warnings", [Bullets([str(w) for w in results.warnings], "warning")])


def _per_class(results: BuildResults, _examples) -> Section | None:
    systems, classes = results.systems.systems, results.systems.classes
    if not systems or not classes:
        return None
    shown = key_systems(results, systems)
    first = next(iter(systems.values()))
    rows = []
    for cls in classes:
        support = first.per_class.get(cls)
        row = [cls, number(support.support) if support else ""]
        for name in shown:
            c = systems[name].per_class.get(cls)
            row += [pct(c and c.f1), f"{pct(c and c.precision)} / {pct(c and c.recall)}"]
        rows.append(row)
    headers = ["class", "support"] + [h for name in shown for h in (f"{name} F1", "P / R")]
    return Section("per_class", "Per-class scores", [Table(headers, rows, caption=(
        "F1, precision and recall per class on the gold test rows" + (
            "; every system's scores are in metrics.json." if len(shown) < len(systems) else "."))),
    ], nav="Per class")


def _confusion(results: BuildResults, _examples) -> Section | None:
    classes = results.systems.classes
    matrices = {name: m.confusion for name, m in results.systems.systems.items() if m.confusion}
    matrices = {name: matrices[name] for name in key_systems(results, matrices)}  # the trivial ones say nothing new
    if not matrices:
        return None
    tables = [Table([f"{name}: gold \\ predicted", *classes],
                    [[cls] + [number(v) for v in matrix[i]] for i, cls in enumerate(classes)])
              for name, matrix in matrices.items()]
    return Section("confusion", "Confusion matrices (rows: gold, columns: predicted)", [
        Figure("confusion", {"classes": classes, "matrices": matrices},
               "Confusion matrices: " + ", ".join(matrices) + "; rows gold, columns predicted", fallback=tables),
    ], nav="Confusion")


def _slices(results: BuildResults, _examples) -> Section | None:
    slices, guardrails = results.slices, results.guardrails
    if not slices and not guardrails:
        return None
    section = Section("slices", "Slices and guardrails", nav="Slices")
    baseline, model = results.systems.baseline, results.systems.model
    if guardrails:
        section.blocks.append(Text(
            f"{len(guardrails)} slice(s) where {model} is worse than {baseline} beyond the tolerance:", "warning"))
        section.blocks.append(Table(
            ["slice", "n", baseline, model, "gap", "intervals separate"],
            [[f"{g.column} = {g.value}", number(g.size), pct(g.baseline_score), pct(g.model_score),
              signed_points(g.gap), "–" if g.clear is None else "yes" if g.clear else "no"] for g in guardrails],
            flagged=[True] * len(guardrails),
        ))
    elif slices:
        section.blocks.append(Text(f"No guardrail failures: {model} is not worse than {baseline} on any slice.",
                                   "good"))
    if slices:
        flagged_keys = {(g.column, g.value) for g in guardrails}
        systems = key_systems(results, slices[0].scores)
        metric = slices[0].metric
        shown = slices[:MAX_SLICE_ROWS]
        gap = baseline in systems and model in systems
        section.blocks.append(Figure("slices", {"slices": shown, "flagged": sorted(flagged_keys), "systems": systems,
                                                "baseline": baseline, "model": model, "metric": metric},
                                     f"{metric} per slice with 95% intervals, in the table's order"))
        section.blocks.append(Table(
            ["slice", "source", "n", *[f"{s} {metric}" for s in systems], *(["gap"] if gap else [])],
            [[f"{s.column} = {s.value}", s.kind, number(s.size)]
             + [f"{pct(s.scores.get(name))} {interval_text(s.ci.get(name))}".strip() for name in systems]
             + ([_gap(s, baseline, model)] if gap else [])
             for s in shown],
            flagged=[(s.column, s.value) in flagged_keys for s in shown],
            caption=("" if len(slices) <= MAX_SLICE_ROWS else f"First {MAX_SLICE_ROWS} of {len(slices)} slices. ")
            + (f"gap: {model} minus {baseline}. " if gap else "") + "Every system's slice scores are in metrics.json.",
        ))
    return section


def _gap(s, baseline: str, model: str) -> str:
    if s.scores.get(model) is None or s.scores.get(baseline) is None:
        return "–"
    return signed_points(s.scores[model] - s.scores[baseline])


def _lf_summary(results: BuildResults, _examples) -> Section | None:
    lfs = results.lf_summary
    if not lfs:
        return None
    rows = [
        [lf.name, ", ".join(map(str, lf.polarity)), pct(lf.coverage), pct(lf.overlaps), pct(lf.conflicts),
         pct(lf.dev_accuracy), "–" if lf.dev_n is None else number(lf.dev_n)]
        for lf in lfs
    ]
    return Section("lf_summary", "Labeling functions", [
        Figure("lfs", {"lfs": lfs}, "Coverage and dev accuracy per labeling function, in the table's order"),
        Table(["LF", "votes for", "coverage", "overlaps", "conflicts", "dev accuracy", "dev n"], rows),
    ], nav="LFs")


def _label_model(results: BuildResults, _examples) -> Section | None:
    info = results.label_models
    if info is None:
        return None
    section = Section("label_model", "Label model")
    if info.chosen:
        section.blocks.append(Text(f"{info.candidate or info.chosen}", "normal", label="Chosen on dev:"))
    if info.reason:
        section.blocks.append(Text(info.reason, "normal", label="Why:"))
    metric = info.metric + (f" of {info.positive_class!r}" if info.metric == "f1" else "")
    judged = any(c.judge_score is not None for c in info.candidates)
    if info.candidates:
        section.blocks.append(Table(
            ["candidate", "class balance", f"dev {metric}", "95% interval"]
            + ([f"end model's dev {info.judge_metric or metric}"] if judged else []) + ["note"],
            [[c.key + (" (chosen)" if c.key == info.candidate else ""), str(c.class_balance),
              pct(c.dev_score) if c.dev_score is not None and c.dev_score == c.dev_score else "skipped",
              interval_text(c.dev_interval)]
             + ([pct(c.judge_score) if c.judge_score is not None else ""] if judged else [])
             + ["; ".join(filter(None, [
                  f"predicts only {c.predicts_only!r}" if c.predicts_only is not None else "",
                  "cross-fitted on dev" if c.cross_fitted else "", c.excluded and f"left out: {c.excluded}",
                  c.note or "", c.error or ""]))]
             for c in info.candidates],
            flagged=[False] * len(info.candidates), text_columns=(5 if judged else 4,),
            caption="Every candidate is fitted on the train votes and scored on the gold dev split; models that "
                    "learn from dev are scored on dev folds they did not see. Intervals: bootstrap over dev rows."
                    + (" The end model's dev score: a quick end model trained on the candidate's train labels, "
                       "scored on dev gold (labelkit/endmodel/probe.py)." if judged else "")))
        section.blocks += [Text(note, "muted") for note in info.notes]
    elif info.dev_scores:
        section.blocks.append(Table(["label model", "dev score"],
                                    [[f"{name} (chosen)" if name == info.chosen else name, number(score)]
                                     for name, score in info.dev_scores.items()]))
    calibration = info.calibration
    if calibration and calibration.confidence:
        section.blocks.append(Figure("calibration", calibration, "Calibration of the label model on dev"))
        section.blocks.append(Table(
            ["confidence bin", "mean confidence", "accuracy", "rows"],
            [[str(b), pct(c), pct(a), number(n)] for b, c, a, n in zip(
                _bin_labels(calibration), calibration.confidence, calibration.accuracy, calibration.count)],
            collapsed=f"Calibration table ({len(calibration.confidence)} bins)",
        ))
    return section


def _bin_labels(calibration) -> list[str]:
    bins, n = calibration.bins, len(calibration.confidence)
    if len(bins) == n and all(isinstance(b, list) and len(b) == 2 for b in bins):
        return [f"{b[0]:.1f}–{b[1]:.1f}" for b in bins]
    if len(bins) == n + 1:
        return [f"{bins[i]:.2f}–{bins[i + 1]:.2f}" for i in range(len(bins) - 1)]
    return [number(b) for b in bins] or [str(i) for i in range(n)]


def _drift(results: BuildResults, _examples) -> Section | None:
    drift = results.drift
    if drift is None or not drift.periods:
        return None
    periods = drift.periods
    systems = key_systems(results, periods[0].systems)
    section = Section("drift", f"Drift over {drift.time_column}", nav="Drift")
    first, last = drift.drop_periods or [periods[0].period, periods[-1].period]
    if drift.drop is not None:
        style = "warning" if drift.drop > 0.05 else "muted"
        section.blocks.append(Text(
            f"{drift.model} accuracy changed by {signed_points(-drift.drop)} from the first period "
            f"({first}) to the last ({last}).", style))
    section.blocks.append(Figure("drift", drift, "Accuracy per period"))
    section.blocks.append(Table(
        ["period", "n", *[f"{s} accuracy" for s in systems]],
        [[p.period, number(p.n), *[pct(p.systems[s].accuracy) for s in systems]] for p in periods],
        collapsed=f"Accuracy per period ({len(periods)} periods)",
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
    left_out = left_out_reasons(results)
    if audit is None and not left_out:
        return None
    section = Section("audit", "Data-quality audit", nav="Audit")
    if audit is not None and audit.accounting:
        section.blocks.append(Table(
            ["split", "rows in", "kept", "quarantined", "flagged"],
            [[split, *(number(v) for v in (a.rows_in, a.kept, a.quarantined, a.flagged))]
             for split, a in audit.accounting.items()],
            caption="Row accounting: rows in = kept + quarantined.",
        ))
    if left_out:
        splits = [s for s in results.gold_rows if any(s in c for c in left_out.values())]
        section.blocks.append(Table(
            ["gold rows left out, by reason", *splits],
            [[reason, *(number(c.get(s, 0)) for s in splits)] for reason, c in left_out.items()],
            caption="A row can have several reasons, so a column can add up to more than the rows left out.",
        ))
    if audit is None:
        return section
    if audit.summary:
        splits = list(dict.fromkeys(s.split for s in audit.summary))
        counts: dict[str, dict[str, int]] = {}
        for s in audit.summary:
            counts.setdefault(s.reason, {})[s.split] = s.count
        section.blocks.append(Table(
            ["finding", *splits, "total"],
            [[reason, *(number(c[s]) if s in c else "–" for s in splits), number(sum(c.values()))]
             for reason, c in counts.items()],
            caption="Rows flagged per reason and split (quarantine.csv and audit_findings.csv have every row).",
        ))
    before_after = audit.before_after
    if before_after.systems:
        section.blocks.append(Table(
            ["system", "accuracy before cleaning", "after", "change"],
            [[name, pct(v.before), pct(v.after),
              signed_points(v.after - v.before) if v.after is not None and v.before is not None else "–"]
             for name, v in before_after.systems.items()],
            caption=before_after.note or "",
        ))
    elif before_after.note:
        section.blocks.append(Text(before_after.note, "muted"))
    if audit.examples:
        found = audit.examples
        texts = any(e.text for e in found[:MAX_EXAMPLE_ROWS])  # none: rows without text (feature vectors, votes)
        section.blocks.append(Table(
            ["finding", "split", "row", *(["text"] if texts else []), "evidence"],
            [[e.reason, e.split, e.row_id, *([short(e.text, EXAMPLE_TEXT)] if texts else []),
              short(e.evidence, EXAMPLE_TEXT)] for e in found[:MAX_EXAMPLE_ROWS]],
            text_columns=(3, 4) if texts else (3,),
            collapsed=f"Example findings ({min(len(found), MAX_EXAMPLE_ROWS)} of {len(found)})",
        ))
    return section


def _expectations(results: BuildResults, _examples) -> Section | None:
    outcome = results.expectations
    if not outcome:
        return None
    section = Section("expectations", "Expectations")
    section.blocks.append(Table(
        ["system", "passed", "failed", "total"],
        [[name, number(r.passed), number(r.failed), number(r.total)] for name, r in outcome.items()],
        flagged=[bool(r.failed) for r in outcome.values()],
    ))
    failures = [(name, f) for name, r in outcome.items() for f in r.failures]
    if failures:
        shown = failures[:MAX_EXAMPLE_ROWS * 2]
        section.blocks.append(Table(
            ["system", "row", "text", "wanted", "got"],
            [[name, str(f.row), short(f.text, EXAMPLE_TEXT),
              f"= {f.expected}" if f.expected is not None else f"≠ {f.not_expected}", str(f.got)]
             for name, f in shown],
            text_columns=(2,), collapsed=f"Failed expectations ({len(shown)} of {len(failures)})",
        ))
    return section


EXAMPLE_KINDS = {"fires": "fires", "wrong_on_dev": "wrong on dev", "conflicts": "conflicts"}


def _examples(_metrics, examples) -> Section | None:
    """One example per LF and kind (fires / wrong on dev / conflicts) in one folded table; lf_summary.json
    has them all."""
    if not examples:
        return None
    section = Section("examples", "Example rows", nav="Examples")
    for key, value in examples.items():
        if key == "lf_examples" and isinstance(value, dict):
            rows, texts = [], False
            for lf, kinds in value.items():
                for kind, found in (kinds or {}).items():
                    if found and isinstance(found[0], dict):
                        rows.append(_lf_example(lf, EXAMPLE_KINDS.get(kind, kind), found[0]))
                        texts = texts or "text" in found[0]
            if rows and not texts:  # rows without text (feature vectors, vote tables): no empty text column
                rows = [row[:3] + row[4:] for row in rows]
            if rows:
                section.blocks.append(Table(
                    ["LF", "where", "row", *(["text"] if texts else []), "vote", "gold / other votes"], rows,
                    text_columns=(3, 5) if texts else (4,),
                    collapsed=f"One example row per labeling function and kind ({len(rows)} rows)",
                    caption="lf_summary.json and `labelkit lfs` have more examples per LF."))
        elif isinstance(value, list) and value:
            section.blocks.append(_rows_table(value, caption=str(key)))
    return section


def _lf_example(lf: str, kind: str, row: dict) -> list[str]:
    if "gold" in row:
        other = f"gold {row['gold']}"
    elif isinstance(row.get("others"), dict):
        other = ", ".join(f"{name} → {vote}" for name, vote in row["others"].items())
    else:
        other = ""
    return [str(lf), kind, str(row.get("row_id", "")), short(row.get("text", ""), EXAMPLE_TEXT),
            str(row.get("vote", "")), other]


def _rows_table(rows: list, *, caption: str) -> Table:
    shown = rows[:MAX_EXAMPLE_ROWS]
    if all(isinstance(r, dict) for r in shown):
        headers = []
        for r in shown:
            headers += [k for k in r if k not in headers]
        return Table(headers, [[short(_flat(r.get(h, "")), EXAMPLE_TEXT) for h in headers] for r in shown],
                     caption=caption, text_columns=tuple(range(len(headers))),
                     collapsed=f"{caption} ({len(shown)} of {len(rows)})")
    return Table(["text"], [[short(r, EXAMPLE_TEXT)] for r in shown], caption=caption, text_columns=(0,),
                 collapsed=f"{caption} ({len(shown)} of {len(rows)})")


def _checks(results: BuildResults, _examples) -> Section | None:
    """Every finding of the build's checks of itself; the errors and warnings are in the verdict too."""
    if not results.checks:
        return None
    return Section("checks", "The build's checks of itself", [Table(
        ["severity", "check", "about", "finding", "what the build did"],
        [[c.severity, c.name, c.subject or "", c.message, c.action or ""] for c in results.checks],
        flagged=[c.severity == "error" for c in results.checks], text_columns=(3, 4),
        caption="metrics.json (checks) holds each check's evidence.")], nav="Checks")


def _manifest(results: BuildResults, _examples) -> Section | None:
    if results.manifest is None:
        return None
    rows = [[str(key), short(_flat(value), 200)] for key, value in results.manifest.to_json().items()]
    return Section("manifest", "Reproducibility", [Table(["item", "value"], rows, text_columns=(1,))])


def _flat(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(_flat, value))
    return str(value)
