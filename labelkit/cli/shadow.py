"""`labelkit shadow replay`: the primary, its rules and challengers compared offline over a request file."""
from __future__ import annotations

import json

import click

from labelkit.cli.common import handle_errors
from labelkit.settings.declare import declared
from labelkit.settings.options import ServeOptions


@click.group("shadow")
def shadow_cli():
    """Shadow comparisons offline (see also `labelkit serve --shadow`)."""


@shadow_cli.command("replay")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--primary", required=True, type=click.Path(file_okay=False, exists=True), help="The champion build.")
@click.option("--challenger", "challengers", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="A challenger build (repeatable).")
@click.option("--log", "log_path", required=True, type=click.Path(dir_okay=False),
              help="Request log to write (same schema as `labelkit serve`; read by `labelkit monitor`).")
@click.option("--id-column", default="id", show_default=True, help="Request id column of FILE.")
@click.option("--time-column", default=None, help="Column of FILE used as the request time.")
@click.option("--no-rules", is_flag=True, help="Do not run the primary's rules.")
@click.option("--log-input", type=click.Choice(declared(ServeOptions)["log_input"].choices),
              default=declared(ServeOptions)["log_input"].default, show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing --log file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@handle_errors
def replay_cli(file, primary, challengers, log_path, id_column, time_column, no_rules, log_input, force, as_json):
    """Replay FILE (CSV, Parquet, JSONL, or a serve log .sqlite) through the primary build, its rules
    and each challenger; write a request log and print agreement with the primary per slice.

    \b
    Example:
      labelkit shadow replay requests.csv --primary runs/a --challenger runs/b --log replay.sqlite
      labelkit monitor replay.sqlite --reference runs/a --window 1d
    """
    from labelkit.monitor.render import subject_text
    from labelkit.serve.replay import read_requests, replay

    requests = read_requests(file, id_column=id_column, time_column=time_column)
    summary = replay(requests, primary, challengers, out=log_path, rules=not no_rules, log_input=log_input,
                     force=force)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{summary['rows']} requests replayed into {log_path}")
    for name, entry in summary["systems"].items():
        click.echo(f"{name} ({entry['build_id']}): agrees with the primary on {entry['agreement']:.1%} of "
                   f"{entry['answered']} rows; errors {entry['errors']}")
        for item in entry["slices"][:5]:
            click.echo(f"  {subject_text(item['slice']):<30} n={item['n']:<6} agreement {item['agreement']:.1%}")
