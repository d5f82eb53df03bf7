"""Distribution drift scores and the bands that say when a change is more than sampling noise."""
from __future__ import annotations

import numpy as np


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two discrete distributions."""
    p = _normalise(p)
    q = _normalise(q)
    m = (p + q) / 2
    return float(np.sqrt(max(0.0, (_kl(p, m) + _kl(q, m)) / 2)))


def psi(p: np.ndarray, q: np.ndarray, *, eps: float = 1e-4) -> float:
    """Population stability index of `p` (window) against `q` (reference)."""
    p = np.clip(_normalise(p), eps, None)
    q = np.clip(_normalise(q), eps, None)
    return float(np.sum((p - q) * np.log(p / q)))


def js_noise_threshold(reference: np.ndarray, n: int, *, quantile: float = 0.999, draws: int = 400) -> float:
    """The JS distance a window of `n` rows drawn from the reference reaches by chance (a high quantile
    of seeded multinomial draws, vectorised)."""
    key = (tuple(np.round(np.asarray(reference, dtype=np.float64), 6)), int(n), quantile, draws)
    if key not in _NOISE:
        q = _normalise(reference)
        p = np.random.default_rng(0).multinomial(max(n, 1), q, size=draws) / max(n, 1)
        m = (p + q) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_p = np.where(p > 0, p * np.log2(p / m), 0).sum(axis=1)
            kl_q = np.where(q > 0, q * np.log2(q / m), 0).sum(axis=1)
        _NOISE[key] = float(np.quantile(np.sqrt(np.maximum(0, (kl_p + kl_q) / 2)), quantile))
    return _NOISE[key]


_NOISE: dict = {}


def rate_band(p0: float, n: int, *, z: float, relative: float, absolute: float,
              n_ref: int | None = None) -> tuple[float, float]:
    """(lower, upper) for a rate whose reference is `p0`: outside it, the change is both large
    (relative and absolute) and unlikely under sampling noise (z standard errors).

    With `n_ref` (the rows the reference rate was measured on, e.g. a slice's gold test rows) the
    noise is that of a difference of two rates: the window's and the reference's own, with the
    reference's rate smoothed to (k + 1) / (n_ref + 2), so 0 of 12 test rows is not taken for a rate
    known to be 0."""
    if n_ref:
        smoothed = (p0 * n_ref + 1) / (n_ref + 2)
        se = np.sqrt(smoothed * (1 - smoothed) * (1 / max(n, 1) + 1 / n_ref))
    else:
        se = np.sqrt(max(p0 * (1 - p0), 1e-12) / max(n, 1))
    upper = max(p0 + z * se, p0 * (1 + relative), p0 + absolute)
    lower = min(p0 - z * se, p0 * (1 - relative), p0 - absolute)
    return max(0.0, float(lower)), min(1.0, float(upper))


def wilson(k: float, n: int) -> tuple[float, float]:
    """The Wilson interval of k of n (labelkit.evaluate.uncertainty); (0, 1) without rows."""
    from labelkit.evaluate.uncertainty import wilson as interval

    return interval(k, n) or (0.0, 1.0)


def _normalise(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    total = x.sum()
    return x / total if total > 0 else np.full(len(x), 1.0 / len(x))


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))
