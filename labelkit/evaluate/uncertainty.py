"""Uncertainty: seeded percentile bootstrap intervals, Wilson intervals and the paired
baseline-vs-model test. The one home of both kinds of interval: the build's scores, the label-model
selection's dev intervals, the build's checks, repair, the studio and the monitor all draw resamples
(`resamples`), score them (`resampled_scores`, `resampled_confusions`) and read intervals
(`percentile_bounds`, `percentile_interval`, `wilson`) here.

The paired test is McNemar's exact test (a two-sided binomial test on the rows where exactly one
system is right) plus a paired-bootstrap interval of the accuracy difference, resampling the same
rows for both systems.
"""
from __future__ import annotations

import math

import numpy as np

from labelkit.errors import ConfigError
from labelkit.evaluate.metrics import metric_from_confusion, validate_predictions

METRICS = ("accuracy", "macro_f1")
ALPHA = 0.05
POWER_Z = 0.8416  # z for 80% power
ALPHA_Z = 1.9600  # z for a two-sided 5% test (and a 95% normal interval)
_CHUNK_CELLS = 4_000_000  # resampled cells per chunk, bounds memory on large test sets


def bootstrap_ci(
    y_true,
    y_pred,
    *,
    k: int | None = None,
    metric: str = "accuracy",
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> list[float]:
    """Percentile bootstrap interval [low, high] of `metric` ("accuracy" or "macro_f1").

    >>> bootstrap_ci([0, 1, 1, 0] * 25, [0, 1, 0, 0] * 25, n_boot=200)
    [0.67, 0.8303]
    """
    k = _infer_k(k, y_true, y_pred)
    y_true, y_pred = validate_predictions(y_true, y_pred, k, what="predictions")
    samples = bootstrap_samples(y_true, y_pred, k=k, metric=metric, n_boot=n_boot, seed=seed)
    return percentile_interval(samples, confidence)


def bootstrap_samples(y_true, y_pred, *, k: int, metric: str, n_boot: int, seed: int) -> np.ndarray:
    """The metric on `n_boot` seeded resamples of the rows (the rows of `resamples(n, n_boot, seed)`)."""
    _check_metric(metric)
    out = np.empty(n_boot)
    for start, index in _resample_chunks(len(y_true), n_boot, seed, _CHUNK_CELLS // max(len(y_true), 1)):
        out[start:start + len(index)] = resampled_scores(y_true, y_pred, index, k=k, metric=metric)
    return out


def paired_bootstrap_diff(
    y_true, pred_a, pred_b, *, k: int, metric: str = "accuracy", n_boot: int = 1000, seed: int = 0
) -> np.ndarray:
    """metric(b) - metric(a) on `n_boot` resamples shared by both systems."""
    _check_metric(metric)
    out = np.empty(n_boot)
    for start, index in _resample_chunks(len(y_true), n_boot, seed, _CHUNK_CELLS // max(2 * len(y_true), 1)):
        out[start:start + len(index)] = (resampled_scores(y_true, pred_b, index, k=k, metric=metric)
                                         - resampled_scores(y_true, pred_a, index, k=k, metric=metric))
    return out


def resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Row indices of `n_boot` seeded resamples (with replacement) of n rows, shape (n_boot, n): the
    same for the same seed and n, drawn whole or chunk by chunk (bootstrap_samples)."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def resampled_confusions(y_true, y_pred, index: np.ndarray, k: int) -> np.ndarray:
    """The (b, k, k) confusion matrices (gold x predicted) of the b resamples in `index` (b, n)."""
    cells = (np.asarray(y_true) * k + np.asarray(y_pred))[index]
    b = cells.shape[0]
    offsets = (np.arange(b) * (k * k))[:, None]
    return np.bincount((cells + offsets).ravel(), minlength=b * k * k).reshape(b, k, k)


def resampled_scores(y_true, y_pred, index: np.ndarray, *, k: int, metric: str, positive: int | None = None
                     ) -> np.ndarray:
    """A concrete metric (labelkit.evaluate.metrics.metric_from_confusion) on each resample in `index`."""
    confusion = resampled_confusions(y_true, y_pred, index, k)
    return np.asarray(metric_from_confusion(confusion, metric, positive), dtype=float)


def _resample_chunks(n: int, n_boot: int, seed: int, per_chunk: int):
    """(first resample, its rows) in chunks of at most `per_chunk` resamples: the draws of resamples()
    without holding them all (bounds memory on large test sets)."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, per_chunk)
    for start in range(0, n_boot, per_chunk):
        yield start, rng.integers(0, n, size=(min(n_boot, start + per_chunk) - start, n))


def paired_test(
    y_true,
    pred_baseline,
    pred_model,
    *,
    k: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = ALPHA,
    names: tuple[str, str] = ("baseline", "model"),
) -> dict:
    """McNemar exact p-value, paired-bootstrap CI of accuracy(model) - accuracy(baseline), a verdict.

    `verdict` is one of "model better", "baseline better", or
    "no significant difference (...)" with the reason (and, when it can be estimated, the test-set
    size needed to tell the observed difference apart at 5% significance and 80% power).
    """
    k = _infer_k(k, y_true, pred_baseline, pred_model)
    y_true, pred_baseline = validate_predictions(y_true, pred_baseline, k, what=f"{names[0]} predictions")
    _, pred_model = validate_predictions(y_true, pred_model, k, what=f"{names[1]} predictions")
    right_a, right_b = pred_baseline == y_true, pred_model == y_true
    only_baseline = int(np.sum(right_a & ~right_b))
    only_model = int(np.sum(right_b & ~right_a))
    n = len(y_true)
    diffs = paired_bootstrap_diff(y_true, pred_baseline, pred_model, k=k, n_boot=n_boot, seed=seed)
    low, high = percentile_interval(diffs, 1 - alpha)
    p_value = mcnemar_exact_p(only_baseline, only_model)
    difference = (only_model - only_baseline) / n
    verdict = _verdict(p_value, low, high, alpha, n, only_baseline, only_model, names)
    return {
        "baseline": names[0],
        "model": names[1],
        "n": n,
        "only_baseline_correct": only_baseline,
        "only_model_correct": only_model,
        "accuracy_difference": round(difference, 4),
        "accuracy_difference_ci": [low, high],
        "mcnemar_p": round(p_value, 6),
        "alpha": alpha,
        "needed_n": needed_test_size(n, only_baseline, only_model),
        "verdict": verdict,
    }


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: binomial(only_a + only_b, 0.5) tail, doubled, capped at 1."""
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    from scipy.stats import binom

    return float(min(1.0, 2.0 * binom.cdf(min(only_a, only_b), discordant, 0.5)))


def needed_test_size(n: int, only_a: int, only_b: int) -> int | None:
    """Rows needed for McNemar to detect the observed difference (5% two-sided, 80% power).

    Connor (1987): n = (z_a * sqrt(p_disc) + z_b * sqrt(p_disc - d^2))^2 / d^2, with p_disc the
    share of discordant rows and d the accuracy difference. None when no difference was observed.
    """
    if only_a == only_b or n == 0:
        return None
    p_disc = (only_a + only_b) / n
    d = abs(only_b - only_a) / n
    needed = (ALPHA_Z * math.sqrt(p_disc) + POWER_Z * math.sqrt(max(p_disc - d * d, 0.0))) ** 2 / (d * d)
    return int(math.ceil(needed))


def wilson(successes: float, n: int, z: float = ALPHA_Z) -> tuple[float, float] | None:
    """95% Wilson score interval of a proportion, successes out of n (None without observations)."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile_bounds(samples: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap samples, as computed (resamples scored nan are left out)."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def percentile_interval(samples: np.ndarray, confidence: float = 0.95) -> list[float]:
    """percentile_bounds rounded to 4 digits, as results and findings hold them."""
    low, high = percentile_bounds(samples, confidence)
    return [round(low, 4), round(high, 4)]


def _verdict(p_value, low, high, alpha, n, only_a, only_b, names) -> str:
    baseline, model = names
    if p_value < alpha and low > 0:
        return f"{model_word(model)} better"
    if p_value < alpha and high < 0:
        return f"{baseline_word(baseline)} better"
    if only_a == only_b:
        return f"no significant difference (the systems are right on the same share of the {n} test rows)"
    needed = needed_test_size(n, only_a, only_b)
    if needed is not None and needed > n:
        return f"no significant difference (test set too small to tell: n={n}, needs ~{needed})"
    return f"no significant difference (p={p_value:.3g} at n={n})"


def model_word(name: str) -> str:
    return "model" if name in ("model", "end_model") else name


def baseline_word(name: str) -> str:
    return "baseline" if name in ("baseline", "rule_baseline") else name


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ConfigError(f"Unknown metric {metric!r}; valid metrics are: {', '.join(METRICS)}.")


def _infer_k(k, *arrays) -> int:
    """Class count given, or one more than the largest index seen (at least 2)."""
    if k is not None:
        return int(k)
    largest = [int(np.max(a)) for a in map(np.asarray, arrays) if a.size]
    return max(largest + [1]) + 1
