"""Class names <-> indices. LFs speak class names; matrices speak indices. The label matrix's own rules
live here too: its dtype (vote_dtype) and its distinct rows (distinct_votes)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelkit.errors import ConfigError, DatasetError

ABSTAIN = None  # what an LF returns when it does not vote
ABSTAIN_INDEX = -1  # how an abstain is stored in a label matrix


def vote_dtype(k: int) -> type[np.signedinteger]:
    """The dtype of a label matrix for `k` classes (votes -1..k-1): int8, int16 beyond 126 classes.
    The one rule for every matrix, stored vote and vote blob (build, studio, serve log, monitor)."""
    return np.int8 if k < 127 else np.int16


def distinct_votes(L: np.ndarray):
    """The distinct rows of L in sorted order (that of np.unique(L, axis=0)), how often each occurs, and
    each row's index among them: patterns[inverse] == L. A million rows of a few LFs hold a few hundred
    patterns; the label models' fits depend on nothing else. The one home of distinct vote patterns (the
    label models' compress_patterns, the build's stages, the out-of-core counter, bulk labelling, WRENCH
    export).

    >>> patterns, counts, inverse = distinct_votes(np.array([[1, -1], [0, 0], [1, -1]], dtype=np.int8))
    >>> patterns.tolist(), counts.tolist(), inverse.tolist()
    ([[0, 0], [1, -1]], [1, 2], [1, 0, 1])
    """
    L = np.ascontiguousarray(L)
    if L.shape[0] == 0:
        return L, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    bits = max(1, int(L.max()) + 1).bit_length()
    if int(L.min()) >= -1 and bits * L.shape[1] <= 62:  # one int64 key per row: sorting ints beats rows
        keys = np.zeros(L.shape[0], dtype=np.int64)
        for j in range(L.shape[1]):  # the first LF in the highest bits: the keys sort as the rows do
            keys |= (L[:, j].astype(np.int64) + 1) << (bits * (L.shape[1] - 1 - j))
        _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        return L[first], counts.astype(np.int64), inverse.reshape(-1)
    patterns, inverse, counts = np.unique(L, axis=0, return_inverse=True, return_counts=True)
    return patterns, counts.astype(np.int64), inverse.reshape(-1)


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
