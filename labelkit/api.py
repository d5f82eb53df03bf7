"""The notebook API: a build on DataFrames in memory, the same pipeline the CLI runs.

>>> import pathlib, tempfile
>>> import pandas as pd
>>> import labelkit as lk
>>> def comments(n):  # a toy task: spam plugs a channel, ham talks about the song
...     spam, ham = ["subscribe to my channel", "free gift card, click here"], ["great song", "best music ever"]
...     texts = [f"{(spam if i % 2 else ham)[i // 2 % 2]} #{i}" for i in range(n)]
...     return pd.DataFrame({"text": texts, "label": ["spam" if i % 2 else "ham" for i in range(n)]})
>>> train, dev, test = comments(120).drop(columns="label"), comments(40), comments(40)
>>> task = lk.Task.from_frames(train, dev, test, classes=["ham", "spam"], text="text")
>>> run = lk.run(task, [lk.keywords("spam", ["subscribe", "click"], name="kw_spam"),
...                     lk.keywords("ham", ["song", "music"], name="kw_ham")], audit=False)
>>> run.lf_summary()[["coverage", "dev_accuracy"]]  # a DataFrame: coverage, overlaps, conflicts, dev accuracy per LF
         coverage  dev_accuracy
name
kw_spam       0.5           1.0
kw_ham        0.5           1.0
>>> table = run.systems()                 # every system on the gold test rows, with intervals (a DataFrame)
>>> run.metrics.systems.paired_test.n     # the typed results (labelkit.results); .to_json() is metrics.json
40
>>> folder = pathlib.Path(tempfile.mkdtemp()) / "demo"
>>> run.report().save(folder.with_suffix(".html"))  # run.report() alone shows it inline in Jupyter
>>> lk.load(run.save(folder)).predict_proba(pd.DataFrame({"text": ["subscribe now"]})).argmax(axis=1).tolist()
[1]
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.settings.config import Config, from_dict
from labelkit.errors import ConfigError


@dataclass
class Task:
    """A task's config and its three splits, in memory (plus their precomputed votes, for a WRENCH folder)."""

    config: Config
    frames: dict[str, pd.DataFrame]
    votes: dict[str, np.ndarray] | None = None  # split -> label matrix, when the config reads votes (WRENCH)
    vote_names: list[str] | None = None

    @classmethod
    def from_frames(cls, train: pd.DataFrame, dev: pd.DataFrame, test: pd.DataFrame, *, classes, text: str = "text",
                    label: str = "label", id: str | None = None, name: str = "notebook", seed: int = 123,
                    settings: dict | None = None, **data_settings) -> Task:
        """`settings` holds other config sections, e.g. {"end_model": {"labels": "hard"}}; `data_settings`
        other [data] keys (time_column, group_column, slice_columns, feature_columns)."""
        frames = {"train": train, "dev": dev, "test": test}
        id_column = id or "_row_id"
        if id is None:  # ids are how findings and examples name rows; number them per split
            frames = {s: f.assign(**{id_column: [f"{s}-{i}" for i in range(len(f))]}) for s, f in frames.items()}
        raw = {k: dict(v) for k, v in (settings or {}).items()}
        raw.setdefault("task", {}).update(name=name, classes=list(classes), seed=seed)
        raw.setdefault("data", {}).update(text_column=text, label_column=label, id_column=id_column, **data_settings)
        return cls(from_dict(raw), frames)

    @classmethod
    def from_config(cls, path) -> Task:
        """A task described by a labelkit.toml (its files are read now)."""
        from labelkit.settings.config import load_config
        from labelkit.data.load import load_task_data

        config = load_config(Path(path))
        data = load_task_data(config)
        if tuple(config.task.classes) != data.schema.classes:  # a WRENCH folder's label.json names them
            import dataclasses

            config = dataclasses.replace(config, task=dataclasses.replace(config.task, classes=list(data.schema.classes)))
        return cls(config, data.frames, votes=data.votes, vote_names=data.vote_names)


class Result:
    """The notebook's view of one build in memory (labelkit.pipeline.run.Build, `_build`): its results as
    tables and a report; `save` writes the same folder `labelkit build` writes. `metrics` is the typed
    results (labelkit.results.BuildResults); `metrics.to_json()` is metrics.json."""

    def __init__(self, build) -> None:
        self._build = build
        self._html: tuple[str, str] | None = None  # (the results it shows, as JSON; report.html): drawn once
        self._saved: Path | None = None

    @property
    def metrics(self):
        """The typed results (labelkit.results.BuildResults), made once by the pipeline."""
        return self._build.results

    @property
    def results(self):
        """The typed results (the same object as `metrics`), as `lk.load(dir).results` gives them back."""
        return self._build.results

    @property
    def manifest(self):
        """What the build was made from (labelkit.results.Manifest: manifest.json but the timings)."""
        return self._build.manifest

    @property
    def _examples(self) -> dict:
        return self._build.lf_examples

    def __repr__(self) -> str:
        saved = f"saved to {self._saved}" if self._saved else 'not saved: run.save("runs/NAME") writes the folder `labelkit build` writes'
        from labelkit.results import describe

        return describe("labelkit.Result", self.metrics, [saved])

    @property
    def L(self) -> np.ndarray:
        """The train label matrix (rows kept by the audit x LFs; -1 = abstain)."""
        return self._build.votes.L["train"]

    @property
    def votes(self) -> dict[str, np.ndarray]:
        return dict(self._build.votes.L)

    @property
    def lf_names(self) -> list[str]:
        return list(self._build.votes.lf_names)

    @property
    def label_model(self):
        return self._build.selection.model

    @property
    def end_model(self):
        return self._build.end_model

    @property
    def probabilistic_labels(self) -> np.ndarray:
        return self._build.proba_train

    @property
    def data(self) -> dict[str, pd.DataFrame]:
        """The splits after the audit's policies."""
        return dict(self._build.data.frames)

    @property
    def failed_checks(self) -> list[str]:
        return list(self._build.failed_checks)

    def lf_summary(self) -> pd.DataFrame:
        summary = self._build.lf_summary
        return pd.DataFrame(summary).set_index("name") if summary else pd.DataFrame()

    def systems(self) -> pd.DataFrame:
        """Every system's test accuracy and macro-F1 with intervals, one row per system."""
        rows = []
        for name, s in self.metrics.systems.systems.items():
            rows.append({"system": name, "n": s.n, "accuracy": s.accuracy,
                         "accuracy_ci": tuple(s.accuracy_ci) if s.accuracy_ci else None, "macro_f1": s.macro_f1,
                         "macro_f1_ci": tuple(s.macro_f1_ci) if s.macro_f1_ci else None,
                         "balanced_accuracy": s.balanced_accuracy, "coverage": s.coverage,
                         "predicts_only": s.predicts_only})
        return pd.DataFrame(rows).set_index("system")

    def report(self) -> Report:
        return Report(self._report_html())

    def _report_html(self) -> str:
        """report.html of the results as they are now; drawn again only when they changed (plots cost seconds)."""
        import json

        from labelkit.report import render_html

        shown = json.dumps(self.metrics.to_json(), default=str)
        if self._html is None or self._html[0] != shown:
            self._html = (shown, render_html(self.metrics, {"lf_examples": self._examples}))
        return self._html[1]

    def save(self, out, *, force: bool = False) -> Path:
        from labelkit.pipeline.artifacts import write_build
        from labelkit.data.load import input_paths
        from labelkit.io.output_folder import claim_output

        with claim_output(out, force=force, kind="build", protect=input_paths(self._build.config)) as target:
            write_build(self._build, target, force=force, report_html=self._report_html())
        self._saved = Path(out)
        return Path(out)


@dataclass
class Report:
    html: str

    def _repr_html_(self) -> str:
        return self.html

    def save(self, path) -> None:
        Path(path).write_text(self.html, encoding="utf-8")


def run(task: Task, lfs=(), *, slicing_functions=(), audit: bool = True, notify=None) -> Result:
    """Audit, label, train and evaluate `task` with `lfs` (LabelingFunction objects); nothing is written."""
    from labelkit.data.load import task_data_from_frames
    from labelkit.lfs import ModuleContents
    from labelkit.pipeline.manifest import StageTimer
    from labelkit.pipeline.run import run_pipeline

    config = task.config
    if not audit:
        import dataclasses

        config = dataclasses.replace(config, audit=dataclasses.replace(config.audit, enabled=False))
    if not lfs and not config.data.vote_columns and task.votes is None:
        raise ConfigError("lk.run needs labeling functions: lk.run(task, [lf1, lf2, ...]).")
    data = task_data_from_frames(config, task.frames)
    if task.votes is not None and not lfs and not config.data.vote_columns:  # a WRENCH folder's votes
        import dataclasses

        for split, frame in data.frames.items():
            if len(task.votes[split]) != len(frame):
                raise ConfigError(f"task.frames[{split!r}] has {len(frame)} rows but its WRENCH votes have "
                                  f"{len(task.votes[split])}; filter task.votes[{split!r}] with the same rows.")
        data = dataclasses.replace(data, votes=task.votes, vote_names=task.vote_names)
    modules = ModuleContents(lfs=list(lfs), slicing_functions=list(slicing_functions))
    return Result(run_pipeline(config, data, modules, timer=StageTimer(notify), notebook=True))


def load(path):
    """A saved build (`labelkit build` or `Result.save`) loaded back: see labelkit.runs.Run."""
    from labelkit.runs import load_run

    return load_run(path)
