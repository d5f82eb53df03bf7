"""`labelkit serve`: the primary build's end model over HTTP, its rules and challengers in shadow. Its settings
(types, ranges, defaults, help) are declared in labelkit/settings/options.py."""
from __future__ import annotations

import click

from labelkit.cli.common import declared_option, handle_errors
from labelkit.settings.options import ServeOptions


@click.command("serve")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--shadow", "shadows", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="A challenger build run in shadow (repeatable).")
@declared_option(ServeOptions, "host")
@declared_option(ServeOptions, "port")
@click.option("--log", "log_path", default="serve.sqlite", show_default=True, type=click.Path(dir_okay=False),
              help="SQLite request log (appended to; created if missing).")
@declared_option(ServeOptions, "log_input")
@click.option("--no-rules", is_flag=True, help="Do not run the primary build's rules (LFs + label model) in shadow.")
@declared_option(ServeOptions, "shadow_sample")
@declared_option(ServeOptions, "shadow_queue")
@declared_option(ServeOptions, "shadow_timeout")
@declared_option(ServeOptions, "max_body_bytes")
@declared_option(ServeOptions, "max_batch")
@click.option("--time-field", default=None,
              help="A request field used as the logged time, in epoch seconds or ISO 8601 (replays, simulations).")
@declared_option(ServeOptions, "missing_time")
@handle_errors
def serve_cli(run_dir, shadows, host, port, log_path, log_input, no_rules, shadow_sample, shadow_queue,
              shadow_timeout, max_body_bytes, max_batch, time_field, missing_time):
    """Serve RUN_DIR's end model: POST /predict with {"id": ..., "text": ...} (or a list of such
    objects); GET /health; GET /counters. The rules of RUN_DIR and every --shadow build answer the
    same requests off the request path; everything goes to the --log database for `labelkit monitor`.

    \b
    Example:
      labelkit serve runs/support_tickets --shadow runs/candidate --log serve.sqlite
      curl -s localhost:8000/predict -d '{"id": "t1", "text": "I was charged twice"}'
    """
    from labelkit.serve.app import ServeSettings
    from labelkit.serve.server import open_service, run_server, start

    settings = ServeSettings(max_body_bytes=max_body_bytes, max_batch=max_batch, log_input=log_input,
                             shadow_sample=shadow_sample, time_field=time_field, missing_time=missing_time)
    state = open_service(run_dir, challengers=shadows, log_path=log_path, settings=settings, rules=not no_rules,
                         shadow_queue=shadow_queue, shadow_timeout=shadow_timeout)
    start(state)
    shadow = state.shadow
    systems = ", ".join(name for name, _ in shadow.systems) if shadow and shadow.state == "ready" else "none"
    if shadow is not None and shadow.state != "ready":
        click.echo(f"warning: shadow systems not running ({shadow.error or shadow.state}); requests are shed "
                   "from shadow and counted", err=True)
    click.echo(f"serving {run_dir} (build {state.primary.build_id}) on http://{host}:{port}; shadow: {systems}; "
               f"log: {log_path}", err=True)
    run_server(state, host=host, port=port)
