"""Class names <-> indices. LFs speak class names; matrices speak indices."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelkit.errors import ConfigError, DatasetError

ABSTAIN = None  # what an LF returns when it does not vote
ABSTAIN_INDEX = -1  # how an abstain is stored in a label matrix


def vote_dtype(k: int) -> type:
    """The dtype of a label matrix for `k` classes (votes -1..k-1): int8, int16 beyond 126 classes.
    The one rule for every matrix, stored vote and vote blob (build, studio, serve log, monitor)."""
    return np.int8 if k < 127 else np.int16


@dataclass(frozen=True)
class LabelSchema:
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.classes) < 2:
            raise ConfigError(f"A task needs at least 2 classes, got {list(self.classes)}.")
        if len(set(self.classes)) != len(self.classes):
            raise ConfigError(f"Class names must be unique, got {list(self.classes)}.")

    @property
    def cardinality(self) -> int:
        return len(self.classes)

    @property
    def matrix_dtype(self) -> type:
        return vote_dtype(self.cardinality)

    def index(self, name: str) -> int:
        try:
            return self.classes.index(name)
        except ValueError:
            raise ConfigError(f"Unknown class {name!r}; classes are: {', '.join(self.classes)}.") from None

    def encode_gold(self, values, *, where: str) -> np.ndarray:
        """Map gold label names to indices; `where` names the file/column for the error."""
        import pandas as pd

        series = pd.Series(values, dtype=object).reset_index(drop=True)
        names = series.where(series.isna(), series.astype(str))
        codes = names.map({name: i for i, name in enumerate(self.classes)})
        missing = np.flatnonzero(codes.isna().to_numpy())
        if missing.size:
            row = int(missing[0])
            raise DatasetError(
                f"{where}: row {row + 1} has label {series.iloc[row]!r}, which is not a class; "
                f"classes are: {', '.join(self.classes)}."
            )
        return codes.to_numpy(dtype=np.int64)

    def decode(self, indices) -> list[str | None]:
        return [self.classes[i] if i >= 0 else None for i in np.asarray(indices)]
