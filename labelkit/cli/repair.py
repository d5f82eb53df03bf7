"""`labelkit repair`; its settings (types, ranges, defaults, help) are declared in labelkit/settings/options.py."""
from __future__ import annotations

import json
from pathlib import Path

import click

from labelkit.cli.common import Narrator, declared_option, handle_errors
from labelkit.settings.options import RepairOptions


@click.command("repair")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--slice", "slices", multiple=True, metavar="COLUMN=VALUE",
              help="Repair only this slice (column=value, or a slicing function's name); repeatable. "
                   "Default: every slice whose guardrail fired.")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Output folder for the repaired build (default: RUN-repaired).")
@click.option("--force", is_flag=True, help="Also replace a labelkit output made by another command (an audit) or by a "
              "labelkit without output markers. Never a folder labelkit did not make, or one you added files to.")
@declared_option(RepairOptions, "max_overall_loss")
@declared_option(RepairOptions, "weights")
@declared_option(RepairOptions, "strategies")
@declared_option(RepairOptions, "class_weights")
@declared_option(RepairOptions, "max_candidates")
@declared_option(RepairOptions, "label_next")
@click.option("--json", "as_json", is_flag=True, help="Print the repair report as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@handle_errors
def repair_cli(run, slices, out, force, max_overall_loss, weights, strategies, class_weights, max_candidates,
               label_next, as_json, quiet):
    """Repair the guardrails of the build in RUN through data, into a new build.

    For each slice where the model is worse than the rules, the end model is retrained with the
    slice's train rows (or its error set) weighted, the weight and class weight chosen on gold dev under a
    limit on the overall dev loss and without losing dev rows of a slice repaired before; test scores
    before/after are reported with intervals and a paired test. Also writes label_next.csv (rows to label
    next) and candidate_lfs.py (offered, not applied). Model outputs are never overridden by rules.

    \b
    Example:
      labelkit repair runs/support_tickets --slice country=FR --out runs/support_tickets-fr
      labelkit compare runs/support_tickets runs/support_tickets-fr
    """
    from labelkit.repair import repair_run
    from labelkit.repair.render import summary_lines

    target = Path(out) if out else Path(str(Path(run)).rstrip("/") + "-repaired")
    outcome = repair_run(run, out=target, slices=slices, max_overall_loss=max_overall_loss, weights=weights,
                         strategies=strategies, class_weights=class_weights, label_next=label_next, force=force,
                         notify=Narrator(quiet), max_candidates=max_candidates)
    if as_json:
        click.echo(json.dumps({"out": str(outcome.out), **outcome.report.to_json()}, indent=2, default=str))
        return
    for line in summary_lines(outcome.report):
        click.echo(line)
    click.echo(f"repaired build: {outcome.out}  (repair.md, label_next.csv, candidate_lfs.py; "
               f"labelkit compare {run} {outcome.out})")

