"""A finished build loaded back from its output folder: config, classes, LFs, label model, end model.

What serving, shadow replay, monitoring, repair and notebooks start from. Nothing here unpickles:
the end model is a skops file loaded with an explicit list of trusted types, the label model is JSON,
and the LFs are re-imported from the recorded module paths and checked against the recorded hash.

>>> run = load_run("runs/support_tickets")                       # doctest: +SKIP
>>> run.predict_proba(pd.DataFrame({"text": ["I was charged twice"]}))  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.config import Config, from_dict
from labelkit.errors import ConfigError, LabelingFunctionError
from labelkit.io import read_build_json

MANIFEST = "manifest.json"
METRICS = "metrics.json"
END_MODEL = "model.skops"
LABEL_MODEL = "label_model.json"


@dataclass
class Run:
    path: Path
    manifest: dict
    metrics: dict  # metrics.json as read; `results` is the same, typed (labelkit.results.BuildResults)
    config: Config
    classes: tuple[str, ...]
    end_model: object | None  # labelkit.endmodel.EndModel, None when the build had no end model
    label_model: object  # a fitted label model (predict_proba(L))
    lfs: list = field(default_factory=list)  # empty for builds from precomputed votes (WRENCH)
    slicing_functions: list = field(default_factory=list)
    # spaCy LFs' parser, kept across calls (labelkit.apply.local.KeptParser): building one costs more
    # than a small batch's LFs
    _parser: object = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:  # a summary, not the manifest: every field is one attribute away
        from labelkit.results import describe

        results = self.results
        names = [lf.name for lf in self.lfs] or [lf.name for lf in results.lf_summary]
        lfs = f"{len(names)} LFs ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})"
        if not self.lfs:  # precomputed votes, or LFs defined in a notebook (no module to reload them from)
            lfs = f"{lfs}, not reloadable: .votes() needs LF modules" if results.lf_summary else "no LFs (precomputed votes)"
        return describe("labelkit.runs.Run", results, [f"{lfs}; folder {self.path}"])

    @property
    def results(self):
        """metrics.json as typed results (labelkit.results.BuildResults)."""
        from labelkit.results import BuildResults

        return BuildResults.from_json(self.metrics, source=str(self.path / METRICS))

    @property
    def build_id(self) -> str:
        """A short stable id of this build: the hash of its manifest."""
        return hashlib.sha256((self.path / MANIFEST).read_bytes()).hexdigest()[:12]

    @property
    def text_column(self) -> str:
        return self.config.data.text_column

    @property
    def input_columns(self) -> list[str]:
        """Columns a request needs: the text column (if any) and any tabular feature columns."""
        return [*([self.text_column] if self.text_column else []), *self.config.data.feature_columns]

    @property
    def prior(self) -> np.ndarray:
        """The gold dev class prior (metrics.json label_models.class_prior): the rule baseline's and the
        majority-class baseline's. The label model breaks ties with its own prior (`predict_rules`)."""
        stored = (self.metrics.get("label_models") or {}).get("class_prior") or {}
        prior = np.array([float(stored.get(c, 0.0)) for c in self.classes])
        return prior / prior.sum() if prior.sum() > 0 else np.full(len(self.classes), 1.0 / len(self.classes))

    def votes(self, frame: pd.DataFrame) -> np.ndarray:
        """The build's LFs applied to `frame` (in this process): an (n, n_lfs) label matrix. A column
        the build's data had but `frame` lacks counts as missing on every row (an LF testing it abstains)."""
        from labelkit.apply.local import KeptParser, apply_lfs

        if not self.lfs:
            raise LabelingFunctionError(
                f"{self.path} was built from precomputed votes; it has no LFs to apply to new rows."
            )
        absent = [c for c in self.manifest.get("data_columns", []) if c not in frame.columns]
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


def load_run(path) -> Run:
    """Load a build's output folder; one-line errors name the folder and the missing or changed file."""
    from labelkit.endmodel import load_end_model
    from labelkit.labelmodels import load_label_model
    from labelkit.results import BuildResults

    folder = Path(path)
    manifest = read_build_json(folder / MANIFEST)
    metrics = read_build_json(folder / METRICS)
    classes = tuple(BuildResults.from_json(metrics, source=str(folder / METRICS)).task.classes)  # checks the file
    config_path = Path(manifest["config_path"]) if manifest.get("config_path") else None
    config = from_dict(manifest["config"], path=None, root=config_path.parent if config_path else Path("."))
    end_model = load_end_model(folder / END_MODEL) if (folder / END_MODEL).exists() else None
    if not (folder / LABEL_MODEL).exists():
        raise ConfigError(f"{folder} has no {LABEL_MODEL}; rebuild it with this version of labelkit.")
    label_model = load_label_model(folder / LABEL_MODEL)
    lfs, slicers = _load_lfs(manifest, folder)
    return Run(folder, manifest, metrics, config, classes, end_model, label_model, lfs, slicers)


def _load_lfs(manifest: dict, folder: Path):
    from labelkit.lfs import lf_source_hash, load_modules

    paths = [Path(p) for p in manifest.get("lf_modules") or []]
    if not paths:
        return [], []
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise LabelingFunctionError(f"{folder} was built with LF module {missing[0]}, which no longer exists.")
    if manifest.get("lf_source_sha256") and lf_source_hash(paths) != manifest["lf_source_sha256"]:
        raise LabelingFunctionError(
            f"The LF modules of {folder} ({', '.join(map(str, paths))}) changed since the build; "
            f"rebuild so that the rules served are the rules that were evaluated."
        )
    contents = load_modules(paths)
    return contents.lfs, contents.slicing_functions
