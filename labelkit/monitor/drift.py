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

    The noise is measured on Anscombe's arcsine scale, asin(sqrt((k + 3/8) / (n + 3/4))) for k of n
    rows, where a rate's sampling error is 1/(2 sqrt(n)) whatever the rate: p0 +- z standard errors on
    the raw scale understates how far a small rate strays upwards in a window of a few dozen rows (5%
    of 68 rows reaches 16% about once in a thousand windows, and a year of weekly windows x dozens of
    slices makes thousands), and 0 of 54 rows against 8.7% is no surprise (0.7% of windows). With
    `n_ref` (the rows the reference rate was measured on, e.g. a slice's gold test rows) the
    reference's own error is added: 0 of 12 test rows is not a rate known to be 0."""
    n = max(n, 1)
    centre = np.arcsin(np.sqrt(min(max(p0, 0.0), 1.0)))
    spread = z * np.sqrt(1 / (4 * n) + (1 / (4 * n_ref) if n_ref else 0.0))

    def rate(angle: float) -> float:  # the inverse of Anscombe's transform, as a share of n rows
        return ((n + 0.75) * np.sin(min(max(angle, 0.0), np.pi / 2)) ** 2 - 0.375) / n

    high, low = rate(centre + spread), rate(centre - spread)
    upper = max(high, p0 * (1 + relative), p0 + absolute)
    lower = min(low, p0 * (1 - relative), p0 - absolute)
    return max(0.0, float(lower)), min(1.0, float(upper))


def _normalise(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    total = x.sum()
    return x / total if total > 0 else np.full(len(x), 1.0 / len(x))


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))


def label_shift_accuracy(confusion: np.ndarray, predicted: np.ndarray, *, draws: int = 400,
                         seed: int = 0) -> tuple[float, float, float] | None:
    """The end model's accuracy on a window if the class shares moved but each class's inputs did not
    (label shift; black-box shift estimation, BBSE: Lipton, Wang and Smola 2018), with a 95% interval.

    `confusion` holds the gold test counts [predicted, gold]; `predicted` the window's counts per
    predicted class. The window's class shares pi solve C pi = q, C[i, j] = P(predicted i | gold j) on
    test and q the window's predicted shares (least squares, clipped to shares); the accuracy is then
    sum_j pi_j C[j, j]. The interval comes from seeded draws of both C (each gold class's test rows)
    and q (the window's rows). None without test rows or window rows."""
    confusion = np.asarray(confusion, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    per_class = confusion.sum(axis=0)
    seen = np.flatnonzero(per_class > 0)
    n = int(predicted.sum())
    if not len(seen) or n == 0:
        return None
    C = confusion[:, seen] / per_class[seen]  # (k, s): P(predicted | gold), gold classes seen on test
    q = predicted / n
    estimate = float(_bbse(C[None], q[None], seen)[0])
    rng = np.random.default_rng(seed)
    drawn = np.stack([rng.multinomial(int(per_class[j]), C[:, i], size=draws) / per_class[j]
                      for i, j in enumerate(seen)], axis=2)  # (draws, k, s)
    accuracies = _bbse(drawn, rng.multinomial(n, q, size=draws) / n, seen)
    low, high = np.quantile(accuracies, [0.025, 0.975])
    return estimate, float(min(low, estimate)), float(max(high, estimate))


def _bbse(C: np.ndarray, q: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Accuracy per stacked (C, q): class shares from the pseudo-inverse, clipped and renormalised."""
    shares = np.einsum("bsk,bk->bs", np.linalg.pinv(C), q)
    shares = np.clip(shares, 0.0, None)
    total = shares.sum(axis=1, keepdims=True)
    shares = np.where(total > 0, shares / np.where(total > 0, total, 1), 1.0 / shares.shape[1])
    recall = C[:, seen, np.arange(len(seen))]  # P(predicted j | gold j)
    return (shares * recall).sum(axis=1)
