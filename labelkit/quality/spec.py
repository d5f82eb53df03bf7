"""AuditSpec: what to audit and how; validated against the data before any check runs. Its options that
[audit] in labelkit.toml has too take their defaults and rules from that one declaration (config.AuditConfig)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from labelkit.settings.config import AuditConfig
from labelkit.errors import DatasetError
from labelkit.settings.declare import check_declared, same_as, setting


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
    # the settings [audit] has too are declared once, in labelkit/settings/config.py (AuditConfig): same defaults and rules
    near_duplicate_threshold: float = same_as(AuditConfig, "near_duplicate_threshold")  # see near_duplicates.py
    near_duplicate_ngram: int = same_as(AuditConfig, "near_duplicate_ngram")
    max_similarity_chars: int = same_as(AuditConfig, "max_similarity_chars")
    id_leak_threshold: float = setting(0.8, "Lift over the majority class (share of its errors fixed) from which a "
                                            "column leaks the label.", gt=0, le=1)
    seed: int = setting(0, "Seed of the audit's random choices (folds).")
    now: Any = same_as(AuditConfig, "now", default=None)
    source_column: str | None = None
    burst_min_rows: int = same_as(AuditConfig, "burst_min_rows")  # identical rows from one source ...
    burst_window: str = same_as(AuditConfig, "burst_window")  # ... within this span when a time column is set
    cv_folds: int = setting(5, "Cross-validation folds of the judge models.", ge=2)
    max_label_issue_rows: int = setting(50_000, "Gold rows above which the label-issue check is skipped.", ge=0)
    label_issue_min_confidence: float = same_as(AuditConfig, "label_issue_min_confidence")
    label_issue_min_accuracy: float = setting(0.8, "Gold labels are judged only when the judge's out-of-fold "
                                                   "accuracy on gold rows is at least this.", ge=0, le=1)
    max_label_issue_share: float = setting(0.05, "At most this share of gold rows flagged, most doubtful first.",
                                           ge=0, le=1)
    feature_columns: tuple[str, ...] = ()  # model inputs besides the text: duplicates must match them too
    # paraphrase leakage (paraphrase.py): "" = off; an [embeddings] model name or folder (relative to `root`)
    paraphrase_model: str = same_as(AuditConfig, "paraphrase_model")
    paraphrase_threshold: float = same_as(AuditConfig, "paraphrase_threshold")
    root: Any = None

    def __post_init__(self) -> None:
        self.classes = tuple(str(c) for c in self.classes)
        check_declared(self, "AuditSpec")

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
