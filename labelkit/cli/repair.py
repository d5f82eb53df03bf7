"""`labelkit repair`."""
from __future__ import annotations

import json
from pathlib import Path

import click

from labelkit.cli.common import Narrator, handle_errors


@click.command("repair")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--slice", "slices", multiple=True, metavar="COLUMN=VALUE",
              help="Repair only this slice (column=value, or a slicing function's name); repeatable. "
                   "Default: every slice whose guardrail fired.")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Output folder for the repaired build (default: RUN-repaired).")
@click.option("--force", is_flag=True, help="Also replace a labelkit output made by another command (an audit) or by a "
              "labelkit without output markers. Never a folder labelkit did not make, or one you added files to.")
@click.option("--max-overall-loss", type=float, default=0.005, show_default=True,
              help="Overall dev score the repair may give up (0.005 = half a point of accuracy).")
@click.option("--weights", default="2,4,8", show_default=True, help="Slice weights tried, comma-separated.")
@click.option("--strategies", default="slice,errors", show_default=True,
              help="What gets the weight: slice (the slice's train rows), errors (the first model's error set).")
@click.option("--class-weights", default="build,balanced", show_default=True,
              help="Class weights tried with each slice weight: build (the build's choice), balanced, none.")
@click.option("--max-candidates", type=int, default=None,
              help="Search budget: at most this many candidate fits per slice, the smallest weight of each strategy "
                   "first. Default: every candidate (weights x strategies x class weights; larger weights of a "
                   "strategy are skipped once one costs more overall dev score than --max-overall-loss).")
@click.option("--label-next", type=int, default=50, show_default=True, help="Rows to label next, per slice.")
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
    outcome = repair_run(run, out=target, slices=slices, max_overall_loss=max_overall_loss,
                         weights=_numbers(weights, "--weights"), strategies=_names(strategies),
                         class_weights=_names(class_weights),
                         label_next=label_next, force=force, notify=Narrator(quiet), max_candidates=max_candidates)
    if as_json:
        click.echo(json.dumps({"out": str(outcome.out), **outcome.report.to_json()}, indent=2, default=str))
        return
    for line in summary_lines(outcome.report):
        click.echo(line)
    click.echo(f"repaired build: {outcome.out}  (repair.md, label_next.csv, candidate_lfs.py; "
               f"labelkit compare {run} {outcome.out})")


def _numbers(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r}: give numbers separated by commas, e.g. 2,4,8", param_hint=option) from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())
