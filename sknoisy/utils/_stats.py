"""Intervals for accuracies measured on a few checked rows."""

import math

from scipy.stats import norm

__all__ = ["wilson_interval"]


def wilson_interval(correct, n, confidence=0.95):
    """Wilson score interval ``(low, high)`` of a proportion: ``correct`` successes out of ``n``.

    Unlike the normal approximation it stays inside [0, 1] and keeps its
    coverage near 0 and 1, where accuracies on a few checked rows live.

    Parameters
    ----------
    correct : int
        Number of successes (rows predicted right).
    n : int
        Number of trials (rows scored), at least 1.
    confidence : float in (0, 1), default=0.95

    Returns
    -------
    low, high : float

    Examples
    --------
    >>> from sknoisy.utils._stats import wilson_interval
    >>> low, high = wilson_interval(180, 200)
    >>> round(low, 3), round(high, 3)
    (0.851, 0.934)
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n!r}.")
    if not 0 <= correct <= n:
        raise ValueError(f"correct must be between 0 and n={n}, got {correct!r}.")
    z = float(norm.ppf(0.5 + confidence / 2))
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
