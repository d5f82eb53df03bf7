"""Apply LFs over the partitions of a Dask DataFrame, on a scheduler or on a LocalCluster.

Every partition is labelled by `map_partitions` with an explicit `meta`, so Dask never calls an LF on
placeholder rows to infer the output (what breaks snorkel's DaskLFApplier on current Dask). Partitions
come back in order, so the matrix has the rows in the input's order.
"""
from __future__ import annotations

import atexit
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from labelkit.apply.local import ApplyResult, unmark_errors, validate_apply_options
from labelkit.apply.processes import apply_chunk, pickle_lfs
from labelkit.errors import ConfigError, DatasetError
from labelkit.schema import vote_dtype

LOCAL_CLUSTER_WORKERS = 2
ROWS_PER_PARTITION = 50_000


def apply_lfs_dask(lfs, data, classes: tuple[str, ...], *, scheduler: str | None = None,
                   n_workers: int | None = None, text_column: str | None, id_column: str | None = None,
                   spacy_model: str | None = None, on_error: str = "raise", where: str = "data",
                   npartitions: int | None = None) -> ApplyResult:
    """Label matrix of `data` (pandas or Dask DataFrame, or a .parquet/.csv path) computed on Dask."""
    validate_apply_options(lfs, on_error)
    names = [lf.name for lf in lfs]
    with dask_client(scheduler, n_workers) as client:
        ddf = to_dask_frame(data, npartitions=npartitions, n_workers=n_workers, client=client)
        votes = ddf.map_partitions(
            _partition_votes, pickle_lfs(lfs), tuple(classes), text_column, id_column, spacy_model, on_error,
            where, names, meta=_votes_meta(names, classes), enforce_metadata=False,
        )
        frame = client.compute(votes, sync=True)
    dtype = vote_dtype(len(classes))
    L = frame.to_numpy(dtype=dtype) if len(frame) else np.empty((0, len(lfs)), dtype)
    return unmark_errors(np.ascontiguousarray(L), names)


def _votes_meta(names: list[str], classes) -> pd.DataFrame:
    dtype = vote_dtype(len(classes))
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name in names})


def _partition_votes(part, payload, classes, text_column, id_column, spacy_model, on_error, where, names,
                     partition_info=None) -> pd.DataFrame:
    label = where if partition_info is None else f"{where} (partition {partition_info['number']})"
    L = apply_chunk(payload, part, classes=classes, text_column=text_column, id_column=id_column,
                    spacy_model=spacy_model, on_error=on_error, where=label)
    return pd.DataFrame(L, columns=names, index=part.index)


def to_dask_frame(data, *, npartitions: int | None = None, n_workers: int | None = None, client=None):
    """A Dask DataFrame over `data`; pandas rows are scattered to the workers as futures (not embedded
    in the task graph), contiguous partitions in row order."""
    import dask.dataframe as dd

    if isinstance(data, dd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        return _read_dask(Path(data))
    if not isinstance(data, pd.DataFrame):
        raise DatasetError(f"The Dask engine needs a DataFrame or a .parquet/.csv path, got {type(data).__name__}.")
    frame = data.reset_index(drop=True)  # from_pandas sorts by index: keep the rows in their order
    if npartitions is None:
        npartitions = max(1, min(len(frame) // 1_000 or 1, max(len(frame) // ROWS_PER_PARTITION,
                                                               2 * (n_workers or LOCAL_CLUSTER_WORKERS))))
    if client is None:
        return dd.from_pandas(frame, npartitions=npartitions, sort=True)
    from labelkit.apply.processes import chunk_bounds_n

    parts = [frame.iloc[start:stop] for start, stop in chunk_bounds_n(len(frame), npartitions)] or [frame]
    futures = client.scatter(parts)
    return dd.from_delayed(futures, meta=frame.iloc[:0], divisions=None, verify_meta=False)


def _read_dask(path: Path):
    import dask.dataframe as dd

    if not path.exists():
        raise DatasetError(f"Data file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq") or path.is_dir():
        return dd.read_parquet(str(path))
    if suffix in (".csv", ".tsv"):
        return dd.read_csv(str(path), sep="\t" if suffix == ".tsv" else ",", keep_default_na=False,
                           na_values=[""], blocksize="64MB")
    raise DatasetError(f"{path}: the Dask engine reads .parquet or .csv files, not {suffix!r}.")


@contextmanager
def dask_client(scheduler: str | None, n_workers: int | None):
    """A Client to `scheduler`, or to a fresh LocalCluster (n_workers, 1 thread each) closed afterwards."""
    from distributed import Client

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"Cannot connect to the Dask scheduler at {scheduler!r} ({type(exc).__name__}); start it "
                f"(dask scheduler) or leave --scheduler out to use a LocalCluster."
            ) from None
        with client:
            yield client
        return
    yield _local_client(n_workers or LOCAL_CLUSTER_WORKERS)


_LOCAL_CLUSTERS: dict[int, tuple] = {}


def _local_client(workers: int):
    """One LocalCluster per process and worker count, started on first use (a build applies LFs to
    three splits: starting a cluster for each would cost more than the work), closed at exit."""
    from distributed import Client, LocalCluster

    if workers not in _LOCAL_CLUSTERS:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=40)
        _LOCAL_CLUSTERS[workers] = (cluster, Client(cluster, set_as_default=False))
        atexit.register(_close_local_cluster, workers)
    return _LOCAL_CLUSTERS[workers][1]


def _close_local_cluster(workers: int) -> None:
    cluster, client = _LOCAL_CLUSTERS.pop(workers, (None, None))
    if client is not None:
        client.close()
        cluster.close()
