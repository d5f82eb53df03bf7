"""`labelkit studio`: the local authoring page (rules with live feedback, review queue)."""
from __future__ import annotations

import click

from labelkit.cli.common import config_options, handle_errors, load


@click.command("studio")
@config_options
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0 = a free port).")
@click.option("--rules", "rules", type=click.Path(dir_okay=False),
              help="Rules file to edit (default: the first of [task] rules, else rules.toml beside the config).")
@click.option("--run", "run", type=click.Path(file_okay=False),
              help="Build output folder for the review queue (default: runs/<task name>).")
@click.option("--reviewer", help="Name recorded with review decisions (default: your user name).")
@handle_errors
def studio_cli(config, sets, port, rules, run, reviewer):
    """Serve the studio on 127.0.0.1: every rule with coverage, overlaps, conflicts and dev accuracy,
    an editor with live preview that saves to the rules file, and a review queue whose decisions go
    to the corrections file the next build applies. Open the printed URL (it holds the session token).

    \b
    Example:
      labelkit studio                                   # bundled example
      labelkit studio my_task/labelkit.toml --port 8765 --reviewer ana
    """
    import socket
    import sys

    from labelkit.studio.app import create_app
    from labelkit.studio.state import open_studio

    cfg = load(config, sets)
    click.echo("loading data and computing every LF's votes … (the URL follows when the page is ready)", err=True)
    state = open_studio(cfg, rules_path=rules, run_dir=run, reviewer=reviewer)
    state.workspace.overall()  # the rules page's label model (cached): the first page then opens at once
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        raise click.UsageError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}).") from None
    state.port = sock.getsockname()[1]

    def ready() -> None:  # the server answers from now on: the URL is worth opening
        click.echo(f"labelkit studio: http://127.0.0.1:{state.port}/?token={state.token}")
        sys.stdout.flush()
        click.echo(f"rules file: {state.rules_path}; review queue from: {state.run_dir}; Ctrl+C stops.", err=True)

    serve(create_app(state), sock, ready)


def serve(app, sock, ready=None) -> None:
    """Serve `app` on the bound socket; `ready()` runs once the server accepts connections."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if ready is not None and not self.should_exit:
                ready()

    server = Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.run(sockets=[sock])
