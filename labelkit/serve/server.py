"""Putting a service together: load the builds, open the log, start the shadow worker, run uvicorn."""
from __future__ import annotations

import functools
from pathlib import Path

from labelkit.errors import ConfigError
from labelkit.serve.app import Primary, ServeSettings, ServeState, create_app, log_meta
from labelkit.serve.log import LogWriter, record_builds
from labelkit.serve.shadow import ShadowWorker, load_systems, systems_from_runs
from labelkit.settings.declare import check_values, declared
from labelkit.settings.options import ServeOptions

OPTIONS = declared(ServeOptions)


def challenger_names(paths) -> tuple[str, ...]:
    """Challengers are named by their folder; a repeated name gets a suffix."""
    names = []
    for path in paths:
        base = Path(path).resolve().name or "challenger"
        name, i = base, 2
        while name in names or name == "rules":
            name, i = f"{base}_{i}", i + 1
        names.append(name)
    return tuple(names)


def open_service(run_dir, *, challengers=(), log_path="serve.sqlite", settings: ServeSettings | None = None,
                 rules: bool = True, shadow_mode: str = "process", shadow_queue: int = OPTIONS["shadow_queue"].default,
                 shadow_timeout: float = OPTIONS["shadow_timeout"].default, make_systems=None) -> ServeState:
    """The service's state: primary loaded here, shadow systems loaded by the worker (`make_systems`
    overrides them, e.g. in tests). Challengers must share the primary's classes. `settings` is checked
    when made (ServeSettings), the shadow queue and timeout here, by the rules `labelkit serve` has."""
    from labelkit.runs import load_run

    check_values(ServeOptions, "open_service", shadow_queue=shadow_queue, shadow_timeout=shadow_timeout)
    settings = settings or ServeSettings()
    run = load_run(run_dir)
    primary = Primary.from_run(run)
    others = [load_run(path) for path in challengers]
    for path, other in zip(challengers, others):
        if tuple(other.classes) != primary.classes:
            raise ConfigError(f"Challenger {path} has classes {list(other.classes)}; the primary {run_dir} has "
                              f"{list(primary.classes)}. Shadow builds must predict the same classes.")
        if other.end_model is None:
            raise ConfigError(f"Challenger {path} has no end model to compare.")
    log = LogWriter(log_path, log_meta(primary, [lf.name for lf in run.lfs] if rules else []))
    record_builds(log.con, {r.build_id: str(Path(r.path).resolve()) for r in [run, *others]})
    state = ServeState(primary, log, None, settings)
    if make_systems is None and (rules and run.lfs or challengers) and shadow_mode == "thread":
        make_systems = functools.partial(systems_from_runs, run if rules and run.lfs else None, others,
                                         challenger_names(challengers))  # already loaded: no second load
    elif make_systems is None and (rules and run.lfs or challengers):
        make_systems = functools.partial(load_systems, str(Path(run_dir).resolve()),
                                         tuple(str(Path(p).resolve()) for p in challengers),
                                         challenger_names(challengers), bool(rules and run.lfs))
    if make_systems is not None:
        def on_event(name: str, n: int) -> None:
            state.count(name, n)
            log.count(name, n)

        state.shadow = ShadowWorker(make_systems, state.shadow_rows, queue_size=shadow_queue, timeout=shadow_timeout,
                                    mode=shadow_mode, on_event=on_event)
    return state


def start(state: ServeState, *, wait: float = 120.0) -> ServeState:
    state.log.start()
    if state.shadow is not None:
        state.shadow.start()
        if not state.shadow.wait_ready(wait):
            state.log.count("shadow_start_failures")
    return state


class Stopped(SystemExit):
    """SIGTERM after uvicorn's graceful shutdown: the service is closed, then the process exits 0."""


def _stop_on_sigterm(signum, frame) -> None:
    raise Stopped(0)


def run_server(state: ServeState, *, host: str = OPTIONS["host"].default, port: int = OPTIONS["port"].default,
               log_level: str = "warning") -> None:
    """uvicorn until SIGINT/SIGTERM, then the service closed (shadow worker stopped, log flushed).

    uvicorn stops gracefully on SIGTERM and then raises the signal again so the process dies by it: with
    the default action nothing after uvicorn.run would run, the shadow worker would be left to notice
    on its own and the shadow queue's semaphores would never be released (the resource tracker then
    warns "There appear to be 3 leaked semaphore objects"). SIGTERM here ends in SystemExit(0) instead,
    after the close."""
    import signal
    import threading

    import uvicorn

    app = create_app(state)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if main else None
    try:  # a bad host or port is refused as `labelkit serve` refuses it, and the service closed like any end
        check_values(ServeOptions, "run_server", host=host, port=port)
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="off")
    finally:
        state.close()
        if main:
            signal.signal(signal.SIGTERM, previous)
