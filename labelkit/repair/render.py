"""The repair's report (labelkit.results.Repair) as Markdown (repair.md) and as a few lines for the terminal.

repair.md is a document of the report's model (labelkit.report.document) rendered by the report's Markdown
renderer, so slice names, class names and n-grams from the data are escaped as the build's report.md
escapes them."""
from __future__ import annotations

from labelkit.io.display import interval_text
from labelkit.report.document import Bullets, Section, Table, Text, pct, points

TITLE = "Guardrail repair"


def render_markdown(report) -> str:
    from labelkit.report.markdown import render_document

    return render_document(TITLE, sections(report))


def sections(report) -> list[Section]:
    limit = report.limit
    intro = Section("intro", "", [
        Text(f"From run {report.from_run}. The end model was retrained with more weight on each slice's train rows "
             f"(or on the first model's error set), the weight chosen on gold dev; test rows are only reported. "
             f"Model outputs are never overridden by rules."),
        Text(f"Limit: overall dev {report.metric} may drop by at most {100 * limit.max_overall_dev_loss:.1f} points "
             f"(from {pct(limit.dev_score_before)} to no less than {pct(limit.dev_floor)})."),
    ])
    chosen = Section("chosen", "Chosen weights (on dev)", [
        Text("A candidate that loses a dev row of a slice repaired before it is refused, so a later slice cannot undo "
             "an earlier one; within one dev row of the best slice score the overall dev score decides. The interval "
             "beside the slice's dev score (Wilson, 95%) shows how little a few dev rows say."),
        Table(["slice", "train rows", "dev rows", "strategy", "weight", "class weight", "dev on slice [95%]",
               "dev overall", "refused"], [_chosen_row(s) for s in report.slices]),
    ])
    if report.search is not None:
        chosen.blocks.append(Text(_search_line(report)))
    rows = [_score_row(s.slice, s.test) for s in report.slices] + [_score_row("overall", report.overall)]
    test = Section("test", "Test, before and after (95% bootstrap intervals; paired test: McNemar + paired bootstrap)", [
        Table(["rows", "n", "rules", "model before", "model after", "change", "gap recovered", "paired test"], rows)])
    if report.reproduced is False:
        test.blocks.append(Text("Note: the re-run's first model does not reproduce the old run's test predictions "
                                "exactly (labelkit or a library changed); 'before' is the re-run.", "warning"))
    label_next = Section("label_next", "Rows to label next", [
        Text(f"label_next.csv: {report.label_next_rows} train rows of the slices, chosen like "
             f"labelkit label-next --slice (the repaired model's uncertainty, rules-vs-model disagreement, "
             f"diversity) and shown blind. Fill in the label column (or label them in the studio's \"label next\" "
             f"queue), then build with [data] human_labels naming the file.")])
    candidates = Section("candidate_lfs", "Candidate LFs (not applied)", [
        Text("candidate_lfs.py: frequent word n-grams of the slice rows where the rules are right and the first "
             "model wrong, checked against the rules on all train rows and against gold dev."),
        Bullets([f"{c.slice}: {len(c.ngrams)} candidate n-gram(s) from {c.rows} row(s)"
                 + (": " + ", ".join(f"\"{g['ngram']}\" → {g['class']}" for g in c.ngrams[:8]) if c.ngrams else "")
                 for c in report.candidate_lfs])])
    return [intro, chosen, test, label_next, candidates]


def _chosen_row(s) -> list[str]:
    c = s.chosen
    refused = sum(1 for t in s.tried if not t.admissible)
    skipped = sum(s.not_fitted.values())
    return [s.slice, str(s.train_rows), str(s.dev_rows), c.strategy, f"{c.weight:g}", c.class_weight or "",
            f"{pct(c.dev_slice)} {interval_text(c.dev_slice_ci)}".strip(), pct(c.dev_overall),
            f"{refused} of {len(s.tried)}" + (f" ({skipped} not fitted)" if skipped else "")]


def _search_line(report) -> str:
    search = report.search
    budget = (f"; at most {search.max_candidates} per slice (--max-candidates), the smallest weight of each "
              f"strategy first" if search.max_candidates else "")
    pruned = sum(s.not_fitted.get("below_floor", 0) for s in report.slices)
    budget += (f"; {pruned} not fitted because a smaller weight of the same rows and class weight was already "
               f"below the overall dev floor" if pruned else "")
    how = ("each the first model's features and C with the candidate's row and class weights, started from "
           "the first model's coefficients" if search.fitted_by.startswith("repair.refit")
           else "each a full end-model fit")
    return f"Search: {search.candidate_fits} candidate fits ({how}){budget}."


def _score_row(name: str, rows) -> list[str]:
    if not rows.rows:
        return [name, "0", "", "", "", "", "", ""]
    from labelkit.evaluate.verdict import format_p  # the report's one p-value formatter

    test = rows.paired_test
    return [name, str(rows.rows), pct(rows.rules), f"{pct(rows.before)} {interval_text(rows.before_ci)}",
            f"{pct(rows.after)} {interval_text(rows.after_ci)}", points(rows.change), _recovered(rows),
            f"{format_p(test.mcnemar_p)}: {test.verdict}"]


def _recovered(rows) -> str:
    return "–" if rows.gap_recovered is None else f"{100 * rows.gap_recovered:.0f}%"


def summary_lines(report) -> list[str]:
    out = []
    for s in report.slices:
        t, c = s.test, s.chosen
        if not t.rows:
            out.append(f"{s.slice}: {c.strategy} x{c.weight:g}, class weight {c.class_weight or ''}; no test rows")
            continue
        out.append(f"{s.slice} ({t.rows} test rows): {c.strategy} x{c.weight:g}, class weight "
                   f"{c.class_weight or ''}; model {pct(t.before)} -> {pct(t.after)} (rules {pct(t.rules)}; gap "
                   f"recovered {_recovered(t)}; {t.paired_test.verdict})")
    o = report.overall
    out.append(f"overall ({o.rows} test rows): {pct(o.before)} -> {pct(o.after)} "
               f"({points(o.change)}; {o.paired_test.verdict})")
    return out
