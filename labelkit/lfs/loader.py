"""Find the LFs in LF modules: every LabelingFunction defined at a module's top level, in order."""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

from labelkit.errors import ConfigError, LabelingFunctionError
from labelkit.lfs.core import LabelingFunction
from labelkit.lfs.slicing import SlicingFunction


@dataclass
class ModuleContents:
    """What LF modules define: LFs, slicing functions, and test-row detectors for the audit."""

    lfs: list[LabelingFunction] = field(default_factory=list)
    slicing_functions: list = field(default_factory=list)
    detectors: list = field(default_factory=list)
    plain_functions: list[str] = field(default_factory=list)  # names of the modules' functions that are not LFs
    sources: dict[str, str] = field(default_factory=dict)  # LF name -> "# file:line" + the module text defining it


def load_lfs(paths: list[Path]) -> list[LabelingFunction]:
    """Import each LF module (a .py file) and collect its LFs; LF names must be unique across modules."""
    return load_modules(paths).lfs


def load_modules(paths: list[Path]) -> ModuleContents:
    """Everything the LF modules define, in definition order; LF names must be unique across modules."""
    contents = ModuleContents()
    origin: dict[str, Path] = {}
    for path in paths:
        module = _import(Path(path))
        contents.slicing_functions += _instances(module, SlicingFunction)
        contents.detectors += [v for v in vars(module).values() if callable(v) and hasattr(v, "detector_name")]
        contents.plain_functions += _plain_functions(module)
        definitions = _definition_sources(Path(path))
        bound: dict[int, str] = {}  # id of a module-level object -> its first name
        for variable, value in vars(module).items():
            bound.setdefault(id(value), variable)
        for lf in _module_lfs(module, path):
            variable = bound.get(id(lf)) or bound.get(id(getattr(lf, "func", None)))
            if variable in definitions:
                line, text = definitions[variable]
                contents.sources[lf.name] = f"# {path}:{line}\n{text}"
            if lf.name in origin:
                raise LabelingFunctionError(
                    f"Duplicate LF name {lf.name!r} in {path} (also defined in {origin[lf.name]}); LF names must be unique."
                )
            origin[lf.name] = Path(path)
            contents.lfs.append(lf)
    return contents


def no_lfs_message(contents: ModuleContents, paths) -> str:
    """Why no LF was found, and the three ways to declare one."""
    plain = contents.plain_functions
    found, listed = "", "..."
    if plain:
        shown = ", ".join(plain[:5]) + (", ..." if len(plain) > 5 else "")
        found = f" (plain function{'s' if len(plain) > 1 else ''} {shown} {'are' if len(plain) > 1 else 'is'} not an LF)"
        listed = shown
    return (f"No labeling functions found in {', '.join(map(str, paths))}{found}. Declare LFs at the module's top "
            f"level: decorate a function f(row) -> class name or ABSTAIN with @labeling_function(), or assign a "
            f"declarative one (kw = keywords(\"billing\", [\"refund\"], name=\"kw\"); also regex(), "
            f"column_condition(), spacy_patterns()), or list plain named functions in LFS = [{listed}].")


def _definition_sources(path: Path) -> dict[str, tuple[int, str]]:
    """Top-level name -> (first line, the module's text of the statement that binds it, decorators
    included): what the studio shows for an LF from a module. {} when the file cannot be parsed."""
    import ast

    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return {}
    lines = text.splitlines()
    out: dict[str, tuple[int, str]] = {}
    for node in tree.body:
        start = node.lineno
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        else:
            continue
        for name in names:
            out[name] = (start, "\n".join(lines[start - 1:node.end_lineno]))
    return out


def _plain_functions(module) -> list[str]:
    """Public functions the module itself defines that are none of the things labelkit collects."""
    import inspect

    return [name for name, value in vars(module).items()
            if inspect.isfunction(value) and value.__module__ == module.__name__ and not name.startswith("_")
            and not hasattr(value, "detector_name")]


def _import(path: Path):
    if not path.is_file():
        raise ConfigError(f"LF module {path.resolve()} does not exist; [task -> labeling_functions] paths are "
                          f"relative to the config file's folder: fix the path, or move the module there.")
    module_name = "labelkit_lfs_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # e.g. a file whose name does not end in .py
        raise ConfigError(f"LF module {path.resolve()} cannot be imported as a Python module; name it *.py.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # so row-wise LFs pickle by reference for process/Dask engines
    try:
        spec.loader.exec_module(module)
    except LabelingFunctionError as exc:
        raise LabelingFunctionError(f"{path}: {exc}") from None
    except Exception as exc:  # the user's module failed to import: say where, not a traceback
        line = _error_line(exc, path)
        raise LabelingFunctionError(f"LF module {path}{line} failed to load: {type(exc).__name__}: {exc}") from None
    return module


LFS_CONVENTION = ("a module-level LFS must be a list of labeling functions (@labeling_function(), keywords(), "
                  "regex(), ...) or plain named functions f(row) -> class name or ABSTAIN")


def _module_lfs(module, path: Path) -> list[LabelingFunction]:
    """`LFS = [...]` when the module defines it (plain functions are wrapped), else every LF at top level."""
    explicit = getattr(module, "LFS", None)
    if explicit is None:
        return _instances(module, LabelingFunction)
    if isinstance(explicit, (str, bytes, dict)) or not hasattr(explicit, "__iter__"):
        raise LabelingFunctionError(f"{path}: LFS is a {type(explicit).__name__}; {LFS_CONVENTION}.")
    return [_as_lf(item, i, path) for i, item in enumerate(explicit)]


def _as_lf(item, position: int, path: Path) -> LabelingFunction:
    if isinstance(item, LabelingFunction):
        return item
    name = getattr(item, "__name__", "")
    if callable(item) and name.isidentifier():
        return LabelingFunction(name, item)
    what = "a lambda (it has no name)" if name == "<lambda>" else f"{item!r:.60} ({type(item).__name__})"
    raise LabelingFunctionError(f"{path}: LFS[{position}] is {what}; {LFS_CONVENTION}.")


def _instances(module, cls) -> list:
    seen: set[int] = set()
    found = []
    for value in vars(module).values():
        if isinstance(value, cls) and id(value) not in seen:
            seen.add(id(value))
            found.append(value)
    return found


def _error_line(exc: BaseException, path: Path) -> str:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None and isinstance(exc, SyntaxError):
        line = exc.lineno
    return f":{line}" if line else ""


def lf_source_hash(paths: list[Path]) -> str:
    """SHA-256 over the LF modules' bytes, in order: any change to an LF changes the hash."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()
