"""`labelkit repair RUN`: a new build in which the slices whose guardrail fired get more weight in
training, plus, per slice, the rows to label next and candidate LFs (offered, not applied).

The build is re-run from the run's recorded config (same data, LFs and seed: the same label model,
soft labels and first end model); only the end model's row weights change. Model outputs are never
overridden by rules. The new run has a build's layout, so `labelkit compare RUN NEW` works, plus
`repair.md`, `label_next.csv` and `candidate_lfs.py`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError
from labelkit.results import BUILT, BuildResults, Repair
from labelkit.repair.reweight import (DEFAULT_CLASS_WEIGHTS, MAX_OVERALL_LOSS, OPTIONS, STRATEGIES, WEIGHTS, DevScores,
                                      search_slice)
from labelkit.evaluate.guardrail_slices import Slice, choose_slices, fired_slices
from labelkit.settings.declare import check_values
from labelkit.settings.options import RepairOptions

LABEL_NEXT = OPTIONS["label_next"].default  # rows to label next, per slice


@dataclass
class RepairOutcome:
    out: Path
    report: Repair  # the repaired build's metrics.json "repair" section
    results: BuildResults  # the repaired build's metrics.json


def repair_run(run_dir, *, out, slices=(), max_overall_loss: float = MAX_OVERALL_LOSS, weights=WEIGHTS,
               strategies=STRATEGIES, class_weights=DEFAULT_CLASS_WEIGHTS, label_next: int = LABEL_NEXT,
               force: bool = False, notify=None, max_candidates: int | None = None) -> RepairOutcome:
    """Repair the fired guardrails of the build in `run_dir` into a new build in `out`. `max_candidates`:
    the search budget, at most this many candidate fits per slice (coarse first; None: every candidate)."""
    from labelkit.data.load import input_paths
    from labelkit.pipeline.manifest import StageTimer
    from labelkit.io.output_folder import claim_output

    check_values(RepairOptions, "repair_run", max_overall_loss=max_overall_loss, weights=weights,
                 strategies=strategies, class_weights=class_weights, label_next=label_next,
                 max_candidates=max_candidates)
    run_dir = Path(run_dir)
    run, config = read_run(run_dir)
    if Path(out).resolve() == run_dir.resolve():
        raise ConfigError(f"--out {out} is the run being repaired; write the repair beside it so that "
                          f"`labelkit compare` can show both.")
    if not slices and not fired_slices(run.results):  # said before the rebuild, not after it
        raise _nothing_to_repair(run_dir)
    human = run.results.human_labels or {}
    if human.get("weight") is not None:
        raise ConfigError(f"{run_dir}'s end model trains on {human.get('rows', 'its')} human-labelled rows ([data] "
                          f"human_labels, weight {human['weight']:g}); labelkit repair does not carry them into its "
                          f"candidates yet, so it would compare models without them against one with them. Labels "
                          f"are the durable repair: add more for the slice (labelkit label-next) and rebuild.")
    with claim_output(out, force=force, kind="build", protect=[*input_paths(config), run_dir]) as target:
        timer = StageTimer(notify)
        made = rebuild(config, run, timer)
        chosen = choose_slices(run.results, tuple(slices), slicing_functions=made.modules.slicing_functions)
        if not chosen:
            raise _nothing_to_repair(run_dir)
        with timer.stage("repair"):
            repaired, report, label_next_rows = repair_result(
                made, chosen, max_overall_loss=max_overall_loss, weights=weights, strategies=strategies,
                class_weights=class_weights, label_next=label_next, max_candidates=max_candidates,
                notify=timer.notify)
        report["from_run"] = str(run_dir.resolve())
        report["reproduced"] = _reproduced(run, made)
        report["label_next_rows"] = int(len(label_next_rows))
        repaired.results.repair = Repair.from_json(report, source=BUILT, where="repair")
        repaired.manifest.repair = {"from_run": report["from_run"], "slices": [s["slice"] for s in report["slices"]],
                                    "chosen": {s["slice"]: s["chosen"] for s in report["slices"]}}
        write_repair(repaired, label_next_rows, target, force=force)
    return RepairOutcome(Path(out), repaired.results.repair, repaired.results)


def _nothing_to_repair(run_dir) -> ConfigError:
    return ConfigError(f"No guardrail fired in {run_dir} (metrics.json has none): nothing to repair. "
                       f"Name a slice with --slice column=value to reweight it anyway.")


def read_run(run_dir: Path):
    """A finished build opened light (labelkit.runs.Run: its typed metrics and manifest, no LF module
    imported) and the config to re-run it with: the config as it was built, narrowed to its choices."""
    from labelkit.runs import load_run, no_config

    run = load_run(run_dir, light=True)
    if not run.manifest.config:
        raise no_config(run.path)
    if not run.config.end_model.enabled:
        raise ConfigError(f"{run_dir} was built without an end model; there is no model to repair.")
    config = _chosen_label_model(run.config, run.results.label_models)
    return run, _chosen_end_model(config, run.manifest.end_model)


def _chosen_label_model(config, chosen):
    """The config with the label model's candidates narrowed to the one the run chose (its model and
    class balance): the same train labels, fitted once instead of choosing again among every candidate
    (on the bundled example that choice is most of a build's time). The run's report keeps the table
    of every candidate; `reproduced` in the repair report says whether the re-run matches the run."""
    lm = config.label_model
    name, balance = (chosen.chosen, chosen.class_balance) if chosen is not None else (None, None)
    if name not in lm.candidates:
        return config
    narrowed = {"candidates": [name]}
    if balance in ("dev", "uniform", "estimate") and lm.class_balance in ("auto", balance):
        narrowed["class_balance"] = balance
    elif not (balance == "given" and isinstance(lm.class_balance, list)):
        return config  # a balance this config cannot name: choose again as the run did
    return dataclasses.replace(config, label_model=dataclasses.replace(lm, **narrowed))


def _chosen_end_model(config, chosen):
    """The config with the end model's search narrowed to the setting the run chose: its features, its
    class weight, and the C grid up to its C. The build fits C as a warm-started path (each C starts
    from the previous one's solution), so the path up to the chosen C gives the run's first model
    again; that C alone, fitted cold, differs from it in a row or two."""
    narrowed = {}
    if chosen is None:  # labelkit.results.ChosenEndModel: the run's end model, as its manifest records it
        return config
    if chosen.C is not None:
        grid = sorted(float(c) for c in config.end_model.C)
        path = [c for c in grid if c <= chosen.C]
        in_memory = (chosen.kind or "logistic_regression") == "logistic_regression"
        narrowed["C"] = path if in_memory and chosen.C in grid else [chosen.C]
    if chosen.features and chosen.features in config.end_model.features:
        narrowed["features"] = [chosen.features]
    if chosen.class_weight in ("none", "balanced"):
        narrowed["class_weight"] = [chosen.class_weight]
    return dataclasses.replace(config, end_model=dataclasses.replace(config.end_model, **narrowed))


def rebuild(config, run, timer):
    """The build re-run from its config (a labelkit.pipeline.run.Build), after checking that its data and LFs
    are the ones `run` (labelkit.runs.Run) was built from."""
    from labelkit.data.load import load_task_data
    from labelkit.pipeline.run import run_pipeline
    from labelkit.pipeline.stages import load_labeling_functions

    then = "rebuild it first, then repair the new run"
    with timer.stage("load data"):
        raw = load_task_data(config)
        run.check_unchanged(inputs=raw.inputs, then=then)
        modules, lf_paths = load_labeling_functions(config, require_lfs=raw.votes is None,
                                                    columns=list(raw.frames["train"].columns))
        run.check_unchanged(lf_paths=lf_paths, then=then)
    return run_pipeline(config, raw, modules, lf_paths=lf_paths, timer=timer)


def repair_result(result, chosen: list[Slice], *, max_overall_loss, weights, strategies, label_next,
                  class_weights=DEFAULT_CLASS_WEIGHTS, max_candidates: int | None = None, notify=None):
    """The build with its end model retrained on the chosen row weights, the repair's report (metrics.json's
    "repair" section as JSON, without what `repair_run` adds) and the rows to label next.
    `max_candidates`: at most this many candidate fits per slice (None: every candidate not pruned)."""
    from labelkit.pipeline.baselines import rule_baseline
    from labelkit.labelmodels import hard_predictions, score_predictions
    from labelkit.io.progress import Progress
    from labelkit.repair.refit import Refitter
    from labelkit.repair.reweight import plan_candidates
    from labelkit.pipeline.stages import fit_end_model

    notify = notify or (lambda message: None)
    config, data, votes, prior = result.config, result.data, result.votes, result.prior
    k, metric = data.schema.cardinality, config.label_model.metric
    functions = result.modules.slicing_functions
    base_model = result.end_model
    L_train = votes.L["train"]
    covered = (L_train >= 0).any(axis=1)
    trained_on = covered | (base_model.uncovered_target is not None)
    weak = hard_predictions(result.proba_train, prior)
    train, dev, y_dev = data.frames["train"], data.frames["dev"], data.gold["dev"]
    base_train, base_dev = base_model.predict(train), base_model.predict(dev)  # the first model's, predicted once
    errors = trained_on & (base_train != weak)
    masks = {s: {split: s.mask(data.frames[split], functions) for split in ("train", "dev", "test")} for s in chosen}
    refitter = Refitter.create(config, data, result.proba_train, L_train, prior, base_model)

    def score(pred, mask):
        return score_predictions(y_dev[mask], pred[mask], cardinality=k, metric=metric) if mask.any() else float("nan")

    def dev_scores(model, dev_mask, earlier, pred=None) -> DevScores:
        pred = model.predict(dev) if pred is None else pred
        return DevScores(score_predictions(y_dev, pred, cardinality=k, metric=metric), score(pred, dev_mask),
                         {s.name: score(pred, masks[s]["dev"]) for s in earlier}, model)

    def fit(row_weights, class_weight):
        """(model, its dev predictions or None)"""
        model, pred = refitter.fit(row_weights, class_weight) if refitter is not None else (None, None)
        if model is not None:
            return model, pred
        like = base_model if class_weight == base_model.class_weight else \
            dataclasses.replace(base_model, class_weight=class_weight)
        return fit_end_model(config, data, result.proba_train, L_train, prior, like=like,
                             sample_weight=row_weights), None

    # how many fits the whole search costs (for the time left): each slice's plan, from the build's class weight
    # (a slice after the first may start from another class weight; the count is the same)
    per_slice = [len(plan_candidates(np.ones(len(train)), masks[s]["train"] & trained_on, errors,
                                     class_weight=base_model.class_weight, build_class_weight=base_model.class_weight,
                                     class_weights=class_weights, weights=weights, strategies=strategies))
                 if masks[s]["dev"].any() else 0 for s in chosen]
    total = sum(min(n, max_candidates) if max_candidates is not None else n for n in per_slice)
    progress = Progress("repair", total, notify=notify, every=0.0, unit="candidate fits")
    notify(f"repair: {len(chosen)} slice(s), {total} candidate fits "
           + ("(the first model's features and C, each fit warm-started from it)" if refitter is not None else
              "(each a full end-model fit: this model is not an in-memory logistic regression)")
           + (f"; at most {max_candidates} per slice (--max-candidates)" if max_candidates is not None else ""))
    base_overall = dev_scores(base_model, np.zeros(len(dev), dtype=bool), (), pred=base_dev).overall
    floor = base_overall - max_overall_loss
    row_w, class_weight, current_model, searches = np.ones(len(train)), base_model.class_weight, base_model, []
    repaired_before: list = []  # the slices repaired so far
    for s in chosen:
        dev_mask, train_mask = masks[s]["dev"], masks[s]["train"] & trained_on
        n_dev = int(dev_mask.sum())
        notify(f"repair {s.name}: {int(train_mask.sum())} train rows, {n_dev} dev rows")
        if not dev_mask.any():
            notify(f"repair {s.name}: no gold dev row in the slice, so no weight can be chosen on dev; left as is")
        current = dev_scores(current_model, dev_mask, repaired_before,
                             pred=base_dev if current_model is base_model else None)

        def evaluate(candidate, cw, dev_mask=dev_mask):
            model, pred = fit(candidate, cw)
            return dev_scores(model, dev_mask, repaired_before, pred=pred)

        def heard(c, spared, name=s.name, n_dev=n_dev):
            progress.total -= spared  # not fitted: a smaller weight of the same rows fell below the floor
            right = f" ({round(c.dev_slice * n_dev)}/{n_dev} rows)" \
                if metric == "accuracy" and not math.isnan(c.dev_slice) else ""
            verdict = f"refused: {c.refused}" if c.refused else "admissible"
            progress.advance(1, f"{name}: {_described(c)}: dev {metric} on the slice {c.dev_slice:.3f}{right}, "
                                f"overall {c.dev_overall:.4f}; {verdict}")

        search, row_w, class_weight, model = search_slice(
            s.name, evaluate, row_w, train_mask, errors, dev_rows=n_dev, floor=floor,
            current=current, class_weight=class_weight, build_class_weight=base_model.class_weight,
            class_weights=class_weights, weights=weights if dev_mask.any() else (), strategies=strategies,
            max_candidates=max_candidates, on_candidate=heard)
        current_model = model or current_model
        c = search.chosen
        notify(f"repair {s.name}: chose {_described(c)} (dev {metric} on the slice {c.dev_slice:.3f}, overall "
               f"{c.dev_overall:.4f}; {sum(1 for t in search.tried if t.refused)} candidate(s) refused"
               + (f", {search.pruned} not fitted (a smaller weight of the same rows was below the floor)"
                  if search.pruned else "")
               + (f", {search.skipped} not fitted (--max-candidates)" if search.skipped else "") + ")")
        searches.append(search)
        if dev_mask.any():  # repaired or left as is, a later slice may not make it worse on dev
            repaired_before.append(s)
    if current_model is not base_model:
        notify("repair: the repaired model on test (predictions, slices, the hard-label and temporal-holdout "
               "comparison models)")
    repaired = _rescored(result, current_model, row_w, notify=notify)
    report = _report(result, repaired, chosen, masks, searches, base_overall=base_overall, floor=floor,
                     max_overall_loss=max_overall_loss, errors=errors, row_w=row_w)
    report["search"] = {"candidate_fits": progress.done, "max_candidates": max_candidates,
                        "fitted_by": "repair.refit (features once, warm start)" if refitter is not None
                        else "stages.fit_end_model"}
    rules_train = rule_baseline(L_train, prior)
    label_next_rows, report["candidate_lfs"] = _plans(result, repaired, chosen, masks, (base_train, base_dev),
                                                      rules_train, covered, label_next)
    return repaired, report, label_next_rows


def _described(c) -> str:
    what = "no row weight" if c.strategy == "none" else f"{c.strategy} x{c.weight:g}"
    return f"{what}, class weight {c.class_weight}"


def _rescored(made, end_model, row_w, notify=None):
    """The build (labelkit.pipeline.run.Build) with `end_model` in place of the first one: its predictions, the
    sections scored on test, the end model's checks, the verdict and the manifest's end model made again;
    the rest (task, LF summary, label model, audit, corrections) is the build's."""
    from labelkit.pipeline.run import build_warnings, chosen_end_model, end_model_info, test_results
    from labelkit.pipeline.scoring import failed_checks, predict_systems
    from labelkit.pipeline.stages import fit_end_model

    r = made
    if end_model is r.end_model:
        return r
    preds = predict_systems(r.config, r.data.frames["test"], r.votes.L["test"], r.selection, r.prior, end_model)
    if "end_model_hard_labels" in r.preds:  # the comparison model: the repaired setting on hard labels, same weights
        from labelkit.repair.refit import Refitter

        refitter = Refitter.create(r.config, r.data, r.proba_train, r.votes.L["train"], r.prior, end_model,
                                   labels="hard")
        hard = refitter.fit(row_w, end_model.class_weight)[0] if refitter is not None else None
        if hard is None:
            hard = fit_end_model(r.config, r.data, r.proba_train, r.votes.L["train"], r.prior, labels="hard",
                                 like=end_model, sample_weight=row_w)
        preds["end_model_hard_labels"] = hard.predict(r.data.frames["test"])
    scored = test_results(r.config, r.data, r.votes, preds, lfs=r.lfs, selection=r.selection, prior=r.prior,
                          proba_train=r.proba_train, end_model=end_model, audit=r.audit,
                          slicing_functions=r.modules.slicing_functions, notify=notify)
    scored["warnings"] = build_warnings(r.raw, scored["warnings"], r.lfs, end_model)
    if r.config.checks.enabled:
        scored["checks"] = _checks(r, end_model)
    from labelkit.evaluate.verdict import compute_verdict

    results = dataclasses.replace(r.results, **scored, end_model=end_model_info(end_model, r.config))
    results.verdict = compute_verdict(results.systems, results.guardrails, results.checks)
    manifest = dataclasses.replace(r.manifest, end_model=chosen_end_model(end_model, r.config))
    failed = failed_checks(results, r.audit, r.config.evaluate.fail_on)
    return dataclasses.replace(r, end_model=end_model, preds=preds, results=results, manifest=manifest,
                               failed_checks=failed)


def _checks(r, end_model) -> list:
    """The build's checks of itself for the repaired model: the findings about the votes and the label
    model as the build made them (and a fallback it took), the end model's checks made again on the new model."""
    from labelkit.pipeline.checks import ordered
    from labelkit.results import Check
    from labelkit.pipeline.stages import end_model_checks

    kept = [c.to_json() for c in r.results.checks if c.subject != "end_model" or c.action]
    found = ordered(kept + end_model_checks(r.config, r.data, r.votes, r.selection, end_model, r.proba_train))
    return [Check.from_json(c, source=BUILT, where=f"checks[{i}]") for i, c in enumerate(found)]


def _report(result, repaired, chosen, masks, searches, *, base_overall, floor, max_overall_loss, errors, row_w):
    from labelkit.repair.verify import before_after

    config, y = result.config, result.data.gold["test"]
    k, seed, n_boot = result.data.schema.cardinality, config.task.seed, config.evaluate.bootstrap
    before, after = result.preds["end_model"], repaired.preds["end_model"]
    rules = result.preds["rule_baseline"]
    slices = []
    for s, search in zip(chosen, searches):
        m = masks[s]["test"]
        slices.append({
            "slice": s.name, "kind": s.kind, "column": s.column, "value": s.value,
            "train_rows": search.train_rows, "dev_rows": search.dev_rows,
            "chosen": search.chosen.as_dict(), "tried": [c.as_dict() for c in search.tried],
            "not_fitted": {"budget": search.skipped, "below_floor": search.pruned},
            "test": before_after(y[m], before[m], after[m], rules[m], k=k, seed=seed, n_boot=n_boot),
        })
    return {
        "metric": config.label_model.metric,
        "limit": {"max_overall_dev_loss": max_overall_loss, "dev_score_before": round(base_overall, 4),
                  "dev_floor": round(floor, 4),
                  "rule": "a candidate (weight x class weight) is admissible when the overall dev score stays at or "
                          "above dev_floor and no slice repaired before it loses a dev row; among admissible "
                          "candidates within one dev row of the best dev score on the slice, the best overall dev "
                          "score wins (then the smaller weight, then the build's class weight); 'none' (the model "
                          "in place) is always admissible"},
        "end_model_class_weight": {"build": result.end_model.class_weight, "repaired": repaired.end_model.class_weight},
        "end_model_C": result.end_model.C,
        "error_set_rows": int(errors.sum()),
        "upweighted_train_rows": int((row_w != 1).sum()),
        "slices": slices,
        "overall": before_after(y, before, after, rules, k=k, seed=seed, n_boot=n_boot),
        "test_used_for": "reporting only; weights are chosen on dev",
    }


def _plans(result, repaired, chosen, masks, base_preds, rules_train, covered, limit):
    """Per slice: rows to label next (repaired model) and candidate LFs (where the first model failed).
    `base_preds`: the first model's (train, dev) predictions."""
    from labelkit.repair.candidates import candidate_ngrams
    from labelkit.repair.label_next import rows_to_label

    config, data = result.config, result.data
    classes, text = data.schema.classes, config.data.text_column
    train, dev, y_dev = data.frames["train"], data.frames["dev"], data.gold["dev"]
    proba = repaired.end_model.predict_proba(train)
    base_train, base_dev = base_preds
    rules_dev = _rules(result, "dev")
    tables, candidates = [], []
    has_text = text in train.columns
    for s in chosen:
        tm, dm = masks[s]["train"], masks[s]["dev"]
        tables.append(rows_to_label(train, tm, proba, rules_train, covered, classes, slice_name=s.name,
                                    id_column=config.data.id_column, text_column=text, limit=limit))
        if not has_text:
            candidates.append({"slice": s.name, "rows": 0, "ngrams": []})
            continue
        src_train = tm & covered & (rules_train != base_train)
        src_dev = dm & (rules_dev == y_dev) & (base_dev != y_dev)
        texts = list(train[text].to_numpy()[src_train]) + list(dev[text].to_numpy()[src_dev])
        labels = list(rules_train[src_train]) + list(y_dev[src_dev])
        found = candidate_ngrams(texts, labels, train[text].to_numpy(), rules_train, covered, dev[text].to_numpy(),
                                 y_dev, classes)
        candidates.append({"slice": s.name, "rows": len(texts), "train_rows": int(src_train.sum()),
                           "dev_rows": int(src_dev.sum()), "ngrams": found})
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(), candidates


def _rules(result, split: str) -> np.ndarray:
    from labelkit.pipeline.baselines import rule_baseline

    return rule_baseline(result.votes.L[split], result.prior)


def _reproduced(run, made) -> bool | None:
    """Whether the re-run's end model predicts the old run's test predictions (None: cannot tell)."""
    from labelkit.runs import TEST_PREDICTIONS

    old = run.table(TEST_PREDICTIONS)  # formula-safe cells ("'-ve") read back
    if old is None or "pred_end_model" not in old.columns or len(old) != len(made.preds["end_model"]):
        return None
    classes = made.data.schema.classes
    return bool((old["pred_end_model"].to_numpy() == np.array([classes[i] for i in made.preds["end_model"]])).all())


def write_repair(repaired, label_next: pd.DataFrame, target: Path, *, force: bool) -> None:
    """The repaired build with a build's layout, plus repair.md, label_next.csv and candidate_lfs.py."""
    from labelkit.pipeline.artifacts import write_build
    from labelkit.io.files import write_review_csv
    from labelkit.repair.candidates import snippet
    from labelkit.repair.render import render_markdown

    report = repaired.results.repair
    def extra(folder: Path) -> None:
        write_review_csv(label_next, folder / "label_next.csv")
        text = "\n".join(snippet(c.slice, c.rows, c.ngrams) for c in report.candidate_lfs)
        (folder / "candidate_lfs.py").write_text(text, encoding="utf-8")
        (folder / "repair.md").write_text(render_markdown(report), encoding="utf-8")

    write_build(repaired, target, force=force, extra=extra)
