"""Input drift for `labelkit monitor --embedding-drift MODEL`: each window's request texts against the
reference build's train rows, in an embedding space (labelkit/embeddings.py).

Statistic: the distance between the window's mean embedding and the train rows' mean embedding (rows
L2-normalised; the linear-kernel MMD). What the model saw at build time sets the band, as for the
other metrics:

- `reference`: the same distance for the build's gold test rows (test_predictions.csv) - traffic like
  the test rows is what the reported scores describe, even when test is newer than train;
- sampling noise: the distance a window of n rows drawn from the train rows reaches by chance (the
  99.9% quantile of seeded draws, as `js_noise_threshold` does for output drift), computed for the
  window's n and for the test rows' n;
- `upper` = reference + noise(window n) + noise(test n) (a triangle bound: a window drawn like the test
  rows stays under it but for the rare draw). An embedding distance has its own scale per model, so
  the band comes from these terms alone, with no fixed threshold.

A window alerts above `upper` when it has at least `min_rows` texts (the monitor's rule for every
metric). Texts come from the request log's `input` column, so the log must hold inputs in full
(`labelkit serve --log-input full`, the default); hashed or missing inputs give a note, no rows. At most
MAX_PER_WINDOW texts per window (a seeded sample) and MAX_REFERENCE train rows are embedded.
MODEL is an [embeddings] model name or folder, or `lsa` (fitted on the reference train texts: no
package needed).
"""
from __future__ import annotations

import numpy as np

from labelkit.monitor.windows import window_index, window_label
from labelkit.serve.logdata import logged_text

METRIC = "input_drift"
MAX_PER_WINDOW = 500
MAX_REFERENCE = 20_000
DRAWS = 400
QUANTILE = 0.999


class DriftSpace:
    """The reference side: the embedder, the train centroid, and the noise of window means."""

    def __init__(self, train_texts: list[str], test_texts: list[str], model: str, *, seed: int = 0) -> None:
        from labelkit.embeddings import embedder_for

        rng = np.random.default_rng(seed)
        if len(train_texts) > MAX_REFERENCE:
            train_texts = [train_texts[i] for i in np.sort(rng.choice(len(train_texts), MAX_REFERENCE, replace=False))]
        self.model = model
        embedder = embedder_for(model, train_texts, seed=seed)  # lsa: fitted on the train texts
        self.embed = embedder.embed
        self.described = (f"lsa fitted on {len(train_texts):,} train texts" if model == "lsa"
                          else f"{embedder.info.name} {embedder.info.version}".strip())
        self.R = np.asarray(self.embed(train_texts), dtype=np.float64)
        self.centre = self.R.mean(axis=0)
        self.n_test = len(test_texts)
        self.reference = self.distance(test_texts) if test_texts else 0.0
        self._noise: dict[int, float] = {}
        self.seed = seed

    def distance(self, texts) -> float:
        E = np.asarray(self.embed(list(texts)), dtype=np.float64)
        return float(np.linalg.norm(E.mean(axis=0) - self.centre)) if len(E) else float("nan")

    def noise(self, n: int) -> float:
        """The QUANTILE of the distance of a mean of n train rows (drawn without replacement) to the centre."""
        n = int(min(max(n, 1), len(self.R)))
        if n not in self._noise:
            rng = np.random.default_rng(self.seed + n)
            distances = np.empty(DRAWS)
            for d in range(DRAWS):
                rows = rng.choice(len(self.R), n, replace=False)
                distances[d] = np.linalg.norm(self.R[rows].mean(axis=0) - self.centre)
            self._noise[n] = float(np.quantile(distances, QUANTILE))
        return self._noise[n]

    def upper(self, n: int) -> float:
        return self.reference + self.noise(n) + (self.noise(self.n_test) if self.n_test else 0.0)


def reference_texts(ref) -> tuple[list[str], list[str]]:
    """The reference build's train texts (train_labels.csv) and gold test texts (test_predictions.csv)."""
    from labelkit.runs import TRAIN_LABELS

    column = ref.text_column
    table = ref.run.table(TRAIN_LABELS, usecols=lambda c: c == column)
    if table is None or column not in table.columns:
        return [], []
    train = table[column].tolist()
    test = ref.test["text"].tolist() if ref.test is not None and "text" in ref.test.columns else []
    return train, test


def window_texts(log_path, log, seconds: int, text_column: str, *, seed: int = 0):
    """{window start: [texts]} of at most MAX_PER_WINDOW logged inputs per window (seeded sample), the
    requests behind each, and how many inputs were not logged in full."""
    from labelkit.serve.log import connect

    starts = window_index(log.ts, seconds)
    rng = np.random.default_rng(seed)
    picked: dict[int, np.ndarray] = {}
    totals: dict[int, int] = {}
    for start in np.unique(starts):
        rows = np.flatnonzero(starts == start)
        totals[int(start)] = len(rows)
        if len(rows) > MAX_PER_WINDOW:
            rows = np.sort(rng.choice(rows, MAX_PER_WINDOW, replace=False))
        picked[int(start)] = rows
    seqs = {int(log.seq[i]): int(start) for start, rows in picked.items() for i in rows}
    texts: dict[int, list[str]] = {start: [] for start in picked}
    missing = 0
    con = connect(log_path)
    try:
        wanted = sorted(seqs)
        for first in range(0, len(wanted), 900):  # SQLite's limit on bound parameters
            chunk = wanted[first:first + 900]
            marks = ",".join("?" * len(chunk))
            for seq, logged in con.execute(f"SELECT seq, input FROM requests WHERE seq IN ({marks})", chunk):
                text = logged_text(logged, text_column)
                if text is None:
                    missing += 1
                else:
                    texts[seqs[int(seq)]].append(text)
    finally:
        con.close()
    return texts, totals, missing


def embedding_drift_rows(log_path, log, ref, settings, seconds: int, model: str, *, notes: list[str] | None = None,
                         seed: int = 0) -> list[list]:
    """Rows of the monitor's table (labelkit.monitor.metrics.COLUMNS): metric 'input_drift', subject the
    model, one per window with logged texts."""
    notes = notes if notes is not None else []
    train, test = reference_texts(ref)
    if not train:
        notes.append(f"input drift: the reference build's train_labels.csv has no {ref.text_column!r} column; "
                     f"no input drift")
        return []
    texts, totals, missing = window_texts(log_path, log, seconds, ref.text_column, seed=seed)
    if missing:
        notes.append(f"input drift: {missing:,} sampled requests have no logged text (serve --log-input hash/none); "
                     f"they are left out")
    space = DriftSpace(train, test, model, seed=seed)
    rows = []
    for start in sorted(texts):
        window = texts[start]
        n = len(window)
        if not n:
            continue
        label = window_label(start)
        value = space.distance(window)
        upper = space.upper(n)
        note = f"{space.described}; distance of the window's mean embedding to the train rows' (test rows: " \
               f"{space.reference:.3f})"
        if totals[start] > n:
            note += f"; {n} of {totals[start]:,} requests sampled"
        few = 0 < n < settings.min_rows
        if few:
            note = f"only {n} rows (< {settings.min_rows}): not alerted on; {note}"
        rows.append([label, int(start), METRIC, model, int(n), float(value), float(space.reference), None, float(upper),
                     None, None, bool(not few and value > upper), note])
    return rows
