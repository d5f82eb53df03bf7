"""Everything a build writes, into a folder that appears only when all of it is written. The writers
only serialise: a build's results, manifest and LF summary are made once, in memory, by labelkit.pipeline.run."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.io.files import atomic_output_dir, write_json, write_review_csv
from labelkit.labelmodels.persist import save_label_model


def write_build(made, out: Path, *, force: bool = False, extra=None, report_html: str | None = None) -> None:
    """Write every artifact of a build (labelkit.pipeline.run.Build) into `out`, atomically: its results,
    manifest, LF summary, models, tables and reports, as they are; nothing is computed here but the
    files' bytes. `extra(folder)` may add files of its own to the same output (e.g. `labelkit repair`'s
    plan); `report_html`: report.html already rendered from these results (the notebook's Result.report())."""
    config, data, votes = made.config, made.data, made.votes
    with atomic_output_dir(out, force=force, kind="build") as tmp:
        if extra is not None:
            extra(tmp)
        _write_train_labels(tmp, config, data, votes, made.proba_train, made.selection, made.prior)
        _write_test_predictions(tmp, config, data, made.preds)
        write_json(tmp / "lf_summary.json", {"lf_summary": made.lf_summary, "examples": made.lf_examples})
        write_review_csv(pd.DataFrame(made.lf_summary), tmp / "lf_summary.csv")
        save_label_model(made.selection.model, tmp / "label_model.json")  # JSON: labelkit.labelmodels.load_label_model
        if made.end_model is not None:
            from labelkit.endmodel import save_end_model

            save_end_model(made.end_model, tmp / "model.skops")  # skops, not pickle: labelkit.endmodel.load_end_model
        if made.audit is not None:
            _write_audit(tmp, made.audit)
        _write_wrench(tmp, config, data, votes)
        _write_reports(tmp, made.results, made.lf_examples, report_html)
        write_json(tmp / "metrics.json", made.results.to_json())
        manifest = dataclasses.replace(made.manifest, timings_seconds=dict(made.timer.timings))
        write_json(tmp / "manifest.json", manifest.to_json())


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


def _write_audit(tmp: Path, audit) -> None:
    folder = tmp / "cleaned"
    folder.mkdir()
    for split, frame in audit.clean.splits.items():
        frame.to_csv(folder / f"{split}.csv", index=False)
    write_review_csv(audit.clean.quarantine, tmp / "quarantine.csv")  # review CSVs: formula-safe cells
    write_review_csv(audit.findings(), tmp / "audit_findings.csv")  # cleaned/ stays exact


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


def _write_reports(tmp: Path, metrics, examples: dict, html: str | None = None) -> None:
    """report.md and report.html (`html`: already rendered from these results, e.g. by Result.report())."""
    from labelkit.report import render_html, render_markdown

    extra = {"lf_examples": examples}
    (tmp / "report.md").write_text(render_markdown(metrics, extra), encoding="utf-8")
    (tmp / "report.html").write_text(html if html is not None else render_html(metrics, extra), encoding="utf-8")
