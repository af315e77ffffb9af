"""Scaling of feature groups: each group as a whole, so its inner geometry survives.

A group (Lab, XY, ...) is centred column by column, then divided by one
number for the whole group: for "standard" the root mean square of its
columns' standard deviations (the group's columns then have unit variance on
average), for "minmax" the largest column range, for "robust" the root mean
square of its columns' interquartile ranges. One number per group keeps Lab
distances perceptual and XY distances isotropic, where scaling every column
on its own would stretch a* and b* to the spread of L*. Statistics are
fitted on some rows (a sample, a smaller image) and applied to others.
"""

import numpy as np

from .. import backend

SCALES = ("standard", "minmax", "robust", "none")
# Rows the robust statistics (sorting) look at, drawn evenly at random.
ROBUST_SAMPLE_ROWS = 100_000


def _quantiles(columns, qs, random_state):
    """Lower-rank quantiles ``qs`` of every column, from a sample of the rows (host draw)."""
    xp = backend.namespace(columns)
    n = columns.shape[0]
    if n > ROBUST_SAMPLE_ROWS:
        rows = np.sort(np.random.default_rng(random_state).choice(n, ROBUST_SAMPLE_ROWS, replace=False))
        columns = xp.take(columns, xp.asarray(rows, device=backend.device(columns)), axis=0)
        n = ROBUST_SAMPLE_ROWS
    ordered = xp.sort(columns, axis=0)
    return [ordered[int(q * (n - 1)), :] for q in qs]


def group_statistics(columns, scale, random_state=0):
    """(offset (d,) float64, divisor float) of one group (n, d) for ``scale``; see the module
    docstring. Sums accumulate in float64 without a float64 copy of the group."""
    xp = backend.namespace(columns)
    n, d = columns.shape
    if scale == "none":
        return xp.zeros(d, dtype=xp.float64, device=backend.device(columns)), 1.0
    if scale == "standard":
        offset = xp.sum(columns, axis=0, dtype=xp.float64) / n
        centred = columns - xp.astype(offset, columns.dtype)
        variances = xp.sum(centred * centred, axis=0, dtype=xp.float64) / n
        divisor = float(xp.sqrt(xp.mean(variances)))
    elif scale == "minmax":
        offset = xp.astype(xp.min(columns, axis=0), xp.float64)
        divisor = float(xp.max(xp.astype(xp.max(columns, axis=0), xp.float64) - offset))
    else:
        low, offset, high = (xp.astype(q, xp.float64)
                             for q in _quantiles(columns, (0.25, 0.5, 0.75), random_state))
        divisor = float(xp.sqrt(xp.mean((high - low) ** 2)))
    # A constant group (a flat image's colour) stays at zero instead of dividing by zero.
    return offset, divisor if divisor > 0 else 1.0


class GroupScaler:
    """Per-group offsets and divisors fitted on some rows, applied to any rows.

    Parameters
    ----------
    scale : {"standard", "minmax", "robust", "none"}
    """

    def __init__(self, scale="standard"):
        if scale is None:
            scale = "none"
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES} or None, got {scale!r}.")
        self.scale = scale

    def fit(self, groups, random_state=0):
        """Learn each group's statistics; ``groups`` is a list of (name, array (n, d_g))."""
        self.statistics_ = [group_statistics(columns, self.scale, random_state)
                            for _, columns in groups]
        return self

    def transform(self, groups, weights, dtype):
        """One (n, sum d_g) array: each group centred, divided and multiplied by its weight."""
        xp = backend.namespace(groups[0][1])
        parts = []
        for (name, columns), (offset, divisor) in zip(groups, self.statistics_):
            factor = weights[name] / divisor
            offset = xp.astype(offset, columns.dtype)
            parts.append(xp.astype((columns - offset) * factor, dtype))
        return xp.concat(parts, axis=1) if len(parts) > 1 else parts[0]
