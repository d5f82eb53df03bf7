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
    `source_column` (default: `group_column`, else the first author/sender/user-like column) names who
    wrote a row, for the burst detector (burst_min_rows identical rows within burst_window).
    Near duplicates: char `near_duplicate_ngram`-gram Jaccard >= `near_duplicate_threshold` on the
    first `max_similarity_chars` characters. Gold label issues: see `label_issues.py`.
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
    near_duplicate_threshold: float = 0.7  # Jaccard of char n-gram sets (see near_duplicates.py)
    near_duplicate_ngram: int = 3
    max_similarity_chars: int = 10_000  # texts are compared on their first N characters
    id_leak_threshold: float = 0.8
    seed: int = 0
    now: Any = None
    source_column: str | None = None
    burst_min_rows: int = 3  # identical rows from one source ...
    burst_window: str = "1h"  # ... within this time span (pandas Timedelta) when a time column is set
    cv_folds: int = 5
    max_label_issue_rows: int = 50_000
    label_issue_min_confidence: float = 0.9  # flag a gold row only if the judge is this sure of another class
    label_issue_min_accuracy: float = 0.8  # ... and the judge's out-of-fold accuracy on gold rows is at least this
    max_label_issue_share: float = 0.05  # at most this share of gold rows flagged, most doubtful first
    feature_columns: tuple[str, ...] = ()  # model inputs besides the text: duplicates must match them too
    # paraphrase leakage (paraphrase.py): "" = off; an [embeddings] model name or folder (relative to `root`)
    paraphrase_model: str = ""
    paraphrase_threshold: float = 0.9  # cosine similarity from which a cross-split pair is flagged
    root: Any = None

    def __post_init__(self) -> None:
        self.classes = tuple(str(c) for c in self.classes)
        if not 0.0 < self.near_duplicate_threshold <= 1.0:
            raise ConfigError(
                f"near_duplicate_threshold must be in (0, 1], got {self.near_duplicate_threshold}."
            )
        if not 1 <= self.near_duplicate_ngram <= 10:
            raise ConfigError(f"near_duplicate_ngram must be 1 to 10 characters, got {self.near_duplicate_ngram}.")
        if self.max_similarity_chars < 100:
            raise ConfigError(f"max_similarity_chars must be at least 100, got {self.max_similarity_chars}.")
        if not 0.0 < self.id_leak_threshold <= 1.0:
            raise ConfigError(f"id_leak_threshold must be in (0, 1], got {self.id_leak_threshold}.")
        try:
            pd.Timedelta(self.burst_window)
        except (ValueError, TypeError):
            raise ConfigError(f"burst_window must be a time span such as '1h' or '10min', got {self.burst_window!r}.") from None
        if self.now is not None:
            try:
                pd.Timestamp(self.now)
            except (ValueError, TypeError):
                raise ConfigError(f"now must be a date such as '2026-01-31', got {self.now!r}.") from None
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
