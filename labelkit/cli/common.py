"""What every command shares: finding the config, --set overrides, error handling, the console."""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from labelkit.errors import CheckFailed, LabelkitError

DEFAULT_CONFIG = "labelkit.toml"


def bundled_example() -> Path:
    """The example config at the root of the labelkit checkout (editable install)."""
    return Path(__file__).resolve().parents[2] / DEFAULT_CONFIG


def resolve_config_path(config: str | None) -> Path:
    if config:
        return Path(config)
    local = Path.cwd() / DEFAULT_CONFIG
    if local.is_file():
        return local
    example = bundled_example()
    if example.is_file():
        return example
    raise click.UsageError(f"No {DEFAULT_CONFIG} here and no bundled example found; give a config path.")


def parse_sets(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        if "=" not in item:
            raise click.UsageError(f"--set {item!r}: write section.key=value, e.g. --set task.seed=7.")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def load(config: str | None, sets: tuple[str, ...], extra: dict[str, object] | None = None):
    from labelkit.config import load_config

    overrides: dict[str, object] = parse_sets(sets)
    for key, value in (extra or {}).items():
        if value is not None:
            overrides.setdefault(key, value)
    return load_config(resolve_config_path(config), overrides=overrides)


def config_options(func):
    func = click.option("--set", "sets", multiple=True, metavar="SECTION.KEY=VALUE",
                        help="Override a config setting, e.g. --set task.seed=7 (repeatable).")(func)
    func = click.argument("config", required=False, type=click.Path(dir_okay=False))(func)
    return func


class Narrator:
    """Progress and narration on stderr, silent with --quiet; data goes to stdout. Messages are printed
    as they are (no markup), since they may quote data."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            click.echo(f"· {message}", err=True)


def handle_errors(func):
    """Library errors -> `error: <one line>` on stderr and exit 1; no tracebacks unless LABELKIT_DEBUG=1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CheckFailed as exc:
            click.echo(f"check failed: {exc}", err=True)
            sys.exit(1)
        except LabelkitError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug in labelkit: still one line, with a way to see more
            if os.environ.get("LABELKIT_DEBUG"):
                raise
            message = str(exc).splitlines()[0] if str(exc) else ""
            click.echo(f"internal error: {type(exc).__name__}: {message} (set LABELKIT_DEBUG=1 for the traceback)", err=True)
            sys.exit(3)

    return wrapper
