"""Shared fixtures: a small, seeded support-ticket task written to tmp_path (data + LFs + config)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

# Tests run on two xdist workers on two cores: one BLAS/OpenMP thread per worker (and per child
# process), or the workers' thread pools fight over the cores and numeric code runs several times slower.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import numpy as np  # noqa: E402 (after the thread limits above: numpy reads them at import)
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(1)

CLASSES = ["billing", "connectivity", "cancellation"]
TEMPLATES = {
    "billing": ["I was charged twice on my invoice", "refund please, the bill is wrong", "why is my invoice so high",
                "overcharged again this month", "the payment failed but money is gone"],
    "connectivity": ["no internet since this morning", "wifi keeps dropping", "no signal at home",
                     "router is blinking red", "very slow connection tonight"],
    "cancellation": ["I want to cancel my plan", "please cancel the contract", "how do I terminate my subscription",
                     "cancel everything, I am moving", "end my contract now"],
}
FILLERS = ["", " thanks", " pls help", " asap", " !!", " regards, sam", " urgent", " again"]

LF_MODULE = '''
from labelkit import ABSTAIN, keywords, labeling_function, regex

kw_billing = keywords("billing", ["invoice", "refund", "bill", "charged"], name="kw_billing")
kw_connectivity = keywords("connectivity", ["internet", "wifi", "signal", "router"], name="kw_connectivity")
re_cancel = regex("cancellation", r"\\bcancel|terminate", name="re_cancel")

@labeling_function()
def slow_is_connectivity(row):
    return "connectivity" if "slow" in row.text else ABSTAIN

@labeling_function()
def money_is_billing(row):
    return "billing" if ("money" in row.text or "payment" in row.text) else ABSTAIN
'''


def _pseudo_words(rng: np.random.Generator, n: int) -> list[str]:
    letters = list("abcdefghiklmnoprstuvwy")
    return ["".join(rng.choice(letters, size=rng.integers(3, 8))) for _ in range(n)]


def make_frame(n: int, rng: np.random.Generator, prefix: str, *, start: str = "2024-01-01") -> pd.DataFrame:
    """Unique, varied texts (template + filler + random words + a reference), so the audit finds
    no duplicates; times within 150 days of `start`."""
    labels = rng.choice(CLASSES, size=n, p=[0.4, 0.35, 0.25])
    vocabulary = _pseudo_words(rng, 400)
    texts = [
        f"{rng.choice(TEMPLATES[y])}{rng.choice(FILLERS)} {' '.join(rng.choice(vocabulary, size=4))} ref {rng.integers(10**5, 10**6)}"
        for y in labels
    ]
    times = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 150 * 24, size=n), unit="h")
    return pd.DataFrame({
        "id": [f"{prefix}{i:05d}" for i in range(n)],
        "customer": [f"C{prefix}{rng.integers(0, 10**6):06d}" for _ in range(n)],
        "created_at": times.strftime("%Y-%m-%dT%H:%M:%S"),
        "country": rng.choice(["US", "GB", "FR"], size=n),
        "text": texts,
        "label": labels,
    })


def write_data(folder: Path, *, n_train: int = 400, n_dev: int = 150, n_test: int = 200, seed: int = 0,
               relabel=lambda frame: frame) -> None:
    """train.csv (unlabelled), dev.csv and test.csv (test 150 days later) of make_frame's tickets, drawn in
    that order from one seeded generator; `relabel(frame)` maps the labelled frames to other class names."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    make_frame(n_train, rng, "tr").drop(columns=["label"]).to_csv(folder / "train.csv", index=False)
    relabel(make_frame(n_dev, rng, "dv")).to_csv(folder / "dev.csv", index=False)
    relabel(make_frame(n_test, rng, "te", start="2024-06-01")).to_csv(folder / "test.csv", index=False)


def write_task(folder: Path, *, n_train: int = 400, n_dev: int = 150, n_test: int = 200, seed: int = 0,
               extra_config: str = "", lf_module: str = LF_MODULE) -> Path:
    write_data(folder, n_train=n_train, n_dev=n_dev, n_test=n_test, seed=seed)
    (folder / "lfs.py").write_text(textwrap.dedent(lf_module))
    config = folder / "labelkit.toml"
    config.write_text(textwrap.dedent(f'''
        [task]
        name = "tiny"
        classes = {CLASSES!r}
        labeling_functions = ["lfs.py"]
        seed = 7

        [data]
        train = "train.csv"
        dev = "dev.csv"
        test = "test.csv"
        id_column = "id"
        text_column = "text"
        label_column = "label"
        group_column = "customer"
        time_column = "created_at"
        slice_columns = ["country"]

        [end_model]
        C = [1.0, 10.0]

        [evaluate]
        bootstrap = 200
        min_slice_size = 20
    ''').replace('["', '["').replace("'", '"') + extra_config)
    return config


# `--set` options for builds whose test checks plumbing, not the numbers: one label model, one end model
# (no hard-label comparison), few bootstrap resamples. The full default build runs in test_pipeline.py.
FAST_BUILD = ("--set", 'label_model.candidates=["majority"]', "--set", "end_model.compare_hard=false",
              "--set", "end_model.C=[1.0]", "--set", "evaluate.bootstrap=50")


@pytest.fixture
def task(tmp_path: Path) -> Path:
    """Path to the labelkit.toml of a small fresh task."""
    return write_task(tmp_path / "task")


CHROMIUM = "/usr/bin/chromium"


def one_error_line(result, *, progress: bool = False) -> str:
    """The CLI's output for bad input: exit 1 and one `error:` line, never a traceback or an internal error.
    `progress`: the output may also hold progress lines (they start with "·")."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.strip() and not (progress and line.startswith("·"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def chromium_or_skip() -> str:
    """Debian's chromium for the browser tests: required in CI (.ci/run installs it), skipped elsewhere."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI; install it with apt-get install -y chromium.")
    pytest.skip(f"{CHROMIUM} not installed")


# No background traffic (component updates, sync, first-run pages) while a test drives the page.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run")


def launch_chromium(playwright, *extra_args: str):
    """Debian's chromium (chromium_or_skip) launched headless through Playwright with CHROMIUM_ARGS."""
    return playwright.chromium.launch(executable_path=chromium_or_skip(), args=[*CHROMIUM_ARGS, *extra_args])


def free_port() -> int:
    """A 127.0.0.1 port free at the moment, for a server started in another process."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def studio_process(config: Path, run: Path):
    """`labelkit studio CONFIG --port 0 --run RUN` in a fresh interpreter, terminated on exit; yields the
    URL (with its token) from the line it prints first."""
    process = subprocess.Popen([sys.executable, "-m", "labelkit.cli.main", "studio", str(config), "--port", "0",
                                "--run", str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("labelkit studio: http://127.0.0.1:"), process.stderr.read() if not line else line
        yield line.split(": ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


class LoopbackServer:
    """A real uvicorn server for an ASGI app on a free 127.0.0.1 port, in a thread: `with
    LoopbackServer(app) as server: httpx.get(server.url + ...)`. The port is bound here (`.port`
    is known before the server starts), so no other process can take it in between."""

    def __init__(self, app) -> None:
        import socket
        import threading

        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started, "uvicorn did not start within 30 s"
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


# ---------------------------------------------------------------- run order under xdist

# Rough seconds per test module on this 2-core machine (--durations, quiet). Only the order of the run
# depends on these numbers; a module missing here counts as light.
MODULE_SECONDS = {
    "test_pipeline.py": 41, "test_studio_browser.py": 17, "test_api.py": 16, "test_apply_engines.py": 11,
    "test_cli_bad_input.py": 10, "test_endmodel.py": 7, "test_serve.py": 12, "test_serve_e2e.py": 22,
    "test_dask_build.py": 5, "test_cli_audit.py": 5, "test_apply_spacy.py": 4, "test_report.py": 4,
    "test_selection.py": 4, "test_build_scale_paths.py": 3, "test_monitor.py": 3, "test_data_inputs.py": 3,
    "test_scorer.py": 3, "test_quality_policies.py": 3, "test_rules.py": 3, "test_audit_real_data.py": 3,
    "test_signed_classes.py": 6,
}


@pytest.hookimpl(trylast=True)  # after `-m 'not slow'` has deselected
def pytest_collection_modifyitems(config, items):
    """Heavy modules first, dealt to the workers so their loads match.

    xdist's worksteal scheduler gives worker i the i-th contiguous 1/n of the items and lets a worker
    that runs dry steal the end of another's queue. So each worker's share starts with the heavy
    modules dealt to it (a module stays whole on one worker: its module-scoped builds run once) and
    ends with light tests, which are what gets stolen: the run does not end waiting on one long test.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2:
        return
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.path.name, []).append(item)
    heavy = sorted((m for m in modules if m in MODULE_SECONDS), key=lambda m: -MODULE_SECONDS[m])
    shares, loads = [[] for _ in range(workers)], [0.0] * workers
    for module in heavy:
        i = loads.index(min(loads))
        shares[i].extend(modules[module])
        loads[i] += MODULE_SECONDS[module]
    light = [item for module, group in modules.items() if module not in MODULE_SECONDS for item in group]
    ordered, remaining = [], len(items)
    for i, share in enumerate(shares):  # worker i gets remaining // (workers - i) items, as the scheduler sends
        size = remaining // (workers - i)
        fill = max(0, size - len(share)) if i < workers - 1 else len(light)
        ordered += share + light[:fill]
        light = light[fill:]
        remaining -= size
    items[:] = ordered
