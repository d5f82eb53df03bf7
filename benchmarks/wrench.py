"""Label models and the end model of `labelkit build --wrench`, next to published numbers.

Usage:
  PYTHONPATH=. python benchmarks/wrench.py ../shared/data/wrench_youtube ../shared/data/wrench_semeval
  PYTHONPATH=. python benchmarks/wrench.py ../shared/data/wrench_youtube --imbalance 0.13 --gold-reference
  PYTHONPATH=. python benchmarks/wrench.py ../shared/data/wrench_youtube --imbalance 0.10 0.13 0.20 \
      --imbalance-seeds 0 1 2 3 4 --gold-reference --summary-only

Each folder goes through the build's own pipeline with the defaults of `labelkit build --wrench DIR`
(audit on, label model and end model chosen on the gold ``valid`` split, metric "auto"); nothing is
written. ``--imbalance S`` first subsamples the positive class (index 1) of every split to a share S
(seeded), a binary imbalanced set to check that "always negative" is not chosen. Every label-model
candidate is then scored on the whole test split (the chosen one is marked; test never chooses), and
the end model beside it. ``--gold-reference`` also trains the end model on gold train labels.
The chosen end-model setting is also refitted on train + the gold dev rows (``[end_model]
train_on_dev = true``; test never) and printed as its own line ("end model + dev"), and so is the
gold reference ("gold-trained + dev"), unless ``--no-train-on-dev``.
Several shares and ``--imbalance-seeds`` give one subsample per (share, seed) and a summary table
(positive-class F1 of label model, end model and gold reference, with means per share): one
subsample's test split holds 15-33 positives, so one run moves by a row or two.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

# Published test numbers (accuracy, %): WRENCH result figures (JieyuZ2/wrench) and the snorkel spam tutorial.
PUBLISHED = {
    "wrench_youtube": {
        "label models": {"majority vote (WRENCH)": 84.0, "snorkel LabelModel (tutorial)": 86.0, "MeTaL (WRENCH)": 84.0,
                         "Dawid-Skene (WRENCH)": 83.2, "data programming (WRENCH)": 82.0},
        "end models": {"LR on MV labels (WRENCH)": 90.72, "LR on soft labels (WRENCH)": 93.36,
                       "LR on gold labels (WRENCH)": 94.24, "snorkel tutorial LR (1-5-grams, C=1e3)": 94.4},
        "targets": "label model > 86.0, end model >= 94.4 on all 250 test rows",
    },
    "wrench_semeval": {
        "label models": {"majority vote (WRENCH)": 77.33, "weighted MV / Dawid-Skene / DP / MeTaL (WRENCH)": 71.00},
        "end models": {},
        "targets": "label model > 77.33, end model > label model",
    },
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--imbalance", type=float, nargs="+", default=[], help="subsample class 1 to this share of "
                        "every split (several: one run each)")
    parser.add_argument("--imbalance-seeds", type=int, nargs="+", default=[0], help="seeds of the subsampling")
    parser.add_argument("--summary-only", action="store_true", help="print only the summary of the runs")
    parser.add_argument("--seed", type=int, default=None, help="task.seed (default: the build's default)")
    parser.add_argument("--no-audit", action="store_true", help="skip the audit (faster; the build's default runs it)")
    parser.add_argument("--gold-reference", action="store_true", help="also train the end model on gold train labels")
    parser.add_argument("--no-train-on-dev", action="store_true", help="skip the line of the end model refitted on "
                        "train + gold dev rows ([end_model] train_on_dev)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, as `labelkit build --set`")
    args = parser.parse_args(argv)
    for folder in args.folders:
        summary = []
        for share, seed in [(s, seed) for s in args.imbalance for seed in args.imbalance_seeds] or [(0.0, None)]:
            with tempfile.TemporaryDirectory(prefix="labelkit-bench-") as tmp:
                source = imbalanced_copy(folder, Path(tmp), share, seed=seed) if share else folder
                summary.append(run(source, folder.name, args, share=share, sample_seed=seed))
        if len(summary) > 1 or args.summary_only:
            print_summary(folder.name, summary)
    return 0


def print_summary(name: str, summary: list[dict]) -> None:
    keys = ("label_model", "end_model", "gold_reference", "end_model_dev", "gold_reference_dev")
    head = ["class 1 share", "seed", "chosen label model", "label model F1", "end model F1", "gold-trained F1",
            "end - gold", "end model + dev F1", "gold-trained + dev F1", "(end - gold) + dev"]
    diff = lambda v: pct_cell(v[1] - v[2]) if None not in v[1:3] else ""  # noqa: E731
    diff_dev = lambda v: pct_cell(v[3] - v[4]) if None not in v[3:5] else ""  # noqa: E731
    rows = []
    for r in summary:
        values = [r.get(k) for k in keys]
        rows.append([f"{r['share']:.0%}", r["seed"], r["label_model_key"], *(pct_cell(v) for v in values[:3]), diff(values),
                     *(pct_cell(v) for v in values[3:]), diff_dev(values)])
    for share in sorted({r["share"] for r in summary}):
        part = [r for r in summary if r["share"] == share]
        means = [np.mean([r[k] for r in part]) if all(r.get(k) is not None for r in part) else None for k in keys]
        rows.append([f"{share:.0%}", f"mean of {len(part)}", "", *(pct_cell(m) for m in means[:3]), diff(means),
                     *(pct_cell(m) for m in means[3:]), diff_dev(means)])
    print(f"\n## {name}: test F1 of the positive class per subsample (everything chosen on train/dev)\n")
    print(markdown_table(head, [[str(c) for c in row] for row in rows]))


def run(folder: Path, name: str, args, *, share: float = 0.0, sample_seed=None) -> dict:
    from labelkit.cli.build import load_wrench_config
    from labelkit.data.load import load_task_data
    from labelkit.pipeline.manifest import StageTimer
    from labelkit.pipeline.run import run_pipeline
    from labelkit.pipeline.stages import load_labeling_functions

    extra = {"data.wrench": str(folder.resolve()), "task.seed": args.seed,
             "audit.enabled": False if args.no_audit else None}
    config = load_wrench_config(str(folder), tuple(args.sets), extra)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = load_task_data(config)
        modules, _ = load_labeling_functions(config, require_lfs=False)
        result = run_pipeline(config, raw, modules, timer=StageTimer(None))
    seconds = time.perf_counter() - started
    args.share = share
    positive = _positive(result)
    systems = result.results.to_json()["systems"]["systems"]
    f1 = lambda system: (systems.get(system, {}).get("positive_class") or {}).get("f1")  # noqa: E731
    gold = _gold_reference(result, positive) if args.gold_reference else None
    dev_rows = [] if args.no_train_on_dev else _train_on_dev_rows(result, positive, gold_too=args.gold_reference)
    record = {"share": share, "seed": sample_seed, "label_model_key": result.selection.key,
              "label_model": f1("label_model"), "end_model": f1("end_model"),
              "gold_reference": gold[1] if gold else None,
              "end_model_dev": dev_rows[0][1] if dev_rows else None,
              "gold_reference_dev": dev_rows[1][1] if len(dev_rows) > 1 else None}
    if not args.summary_only:
        _print_run(result, name, args, share, sample_seed, seconds, [gold[0]] if gold else [], [r[0] for r in dev_rows])
    return record


def _print_run(result, name, args, share, sample_seed, seconds, gold_rows, dev_rows) -> None:
    title = name + (f" with class 1 subsampled to {share:.0%} (seed {sample_seed})" if share else "")
    print(f"\n# {title}: classes {list(result.data.schema.classes)}, {len(result.votes.lf_names)} LFs, rows "
          + ", ".join(f"{s} {len(f)}" for s, f in result.data.frames.items()) + f"; build {seconds:.0f}s "
          f"(stages: {', '.join(f'{k} {v:.0f}s' for k, v in result.timer.timings.items() if ':' not in k)})")
    label_model_table(result, name, args)
    end_model_table(result, name, args, gold_rows + dev_rows)


def label_model_table(result, name: str, args) -> None:
    from labelkit.io.display import interval_text
    from labelkit.evaluate.metrics import score_predictions

    selection, data = result.selection, result.data
    k, y_test, L_test = data.schema.cardinality, data.gold["test"], result.votes.L["test"]
    positive = _positive(result)
    metric = selection.metric + (f" of {data.schema.classes[selection.positive]!r}" if selection.metric == "f1" else "")
    head = ["candidate", f"dev {metric}", "dev 95% interval", "test acc"] + ([f"test F1 {positive[1]!r}"] if positive else [])
    rows = []
    for record in selection.candidates:
        model = selection.fitted.get(record["key"])
        if model is None:
            rows.append([record["key"], "skipped", record.get("error", "")[:60], "", ""][:len(head)])
            continue
        pred = model.predict(L_test)
        row = [record["key"] + (" <- chosen" if record["key"] == selection.key else ""), pct_cell(record["dev_score"]),
               interval_text(record["dev_interval"]), pct_cell(np.mean(pred == y_test))]
        if positive:
            row.append(pct_cell(score_predictions(y_test, pred, cardinality=k, metric="f1", positive=positive[0])))
        if record["predicts_only"] is not None:
            row[0] += f" (predicts only {data.schema.classes[record['predicts_only']]!r})"
        rows.append(row)
    print(f"\n## Label models (fitted on train, chosen on valid by {metric}; test only scored, "
          f"{len(y_test)} test rows)\n")
    print(markdown_table(head, rows))
    published = PUBLISHED.get(name, {}).get("label models", {})
    if published and not args.share:
        print("published: " + "; ".join(f"{k} {v}" for k, v in published.items()))
    for note in selection.notes:
        print(f"note: {note}")


def end_model_table(result, name: str, args, extra_rows=()) -> None:
    from labelkit.io.display import interval_text

    systems = result.results.to_json()["systems"]["systems"]
    positive = _positive(result)
    head = ["system", "test acc", "95% CI", "macro-F1"] + ([f"F1 {positive[1]!r}"] if positive else [])
    rows = []
    for system in ("rule_baseline", "label_model", "end_model", "end_model_hard_labels"):
        if system in systems:
            m = systems[system]
            row = [system, pct_cell(m["accuracy"]), interval_text(m.get("accuracy_ci")), pct_cell(m["macro_f1"])]
            rows.append(row + ([pct_cell((m.get("positive_class") or {}).get("f1"))] if positive else []))
    rows += list(extra_rows)
    end = result.end_model
    threshold = getattr(end, "threshold", None)
    print(f"\n## End model ({getattr(end, 'kind', '?')}, features {getattr(end, 'features', '?')}, "
          f"C={getattr(end, 'C', '?')}, class weight {getattr(end, 'class_weight', '?')}"
          + (f", threshold {threshold:.3f}" if threshold is not None else "") + "; chosen on valid)\n")
    print(markdown_table(head, rows))
    published = PUBLISHED.get(name, {})
    if published.get("end models") and not args.share:
        print("published: " + "; ".join(f"{k} {v}" for k, v in published["end models"].items()))
    if published.get("targets") and not args.share:
        print(f"targets: {published['targets']}")


def _gold_reference(result, positive, *, train_on_dev: bool = False):
    """The same end-model search trained on gold train labels (a reference, never selected): its table
    row and its positive-class F1 (None without a positive class). `train_on_dev`: refitted with the gold
    dev rows too, as [end_model] train_on_dev does."""
    from labelkit.pipeline.stages import fit_end_model

    from labelkit.wrench import read_wrench

    data, k = result.data, result.data.schema.cardinality
    config = _with_train_on_dev(result.config) if train_on_dev else result.config
    what = "end model on gold train labels" + (" + dev" if train_on_dev else "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrench = read_wrench(result.config.resolve(result.config.data.wrench))
    by_id = dict(zip(wrench.splits["train"]["id"].astype(str), wrench.labels["train"]))
    gold = np.array([by_id.get(str(i), -1) for i in data.frames["train"][result.config.data.id_column]])
    if gold.size == 0 or gold.min() < 0:
        return [what, "n/a (train has no gold)", "", ""] + ([""] if positive else []), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit_end_model(config, data, np.eye(k)[gold], np.zeros((gold.size, 1), np.int8), result.prior)
    return _test_row(f"{what} (reference)", model, data, positive)


def _train_on_dev_rows(result, positive, *, gold_too: bool) -> list:
    """The chosen end-model setting refitted on train + gold dev rows ([end_model] train_on_dev = true),
    and the gold reference likewise when `gold_too`: [(table row, positive-class F1)]."""
    from labelkit.pipeline.stages import fit_end_model

    end = result.end_model
    if end is None or end.trained_on_dev or end.kind != "logistic_regression":
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit_end_model(_with_train_on_dev(result.config), result.data, result.proba_train,
                              result.votes.L["train"], result.selection.prior, like=end)
    rows = [_test_row("end model + dev ([end_model] train_on_dev = true)", model, result.data, positive)]
    if gold_too:
        rows.append(_gold_reference(result, positive, train_on_dev=True))
    return rows


def _with_train_on_dev(config):
    import dataclasses

    return dataclasses.replace(config, end_model=dataclasses.replace(config.end_model, train_on_dev=True))


def _test_row(what: str, model, data, positive):
    from labelkit.evaluate.metrics import score_predictions

    k = data.schema.cardinality
    pred = model.predict(data.frames["test"])
    y = data.gold["test"]
    row = [what, pct_cell(np.mean(pred == y)), "", pct_cell(score_predictions(y, pred, cardinality=k, metric="macro_f1"))]
    f1 = score_predictions(y, pred, cardinality=k, metric="f1", positive=positive[0]) if positive else None
    return row + ([pct_cell(f1)] if positive else []), f1


def _positive(result):
    from labelkit.pipeline.scoring import reported_positive

    index = reported_positive(result.selection, result.data)
    return None if index is None else (index, result.data.schema.classes[index])


def imbalanced_copy(folder: Path, tmp: Path, share: float, *, seed: int) -> Path:
    """A copy of a binary WRENCH folder whose class 1 is subsampled to `share` of every split."""
    import json

    rng = np.random.default_rng(seed)
    out = tmp / f"{folder.name}_imbalanced"
    out.mkdir()
    for split in ("train", "valid", "test"):
        rows = json.loads((folder / f"{split}.json").read_text(encoding="utf-8"))
        positive = sorted(key for key, row in rows.items() if row.get("label") == 1)
        negative = [key for key, row in rows.items() if row.get("label") != 1]
        keep = rng.choice(positive, size=min(len(positive), round(share / (1 - share) * len(negative))), replace=False)
        kept = set(negative) | set(keep.tolist())
        (out / f"{split}.json").write_text(json.dumps({k: v for k, v in rows.items() if k in kept}), encoding="utf-8")
    for extra in ("label.json", "readme.txt"):
        if (folder / extra).is_file():
            (out / extra).write_text((folder / extra).read_text(encoding="utf-8"), encoding="utf-8")
    return out


def pct_cell(value) -> str:
    """A share as a table cell in percent ("87.3"); "" when missing. suite.py's tables use it too."""
    return "" if value is None or not np.isfinite(value) else f"{round(100 * float(value), 1) + 0.0:.1f}"


def markdown_table(head, rows) -> str:
    """Rows as a Markdown table with aligned columns (suite.py's tables use it too)."""
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


if __name__ == "__main__":
    sys.exit(main())
