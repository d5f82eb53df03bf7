"""`labelkit label-next`: the rows worth a human label next, from the build's train rows, a file or a serve log."""
from __future__ import annotations

import json

import click

from labelkit.cli.common import declared_option, handle_errors
from labelkit.settings.options import LabelNextOptions


@click.command("label-next")
@click.argument("run", type=click.Path(file_okay=False))
@declared_option(LabelNextOptions, "budget")
@click.option("--slice", "slices", multiple=True, metavar="COLUMN=VALUE",
              help="Only rows of this slice (column=value, or a slicing function's name); repeatable. Default: "
                   "every row, with the slices whose guardrail fired weighed up.")
@click.option("--pool", type=click.Path(dir_okay=False),
              help="Unlabelled rows to choose from: a CSV/Parquet/JSONL file, or a `labelkit serve` log (.sqlite). "
                   "Default: the build's train rows.")
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="File the batch is appended to (default: the build's [data] human_labels, label_next.csv "
                   "beside its config), which the next build reads.")
@declared_option(LabelNextOptions, "seed")
@click.option("--json", "as_json", is_flag=True, help="Print the batch and its pool as JSON on stdout.")
@handle_errors
def label_next_cli(run, budget, slices, pool, out, seed, as_json):
    """Choose the BUDGET rows a person should label next for the build in RUN, and append them, with a
    blank label column, to the human labels file the next `labelkit build` reads.

    Rows are ranked by expected value: the end model's uncertainty (cleanlab ActiveLab), rules-vs-model
    disagreement, slices whose guardrail fired, and a diversity term so the batch covers different rows.
    Rows the build could not use are left out (already labelled, quarantined, copies of dev/test rows).

    \b
    Example:
      labelkit label-next runs/support_tickets --budget 50 --pool new_tickets.csv
      labelkit label-next runs/support_tickets --budget 50 --slice country=FR --pool serve.sqlite
    """
    from labelkit.human.label_next import label_next, pool_json, summary_text

    result = label_next(run, budget=budget, slices=slices, pool=pool, out=out, seed=seed)
    if as_json:
        click.echo(json.dumps(pool_json(result), indent=2, default=str))
    else:
        click.echo(summary_text(result, budget))
