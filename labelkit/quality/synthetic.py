"""Seeded synthetic support tickets for tests and benchmarks (no real data needed)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

CLASSES = ("billing", "connectivity", "account")
TEMPLATES = {
    "billing": ["i was charged twice for {w} {w} on my {w} invoice", "refund please the {w} bill shows {w} {w} fees"],
    "connectivity": ["my {w} router keeps dropping {w} {w} every night", "no signal on the {w} line since {w} {w}"],
    "account": ["cannot log in to {w} account after {w} {w} reset", "please change the {w} email on profile {w} {w}"],
}
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["ox", "ul", "en", "ar", "is"]


@lru_cache(maxsize=4)
def vocabulary(size: int = 20000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    syllables = np.array(_SYLLABLES)
    lengths = rng.integers(2, 5, size=size * 2)
    picks = syllables[rng.integers(0, len(syllables), size=(size * 2, 4))]
    words = {"".join(row[:n]) for row, n in zip(picks, lengths)}
    return np.array(sorted(words)[:size])


def make_tickets(n: int, *, seed: int = 0, id_prefix: str = "t", start: str = "2024-01-01",
                 n_groups: int | None = None) -> pd.DataFrame:
    """n tickets: id, text (template + 3 random words), label, customer (group), created (time)."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(seed=0)
    labels = rng.integers(0, len(CLASSES), size=n)
    template_pick = rng.integers(0, 2, size=n)
    words = vocab[rng.integers(0, len(vocab), size=(n, 3))]
    texts = []
    for i in range(n):
        template = TEMPLATES[CLASSES[labels[i]]][template_pick[i]]
        for w in words[i]:
            template = template.replace("{w}", w, 1)
        texts.append(template)
    n_groups = n_groups or max(1, n // 4)
    minutes = np.sort(rng.integers(0, 60 * 24 * 365, size=n))
    return pd.DataFrame({
        "id": [f"{id_prefix}{i:07d}" for i in range(n)],
        "text": texts,
        "label": np.array(CLASSES)[labels],
        "customer": [f"{id_prefix}c{g}" for g in rng.integers(0, n_groups, size=n)],
        "created": pd.Timestamp(start) + pd.to_timedelta(minutes, unit="min"),
    })
