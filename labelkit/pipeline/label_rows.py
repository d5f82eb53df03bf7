"""`labelkit label`: probabilistic labels for a file too large for memory.

Two passes over the file, chunk by chunk: the first applies the LFs, stores the int8 label matrix
on disk and counts the distinct vote patterns; the label models are fitted on those patterns with
their counts (the same fit as on all rows, at a cost that does not grow with the row count) and
chosen on the gold dev split; the second pass writes the probabilities to Parquet.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.settings.config import Config
from labelkit.errors import DatasetError


def label_file(config: Config, source: Path, out: Path, *, chunk_rows: int = 200_000, force: bool = False,
               notify=None) -> dict:
    from labelkit.apply.outofcore import count_patterns, iter_chunks
    from labelkit.data.load import load_split, read_options
    from labelkit.labelmodels import class_balance_from_dev, hard_predictions, select_label_model
    from labelkit.lfs.spacy_lfs import SpacyParser
    from labelkit.pipeline.manifest import StageTimer
    from labelkit.pipeline.stages import apply_votes_to, load_labeling_functions

    source, out = Path(source), Path(out)
    d = config.data
    options = read_options(config)
    check_label_paths(source, out, force=force)
    check_input_columns(source, config)
    timer = StageTimer(notify)
    with timer.stage("load LFs and dev"):
        lfs = load_labeling_functions(config)[0].lfs
        dev, y_dev = load_split(config, "dev")
        classes = tuple(config.task.classes)
        L_dev = apply_votes_to(config, dev, lfs, classes, where=f"dev ({dev.attrs['path']})").L
        prior = class_balance_from_dev(y_dev, len(classes))
    with tempfile.TemporaryDirectory(prefix=".labelkit-", dir=out.parent if out.parent.exists() else None) as tmp:
        matrix_path = Path(tmp) / "L.npy"
        with timer.stage(f"pass 1: apply LFs to {source.name}"):
            counts = count_patterns(lfs, source, classes, text_column=d.text_column, id_column=d.id_column,
                                    chunk_rows=chunk_rows, parser=SpacyParser(config.lfs.spacy_model or None),
                                    on_error=config.lfs.on_error, matrix_path=matrix_path,
                                    string_columns=(d.id_column,), options=options)
        with timer.stage(f"label models on {len(counts.counts)} vote patterns"):
            selection = select_label_model(
                list(config.label_model.candidates), counts.patterns, L_dev, y_dev, cardinality=len(classes),
                seed=config.task.seed, metric=config.label_model.metric, class_balance=prior,
                sample_weight=counts.counts.astype(np.float64))
        with timer.stage("pass 2: write probabilistic labels"):
            L = np.load(matrix_path, mmap_mode="r")
            part = Path(tmp) / "labels.parquet"
            _write_labels(part, iter_chunks(source, chunk_rows=chunk_rows, columns=[d.id_column],
                                            string_columns=(d.id_column,), options=options),
                          L, selection.model, prior, classes, d.id_column, chunk_rows, hard_predictions)
            out.parent.mkdir(parents=True, exist_ok=True)
            part.replace(out)
    covered = float(counts.counts[(counts.patterns >= 0).any(axis=1)].sum() / max(counts.n_rows, 1))
    return {"rows": counts.n_rows, "vote_patterns": int(len(counts.counts)), "covered": round(covered, 4),
            "label_model": selection.name, "dev_scores": selection.dev_scores, "lf_errors": counts.errors,
            "out": str(out), "timings_seconds": timer.timings}


LABELS_MARKER = b"labelkit_labels"  # Parquet metadata key: this file was written by `labelkit label`


def check_label_paths(source: Path, out: Path, *, force: bool) -> None:
    """`--out` may replace only a labels file labelkit wrote (with --force), never the input or another file."""
    if not source.is_file():
        raise DatasetError(f"--input file {source.resolve()} does not exist; give the path of the table to label.")
    if out.resolve() == source.resolve():
        raise DatasetError(f"--out {out} is the input file; write the labels to another file.")
    if out.is_dir():
        raise DatasetError(f"--out {out} is a folder; give a .parquet file name.")
    if not out.exists():
        return
    if not _is_labels_file(out):
        raise DatasetError(f"{out} exists and was not written by `labelkit label`; labelkit does not replace it, "
                           f"--force or not. Choose another --out.")
    if not force:
        raise DatasetError(f"{out} already exists; pass --force to replace it.")


def _is_labels_file(path: Path) -> bool:
    try:
        import pyarrow.parquet as pq

        return LABELS_MARKER in (pq.read_schema(path).metadata or {})
    except Exception:  # not Parquet at all
        return False


def check_input_columns(source: Path, config: Config) -> None:
    """The input's columns, before any LF runs: a missing text/id column is named, not blamed on an LF."""
    from labelkit.apply.outofcore import file_columns
    from labelkit.data.load import read_options
    from labelkit.io.files import require_columns

    columns = file_columns(source, options=read_options(config))
    needed = {config.data.id_column: "data.id_column", config.data.text_column: "data.text_column"}
    require_columns(pd.DataFrame(columns=columns), needed, path=source)


def _write_labels(path: Path, id_chunks, L, model, prior, classes, id_column, chunk_rows, hard_predictions) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from labelkit.pipeline.stages import label_model_proba

    writer = None
    start = 0
    try:
        for ids in id_chunks:
            block = np.asarray(L[start:start + len(ids)])
            start += len(ids)
            proba = label_model_proba(model, block)
            columns = {id_column: pa.array(ids[id_column].astype(str).tolist(), pa.string())}
            for k, name in enumerate(classes):
                columns[f"prob_{name}"] = pa.array(proba[:, k].astype(np.float32))
            labels = hard_predictions(proba, prior)
            columns["label"] = pa.array([classes[i] for i in labels], pa.string())
            columns["covered"] = pa.array((block >= 0).any(axis=1))
            table = pa.table(columns).replace_schema_metadata({LABELS_MARKER: b"1"})
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
