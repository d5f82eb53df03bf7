"""Outliers: rows unlike the rest of the data, found by cleanlab Datalab on text features.

Features are TF-IDF character n-grams reduced to 64 dimensions (TruncatedSVD, seeded) and normalised,
so Datalab's k-nearest-neighbour outlier score works on dense vectors. Outliers are flagged for a
look (odd languages, signatures only, garbled text), never dropped by default.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from labelkit.quality.findings import combine_findings, make_findings
from labelkit.quality.registry import AuditContext, register_check

MAX_ROWS = 100_000  # Datalab's neighbour search grows quickly beyond this on 2 cores
MIN_ROWS = 50
SVD_DIMENSIONS = 64
MAX_SHARE = 0.02  # of Datalab's outliers, flag at most the oddest 2% of rows: a review list, not a purge


@register_check("outliers", reasons=("outlier",), needs_text=True)
def outliers(ctx: AuditContext) -> pd.DataFrame:
    splits = ctx.split_names
    limit = ctx.spec.max_similarity_chars  # one huge field must not blow up the n-gram features
    texts = pd.concat([ctx.splits[s][ctx.spec.text_column].fillna("").astype(str).str.slice(0, limit) for s in splits],
                      ignore_index=True)
    if len(texts) > MAX_ROWS or len(texts) < MIN_ROWS:
        ctx.warnings.append(
            f"outliers: skipped for {len(texts)} rows (the check runs on {MIN_ROWS} to {MAX_ROWS:,} rows)."
        )
        return combine_findings([])
    features = _features(texts, ctx.spec.seed)
    if features is None:
        ctx.warnings.append("outliers: skipped; the texts share too few character n-grams to compare them.")
        return combine_findings([])
    issues = _datalab_outliers(features)
    scores = issues["outlier_score"].to_numpy(dtype=float)
    cutoff = np.sort(scores)[max(0, int(MAX_SHARE * len(scores)) - 1)]
    flagged = issues["is_outlier_issue"].to_numpy(dtype=bool) & (scores <= cutoff)
    frames, start = [], 0
    for split in splits:
        n = len(ctx.splits[split])
        mask = flagged[start:start + n]
        if mask.any():
            evidence = [f"outlier score {s:.3f} (cleanlab Datalab on TF-IDF+SVD text features; lower is odder)"
                        for s in scores[start:start + n][mask]]
            frames.append(make_findings(split, ctx.ids[split][mask], "outlier", scores[start:start + n][mask], evidence))
        start += n
    return combine_findings(frames)


def _features(texts: pd.Series, seed: int) -> np.ndarray | None:
    """Reduced, normalised text features; None when the texts (e.g. all empty) give under 3 n-grams."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    from labelkit.quality.label_issues import fit_terms

    # character n-grams: a text of unseen words still has a vector (word n-grams would give it none)
    X = fit_terms(TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, max_features=30_000,
                                  sublinear_tf=True), texts)
    if X.shape[1] < 3:
        return None
    dimensions = max(2, min(SVD_DIMENSIONS, X.shape[1] - 1))
    Z = TruncatedSVD(dimensions, random_state=seed).fit_transform(X)
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def _datalab_outliers(features: np.ndarray) -> pd.DataFrame:
    from cleanlab import Datalab

    lab = Datalab(data={"row": np.arange(len(features))}, verbosity=0)
    lab.find_issues(features=features, issue_types={"outlier": {}})
    return lab.get_issues("outlier")
