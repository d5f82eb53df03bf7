"""`labelkit audit`: the data-quality audit alone."""
from __future__ import annotations

import json
from pathlib import Path

import click

from labelkit.cli.common import Narrator, config_options, handle_errors, load

AUDIT_FAIL_ON = ("leakage", "test-rows", "label-issues", "duplicates")


@click.command("audit")
@config_options
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Output folder (default: runs/<task name>-audit).")
@click.option("--force", is_flag=True, help="Also replace a labelkit output made by another command (a build) or by a "
              "labelkit without output markers. Never a folder labelkit did not make, or one you added files to.")
@click.option("--fail-on", metavar="CHECKS", help=f"Exit 1 when findings of these kinds exist: {','.join(AUDIT_FAIL_ON)}.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings summary as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@handle_errors
def audit_cli(config, sets, out, force, fail_on, as_json, quiet):
    """Find rows leaked between splits (duplicates, near-duplicates, shared groups, label-predicting
    columns, time order), test-log/QA rows and suspect gold labels; write cleaned splits and a
    quarantine file that lists every removed row with its reasons.

    \b
    Example:
      labelkit audit --fail-on leakage,test-rows      # for CI
      labelkit audit my_task/labelkit.toml --json
    """
    from labelkit.pipeline.audit import run_audit_command, audit_failures
    from labelkit.errors import CheckFailed

    checks = [c.strip() for c in fail_on.split(",") if c.strip()] if fail_on else []
    for check in checks:
        if check not in AUDIT_FAIL_ON:
            raise click.BadParameter(f"{check!r}; choose from {', '.join(AUDIT_FAIL_ON)}", param_hint="--fail-on")
    cfg = load(config, sets)
    target = Path(out) if out else Path("runs") / f"{cfg.task.name}-audit"
    report = run_audit_command(cfg, out=target, force=force, notify=Narrator(quiet))
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        from labelkit.cli.tables import audit_text

        click.echo(audit_text(report))
    failures = audit_failures(report, checks)
    if failures:
        raise CheckFailed("; ".join(failures))
