"""Candidate LFs for a slice, offered as text and never applied: frequent word n-grams of the slice's
rows where the rules are right and the model is wrong, grouped by the rules' class.

Which rows: train rows of the slice where the rules vote and the model disagrees with them (the
guardrail says the rules win on this slice), plus gold dev rows of the slice where the rules are
right and the model wrong. Test rows are never read. Each n-gram is checked on all covered train
rows (how often the rules give the same class where it occurs) and on gold dev (accuracy).
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

WORD = re.compile(r"\w+", re.UNICODE)
MAX_N = 3
MIN_SUPPORT = 2
MIN_AGREEMENT = 0.7
PER_CLASS = 5


def ngrams(text: str, max_n: int = MAX_N) -> set[str]:
    """Distinct lower-cased word n-grams (1..max_n) of one text; unigrams need 3+ letters."""
    words = WORD.findall(str(text).lower())
    out = set()
    for n in range(1, max_n + 1):
        for i in range(len(words) - n + 1):
            gram = words[i:i + n]
            if n == 1 and (len(gram[0]) < 3 or gram[0].isdigit()):
                continue
            if all(w.isdigit() for w in gram):
                continue
            out.add(" ".join(gram))
    return out


def candidate_ngrams(source_texts, source_labels, train_texts, train_rules, train_covered, dev_texts, y_dev,
                     classes, *, min_support: int = MIN_SUPPORT, min_agreement: float = MIN_AGREEMENT,
                     per_class: int = PER_CLASS) -> list[dict]:
    """Per class, the n-grams found in at least `min_support` source rows of that class whose train
    agreement with the rules is at least `min_agreement`; best first."""
    source = [ngrams(t) for t in source_texts]
    train = [ngrams(t) for t in train_texts]
    dev = [ngrams(t) for t in dev_texts]
    out = []
    for c, name in enumerate(classes):
        rows = [grams for grams, label in zip(source, source_labels) if label == c]
        support = Counter(g for grams in rows for g in grams)
        found = []
        for gram, count in support.items():
            if count < min_support:
                continue
            stats = _check(gram, c, train, train_rules, train_covered, dev, y_dev)
            if stats["train_agreement"] is not None and stats["train_agreement"] < min_agreement:
                continue
            found.append({"class": name, "ngram": gram, "support": count, "source_rows": len(rows), **stats})
        found.sort(key=lambda r: (-r["support"], -(r["train_agreement"] or 0), len(r["ngram"].split()), r["ngram"]))
        out += _drop_contained(found)[:per_class]
    return out


def _check(gram, c, train, rules, covered, dev, y_dev) -> dict:
    fires = np.array([gram in grams for grams in train], dtype=bool)
    voted = fires & covered
    dev_fires = np.array([gram in grams for grams in dev], dtype=bool)
    return {
        "train_fires": int(fires.sum()),
        "train_agreement": round(float(np.mean(rules[voted] == c)), 4) if voted.any() else None,
        "dev_fires": int(dev_fires.sum()),
        "dev_accuracy": round(float(np.mean(np.asarray(y_dev)[dev_fires] == c)), 4) if dev_fires.any() else None,
    }


def _drop_contained(found: list[dict]) -> list[dict]:
    """Leave out an n-gram inside a longer kept one with the same support (it says nothing more)."""
    kept: list[dict] = []
    for row in sorted(found, key=lambda r: -len(r["ngram"].split())):
        padded = f" {row['ngram']} "
        if any(padded in f" {k['ngram']} " and k["support"] == row["support"] for k in kept):
            continue
        kept.append(row)
    order = {id(r): i for i, r in enumerate(found)}
    return sorted(kept, key=lambda r: order[id(r)])


def snippet(slice_name: str, rows_used: int, candidates: list[dict]) -> str:
    """The candidates as Python lines for an LF module (one `keywords(...)` per class)."""
    stem = "repair_" + re.sub(r"\W+", "_", slice_name.lower()).strip("_")
    lines = [f"# Candidate LFs for slice {slice_name}, from {rows_used} row(s) where the rules are right and the",
             "# model wrong. NOT applied: check each n-gram, then paste what you keep into an LF module.",
             "from labelkit import keywords", ""]
    if not candidates:
        return "\n".join(lines + ["# (no n-gram occurs often enough in those rows)", ""])
    by_class: dict[str, list[dict]] = {}
    for row in candidates:
        by_class.setdefault(row["class"], []).append(row)
    for name, rows in by_class.items():
        variable = stem + "_" + re.sub(r"\W+", "_", name.lower())
        words = ", ".join(repr(r["ngram"]) for r in rows)
        lines.append(f"{variable} = keywords({name!r}, [{words}], name={variable!r})")
        for r in rows:
            lines.append(f"#   {r['ngram']!r}: in {r['support']}/{r['source_rows']} rows; {_stats(r)}")
        lines.append("")
    return "\n".join(lines)


def _stats(row: dict) -> str:
    train = (f"fires on {row['train_fires']} train rows, {100 * row['train_agreement']:.0f}% agree with the rules"
             if row["train_agreement"] is not None else f"fires on {row['train_fires']} train rows, none voted")
    dev = (f"dev: {row['dev_fires']} rows, {100 * row['dev_accuracy']:.0f}% right" if row["dev_accuracy"] is not None
           else "dev: fires on no row")
    return f"{train}; {dev}"
