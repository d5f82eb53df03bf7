"""`labelkit compare`: two builds on the same test data, like a shadow deployment."""
from __future__ import annotations

import json
from pathlib import Path

import click

from labelkit.cli.common import handle_errors


@click.command("compare")
@click.argument("run_a", type=click.Path(file_okay=False, exists=True))
@click.argument("run_b", type=click.Path(file_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--flips", type=int, default=10, show_default=True, help="Flipped rows to show.")
@handle_errors
def compare_cli(run_a, run_b, as_json, flips):
    """Metric deltas with intervals, per-slice deltas and the rows whose prediction flipped between
    two builds (RUN_A is the reference). Refuses builds made from different test data.

    \b
    Example:
      labelkit build --out runs/a && labelkit build --out runs/b --set end_model.labels=hard
      labelkit compare runs/a runs/b
    """
    from labelkit.report.compare import compare_runs

    result = compare_runs(Path(run_a), Path(run_b))
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, default=str))
        return
    from labelkit.cli.tables import compare_text

    click.echo(compare_text(result, flips=flips))
