"""`labelkit build`: load -> audit -> apply LFs -> LF analysis -> label model -> end model -> evaluate -> artifacts.

Each stage is a small function; `build` strings them together and writes every artifact into a
temporary folder that becomes the output folder only when the whole build succeeded.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelkit.config import Config
from labelkit.data import TaskData, load_task_data, with_expectations
from labelkit.errors import CheckFailed
from labelkit.manifest import StageTimer
from labelkit.stages import (
    AuditOutcome, Votes, apply_votes, check_votes, choose_label_model, cleaned_data, end_model_checks,
    fall_back_to_majority, fit_end_models, train_on_dev_gold, kept_votes, label_model_proba, load_labeling_functions, run_audit,
    weak_label_findings,
)


@dataclass
class BuildOutcome:
    out: Path
    metrics: dict
    failed_checks: list[str]


# ---------------------------------------------------------------- orchestration

def build(config: Config, *, out: Path, force: bool = False, notify=None, fail_on=()) -> BuildOutcome:
    """Run the whole pipeline; artifacts appear in `out` only if every stage succeeded."""
    from labelkit.data import input_paths
    from labelkit.output_folder import claim_output

    # --out is checked and locked before any work (a refused folder costs nothing)
    with claim_output(out, force=force, kind="build", protect=input_paths(config)) as target:
        timer = StageTimer(notify)
        with timer.stage("load data"):
            raw = with_expectations(config, load_task_data(config))
            for warning in raw.warnings:
                timer.notify(f"warning: {warning}")
            modules, lf_paths = load_labeling_functions(config, require_lfs=raw.votes is None,
                                                        columns=list(raw.frames["train"].columns))
        result = run_pipeline(config, raw, modules, lf_paths=lf_paths, timer=timer, fail_on=fail_on)
        outcome = write_result(result, out=target, force=force)
    return dataclasses.replace(outcome, out=Path(out))


@dataclass
class BuildResult:
    """Everything one build computed, in memory: what the writers write and the notebook API shows."""

    config: Config
    raw: TaskData  # the data as loaded
    data: TaskData  # the data after the audit's policies
    lfs: list
    lf_paths: list
    modules: object  # ModuleContents: LFs, slicing functions, test-row detectors
    votes: Votes  # votes of the kept rows
    selection: object  # labelmodels.Selection: the chosen label model and every candidate's dev score
    prior: np.ndarray
    proba_train: np.ndarray
    end_model: object | None
    preds: dict
    metrics: dict
    audit: AuditOutcome | None
    failed_checks: list[str]
    timer: StageTimer


def write_result(result: BuildResult, *, out: Path, force: bool = False) -> BuildOutcome:
    """Write a computed build into `out` (atomically); returns what the CLI prints."""
    from labelkit.artifacts import write_build

    r = result
    with r.timer.stage("write artifacts"):
        metrics = write_build(
            out, force=force, config=r.config, raw=r.raw, data=r.data, lfs=r.lfs, lf_paths=r.lf_paths,
            votes=r.votes, selection=r.selection, prior=r.prior, proba_train=r.proba_train,
            end_model=r.end_model, preds=r.preds, metrics=r.metrics, audit=r.audit, timer=r.timer,
        )
    return BuildOutcome(Path(out), metrics, r.failed_checks)


def run_pipeline(config: Config, raw: TaskData, modules, *, lf_paths=(), timer: StageTimer | None = None,
                 fail_on=()) -> BuildResult:
    """audit -> apply LFs -> label model -> end model -> evaluate, on loaded data; nothing is written."""
    from labelkit.scoring import before_after, evaluate_test, failed_checks, predict_systems

    from labelkit.corrections import apply_train, load_for_build

    timer = timer or StageTimer(None)
    raw = with_expectations(config, raw)  # read at load time already by `build`; here for the API and repair
    raw, corrections = load_for_build(config, raw)  # reviewers' decisions (corrections file), if any
    lfs = modules.lfs
    audit = None
    data = raw
    if config.audit.enabled:
        with timer.stage("audit"):
            audit = run_audit(config, raw, modules.detectors, corrections, notify=timer.notify)
            data = cleaned_data(raw, audit.clean.splits, config)
    from labelkit.goldrows import load_human_labels  # human-labelled training rows, checked against dev/test

    human = load_human_labels(config, raw, data, corrections, notify=timer.notify)
    with timer.stage("apply LFs"):
        raw_votes = apply_votes(config, raw, lfs, notify=timer.notify)
        votes = raw_votes if audit is None else kept_votes(raw_votes, raw, data, config)
        check_votes(votes, list(config.label_model.candidates), audit=audit)
    with timer.stage("label model"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            selection, prior = choose_label_model(config, votes, data)
        for candidate in selection.candidates:  # each fitted candidate's fit (and cross-fitting) time
            if candidate["fit_seconds"] is not None:
                timer.timings[f"label model fit: {candidate['key']}"] = candidate["fit_seconds"]
        proba_train = _train_labels(selection, votes, data, corrections, config)
        checks = list(selection.evidence.findings) if selection.evidence is not None else []
        trusted = selection.evidence is None or selection.evidence.trust_dev_votes or not config.checks.fallback
    if audit is not None and config.audit.weak_label_issues:
        with timer.stage("weak-label audit"):
            audit.weak_findings = weak_label_findings(config, data, proba_train, votes.L["train"],
                                                       notes=getattr(audit.result, "warnings", None))
    end_model = hard_model = None
    if config.end_model.enabled:
        with timer.stage("end model"):
            end_model, hard_model = fit_end_models(config, data, proba_train, votes.L["train"], selection.prior,
                                                   notify=timer.notify, L_dev=votes.L["dev"] if trusted else None,
                                                   human=human)
            found = end_model_checks(config, data, votes, selection, end_model, proba_train)
            harm = [f for f in found if f["name"] == "do_no_harm" and f["severity"] == "error"]
            if harm and config.checks.fallback and not selection.name == "majority":
                timer.notify(f"check: {harm[0]['message']} Falling back to majority-vote labels.")
                selection = fall_back_to_majority(config, votes, data, selection)
                proba_train = _train_labels(selection, votes, data, corrections, config)
                end_model, hard_model = fit_end_models(config, data, proba_train, votes.L["train"], selection.prior,
                                                       notify=timer.notify, L_dev=votes.L["dev"] if trusted else None,
                                                       human=human)
                harm[0]["action"] = (f"fell back to majority-vote labels: the label model is now {selection.key} and "
                                     f"the end model was trained again on its labels")
                found = harm + [f for f in end_model_checks(config, data, votes, selection, end_model, proba_train)
                                if f["name"] != "do_no_harm"]
            if not trusted and not config.end_model.train_on_dev and end_model.kind == "logistic_regression":
                end_model = train_on_dev_gold(config, data, proba_train, votes.L["train"], selection.prior, end_model,
                                              checks, human=human, notify=timer.notify)
            checks += found
    with timer.stage("evaluate"):
        preds = predict_systems(config, data.frames["test"], votes.L["test"], selection, prior, end_model)
        if getattr(end_model, "before_human_labels", None) is not None:  # what the human rows changed
            from labelkit.goldrows import BEFORE

            preds[BEFORE] = end_model.before_human_labels.predict(data.frames["test"])
        if hard_model is not None:
            preds["end_model_hard_labels"] = hard_model.predict(data.frames["test"])
        metrics = evaluate_test(config, data, votes, preds, lfs=lfs, selection=selection, prior=prior,
                                end_model=end_model, audit=audit, slicing_functions=modules.slicing_functions)
        if hard_model is not None:  # trained on a sample at scale: say so beside its scores
            metrics["systems"]["systems"]["end_model_hard_labels"].update(hard_model.comparison_sampling)
        if "drift" in metrics:
            from labelkit.holdout import temporal_holdout

            holdout = temporal_holdout(config, data, proba_train, votes.L["train"], prior, preds, end_model,
                                       metrics["drift"], notify=timer.notify)
            if holdout:
                metrics["drift"]["temporal_holdout"] = holdout
        if audit is not None:
            metrics["audit_before_after"] = before_after(config, raw, raw_votes, metrics, selection, prior,
                                                         like=end_model, notify=timer.notify)
        metrics["label_model_warnings"] = sorted({str(w.message) for w in caught})
        from labelkit.lfs.similar import gate_notes  # similarity rules below their dev precision bar

        metrics["warnings"] = (raw.warnings + metrics["warnings"] + gate_notes(lfs)
                               + (end_model.notes if end_model else []))
        if corrections is not None:
            metrics["corrections"] = corrections.record(data, preds, config.data.id_column)  # + what gold changes did
        if human is not None:
            from labelkit.goldrows import describe

            metrics["human_labels"] = describe(human, config, data, preds, metrics, end_model,
                                               slicing_functions=modules.slicing_functions)
        if config.checks.enabled:
            from labelkit.checks import ordered

            metrics["checks"] = ordered(checks)
    failed = failed_checks(metrics, audit, fail_on or config.evaluate.fail_on)
    return BuildResult(config, raw, data, lfs, list(lf_paths), modules, votes, selection, prior, proba_train,
                       end_model, preds, metrics, audit, failed, timer)


def _train_labels(selection, votes: Votes, data: TaskData, corrections, config: Config) -> np.ndarray:
    """The chosen label model's probabilities of the train rows, with reviewers' corrections applied."""
    from labelkit.corrections import apply_train

    proba = label_model_proba(selection.model, votes.L["train"])
    return apply_train(proba, data.frames["train"], corrections, data.schema.classes, id_column=config.data.id_column)


def raise_for_failed(outcome: BuildOutcome) -> None:
    if outcome.failed_checks:
        raise CheckFailed("; ".join(outcome.failed_checks) + f" (artifacts written to {outcome.out})")
