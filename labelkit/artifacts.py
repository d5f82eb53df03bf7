"""Everything a build writes, into a folder that appears only when all of it is written."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.io import atomic_output_dir, write_json, write_review_csv
from labelkit.labelmodels.persist import save_label_model
from labelkit.manifest import git_commit, package_versions
from labelkit.results import (
    Accounting, Audit, AuditCount, AuditExample, BeforeAfter, BuildResults, Calibration, EndModelInfo, LabelModelCandidate,
    LabelModels, LFStats, ManifestSummary, MatrixStats, TaskInfo, read_sections,
)

BUILT = "the build's results"  # where a malformed section comes from, in an error message


def write_build(out: Path, *, force, config, raw, data, lfs, lf_paths, votes, selection, prior, proba_train,
                end_model, preds, metrics, audit, timer) -> BuildResults:
    results, manifest, summary, examples = summarize_build(
        config=config, raw=raw, data=data, lf_paths=lf_paths, votes=votes, selection=selection, prior=prior,
        end_model=end_model, metrics=metrics, audit=audit, timer=timer)
    write_files(out, force=force, config=config, data=data, votes=votes, selection=selection, prior=prior,
                proba_train=proba_train, end_model=end_model, preds=preds, metrics=results, manifest=manifest,
                summary=summary, examples=examples, audit=audit, timer=timer)
    return results


def summarize_build(*, config, raw, data, lf_paths, votes, selection, prior, end_model, metrics, audit, timer):
    """The build's typed results (metrics.json), manifest, LF summary and examples; nothing is written.
    `metrics` is the evaluation's dict (labelkit.scoring); each section is read into its record here,
    so a key the writer and the readers disagree on fails the build, not the report."""
    from labelkit.analysis import matrix_stats
    from labelkit.lfreport import summarize_lfs

    classes = data.schema.classes
    summary, examples = summarize_lfs(config, data, votes)
    manifest = build_manifest(config, raw, lf_paths, votes, timer)
    manifest["label_model"] = {"chosen": selection.name, "candidate": selection.key,
                               "dev_scores": selection.dev_scores, "metric": selection.metric,
                               "file": "label_model.json"}  # fit times: timings_seconds "label model fit: ..."
    manifest["end_model"] = None if end_model is None else {
        "C": end_model.C, "labels": config.end_model.labels, "features": end_model.features,
        "class_weight": end_model.class_weight, "kind": end_model.kind, "file": "model.skops"}
    if end_model is not None and end_model.features in ("embeddings", "tfidf+embeddings"):
        from labelkit.endmodel.embedding_features import embedding_parts  # the model referenced, never copied

        manifest["end_model"]["embeddings"] = [dict(part.embedding_) for part in embedding_parts(end_model.pipeline)]
    manifest["rules_files"] = _rules_files(config)
    manifest["corrections"] = metrics.get("corrections")  # reviewers' decisions this build applied
    if metrics.get("human_labels") is not None:  # human-labelled training rows: files, SHA-256s, rows, weight
        manifest["human_labels"] = {key: metrics["human_labels"].get(key) for key in ("sources", "rows", "weight")}
    evaluated = dict(metrics)
    before_after = evaluated.pop("audit_before_after", None)
    sections, extra = read_sections(evaluated, source=BUILT)
    computed = dict(
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
        end_model=None if end_model is None else EndModelInfo(
            C=end_model.C, metric=config.label_model.metric, features=end_model.features,
            class_weight=end_model.class_weight, kind=end_model.kind,
            dev_score_by_candidate=dict(end_model.dev_scores), trained_on_dev=end_model.trained_on_dev,
            train_rows=end_model.train_rows, labels=config.end_model.labels, notes=list(end_model.notes),
            threshold=end_model.threshold,
            threshold_class=None if end_model.positive is None else end_model.classes[end_model.positive],
            uncovered_label=None if end_model.uncovered_target is None else
            {c: round(p, 4) for c, p in zip(end_model.classes, end_model.uncovered_target)}),
    )
    computed.update((k, v) for k, v in sections.items() if k not in ("manifest", "audit"))  # systems, slices, ...
    results = BuildResults(
        **computed,
        manifest=ManifestSummary(seed=config.task.seed, git=manifest["git"],
                                 lf_source_sha256=manifest["lf_source_sha256"],
                                 inputs={s: v["sha256"][:12] for s, v in manifest["inputs"].items()}),
        audit=None if audit is None else _audit_section(audit, config, raw, before_after),
        extra=extra,
    )
    from labelkit.evaluate.verdict import compute_verdict

    results.verdict = compute_verdict(results.systems, results.guardrails, results.checks)  # the one verdict
    return results, manifest, summary, examples


def write_files(out: Path, *, force, config, data, votes, selection, prior, proba_train, end_model, preds,
                metrics, manifest, summary, examples, audit, timer, extra=None, report_html=None) -> None:
    """Write every artifact of a summarized build into `out`, atomically; `extra(folder)` may add
    files of its own to the same output (e.g. `labelkit repair`'s plan). `metrics` is the BuildResults
    of summarize_build (a metrics.json dict is read into one first)."""
    if not isinstance(metrics, BuildResults):
        metrics = BuildResults.from_json(metrics, source=BUILT)
    with atomic_output_dir(out, force=force, kind="build") as tmp:
        if extra is not None:
            extra(tmp)
        _write_train_labels(tmp, config, data, votes, proba_train, selection, prior)
        _write_test_predictions(tmp, config, data, preds)
        write_json(tmp / "lf_summary.json", {"lf_summary": summary, "examples": examples})
        write_review_csv(pd.DataFrame(summary), tmp / "lf_summary.csv")
        save_label_model(selection.model, tmp / "label_model.json")  # JSON: labelkit.labelmodels.load_label_model
        if end_model is not None:
            from labelkit.endmodel import save_end_model

            save_end_model(end_model, tmp / "model.skops")  # skops, not pickle: labelkit.endmodel.load_end_model
        if audit is not None:
            _write_audit(tmp, audit, config)
        _write_wrench(tmp, config, data, votes)
        _write_reports(tmp, metrics, examples, report_html)
        write_json(tmp / "metrics.json", metrics.to_json())
        manifest["timings_seconds"] = dict(timer.timings)
        write_json(tmp / "manifest.json", manifest)


def build_manifest(config, raw, lf_paths, votes, timer) -> dict:
    from labelkit.lfs import lf_source_hash

    root = Path(config.path).parent if config.path else Path.cwd()
    return {
        "labelkit_build": 1,
        "config_path": str(Path(config.path).resolve()) if config.path else None,
        "config": config.to_dict(),
        "seed": config.task.seed,
        "inputs": raw.inputs,
        "lf_modules": [str(Path(p).resolve()) for p in lf_paths],
        "lf_source_sha256": lf_source_hash(lf_paths) if lf_paths else None,
        "lf_names": votes.lf_names,
        "data_columns": [str(c) for c in raw.frames["train"].columns],
        "spacy_pipeline": votes.parser_description,
        "versions": package_versions(),
        "git": git_commit(root),
    }


def _rules_files(config) -> list[dict]:
    from labelkit.io import sha256_file

    return [{"path": str(config.resolve(p).resolve()), "sha256": sha256_file(config.resolve(p))} for p in config.task.rules]


def _label_models(selection, classes, prior, votes, data) -> LabelModels:
    return LabelModels(
        chosen=selection.name, candidate=selection.key, class_balance=selection.class_balance,
        dev_scores=dict(selection.dev_scores), metric=selection.metric,
        positive_class=None if selection.positive is None else classes[selection.positive],
        candidates=_candidates(selection, classes), notes=list(selection.notes),
        class_prior=dict(zip(classes, np.round(prior, 4).tolist())),
        calibration=_calibration(selection.model.predict_proba(votes.L["dev"]), data.gold["dev"]),
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
    from labelkit.baselines import POLICY

    return POLICY


def _calibration(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> Calibration:
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    out = {"bins": [], "confidence": [], "accuracy": [], "count": []}
    for b in range(bins):
        mask = which == b
        if mask.any():
            out["bins"].append([round(float(edges[b]), 2), round(float(edges[b + 1]), 2)])
            out["confidence"].append(round(float(confidence[mask].mean()), 4))
            out["accuracy"].append(round(float(correct[mask].mean()), 4))
            out["count"].append(int(mask.sum()))
    return Calibration(**out)


TRAIN_LABELS_CHUNK = 100_000  # train_labels.csv is written this many rows at a time (memory, and progress)


def _write_train_labels(tmp: Path, config, data, votes, proba, selection, prior) -> None:
    """train_labels.csv, chunk by chunk (the same bytes as the whole table at once)."""
    from labelkit.labelmodels import hard_predictions

    classes = data.schema.classes
    frame = data.frames["train"]
    L = votes.L["train"]
    names = np.array([*classes, ""], dtype=object)  # vote -1 (abstain) -> the last entry, ""
    hard = hard_predictions(proba, selection.prior)  # the label model's own tie policy
    columns = [config.data.id_column] + ([config.data.text_column] if config.data.text_column in frame.columns else [])
    for start in range(0, max(len(frame), 1), TRAIN_LABELS_CHUNK):
        rows = slice(start, start + TRAIN_LABELS_CHUNK)
        table = pd.DataFrame({c: frame[c].to_numpy()[rows] for c in columns})
        for j, name in enumerate(votes.lf_names):
            table[f"lf_{name}"] = names[L[rows, j]]
        for k, name in enumerate(classes):
            table[f"prob_{name}"] = np.round(proba[rows, k], 6)
        table["weak_label"] = names[hard[rows]]
        table["covered"] = (L[rows] >= 0).any(axis=1)
        write_review_csv(table, tmp / "train_labels.csv", append=start > 0)


def _write_test_predictions(tmp: Path, config, data, preds: dict) -> None:
    classes = data.schema.classes
    frame = data.frames["test"]
    table = pd.DataFrame({"row_id": frame[config.data.id_column].astype(str).to_numpy()})
    if config.data.text_column in frame.columns:
        table["text"] = frame[config.data.text_column].to_numpy()
    table["gold"] = [classes[i] for i in data.gold["test"]]
    for name, pred in preds.items():
        table[f"pred_{name}"] = [classes[i] for i in pred]
    for column in list(config.evaluate.slice_columns or config.data.slice_columns) + [config.data.time_column]:
        if column and column in frame.columns and column not in table.columns:
            table[column] = frame[column].to_numpy()
    write_review_csv(table, tmp / "test_predictions.csv")


def _audit_section(audit, config, raw, before_after) -> Audit:
    findings = _all_findings(audit)
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
        before_after=BeforeAfter.from_json(before_after or {}, source=BUILT, where="audit.before_after"),
        examples=examples,
        warnings=list(getattr(audit.result, "warnings", [])),
    )


def _all_findings(audit) -> pd.DataFrame:
    parts = [audit.result.findings]
    if audit.weak_findings is not None and len(audit.weak_findings):
        parts.append(audit.weak_findings)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _write_audit(tmp: Path, audit, config) -> None:
    folder = tmp / "cleaned"
    folder.mkdir()
    for split, frame in audit.clean.splits.items():
        frame.to_csv(folder / f"{split}.csv", index=False)
    write_review_csv(audit.clean.quarantine, tmp / "quarantine.csv")  # review CSVs: formula-safe cells
    write_review_csv(_all_findings(audit), tmp / "audit_findings.csv")  # cleaned/ stays exact


def _write_wrench(tmp: Path, config, data, votes) -> None:
    """The label matrices in WRENCH format, for other weak-supervision tools."""
    from labelkit.wrench import write_wrench

    if config.data.text_column not in data.frames["train"].columns:
        return
    splits = {"train": (data.frames["train"], votes.L["train"], None),
              "valid": (data.frames["dev"], votes.L["dev"], data.gold["dev"]),
              "test": (data.frames["test"], votes.L["test"], data.gold["test"])}
    write_wrench(tmp / "wrench", splits, data.schema.classes, config.data.text_column,
                 id_column=config.data.id_column, lf_names=votes.lf_names)


def _write_reports(tmp: Path, metrics: BuildResults, examples: dict, html: str | None = None) -> None:
    """report.md and report.html (`html`: already rendered from these results, e.g. by Result.report())."""
    from labelkit.report import render_html, render_markdown

    extra = {"lf_examples": examples}
    (tmp / "report.md").write_text(render_markdown(metrics, extra), encoding="utf-8")
    (tmp / "report.html").write_text(html if html is not None else render_html(metrics, extra), encoding="utf-8")
