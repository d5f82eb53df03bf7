"""`labelkit build`."""
from __future__ import annotations

import json
from pathlib import Path

import click

from labelkit.cli.common import Narrator, config_options, handle_errors, load
from labelkit.settings.config import FAIL_ON, LFConfig
from labelkit.settings.declare import declared

LF_SETTINGS = declared(LFConfig)  # --engine and --lf-errors offer what [lfs] engine and on_error allow


@click.command("build")
@config_options
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Output folder (default: runs/<task name>).")
@click.option("--force", is_flag=True, help="Also replace a labelkit output made by another command (an audit) or by a "
              "labelkit without output markers. Never a folder labelkit did not make.")
@click.option("--wrench", type=click.Path(file_okay=False, exists=True), help="Build from a WRENCH folder (train/valid/test.json).")
@click.option("--seed", type=int, help="Random seed (overrides task.seed).")
@click.option("--engine", type=click.Choice(LF_SETTINGS["engine"].choices), help="Where LFs run (overrides lfs.engine).")
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler address for --engine dask (default: a LocalCluster).")
@click.option("--lf-errors", type=click.Choice(LF_SETTINGS["on_error"].choices),
              help="An LF that raises: stop (raise) or count the row as an abstain (overrides lfs.on_error).")
@click.option("--no-audit", is_flag=True, help="Skip the data-quality audit (train on the data as given).")
@click.option("--fail-on", metavar="CHECKS",
              help=f"Exit 1 when any of these fail: {','.join(FAIL_ON)} (checks: an error-level finding of the "
                   "build's checks of itself; overrides evaluate.fail_on).")
@click.option("--json", "as_json", is_flag=True, help="Print the headline metrics as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@handle_errors
def build_cli(config, sets, out, force, wrench, seed, engine, scheduler, lf_errors, no_audit, fail_on, as_json, quiet):
    """Run the whole pipeline on CONFIG (default: ./labelkit.toml, else the bundled example).

    Audits the data, applies the labeling functions, picks a label model on the gold dev split, trains
    an end model on the probabilistic labels and compares it with the baselines on the gold test split.

    \b
    Example:
      labelkit build                                  # the bundled support-ticket example
      labelkit build my_task/labelkit.toml --out runs/v2 --set end_model.labels=hard
      labelkit build --wrench data/youtube --set task.name=youtube
    """
    from labelkit.pipeline.run import build, raise_for_failed

    extra = {"task.seed": seed, "lfs.engine": engine, "lfs.scheduler": scheduler, "lfs.on_error": lf_errors}
    if wrench:
        extra["data.wrench"] = str(Path(wrench).resolve())
    if no_audit:
        extra["audit.enabled"] = False
    cfg = load_wrench_config(wrench, sets, extra) if wrench and not config else load(config, sets, extra)
    target = Path(out) if out else Path("runs") / cfg.task.name
    checks = [c.strip() for c in fail_on.split(",") if c.strip()] if fail_on else None
    if checks:
        for check in checks:
            if check not in FAIL_ON:
                raise click.BadParameter(f"{check!r}; choose from {', '.join(FAIL_ON)}", param_hint="--fail-on")
    narrate = Narrator(quiet)
    made = build(cfg, out=target, force=force, notify=narrate, fail_on=checks)
    if as_json:
        from labelkit.cli.tables import build_json

        click.echo(json.dumps(build_json(made.results, out=made.out, failed_checks=made.failed_checks),
                              indent=2, default=str))
    else:
        print_summary(made)
    raise_for_failed(made)


def load_wrench_config(wrench: str, sets, extra):
    """`build --wrench DIR` without a config: defaults, the folder's name as task name."""
    from labelkit.cli.common import parse_sets
    from labelkit.settings.config import load_config

    overrides = {"task.name": task_name_of(Path(wrench).resolve().name),
                 **{k: v for k, v in extra.items() if v is not None}}
    overrides.update(parse_sets(sets))
    return load_config(None, overrides=overrides)


def task_name_of(folder: str) -> str:
    """A valid task name from a folder's name: other characters become '_', leading ones go
    ('yt (copy)' -> 'yt _copy_', '.hidden' -> 'hidden')."""
    import re

    name = re.sub(r"[^\w .@+-]", "_", folder).lstrip(" .@+-")[:100].rstrip()
    return name or "wrench"


def print_summary(made) -> None:
    from labelkit.cli.tables import checks_text, headline_table

    results = made.results  # labelkit.results.BuildResults
    checks = checks_text(results)  # the build's checks of itself lead: an error means it fell back
    if checks:
        click.echo(checks)
    click.echo(headline_table(results))
    from labelkit.human.labels import summary_lines  # human labels: how many, from where, what they changed

    for line in summary_lines(results):
        click.echo(line)
    for warning in results.warnings:
        click.echo(f"warning: {warning}")
    for g in results.guardrails:
        click.echo(f"guardrail: {g.column}={g.value} ({g.size} test rows): {g.model} "
                   f"{100 * g.model_score:.1f}% vs {g.baseline} {100 * g.baseline_score:.1f}% "
                   f"({100 * g.gap:+.1f} points{', beyond the intervals' if g.clear else ''})")
    from labelkit.cli.tables import verdict_text

    click.echo(verdict_text(results))  # last before the paths: the one answer, with every failed guardrail
    click.echo(f"report: {made.out / 'report.html'}  (also report.md, metrics.json, manifest.json)")
