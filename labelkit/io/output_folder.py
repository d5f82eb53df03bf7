"""Output folders: labelkit only ever replaces what it made, atomically, one writer at a time.

Every output holds a marker file (`.labelkit-output`, JSON: the command that made it and every path
it wrote). An existing `--out` is replaced only when its marker vouches for all of its contents;
`--force` additionally lets one command replace another command's output (a build over an audit) or
an output made before markers existed (its manifest.json names labelkit). Nothing else is ever
deleted, `--force` or not, and never `/`, the home folder, the current folder, or a folder holding
an input or the project.

Writing: the new output is staged in `.NAME.tmp-*` beside the target; then the old output is renamed
aside (`.NAME.old-*`), the new one renamed in, and the old one removed. A lock file
(`.NAME.labelkit-lock`, fcntl) makes a second writer fail at once with a clear message. Whoever
takes the lock next repairs what a killed writer left: an output renamed aside but never replaced
is put back, stale staging and aside folders are removed.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from labelkit.errors import ConfigError

MARKER = ".labelkit-output"
_HELD: dict[Path, int] = {}  # target -> lock depth held by this process
KILL_HOOK = "_LABELKIT_TEST_KILL_AT"  # tests: SIGKILL this process at a named step of the swap


def check_output(out, *, force: bool = False, kind: str | None = None, protect: Iterable = ()) -> Path:
    """The resolved target folder, or a ConfigError saying why labelkit may not write there."""
    target = Path(out).expanduser().resolve()
    _refuse_protected(target, Path(out), protect)
    if target.exists():
        if not target.is_dir():
            raise ConfigError(f"--out {out}: {target} is a file, not a folder; choose another --out.")
        _check_replaceable(target, force=force, kind=kind)
    return target


@contextmanager
def claim_output(out, *, force: bool = False, kind: str | None = None, protect: Iterable = ()) -> Iterator[Path]:
    """Check `out`, lock it for this process and repair what a killed writer left; yields the target."""
    target = check_output(out, force=force, kind=kind, protect=protect)
    if target in _HELD:  # nested: the caller already holds the lock
        _HELD[target] += 1
        try:
            yield target
        finally:
            _HELD[target] -= 1
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        open(target.parent / f".{target.name}.labelkit-lock", "a").close()
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write in {target.parent}: {exc.strerror}; choose another --out.") from None
    with _lock(target):
        _HELD[target] = 1
        try:
            _recover(target)
            yield target
        finally:
            del _HELD[target]


@contextmanager
def atomic_output_dir(out, *, force: bool = False, kind: str | None = None, protect: Iterable = ()) -> Iterator[Path]:
    """Yield a staging folder; it replaces `out` only if the block finishes (a failure leaves nothing)."""
    with claim_output(out, force=force, kind=kind, protect=protect) as target:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        _write_marker(tmp, kind, files=None)
        try:
            yield tmp
        except BaseException:
            _discard(tmp)
            raise
        try:
            _write_marker(tmp, kind or _legacy_kind(tmp), files=_listing(tmp))
            if target.exists():  # something may have changed while the work ran
                _check_replaceable(target, force=force, kind=kind)
        except BaseException:
            _discard(tmp)
            raise
        swap_in(tmp, target)


def is_labelkit_output(folder: Path) -> bool:
    return _read_marker(Path(folder)) is not None or _legacy_kind(Path(folder)) is not None


# ---------------------------------------------------------------- checks

def _refuse_protected(target: Path, given: Path, protect: Iterable) -> None:
    places = [(Path("/"), "the root folder"), (Path.home(), "the home folder"), (Path.cwd(), "the current folder")]
    places += [(Path(p), f"input {p}") for p in protect if p]
    for place, what in places:
        try:
            resolved = place.expanduser().resolve()
        except OSError:
            continue
        if resolved == target or resolved.is_relative_to(target):
            relation = "is" if resolved == target else "holds"
            raise ConfigError(
                f"--out {given}: refusing to write the output to {target}, which {relation} {what}; "
                f"labelkit replaces the whole output folder. Choose another --out, e.g. runs/NAME."
            )


def _check_replaceable(target: Path, *, force: bool, kind: str | None) -> None:
    entries = sorted(p.name for p in target.iterdir())
    if not entries:
        return  # an empty folder: nothing can be lost
    marker = _read_marker(target)
    if marker is None:
        legacy = _legacy_kind(target)
        if legacy and force:
            return
        if legacy:
            raise ConfigError(
                f"Output folder {target} is a labelkit {legacy} output from before output markers; "
                f"pass --force to replace it, or choose another --out."
            )
        raise ConfigError(
            f"Output folder {target} exists and is not a labelkit output (no {MARKER} file); labelkit only "
            f"replaces folders it made, --force or not. Choose another --out or remove the folder yourself."
        )
    made = marker.get("kind")
    if kind and made and made != kind and not force:
        raise ConfigError(
            f"Output folder {target} holds a labelkit {made} output; pass --force to replace it with a {kind} "
            f"output, or choose another --out."
        )
    extra = _extra_entries(target, set(marker.get("files") or []))
    if extra:
        raise ConfigError(
            f"Output folder {target} holds {extra!r}, which labelkit did not write; move it out of the folder "
            f"(labelkit never deletes what it did not make, --force or not) or choose another --out."
        )


def _extra_entries(folder: Path, listed: set[str]) -> str | None:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if relative != MARKER and relative not in listed:
            return relative
    return None


# ---------------------------------------------------------------- marker

def _write_marker(folder: Path, kind: str | None, *, files: list[str] | None) -> None:
    from labelkit import __version__

    content = {"labelkit_output": 1, "kind": kind, "labelkit_version": __version__,
               "state": "staging" if files is None else "complete", "files": files or []}
    (folder / MARKER).write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")


def _read_marker(folder: Path) -> dict | None:
    try:
        content = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) and content.get("labelkit_output") == 1 else None


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.name != MARKER or p.parent != folder)


def _legacy_kind(folder: Path) -> str | None:
    """Outputs written before markers: a manifest.json that says which command made it."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(manifest, dict):
        for key, kind in (("labelkit_build", "build"), ("labelkit_audit", "audit")):
            if key in manifest:
                return kind
    return None


# ---------------------------------------------------------------- lock, swap, repair

@contextmanager
def _lock(target: Path) -> Iterator[None]:
    import fcntl

    path = target.parent / f".{target.name}.labelkit-lock"
    while True:
        handle = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                f"Output folder {target} is being written by another labelkit run ({holder}); wait for it to "
                f"finish or choose another --out."
            ) from None
        try:  # the holder before us may have removed the file after we opened it: lock the current one
            if os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        path.unlink(missing_ok=True)  # removed while still locked, then released (a killed run leaves it: harmless)
        handle.close()


def swap_in(tmp: Path, target: Path) -> None:
    """The staged folder `tmp` renamed onto `target`: the old `target` renamed aside first (and put back
    if the rename in fails), then removed. The one folder swap of labelkit: build and audit outputs
    (atomic_output_dir) and WRENCH exports (labelkit.wrench.write_wrench)."""
    _kill_point("staged")
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rename(target, old)  # onto the fresh empty folder: rename replaces an empty directory
        _kill_point("aside")
    try:
        os.rename(tmp, target)
    except OSError:
        if old is not None:
            os.rename(old, target)
        raise
    _kill_point("swapped")
    if old is not None:
        _remove(old)


def _discard(folder: Path) -> None:
    """_remove on a failure path: the original error matters more than a leftover (swept next run)."""
    try:
        _remove(folder)
    except OSError:
        pass


def _remove(folder: Path) -> None:
    """Delete a folder labelkit made, its marker last: a run killed meanwhile leaves it still sweepable."""
    if not (folder / MARKER).exists():
        _write_marker(folder, None, files=None)
    for child in folder.iterdir():
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
        _kill_point("removing")
    (folder / MARKER).unlink(missing_ok=True)
    folder.rmdir()


def _recover(target: Path) -> None:
    """Under the lock: undo what a killed writer of `target` left behind."""
    stale = sorted(target.parent.glob(f".{target.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not target.exists():
        for old in reversed(stale):  # the output was renamed aside and never replaced: put it back
            if _ours(old) and any(old.iterdir()):
                os.rename(old, target)
                stale.remove(old)
                break
    for folder in stale + sorted(target.parent.glob(f".{target.name}.tmp-*")):
        if folder.is_dir() and not folder.is_symlink() and _ours(folder):
            _discard(folder)


def _ours(folder: Path) -> bool:
    """A staging/aside folder labelkit made: marked, a pre-marker output, or still empty."""
    try:
        return _read_marker(folder) is not None or _legacy_kind(folder) is not None or not any(folder.iterdir())
    except OSError:
        return False


def _kill_point(step: str) -> None:
    if os.environ.get(KILL_HOOK) == step:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
