"""`labelkit --help` stays fast: importing the CLI must not import the heavy libraries."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "spacy", "cleanlab", "snorkel", "dask", "distributed", "matplotlib")
MODULES = ["labelkit", "labelkit.apply", "labelkit.apply.engines", "labelkit.apply.outofcore",
           "labelkit.apply.dask_engine", "labelkit.apply.processes", "labelkit.cli.main"]

# One fresh interpreter imports numpy and pandas (light, and what every module needs), then forks a
# child per module: each child imports its module into a sys.modules holding nothing of labelkit's.
PROBE = textwrap.dedent('''
    import json, os, sys
    import numpy, pandas
    heavy, found = set(json.loads(sys.argv[1])), {}
    if {m.split(".")[0] for m in sys.modules} & heavy:
        sys.exit(f"numpy/pandas import {sorted({m.split('.')[0] for m in sys.modules} & heavy)}: the probe cannot tell")
    for module in json.loads(sys.argv[2]):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                __import__(module)
                answer = sorted({m.split(".")[0] for m in sys.modules} & heavy)
            except BaseException as exc:
                answer = f"{type(exc).__name__}: {exc}"
            os.write(write, json.dumps(answer).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            found[module] = json.loads(pipe.read())
        os.waitpid(pid, 0)
    print(json.dumps(found))
''')


@pytest.fixture(scope="module")
def imported_heavy_modules() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(HEAVY), json.dumps(MODULES)],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("module", MODULES[:-1])
def test_library_modules_import_no_heavy_library(module, imported_heavy_modules):
    assert imported_heavy_modules[module] == []


def test_cli_import_is_light(imported_heavy_modules):
    assert imported_heavy_modules["labelkit.cli.main"] == []


def test_the_probe_sees_what_a_module_imports():
    """The probe itself: a child sees its own module's imports only, and an import error is an answer."""
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(["tomllib", "wave"]),
                          json.dumps(["wave", "json", "tomllib", "no_such_module"])], capture_output=True, text=True, check=False,
                         timeout=120)
    assert json.loads(out.stdout) == {"wave": ["wave"], "json": [], "tomllib": ["tomllib"],
                                      "no_such_module": "ModuleNotFoundError: No module named 'no_such_module'"}
