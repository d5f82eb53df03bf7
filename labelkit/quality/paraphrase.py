"""Paraphrase leakage across splits: pairs that share meaning but few characters (a reworded test
ticket in train), flagged with their similarity - never dropped on this signal alone (policy `flag`).

The character 3-gram join (near_duplicates.py) catches copies that keep most characters; a paraphrase
(words reordered, synonyms) keeps the meaning and loses the characters. Here every row's text is
embedded with ``[audit] paraphrase_model`` (labelkit/embeddings.py: wordllama, minilm, a local model
folder, or lsa fitted on all splits' texts), and each row of every split is compared with every row of
each other split (exact: chunked products of L2-normalised vectors, the best match per row kept). A
pair is flagged when its cosine similarity is >= ``[audit] paraphrase_threshold`` and its character
3-gram Jaccard is below ``[audit] near_duplicate_threshold`` (pairs above it are the near-duplicate
check's; identical normalised texts are the exact check's). Both rows of a pair are flagged, each
naming the other, the cosine and the Jaccard. Texts with fewer than MIN_WORDS words are left out:
"great song" / "nice song" are independent comments, not leaks.

Off by default (``paraphrase_model = ""``): it adds an embedding pass to every audit, and on short
texts natural pairs reach high similarity. Measured with planted paraphrases (word order, synonyms)
on real YouTube comments in benchmarks/paraphrase.py (benchmarks/README.md).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from labelkit.quality.findings import combine_findings, make_findings
from labelkit.quality.registry import AuditContext, register_check

MIN_WORDS = 5
CHUNK = 4096  # rows of the larger split per product (bounded memory: CHUNK x other rows floats)


@register_check("paraphrase_cross_split", reasons=("paraphrase_cross_split",), needs_text=True)
def paraphrase_cross_split(ctx: AuditContext) -> pd.DataFrame:
    spec = ctx.spec
    model = getattr(spec, "paraphrase_model", "")
    if not model:
        return combine_findings([])
    splits = ctx.split_names
    texts = {s: ["" if v is None or v != v else str(v) for v in ctx.splits[s][spec.text_column].tolist()]
             for s in splits}
    vectors, described = embed_splits(texts, model, root=getattr(spec, "root", None), seed=spec.seed)
    threshold, jaccard_max = spec.paraphrase_threshold, spec.near_duplicate_threshold
    keys = ctx.text_key
    long_enough = {s: np.array([len(t.split()) >= MIN_WORDS for t in texts[s]], dtype=bool) for s in splits}
    found = []
    for i, a in enumerate(splits):
        for b in splits[i + 1:]:
            pairs = best_pairs(vectors[a], vectors[b], threshold, long_enough[a], long_enough[b])
            for u, v, cosine in pairs:
                if keys[a][u] and keys[a][u] == keys[b][v]:
                    continue  # identical after normalisation: the exact check's
                jaccard = char_jaccard(ctx.norm_text[a].iloc[u], ctx.norm_text[b].iloc[v])
                if jaccard >= jaccard_max:
                    continue  # the near-duplicate check's
                found.append((a, u, b, v, cosine, jaccard))
    if not found:
        return combine_findings([])
    frames = []
    for (a, u, b, v, cosine, jaccard) in found:
        for split, row, other, other_row in ((a, u, b, v), (b, v, a, u)):
            frames.append(make_findings(
                split, [ctx.ids[split][row]], "paraphrase_cross_split", [cosine],
                f"means nearly the same as {other} row {ctx.ids[other][other_row]!r}: cosine {cosine:.3f} "
                f"({described}), char 3-gram Jaccard {jaccard:.2f}"))
    findings = combine_findings(frames)
    # a row paired in several places keeps its closest pair, the others joined into the evidence
    ordered = findings.sort_values("score", ascending=False, kind="mergesort")
    merged = ordered.groupby(["split", "row_id", "reason"], sort=False).agg(
        score=("score", "max"), evidence=("evidence", "; ".join)).reset_index()
    return combine_findings([merged])


def embed_splits(texts: dict[str, list[str]], model: str, *, root=None, seed: int = 0):
    """{split: (n, d) float32 L2-normalised vectors}, and how the model is described in evidence."""
    from labelkit.embeddings import embedder_for

    everything = [t for split in texts for t in texts[split]] if model == "lsa" else None  # lsa: fitted on them
    embedder = embedder_for(model, everything, root=root, seed=seed)
    described = (f"lsa fitted on {len(everything):,} texts" if everything is not None
                 else f"{embedder.info.name} {embedder.info.version}".strip())
    return {s: embedder.embed(t) for s, t in texts.items()}, described


def best_pairs(A: np.ndarray, B: np.ndarray, threshold: float, use_a=None, use_b=None) -> list[tuple[int, int, float]]:
    """Pairs (u in A, v in B) with cosine >= threshold: each row of the smaller side with its best match
    on the other side (rows not `use_*` left out). Exact (no index), in chunks."""
    if not len(A) or not len(B):
        return []
    swap = len(A) > len(B)
    small, large = (B, A) if swap else (A, B)
    use_small, use_large = (use_b, use_a) if swap else (use_a, use_b)
    best = np.full(len(small), -np.inf)
    arg = np.zeros(len(small), dtype=np.int64)
    S_small = np.asarray(small, dtype=np.float32)
    for start in range(0, len(large), CHUNK):
        part = np.asarray(large[start:start + CHUNK], dtype=np.float32)
        sims = S_small @ part.T
        if use_large is not None:
            sims[:, ~use_large[start:start + CHUNK]] = -np.inf
        top = sims.argmax(axis=1)
        value = sims[np.arange(len(small)), top]
        better = value > best
        best[better], arg[better] = value[better], top[better] + start
    keep = best >= threshold
    if use_small is not None:
        keep &= use_small
    out = []
    for i in np.flatnonzero(keep):
        u, v = (int(arg[i]), int(i)) if swap else (int(i), int(arg[i]))
        out.append((u, v, float(best[i])))
    return out


def char_jaccard(a: str, b: str, n: int = 3) -> float:
    grams_a = {a[i:i + n] for i in range(max(len(a) - n + 1, 1))}
    grams_b = {b[i:i + n] for i in range(max(len(b) - n + 1, 1))}
    union = grams_a | grams_b
    return len(grams_a & grams_b) / len(union) if union else 1.0
