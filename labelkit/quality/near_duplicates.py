"""Near duplicates across splits: MinHash LSH candidates, verified by exact cosine similarity.

Similarity is the cosine of binary character 4-gram sets of the normalised texts (robust to typos
and small edits). Candidates come from MinHash (64 permutations, vectorised in numpy) banded into
16 bands of 4 rows: a pair with Jaccard >= 0.8 (every pair with cosine >= 0.9 has Jaccard >= 0.81)
becomes a candidate with probability > 0.999. Every candidate is then verified exactly, so the
output has no false positives with respect to the stated similarity. Only distinct normalised texts
are hashed, and identical texts are left to the exact-duplicate check. Grams frequent across texts
(templates, common words) are left out of the MinHash sets (see `lsh_signatures`) so that
templated data does not collapse into giant buckets; very short texts made only of common grams
therefore rarely become candidates (their exact copies are still found by the exact check).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from labelkit.quality.findings import combine_findings, make_findings
from labelkit.quality.registry import AuditContext, register_check

NUM_PERM = 64
BANDS = 16
ROWS_PER_BAND = NUM_PERM // BANDS
MAX_BUCKET = 200  # members per split in one LSH bucket; larger buckets are truncated (warned)
FREQUENT_SHARE = 0.005  # grams in more than 0.5% of distinct texts (and > 100) are left out of MinHash
FREQUENT_MIN_DF = 100
_PRIME = np.uint64((1 << 31) - 1)  # Mersenne prime > 2**22 features; a*x < 2**53 fits uint64


def shingle_matrix(texts: list[str]):
    """Binary char-4-gram vectors, L2-normalised (so a row dot product is the cosine)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(
        analyzer="char", ngram_range=(4, 4), n_features=2**22, alternate_sign=False,
        binary=True, norm="l2", lowercase=False, dtype=np.float32,
    )
    return vectorizer.transform(texts).tocsr()


def minhash_signatures(matrix, *, seed: int, chunk_nnz: int = 400_000) -> np.ndarray:
    """(n_rows, NUM_PERM) uint64 MinHash of each row's non-zero column set; empty rows get max."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, int(_PRIME), size=NUM_PERM, dtype=np.uint64)
    b = rng.integers(0, int(_PRIME), size=NUM_PERM, dtype=np.uint64)
    n = matrix.shape[0]
    out = np.full((n, NUM_PERM), np.iinfo(np.uint64).max, dtype=np.uint64)
    indptr, indices = matrix.indptr, matrix.indices.astype(np.uint64)
    start = 0
    while start < n:
        stop = int(np.searchsorted(indptr, indptr[start] + chunk_nnz, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        lo, hi = indptr[start], indptr[stop]
        rows = np.arange(start, stop)
        nonempty = rows[indptr[rows + 1] > indptr[rows]]
        if hi > lo and len(nonempty):
            hashed = (indices[lo:hi, None] * a[None, :] + b[None, :]) % _PRIME
            out[nonempty] = np.minimum.reduceat(hashed, indptr[nonempty] - lo, axis=0)
        start = stop
    return out


def lsh_signatures(matrix, *, seed: int) -> np.ndarray:
    """MinHash over each row's *rare* 4-grams (document frequency <= FREQUENT_SHARE of texts).

    Grams shared by many texts (templates, common words) would put most texts of a template in
    the same LSH buckets; leaving them out of the signature keeps buckets small. Verification
    still uses all grams. Rows made of frequent grams only keep their full set.
    """
    limit = max(FREQUENT_MIN_DF, int(FREQUENT_SHARE * matrix.shape[0]))
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    rare = matrix.copy()
    rare.data = np.where(df[rare.indices] <= limit, rare.data, 0).astype(rare.data.dtype)
    rare.eliminate_zeros()
    signatures = minhash_signatures(rare, seed=seed)
    emptied = np.flatnonzero((np.diff(rare.indptr) == 0) & (np.diff(matrix.indptr) > 0))
    if len(emptied):
        signatures[emptied] = minhash_signatures(matrix[emptied], seed=seed)
    return signatures


def _band_keys(signatures: np.ndarray, band: int) -> np.ndarray:
    cols = signatures[:, band * ROWS_PER_BAND:(band + 1) * ROWS_PER_BAND]
    key = np.zeros(len(cols), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(cols.shape[1]):
            key = (key ^ cols[:, j]) * np.uint64(0x9E3779B97F4A7C15)
    return key


def candidate_pairs(signatures, member_a, member_b, warnings_out: list) -> np.ndarray:
    """Unique (u, v) pairs of distinct-text codes sharing an LSH bucket, u in split a, v in b."""
    codes = np.arange(len(signatures))
    found, truncated = [], 0
    for band in range(BANDS):
        keys = _band_keys(signatures, band)
        left = pd.DataFrame({"key": keys[member_a], "u": codes[member_a]})
        right = pd.DataFrame({"key": keys[member_b], "v": codes[member_b]})
        right = right[right["key"].isin(left["key"])]
        sizes = right.groupby("key")["v"].transform("size")
        truncated += int((sizes > MAX_BUCKET).sum())
        right = right[right.groupby("key").cumcount() < MAX_BUCKET]
        left = left[left["key"].isin(right["key"])]
        left = left[left.groupby("key").cumcount() < MAX_BUCKET]
        pairs = left.merge(right, on="key")[["u", "v"]].to_numpy()
        found.append(pairs[pairs[:, 0] != pairs[:, 1]])
    if truncated:
        warnings_out.append(
            f"near-duplicate search: {truncated} bucket members beyond {MAX_BUCKET} per LSH bucket were "
            "skipped (very repetitive text); recall may be lower for them."
        )
    pairs = np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def pair_cosine(matrix, pairs: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    sims = np.empty(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), chunk):
        part = pairs[start:start + chunk]
        sims[start:start + chunk] = np.asarray(
            matrix[part[:, 0]].multiply(matrix[part[:, 1]]).sum(axis=1)
        ).ravel()
    return sims


@register_check("near_duplicate_cross_split", reasons=("near_duplicate_cross_split",), needs_text=True)
def near_duplicate_cross_split(ctx: AuditContext) -> pd.DataFrame:
    names = ctx.split_names
    if len(names) < 2:
        return combine_findings([])
    all_text = pd.concat([ctx.norm_text[s] for s in names], ignore_index=True)
    codes_all, uniques = pd.factorize(all_text)
    offsets = np.cumsum([0] + [len(ctx.norm_text[s]) for s in names])
    codes = {s: codes_all[offsets[i]:offsets[i + 1]] for i, s in enumerate(names)}
    matrix = shingle_matrix(list(uniques))
    signatures = lsh_signatures(matrix, seed=ctx.spec.seed)
    nonempty = np.diff(matrix.indptr) > 0
    members = {}
    for s in names:
        m = np.zeros(len(uniques), dtype=bool)
        m[codes[s]] = True
        members[s] = m & nonempty
    frames = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pairs = candidate_pairs(signatures, members[a], members[b], ctx.warnings)
            if not len(pairs):
                continue
            sims = pair_cosine(matrix, pairs)
            keep = sims >= ctx.spec.near_duplicate_threshold - 1e-6  # float32 sums
            matches = pd.DataFrame({"u": pairs[keep, 0], "v": pairs[keep, 1], "sim": sims[keep]})
            frames.append(_side_findings(ctx, a, b, codes, matches))
            frames.append(_side_findings(ctx, b, a, codes, matches.rename(columns={"u": "v", "v": "u"})))
    return _best_per_row(combine_findings(frames))


def _side_findings(ctx, split, other, codes, matches: pd.DataFrame) -> pd.DataFrame:
    """Findings on `split` rows whose text code is `u`, naming the best match `v` in `other`."""
    if matches.empty:
        return combine_findings([])
    best = matches.sort_values(["sim", "v"], ascending=[False, True], kind="mergesort").drop_duplicates("u")
    first_other = pd.Series(ctx.ids[other]).groupby(codes[other]).first()
    best = best.set_index("u")
    hit = np.isin(codes[split], best.index.to_numpy())
    rows = best.loc[codes[split][hit]]
    evidence = [
        f"similar ({sim:.3f}) to {other} row {first_other[v]!r}" for sim, v in zip(rows["sim"], rows["v"])
    ]
    return make_findings(split, ctx.ids[split][hit], "near_duplicate_cross_split", rows["sim"].to_numpy(), evidence)


def _best_per_row(findings: pd.DataFrame) -> pd.DataFrame:
    """A row matched in two other splits keeps one finding: the most similar, evidence joined."""
    if findings.empty:
        return findings
    ordered = findings.sort_values("score", ascending=False, kind="mergesort")
    merged = ordered.groupby(["split", "row_id", "reason"], sort=False).agg(
        score=("score", "max"), evidence=("evidence", "; ".join)
    ).reset_index()
    return combine_findings([merged])
