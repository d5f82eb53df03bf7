"""A finished build loaded back from its output folder: the one way a build folder is read.

`load_run(path)` reads manifest.json and metrics.json into their typed records (`Run.manifest`:
labelkit.results.Manifest; `Run.results`: BuildResults), rebuilds the config as it was built, and
re-imports the LF modules from the recorded paths, checked against the recorded hash. Every build CSV
(train_labels.csv, test_predictions.csv, quarantine.csv, audit_findings.csv, a repair's label_next.csv)
is read through `Run.table`, i.e. labelkit.io.files.read_review_csv, which undoes the formula escaping
("'-ve" -> "-ve"). Nothing here unpickles: the end model is a skops file loaded with an explicit list of
trusted types, the label model is JSON; both are loaded when first used.

`load_run(path, light=True)` is for readers that never apply the rules (monitor, compare, repair's
re-run, the studio's review queue): no LF module is imported (so no spaCy either) and no model is loaded
until asked for. What serving, shadow replay, label-next and notebooks (`lk.load`) start from is the
full Run.

>>> run = load_run("runs/support_tickets")                       # doctest: +SKIP
>>> run.predict_proba(pd.DataFrame({"text": ["I was charged twice"]}))  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from labelkit.settings.config import Config, from_dict
from labelkit.errors import ConfigError, DatasetError, LabelingFunctionError
from labelkit.io.files import read_build_json, read_review_csv
from labelkit.results import BuildResults, Manifest

if TYPE_CHECKING:
    from labelkit.apply.local import KeptParser

MANIFEST = "manifest.json"
METRICS = "metrics.json"
END_MODEL = "model.skops"
LABEL_MODEL = "label_model.json"
TRAIN_LABELS = "train_labels.csv"
TEST_PREDICTIONS = "test_predictions.csv"


@dataclass(eq=False)
class Run:
    path: Path
    manifest: Manifest  # manifest.json
    results: BuildResults  # metrics.json
    config: Config  # the config as built (manifest.json's), its file's folder as root
    lfs: list = field(default_factory=list)  # empty for builds from precomputed votes (WRENCH), or light
    slicing_functions: list = field(default_factory=list)
    light: bool = False  # loaded without its LF modules (labelkit monitor, compare, ...)
    build_id: str = ""  # a short stable id of this build: the first 12 hex digits of its manifest's SHA-256
    # spaCy LFs' parser, kept across calls (labelkit.apply.local.KeptParser): building one costs more
    # than a small batch's LFs
    _parser: KeptParser | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # a summary, not the manifest: every field is one attribute away
        from labelkit.results import describe

        results = self.results
        names = [lf.name for lf in self.lfs] or [lf.name for lf in results.lf_summary]
        lfs = f"{len(names)} LFs ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})"
        if not self.lfs:  # precomputed votes, or LFs defined in a notebook (no module to reload them from)
            lfs = f"{lfs}, not reloadable: .votes() needs LF modules" if results.lf_summary else "no LFs (precomputed votes)"
        return describe("labelkit.runs.Run", results, [f"{lfs}; folder {self.path}"])

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.results.task.classes)

    @cached_property
    def end_model(self):
        """The end model (labelkit.endmodel.EndModel) from model.skops; None when the build had none."""
        from labelkit.endmodel import load_end_model

        return load_end_model(self.path / END_MODEL) if (self.path / END_MODEL).exists() else None

    @cached_property
    def label_model(self):
        """The fitted label model (predict_proba(L)) from label_model.json."""
        from labelkit.labelmodels import load_label_model

        if not (self.path / LABEL_MODEL).exists():
            raise ConfigError(f"{self.path} has no {LABEL_MODEL}; rebuild it with this version of labelkit.")
        return load_label_model(self.path / LABEL_MODEL)

    @property
    def text_column(self) -> str:
        return self.config.data.text_column

    @property
    def input_columns(self) -> list[str]:
        """Columns a request needs: the text column (if any) and any tabular feature columns."""
        return [*([self.text_column] if self.text_column else []), *self.config.data.feature_columns]

    @property
    def slice_columns(self) -> list[str]:
        return list(self.config.evaluate.slice_columns or self.config.data.slice_columns)

    @property
    def prior(self) -> np.ndarray:
        """The gold dev class prior (metrics.json label_models.class_prior): the rule baseline's and the
        majority-class baseline's. The label model breaks ties with its own prior (`predict_rules`)."""
        stored = self.results.label_models.class_prior if self.results.label_models is not None else {}
        prior = np.array([float(stored.get(c, 0.0)) for c in self.classes])
        return prior / prior.sum() if prior.sum() > 0 else np.full(len(self.classes), 1.0 / len(self.classes))

    # ------------------------------------------------------------ the build's files

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def table(self, name: str, **read_csv_args) -> pd.DataFrame | None:
        """A CSV of the build (None when it has none), cells as the build had them: the formula escaping of
        review CSVs undone (labelkit.io.files.read_review_csv), every cell text, empty cells "" (unless overridden)."""
        path = self.path / name
        if not path.is_file():
            return None
        return read_review_csv(path, **{"dtype": str, "keep_default_na": False, **read_csv_args})

    def train_votes(self) -> np.ndarray:
        """The train rows' label matrix as train_labels.csv holds it (one lf_<name> column of class names per
        LF, empty = abstain): rows x manifest lf_names, -1 = abstain, in the build's vote dtype."""
        from labelkit.schema import vote_dtype

        names, classes = list(self.manifest.lf_names), list(self.classes)
        table = self.table(TRAIN_LABELS, usecols=lambda c: c.startswith("lf_")) if names else None
        dtype = vote_dtype(len(classes))
        L = np.full((0 if table is None else len(table), len(names)), -1, dtype)
        lookup = {c: i for i, c in enumerate(classes)}
        for j, name in enumerate(names):
            column = f"lf_{name}"
            if table is not None and column in table.columns:  # empty cells (abstains) are not a class: -1
                codes, uniques = pd.factorize(table[column].to_numpy(dtype=object))
                known = np.asarray([lookup.get(u, -1) for u in uniques] + [-1], dtype=dtype)
                L[:, j] = known[codes]  # code -1 (missing) picks the trailing -1
        return L

    def wrench_votes(self, split: str) -> np.ndarray | None:
        """The label matrix of one split of the build's WRENCH export (wrench/train|valid|test.json; None
        without one), in the build's vote dtype."""
        import json

        from labelkit.schema import vote_dtype

        path = self.path / "wrench" / f"{split}.json"
        if not path.is_file():
            return None
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DatasetError(f"{path} is not valid JSON ({error}); rebuild the run.") from None
        return np.asarray([row["weak_labels"] for row in rows.values()],
                          dtype=vote_dtype(len(self.classes))).reshape(len(rows), -1)

    def check_unchanged(self, *, inputs: dict | None = None, lf_paths=None, then: str = "rebuild it") -> None:
        """That the data (`inputs`: a loaded TaskData's, split -> {"path", "sha256"}) and the LF modules and rules
        files (`lf_paths`) are the ones the build recorded; a ConfigError line naming what changed otherwise."""
        for split, recorded in self.manifest.inputs.items():
            now = (inputs or {}).get(split) or {}
            if recorded.sha256 and now.get("sha256") and recorded.sha256 != now["sha256"]:
                raise ConfigError(f"The {split} data ({now.get('path')}) changed since {self.path} was built; {then}.")
        if lf_paths and self.manifest.lf_source_sha256:
            from labelkit.lfs import lf_source_hash

            if lf_source_hash(lf_paths) != self.manifest.lf_source_sha256:
                raise LabelingFunctionError(f"The LF modules of {self.path} ({', '.join(map(str, lf_paths))}) "
                                            f"changed since the build; {then}.")

    # ------------------------------------------------------------ the build's systems on new rows

    def votes(self, frame: pd.DataFrame) -> np.ndarray:
        """The build's LFs applied to `frame` (in this process): an (n, n_lfs) label matrix. A column
        the build's data had but `frame` lacks counts as missing on every row (an LF testing it abstains)."""
        from labelkit.apply.local import KeptParser, apply_lfs

        if not self.lfs:
            why = ("was loaded without its LF modules (light)" if self.light else
                   "was built from precomputed votes; it has no LFs to apply to new rows")
            raise LabelingFunctionError(f"{self.path} {why}.")
        absent = [c for c in self.manifest.data_columns if c not in frame.columns]
        if absent:
            frame = frame.assign(**{c: pd.Series([None] * len(frame), index=frame.index, dtype=object)
                                    for c in absent})
        self._parser = self._parser or KeptParser(self.config.lfs.spacy_model or None)
        return apply_lfs(self.lfs, frame, self.classes, text_column=self.text_column,
                         parser=self._parser.take(self.lfs, len(frame)), on_error="abstain", where="request").L

    def rules_proba(self, L: np.ndarray) -> np.ndarray:
        """The label model's probabilities for a label matrix (the rule system of this build)."""
        return self.label_model.predict_proba(L)

    def predict_rules(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rule system's (class indices, probabilities) for a label matrix: the label model with the
        prior it was chosen with (saved beside it) breaking ties, as the build scored it on test."""
        from labelkit.labelmodels import hard_predictions

        proba = self.label_model.predict_proba(L)
        return hard_predictions(proba, self.label_model.prior), proba

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """The end model's (n, k) probabilities."""
        if self.end_model is None:
            raise ConfigError(f"{self.path} has no end model (the build ran with [end_model] enabled = false).")
        return self.end_model.predict_proba(frame)


def load_run(path, *, light: bool = False) -> Run:
    """Load a build's output folder; one-line errors name the folder and the missing or changed file.
    `light`: no LF modules imported and no model loaded until used (see the module's docstring)."""
    folder = Path(path)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder; give a labelkit build output folder.")
    manifest = Manifest.from_json(read_build_json(folder / MANIFEST), source=str(folder / MANIFEST))
    results = BuildResults.from_json(read_build_json(folder / METRICS), source=str(folder / METRICS))
    if not manifest.config and not light:  # light readers take the defaults of a config they do not use
        raise no_config(folder)
    config_path = Path(manifest.config_path) if manifest.config_path else None
    config = from_dict(manifest.config, path=config_path, root=config_path.parent if config_path else Path("."))
    run = Run(folder, manifest, results, config, light=light, build_id=build_id(folder) or "")
    if not light:
        run.label_model, run.end_model  # noqa: B018 (loaded now: a missing or broken file is said at once)
        run.lfs, run.slicing_functions = _load_lfs(run)
    return run


def no_config(folder: Path) -> ConfigError:
    return ConfigError(f"{folder / MANIFEST} has no recorded config; rebuild the run with this labelkit.")


def build_id(folder) -> str | None:
    """The id a build is served and logged with: the first 12 hex digits of its manifest's SHA-256."""
    manifest = Path(folder) / MANIFEST
    return hashlib.sha256(manifest.read_bytes()).hexdigest()[:12] if manifest.is_file() else None


def _load_lfs(run: Run):
    from labelkit.lfs import load_modules

    paths = [Path(p) for p in run.manifest.lf_modules]
    if not paths:
        return [], []
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise LabelingFunctionError(f"{run.path} was built with LF module {missing[0]}, which no longer exists.")
    run.check_unchanged(lf_paths=paths, then="rebuild so that the rules served are the rules that were evaluated")
    contents = load_modules(paths)
    return contents.lfs, contents.slicing_functions
