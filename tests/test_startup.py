"""`labelkit --help` stays fast: importing the CLI must not import the heavy libraries."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "spacy", "cleanlab", "snorkel", "dask", "distributed", "matplotlib")


def imported_heavy_modules(module: str) -> list[str]:
    code = (f"import sys, {module}\n"
            f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return [m for m in out.stdout.strip().split(",") if m]


@pytest.mark.parametrize("module", ["labelkit", "labelkit.apply", "labelkit.apply.engines",
                                    "labelkit.apply.outofcore", "labelkit.apply.dask_engine",
                                    "labelkit.apply.processes"])
def test_library_modules_import_no_heavy_library(module):
    assert imported_heavy_modules(module) == []


def test_cli_import_is_light():
    if not (ROOT / "labelkit" / "cli" / "main.py").exists():
        pytest.skip("labelkit/cli/main.py is not written yet")
    assert imported_heavy_modules("labelkit.cli.main") == []
