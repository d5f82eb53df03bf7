"""Everything a build writes, into a folder that appears only when all of it is written."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.io import atomic_output_dir, write_json, write_review_csv
from labelkit.labelmodels.persist import save_label_model
from labelkit.manifest import git_commit, package_versions


def write_build(out: Path, *, force, config, raw, data, lfs, lf_paths, votes, selection, prior, proba_train,
                end_model, preds, metrics, audit, timer) -> dict:
    metrics, manifest, summary, examples = summarize_build(
        config=config, raw=raw, data=data, lf_paths=lf_paths, votes=votes, selection=selection, prior=prior,
        end_model=end_model, metrics=metrics, audit=audit, timer=timer)
    write_files(out, force=force, config=config, data=data, votes=votes, selection=selection, prior=prior,
                proba_train=proba_train, end_model=end_model, preds=preds, metrics=metrics, manifest=manifest,
                summary=summary, examples=examples, audit=audit, timer=timer)
    return metrics


def summarize_build(*, config, raw, data, lf_paths, votes, selection, prior, end_model, metrics, audit, timer):
    """The build's full metrics (metrics.json), manifest, LF summary and examples; nothing is written."""
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
    manifest["rules_files"] = _rules_files(config)
    manifest["corrections"] = metrics.get("corrections")  # reviewers' decisions this build applied
    metrics = {
        "task": {"name": config.task.name, "classes": list(classes),
                 "rows": {s: len(f) for s, f in data.frames.items()},
                 "rows_before_audit": {s: len(f) for s, f in raw.frames.items()}},
        "policy": _policy(),
        "label_models": {
            "chosen": selection.name, "candidate": selection.key, "class_balance": selection.class_balance,
            "dev_scores": selection.dev_scores, "metric": selection.metric,
            "positive_class": None if selection.positive is None else classes[selection.positive],
            "candidates": _candidates(selection, classes), "notes": list(selection.notes),
            "class_prior": dict(zip(classes, np.round(prior, 4).tolist())),
            "calibration": _calibration(selection.model.predict_proba(votes.L["dev"]), data.gold["dev"]),
        },
        "label_matrix": {s: matrix_stats(L) for s, L in votes.L.items()},
        "lf_summary": summary,
        "lf_errors": votes.errors,
        "end_model": None if end_model is None else {
            "C": end_model.C, "metric": config.label_model.metric,
            "features": end_model.features, "class_weight": end_model.class_weight, "kind": end_model.kind,
            "dev_score_by_candidate": dict(end_model.dev_scores), "trained_on_dev": end_model.trained_on_dev,
            "train_rows": end_model.train_rows, "labels": config.end_model.labels, "notes": list(end_model.notes)},
        **metrics,
        "manifest": {"seed": config.task.seed, "git": manifest["git"], "lf_source_sha256": manifest["lf_source_sha256"],
                     "inputs": {s: v["sha256"][:12] for s, v in manifest["inputs"].items()}},
    }
    if audit is not None:
        metrics["audit"] = _audit_section(audit, config, data, raw, metrics.pop("audit_before_after", None))
    return metrics, manifest, summary, examples


def write_files(out: Path, *, force, config, data, votes, selection, prior, proba_train, end_model, preds,
                metrics, manifest, summary, examples, audit, timer, extra=None) -> None:
    """Write every artifact of a summarized build into `out`, atomically; `extra(folder)` may add
    files of its own to the same output (e.g. `labelkit repair`'s plan)."""
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
        _write_reports(tmp, metrics, examples)
        write_json(tmp / "metrics.json", metrics)
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


def _candidates(selection, classes) -> list[dict]:
    """Every label-model candidate's dev score, interval, fit time and single-class flag (by class name)."""
    out = []
    for record in selection.candidates:
        record = {k: v for k, v in record.items() if k != "fit_seconds"}  # timings live in the manifest
        if record["predicts_only"] is not None:
            record["predicts_only"] = classes[record["predicts_only"]]
        out.append(record)
    return out


def _policy() -> str:
    from labelkit.baselines import POLICY

    return POLICY


def _calibration(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> dict:
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
    return out


def _write_train_labels(tmp: Path, config, data, votes, proba, selection, prior) -> None:
    from labelkit.labelmodels import hard_predictions

    classes = data.schema.classes
    frame = data.frames["train"]
    table = pd.DataFrame({config.data.id_column: frame[config.data.id_column].to_numpy()})
    if config.data.text_column in frame.columns:
        table[config.data.text_column] = frame[config.data.text_column].to_numpy()
    L = votes.L["train"]
    names = np.array([*classes, ""], dtype=object)  # vote -1 (abstain) -> the last entry, ""
    for j, name in enumerate(votes.lf_names):
        table[f"lf_{name}"] = names[L[:, j]]
    for k, name in enumerate(classes):
        table[f"prob_{name}"] = np.round(proba[:, k], 6)
    covered = (L >= 0).any(axis=1)
    hard = hard_predictions(proba, selection.prior)  # the label model's own tie policy
    table["weak_label"] = names[hard]
    table["covered"] = covered
    write_review_csv(table, tmp / "train_labels.csv")


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


def _audit_section(audit, config, data, raw, before_after) -> dict:
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
            examples.append({"reason": reason, "split": record["split"], "row_id": str(record["row_id"]),
                             "text": "" if text != text else str(text)[:240], "evidence": str(record["evidence"])})
    return {
        "summary": summary,
        "accounting": audit.clean.accounting,
        "before_after": before_after or {},
        "examples": examples,
        "warnings": list(getattr(audit.result, "warnings", [])),
    }


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


def _write_reports(tmp: Path, metrics: dict, examples: dict) -> None:
    from labelkit.report import render_html, render_markdown

    extra = {"lf_examples": examples}
    (tmp / "report.md").write_text(render_markdown(metrics, extra), encoding="utf-8")
    (tmp / "report.html").write_text(render_html(metrics, extra), encoding="utf-8")
