"""The report's "Human labels" section: human-labelled training rows (labelkit/human/labels.py) and what they
changed, what more labels are worth, and the gold labels reviewers changed (labelkit/data/corrections.py) with
what that did to each system's score."""
from __future__ import annotations

from labelkit.evaluate.verdict import p_value
from labelkit.report.document import Bullets, Section, Table, Text, pct


def human_labels_section(results, _examples=None) -> Section | None:
    human = results.human_labels
    corrections = results.corrections
    changes = (corrections.extra or {}).get("gold_changes") if corrections is not None else None
    if not human and not (changes and changes.get("by_queue")):
        return None
    section = Section("human-labels", "Human labels", nav="Human labels")
    if human:
        section.blocks += training_blocks(human)
    if changes and changes.get("by_queue"):
        section.blocks += gold_change_blocks(changes)
    return section


def training_blocks(human: dict) -> list:
    blocks: list = []  # Text, Table and Bullets blocks
    summary = human.get("summary") or []
    if summary:
        blocks.append(Bullets([str(s) for s in summary], "normal"))
    per_class = ", ".join(f"{c} {n}" for c, n in (human.get("per_class") or {}).items())
    weight = human.get("weight")
    blocks.append(Text(f"{human.get('rows', 0)} human-labelled training rows" + (f" ({per_class})" if per_class else "")
                       + (f", {human.get('in_train', 0)} of them train rows whose weak label they replace" if
                          human.get("in_train") else "")
                       + (f"; trained at weight {weight:g} against a weak-labelled row" if weight else "")
                       + ". They never reach dev or test: rows with a dev/test row's id, text or a near-duplicate "
                         "text are refused.", "muted"))
    sources = human.get("sources") or []
    if sources:
        blocks.append(Table(["source", "SHA-256", "rows", "labelled", "not labelled yet", "used"],
                            [[str(s.get("path")), str(s.get("sha256") or "–")[:12], str(s.get("rows", "–")),
                              str(s.get("labelled", "–")), str(s.get("pending", 0)), str(s.get("used", "–"))]
                             for s in sources], text_columns=(0,)))
    refused = human.get("refused") or {}
    if refused:
        blocks.append(Text("Refused (never trained on): " + ", ".join(f"{n} {reason.replace('_', ' ')}"
                                                                         for reason, n in refused.items())
                           + "; metrics.json human_labels.refused_rows lists them with the evidence.", "warning"))
    effect = human.get("effect") or {}
    rows = [*effect.get("slices", []), *([{"slice": "overall", **effect["overall"]}] if effect.get("overall") else [])]
    if rows:
        blocks.append(Table(
            ["slice", "n", "rules", "model without", "model with", "gap recovered", "McNemar p", "verdict"],
            [[r["slice"], str(r.get("n", "–")), pct(r.get("rules")), pct(r.get("before")), pct(r.get("after")),
              "–" if r.get("gap_recovered") is None else f"{100 * r['gap_recovered']:.0f}%",
              "–" if not r.get("paired_test") else p_value(r["paired_test"]["mcnemar_p"]),
              "" if not r.get("paired_test") else str(r["paired_test"]["verdict"])] for r in rows],
            text_columns=(7,), caption="Gold test rows: the end model without the human rows and with them (same "
                                       "features and C), the rules, and a paired test of with vs without."))
    weights = human.get("weight_scores") or {}
    if len(weights) > 2:
        blocks.append(Text("Weight chosen on dev + the human rows cross-fitted (each scored by a model that did not "
                           "see its label), pooled: " + ", ".join(
                               f"{'without' if k == 'without' else 'x' + k} {v['pooled']:.3f}"
                               for k, v in weights.items() if v.get("pooled") is not None) + ".", "muted"))
    worth = human.get("worth") or {}
    lines = [f"{name}: {entry['verdict']}" for name, entry in worth.items() if isinstance(entry, dict)
             and entry.get("verdict")]
    if "verdict" in worth and isinstance(worth["verdict"], str):
        lines = [worth["verdict"]]
    if lines:
        blocks.append(Text("What more labels are worth (from this build's own human rows, a rough estimate; "
                           "benchmarks/learning_curve.py measures it):", "normal"))
        blocks.append(Bullets(lines, "normal"))
    for note in human.get("notes") or []:
        blocks.append(Text(str(note), "warning"))
    return blocks


def gold_change_blocks(changes: dict) -> list:
    blocks: list = []  # Text and Table blocks
    changed = changes.get("changed") or {}
    blocks.append(Text(f"Gold labels changed by reviewers: dev {changed.get('dev', 0)}, test {changed.get('test', 0)}. "
                       "Blind review (gold_review) mixes the rows the build flagged with rows drawn at random.",
                       "normal"))
    rows = []
    for queue, splits in (changes.get("by_queue") or {}).items():
        for split, counts in splits.items():
            rows.append([queue, split, str(counts.get("reviewed", 0)), str(counts.get("changed", 0))])
    blocks.append(Table(["queue", "split", "reviewed", "changed"], rows, text_columns=(0,)))
    effect = changes.get("test_effect") or {}
    if effect:
        blocks.append(Table(
            ["system", "with the old gold", "with the new gold", "change"],
            [[name, pct(v["with_old_gold"]), pct(v["with_new_gold"]),
              f"{100 * (v['with_new_gold'] - v['with_old_gold']):+.1f} pts"] for name, v in effect.items()],
            caption=f"Accuracy on the gold test rows; {changes.get('test_rows_changed', 0)} test labels changed."))
    return blocks
