"""Scoring the systems on the gold test rows: predictions, metrics with intervals, slices,
guardrails, drift, expectations, before/after cleaning, and the --fail-on checks."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labelkit.pipeline import baselines
from labelkit.settings.config import Config
from labelkit.data.load import TaskData
from labelkit.pipeline.stages import (
    AuditOutcome,
    Votes,
    apply_votes_to,
    fit_comparison_model,
    fit_end_model,
    label_model_proba,
)

LEAKAGE_REASONS = ("exact_duplicate_cross_split", "near_duplicate_cross_split", "group_leakage", "identifier_leakage")


def predict_systems(config: Config, frame: pd.DataFrame, L: np.ndarray, selection, prior, end_model) -> dict:
    n = len(frame)
    preds = {
        "majority_class": baselines.majority_class(n, prior),
        "stratified_random": baselines.stratified_random(n, prior, config.task.seed),
        "rule_baseline": baselines.rule_baseline(L, prior),
        "label_model": selection.model.predict(L),  # ties: the chosen candidate's own prior
    }
    if end_model is not None:
        preds["end_model"] = end_model.predict(frame)
    return preds


def evaluate_test(config: Config, data: TaskData, votes: Votes, preds: dict, *, lfs, selection, prior,
                  end_model, audit: AuditOutcome | None, slicing_functions=(), notebook: bool = False) -> dict:
    from labelkit import evaluate as ev

    classes = data.schema.classes
    test = data.frames["test"]
    y = data.gold["test"]
    model_name = "end_model" if "end_model" in preds else "label_model"
    systems = ev.compare_systems(
        y, preds, classes, coverage={"rule_baseline": baselines.coverage(votes.L["test"])},
        seed=config.task.seed, n_boot=config.evaluate.bootstrap, baseline="rule_baseline", model=model_name,
        positive=reported_positive(selection, data), metric=selection.metric,
    )
    slice_columns = list(config.evaluate.slice_columns or config.data.slice_columns)
    slices = ev.slice_table(
        test, y, preds, classes, slice_columns=slice_columns, slicing_functions=list(slicing_functions),
        auto_slices=config.evaluate.auto_slices, min_size=config.evaluate.min_slice_size,
        exclude_columns=_not_slices(config), seed=config.task.seed,
    )
    metrics: dict[str, Any] = {
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
    metrics["gold_rows"] = gold_rows_scored(data, audit)
    metrics["warnings"] = ev.too_good_to_be_true(systems, leakage_findings_count=unresolved_leakage(audit))
    if metrics.get("drift", {}).get("unparseable_time"):
        metrics["warnings"].append(metrics["drift"]["unparseable_time"] + " They are left out of the drift table.")
    if audit is None:
        metrics["warnings"].append("The data-quality audit was skipped (--no-audit): leakage and test-log rows "
                                   "were not looked for, so these scores are not checked against them.")
    else:  # a large share of a split quarantined is said first: it changes what was trained on or scored
        from labelkit.quality.policies import quarantine_warnings

        metrics["warnings"][:0] = quarantine_warnings(audit.clean, config.audit.policies, config_path=config.path,
                                                      notebook=notebook)
        metrics["warnings"] += list(getattr(audit.result, "notes", []))  # what it could not check (no text column)
    metrics["warnings"] += vote_warnings(votes.L, classes)
    return metrics


def vote_warnings(L: dict, classes) -> list[str]:
    """Warnings about the votes themselves: a class no LF votes for on train (the rules can never
    predict it), a dev split on which every LF abstains (dev cannot compare the label models)."""
    out = []
    unvoted = [name for c, name in enumerate(classes) if not (L["train"] == c).any()]
    if unvoted:
        out.append(f"No LF votes for class(es) {', '.join(map(repr, unvoted))} on any train row, so the rule "
                   f"baseline and the label model predict them at most as the class prior where every LF abstains, "
                   f"and the end model learns them only from that prior; write LFs for them.")
    if len(L["dev"]) and not (L["dev"] >= 0).any():
        out.append(f"Every LF abstains on all {len(L['dev'])} dev rows, so every label model predicts its class "
                   f"prior there: dev compared only their priors, not how they weigh the LFs.")
    return out


def gold_rows_scored(data: TaskData, audit: AuditOutcome | None) -> dict:
    """Per gold split: rows given, rows scored, and rows left out per audit reason (the quarantine).
    The untouched test split is scored too: see audit_before_after ("before", on every given row)."""
    out = {}
    quarantine = audit.clean.quarantine if audit is not None else None
    for split in ("dev", "test"):
        left_out: dict[str, int] = {}
        if quarantine is not None and len(quarantine):
            for reasons in quarantine.loc[quarantine["split"] == split, "reasons"]:
                left_out[str(reasons)] = left_out.get(str(reasons), 0) + 1
        scored = len(data.frames[split])
        out[split] = {"given": scored + sum(left_out.values()), "scored": scored, "left_out": left_out}
    return out


def reported_positive(selection, data: TaskData) -> int | None:
    """The class whose F1 the reports show beside accuracy (the literature's metric on binary imbalanced
    sets): the selection's positive class, else on a binary task the rarer dev class; None otherwise."""
    if selection.positive is not None:
        return selection.positive
    if data.schema.cardinality != 2:
        return None
    counts = np.bincount(np.asarray(data.gold["dev"], dtype=np.int64), minlength=2)
    return 1 if counts[1] <= counts[0] else 0


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
    from labelkit.data.load import with_expectations

    table = with_expectations(config, data).expectations  # read and checked when the data was loaded
    computed: dict[int, np.ndarray] = {}

    def rule_votes(frame):  # the rules and the label model share one application of the LFs, on the
        if id(frame) not in computed:  # build's engine, parser and --lf-errors policy
            computed[id(frame)] = apply_votes_to(config, frame, lfs, data.schema.classes, parser=votes.parser,
                                                 where=f"expectations ({config.evaluate.expectations})").L
        return computed[id(frame)]

    predictors = {
        "rule_baseline": lambda frame: baselines.rule_baseline(rule_votes(frame), prior),
        "label_model": lambda frame: selection.model.predict(rule_votes(frame)),
    }
    if end_model is not None:
        predictors["end_model"] = lambda frame: end_model.predict(_with_columns(frame, data.frames["train"]))
    if data.votes is not None:  # precomputed votes cannot be recomputed on new rows
        predictors = {k: v for k, v in predictors.items() if k == "end_model"}
    return ev.check_expectations(table, predictors, data.schema.classes,
                                 text_column=config.data.text_column or "text")


def _with_columns(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Add missing feature columns (as empty) so the end model can score hand-written rows."""
    out = frame.copy()
    for column in like.columns:
        if column not in out.columns:
            out[column] = pd.Series([None] * len(out), dtype=like[column].dtype if like[column].dtype != object else object)
    return out


def before_after(config: Config, raw: TaskData, raw_votes: Votes, clean, selection, prior,
                 C: float | None = None, like=None, notify=None) -> dict:
    """Test scores without any cleaning (rules + a model trained on the raw train split) vs after (`clean`:
    the systems scored on the cleaned test rows, labelkit.results.Systems).
    With `like` (the build's end model) past [end_model] stream_rows covered rows, the model before
    cleaning trains on a seeded sample, and `sampled_rows` / `note` beside the systems say so."""
    from labelkit import evaluate as ev

    proba = label_model_proba(selection.model, raw_votes.L["train"])
    end_model, sampling = None, {}
    if config.end_model.enabled and like is not None and like.C is not None:
        end_model, sampling = fit_comparison_model(config, raw, proba, raw_votes.L["train"], prior, like=like,
                                                   what="The end model before cleaning", notify=notify)
    elif config.end_model.enabled:
        end_model = fit_end_model(config, raw, proba, raw_votes.L["train"], prior, Cs=[C] if C else None, like=like)
    preds = predict_systems(config, raw.frames["test"], raw_votes.L["test"], selection, prior, end_model)
    out = {}
    for name, pred in preds.items():
        before = ev.classification_metrics(raw.gold["test"], pred, raw.schema.classes)
        after = clean.systems[name].accuracy
        out[name] = {"before": round(before["accuracy"], 4), "after": round(float(after), 4),
                     "rows_before": len(pred)}
    return {**out, **sampling}


def failed_checks(results, audit: AuditOutcome | None, fail_on) -> list[str]:
    """The --fail-on checks that fail for a build's results (labelkit.results.BuildResults)."""
    failed = []
    if "guardrail" in fail_on and results.guardrails:
        failed.append(f"guardrail: {len(results.guardrails)} slice(s) where the model is worse than the rules")
    if "expectations" in fail_on:
        failures = sum(len(v.failures) for v in (results.expectations or {}).values())
        if failures:
            failed.append(f"expectations: {failures} expectation(s) failed")
    if "checks" in fail_on:
        errors = [c for c in results.checks if c.severity == "error"]
        if errors:
            failed.append(f"checks: {len(errors)} error-level finding(s) of the build's checks of itself: "
                          + "; ".join(c.message for c in errors))
    if "too-good" in fail_on:
        from labelkit import evaluate as ev

        # scores only: the results' warnings also hold notes that are not about scores, leakage is its
        # own check, and a small test set is a warning, not a too-good score
        too_good = ev.too_good_to_be_true(results.systems.to_json(), small_test_set=0)
        if too_good:
            failed.append("too-good: " + too_good[0])
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
