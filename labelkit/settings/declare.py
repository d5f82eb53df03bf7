"""Settings declared once. A setting is a dataclass field made by `setting(default, help, ...)`: its kind,
default, allowed values (choices, a range, a test) and one line of help travel with it. Everything else is
derived from that declaration: the check of a value (one ConfigError line naming the setting, the value
and what is allowed), the parsing of text from the environment or the command line, click's option types
(labelkit/cli/common.py) and the reference in docs/settings.md (labelkit.settings.reference).

Plain dataclasses with field metadata, not pydantic models: the config sections stay dataclasses
(`dataclasses.replace` keeps working everywhere), and declaring every setting this way costs ~10 ms at
import (labelkit.settings.config) where pydantic cost 250-340 ms (import pydantic + a dozen models, measured on the
2-core CI machine), which every command's --help would pay.

>>> from dataclasses import dataclass
>>> @dataclass
... class Demo:
...     rows: int = setting(30, "Rows at least.", ge=1)
>>> spec = declared(Demo)["rows"]
>>> spec.problem(0)
'is 0; allowed: an integer >= 1'
>>> spec.convert(spec.from_text("7"))
7
"""
from __future__ import annotations

import copy
import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

from labelkit.errors import ConfigError

KEY = "labelkit.setting"  # the field metadata key that holds a Setting

# kind -> what a value of another type is told it must be (scalars keep the words the messages always used)
EXPECTED = {
    "str": "str", "int": "int", "float": "float", "bool": "bool",
    "list[str]": "a list of strings", "list[float]": "a list of numbers", "list[number]": "a list of numbers",
    "list[table]": "a list of tables", "table": "a table of strings",
    "path": "a file path or a list of file paths", "bool|auto": 'true, false or "auto"',
    "str|list[float]": "a string or a list of numbers",
}
# kind -> its name in docs/settings.md
TYPE_NAMES = {
    "str": "string", "int": "integer", "float": "number", "bool": "true/false",
    "list[str]": "list of strings", "list[float]": "list of numbers", "list[number]": "list of numbers",
    "list[table]": "list of tables", "table": "table", "path": "path or list of paths",
    "bool|auto": 'true/false/"auto"', "str|list[float]": "string or list of numbers",
}


class WrongType(ValueError):
    """A value of the wrong type; str(exc) is the message's tail: 'must be int, got 'x''."""


@dataclass(frozen=True)
class Setting:
    """One setting's declaration. Choices apply to a string (or to each string of a list), the range
    (ge, gt, le, lt) to a number (or to each number of a list); `test` is any other rule, stated for
    people in `allowed_text`."""

    kind: str
    help: str
    default: Any = None
    choices: tuple[str, ...] = ()
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    nonempty: bool = False
    test: Callable[[Any], bool] | None = None
    allowed_text: str = ""
    required: bool = False  # a command option that must be given (no default)

    # -- values -------------------------------------------------------------------------------------
    def convert(self, value: Any) -> Any:
        """The value as the setting holds it: an int for a float setting becomes a float, a comma-separated
        string for a list setting becomes the list (items converted for number lists). WrongType else."""
        kind = self.kind
        if kind == "bool|auto":
            return _expect(self, value, isinstance(value, bool) or value == "auto")
        if kind in ("str", "bool"):
            return _expect(self, value, isinstance(value, str if kind == "str" else bool))
        if kind == "int":
            return _expect(self, value, _is_number(value) and isinstance(value, numbers.Integral))
        if kind == "float":
            return float(_expect(self, value, _is_number(value)))
        if kind == "table":
            return _expect(self, value, isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()))
        if kind == "path":
            return _expect(self, value, isinstance(value, str) or (
                isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)))
        if kind == "str|list[float]":
            if isinstance(value, str):
                return value
            _expect(self, value, isinstance(value, list) and all(_is_number(v) for v in value))
            return [float(v) for v in value]
        return self._convert_list(value)

    def _convert_list(self, value: Any) -> list:
        kind = self.kind
        if isinstance(value, str):  # --set a.b=x,y (and a string in the file)
            value = [v.strip() for v in value.split(",") if v.strip()]
            if kind == "list[number]":
                value = [_number_or_text(v) for v in value]
        elif kind == "list[float]" and _is_number(value):  # C = 1.0: one candidate
            value = [value]
        _expect(self, value, isinstance(value, list))
        if kind == "list[float]":
            try:
                return [float(_expect(self, v, not isinstance(v, bool))) for v in value]
            except (TypeError, ValueError):
                raise WrongType(self._must_be(value)) from None
        test = {"list[str]": lambda v: isinstance(v, str), "list[number]": _is_number,
                "list[table]": lambda v: isinstance(v, dict)}[kind]
        return _expect(self, value, all(test(v) for v in value))

    def from_text(self, text: str) -> Any:
        """A value given as text (LABELKIT_<SECTION>__<KEY>, --set): TOML value syntax (7, 0.5, true,
        ["a", "b"]); anything else, or anything but a string/list for a text setting, is the text itself."""
        import tomllib

        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            return text
        if self.kind == "str" and not isinstance(value, str):
            return text
        if self.kind in ("path", "str|list[float]") and not isinstance(value, (str, list)):
            return text
        return value

    def ok(self, value: Any) -> bool:
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if isinstance(value, (list, tuple)) and self.nonempty and not items:
            return False
        for item in items:
            if self.choices and isinstance(item, str) and item not in self.choices:
                return False
            if self.has_range and _is_number(item) and not self.in_range(item):
                return False
        return self.test is None or bool(self.test(value))

    def problem(self, value: Any) -> str | None:
        """None when `value` (already converted) is allowed, else 'is VALUE; allowed: WHAT'."""
        return None if self.ok(value) else f"is {value!r}; allowed: {self.allowed()}"

    @property
    def has_range(self) -> bool:
        return any(bound is not None for bound in (self.ge, self.gt, self.le, self.lt))

    def in_range(self, number) -> bool:
        return bool(math.isfinite(number)
                    and (self.ge is None or number >= self.ge) and (self.gt is None or number > self.gt)
                    and (self.le is None or number <= self.le) and (self.lt is None or number < self.lt))

    # -- words ----------------------------------------------------------------------------------------
    def allowed(self) -> str:
        """What is allowed, for people: the error's tail and the reference's column ('' = any value)."""
        if self.allowed_text:
            return self.allowed_text
        many = self.kind.startswith("list[")
        if self.choices:
            names = ", ".join(self.choices)
            return f"{'a non-empty' if self.nonempty else 'a'} list of {names}" if many else names
        if self.has_range:
            phrase = self._range_phrase(plural=many)
            return f"{'a non-empty' if self.nonempty else 'a'} list of {phrase}" if many else phrase
        if self.nonempty:
            return f"a non-empty {EXPECTED[self.kind].removeprefix('a ')}"
        return ""

    def type_name(self) -> str:
        return TYPE_NAMES[self.kind]

    def _must_be(self, value: Any) -> str:
        expected = EXPECTED[self.kind]
        if self.kind in ("list[float]", "list[number]") and self.has_range:
            expected = f"a list of {self._range_phrase(plural=True)}"
        return f"must be {expected}, got {value!r}"

    def _range_phrase(self, *, plural: bool) -> str:
        integer = self.kind == "int"
        noun = ("integers" if integer else "numbers") if plural else ("an integer" if integer else "a number")
        low, high = (self.ge, "[") if self.ge is not None else (self.gt, "(")
        top, close = (self.le, "]") if self.le is not None else (self.lt, ")")
        if low is not None and top is not None:
            if integer and high == "[" and close == "]":
                return f"{noun} from {_show(low)} to {_show(top)}"
            return f"{noun} in {high}{_show(low)}, {_show(top)}{close}"
        if low is not None:
            return f"{noun} {'>=' if high == '[' else '>'} {_show(low)}"
        return f"{noun} {'<=' if close == ']' else '<'} {_show(top)}"


def setting(default: Any, help: str, *, kind: str | None = None, **rules) -> Any:
    """A dataclass field declaring a setting; `kind` defaults to the default's type (str, int, float, bool)."""
    kind = kind or {bool: "bool", int: "int", float: "float", str: "str"}[type(default)]
    return _field(Setting(kind=kind, help=help, default=default, **rules))


def same_as(cls: type, name: str, **changes) -> Any:
    """The field `name` of `cls` declared again for another view of the same setting (AuditSpec and
    [audit]): same kind, default, rules and help unless `changes` says otherwise."""
    spec = declared(cls)[name]
    return _field(dataclasses.replace(spec, **changes) if changes else spec)


def declared(cls: type) -> dict[str, Setting]:
    """name -> Setting of every declared field of a dataclass, in declaration order."""
    return {f.name: f.metadata[KEY] for f in dataclasses.fields(cls) if KEY in f.metadata}


def check_declared(obj: Any, where: str) -> None:
    """Every declared field of `obj` holds an allowed value (values are not converted); ConfigError
    'WHERE.name is VALUE; allowed: WHAT.' for the first that does not."""
    check_values(type(obj), where, **{name: getattr(obj, name) for name in declared(type(obj))})


def check_values(cls: type, where: str, **values: Any) -> None:
    """A library call's arguments obey the settings of the same names declared in `cls` (a command's
    options, labelkit/settings/options.py), so `repair_run(..., weights=[0.5])` is refused as the command's
    --weights 0.5 is; values are not converted. ConfigError 'WHERE.name is VALUE; allowed: WHAT.' for the
    first that does not.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Demo:
    ...     rows: int = setting(30, "Rows at least.", ge=1)
    >>> check_values(Demo, "pick", rows=0)
    Traceback (most recent call last):
    labelkit.errors.ConfigError: pick.rows is 0; allowed: an integer >= 1.
    """
    specs = declared(cls)
    for name, value in values.items():
        problem = specs[name].problem(value)
        if problem:
            raise ConfigError(f"{where}.{name} {problem}.")


def toml_text(value: Any) -> str:
    """A default as TOML shows it (the reference's default column)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_text(v)}" for k, v in value.items()) + "}"
    return repr(value)


def cli_text(value: Any) -> str:
    """A default as a command-line option takes it: lists comma-separated (2,4,8)."""
    if isinstance(value, (list, tuple)):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


def markdown_table(cls: type, label: Callable[[str], str], default: Callable[[Any], str] = toml_text) -> list[str]:
    """The reference table of one declared dataclass: setting, type, default, allowed, meaning."""
    rows = ["| setting | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for name, spec in declared(cls).items():
        shown = f"`{default(spec.default)}`" if spec.default is not None else "(required)" if spec.required else "(none)"
        cells = [f"`{label(name)}`", spec.type_name(), shown, spec.allowed(), spec.help]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return rows


def _field(spec: Setting) -> Any:
    if isinstance(spec.default, (list, dict)):
        default = spec.default
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata={KEY: spec})
    return dataclasses.field(default=spec.default, metadata={KEY: spec})


def _expect(spec: Setting, value: Any, ok: bool) -> Any:
    if not ok:
        raise WrongType(spec._must_be(value))
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _number_or_text(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _show(number) -> str:
    if isinstance(number, int) and number > 2**16 and number & (number - 1) == 0:
        return f"2**{number.bit_length() - 1}"
    return f"{number:g}" if isinstance(number, float) else str(number)
