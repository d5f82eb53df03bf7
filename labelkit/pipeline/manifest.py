"""What a build was made from: data hashes, LF source hash, config, seed, versions, git commit, timings."""
from __future__ import annotations

import platform
import subprocess
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

PACKAGES = ("labelkit", "snorkel", "cleanlab", "spacy", "scikit-learn", "pandas", "numpy", "torch", "dask", "pyarrow")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    return versions


def git_commit(folder: Path) -> dict[str, object] | None:
    """The commit of the repository holding `folder`, and whether its tree had uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        status = subprocess.run(["git", "status", "--porcelain"], cwd=folder, capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


class StageTimer:
    """Records how long each pipeline stage took; reports progress through `notify`."""

    def __init__(self, notify=None) -> None:
        self.timings: dict[str, float] = {}
        self.notify = notify or (lambda message: None)

    @contextmanager
    def stage(self, name: str):
        self.notify(f"{name} …")
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.timings[name] = round(elapsed, 3)
        self.notify(f"{name} done ({elapsed:.1f}s)")
