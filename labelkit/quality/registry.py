"""Check registry and the shared, computed-once context the checks read."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError
from labelkit.quality.findings import GOLD_SPLITS, SPLIT_ORDER
from labelkit.quality.spec import AuditSpec
from labelkit.quality.text_norm import normalize_texts, text_keys
from labelkit.io.times import parse_utc


def plausible_time_range(times: pd.Series):
    """The bounds of plausible times: half the 1st-99th percentile span beyond either percentile.
    A few bogus timestamps (1970, 2031 in 2023-2024 data) fall outside; the bulk of the data never does."""
    low, high = times.quantile(0.01), times.quantile(0.99)
    margin = (high - low) * 0.5
    return low - margin, high + margin


def unparseable_times(values: pd.Series, parsed: pd.Series) -> np.ndarray:
    """Non-empty values that did not parse."""
    present = values.notna() & (values.astype(str).str.strip() != "")
    return (present & parsed.isna()).to_numpy()


@dataclass
class AuditContext:
    """Read-only view of the splits plus derived columns (ids as str, normalised text keys)."""

    splits: dict[str, pd.DataFrame]
    spec: AuditSpec
    warnings: list[str] = field(default_factory=list)
    notify: Callable[[str], None] | None = None  # progress lines of long checks (None: stderr)

    @property
    def split_names(self) -> list[str]:
        known = [s for s in SPLIT_ORDER if s in self.splits]
        return known + [s for s in self.splits if s not in SPLIT_ORDER]

    @property
    def gold_splits(self) -> list[str]:
        label = self.spec.label_column
        return [s for s in GOLD_SPLITS if s in self.splits and label and label in self.splits[s].columns]

    @cached_property
    def ids(self) -> dict[str, np.ndarray]:
        return {s: self.splits[s][self.spec.id_column].astype(str).to_numpy() for s in self.splits}

    @cached_property
    def norm_text(self) -> dict[str, pd.Series]:
        """Normalised text, followed by the raw feature values when feature columns are set (rows
        without text: the feature values alone)."""
        out = {}
        for s, frame in self.splits.items():
            if self.spec.text_column is None:
                text = pd.Series("", index=frame.index, dtype=object)
            else:
                text = normalize_texts(frame[self.spec.text_column])
            for column in self.spec.feature_columns:
                text = text + " \x1f" + frame[column].astype(str).fillna("").to_numpy()  # missing: "" (str keeps NA)
            out[s] = text
        return out

    @property
    def compared(self) -> str:
        """What duplicate checks compare, for their evidence: the text, or the feature values."""
        return "normalised text" if self.spec.text_column is not None else "feature values"

    @cached_property
    def times(self) -> dict[str, pd.Series]:
        """time_column parsed to UTC timestamps (NaT where missing or unparseable)."""
        return {s: parse_utc(self.splits[s][self.spec.time_column]) for s in self.splits}

    @cached_property
    def text_key(self) -> dict[str, np.ndarray]:
        """uint64 hash of the normalised text; 0 marks empty text (never a duplicate). Rows without
        text: a hash of their feature values (numbers as float64, so 1 and 1.0 are equal)."""
        if self.spec.text_column is None and self.spec.feature_columns:
            return {s: _feature_keys(self.splits[s], self.spec.feature_columns) for s in self.splits}
        return {s: text_keys(self.norm_text[s]) for s in self.splits}


def _feature_keys(frame: pd.DataFrame, columns) -> np.ndarray:
    """uint64 hash per row of its values in `columns` (never 0, which marks 'no text')."""
    values = pd.DataFrame({c: (frame[c].astype(np.float64) if pd.api.types.is_numeric_dtype(frame[c])
                               else frame[c].astype(str)) for c in columns}, index=frame.index)
    keys = pd.util.hash_pandas_object(values, index=False).to_numpy(dtype=np.uint64)
    return np.where(keys == 0, np.uint64(1), keys)


@dataclass(frozen=True)
class Check:
    name: str
    func: Callable[[AuditContext], pd.DataFrame]
    reasons: tuple[str, ...]
    needs_text: bool = False
    # without a text column it runs on the feature columns instead (when there are any), else is skipped
    or_features: bool = False


CHECKS: dict[str, Check] = {}


def register_check(name: str, *, reasons: tuple[str, ...], needs_text: bool = False, or_features: bool = False):
    """Decorator: register `func(ctx) -> findings DataFrame` under `name`."""
    if callable(name):
        raise TypeError("register_check needs a name: use @register_check('name', reasons=(...)).")

    def decorate(func):
        CHECKS[name] = Check(name, func, tuple(reasons), needs_text, or_features)
        return func

    return decorate


def resolve_checks(names) -> list[Check]:
    if names is None:
        return list(CHECKS.values())
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ConfigError(
            f"Unknown audit check(s) {', '.join(map(repr, unknown))}; valid checks are: {', '.join(CHECKS)}."
        )
    return [CHECKS[n] for n in names]
