"""`labelkit build`: load -> audit -> apply LFs -> LF analysis -> label model -> end model -> evaluate -> artifacts.

Each stage is a small function; `build` strings them together and writes every artifact into a
temporary folder that becomes the output folder only when the whole build succeeded.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit import baselines
from labelkit.config import Config
from labelkit.data import GOLD_SPLITS, TaskData, load_task_data
from labelkit.errors import CheckFailed, LabelingFunctionError, LabelModelError
from labelkit.manifest import StageTimer

LEAKAGE_REASONS = ("exact_duplicate_cross_split", "near_duplicate_cross_split", "group_leakage", "identifier_leakage")
SYSTEMS = ("majority_class", "stratified_random", "rule_baseline", "label_model", "end_model")


@dataclass
class Votes:
    L: dict[str, np.ndarray]  # split -> label matrix
    lf_names: list[str]
    kinds: list[str]
    errors: dict[str, int] = field(default_factory=dict)
    parser_description: str | None = None


@dataclass
class AuditOutcome:
    result: object  # quality.AuditResult
    clean: object  # quality.CleanResult
    weak_findings: pd.DataFrame | None = None


@dataclass
class BuildOutcome:
    out: Path
    metrics: dict
    failed_checks: list[str]


# ---------------------------------------------------------------- stages

def load_labeling_functions(config: Config, *, require_lfs: bool = True):
    """The LF modules' LFs, slicing functions and test-row detectors, and the modules' paths."""
    from labelkit.lfs import ModuleContents, load_modules

    if not config.task.labeling_functions:
        if not require_lfs:
            return ModuleContents(), []
        raise LabelingFunctionError("No LF modules configured; set [task -> labeling_functions] to a list of .py files.")
    paths = [config.resolve(p) for p in config.task.labeling_functions]
    contents = load_modules(paths)
    if require_lfs and not contents.lfs:
        raise LabelingFunctionError(f"No labeling functions found in {', '.join(map(str, paths))}.")
    return contents, paths


def apply_votes(config: Config, data: TaskData, lfs, *, splits=("train", "dev", "test")) -> Votes:
    if data.votes is not None:  # WRENCH folder or precomputed vote columns
        return Votes({s: data.votes[s] for s in splits}, list(data.vote_names), ["precomputed"] * len(data.vote_names))
    L, errors, parser = {}, {}, None
    for split in splits:
        result = apply_votes_to(config, data.frames[split], lfs, data.schema.classes,
                                where=f"{split} ({data.inputs[split]['path']})")
        L[split] = result.L
        for name, count in result.errors.items():
            errors[f"{name}@{split}"] = count
        parser = getattr(result, "parser_description", None) or parser
    names = [lf.name for lf in lfs]
    if parser is None and any(lf.kind.startswith("spacy") for lf in lfs):
        parser = spacy_pipeline_name(config.lfs.spacy_model)
    return Votes(L, names, [lf.kind for lf in lfs], errors, parser)


def apply_votes_to(config: Config, frame: pd.DataFrame, lfs, classes: tuple[str, ...], *, where: str):
    """The LFs' votes on one table, with the configured engine."""
    from labelkit.apply.engines import apply_with_engine

    return apply_with_engine(
        lfs, frame, classes, engine=config.lfs.engine,
        scheduler=config.lfs.scheduler or None, text_column=config.data.text_column,
        id_column=config.data.id_column, spacy_model=config.lfs.spacy_model or None,
        on_error=config.lfs.on_error, where=where,
    )


def spacy_pipeline_name(model: str) -> str:
    """Which spaCy pipeline parsed the texts, for the manifest."""
    from importlib import metadata

    if not model or model.startswith("blank:"):
        lang = model.split(":", 1)[1] if model else "en"
        return f"spacy.blank({lang!r}) (spaCy {metadata.version('spacy')})"
    try:
        return f"{model} {metadata.version(model)}"
    except metadata.PackageNotFoundError:
        return model


def check_votes(votes: Votes, candidates: list[str]) -> None:
    L = votes.L["train"]
    if "snorkel" in candidates and L.shape[1] < 3:
        raise LabelModelError(
            f"snorkel's LabelModel needs at least 3 LFs, found {L.shape[1]} ({', '.join(votes.lf_names)}); "
            f"add LFs or remove 'snorkel' from [label_model -> candidates]."
        )
    if not (L >= 0).any():
        raise LabelModelError(
            f"No LF fired on any train row ({L.shape[0]} rows, {L.shape[1]} LFs); check the LFs' keywords "
            f"and the text column."
        )


def run_audit(config: Config, data: TaskData, detectors=()) -> AuditOutcome:
    from labelkit.quality import apply_policies
    from labelkit.quality import run_audit as audit

    spec = audit_spec(config, data, detectors)
    result = audit(data.frames, spec)
    clean = apply_policies(data.frames, result.findings, spec.policies)
    return AuditOutcome(result, clean)


def audit_spec(config: Config, data: TaskData, detectors=()):
    from labelkit.quality import AuditSpec

    d, a = config.data, config.audit
    return AuditSpec(
        id_column=d.id_column, text_column=d.text_column or None, label_column=d.label_column,
        classes=data.schema.classes, group_column=d.group_column or None, time_column=d.time_column or None,
        checks=tuple(a.checks) or None, policies=dict(a.policies), rules=list(a.rules),
        near_duplicate_threshold=a.near_duplicate_threshold, seed=config.task.seed, detectors=list(detectors),
    )


def cleaned_data(data: TaskData, frames: dict[str, pd.DataFrame], config: Config) -> TaskData:
    gold = {s: data.schema.encode_gold(frames[s][config.data.label_column].tolist(), where=f"{s} (cleaned)")
            for s in GOLD_SPLITS}
    votes = None
    if data.votes is not None:  # keep the precomputed votes of the rows that stayed
        votes = {}
        for split, frame in frames.items():
            position = pd.Index(data.frames[split][config.data.id_column]).get_indexer(frame[config.data.id_column])
            votes[split] = data.votes[split][position]
    return dataclasses.replace(data, frames=frames, gold=gold, votes=votes)


def choose_label_model(config: Config, votes: Votes, data: TaskData):
    from labelkit.labelmodels import class_balance_from_dev, select_label_model

    k = data.schema.cardinality
    prior = class_balance_from_dev(data.gold["dev"], k)
    balance = {"dev": prior, "uniform": np.full(k, 1.0 / k), "estimate": None}[config.label_model.class_balance]
    selection = select_label_model(
        list(config.label_model.candidates), votes.L["train"], votes.L["dev"], data.gold["dev"],
        cardinality=k, seed=config.task.seed, metric=config.label_model.metric, class_balance=balance,
    )
    return selection, prior


def train_targets(labels: str, config: Config, proba: np.ndarray, L: np.ndarray, prior: np.ndarray):
    """Rows and targets the end model trains on: covered rows (all rows if include_uncovered)."""
    from labelkit.labelmodels import hard_predictions

    keep = (L >= 0).any(axis=1) | config.end_model.include_uncovered
    keep = np.asarray(keep, dtype=bool)
    if labels == "soft":
        return keep, proba[keep]
    return keep, hard_predictions(proba[keep], prior)


def fit_end_model(config: Config, data: TaskData, proba: np.ndarray, L_train: np.ndarray, prior: np.ndarray,
                  Cs=None, labels: str | None = None):
    from labelkit.endmodel import train_end_model

    labels = labels or config.end_model.labels
    keep, targets = train_targets(labels, config, proba, L_train, prior)
    return train_end_model(
        data.frames["train"].loc[keep], targets, data.schema.classes, text_column=config.data.text_column,
        feature_columns=list(config.data.feature_columns), dev=data.frames["dev"], y_dev=data.gold["dev"],
        Cs=list(Cs or config.end_model.C), soft=labels == "soft",
        max_features=config.end_model.max_features, seed=config.task.seed,
    )


def predict_systems(config: Config, frame: pd.DataFrame, L: np.ndarray, selection, prior, end_model) -> dict:
    from labelkit.labelmodels import hard_predictions

    n = len(frame)
    preds = {
        "majority_class": baselines.majority_class(n, prior),
        "stratified_random": baselines.stratified_random(n, prior, config.task.seed),
        "rule_baseline": baselines.rule_baseline(L, prior),
        "label_model": hard_predictions(selection.model.predict_proba(L), prior),
    }
    if end_model is not None:
        preds["end_model"] = end_model.predict(frame)
    return preds


def evaluate_test(config: Config, data: TaskData, votes: Votes, preds: dict, *, lfs, selection, prior,
                  end_model, audit: AuditOutcome | None, slicing_functions=()) -> dict:
    from labelkit import evaluate as ev

    classes = data.schema.classes
    test = data.frames["test"]
    y = data.gold["test"]
    model_name = "end_model" if "end_model" in preds else "label_model"
    systems = ev.compare_systems(
        y, preds, classes, coverage={"rule_baseline": baselines.coverage(votes.L["test"])},
        seed=config.task.seed, n_boot=config.evaluate.bootstrap, baseline="rule_baseline", model=model_name,
    )
    slice_columns = list(config.evaluate.slice_columns or config.data.slice_columns)
    slices = ev.slice_table(
        test, y, preds, classes, slice_columns=slice_columns, slicing_functions=list(slicing_functions),
        auto_slices=config.evaluate.auto_slices, min_size=config.evaluate.min_slice_size,
        exclude_columns=_not_slices(config), seed=config.task.seed,
    )
    metrics = {
        "systems": systems,
        "slices": slices,
        "guardrails": ev.find_guardrail_failures(
            slices, baseline="rule_baseline", model=model_name, tolerance=config.evaluate.guardrail_tolerance),
    }
    if config.data.time_column:
        metrics["drift"] = ev.drift_table(test, config.data.time_column, y, preds, classes,
                                          freq=config.evaluate.drift_freq)
        if metrics["drift"].get("unparseable_time"):
            metrics["drift"]["unparseable_time"] = f"test: {metrics['drift']['unparseable_time']}"
    if config.evaluate.expectations:
        metrics["expectations"] = check_expectations(config, data, lfs, votes, selection, prior, end_model)
    metrics["warnings"] = ev.too_good_to_be_true(systems, leakage_findings_count=unresolved_leakage(audit))
    if metrics.get("drift", {}).get("unparseable_time"):
        metrics["warnings"].append(metrics["drift"]["unparseable_time"] + " They are left out of the drift table.")
    if audit is None:
        metrics["warnings"].append("The data-quality audit was skipped (--no-audit): leakage and test-log rows "
                                   "were not looked for, so these scores are not checked against them.")
    return metrics


def unresolved_leakage(audit: AuditOutcome | None) -> int:
    """Leakage findings on train rows that are still in the training data (a leak is a pair: once the
    train copy is quarantined, the dev/test copy is clean to score)."""
    if audit is None:
        return 0
    findings = audit.result.findings
    leaks = findings[findings["reason"].isin(LEAKAGE_REASONS) & (findings["split"] == "train")]
    quarantine = audit.clean.quarantine
    removed = set(zip(quarantine["split"].astype(str), quarantine["row_id"].astype(str))) if len(quarantine) else set()
    return sum((split, str(row)) not in removed for split, row in zip(leaks["split"], leaks["row_id"]))


def _not_slices(config: Config) -> list[str]:
    """Automatic slices never use the id/text/label/time/group columns themselves."""
    d = config.data
    return [c for c in (d.id_column, d.text_column, d.label_column, d.time_column, d.group_column) if c]


def check_expectations(config: Config, data: TaskData, lfs, votes: Votes, selection, prior, end_model) -> dict:
    from labelkit import evaluate as ev
    from labelkit.labelmodels import hard_predictions

    table = ev.load_expectations(config.resolve(config.evaluate.expectations), data.schema.classes)
    text = config.data.text_column
    if text != "text" and "text" in table.columns and text not in table.columns:
        table = table.rename(columns={"text": text})

    def rule_votes(frame):
        from labelkit.apply import apply_lfs
        from labelkit.lfs.spacy_lfs import SpacyParser

        return apply_lfs(lfs, frame, data.schema.classes, text_column=text,
                         parser=SpacyParser(config.lfs.spacy_model or None), where="expectations").L

    predictors = {
        "rule_baseline": lambda frame: baselines.rule_baseline(rule_votes(frame), prior),
        "label_model": lambda frame: hard_predictions(selection.model.predict_proba(rule_votes(frame)), prior),
    }
    if end_model is not None:
        predictors["end_model"] = lambda frame: end_model.predict(_with_columns(frame, data.frames["train"]))
    if data.votes is not None:  # precomputed votes cannot be recomputed on new rows
        predictors = {k: v for k, v in predictors.items() if k == "end_model"}
    return ev.check_expectations(table, predictors, data.schema.classes)


def _with_columns(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Add missing feature columns (as empty) so the end model can score hand-written rows."""
    out = frame.copy()
    for column in like.columns:
        if column not in out.columns:
            out[column] = pd.Series([None] * len(out), dtype=like[column].dtype if like[column].dtype != object else object)
    return out


def before_after(config: Config, raw: TaskData, raw_votes: Votes, clean_metrics: dict, selection, prior,
                 C: float | None = None) -> dict:
    """Test scores without any cleaning (rules + a model trained on the raw train split) vs after."""
    from labelkit import evaluate as ev
    from labelkit.labelmodels import hard_predictions

    proba = selection.model.predict_proba(raw_votes.L["train"])
    end_model = (fit_end_model(config, raw, proba, raw_votes.L["train"], prior, Cs=[C] if C else None)
                 if config.end_model.enabled else None)
    preds = predict_systems(config, raw.frames["test"], raw_votes.L["test"], selection, prior, end_model)
    out = {}
    for name, pred in preds.items():
        before = ev.classification_metrics(raw.gold["test"], pred, raw.schema.classes)
        after = clean_metrics["systems"]["systems"][name] if "systems" in clean_metrics["systems"] else clean_metrics["systems"][name]
        out[name] = {"before": round(before["accuracy"], 4), "after": round(_accuracy(after), 4),
                     "rows_before": len(pred)}
    return out


def _accuracy(entry: dict) -> float:
    value = entry.get("accuracy")
    return float(value["value"] if isinstance(value, dict) else value)


# ---------------------------------------------------------------- orchestration

def build(config: Config, *, out: Path, force: bool = False, notify=None, fail_on=()) -> BuildOutcome:
    """Run the whole pipeline; artifacts appear in `out` only if every stage succeeded."""
    from labelkit.artifacts import write_build

    timer = StageTimer(notify)
    with timer.stage("load data"):
        raw = load_task_data(config)
        for warning in raw.warnings:
            timer.notify(f"warning: {warning}")
        modules, lf_paths = load_labeling_functions(config, require_lfs=raw.votes is None)
        lfs = modules.lfs
    audit = None
    data = raw
    if config.audit.enabled:
        with timer.stage("audit"):
            audit = run_audit(config, raw, modules.detectors)
            data = cleaned_data(raw, audit.clean.splits, config)
    with timer.stage("apply LFs"):
        votes = apply_votes(config, data, lfs)
        check_votes(votes, list(config.label_model.candidates))
    with timer.stage("label model"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            selection, prior = choose_label_model(config, votes, data)
        proba_train = selection.model.predict_proba(votes.L["train"])
    if audit is not None and config.audit.weak_label_issues:
        with timer.stage("weak-label audit"):
            audit.weak_findings = _weak_label_findings(config, data, proba_train, votes.L["train"])
    end_model = hard_model = None
    if config.end_model.enabled:
        with timer.stage("end model"):
            end_model = fit_end_model(config, data, proba_train, votes.L["train"], prior)
            if config.end_model.compare_hard and config.end_model.labels == "soft":
                hard_model = fit_end_model(config, data, proba_train, votes.L["train"], prior, Cs=[end_model.C],
                                           labels="hard")
    with timer.stage("evaluate"):
        preds = predict_systems(config, data.frames["test"], votes.L["test"], selection, prior, end_model)
        if hard_model is not None:
            preds["end_model_hard_labels"] = hard_model.predict(data.frames["test"])
        metrics = evaluate_test(config, data, votes, preds, lfs=lfs, selection=selection, prior=prior,
                                end_model=end_model, audit=audit, slicing_functions=modules.slicing_functions)
        if "drift" in metrics:
            from labelkit.holdout import temporal_holdout

            holdout = temporal_holdout(config, data, proba_train, votes.L["train"], prior, preds, end_model,
                                       metrics["drift"])
            if holdout:
                metrics["drift"]["temporal_holdout"] = holdout
        if audit is not None:
            raw_votes = apply_votes(config, raw, lfs) if raw.votes is None else Votes(raw.votes, votes.lf_names, votes.kinds)
            metrics["audit_before_after"] = before_after(config, raw, raw_votes, metrics, selection, prior,
                                                         C=end_model.C if end_model else None)
        metrics["label_model_warnings"] = sorted({str(w.message) for w in caught})
        metrics["warnings"] = raw.warnings + metrics["warnings"]
    failed = failed_checks(metrics, audit, fail_on or config.evaluate.fail_on)
    with timer.stage("write artifacts"):
        metrics = write_build(
            out, force=force, config=config, raw=raw, data=data, lfs=lfs, lf_paths=lf_paths, votes=votes,
            selection=selection, prior=prior, proba_train=proba_train, end_model=end_model, preds=preds,
            metrics=metrics, audit=audit, timer=timer,
        )
    return BuildOutcome(Path(out), metrics, failed)


def _weak_label_findings(config: Config, data: TaskData, proba_train: np.ndarray, L_train: np.ndarray):
    """Covered train rows whose weak label a cross-validated model doubts (rows no LF voted on have
    no weak label to doubt)."""
    from labelkit.quality import audit_weak_labels

    covered = (L_train >= 0).any(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return audit_weak_labels(data.frames["train"].loc[covered], proba_train[covered], audit_spec(config, data))


def failed_checks(metrics: dict, audit: AuditOutcome | None, fail_on) -> list[str]:
    failed = []
    if "guardrail" in fail_on and metrics.get("guardrails"):
        failed.append(f"guardrail: {len(metrics['guardrails'])} slice(s) where the model is worse than the rules")
    expectations = metrics.get("expectations") or {}
    if "expectations" in fail_on:
        failures = sum(len(v.get("failures", [])) for v in expectations.values() if isinstance(v, dict))
        if failures:
            failed.append(f"expectations: {failures} expectation(s) failed")
    if "too-good" in fail_on and metrics.get("warnings"):
        failed.append("too-good: " + metrics["warnings"][0])
    if audit is not None:
        reasons = audit.result.findings["reason"].astype(str)
        if "leakage" in fail_on:
            n = int(reasons.str.contains("leak|cross_split", regex=True).sum())
            if n:
                failed.append(f"leakage: {n} leakage finding(s)")
        if "test-rows" in fail_on:
            n = int(reasons.str.startswith("test_row").sum())
            if n:
                failed.append(f"test-rows: {n} test/QA row finding(s)")
    return failed


def raise_for_failed(outcome: BuildOutcome) -> None:
    if outcome.failed_checks:
        raise CheckFailed("; ".join(outcome.failed_checks) + f" (artifacts written to {outcome.out})")
