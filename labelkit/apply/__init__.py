"""Running LFs over data: in process (local), on local processes, or on a Dask cluster."""
from labelkit.apply.local import ApplyResult, apply_lfs

__all__ = ["ApplyResult", "apply_lfs"]
