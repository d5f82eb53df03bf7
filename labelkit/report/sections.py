"""metrics.json -> list of Sections, one builder per section; a missing key skips its section."""
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


def build_sections(metrics: dict, examples: dict | None = None) -> list[Section]:
    builders = (
        _headline, _warnings, _per_class, _confusion, _slices, _lf_summary, _label_model,
        _drift, _audit, _expectations, _examples, _manifest,
    )
    sections = []
    for builder in builders:
        section = builder(metrics, examples or {})
        if section is not None and section.blocks:
            sections.append(section)
    return sections


def report_title(metrics: dict) -> str:
    name = (metrics.get("task") or {}).get("name")
    return f"labelkit report: {name}" if name else "labelkit report"


def task_line(metrics: dict) -> str | None:
    task = metrics.get("task") or {}
    parts = []
    if task.get("classes"):
        parts.append(f"classes: {', '.join(map(str, task['classes']))}")
    rows, given = task.get("rows"), task.get("rows_before_audit") or {}
    if isinstance(rows, dict):
        parts.append("rows: " + ", ".join(
            f"{split} {count:,}" + (f" of {given[split]:,} given" if given.get(split, count) != count else "")
            for split, count in rows.items()))
    return "; ".join(parts) or None


def gold_rows_line(metrics: dict) -> str | None:
    """'Gold rows scored: test 250 of 250, dev 120 of 120.' plus why any were left out."""
    gold = metrics.get("gold_rows") or {}
    if not gold:
        return None
    parts, why = [], []
    for split, g in gold.items():
        parts.append(f"{split} {g['scored']:,} of {g['given']:,}")
        why += [f"{n} {split} row(s): {reason}" for reason, n in (g.get("left_out") or {}).items()]
    text = "Gold rows scored: " + ", ".join(parts) + "."
    if why:
        text += (" Left out by the audit: " + "; ".join(why) + ". Scores on every given test row are in the audit's "
                 "before/after table.")
    return text


def _systems(metrics: dict) -> dict:
    return (metrics.get("systems") or {}).get("systems") or {}


def _headline(metrics, _examples) -> Section:
    comparison = metrics.get("systems") or {}
    systems = _systems(metrics)
    section = Section("headline", "Headline: baseline vs model on the test set")
    line = task_line(metrics)
    if line:
        section.blocks.append(Text(line, "muted"))
    gold = gold_rows_line(metrics)
    if gold:
        section.blocks.append(Text(gold, "warning" if "left out" in gold else "muted"))
    if not systems:
        section.blocks.append(Text("No system was evaluated.", "warning"))
        return section
    paired = comparison.get("paired_test")
    if paired:
        section.blocks.append(Text(f"Verdict: {paired['verdict']}", "verdict"))
        section.blocks.append(Text(_paired_sentence(paired), "normal"))
    positive = comparison.get("positive_class")
    rows = [
        [name, pct(m.get("accuracy")), interval(m.get("accuracy_ci")), pct(m.get("macro_f1")),
         interval(m.get("macro_f1_ci"))] + ([pct((m.get("positive_class") or {}).get("f1"))] if positive else [])
        + [pct(m.get("balanced_accuracy")), pct(m.get("coverage")) if "coverage" in m else "–",
           str(m.get("n", "")), single_class_note(m)]
        for name, m in systems.items()
    ]
    confidence = int(round(100 * comparison.get("confidence", 0.95)))
    section.blocks.append(Table(
        ["system", "accuracy", f"{confidence}% CI", "macro F1", f"{confidence}% CI"]
        + ([f"F1 of {positive!r}"] if positive else []) + ["balanced accuracy", "coverage", "n", "note"], rows,
        caption=f"Intervals: percentile bootstrap, {comparison.get('n_boot', '?')} resamples, "
                f"seed {comparison.get('seed', '?')}. Coverage: share of test rows the system voted on "
                "before the abstain policy.",
    ))
    section.blocks.append(Figure("headline", {"systems": systems}, "Accuracy and macro F1 per system with intervals"))
    policy = metrics.get("policy")
    if policy:
        text = policy if isinstance(policy, str) else "; ".join(f"{k}: {v}" for k, v in policy.items())
        section.blocks.append(Text(f"Policy: {text}", "muted"))
    return section


def single_class_note(entry: dict) -> str:
    """"predicts only 'ham'" for a system whose test predictions are all one class, else ""."""
    only = entry.get("predicts_only")
    return f"predicts only {only!r}" if only is not None else ""


def _paired_sentence(paired: dict) -> str:
    low, high = paired.get("accuracy_difference_ci", [None, None])
    return (
        f"{paired['model']} minus {paired['baseline']}: {points(paired.get('accuracy_difference'))} accuracy "
        f"(95% paired-bootstrap CI {points(low)} to {points(high)}); McNemar exact p = "
        f"{paired.get('mcnemar_p', float('nan')):.3g} on {paired.get('n')} rows "
        f"({paired.get('only_model_correct')} rows only the model gets right, "
        f"{paired.get('only_baseline_correct')} only the baseline)."
    )


def _warnings(metrics, _examples) -> Section | None:
    warnings = metrics.get("warnings")
    if not warnings:
        return None
    return Section("warnings", "Warnings", [Text(str(w), "warning") for w in warnings])


def _per_class(metrics, _examples) -> Section | None:
    systems = _systems(metrics)
    classes = (metrics.get("systems") or {}).get("classes") or []
    if not systems or not classes:
        return None
    headers = ["class", "support"] + [f"{name} F1 (P / R)" for name in systems]
    rows = []
    for cls in classes:
        first = next(iter(systems.values()))
        row = [cls, str(first.get("per_class", {}).get(cls, {}).get("support", ""))]
        for m in systems.values():
            c = m.get("per_class", {}).get(cls, {})
            row.append(f"{pct(c.get('f1'))} ({pct(c.get('precision'))} / {pct(c.get('recall'))})")
        rows.append(row)
    return Section("per_class", "Per-class scores", [Table(headers, rows)])


CONFUSION_SYSTEMS = ("rule_baseline", "label_model", "end_model")


def _confusion(metrics, _examples) -> Section | None:
    systems = _systems(metrics)
    classes = (metrics.get("systems") or {}).get("classes") or []
    section = Section("confusion", "Confusion matrices (rows: gold, columns: predicted)")
    matrices = {name: m["confusion"] for name, m in systems.items() if m.get("confusion")}
    key = {name: matrices[name] for name in CONFUSION_SYSTEMS if name in matrices}
    matrices = key or matrices  # the trivial baselines' matrices say nothing new
    if matrices:
        section.blocks.append(Figure("confusion", {"classes": classes, "matrices": matrices},
                                     "Confusion matrix per system"))
    for name, matrix in matrices.items():
        rows = [[f"gold {cls}"] + [str(v) for v in matrix[i]] for i, cls in enumerate(classes)]
        section.blocks.append(Table(["", *classes], rows, caption=name))
    return section


def _slices(metrics, _examples) -> Section | None:
    slices = metrics.get("slices")
    guardrails = metrics.get("guardrails") or []
    if not slices and not guardrails:
        return None
    section = Section("slices", "Slices and guardrails")
    comparison = metrics.get("systems") or {}
    baseline, model = comparison.get("baseline", "rule_baseline"), comparison.get("model", "end_model")
    if guardrails:
        section.blocks.append(Text(
            f"{len(guardrails)} slice(s) where {model} is worse than {baseline} beyond the tolerance:", "warning"))
        section.blocks.append(Table(
            ["slice", "n", baseline, model, "gap", "intervals separate"],
            [[f"{g['column']} = {g['value']}", str(g.get("size")), pct(g.get("baseline_score")),
              pct(g.get("model_score")), points(g.get("gap")), {True: "yes", False: "no"}.get(g.get("clear"), "–")]
             for g in guardrails],
            flagged=[True] * len(guardrails),
        ))
    elif slices:
        section.blocks.append(Text(f"No guardrail failures: {model} is not worse than {baseline} on any slice.",
                                   "verdict"))
    if slices:
        flagged_keys = {(g["column"], g["value"]) for g in guardrails}
        systems = list(slices[0].get("scores", {}))
        metric = slices[0].get("metric", "accuracy")
        section.blocks.append(Figure("slices", {"slices": slices[:MAX_SLICE_ROWS], "flagged": sorted(flagged_keys),
                                                "baseline": baseline, "model": model, "metric": metric},
                                     f"{metric} per slice"))
        shown = slices[:MAX_SLICE_ROWS]
        section.blocks.append(Table(
            ["slice", "source", "n", *[f"{s} {metric}" for s in systems]],
            [[f"{s['column']} = {s['value']}", str(s.get("kind", "")), str(s.get("size"))]
             + [f"{pct(s['scores'].get(name))} {interval(s.get('ci', {}).get(name))}" for name in systems]
             for s in shown],
            flagged=[(s["column"], s["value"]) in flagged_keys for s in shown],
            caption="" if len(slices) <= MAX_SLICE_ROWS else f"First {MAX_SLICE_ROWS} of {len(slices)} slices.",
        ))
    return section


def _lf_summary(metrics, _examples) -> Section | None:
    lfs = metrics.get("lf_summary")
    if not lfs:
        return None
    rows = [
        [lf.get("name", ""), ", ".join(map(str, lf.get("polarity") or [])), pct(lf.get("coverage")),
         pct(lf.get("overlaps")), pct(lf.get("conflicts")), pct(lf.get("dev_accuracy")), str(lf.get("dev_n", "–"))]
        for lf in lfs
    ]
    return Section("lf_summary", "Labeling functions", [
        Figure("lfs", {"lfs": lfs}, "Coverage and dev accuracy per labeling function"),
        Table(["LF", "votes for", "coverage", "overlaps", "conflicts", "dev accuracy", "dev n"], rows),
    ])


def _label_model(metrics, _examples) -> Section | None:
    info = metrics.get("label_models")
    if not info:
        return None
    section = Section("label_model", "Label model")
    if info.get("chosen"):
        section.blocks.append(Text(f"Chosen on dev: {info.get('candidate') or info['chosen']}", "verdict"))
    metric = info.get("metric", "accuracy") + (f" of {info['positive_class']!r}" if info.get("metric") == "f1" else "")
    scores = info.get("dev_scores") or {}
    candidates = info.get("candidates") or []
    if candidates:
        section.blocks.append(Table(
            ["candidate", "class balance", f"dev {metric}", "95% interval", "note"],
            [[c["key"] + (" (chosen)" if c["key"] == info.get("candidate") else ""), c["class_balance"],
              pct(c["dev_score"]) if c["dev_score"] == c["dev_score"] else "skipped", interval(c.get("dev_interval")),
              "; ".join(filter(None, [
                  f"predicts only {c['predicts_only']!r}" if c.get("predicts_only") is not None else "",
                  "cross-fitted on dev" if c.get("cross_fitted") else "", c.get("error") or ""]))]
             for c in candidates],
            caption="Every candidate is fitted on the train votes and scored on the gold dev split; models that "
                    "learn from dev are scored on dev folds they did not see. Intervals: bootstrap over dev rows."))
        section.blocks += [Text(note, "muted") for note in info.get("notes", [])]
    elif scores:
        section.blocks.append(Table(["label model", "dev score"],
                                    [[f"{name} (chosen)" if name == info.get("chosen") else name, number(score)]
                                     for name, score in scores.items()]))
    calibration = info.get("calibration")
    if calibration and calibration.get("confidence"):
        section.blocks.append(Figure("calibration", calibration, "Calibration of the label model"))
        section.blocks.append(Table(
            ["bin", "mean confidence", "accuracy", "rows"],
            [[str(b), pct(c), pct(a), str(n)] for b, c, a, n in zip(
                _bin_labels(calibration), calibration.get("confidence", []), calibration.get("accuracy", []),
                calibration.get("count", []))],
        ))
    return section


def _bin_labels(calibration: dict) -> list[str]:
    bins = calibration.get("bins") or []
    if len(bins) == len(calibration.get("confidence", [])) + 1:
        return [f"{bins[i]:.2f}–{bins[i + 1]:.2f}" for i in range(len(bins) - 1)]
    return [number(b) for b in bins] or [str(i) for i in range(len(calibration.get("confidence", [])))]


def _drift(metrics, _examples) -> Section | None:
    drift = metrics.get("drift")
    if not drift or not drift.get("periods"):
        return None
    periods = drift["periods"]
    systems = list(periods[0]["systems"])
    section = Section("drift", f"Drift over {drift.get('time_column', 'time')}")
    drop = drift.get("drop")
    first, last = drift.get("drop_periods") or [periods[0]["period"], periods[-1]["period"]]
    if drop is not None:
        style = "warning" if drop > 0.05 else "muted"
        section.blocks.append(Text(
            f"{drift.get('model', 'model')} accuracy changed by {points(-drop)} from the first period "
            f"({first}) to the last ({last}).", style))
    section.blocks.append(Figure("drift", drift, "Accuracy per period"))
    section.blocks.append(Table(
        ["period", "n", *[f"{s} accuracy" for s in systems]],
        [[p["period"], str(p["n"]), *[pct(p["systems"][s]["accuracy"]) for s in systems]] for p in periods],
    ))
    if drift.get("n_missing_time"):
        section.blocks.append(Text(f"{drift['n_missing_time']} test rows had no usable timestamp and are left out.", "muted"))
    if drift.get("unparseable_time"):
        section.blocks.append(Text(drift["unparseable_time"], "warning"))
    holdout = drift.get("temporal_holdout")
    if holdout and holdout.get("skipped"):
        section.blocks.append(Text(holdout["skipped"][:1].upper() + holdout["skipped"][1:], "muted"))
    elif holdout:
        acc = holdout["accuracy"]
        section.blocks.append(Text(
            f"Temporal holdout on the newest period ({holdout['period']}, {holdout['test_rows']} test rows): an end "
            f"model trained only on the {holdout['train_rows_before']} older train rows scores "
            f"{pct(acc['end_model_trained_on_older_data'])}, the full end model {pct(acc['end_model'])}, the rules "
            f"{pct(acc['rule_baseline'])}. The first number is the honest estimate for next period's data.",
            "warning" if acc["end_model_trained_on_older_data"] < acc["rule_baseline"] else "muted"))
    return section


def _audit(metrics, _examples) -> Section | None:
    audit = metrics.get("audit")
    if not audit:
        return None
    section = Section("audit", "Data-quality audit")
    accounting = audit.get("accounting") or {}
    if accounting:
        section.blocks.append(Table(
            ["split", "rows in", "kept", "quarantined", "flagged"],
            [[split, *(number(a.get(key)) for key in ("rows_in", "kept", "quarantined", "flagged"))]
             for split, a in accounting.items()],
            caption="Row accounting: rows in = kept + quarantined.",
        ))
    summary = audit.get("summary") or []
    if summary:
        section.blocks.append(Table(["reason", "split", "rows"],
                                    [[s.get("reason", ""), s.get("split", ""), number(s.get("count"))] for s in summary]))
    before_after = audit.get("before_after") or {}
    if before_after:
        section.blocks.append(Table(
            ["system", "accuracy before cleaning", "after", "change"],
            [[name, pct(v.get("before")), pct(v.get("after")),
              points(v["after"] - v["before"]) if v.get("after") is not None and v.get("before") is not None else "–"]
             for name, v in before_after.items()],
        ))
    found = audit.get("examples") or []
    if found:
        section.blocks.append(Table(
            ["reason", "split", "row", "text", "evidence"],
            [[e.get("reason", ""), e.get("split", ""), str(e.get("row_id", "")), short(e.get("text", "")),
              short(e.get("evidence", ""), 160)] for e in found[:MAX_EXAMPLE_ROWS]],
            caption=f"Examples ({min(len(found), MAX_EXAMPLE_ROWS)} of {len(found)}).",
        ))
    return section


def _expectations(metrics, _examples) -> Section | None:
    results = metrics.get("expectations")
    if not results:
        return None
    section = Section("expectations", "Expectations")
    section.blocks.append(Table(
        ["system", "passed", "failed", "total"],
        [[name, str(r.get("passed")), str(r.get("failed")), str(r.get("total", r.get("passed", 0) + r.get("failed", 0)))]
         for name, r in results.items()],
        flagged=[bool(r.get("failed")) for r in results.values()],
    ))
    failures = [(name, f) for name, r in results.items() for f in r.get("failures", [])]
    if failures:
        section.blocks.append(Table(
            ["system", "row", "text", "wanted", "got"],
            [[name, str(f.get("row")), short(f.get("text", "")),
              f"= {f['expected']}" if "expected" in f else f"≠ {f.get('not_expected')}", str(f.get("got"))]
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


def _manifest(metrics, _examples) -> Section | None:
    manifest = metrics.get("manifest")
    if not manifest:
        return None
    rows = [[str(key), short(_flat(value), 200)] for key, value in manifest.items()]
    return Section("manifest", "Reproducibility", [Table(["item", "value"], rows)])


def _flat(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(_flat, value))
    return str(value)
