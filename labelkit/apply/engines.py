"""One entry point for every engine: the same LFs and data give the same ApplyResult on each.

>>> import pandas as pd
>>> from labelkit import keywords
>>> lf = keywords("spam", ["subscribe"], name="kw_subscribe")
>>> apply_with_engine([lf], pd.DataFrame({"text": ["subscribe!", "hi"]}), ("ham", "spam"),
...                   engine="local", text_column="text").L.tolist()
[[1], [-1]]
"""
from __future__ import annotations

from typing import Any

from labelkit.apply.local import ApplyResult, apply_lfs
from labelkit.errors import ConfigError

ENGINES = ("local", "processes", "dask")


def apply_with_engine(lfs, frame, classes: tuple[str, ...], *, engine: str = "local",
                      scheduler: str | None = None, n_workers: int | None = None, text_column: str | None,
                      id_column: str | None = None, spacy_model: str | None = None, on_error: str = "raise",
                      where: str = "data", parser=None) -> ApplyResult:
    """Apply `lfs` to `frame` in this process ("local"), on local processes, or on Dask.

    `scheduler` (a Dask scheduler address) and `n_workers` only concern the parallel engines; without
    a scheduler the Dask engine starts a LocalCluster of `n_workers` (default 2) single-thread workers.
    `parser`: a spaCy parser the local engine reuses (labelkit.apply.local.KeptParser.take); the parallel
    engines load one per worker.
    """
    validate_engine(engine, scheduler)
    options: dict[str, Any] = dict(text_column=text_column, id_column=id_column, on_error=on_error, where=where)
    if engine == "local":
        from labelkit.apply.processes import make_parser

        return apply_lfs(lfs, frame, classes, parser=parser or make_parser(lfs, spacy_model), **options)
    if engine == "processes":
        from labelkit.apply.processes import apply_lfs_processes

        return apply_lfs_processes(lfs, frame, classes, n_workers=n_workers, spacy_model=spacy_model, **options)
    from labelkit.apply.dask_engine import apply_lfs_dask

    return apply_lfs_dask(lfs, frame, classes, scheduler=scheduler, n_workers=n_workers,
                          spacy_model=spacy_model, **options)


def validate_engine(engine: str, scheduler: str | None = None) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"Unknown engine {engine!r}; valid engines are: {', '.join(ENGINES)}.")
    if engine == "dask":
        import importlib.util

        if importlib.util.find_spec("distributed") is None or importlib.util.find_spec("dask") is None:
            raise ConfigError("The dask engine needs the 'dask' extra: pip install 'labelkit[dask]'.")
    if scheduler and engine != "dask":
        raise ConfigError(
            f"--scheduler {scheduler!r} only applies to the dask engine, but the engine is {engine!r}; "
            f"pass --engine dask or drop --scheduler."
        )
