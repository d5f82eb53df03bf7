"""The README's Python blocks run as printed (issue 26): every ```python block is pasted, statement by
statement as a Python prompt or Jupyter would run it (an expression's repr is taken, as they show it),
into a fresh folder that holds the repository's bundled data, unless the line before the block says
`<!-- not run by tests/cli/test_readme.py: why -->`."""
from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NOT_RUN = "<!-- not run by tests/cli/test_readme.py:"


def python_blocks() -> list[tuple[int, str, bool]]:
    """(line of the fence, code, skipped) per ```python block."""
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            skipped = i > 0 and lines[i - 1].startswith(NOT_RUN)
            blocks.append((i + 1, "\n".join(lines[i + 1:end]), skipped))
            i = end
        i += 1
    return blocks


def paste(code: str, line: int) -> tuple[dict, dict[str, str]]:
    """Run `code` as pasted at a prompt: its namespace and the repr shown for each expression statement."""
    namespace: dict = {"__name__": "__readme__"}
    shown = {}
    for statement in ast.parse(code).body:
        source = ast.get_source_segment(code, statement)
        where = f"README.md:{line + statement.lineno}"
        if isinstance(statement, ast.Expr):
            value = eval(compile(ast.Expression(statement.value), where, "eval"), namespace)
            shown[source] = repr(value)
        else:
            exec(compile(ast.Module([statement], type_ignores=[]), where, "exec"), namespace)
    return namespace, shown


@pytest.fixture(scope="module")
def pasted(tmp_path_factory):
    """Every block run from a folder that looks like the repository's root (its bundled data and LF
    modules), so what a block writes (runs/demo) stays out of the checkout."""
    folder = tmp_path_factory.mktemp("readme")
    for name in ("datasets", "labeling_functions", "labelkit.toml"):
        (folder / name).symlink_to(ROOT / name)
    here = Path.cwd()
    os.chdir(folder)
    try:
        return folder, {line: paste(code, line) for line, code, skipped in python_blocks() if not skipped}
    finally:
        os.chdir(here)


def test_readme_python_blocks_run_as_printed(pasted):
    _, results = pasted
    assert len(results) >= 2  # the LF examples and the notebook section
    for line, code, skipped in python_blocks():
        assert "..." not in code or skipped, f"README.md:{line}: a block meant to run has '...'"


def test_blocks_left_out_say_why():
    skipped = [(line, code) for line, code, skip in python_blocks() if skip]
    assert len(skipped) <= 2, [line for line, _ in skipped]  # the two that need a build's output folder
    lines = README.read_text(encoding="utf-8").splitlines()
    for line, _ in skipped:
        reason = lines[line - 2][len(NOT_RUN):].rstrip(" ->").strip()
        assert reason.startswith("needs"), lines[line - 2]


def test_notebook_section_summarises_the_run_and_the_loaded_build(pasted):
    folder, results = pasted
    namespace, shown = next((ns, shown) for ns, shown in results.values() if "run" in ns)
    run, lk = namespace["run"], namespace["lk"]
    text = shown["run"]
    assert text.startswith("<labelkit.Result: task 'notebook', 5 classes (billing, ")
    lines = text.splitlines()
    assert len(lines) <= 12, text
    for expected in ("rows: train ", "label model: ", "end model: tfidf", "test accuracy on ", "rule_baseline ",
                     "end_model ", 'not saved: run.save("runs/NAME")'):
        assert expected in text, text
    assert "object at 0x" not in text
    assert repr(run).endswith("saved to runs/demo>")  # after run.save("runs/demo")
    here = Path.cwd()
    os.chdir(folder)  # where the block ran
    try:
        loaded = repr(lk.load("runs/demo"))
    finally:
        os.chdir(here)
    assert loaded.startswith("<labelkit.runs.Run: task 'notebook'") and "folder runs/demo" in loaded, loaded
    assert len(loaded.splitlines()) <= 12 and "manifest" not in loaded and "sha256" not in loaded, loaded
    assert "5 LFs (kw_billing, kw_connectivity, kw_account, kw_cancel, re_thanks)" in loaded, loaded
    assert (folder / "runs" / "demo" / "report.html").is_file()
