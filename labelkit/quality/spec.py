"""AuditSpec: what to audit and how; validated against the data before any check runs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from labelkit.errors import ConfigError, DatasetError


@dataclass
class AuditSpec:
    """Columns, classes and options of an audit.

    `label_column` holds gold labels on dev/test (ignored on train). `checks=None` runs every
    registered check. `policies` override DEFAULT_POLICIES per reason. `rules` are user test-row
    rules ({"column", "pattern"} regex search or {"column", "values"} exact match, optional "name"
    or "reason" shown in the evidence). `detectors` are functions DataFrame -> boolean mask
    (see `test_row_detector`). `now` (a timestamp) enables the "in the future" check.
    `source_column` (default: `group_column`) names who wrote a row, for the burst detector.
    `feature_columns` are the model's other inputs: rows are duplicates only when the text and
    these columns match (a short memo field repeats across different transactions).
    """

    id_column: str
    text_column: str | None
    label_column: str | None
    classes: tuple[str, ...]
    group_column: str | None = None
    time_column: str | None = None
    checks: tuple[str, ...] | None = None
    policies: dict[str, str] = field(default_factory=dict)
    rules: list[dict] = field(default_factory=list)
    detectors: list[Callable[[pd.DataFrame], Any]] = field(default_factory=list)
    near_duplicate_threshold: float = 0.9
    id_leak_threshold: float = 0.8
    seed: int = 0
    now: Any = None
    source_column: str | None = None
    burst_min_rows: int = 5
    cv_folds: int = 5
    max_label_issue_rows: int = 50_000
    feature_columns: tuple[str, ...] = ()  # model inputs besides the text: duplicates must match them too

    def __post_init__(self) -> None:
        self.classes = tuple(str(c) for c in self.classes)
        if not 0.0 < self.near_duplicate_threshold <= 1.0:
            raise ConfigError(
                f"near_duplicate_threshold must be in (0, 1], got {self.near_duplicate_threshold}."
            )
        if not 0.0 < self.id_leak_threshold <= 1.0:
            raise ConfigError(f"id_leak_threshold must be in (0, 1], got {self.id_leak_threshold}.")
        if self.burst_min_rows < 2:
            raise ConfigError(f"burst_min_rows must be at least 2, got {self.burst_min_rows}.")
        if self.cv_folds < 2:
            raise ConfigError(f"cv_folds must be at least 2, got {self.cv_folds}.")

    @property
    def burst_source(self) -> str | None:
        return self.source_column or self.group_column


def validate_splits(splits: dict[str, pd.DataFrame], spec: AuditSpec) -> None:
    """Every split is a DataFrame with the configured columns; raises naming split and column."""
    if not splits:
        raise DatasetError("run_audit got no splits; pass e.g. {'train': df, 'test': df}.")
    for name, frame in splits.items():
        if not isinstance(frame, pd.DataFrame):
            raise DatasetError(f"Split {name!r} is a {type(frame).__name__}, expected a pandas DataFrame.")
        required = {
            "id_column": spec.id_column, "text_column": spec.text_column,
            "group_column": spec.group_column, "time_column": spec.time_column,
            "source_column": spec.source_column,
        }
        for option, column in required.items():
            if column is not None and column not in frame.columns:
                raise DatasetError(
                    f"Column {column!r} ({option}) not found in split {name!r}; columns are: "
                    f"{', '.join(map(str, frame.columns))}. Fix {option} in the audit config."
                )
        for rule in spec.rules:
            if rule.get("column") not in frame.columns:
                raise DatasetError(
                    f"Test-row rule {rule} names column {rule.get('column')!r}, not in split {name!r}; "
                    f"columns are: {', '.join(map(str, frame.columns))}."
                )
