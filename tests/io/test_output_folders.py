"""Output folders: only labelkit's own outputs are replaced, atomically, by one writer at a time, and a
killed writer never costs the previous output."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from labelkit.cli.main import cli
from labelkit.errors import ConfigError
from labelkit.io.output_folder import KILL_HOOK, MARKER, atomic_output_dir, check_output, claim_output

WRITER = textwrap.dedent('''
    import sys
    from pathlib import Path
    from labelkit.io.output_folder import atomic_output_dir

    with atomic_output_dir(sys.argv[1], kind="build") as tmp:
        (tmp / "version.txt").write_text(sys.argv[2])
        (tmp / "sub").mkdir()
        (tmp / "sub" / "part.csv").write_text("a,b\\n1,2\\n")
''')

HOLDER = textwrap.dedent('''
    import sys
    from labelkit.io.output_folder import claim_output

    with claim_output(sys.argv[1], kind="build"):
        print("locked", flush=True)
        sys.stdin.read()
''')


def write(out: Path, version: str, **options) -> None:
    with atomic_output_dir(out, kind="build", **options) as tmp:
        (tmp / "version.txt").write_text(version)


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.glob(f".{out.name}.*") if p.is_dir())


def run_writer(out: Path, version: str, kill_at: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k != KILL_HOOK}
    if kill_at:
        env[KILL_HOOK] = kill_at
    return subprocess.run([sys.executable, "-c", WRITER, str(out), version], env=env, timeout=60).returncode


# ---------------------------------------------------------------- what may be replaced

def test_rebuild_replaces_its_own_output_and_marks_every_file(tmp_path):
    out = tmp_path / "runs" / "x"
    write(out, "1")
    write(out, "2")
    assert (out / "version.txt").read_text() == "2"
    marker = json.loads((out / MARKER).read_text())
    assert marker["kind"] == "build" and marker["files"] == ["version.txt"]
    assert leftovers(out) == []


def test_folder_labelkit_did_not_make_is_refused_force_or_not(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    for force in (False, True):
        with pytest.raises(ConfigError, match=r"is not a labelkit output .*--force or not"):
            write(out, "1", force=force)
    assert (out / "precious.txt").read_text() == "keep me" and leftovers(out) == []


def test_files_added_to_an_output_are_never_deleted(tmp_path):
    out = tmp_path / "run"
    write(out, "1")
    (out / "notes.md").write_text("my notes")
    with pytest.raises(ConfigError, match=r"holds 'notes.md', which labelkit did not write"):
        write(out, "2", force=True)
    assert (out / "notes.md").exists() and (out / "version.txt").read_text() == "1"


def test_force_means_another_commands_output_or_a_pre_marker_output(tmp_path):
    out = tmp_path / "run"
    with atomic_output_dir(out, kind="audit") as tmp:
        (tmp / "audit.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"holds a labelkit audit output; pass --force"):
        write(out, "1")
    write(out, "1", force=True)
    legacy = tmp_path / "old_run"
    legacy.mkdir()
    (legacy / "manifest.json").write_text(json.dumps({"labelkit_build": 1}))
    with pytest.raises(ConfigError, match=r"from before output markers; pass --force"):
        write(legacy, "1")
    write(legacy, "1", force=True)
    assert (legacy / "version.txt").read_text() == "1"


def test_an_empty_folder_is_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    write(out, "1")
    assert (out / "version.txt").read_text() == "1"


@pytest.mark.parametrize("place", ["root", "home", "cwd", "cwd_parent", "input_folder", "input_file"])
def test_never_the_root_home_current_folder_or_an_input(tmp_path, monkeypatch, place):
    home = tmp_path / "home"
    project = home / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "train.csv").write_text("id,text\n1,a\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(project)
    target = {"root": "/", "home": str(home), "cwd": ".", "cwd_parent": "..", "input_folder": "data",
              "input_file": "data/train.csv"}[place]
    with pytest.raises(ConfigError, match=r"refusing to write the output to .*(root|home|current) folder|input"):
        check_output(target, force=True, protect=[project / "data" / "train.csv"])


def test_a_symlinked_out_replaces_the_folder_it_points_to(tmp_path):
    real = tmp_path / "runs" / "v1"
    write(real, "1")
    link = tmp_path / "latest"
    link.symlink_to(real, target_is_directory=True)
    write(link, "2")
    assert link.is_symlink() and (link / "version.txt").read_text() == "2"
    assert (real / "version.txt").read_text() == "2" and leftovers(real) == []


def test_a_failed_write_leaves_the_previous_output(tmp_path):
    out = tmp_path / "run"
    write(out, "1")
    with pytest.raises(RuntimeError):
        with atomic_output_dir(out, kind="build") as tmp:
            (tmp / "version.txt").write_text("half")
            raise RuntimeError("stage failed")
    assert (out / "version.txt").read_text() == "1" and leftovers(out) == []


# ---------------------------------------------------------------- kill -9 during the swap

@pytest.mark.parametrize("step, survivor", [("staged", "1"), ("aside", "1"), ("swapped", "2"), ("removing", "2")])
def test_kill_9_at_each_step_of_the_swap(tmp_path, step, survivor):
    out = tmp_path / "runs" / "x"
    with atomic_output_dir(out, kind="build") as tmp:  # an old output with a few files to remove
        for name in ("a.txt", "b.txt", "version.txt"):
            (tmp / name).write_text("1")
    assert run_writer(out, "2", kill_at=step) == -9
    left = leftovers(out)
    assert any(".old-" in name for name in left) == (step != "staged") and out.exists() == (step != "aside")
    foreign = out.parent / f".{out.name}.tmp-notours"  # a folder with our prefix that labelkit did not make
    foreign.mkdir()
    (foreign / "data.txt").write_text("not labelkit's")
    with claim_output(out, kind="build"):  # the next writer repairs what the killed one left
        pass
    assert (out / "version.txt").read_text() == survivor
    assert (out / "sub" / "part.csv").exists() == (survivor == "2")
    assert leftovers(out) == [foreign.name] and (foreign / "data.txt").exists()
    write(out, "3")
    assert (out / "version.txt").read_text() == "3"


def test_kill_9_of_a_first_build_leaves_no_output_and_is_swept(tmp_path):
    out = tmp_path / "runs" / "new"
    assert run_writer(out, "1", kill_at="staged") == -9
    assert not out.exists() and leftovers(out)
    write(out, "2")
    assert leftovers(out) == [] and (out / "version.txt").read_text() == "2"


# ---------------------------------------------------------------- concurrent writers

def test_a_second_writer_fails_at_once_naming_the_first(task, tmp_path):
    out = tmp_path / "runs" / "shared"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.perf_counter()
        result = CliRunner().invoke(cli, ["build", str(task), "--out", str(out), "-q", "--no-audit"])
        assert result.exit_code == 1, result.output
        assert f"is being written by another labelkit run (pid {holder.pid})" in result.output
        assert time.perf_counter() - started < 5, "the lock must be checked before the pipeline runs"
        assert not out.exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    write(out, "1")  # the lock is free again once its holder ended
    assert (out / "version.txt").read_text() == "1"


def test_a_killed_writer_releases_the_lock(tmp_path):
    out = tmp_path / "runs" / "x"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(ConfigError, match="being written by another labelkit run"):
        write(out, "1")
    holder.kill()
    holder.wait(timeout=30)
    write(out, "1")
    assert (out / "version.txt").read_text() == "1"


# ---------------------------------------------------------------- through the CLI, before any work

def test_build_checks_out_before_loading_anything(task, tmp_path, monkeypatch):
    """A refused --out is reported even when the data would fail too: the check runs first."""
    import labelkit.io.output_folder as output_folder

    monkeypatch.setattr(output_folder.shutil, "rmtree", lambda *a, **k: pytest.fail("rmtree called"))
    (task.parent / "train.csv").unlink()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    for out in (mine, Path("/"), task.parent):
        result = CliRunner().invoke(cli, ["build", str(task), "--out", str(out), "--force", "-q"])
        assert result.exit_code == 1, result.output
        assert result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1
        assert "refusing to write" in result.output or "not a labelkit output" in result.output
        assert "does not exist" not in result.output, result.output
    assert (mine / "thesis.tex").read_text() == "years of work"


def test_task_name_cannot_escape_runs(task):
    result = CliRunner().invoke(cli, ["build", str(task), "--set", 'task.name="../../x"', "-q"])
    assert result.exit_code == 1
    assert "[task -> name] is '../../x'" in result.output
