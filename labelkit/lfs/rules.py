"""Rules as data: a TOML rules file -> labelkit's declarative LFs. Nothing in the file runs code.

```toml
# rules.toml, listed in labelkit.toml as [task] rules = ["rules.toml"]
[[rule]]
name = "kw_refund"
class = "billing"
kind = "keywords"              # keywords | phrases | regex | spacy | column | similar
words = ["refund", "money back"]

[[rule]]
name = "big_fr"
class = "billing"
kind = "column"
condition = "amount > 1000 and (country == 'FR' or country == 'BE')"
```

Errors name the file, the line of the rule and the rule (unknown class, bad regex, unknown column,
duplicate name). Saving goes through tomlkit, so comments and order survive an edit (a minimal diff),
and the file is replaced atomically, refusing when it changed since it was read.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labelkit.errors import ConfigError, LabelingFunctionError
from labelkit.io.files import atomic_write_text
from labelkit.lfs.condition import ConditionError, parse_condition
from labelkit.lfs.declarative import DeclarativeLF, KeywordLF, RegexLF
from labelkit.schema import ABSTAIN

KINDS = {  # kind -> (required option, optional options)
    "keywords": ("words", ("column", "case_sensitive")),
    "phrases": ("phrases", ("attr",)),
    "regex": ("pattern", ("column", "case_sensitive")),
    "spacy": ("patterns", ("phrases", "attr")),
    "column": ("condition", ()),
    # like these examples (labelkit/lfs/similar.py): seed texts, a cosine threshold, an embedding model
    "similar": ("examples", ("unlike", "threshold", "model", "column", "min_precision", "abstain_below")),
}
COMMON = ("name", "class", "kind", "description")
_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")


class RulesConflict(LabelingFunctionError):
    """The rules file changed on disk since the editor read it."""


@dataclass
class Rule:
    """One rule as written in the file (options keep their file names)."""

    name: str
    label: str
    kind: str
    options: dict = field(default_factory=dict)
    description: str = ""
    line: int = 0

    def to_table(self) -> dict:
        table = {"name": self.name, "class": self.label, "kind": self.kind}
        if self.description:
            table["description"] = self.description
        table.update(self.options)
        return table


class ConditionLF(DeclarativeLF):
    """A column condition of a rules file, parsed by labelkit.lfs.condition (vectorised)."""

    kind = "column"

    def __init__(self, name: str, label: str, expression: str, *, where: str = "") -> None:
        super().__init__(name, label)
        self.expression = expression
        self.where = where
        self.condition = parse_condition(expression)

    def mask(self, batch) -> np.ndarray:
        missing = sorted(self.condition.columns() - set(map(str, batch.frame.columns)))
        if missing:
            raise LabelingFunctionError(
                f"{self.where}rule {self.name!r} tests column {missing[0]!r}, which is not in the data; "
                f"columns are: {', '.join(map(str, batch.frame.columns))}."
            )
        return self.condition.mask(batch.frame)

    def _row_vote(self, row, text_column):
        return self.label if self.condition.row(row) else ABSTAIN

    def __repr__(self) -> str:
        return f"condition({self.label!r}, {self.expression!r}, name={self.name!r})"


# ---------------------------------------------------------------- reading

def read_rules(path: Path, *, classes=None, columns=None) -> list[Rule]:
    """The rules of a rules file, validated (classes and columns when given)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Rules file {path.resolve()} does not exist; [task -> rules] paths are relative to the config "
                          f"file's folder: fix the path, or create the file (`labelkit studio --rules FILE` starts one).")
    return parse_rules(path.read_text(encoding="utf-8"), path, classes=classes, columns=columns)


def parse_rules(text: str, path: Path | str, *, classes=None, columns=None) -> list[Rule]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(toml_error_message(text, path, exc)) from None
    unknown = sorted(set(document) - {"rule"})
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]!r} is not allowed at the top level; write each rule as a [[rule]] table.")
    tables = document.get("rule", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{path}: 'rule' must be [[rule]] tables.")
    lines = _header_lines(text)
    rules: list[Rule] = []
    seen: dict[str, int] = {}  # rule name -> line of its first table
    for i, table in enumerate(tables):
        line = lines[i] if i < len(lines) else 0
        rule = rule_from_table(table, where=f"{path}:{line}: ", line=line)
        if rule.name in seen:
            raise LabelingFunctionError(
                f"{path}:{line}: rule {rule.name!r}: duplicate name (also at line {seen[rule.name]}); names must be unique."
            )
        seen[rule.name] = line
        check_rule(rule, classes=classes, columns=columns, where=f"{path}:{line}: ")
        rules.append(rule)
    return rules


_TOML_AT = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)\s*$")
_NAME = re.compile(r"""^\s*name\s*=\s*(?:"([^"\n]*)"?|'([^'\n]*)'?)""")  # the closing quote may be the error


def toml_error_message(text: str, path, exc) -> str:
    """A TOML syntax error as a person reads it: the file and line, the rule it is in (by its name when
    that line reads), and what to fix, e.g. `rules.toml:7: rule 'kw_refund': a quoted value is not closed on
    this line: add the closing " (column 21).` instead of tomllib's "Illegal character '\\n'"."""
    message = str(exc)
    found = _TOML_AT.search(message)
    lines = text.splitlines()
    line = int(found.group(1)) if found and found.group(1) else len(lines)
    column = int(found.group(2)) if found and found.group(2) else None
    what = _TOML_AT.sub("", message)
    current = lines[line - 1] if 0 < line <= len(lines) else ""
    if what.startswith("Illegal character '\\n'") or what.startswith("Expected '\"'") or what.startswith('Expected "\'"'):
        quote = "'" if current.count("'") % 2 else '"'
        what = f"a quoted value is not closed on this line: add the closing {quote}"
    elif what.startswith("Unclosed array"):
        what = "a list opened with [ is not closed: add the closing ] (after its last item)"
    elif what.startswith("Cannot overwrite a value"):
        what = "a key is given twice (each option once per rule)"
    elif what.startswith("Expected '=' after a key"):
        what = "write each option as key = value"
    elif what.startswith("Invalid value"):
        what = 'a value must be quoted text, a number, true/false or a [list], e.g. words = ["refund"]'
    elif what.startswith("Expected ']]'"):
        what = "a rule starts with a [[rule]] line"
    header = max((n for n in _header_lines(text) if n <= line), default=None)
    rule = ""
    if header is not None:
        following = [n for n in _header_lines(text) if n > header]
        end = following[0] - 1 if following else len(lines)
        for candidate in lines[header:end]:
            named = _NAME.match(candidate)
            if named:
                rule = f"rule {(named.group(1) if named.group(1) is not None else named.group(2))!r}: "
                break
        if not rule:
            rule = f"the rule starting at line {header}: "
    where = f" (column {column})" if column else ""
    return f"{path}:{line}: {rule}invalid TOML: {what}{where}."


def _header_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), start=1) if _HEADER.match(line)]


def rule_from_table(table: dict, *, where: str = "", line: int = 0) -> Rule:
    """A Rule from a [[rule]] table (or an editor's form), checking its keys and their types."""
    name = table.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w-]{0,79}", name or ""):
        raise LabelingFunctionError(
            f"{where}rule {name!r}: 'name' must be letters, digits, _ or - (starting with a letter or _), got {name!r}."
        )
    label, kind = table.get("class"), table.get("kind")
    if kind not in KINDS:
        raise LabelingFunctionError(f"{where}rule {name!r}: kind {kind!r} is not one of {', '.join(KINDS)}.")
    if not isinstance(label, str) or not label:
        raise LabelingFunctionError(f"{where}rule {name!r}: 'class' must be a class name, got {label!r}.")
    required, optional = KINDS[kind]
    allowed = (*COMMON, required, *optional)
    for key in table:
        if key not in allowed:
            raise LabelingFunctionError(
                f"{where}rule {name!r}: {key!r} is not an option of kind {kind!r}; options are: {', '.join(allowed)}."
            )
    if required not in table:
        raise LabelingFunctionError(f"{where}rule {name!r}: kind {kind!r} needs {required!r}.")
    options = {k: v for k, v in table.items() if k not in COMMON}
    _check_types(name, kind, options, where)
    description = table.get("description", "")
    return Rule(name, label, kind, options, str(description), line)


def _check_types(name: str, kind: str, options: dict, where: str) -> None:
    def fail(message: str):
        raise LabelingFunctionError(f"{where}rule {name!r}: {message}")

    for key in ("words", "phrases", "examples", "unlike"):
        if key in options:
            value = options[key]
            if not isinstance(value, list) or not value or not all(isinstance(w, str) and w.strip() for w in value):
                fail(f"{key!r} must be a non-empty list of non-empty texts, got {value!r}.")
    for key in ("threshold", "min_precision"):
        if key in options and (isinstance(options[key], bool) or not isinstance(options[key], (int, float))
                               or not -1 <= options[key] <= 1):
            fail(f"{key!r} must be a number in [-1, 1] (a cosine similarity / a precision), got {options[key]!r}.")
    for key in ("pattern", "condition", "column", "attr", "model"):
        if key in options and (not isinstance(options[key], str) or not options[key].strip()):
            fail(f"{key!r} must be a non-empty text, got {options[key]!r}.")
    for key in ("case_sensitive", "abstain_below"):
        if key in options and not isinstance(options[key], bool):
            fail(f"{key!r} must be true or false, got {options[key]!r}.")
    if "patterns" in options:
        value = options["patterns"]
        if (not isinstance(value, list) or not value
                or not all(isinstance(p, list) and p and all(isinstance(t, dict) for t in p) for p in value)):
            fail("'patterns' must be a list of token patterns, each a list of tables, "
                 "e.g. [[{LOWER = \"cancel\"}, {LOWER = \"plan\"}]].")


def check_rule(rule: Rule, *, classes=None, columns=None, where: str = "") -> None:
    """Unknown class, bad regex, bad condition, bad spaCy pattern, unknown column: one clear line."""
    prefix = f"{where}rule {rule.name!r}: "
    if classes is not None and rule.label not in classes:
        raise LabelingFunctionError(f"{prefix}unknown class {rule.label!r}; classes are: {', '.join(classes)}.")
    if rule.kind == "regex":
        try:
            re.compile(rule.options["pattern"])
        except re.error as exc:
            raise LabelingFunctionError(f"{prefix}bad regex {rule.options['pattern']!r}: {exc}.") from None
    used = []
    if rule.kind == "column":
        try:
            used = sorted(parse_condition(rule.options["condition"]).columns())
        except ConditionError as exc:
            raise LabelingFunctionError(f"{prefix}bad condition {rule.options['condition']!r}: {exc}.") from None
    elif "column" in rule.options:
        used = [rule.options["column"]]
    if columns is not None:
        for column in used:
            if column not in columns:
                raise LabelingFunctionError(f"{prefix}unknown column {column!r}; columns are: {', '.join(map(str, columns))}.")
    if rule.kind == "spacy":
        _check_spacy_patterns(rule, prefix)


def _check_spacy_patterns(rule: Rule, prefix: str) -> None:
    import spacy
    from spacy.matcher import Matcher

    try:
        Matcher(spacy.blank("en").vocab, validate=True).add(rule.name, rule.options["patterns"])
    except (ValueError, TypeError, KeyError) as exc:
        details = [line.strip("- ") for line in str(exc).splitlines() if line.strip().startswith("- [")]
        reason = "; ".join(details) or str(exc).strip().splitlines()[0]
        raise LabelingFunctionError(f"{prefix}bad spaCy pattern: {reason[:300]}") from None


def to_lf(rule: Rule, *, where: str = "", root=None):
    """The declarative LF a rule stands for (vectorised where labelkit can). `root`: the rules file's
    folder (a similarity rule's model folder is relative to it)."""
    o = rule.options
    if rule.kind == "similar":
        from labelkit.lfs.similar import DEFAULT_MIN_PRECISION, DEFAULT_THRESHOLD, SimilarLF

        return SimilarLF(rule.name, rule.label, o["examples"], threshold=o.get("threshold", DEFAULT_THRESHOLD),
                         unlike=o.get("unlike", ()), model=o.get("model", "wordllama"), column=o.get("column"),
                         min_precision=o.get("min_precision", DEFAULT_MIN_PRECISION),
                         abstain_below=bool(o.get("abstain_below")), root=root)
    flags = 0 if o.get("case_sensitive") else re.IGNORECASE
    if rule.kind == "keywords":
        return KeywordLF(rule.name, rule.label, o["words"], column=o.get("column"),
                         case_sensitive=bool(o.get("case_sensitive")))
    if rule.kind == "regex":
        return RegexLF(rule.name, rule.label, o["pattern"], column=o.get("column"), flags=flags)
    if rule.kind == "column":
        return ConditionLF(rule.name, rule.label, o["condition"], where=where)
    from labelkit.lfs.spacy_lfs import SpacyPatternLF

    patterns = o.get("patterns") if rule.kind == "spacy" else None
    return SpacyPatternLF(rule.name, rule.label, patterns, o.get("phrases"), o.get("attr", "LOWER"))


def load_rules(paths, *, classes=None, columns=None) -> list:
    """LFs of every rules file, in order; names must be unique across files."""
    lfs: list = []
    origin: dict[str, str] = {}  # LF name -> the rules file that defines it
    for path in paths:
        for rule in read_rules(path, classes=classes, columns=columns):
            where = f"{path}:{rule.line}: "
            if rule.name in origin:
                raise LabelingFunctionError(f"{where}rule {rule.name!r}: duplicate name (also in {origin[rule.name]}).")
            origin[rule.name] = where.rstrip(": ")
            lf = to_lf(rule, where=where, root=Path(path).parent)
            lf.where = where
            lfs.append(lf)
    return lfs


def add_rules(contents, paths: list[Path], classes=None, columns=None) -> list[Path]:
    """Append the rules files' LFs to loaded LF modules' `contents`; a rule may not reuse an LF's name."""
    taken = {lf.name for lf in contents.lfs}
    for lf in load_rules(paths, classes=list(classes) if classes else None, columns=columns):
        if lf.name in taken:
            raise LabelingFunctionError(
                f"{getattr(lf, 'where', '') or ''}rule {lf.name!r}: an LF module already defines an LF with this name.")
        contents.lfs.append(lf)
    return [Path(p) for p in paths]


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes ("" when it does not exist yet)."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


# ---------------------------------------------------------------- writing (minimal diff, atomic)

def save_rule(path: Path, rule: Rule, *, replaces: str | None, expected_sha256: str, classes=None,
              columns=None) -> str:
    """Add `rule` (replaces=None) or replace the rule named `replaces`; returns the new file hash.

    Refuses (RulesConflict) when the file's hash is not `expected_sha256`, i.e. someone else saved
    in between; refuses invalid rules before anything is written."""
    import tomlkit

    text = _current_text(path, expected_sha256)
    document = tomlkit.parse(text)
    tables = document.get("rule")
    if tables is None:
        tables = tomlkit.aot()
        document.append("rule", tables)
    names = [str(t.get("name")) for t in tables]
    if rule.name in names and rule.name != replaces:
        raise LabelingFunctionError(f"{path}: a rule named {rule.name!r} already exists; choose another name.")
    if replaces is None:
        if len(tables) and not tomlkit.dumps(document).endswith("\n\n"):
            tables[-1].add(tomlkit.nl())  # a blank line between the last rule and the new one
        tables.append(_new_table(rule))
    else:
        if replaces not in names:
            raise RulesConflict(f"{path}: rule {replaces!r} is no longer in the file; reload the page.")
        _update_table(tables[names.index(replaces)], rule.to_table())
    return _write_checked(path, tomlkit.dumps(document), classes=classes, columns=columns)


def delete_rule(path: Path, name: str, *, expected_sha256: str) -> str:
    import tomlkit

    document = tomlkit.parse(_current_text(path, expected_sha256))
    tables = document.get("rule") or []
    names = [str(t.get("name")) for t in tables]
    if name not in names:
        raise RulesConflict(f"{path}: rule {name!r} is no longer in the file; reload the page.")
    del tables[names.index(name)]
    return _write_checked(path, tomlkit.dumps(document))


def _current_text(path: Path, expected_sha256: str) -> str:
    path = Path(path)
    current = file_sha256(path)
    if current != expected_sha256:
        raise RulesConflict(
            f"{path} was changed by someone else since this page read it; your edit was not saved. "
            f"Reload the page to see the current rules, then apply your edit again."
        )
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _new_table(rule: Rule):
    import tomlkit

    table = tomlkit.table()
    for key, value in rule.to_table().items():
        table[key] = value
    return table


def _update_table(table, values: dict) -> None:
    """Change only what changed: untouched keys keep their formatting and comments."""
    for key in [k for k in table if k not in values]:
        del table[key]
    for key, value in values.items():
        if key not in table or table[key] != value:
            table[key] = value


def _write_checked(path: Path, text: str, *, classes=None, columns=None) -> str:
    parse_rules(text, path, classes=classes, columns=columns)  # never write a file the build would refuse
    return atomic_write_text(Path(path), text)

