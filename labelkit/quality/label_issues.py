"""Label issues: gold labels (dev/test) and weak labels (train) that a cross-validated model doubts.

Out-of-fold probabilities come from TF-IDF (word 1-2 grams) + LogisticRegression via
scikit-learn's `cross_val_predict` (stratified, seeded); cleanlab's `find_label_issues` picks the
issues and `get_label_quality_scores` gives each a score (lower = more likely wrong). Findings are
meant for human review: the default policy is "flag".

Gold rows are a reviewer's time, so a gold row is flagged only when (1) the out-of-fold model is good
enough to judge (accuracy >= spec.label_issue_min_accuracy on the gold rows, else the check is
skipped with a warning), (2) cleanlab calls it an issue and (3) the model is confident in another
class (probability >= spec.label_issue_min_confidence). At most spec.max_label_issue_share of the
gold rows are flagged, most doubtful first.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from labelkit.errors import DatasetError
from labelkit.quality.findings import combine_findings, make_findings
from labelkit.quality.registry import AuditContext, register_check
from labelkit.schema import LabelSchema

JUDGE_C = 10.0  # weakly regularised: the judge must be confident where the data is clear


MAX_FEATURE_CHARS = 10_000  # texts are cut here before featurising: one huge field costs bounded memory


def tfidf_features(texts: pd.Series):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, max_features=50_000, sublinear_tf=True)
    return fit_terms(vectorizer, texts.fillna("").astype(str).str.slice(0, MAX_FEATURE_CHARS))


def fit_terms(vectorizer, texts: pd.Series):
    """vectorizer.fit_transform(texts), or an (n, 0) matrix when the texts hold no terms (all empty)."""
    from scipy import sparse

    try:
        return vectorizer.fit_transform(texts)
    except ValueError as exc:
        if "empty vocabulary" not in str(exc) and "no terms remain" not in str(exc):
            raise
        return sparse.csr_matrix((len(texts), 0))


def judge_features(texts: pd.Series):
    """Word 1-2 grams plus char 2-5 grams (within words): robust to spelling, emoji and short texts."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = texts.fillna("").astype(str).str.slice(0, MAX_FEATURE_CHARS)
    words = fit_terms(TfidfVectorizer(ngram_range=(1, 2), max_features=50_000, sublinear_tf=True), texts)
    chars = fit_terms(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), max_features=100_000,
                                      sublinear_tf=True), texts)
    return sparse.hstack([words, chars]).tocsr() / np.sqrt(2.0)


def out_of_fold_proba(features, y: np.ndarray, *, folds: int, seed: int, C: float = 1.0) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    # saga converges in a few passes on l2-normalised TF-IDF rows (5-10x faster than lbfgs here)
    model = LogisticRegression(C=C, solver="saga", tol=1e-3, max_iter=300, random_state=seed)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(model, features, y, cv=cv, method="predict_proba")


def too_small_for_cv(y: np.ndarray, classes: tuple[str, ...], folds: int) -> str | None:
    """A reason string if cross-validation cannot run on these labels, else None."""
    present, counts = np.unique(y, return_counts=True)
    if len(present) < 2:
        return f"only {len(present)} class present"
    small = [f"{classes[c]!r} ({n})" for c, n in zip(present, counts) if n < folds]
    if small:
        return f"classes with fewer than {folds} rows: {', '.join(small)}"
    return None


def label_issue_table(features, y: np.ndarray, *, folds: int, seed: int, C: float = 1.0,
                      min_confidence: float = 0.0, stats: dict | None = None) -> pd.DataFrame:
    """Positions of label issues with quality score and predicted class index (on present classes).
    Only issues whose predicted class has probability >= min_confidence; `stats` gets the OOF accuracy."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    present = np.unique(y)
    local = np.searchsorted(present, y)
    proba = out_of_fold_proba(features, local, folds=folds, seed=seed, C=C)
    if stats is not None:
        stats["accuracy"] = float((proba.argmax(axis=1) == local).mean())
    issues = find_label_issues(local, proba, filter_by="prune_by_noise_rate")
    issues &= proba.max(axis=1) >= min_confidence
    quality = get_label_quality_scores(local, proba)
    positions = np.flatnonzero(issues)
    return pd.DataFrame({
        "pos": positions,
        "quality": quality[positions],
        "given_p": proba[positions, local[positions]],
        "predicted": present[proba[positions].argmax(axis=1)],
        "predicted_p": proba[positions].max(axis=1),
    })


def column_features(frame: pd.DataFrame, columns):
    """The end model's encoding of feature columns (labelkit.endmodel.features), for rows without text."""
    from labelkit.endmodel.features import build_features, split_feature_columns

    numeric, categorical = split_feature_columns(frame, list(columns))
    return build_features("", "", numeric, categorical, max_features=1, text=False).fit_transform(frame)


@register_check("label_issues", reasons=("label_issue",), needs_text=True, or_features=True)
def label_issues(ctx: AuditContext) -> pd.DataFrame:
    """Gold rows of dev+test (pooled for more data) whose label cleanlab doubts."""
    spec = ctx.spec
    gold = ctx.gold_splits
    if not gold:
        return combine_findings([])
    parts = [(s, ctx.splits[s]) for s in gold]
    schema = LabelSchema(tuple(spec.classes))
    y = np.concatenate([schema.encode_gold(f[spec.label_column], where=f"split {s!r} column {spec.label_column!r}")
                        for s, f in parts])
    problem = too_small_for_cv(y, spec.classes, spec.cv_folds)
    if problem:
        ctx.warnings.append(f"label_issues skipped: gold rows too few for {spec.cv_folds}-fold CV ({problem}).")
        return combine_findings([])
    if len(y) > spec.max_label_issue_rows:
        ctx.warnings.append(
            f"label_issues: {len(y)} gold rows exceed max_label_issue_rows={spec.max_label_issue_rows}; skipped."
        )
        return combine_findings([])
    if spec.text_column is None:  # rows without text: judged on their feature columns
        features = column_features(pd.concat([f[list(spec.feature_columns)] for _, f in parts], ignore_index=True),
                                   spec.feature_columns)
    else:
        features = judge_features(pd.concat([f[spec.text_column] for _, f in parts], ignore_index=True))
    if features.shape[1] == 0:
        ctx.warnings.append("label_issues skipped: the gold texts hold no words or characters to judge labels by.")
        return combine_findings([])
    stats: dict = {}
    table = label_issue_table(features, y, folds=spec.cv_folds, seed=spec.seed, C=JUDGE_C,
                              min_confidence=spec.label_issue_min_confidence, stats=stats)
    if stats["accuracy"] < spec.label_issue_min_accuracy:
        ctx.warnings.append(
            f"label_issues skipped: the out-of-fold model reaches accuracy {stats['accuracy']:.3f} on the gold rows, "
            f"below label_issue_min_accuracy={spec.label_issue_min_accuracy}; it is not good enough to judge labels."
        )
        return combine_findings([])
    limit = max(1, int(spec.max_label_issue_share * len(y)))
    if len(table) > limit:
        table = table.sort_values(["quality", "pos"], kind="mergesort").head(limit)
    split_of = np.concatenate([[s] * len(f) for s, f in parts])
    ids = np.concatenate([ctx.ids[s] for s, _ in parts])
    frames = []
    for split in gold:
        rows = table[split_of[table["pos"]] == split]
        evidence = [
            f"gold {spec.classes[y[p]]!r} (p={gp:.2f}); model predicts {spec.classes[pc]!r} (p={pp:.2f})"
            for p, gp, pc, pp in zip(rows["pos"], rows["given_p"], rows["predicted"], rows["predicted_p"])
        ]
        frames.append(make_findings(split, ids[rows["pos"]], "label_issue", rows["quality"].to_numpy(), evidence))
    return combine_findings(frames)


def audit_weak_labels(train_df: pd.DataFrame, weak_proba, spec, *, features=None) -> pd.DataFrame:
    """Findings (reason weak_label_issue, split train) for rows whose weak label a CV end model doubts.

    Weak hard labels are the argmax of `weak_proba` (n, k). `features` (n x d, dense or sparse)
    default to TF-IDF of the text column (rows without text: the feature columns). Returns an empty findings frame, not an error, when CV
    cannot run (some weak class has fewer than spec.cv_folds rows).
    """
    proba = np.asarray(weak_proba, dtype=float)
    if proba.ndim != 2 or proba.shape != (len(train_df), len(spec.classes)):
        raise DatasetError(
            f"weak_proba has shape {proba.shape}, expected ({len(train_df)}, {len(spec.classes)}) "
            "(train rows x classes)."
        )
    if features is None and spec.text_column is None and spec.feature_columns:  # rows without text
        features = column_features(train_df, spec.feature_columns)
    if features is None:
        if spec.text_column is None or spec.text_column not in train_df.columns:
            raise DatasetError(
                f"audit_weak_labels needs features or a text column; {spec.text_column!r} is not in train."
            )
        features = tfidf_features(train_df[spec.text_column])
    weak = proba.argmax(axis=1)
    if too_small_for_cv(weak, spec.classes, spec.cv_folds) or features.shape[1] == 0:
        return combine_findings([])
    table = label_issue_table(features, weak, folds=spec.cv_folds, seed=spec.seed)
    ids = train_df[spec.id_column].astype(str).to_numpy()
    evidence = [
        f"weak label {spec.classes[weak[p]]!r} (p={gp:.2f}); end model predicts {spec.classes[pc]!r} (p={pp:.2f})"
        for p, gp, pc, pp in zip(table["pos"], table["given_p"], table["predicted"], table["predicted_p"])
    ]
    return combine_findings([
        make_findings("train", ids[table["pos"]], "weak_label_issue", table["quality"].to_numpy(), evidence)
    ])
