"""The repair's report as Markdown (repair.md) and as a few lines for the terminal."""
from __future__ import annotations


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _ci(pair) -> str:
    return f"[{100 * pair[0]:.1f}, {100 * pair[1]:.1f}]" if pair else ""


def score_line(name: str, entry: dict) -> str:
    if not entry.get("rows"):
        return f"| {name} | 0 | | | | | |"
    from labelkit.evaluate.verdict import format_p  # the report's one p-value formatter

    recovered = entry.get("gap_recovered")
    test = entry["paired_test"]
    return (f"| {name} | {entry['rows']} | {_pct(entry['rules'])} | {_pct(entry['before'])} {_ci(entry['before_ci'])} "
            f"| {_pct(entry['after'])} {_ci(entry['after_ci'])} | {100 * entry['change']:+.1f} "
            f"| {'n/a' if recovered is None else f'{100 * recovered:.0f}%'} | {format_p(test['mcnemar_p'])}: {test['verdict']} |")


def render_markdown(report: dict) -> str:
    limit = report["limit"]
    lines = [
        "# Guardrail repair",
        "",
        f"From run `{report['from_run']}`. The end model was retrained with more weight on each slice's train "
        f"rows (or on the first model's error set), the weight chosen on gold dev; test rows are only reported. "
        f"Model outputs are never overridden by rules.",
        "",
        f"Limit: overall dev {report['metric']} may drop by at most {100 * limit['max_overall_dev_loss']:.1f} points "
        f"(from {_pct(limit['dev_score_before'])} to no less than {_pct(limit['dev_floor'])}).",
        "",
        "## Chosen weights (on dev)",
        "",
        ("A candidate that loses a dev row of a slice repaired before it is refused, so a later slice cannot undo "
         "an earlier one; within one dev row of the best slice score the overall dev score decides. The interval "
         "beside the slice's dev score (Wilson, 95%) shows how little a few dev rows say."),
        "",
        "| slice | train rows | dev rows | strategy | weight | class weight | dev on slice [95%] | dev overall | refused |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in report["slices"]:
        c = s["chosen"]
        refused = sum(1 for t in s["tried"] if not t["admissible"])
        skipped = sum((s.get("not_fitted") or {}).values())
        skipped = f" ({skipped} not fitted)" if skipped else ""
        lines.append(f"| {s['slice']} | {s['train_rows']} | {s['dev_rows']} | {c['strategy']} | {c['weight']:g} "
                     f"| {c.get('class_weight', '')} | {_pct(c['dev_slice'])} {_ci(c.get('dev_slice_ci'))} "
                     f"| {_pct(c['dev_overall'])} | {refused} of {len(s['tried'])}{skipped} |")
    search = report.get("search")
    if search:
        budget = (f"; at most {search['max_candidates']} per slice (--max-candidates), the smallest weight of each "
                  f"strategy first" if search.get("max_candidates") else "")
        pruned = sum((s.get("not_fitted") or {}).get("below_floor", 0) for s in report["slices"])
        budget += (f"; {pruned} not fitted because a smaller weight of the same rows and class weight was already "
                   f"below the overall dev floor" if pruned else "")
        how = ("each the first model's features and C with the candidate's row and class weights, started from "
               "the first model's coefficients" if search.get("fitted_by", "").startswith("repair.refit")
               else "each a full end-model fit")
        lines += ["", f"Search: {search['candidate_fits']} candidate fits ({how}){budget}."]
    lines += ["", "## Test, before and after (95% bootstrap intervals; paired test: McNemar + paired bootstrap)", "",
              "| rows | n | rules | model before | model after | change (points) | gap recovered | paired test |",
              "|---|---|---|---|---|---|---|---|"]
    for s in report["slices"]:
        lines.append(score_line(s["slice"], s["test"]))
    lines.append(score_line("overall", report["overall"]))
    if report.get("reproduced") is False:
        lines += ["", "Note: the re-run's first model does not reproduce the old run's test predictions exactly "
                      "(labelkit or a library changed); 'before' is the re-run."]
    lines += ["", "## Rows to label next", "",
              f"`label_next.csv`: {report.get('label_next_rows', 0)} train rows of the slices, chosen like "
              f"`labelkit label-next --slice` (the repaired model's uncertainty, rules-vs-model disagreement, "
              f"diversity) and shown blind. Fill in `label` (or label them in the studio's \"label next\" queue), "
              f"then build with `[data] human_labels` naming the file.", "",
              "## Candidate LFs (not applied)", "",
              "`candidate_lfs.py`: frequent word n-grams of the slice rows where the rules are right and the first "
              "model wrong, checked against the rules on all train rows and against gold dev.", ""]
    for c in report["candidate_lfs"]:
        lines.append(f"- {c['slice']}: {len(c['ngrams'])} candidate n-gram(s) from {c['rows']} row(s)"
                     + (": " + ", ".join(f"`{g['ngram']}` → {g['class']}" for g in c["ngrams"][:8]) if c["ngrams"] else ""))
    return "\n".join(lines) + "\n"


def summary_lines(report: dict) -> list[str]:
    out = []
    for s in report["slices"]:
        t, c = s["test"], s["chosen"]
        if not t.get("rows"):
            out.append(f"{s['slice']}: {c['strategy']} x{c['weight']:g}, class weight {c.get('class_weight', '')}; no test rows")
            continue
        recovered = t.get("gap_recovered")
        out.append(f"{s['slice']} ({t['rows']} test rows): {c['strategy']} x{c['weight']:g}, class weight "
                   f"{c.get('class_weight', '')}; model "
                   f"{_pct(t['before'])} -> {_pct(t['after'])} (rules {_pct(t['rules'])}; gap recovered "
                   f"{'n/a' if recovered is None else f'{100 * recovered:.0f}%'}; {t['paired_test']['verdict']})")
    o = report["overall"]
    out.append(f"overall ({o['rows']} test rows): {_pct(o['before'])} -> {_pct(o['after'])} "
               f"({100 * o['change']:+.1f} points; {o['paired_test']['verdict']})")
    return out
