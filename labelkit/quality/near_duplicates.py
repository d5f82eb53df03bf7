"""Near duplicates across splits: an exact similarity join on character n-gram sets.

Similarity is the Jaccard index of the sets of character 3-grams (`spec.near_duplicate_ngram`) of
the normalised texts (NFKC, casefold, whitespace; see `text_norm`), threshold
`spec.near_duplicate_threshold` (default 0.7). Jaccard of char 3-grams suits short texts: appending
" x" to "are you this now buzy" keeps 19 of 21 grams (0.90), while texts that share only a template
("check out my channel" / "check out my video") score below 0.5.

Only pairs with the two texts in different splits count, so the join is query-side: the largest
split (train) is never indexed. The other splits' texts are indexed; the large split is streamed
past them in chunks (`PROBE_CHUNK` texts, `CHUNK_CHARS` characters), and per chunk only each text's
best match and a count of the rest are kept, so memory is bounded by the texts, not the pairs.
Candidates come from prefix filtering (Bayardo et al., WWW 2007; the l-prefix variant of Wang et
al., SIGMOD 2012) on scipy sparse matrices: with grams in one global order, two sets with Jaccard >= t
share at least l of the first |x| - ceil(t|x|) + l grams of each set, so a sparse product of those
"prefix" matrices yields every qualifying pair (no pair is missed, unlike LSH). The order puts grams
the index does not hold first (they can never be shared, so a streamed text made mostly of them has
no candidates at all), then the index's grams from rare to common, which keeps posting lists short.
A cut on the shared-prefix count, a size filter (t|x| <= |y| <= |x|/t) and a prefix-overlap bound
(see `prefixes`) leave a few candidates per text; every candidate is then verified exactly.
Grams are computed with numpy from the code points (3-grams exactly, longer ones as 64-bit hashes),
never as Python strings per gram. Work grows with the streamed rows times the few index texts their
rare grams point at, not with the square of the streamed rows.
Measured (benchmarks/README.md, `audit.py --scale`): 1M train rows of repeated tickets against 1,500
dev/test rows in 33 s of CPU (the former join: 39 s at 100k rows, growing quadratically). Texts are
compared on their first `spec.max_similarity_chars` characters (default 10,000; longer rows are named
in a warning), so one huge field costs bounded memory. Identical normalised texts are left to the
exact check.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labelkit.io.progress import Progress
from labelkit.quality.findings import combine_findings, make_findings
from labelkit.quality.registry import AuditContext, register_check
from labelkit.quality.text_norm import loose_texts

MIN_GRAMS = 3  # texts shorter than this many grams (about 5 characters) are left to the exact check
PREFIX_SHARED = 12  # candidates must share this many prefix grams (l of the l-prefix filter)
PROBE_CHUNK = 20_000  # streamed texts per chunk ...
CHUNK_CHARS = 3_000_000  # ... and characters: bound the memory of one chunk's grams (~60 bytes a gram)
PRODUCT_PAIRS = 5_000_000  # prefix-sharing pairs per sparse product (~12 bytes a pair)
VERIFY_CHUNK = 100_000  # candidate pairs verified at once
SLOW_WORK = 50_000_000  # candidate pairs above which the check warns that it will be slow
_EXACT_BITS = 21  # a Unicode code point fits in 21 bits, so 3 of them fit in one int64 exactly
_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class GramSets:
    """Per text: the distinct n-grams the index holds, as columns in the global order (CSR `indptr`,
    `cols`, sorted per text, so rare grams come first), and its full size |x|, which also counts the
    grams the index does not hold (those come first in the global order)."""

    indptr: np.ndarray
    cols: np.ndarray
    sizes: np.ndarray

    def matrix(self, n_columns: int):
        from scipy import sparse

        data = np.ones(len(self.cols), dtype=np.float32)
        return sparse.csr_matrix((data, self.cols, self.indptr), shape=(len(self.sizes), n_columns))


@dataclass
class Prefixes:
    """Each text's prefix (see `prefixes`), l, the grams after it (`rest`) and its last column."""

    matrix: Any  # scipy CSR matrix (scipy has no type information)
    ell: np.ndarray
    rest: np.ndarray
    last: np.ndarray


def gram_codes(texts, *, ngram: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Every character n-gram of every text as an int64 code, with its text's position (texts shorter
    than n have none). n <= 3: exact (code points packed); longer: a 64-bit hash."""
    texts = list(texts)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    chars = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.cumsum(lengths)
    n_pos = max(len(chars) - ngram + 1, 0)
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)[:n_pos]
    valid = np.arange(ngram - 1, ngram - 1 + n_pos) < ends[rows]  # the gram ends inside its own text
    if ngram <= 3:
        codes = np.zeros(n_pos, dtype=np.int64)
        for i in range(ngram):
            codes = (codes << _EXACT_BITS) | chars[i:i + n_pos].astype(np.int64)
    else:
        with np.errstate(over="ignore"):
            codes = np.zeros(n_pos, dtype=np.uint64)
            for i in range(ngram):
                codes = (codes ^ chars[i:i + n_pos].astype(np.uint64)) * _MIX
            codes = (codes ^ (codes >> np.uint64(29))).view(np.int64)
    return codes[valid], rows[valid]


def _distinct(keys: np.ndarray) -> np.ndarray:
    keys = np.sort(keys)
    return keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys


def gram_sets(texts, vocabulary: np.ndarray, column: np.ndarray, *, ngram: int = 3) -> GramSets:
    """Distinct grams per text; `vocabulary` (sorted codes) -> `column` (its place in the global order)."""
    codes, rows = gram_codes(texts, ngram=ngram)
    n, v = len(texts), len(vocabulary)
    local, uniques = pd.factorize(codes, sort=False)
    place = np.minimum(np.searchsorted(vocabulary, uniques), max(v - 1, 0))
    known = vocabulary[place] == uniques if v else np.zeros(len(uniques), dtype=bool)
    col = np.where(known, column[place] if v else 0, v + np.arange(len(uniques)))  # unknown grams: >= v
    width = v + len(uniques)
    keys = _distinct(rows * width + col[local])  # distinct (text, column), sorted
    rows, col = keys // width, keys % width
    sizes = np.bincount(rows, minlength=n)
    held = col < v
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[held], minlength=n))])
    return GramSets(indptr, col[held].astype(np.int32), sizes)


def prefixes(grams: GramSets, threshold: float, shared: int, n_columns: int) -> Prefixes:
    """Each text's first |x| - ceil(t|x|) + l grams in the global order (grams outside the index first,
    then the index's from rare to common), l = min(shared, ceil(t|x|)). Two sets with Jaccard >= t share
    at least min(l_x, l_y) grams of their prefixes (Wang et al. 2012), and when x's last prefix gram
    comes before y's, every shared gram after x's prefix is among x's `rest`, so
    |x & y| <= shared prefix grams + rest_x (the bound `candidates` filters with)."""
    from scipy import sparse

    sizes = grams.sizes
    counts = np.diff(grams.indptr)
    needed = np.ceil(threshold * sizes - 1e-9).astype(np.int64)
    ell = np.maximum(np.minimum(shared, needed), 1)
    taken = np.clip(sizes - needed + ell - (sizes - counts), 0, counts)  # index grams in the prefix
    place = np.arange(len(grams.cols)) - np.repeat(grams.indptr[:-1], counts)
    cols = grams.cols[place < np.repeat(taken, counts)]
    indptr = np.concatenate([[0], np.cumsum(taken)])
    matrix = sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), cols, indptr), shape=(len(sizes), n_columns))
    last = np.full(len(sizes), -1, dtype=np.int64)  # the column of each prefix's last gram
    last[taken > 0] = grams.cols[(grams.indptr[:-1] + taken - 1)[taken > 0]]
    return Prefixes(matrix, ell, counts - taken, last)


class GramIndex:
    """The texts to be queried (the smaller splits): their grams, prefixes and posting lists."""

    def __init__(self, texts, *, ngram: int, threshold: float, shared: int = PREFIX_SHARED):
        texts = list(texts)
        self.texts = np.asarray(texts, dtype=object)
        chunks = [_distinct_pairs(*gram_codes(texts[a:b], ngram=ngram)) for a, b in text_chunks(texts)]
        seen = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
        self.vocabulary = _distinct(seen)
        df = np.bincount(np.searchsorted(self.vocabulary, seen), minlength=len(self.vocabulary))
        self.column = np.empty(len(df), dtype=np.int64)
        self.column[np.lexsort((np.arange(len(df)), df))] = np.arange(len(df))  # rare first, ties by code
        self.ngram, self.threshold, self.shared = ngram, threshold, shared
        self.grams = _concat([gram_sets(texts[a:b], self.vocabulary, self.column, ngram=ngram)
                              for a, b in text_chunks(texts)])
        self.prefix = prefixes(self.grams, threshold, shared, len(df))
        self.prefix_t = self.prefix.matrix.T.tocsr()  # gram -> index texts whose prefix holds it
        self.postings = np.diff(self.prefix_t.indptr).astype(np.float64)
        self.full = self.grams.matrix(len(df))

    def query(self, texts, *, exclude_self: bool = False, offset: int = 0):
        """(u, v, sim, candidates): query text u (position + offset) and index text v with Jaccard >=
        threshold; candidates = pairs verified. exclude_self: the query texts are the index's own texts."""
        grams = gram_sets(texts, self.vocabulary, self.column, ngram=self.ngram)
        u, v = self.candidates(grams, exclude_self=exclude_self, offset=offset)
        full = grams.matrix(len(self.column))
        sims = np.empty(len(u))
        for s in range(0, len(u), VERIFY_CHUNK):
            a, b = u[s:s + VERIFY_CHUNK], v[s:s + VERIFY_CHUNK]
            inter = np.asarray(full[a].multiply(self.full[b]).sum(axis=1)).ravel()
            sims[s:s + VERIFY_CHUNK] = inter / np.maximum(grams.sizes[a] + self.grams.sizes[b] - inter, 1)
        hit = sims >= self.threshold - 1e-9
        return u[hit] + offset, v[hit], sims[hit], len(u)

    def candidates(self, grams: GramSets, *, exclude_self: bool, offset: int):
        """Pairs (u, v) that pass the prefix, size and prefix-overlap bounds; every pair at or above the
        threshold is among them. The sparse products run on row blocks of at most PRODUCT_PAIRS pairs."""
        mine = prefixes(grams, self.threshold, self.shared, len(self.column))
        cost = np.cumsum(mine.matrix @ self.postings)  # prefix-sharing pairs per row, summed
        found, start = [], 0
        while start < len(cost):
            base = cost[start - 1] if start else 0.0
            stop = min(max(int(np.searchsorted(cost, base + PRODUCT_PAIRS, side="right")), start + 1), len(cost))
            found.append(self._block_candidates(grams, mine, start, stop))
            start = stop
        u, v = (np.concatenate(parts) for parts in zip(*found)) if found else (np.empty(0, np.int64),) * 2
        if exclude_self:
            keep = u + offset != v
            u, v = u[keep], v[keep]
        return u, v

    def _block_candidates(self, grams: GramSets, mine: Prefixes, start: int, stop: int):
        theirs, t = self.prefix, self.threshold
        product = mine.matrix[start:stop] @ self.prefix_t
        # one cheap pass first: most pairs share too few prefix grams. A partner of x has >= t|x| grams,
        # so min(l_x, l_y) >= l of a text of ceil(t|x|) grams (l grows with the size)
        smallest = np.ceil(t * grams.sizes[start:stop] - 1e-9)
        floor = np.maximum(np.minimum(self.shared, np.ceil(t * smallest - 1e-9)), 1).astype(np.float32)
        at = np.flatnonzero(product.data >= np.repeat(floor, np.diff(product.indptr)) - 0.5)
        shared, v = product.data[at], product.indices[at].astype(np.int64)
        u = np.searchsorted(product.indptr, at, side="right") - 1 + start
        size_u, size_v = grams.sizes[u], self.grams.sizes[v]
        small, large = np.minimum(size_u, size_v), np.maximum(size_u, size_v)
        needed = np.ceil(t / (1 + t) * (size_u + size_v) - 1e-9)  # |x & y| >= t/(1+t) (|x| + |y|)
        last_u, last_v = mine.last[u], theirs.last[v]
        rest = np.where(last_u < last_v, mine.rest[u], np.where(last_u > last_v, theirs.rest[v],
                                                                np.minimum(mine.rest[u], theirs.rest[v])))
        keep = ((shared + rest >= needed - 0.5) & (shared >= np.minimum(mine.ell[u], theirs.ell[v]) - 0.5)
                & (small >= t * large - 1e-9) & (small >= MIN_GRAMS))
        return u[keep], v[keep]


def text_chunks(texts, *, rows: int | None = None, chars: int | None = None):
    """(start, stop) of consecutive chunks of at most `rows` texts and about `chars` characters."""
    rows, chars = rows or PROBE_CHUNK, chars or CHUNK_CHARS
    ends = np.cumsum(np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts)))
    start = 0
    while start < len(texts):
        base = ends[start - 1] if start else 0
        stop = min(max(int(np.searchsorted(ends, base + chars, side="right")), start + 1), start + rows, len(texts))
        yield start, stop
        start = stop


def _concat(parts: list[GramSets]) -> GramSets:
    if not parts:
        return GramSets(np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int64))
    counts = np.concatenate([np.diff(p.indptr) for p in parts])
    return GramSets(np.concatenate([[0], np.cumsum(counts)]), np.concatenate([p.cols for p in parts]),
                    np.concatenate([p.sizes for p in parts]))


def _distinct_pairs(codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The codes of the distinct (row, code) pairs: each gram once per text (for document frequencies)."""
    local, uniques = pd.factorize(codes, sort=False)
    keys = _distinct(rows * max(len(uniques), 1) + local)
    return uniques[keys % max(len(uniques), 1)]


def similar_pairs(texts_left, texts_right, *, threshold: float, ngram: int = 3) -> pd.DataFrame:
    """Every (u, v) with Jaccard(grams(left[u]), grams(right[v])) >= threshold: columns u, v, sim.
    The right texts are indexed, the left ones streamed past them."""
    index = GramIndex(list(texts_right), ngram=ngram, threshold=threshold)
    texts_left = list(texts_left)
    parts = [index.query(texts_left[a:b], offset=a)[:3] for a, b in text_chunks(texts_left)]
    u, v, sim = (np.concatenate(p) for p in zip(*parts)) if parts else (np.empty(0, int),) * 3
    return pd.DataFrame({"u": u, "v": v, "sim": sim})


def similarity_texts(ctx: AuditContext) -> dict[str, pd.Series]:
    """Normalised texts cut at spec.max_similarity_chars; rows cut are named in a warning."""
    limit = ctx.spec.max_similarity_chars
    out, long_rows = {}, []
    for split in ctx.split_names:
        text = ctx.norm_text[split]
        too_long = (text.str.len() > limit).to_numpy()
        if too_long.any():
            long_rows += [f"{split} {i!r}" for i in ctx.ids[split][too_long][:10]]
            text = text.str.slice(0, limit)
        out[split] = text
    if long_rows:
        ctx.warnings.append(
            f"near_duplicate_cross_split: texts longer than {limit:,} characters are compared on their first "
            f"{limit:,} only (rows: {', '.join(long_rows)}{', ...' if len(long_rows) >= 10 else ''})."
        )
    return out


@dataclass
class _Side:
    """Splits whose distinct texts share one numbering: codes per split (row -> text), the texts."""

    splits: list[str]
    codes: dict[str, np.ndarray]
    texts: np.ndarray

    @classmethod
    def of(cls, texts: dict[str, pd.Series], splits: list[str]) -> "_Side":
        joined = pd.concat([texts[s] for s in splits], ignore_index=True)
        codes_all, uniques = pd.factorize(joined)
        offsets = np.cumsum([0] + [len(texts[s]) for s in splits])
        codes = {s: codes_all[offsets[i]:offsets[i + 1]] for i, s in enumerate(splits)}
        return cls(splits, codes, np.asarray(uniques, dtype=object))

    def present(self, split: str) -> np.ndarray:
        mask = np.zeros(len(self.texts), dtype=bool)
        mask[self.codes[split]] = True
        return mask

    def rows_per_text(self, split: str) -> np.ndarray:
        return np.bincount(self.codes[split], minlength=len(self.texts))


@register_check("near_duplicate_cross_split", reasons=("near_duplicate_cross_split",), needs_text=True)
def near_duplicate_cross_split(ctx: AuditContext) -> pd.DataFrame:
    names = ctx.split_names
    if len(names) < 2:
        return combine_findings([])
    texts = similarity_texts(ctx)
    streamed = max(names, key=lambda s: len(texts[s]))  # the large split (train) is streamed, never indexed
    probe = _Side.of(texts, [streamed])
    indexed = _Side.of(texts, [s for s in names if s != streamed])
    spec = ctx.spec
    index = GramIndex(list(indexed.texts), ngram=spec.near_duplicate_ngram, threshold=spec.near_duplicate_threshold)
    frames = []
    streamed_best = _stream(ctx, index, probe, indexed, what=f"near duplicates: {streamed} rows")
    for other, (probe_best, index_best) in streamed_best.items():
        frames += [_findings(ctx, streamed, probe, other, indexed, probe_best),
                   _findings(ctx, other, indexed, streamed, probe, index_best)]
    if len(indexed.splits) > 1:  # pairs between the indexed splits (dev/test): the index queried with itself
        own = _matches(ctx, index, indexed.texts, exclude_self=True, what="near duplicates: indexed rows")
        for i, a in enumerate(indexed.splits):
            for b in indexed.splits[i + 1:]:
                pairs = own[indexed.present(a)[own["u"].to_numpy()] & indexed.present(b)[own["v"].to_numpy()]]
                flipped = pairs.rename(columns={"u": "v", "v": "u"})
                frames += [_findings(ctx, a, indexed, b, indexed, _best(pairs, indexed.rows_per_text(b))),
                           _findings(ctx, b, indexed, a, indexed, _best(flipped, indexed.rows_per_text(a)))]
    return _best_per_row(combine_findings(frames))


def _stream(ctx, index: GramIndex, probe: _Side, indexed: _Side, *, what: str) -> dict:
    """The streamed split's texts against the index, chunk by chunk. Per other split: each streamed
    text's best match and each indexed text's best match, with counts of the rest (`_best`): what is
    kept grows with the texts that match, not with the pairs (a gold row may match 1,000s of copies)."""
    split = probe.splits[0]
    rows = probe.rows_per_text(split)
    parts: dict[str, tuple[list[pd.DataFrame], list[pd.DataFrame]]] = {other: ([], []) for other in indexed.splits}
    for u, v, sim in _chunk_matches(ctx, index, probe.texts, exclude_self=False, what=what):
        for other, (mine, theirs) in parts.items():
            hit = indexed.present(other)[v]
            pairs = pd.DataFrame({"u": u[hit], "v": v[hit], "sim": sim[hit]})
            mine.append(_best(pairs, indexed.rows_per_text(other)))
            theirs.append(_best(pairs.rename(columns={"u": "v", "v": "u"}), rows))
    return {other: (_merge_best(mine), _merge_best(theirs)) for other, (mine, theirs) in parts.items()}


def _matches(ctx, index: GramIndex, texts: np.ndarray, *, exclude_self: bool, what: str) -> pd.DataFrame:
    parts = [pd.DataFrame({"u": u, "v": v, "sim": sim})
             for u, v, sim in _chunk_matches(ctx, index, texts, exclude_self=exclude_self, what=what)]
    return pd.concat(parts, ignore_index=True) if parts else _best(None, None)


def _chunk_matches(ctx, index: GramIndex, texts: np.ndarray, *, exclude_self: bool, what: str):
    """(u, v, sim) per chunk of `texts`: every index text v with Jaccard >= threshold to text u."""
    candidates = 0
    progress = Progress(what, len(texts), notify=ctx.notify)  # run_audit decides whether it is heard
    for start, stop in text_chunks(texts):
        chunk = texts[start:stop]
        u, v, sim, n_candidates = index.query(chunk, exclude_self=exclude_self, offset=start)
        candidates += n_candidates
        if not exclude_self:  # identical normalised texts are left to the exact check
            keep = (sim < 1.0 - 1e-9) | (chunk[u - start] != index.texts[v])
            u, v, sim = u[keep], v[keep], sim[keep]
        yield u, v, sim
        progress.advance(len(chunk))
    if candidates > SLOW_WORK:
        ctx.warnings.append(
            f"near_duplicate_cross_split: {candidates:,} candidate pairs were checked; the texts share most of "
            "their character n-grams (templated or generated text), so this check is slow on this data."
        )


def _best(pairs: pd.DataFrame | None, rows_other: np.ndarray | None) -> pd.DataFrame:
    """Per text u: its most similar match v (ties: lowest v), sim, and `more` = how many other rows of
    the matched split also match (rows_other: rows per text v)."""
    if pairs is None or pairs.empty or rows_other is None:
        return pd.DataFrame({"u": np.empty(0, np.int64), "v": np.empty(0, np.int64), "sim": np.empty(0),
                             "more": np.empty(0, np.int64)})
    more = pd.Series(rows_other[pairs["v"].to_numpy()]).groupby(pairs["u"].to_numpy()).sum() - 1
    best = pairs.sort_values(["sim", "v"], ascending=[False, True], kind="mergesort").drop_duplicates("u")
    return best.assign(more=more.loc[best["u"].to_numpy()].to_numpy()).reset_index(drop=True)


def _merge_best(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """`_best` tables of consecutive chunks merged: the best over all, the counts added."""
    table = pd.concat(parts, ignore_index=True) if parts else _best(None, None)
    more = table.groupby("u")["more"].sum() + table.groupby("u").size() - 1
    best = table.sort_values(["sim", "v"], ascending=[False, True], kind="mergesort").drop_duplicates("u")
    return best.assign(more=more.loc[best["u"].to_numpy()].to_numpy()).reset_index(drop=True)


def _findings(ctx, split, side: _Side, other, other_side: _Side, best: pd.DataFrame) -> pd.DataFrame:
    """Findings on the `split` rows whose text is u, naming the best match v in `other` and how many more
    `other` rows match (a gold row with hundreds of train copies has one finding, not hundreds)."""
    if best.empty:
        return combine_findings([])
    best = best.set_index("u")
    same = (loose_texts(pd.Series(side.texts[best.index.to_numpy()])).to_numpy()
            == loose_texts(pd.Series(other_side.texts[best["v"].to_numpy()])).to_numpy())
    best = best.assign(loose_equal=same)
    first_other = pd.Series(ctx.ids[other]).groupby(other_side.codes[other]).first()
    codes = side.codes[split]
    hit = np.isin(codes, best.index.to_numpy())
    rows = best.loc[codes[hit]]
    n, t = ctx.spec.near_duplicate_ngram, ctx.spec.near_duplicate_threshold
    evidence = [
        f"similar to {other} row {first_other[v]!r}: char {n}-gram Jaccard {sim:.3f}"
        + (f" (and {m:,} more {other} rows at >= {t:g})" if m else "")
        + (" (the texts differ only in numbers, URLs or punctuation)" if same else "")
        for sim, v, same, m in zip(rows["sim"], rows["v"], rows["loose_equal"], rows["more"])
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
