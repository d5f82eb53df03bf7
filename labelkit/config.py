"""labelkit.toml -> a validated Config. Unknown sections or keys are errors, not silently ignored.

Precedence: defaults < config file < LABELKIT_<SECTION>__<KEY> environment variables < --set overrides.
Relative paths in the file are relative to the file's folder.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelkit.errors import ConfigError


@dataclass
class TaskConfig:
    name: str = "task"
    classes: list[str] = field(default_factory=list)
    labeling_functions: list[str] = field(default_factory=list)
    seed: int = 123


@dataclass
class DataConfig:
    train: str | list = ""  # a file, or a list of files read one after the other
    dev: str | list = ""
    test: str | list = ""
    wrench: str = ""  # a WRENCH folder instead of train/dev/test files
    id_column: str = "id"
    text_column: str = "text"
    label_column: str = "label"
    time_column: str = ""
    group_column: str = ""
    slice_columns: list[str] = field(default_factory=list)
    feature_columns: list[str] = field(default_factory=list)
    vote_columns: list[str] = field(default_factory=list)  # precomputed votes (crowd workers, legacy rules)


@dataclass
class LFConfig:
    spacy_model: str = ""  # "" = spacy.blank("en")
    on_error: str = "raise"  # or "abstain"
    engine: str = "local"  # local | processes | dask
    scheduler: str = ""  # Dask scheduler address; "" = start a LocalCluster
    examples: int = 3


@dataclass
class LabelModelConfig:
    candidates: list[str] = field(default_factory=lambda: ["majority", "weighted_majority", "snorkel", "dawid_skene"])
    metric: str = "accuracy"  # accuracy | macro_f1: how label models and the end model's C are chosen on dev
    class_balance: str | list = "dev"  # dev | uniform | estimate | a list of class proportions (given)


@dataclass
class EndModelConfig:
    enabled: bool = True
    labels: str = "soft"  # soft | hard
    C: list[float] = field(default_factory=lambda: [0.1, 0.3, 1.0, 3.0])  # chosen on dev
    max_features: int = 50_000
    include_uncovered: bool = False  # train on rows where every LF abstained (with the prior as label)
    compare_hard: bool = True  # also train on hard labels and report it as end_model_hard_labels


@dataclass
class AuditConfig:
    enabled: bool = True
    checks: list[str] = field(default_factory=list)  # [] = all
    policies: dict[str, str] = field(default_factory=dict)
    rules: list[dict] = field(default_factory=list)
    near_duplicate_threshold: float = 0.9
    weak_label_issues: bool = True


@dataclass
class EvaluateConfig:
    slice_columns: list[str] = field(default_factory=list)  # [] = data.slice_columns
    auto_slices: bool = True
    min_slice_size: int = 30
    guardrail_tolerance: float = 0.02
    bootstrap: int = 1000
    expectations: str = ""
    drift_freq: str = "auto"
    fail_on: list[str] = field(default_factory=list)  # guardrail, expectations, leakage, test-rows


SECTIONS = {
    "task": TaskConfig, "data": DataConfig, "lfs": LFConfig, "label_model": LabelModelConfig,
    "end_model": EndModelConfig, "audit": AuditConfig, "evaluate": EvaluateConfig,
}
FAIL_ON = ("guardrail", "expectations", "leakage", "test-rows", "too-good")


@dataclass
class Config:
    task: TaskConfig
    data: DataConfig
    lfs: LFConfig
    label_model: LabelModelConfig
    end_model: EndModelConfig
    audit: AuditConfig
    evaluate: EvaluateConfig
    path: Path | None = None  # the config file (None when built in code)
    root: Path = Path(".")  # folder relative paths are resolved against

    def resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.root / path)

    def to_dict(self) -> dict[str, Any]:
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}


def load_config(path: Path | None, *, overrides: dict[str, str] | None = None,
                environ: dict[str, str] | None = None) -> Config:
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_toml(Path(path))
    _merge(raw, _environment_overrides(os.environ if environ is None else environ))
    _merge(raw, _parse_overrides(overrides or {}))
    config = from_dict(raw, path=Path(path) if path else None)
    return config


def from_dict(raw: dict[str, Any], *, path: Path | None = None, root: Path | None = None) -> Config:
    sections = {}
    for name in raw:
        if name not in SECTIONS:
            raise ConfigError(f"{_where(path)}[{name}] is not a section; sections are: {', '.join(SECTIONS)}.")
    for name, cls in SECTIONS.items():
        sections[name] = _build_section(name, cls, raw.get(name, {}), path)
    config = Config(**sections, path=path, root=root or (path.parent if path else Path(".")))
    _validate(config)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text.") from None


def _build_section(name: str, cls, values: Any, path: Path | None):
    if not isinstance(values, dict):
        raise ConfigError(f"{_where(path)}[{name}] must be a table, got {values!r}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"{_where(path)}[{name} -> {key}] is not a setting; settings of [{name}] are: {', '.join(fields)}."
            )
        kwargs[key] = _coerce(name, key, value, fields[key], cls, path)
    return cls(**kwargs)


def _coerce(section: str, key: str, value: Any, fld, cls, path):
    default = fld.default if fld.default is not dataclasses.MISSING else fld.default_factory()
    expected = type(default)
    if section == "label_model" and key == "class_balance" and isinstance(value, list):
        if not value or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in value):
            raise ConfigError(f"{_where(path)}[label_model -> class_balance] as a list needs non-negative numbers, got {value!r}.")
        return [float(v) for v in value]
    if section == "data" and key in ("train", "dev", "test") and isinstance(value, list):
        if not value or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{_where(path)}[data -> {key}] must be a file path or a list of file paths, got {value!r}.")
        return value
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is list and isinstance(value, str):  # --set a.b=x,y
        value = [v.strip() for v in value.split(",") if v.strip()]
    if expected is list and key == "C":
        value = [float(v) for v in value] if isinstance(value, list) else [float(value)]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(
            f"{_where(path)}[{section} -> {key}] must be {expected.__name__}, got {value!r}."
        )
    return value


def _validate(config: Config) -> None:
    choices = {
        ("lfs", "on_error"): ("raise", "abstain"),
        ("lfs", "engine"): ("local", "processes", "dask"),
        ("label_model", "metric"): ("accuracy", "macro_f1"),
        ("label_model", "class_balance"): ("dev", "uniform", "estimate"),
        ("end_model", "labels"): ("soft", "hard"),
    }
    for (section, key), allowed in choices.items():
        value = getattr(getattr(config, section), key)
        if isinstance(value, list):  # a given class balance, checked against the classes below
            continue
        if value not in allowed:
            raise ConfigError(
                f"{_where(config.path)}[{section} -> {key}] is {value!r}; allowed: {', '.join(allowed)}."
            )
    balance = config.label_model.class_balance
    if isinstance(balance, list) and config.task.classes and len(balance) != len(config.task.classes):
        raise ConfigError(
            f"{_where(config.path)}[label_model -> class_balance] has {len(balance)} numbers for "
            f"{len(config.task.classes)} classes ({', '.join(config.task.classes)})."
        )
    for item in config.evaluate.fail_on:
        if item not in FAIL_ON:
            raise ConfigError(f"{_where(config.path)}[evaluate -> fail_on] has {item!r}; allowed: {', '.join(FAIL_ON)}.")


def _environment_overrides(environ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if name.startswith("LABELKIT_") and "__" in name:
            section, key = name[len("LABELKIT_"):].lower().split("__", 1)
            out.setdefault(section, {})[key] = _parse_value(value)
    return out


def _parse_overrides(overrides: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if "." not in dotted:
            raise ConfigError(f"--set {dotted}=...: write section.key=value, e.g. --set task.seed=7.")
        section, key = dotted.split(".", 1)
        out.setdefault(section, {})[key] = _parse_value(value) if isinstance(value, str) else value
    return out


def _parse_value(text: str) -> Any:
    """TOML value syntax (7, 0.5, true, ["a", "b"]); anything else is a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _where(path: Path | None) -> str:
    return f"{path}: " if path else ""
