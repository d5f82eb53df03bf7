"""`labelkit monitor`: windows of a request log scored against the build that served it."""
from __future__ import annotations

import click

from labelkit.cli.common import declared_option, declared_value, handle_errors
from labelkit.settings.options import MonitorOptions, MonitorThresholds
from labelkit.settings.declare import declared

THRESHOLDS = tuple(declared(MonitorThresholds))


@click.command("monitor")
@click.argument("log", type=click.Path(dir_okay=False, exists=True))
@click.option("--reference", required=True, type=click.Path(file_okay=False, exists=True),
              help="The build output folder the log is compared with.")
@declared_option(MonitorOptions, "window")
@click.option("--since", default=None, help="Only requests at or after this time (ISO date/time, UTC).")
@click.option("--until", default=None, help="Only requests before this time.")
@click.option("--challenger", "challengers", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="A challenger's build folder, when it moved since it was served (the log records where "
                   "each build was); its disagreement is judged against the pair's on gold test rows.")
@click.option("--labels", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Labels that arrived later (CSV/Parquet/JSONL), joined by request id: real accuracy.")
@click.option("--labels-id-column", default="id", show_default=True)
@click.option("--labels-column", default="label", show_default=True)
@click.option("--threshold", "thresholds", multiple=True, metavar="NAME=VALUE",
              help=f"Override an alert setting ({', '.join(THRESHOLDS)}; docs/settings.md), e.g. --threshold "
                   "relative=0.3.")
@click.option("-o", "--out", default=None, type=click.Path(file_okay=False),
              help="Folder for monitor.json and monitor.html (default: LOG's folder / <log name>_monitor).")
@declared_option(MonitorOptions, "fail_on")
@click.option("--webhook", default=None, help="POST the active alerts as JSON to this URL when there are any.")
@click.option("--json", "as_json", is_flag=True, help="Print monitor.json to stdout.")
@click.option("--embedding-drift", "embedding_drift", default="", metavar="MODEL",
              help="Also score input drift: each window's logged texts against the reference build's train rows in "
                   "an embedding space (lsa: fitted on the train texts, no package; wordllama, minilm or a model "
                   "folder). Off by default.")
@handle_errors
def monitor_cli(log, reference, window, since, until, challengers, labels, labels_id_column, labels_column,
                thresholds, out, fail_on, webhook, as_json, embedding_drift):
    """Per window of LOG: LF coverage and conflicts against the reference build's train data, output
    drift (Jensen-Shannon), rules-vs-model and champion-vs-challenger disagreement overall and per
    slice, a label-free accuracy estimate with an interval, real accuracy with --labels. Alerts have
    thresholds, hysteresis and a cooldown; the exit code is 1 when an alert is active.

    \b
    Example:
      labelkit monitor serve.sqlite --reference runs/support_tickets --window 1d -o monitor/
    """
    import json
    import sys
    from pathlib import Path

    from labelkit.monitor import MonitorSettings, run_monitor, write_outputs
    from labelkit.monitor.render import to_json

    settings = MonitorSettings(window=window, **_thresholds(thresholds))
    result = run_monitor(log, reference, settings=settings, labels=labels, labels_id_column=labels_id_column,
                         labels_column=labels_column, since=_time(since, "--since"), until=_time(until, "--until"),
                         challengers=challengers, embedding_drift=embedding_drift)
    folder = Path(out) if out else Path(log).resolve().parent / f"{Path(log).stem}_monitor"
    paths = write_outputs(result, folder)
    payload = to_json(result)
    if webhook and len(result.active_alerts()):
        from labelkit.monitor.webhook import post_alerts

        post_alerts(webhook, {"log": payload["log"], "latest_window": payload["latest_window"],
                              "active_alerts": payload["active_alerts"]})
    if as_json:
        click.echo(json.dumps(payload, indent=1, default=str))
    else:
        _print_summary(result, paths)
    sys.exit(result.exit_code(fail_on))


def _print_summary(result, paths) -> None:
    from labelkit.monitor.render import alerts_active, cell_text, plural

    frame = result.frame
    click.echo(f"{plural(result.n_rows, 'request')} in {plural(frame['window'].nunique(), 'window')} of "
               f"{result.settings.window}; latest window {result.latest_window}")
    for window in result.empty_windows():
        click.echo(f"window {window}: no requests (empty window)")
    for note in result.notes:
        click.echo(f"note: {note}")
    raised = frame[frame["event"] == "raised"]
    for row in raised.to_dict("records"):
        text = {c: cell_text(c, row) or "-" for c in ("subject", "value", "reference", "band")}
        click.echo(f"ALERT {row['window']}  {row['metric']} [{text['subject']}] = {text['value']} "
                   f"(reference {text['reference']}, band {text['band']}, n={row['n']:,})")
    click.echo(f"{alerts_active(len(result.active_alerts()))} in the latest window")
    click.echo(f"wrote {paths['html']} and {paths['json']}", err=True)


def _thresholds(items) -> dict:
    """--threshold NAME=VALUE, each read and checked as declared in options.MonitorThresholds."""
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in THRESHOLDS or not value:
            raise click.UsageError(f"--threshold {item!r}: write NAME=VALUE with NAME one of {', '.join(THRESHOLDS)}.")
        out[name] = declared_value(MonitorThresholds, name, value.strip(), f"--threshold {item!r}")
    return out


def _time(text, option: str):
    if text is None:
        return None
    from labelkit.io.times import time_value

    try:
        return time_value(text)
    except ValueError:
        raise click.UsageError(f"{option} {text!r}: not a date/time (e.g. 2024-06-01 or 2024-06-01T12:00).") from None
