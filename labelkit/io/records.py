"""Typed JSON records: keyword-only dataclasses whose field names are the JSON keys, read and written
by their fields' types (labelkit.results is the schema built from them).

``to_json()`` writes the fields in declaration order (or the class's ``ORDER``), then ``extra``: the keys
the record did not know when it was read, kept so that reading and writing never loses data.
``from_json(data, source=..., where=...)`` reads one back: a missing required field (one without a
default), or a list/object of the wrong shape, is a one-line DatasetError naming the source and the
key path, as is a scalar of the wrong kind (a number field holding "n/a", a text field holding 3). A field
made with ``absent()`` is left out of the JSON while it is None. Scalars are checked, not converted (an int
in a float field stays an int), so a file read and written again is byte for byte the same.
"""
from __future__ import annotations

import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Union

from labelkit.errors import DatasetError


def absent(default=None):
    """A field whose key is left out of the JSON while its value is None (and may be absent on read)."""
    return field(default=default, metadata={"absent": True})


def listed():
    return field(default_factory=list)


def mapped():
    return field(default_factory=dict)


@dataclass(kw_only=True)
class Record:
    """Base of every record: to_json / from_json by the dataclass fields' types."""

    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # keys this record does not know

    def to_json(self) -> dict:
        out = {}
        for f in json_fields(type(self)):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("absent"):
                continue
            out[f.name] = _dump(value)
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data, *, source: str = "the JSON given", where: str = ""):
        return _load_record(cls, data, str(source), where)


_FIELDS: dict[type, list] = {}
_HINTS: dict[type, dict] = {}


def json_fields(cls) -> list:
    """The JSON fields of a record in key order (ORDER when the declaration order differs)."""
    if cls not in _FIELDS:
        known = [f for f in fields(cls) if f.name != "extra"]
        order = getattr(cls, "ORDER", None)
        if order:
            by_name = {f.name: f for f in known}
            known = [by_name[name] for name in order]
        _FIELDS[cls] = known
    return _FIELDS[cls]


def field_hints(cls) -> dict:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _dump(value):
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _load_record(cls, data, source: str, where: str):
    expect(data, dict, source, where)
    values, hints = {}, field_hints(cls)
    for f in json_fields(cls):
        key = join_key(where, f.name)
        if f.name in data:
            values[f.name] = load_value(hints[f.name], data[f.name], source, key)
        elif _required(f):
            raise DatasetError(f"{source}: required key {key!r} is missing{_fix(source)}")
    known = {f.name for f in json_fields(cls)}
    return cls(**values, extra={k: v for k, v in data.items() if k not in known})


def _required(f) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def load_value(hint, value, source: str, where: str):
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) == 1:
            return load_value(inner[0], value, source, where)
        if all(a in SCALARS for a in inner) and not any(SCALARS[a](value) for a in inner):
            raise DatasetError(f"{source}: {where or 'the file'} should be "
                               f"{' or '.join(SCALAR_NAMES[a] for a in inner)}, not {type(value).__name__} "
                               f"{_shown(value)}{_fix(source)}")
        return value
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_json(value, source=source, where=where)
    if origin is list:
        expect(value, list, source, where)
        (item,) = typing.get_args(hint)
        return [load_value(item, v, source, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        expect(value, dict, source, where)
        item = typing.get_args(hint)[1]
        return {k: load_value(item, v, source, join_key(where, k)) for k, v in value.items()}
    if hint is dict:
        expect(value, dict, source, where)
    elif hint in SCALARS and not SCALARS[hint](value):
        raise DatasetError(f"{source}: {where or 'the file'} should be {SCALAR_NAMES[hint]}, not "
                           f"{type(value).__name__} {_shown(value)}{_fix(source)}")
    return value  # checked, not converted: an int stays an int, so the file reads back byte for byte


# what a scalar field accepts: a number field any JSON number (NaN included, a bool not), a text field text
SCALARS = {
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    bool: lambda v: isinstance(v, bool),
    str: lambda v: isinstance(v, str),
}
SCALAR_NAMES = {float: "a number", int: "a whole number", bool: "true or false", str: "text"}


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def expect(value, kind: type, source: str, where: str) -> None:
    if not isinstance(value, kind):
        names: dict[type, str] = {dict: "an object", list: "a list"}
        name = names[kind]
        raise DatasetError(f"{source}: {where or 'the file'} should be {name}, not {type(value).__name__}"
                           f"{_fix(source)}")


def _fix(source: str) -> str:
    """A file was written by another labelkit (or edited); anything else read is labelkit's own bug."""
    return "; rebuild the run with this labelkit." if source.endswith(".json") else " (a labelkit bug: please report it)."


def join_key(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)
