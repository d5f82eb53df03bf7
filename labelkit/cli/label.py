"""`labelkit label`: probabilistic labels for a file larger than memory."""
from __future__ import annotations

import json
from pathlib import Path

import click

from labelkit.cli.common import Narrator, config_options, handle_errors, load


@click.command("label")
@config_options
@click.option("-i", "--input", "source", required=True, type=click.Path(dir_okay=False),
              help="Unlabeled Parquet or CSV file to label (read in chunks).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Output Parquet file.")
@click.option("--chunk-rows", type=click.IntRange(min=1000), default=200_000, show_default=True,
              help="Rows read at a time.")
@click.option("--force", is_flag=True, help="Replace --out if it is a labels file written by `labelkit label` "
              "(any other existing file is never replaced).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@handle_errors
def label_cli(config, sets, source, out, chunk_rows, force, as_json, quiet):
    """Apply the LFs of CONFIG to a large file chunk by chunk, fit the label models on the distinct vote
    patterns (chosen on the gold dev split) and write one row of class probabilities per input row.
    Memory stays bounded by the chunk size and the number of distinct vote patterns.

    \b
    Example:
      labelkit label --input tickets_2025.parquet --out tickets_2025_labels.parquet
    """
    from labelkit.pipeline.label_rows import label_file

    cfg = load(config, sets)
    summary = label_file(cfg, Path(source), Path(out), chunk_rows=chunk_rows, force=force, notify=Narrator(quiet))
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    click.echo(f"{summary['rows']} rows labelled ({100 * summary['covered']:.1f}% with at least one LF vote), "
               f"{summary['vote_patterns']} distinct vote patterns; label model {summary['label_model']} "
               f"(dev: {', '.join(f'{k} {v:.3f}' for k, v in summary['dev_scores'].items())}) -> {summary['out']}")
