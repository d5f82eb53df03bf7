"""`labelkit build`: load -> audit -> apply LFs -> LF analysis -> label model -> end model -> evaluate ->
summarize -> write.

`run_pipeline` strings the stages (labelkit.pipeline.stages) together on loaded data and returns a `Build`: every
array and model the build made, and its complete typed results (`Build.results`, what metrics.json holds)
and manifest, made once here. `build` writes a Build into a temporary folder that becomes the output
folder only when the whole build succeeded; the writers (labelkit.pipeline.artifacts) only serialise.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelkit.settings.config import Config
from labelkit.data.load import TaskData, load_task_data, with_expectations
from labelkit.errors import CheckFailed
from labelkit.pipeline.manifest import StageTimer
from labelkit.results import (
    BUILT, Accounting, Audit, AuditCount, AuditExample, BeforeAfter, BuildResults, Calibration, Check, ChosenEndModel,
    ChosenLabelModel, Corrections, EndModelInfo, InputFile, LabelModelCandidate, LabelModels, LFStats, Manifest,
    ManifestSummary, MatrixStats, TaskInfo, TemporalHoldout, read_sections,
)
from labelkit.pipeline.stages import (
    AuditOutcome, Votes, apply_votes, check_votes, choose_label_model, cleaned_data, end_model_checks,
    fall_back_to_majority, fit_end_models, train_on_dev_gold, kept_votes, label_model_proba, load_labeling_functions, run_audit,
    weak_label_findings,
)

@dataclass
class Build:
    """One build, in memory: what `run_pipeline` returns, the writers serialise (labelkit.pipeline.artifacts.write_build)
    and the notebook's `lk.run` wraps (labelkit.api.Result). `results` is metrics.json, complete; `manifest`
    is manifest.json but the timings, which the writer takes from `timer`."""

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
    preds: dict  # system -> class indices on the test rows
    results: BuildResults  # metrics.json
    manifest: Manifest  # manifest.json (timings added when written)
    lf_summary: list[dict]  # lf_summary.json/.csv rows
    lf_examples: dict  # lf_summary.json examples (the report's too)
    audit: AuditOutcome | None
    failed_checks: list[str]  # --fail-on checks that failed (they depend on --fail-on: not results)
    timer: StageTimer
    out: Path | None = None  # the folder it was written to


# ---------------------------------------------------------------- orchestration

def build(config: Config, *, out: Path, force: bool = False, notify=None, fail_on=()) -> Build:
    """Run the whole pipeline; artifacts appear in `out` only if every stage succeeded."""
    from labelkit.pipeline.artifacts import write_build
    from labelkit.data.load import input_paths
    from labelkit.io.output_folder import claim_output

    # --out is checked and locked before any work (a refused folder costs nothing)
    with claim_output(out, force=force, kind="build", protect=input_paths(config)) as target:
        timer = StageTimer(notify)
        with timer.stage("load data"):
            raw = with_expectations(config, load_task_data(config))
            for warning in raw.warnings:
                timer.notify(f"warning: {warning}")
            modules, lf_paths = load_labeling_functions(config, require_lfs=raw.votes is None,
                                                        columns=list(raw.frames["train"].columns))
        made = run_pipeline(config, raw, modules, lf_paths=lf_paths, timer=timer, fail_on=fail_on)
        with timer.stage("write artifacts"):
            write_build(made, target, force=force)
    made.out = Path(out)
    return made


def run_pipeline(config: Config, raw: TaskData, modules, *, lf_paths=(), timer: StageTimer | None = None,
                 fail_on=(), notebook: bool = False) -> Build:
    """audit -> apply LFs -> label model -> end model -> evaluate -> summarize, on loaded data; nothing is written.
    `notebook`: the build's messages name lk.run's settings, not labelkit.toml or the command's options."""
    from labelkit.pipeline.scoring import before_after, failed_checks, predict_systems

    from labelkit.data.corrections import load_for_build

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
    from labelkit.human.labels import load_human_labels  # human-labelled training rows, checked against dev/test

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
        before = getattr(end_model, "before_human_labels", None)
        if before is not None:  # what the human rows changed
            from labelkit.human.labels import BEFORE

            preds[BEFORE] = before.predict(data.frames["test"])
        if hard_model is not None:
            preds["end_model_hard_labels"] = hard_model.predict(data.frames["test"])
        scored = test_results(config, data, votes, preds, lfs=lfs, selection=selection, prior=prior,
                              proba_train=proba_train, end_model=end_model, audit=audit,
                              slicing_functions=modules.slicing_functions, notify=timer.notify, notebook=notebook)
        if hard_model is not None:  # trained on a sample at scale: say so beside its scores
            hard_scores = scored["systems"].systems["end_model_hard_labels"]
            for key, value in hard_model.comparison_sampling.items():
                setattr(hard_scores, key, value)
        cleaning = None if audit is None else before_after(config, raw, raw_votes, scored["systems"], selection,
                                                           prior, like=end_model, notify=timer.notify)
        scored["warnings"] = build_warnings(raw, scored["warnings"], lfs, end_model)
        scored["label_model_warnings"] = sorted({str(w.message) for w in caught})
        if corrections is not None:  # + what the gold changes did
            scored["corrections"] = Corrections.from_json(corrections.record(data, preds, config.data.id_column),
                                                          source=BUILT, where="corrections")
        if human is not None:
            from labelkit.human.labels import describe

            scored["human_labels"] = describe(human, config, data, preds, scored["guardrails"], end_model,
                                              slicing_functions=modules.slicing_functions)
        if config.checks.enabled:
            from labelkit.pipeline.checks import ordered

            scored["checks"] = [Check.from_json(c, source=BUILT, where=f"checks[{i}]")
                                for i, c in enumerate(ordered(checks))]
        results, manifest, summary, examples = summarize(config, raw, data, votes, selection, prior, end_model,
                                                         audit, cleaning, scored, lf_paths=list(lf_paths))
    failed = failed_checks(results, audit, fail_on or config.evaluate.fail_on)
    return Build(config, raw, data, lfs, list(lf_paths), modules, votes, selection, prior, proba_train, end_model,
                 preds, results, manifest, summary, examples, audit, failed, timer)


def test_results(config: Config, data: TaskData, votes: Votes, preds: dict, *, lfs, selection, prior, proba_train,
                 end_model, audit, slicing_functions=(), notify=None, notebook: bool = False) -> dict:
    """The systems scored on the gold test rows as typed sections of the results: systems, slices, guardrails,
    drift (with the temporal holdout), expectations, gold rows and the evaluation's warnings. Also what
    `labelkit repair` scores its repaired model with."""
    from labelkit.pipeline.scoring import evaluate_test

    evaluated = evaluate_test(config, data, votes, preds, lfs=lfs, selection=selection, prior=prior,
                              end_model=end_model, audit=audit, slicing_functions=slicing_functions, notebook=notebook)
    sections, _ = read_sections(evaluated, source=BUILT)
    drift = sections.get("drift")
    if drift is not None:
        from labelkit.pipeline.holdout import temporal_holdout

        holdout = temporal_holdout(config, data, proba_train, votes.L["train"], prior, preds, end_model,
                                   evaluated["drift"], notify=notify)
        if holdout:
            drift.temporal_holdout = TemporalHoldout.from_json(holdout, source=BUILT, where="drift.temporal_holdout")
    return sections


def build_warnings(raw: TaskData, evaluated: list[str], lfs, end_model) -> list[str]:
    """The results' warnings: the data's, the evaluation's, similarity rules below their dev precision bar
    and the end model's notes."""
    from labelkit.lfs.similar import gate_notes

    return raw.warnings + evaluated + gate_notes(lfs) + (list(end_model.notes) if end_model else [])


def _train_labels(selection, votes: Votes, data: TaskData, corrections, config: Config) -> np.ndarray:
    """The chosen label model's probabilities of the train rows, with reviewers' corrections applied."""
    from labelkit.data.corrections import apply_train

    proba = label_model_proba(selection.model, votes.L["train"])
    return apply_train(proba, data.frames["train"], corrections, data.schema.classes, id_column=config.data.id_column)


def raise_for_failed(made: Build) -> None:
    if made.failed_checks:
        raise CheckFailed("; ".join(made.failed_checks) + f" (artifacts written to {made.out})")


# ---------------------------------------------------------------- the summary: results and manifest, made once

def summarize(config: Config, raw: TaskData, data: TaskData, votes: Votes, selection, prior, end_model, audit,
              cleaning: dict | None, scored: dict, *, lf_paths: list) -> tuple[BuildResults, Manifest, list, dict]:
    """A build's results (metrics.json), manifest, LF summary and examples, from what the stages made and
    the typed sections scored on test (`scored`); `cleaning`: the test scores before/after the audit."""
    from labelkit.lfs.analysis import matrix_stats
    from labelkit.evaluate.verdict import compute_verdict
    from labelkit.pipeline.lf_report import summarize_lfs

    classes = data.schema.classes
    summary, examples = summarize_lfs(config, data, votes)
    manifest = build_manifest(config, raw, lf_paths, votes, selection, end_model, scored)
    results = BuildResults(
        task=TaskInfo(name=config.task.name, classes=list(classes),
                      rows={s: len(f) for s, f in data.frames.items()},
                      rows_before_audit={s: len(f) for s, f in raw.frames.items()}),
        policy=_policy(),
        label_models=_label_models(selection, classes, prior, votes, data),
        label_matrix={s: MatrixStats.from_json(matrix_stats(L), source=BUILT, where=f"label_matrix.{s}")
                      for s, L in votes.L.items()},
        lf_summary=[LFStats.from_json(_with_train_estimate(row, selection), source=BUILT, where=f"lf_summary[{i}]")
                    for i, row in enumerate(summary)],
        lf_errors=dict(votes.errors),
        end_model=end_model_info(end_model, config),
        **scored,
        manifest=ManifestSummary(seed=config.task.seed, git=manifest.git, lf_source_sha256=manifest.lf_source_sha256,
                                 inputs={s: v.sha256[:12] for s, v in manifest.inputs.items()}),
        audit=None if audit is None else _audit_section(audit, config, raw, cleaning),
    )
    results.verdict = compute_verdict(results.systems, results.guardrails, results.checks)  # the one verdict
    return results, manifest, summary, examples


def build_manifest(config: Config, raw: TaskData, lf_paths, votes: Votes, selection, end_model, scored: dict) -> Manifest:
    from labelkit.lfs import lf_source_hash
    from labelkit.pipeline.manifest import git_commit, package_versions

    root = Path(config.path).parent if config.path else Path.cwd()
    human = scored.get("human_labels")
    return Manifest(
        config_path=str(Path(config.path).resolve()) if config.path else None,
        config=config.to_dict(),
        seed=config.task.seed,
        inputs={s: InputFile.from_json(v, source=BUILT, where=f"inputs.{s}") for s, v in raw.inputs.items()},
        lf_modules=[str(Path(p).resolve()) for p in lf_paths],
        lf_source_sha256=lf_source_hash(lf_paths) if lf_paths else None,
        lf_names=list(votes.lf_names),
        data_columns=[str(c) for c in raw.frames["train"].columns],
        spacy_pipeline=votes.parser_description,
        versions=package_versions(),
        git=git_commit(root),
        # fit times: timings_seconds "label model fit: ..."
        label_model=ChosenLabelModel(chosen=selection.name, candidate=selection.key,
                                     dev_scores=dict(selection.dev_scores), metric=selection.metric),
        end_model=chosen_end_model(end_model, config),
        rules_files=_rules_files(config),
        corrections=scored.get("corrections"),  # reviewers' decisions this build applied
        # human-labelled training rows: files, SHA-256s, rows, weight
        human_labels=None if human is None else {key: human.get(key) for key in ("sources", "rows", "weight")},
    )


def chosen_end_model(end_model, config: Config) -> ChosenEndModel | None:
    if end_model is None:
        return None
    chosen = ChosenEndModel(C=end_model.C, labels=config.end_model.labels, features=end_model.features,
                            class_weight=end_model.class_weight, kind=end_model.kind)
    if end_model.features in ("embeddings", "tfidf+embeddings"):
        from labelkit.endmodel.embedding_features import embedding_parts  # the model referenced, never copied

        chosen.embeddings = [dict(part.embedding_) for part in embedding_parts(end_model.pipeline)]
    return chosen


def end_model_info(end_model, config: Config) -> EndModelInfo | None:
    if end_model is None:
        return None
    return EndModelInfo(
        C=end_model.C, metric=config.label_model.metric, features=end_model.features,
        class_weight=end_model.class_weight, kind=end_model.kind,
        dev_score_by_candidate=dict(end_model.dev_scores), trained_on_dev=end_model.trained_on_dev,
        train_rows=end_model.train_rows, labels=config.end_model.labels, notes=list(end_model.notes),
        threshold=end_model.threshold,
        threshold_class=None if end_model.positive is None else end_model.classes[end_model.positive],
        uncovered_label=None if end_model.uncovered_target is None else
        {c: round(p, 4) for c, p in zip(end_model.classes, end_model.uncovered_target)})


def _rules_files(config: Config) -> list[dict]:
    from labelkit.io.files import sha256_file

    return [{"path": str(config.resolve(p).resolve()), "sha256": sha256_file(config.resolve(p))} for p in config.task.rules]


def _label_models(selection, classes, prior, votes: Votes, data: TaskData) -> LabelModels:
    from labelkit.evaluate.metrics import calibration_bins

    return LabelModels(
        chosen=selection.name, candidate=selection.key, class_balance=selection.class_balance,
        dev_scores=dict(selection.dev_scores), metric=selection.metric,
        positive_class=None if selection.positive is None else classes[selection.positive],
        candidates=_candidates(selection, classes), notes=list(selection.notes),
        class_prior=dict(zip(classes, np.round(prior, 4).tolist())),
        calibration=Calibration(**calibration_bins(selection.model.predict_proba(votes.L["dev"]), data.gold["dev"])),
        chosen_by=selection.chosen_by, judge_metric=selection.judge_metric, reason=selection.reason or None,
    )


def _with_train_estimate(row: dict, selection) -> dict:
    estimates = selection.evidence.lf_train_accuracy if selection.evidence is not None else {}
    return {**row, "train_agreement": estimates[row["name"]]} if row.get("name") in estimates else row


def _candidates(selection, classes) -> list[LabelModelCandidate]:
    """Every label-model candidate's dev score, interval and single-class flag (by class name)."""
    out = []
    for i, record in enumerate(selection.candidates):
        record = {k: v for k, v in record.items() if k != "fit_seconds"}  # timings live in the manifest
        if record["predicts_only"] is not None:
            record["predicts_only"] = classes[record["predicts_only"]]
        out.append(LabelModelCandidate.from_json(record, source=BUILT, where=f"label_models.candidates[{i}]"))
    return out


def _policy() -> str:
    from labelkit.pipeline.baselines import POLICY

    return POLICY


def _audit_section(audit: AuditOutcome, config: Config, raw: TaskData, cleaning: dict | None) -> Audit:
    findings = audit.findings()
    summary = (findings.groupby(["reason", "split"]).size().reset_index(name="count").to_dict("records")
               if len(findings) else [])
    texts = {}
    for split, frame in raw.frames.items():
        if config.data.text_column in frame.columns:
            texts[split] = dict(zip(frame[config.data.id_column].astype(str), frame[config.data.text_column]))
    examples = []
    for reason, group in findings.groupby("reason", sort=True):
        for record in group.head(3).to_dict("records"):
            text = texts.get(record["split"], {}).get(str(record["row_id"]), "")
            examples.append(AuditExample(reason=reason, split=record["split"], row_id=str(record["row_id"]),
                                         text="" if text != text else str(text)[:240],
                                         evidence=str(record["evidence"])))
    return Audit(
        summary=[AuditCount.from_json(r, source=BUILT, where="audit.summary") for r in summary],
        accounting={s: Accounting.from_json(a, source=BUILT, where=f"audit.accounting.{s}")
                    for s, a in audit.clean.accounting.items()},
        before_after=BeforeAfter.from_json(cleaning or {}, source=BUILT, where="audit.before_after"),
        examples=examples,
        warnings=list(getattr(audit.result, "warnings", [])),
    )
