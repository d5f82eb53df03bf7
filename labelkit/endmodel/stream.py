"""The streaming end model, for train sets too large to hold as one feature matrix: hashing features
(no vocabulary) and a logistic-loss SGD classifier fitted with partial_fit, chunk by chunk.

Memory is set by the chunk size, not by the number of rows. One pass over the chunks fits one model
per C (every other C of the grid) at once (alpha = 1 / (C * rows)); the best on dev is kept. Soft labels, class weights and row
weights work as in the in-memory model (weighted duplication inside each chunk). Numeric / categorical
feature columns are scaled / encoded from the first chunk (categories first seen later are ignored).
"""
from __future__ import annotations

import math
import time

import numpy as np

from labelkit.endmodel.features import build_features, split_feature_columns
from labelkit.endmodel.model import EndModel
from labelkit.endmodel.training import class_multipliers, dev_score, expand_soft, make_pipeline

CHUNK_ROWS = 20_000
ROW_PASSES = 1_000_000  # epochs = ROW_PASSES / rows, clipped to 1..5: small sets get more passes


def stream_cs(Cs) -> list[float]:
    """Every other C of the sorted grid (0.1, 1, 10 of the default): each C is one more SGD model
    updated on every chunk, and an SGD fit is far less sensitive to C than the exact fit."""
    return sorted(Cs)[::2]


def train_streaming(frame, Y, weights, dev_frame, y_dev, *, common: dict, Cs, seed: int, metric: tuple,
                    notify, class_weight: str = "none", chunk_rows: int = CHUNK_ROWS) -> EndModel:
    from sklearn.linear_model import SGDClassifier


    n, k = Y.shape
    rng = np.random.default_rng(seed)
    numeric, categorical = split_feature_columns(frame, common["feature_columns"])
    featurizer = build_features("hashing", common["text_column"], numeric, categorical, max_features=0,
                                relation=common["relation"])
    featurizer.fit(frame.iloc[rng.permutation(n)[:chunk_rows]])
    row_weights = weights[:, None] * class_multipliers(Y, weights, class_weight)
    models = {C: SGDClassifier(loss="log_loss", alpha=1.0 / (C * n), random_state=seed) for C in stream_cs(Cs)}
    epochs = int(min(5, max(1, math.ceil(ROW_PASSES / n))))
    started, last, done, total = time.perf_counter(), 0.0, 0, n * epochs
    for epoch in range(epochs):
        order = rng.permutation(n)
        for begin in range(0, n, chunk_rows):
            rows = order[begin:begin + chunk_rows]
            X_rows, y_rows, w_rows = expand_soft(featurizer.transform(frame.iloc[rows]), Y[rows], row_weights[rows])
            for model in models.values():
                model.partial_fit(X_rows, y_rows, classes=np.arange(k), sample_weight=w_rows)
            done += len(rows)
            elapsed = time.perf_counter() - started
            if elapsed - last >= 2.0 or done == total:
                last = elapsed
                rate = done / max(elapsed, 1e-9)
                notify(f"end model (streaming): {done:,}/{total:,} rows (epoch {epoch + 1}/{epochs}), "
                       f"{rate:,.0f} rows/s, ~{(total - done) / rate:.0f}s left")
    X_dev = featurizer.transform(dev_frame)
    scores, best = {}, None
    for C, model in models.items():
        score = dev_score(y_dev, model.predict(X_dev), k, metric)
        scores[f"hashing C={C:g} class_weight={class_weight}"] = round(score, 6)
        if best is None or score > best[0]:
            best = (score, C, model)
    return EndModel(make_pipeline(featurizer, best[2]), C=best[1], features="hashing", class_weight=class_weight,
                    kind="streaming_sgd", dev_scores=scores,
                    notes=[f"end model: streamed ({n:,} train rows >= [end_model] stream_rows): hashing features, "
                           f"SGD, {epochs} pass(es)."], **common)
