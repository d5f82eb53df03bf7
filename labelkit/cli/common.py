"""What every command shares: finding the config, --set overrides, options made from declared settings,
error handling, the console."""
from __future__ import annotations

import functools
import math
import os
import sys
from pathlib import Path
from typing import Any

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
    from labelkit.settings.config import load_config

    overrides: dict[str, object] = dict(parse_sets(sets))
    for key, value in (extra or {}).items():
        if value is not None:
            overrides.setdefault(key, value)
    return load_config(resolve_config_path(config), overrides=overrides)


def config_options(func):
    func = click.option("--set", "sets", multiple=True, metavar="SECTION.KEY=VALUE",
                        help="Override a config setting, e.g. --set task.seed=7 (repeatable).")(func)
    func = click.argument("config", required=False, type=click.Path(dir_okay=False))(func)
    return func


def declared_option(cls: type, name: str, *decls: str, **overrides):
    """A click option for the setting `name` declared in `cls` (labelkit/settings/options.py, labelkit/settings/config.py):
    its type (Choice, a range, a comma-separated list), default and help come from the declaration."""
    from labelkit.settings.declare import cli_text, declared

    spec = declared(cls)[name]
    kwargs: dict[str, Any] = {"type": click_type(spec), "help": spec.help, "required": spec.required}
    if spec.default is not None:  # a list default as it is typed (2,4,8), converted by the type like any value
        kwargs.update(default=cli_text(spec.default) if isinstance(spec.default, list) else spec.default,
                      show_default=True)
    kwargs.update(overrides)
    return click.option(*(decls or ("--" + name.replace("_", "-"),)), **kwargs)


def click_type(spec) -> click.ParamType:
    """click's type for a declared setting: Choice for choices, IntRange/FloatRange for a range (finite
    numbers only), DeclaredList for a comma-separated list, else the plain type."""
    if spec.kind == "str":
        return click.Choice(list(spec.choices)) if spec.choices else click.STRING
    bounds = dict(min=spec.ge if spec.ge is not None else spec.gt, min_open=spec.gt is not None,
                  max=spec.le if spec.le is not None else spec.lt, max_open=spec.lt is not None)
    if spec.kind == "int":
        return click.IntRange(**bounds) if spec.has_range else click.INT
    if spec.kind == "float":
        return FiniteFloatRange(**bounds)
    if spec.kind.startswith("list["):
        return DeclaredList(spec)
    raise TypeError(f"no command-line type for a {spec.kind} setting")


class FiniteFloatRange(click.FloatRange):
    name = "float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number.", param, ctx)
        return number


class DeclaredList(click.ParamType):
    """Comma-separated values of a declared list setting (--weights 2,4,8) -> a tuple, checked against the
    declaration: '--weights': '0.5'; allowed: a non-empty list of numbers > 1."""

    def __init__(self, spec) -> None:
        self.spec = spec
        self.name = "numbers" if spec.kind in ("list[float]", "list[number]") else "names"

    def convert(self, value, param, ctx):
        from labelkit.settings.declare import WrongType

        if isinstance(value, tuple):
            return value
        try:
            items = self.spec.convert(value if isinstance(value, list) else str(value))
        except WrongType as exc:
            self.fail(f"{exc}.", param, ctx)
        if not self.spec.ok(items):
            self.fail(f"{value!r}; allowed: {self.spec.allowed()}.", param, ctx)
        return tuple(items)


def declared_value(cls: type, name: str, text: str, option: str):
    """`text` given for the setting `name` of `cls` (e.g. monitor's --threshold z=4), converted and checked;
    a click.UsageError (exit 2) naming `option` when it is not allowed."""
    from labelkit.settings.declare import WrongType, declared

    spec = declared(cls)[name]
    try:
        value = spec.convert(spec.from_text(text))
    except WrongType as exc:
        raise click.UsageError(f"{option}: {name} {exc}.") from None
    problem = spec.problem(value)
    if problem:
        raise click.UsageError(f"{option}: {name} {problem}.")
    return value


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
