"""The studio's state, in one explicit object handed to the app factory (no module globals)."""
from __future__ import annotations

import getpass
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from labelkit.settings.config import Config
from labelkit.errors import ConfigError
from labelkit.lfs.rules import Rule, file_sha256, read_rules, to_lf
from labelkit.studio.engine import Workspace


@dataclass
class StudioState:
    config: Config
    workspace: Workspace
    rules_path: Path
    rules_listed: bool  # is the edited rules file in the config's [task] rules?
    python_lfs: dict[str, str]  # name -> source (shown read-only)
    rules: list[Rule]
    rules_sha256: str
    run_dir: Path
    corrections_path: Path
    reviewer: str
    rows: dict  # split -> frame (train/dev/test)
    labels: dict  # split -> {row id: current label}
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lock: threading.RLock = field(default_factory=threading.RLock)
    port: int | None = None  # set when served: Host/Origin checks use it

    @property
    def classes(self) -> tuple[str, ...]:
        return self.workspace.classes

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.rows["train"].columns]

    @property
    def human_labels_path(self) -> Path:
        """The file labels of the label-next queue go to: the first of [data] human_labels."""
        from labelkit.human.labels import human_label_paths

        paths = human_label_paths(self.config)
        return paths[0] if paths else self.config.resolve("label_next.csv")

    def run(self):
        """The last build (`run_dir`) opened light (labelkit.runs.Run: typed results, its CSVs unescaped, no
        LF module imported); None before there is one. Opened anew each time: a rebuild replaces the folder."""
        from labelkit.runs import METRICS, load_run

        return load_run(self.run_dir, light=True) if (self.run_dir / METRICS).is_file() else None

    def order(self) -> list[str]:
        return list(self.python_lfs) + [r.name for r in self.rules]

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def sync(self) -> None:
        """Pick up edits made to the rules file outside the studio (another tab saved, an editor)."""
        with self.lock:
            current = file_sha256(self.rules_path)
            if current == self.rules_sha256:
                return
            rules = read_rules(self.rules_path, classes=self.classes, columns=self.columns) if current else []
            self._install(rules, current)

    def _install(self, rules: list[Rule], sha256: str) -> None:
        gone = {r.name for r in self.rules} - {r.name for r in rules}
        for name in gone:
            self.workspace.remove(name)
        known = {r.name: r for r in self.rules}
        for rule in rules:
            previous = known.get(rule.name)
            if previous is None or previous.to_table() != rule.to_table() or rule.name not in self.workspace.meta:
                votes = self.workspace.lf_votes(to_lf(rule))
                self.workspace.add_votes(rule.name, rule.kind, rule.label, True, votes["train"], votes["dev"])
        self.rules, self.rules_sha256 = rules, sha256

    def after_save(self, sha256: str) -> None:
        rules = read_rules(self.rules_path, classes=self.classes, columns=self.columns)
        self._install(rules, sha256)


def open_studio(config, *, rules_path: Path | None = None, run_dir: Path | None = None,
                reviewer: str | None = None) -> StudioState:
    """Load the task's data, LFs and rules file, and compute every LF's votes once."""
    from labelkit.data.load import load_task_data
    from labelkit.lfs import load_modules
    from labelkit.lfs.rules import load_rules
    from labelkit.pipeline.stages import apply_votes_to

    data = load_task_data(config)
    if data.votes is not None:
        raise ConfigError("The studio works on text data with LFs, not on precomputed votes (WRENCH / vote_columns).")
    listed = [config.resolve(p) for p in config.task.rules]
    rules_path = Path(rules_path) if rules_path else (listed[0] if listed else config.root / "rules.toml")
    columns = [str(c) for c in data.frames["train"].columns]
    classes = data.schema.classes
    modules = load_modules([config.resolve(p) for p in config.task.labeling_functions])
    others = [p for p in listed if p.resolve() != rules_path.resolve()]
    fixed = modules.lfs + load_rules(others, classes=list(classes), columns=columns)
    workspace = Workspace(data.frames["train"], data.frames["dev"], data.gold["dev"], classes,
                          text_column=config.data.text_column, id_column=config.data.id_column,
                          seed=config.task.seed)
    if fixed:
        votes = {s: apply_votes_to(config, data.frames[s], fixed, classes, where=f"{s} ({data.inputs[s]['path']})").L
                 for s in ("train", "dev")}
        for j, lf in enumerate(fixed):
            workspace.add_votes(lf.name, lf.kind, lf.label or "(any)", False, votes["train"][:, j], votes["dev"][:, j])
    state = StudioState(
        config=config, workspace=workspace, rules_path=rules_path,
        rules_listed=any(p.resolve() == rules_path.resolve() for p in listed),
        python_lfs={lf.name: _source(lf, modules.sources) for lf in fixed}, rules=[], rules_sha256="",
        run_dir=Path(run_dir) if run_dir else Path("runs") / config.task.name,
        corrections_path=config.resolve(config.data.corrections or "corrections.csv"),
        reviewer=reviewer or _user(), rows=data.frames, labels=_labels(config, data),
    )
    state.sync()
    return state


def _source(lf, sources: dict[str, str]) -> str:
    """What the page shows for a read-only LF: the module's own text defining it (from the LF loader),
    else (a rule of another rules file, an LF built in a list) where it is and its declarative form."""
    if lf.name in sources:
        return sources[lf.name]
    where = getattr(lf, "where", "").rstrip(": ")
    return (f"# {where}\n" if where else "") + lf.source


def _labels(config, data) -> dict:
    out = {}
    for split, frame in data.frames.items():
        if config.data.label_column in frame.columns:
            out[split] = dict(zip(frame[config.data.id_column].astype(str), frame[config.data.label_column].astype(str)))
    return out


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"

