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

from labelkit.config import Config
from labelkit.data import GOLD_SPLITS, TaskData, load_task_data
from labelkit.errors import CheckFailed, LabelingFunctionError, LabelModelError
from labelkit.manifest import StageTimer



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
    if L.shape[0] == 0:
        raise LabelModelError(
            "No train rows are left after the audit quarantined them all; look at quarantine reasons with "
            "`labelkit audit`, relax [audit -> policies], or build with --no-audit."
        )
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
        feature_columns=tuple(d.feature_columns),
    )


def cleaned_data(data: TaskData, frames: dict[str, pd.DataFrame], config: Config) -> TaskData:
    gold = {s: data.schema.encode_gold(frames[s][config.data.label_column].tolist(), where=f"{s} (cleaned)")
            for s in GOLD_SPLITS}
    votes = None
    if data.votes is not None:  # keep the precomputed votes of the rows that stayed
        votes = {split: data.votes[split][_kept_rows(data, frame, split, config)] for split, frame in frames.items()}
    return dataclasses.replace(data, frames=frames, gold=gold, votes=votes)


def kept_votes(raw_votes: Votes, raw: TaskData, data: TaskData, config: Config) -> Votes:
    """The votes of the rows the audit kept, taken from the votes on all rows (LFs run once)."""
    L = {split: raw_votes.L[split][_kept_rows(raw, data.frames[split], split, config)] for split in raw_votes.L}
    return dataclasses.replace(raw_votes, L=L)


def _kept_rows(raw: TaskData, kept: pd.DataFrame, split: str, config: Config) -> np.ndarray:
    """Positions in the raw split of the rows in `kept` (ids are unique: the loader makes them so)."""
    return pd.Index(raw.frames[split][config.data.id_column]).get_indexer(kept[config.data.id_column])


def choose_label_model(config: Config, votes: Votes, data: TaskData):
    from labelkit.labelmodels import class_balance_from_dev, select_label_model

    k = data.schema.cardinality
    prior = class_balance_from_dev(data.gold["dev"], k)
    setting = config.label_model.class_balance
    if isinstance(setting, list):  # given by the user
        balance = np.asarray(setting, dtype=float) / np.sum(setting)
    else:
        balance = {"dev": prior, "uniform": np.full(k, 1.0 / k), "estimate": None}[setting]
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
        max_features=config.end_model.max_features, seed=config.task.seed, metric=config.label_model.metric,
    )


# ---------------------------------------------------------------- orchestration

def build(config: Config, *, out: Path, force: bool = False, notify=None, fail_on=()) -> BuildOutcome:
    """Run the whole pipeline; artifacts appear in `out` only if every stage succeeded."""
    from labelkit.artifacts import write_build
    from labelkit.scoring import before_after, evaluate_test, failed_checks, predict_systems

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
        raw_votes = apply_votes(config, raw, lfs)
        votes = raw_votes if audit is None else kept_votes(raw_votes, raw, data, config)
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


def raise_for_failed(outcome: BuildOutcome) -> None:
    if outcome.failed_checks:
        raise CheckFailed("; ".join(outcome.failed_checks) + f" (artifacts written to {outcome.out})")
