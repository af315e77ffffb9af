"""Weighted per-cluster sums and counts on the CPU.

.. math:: S_j = \\sum_{i: l_i = j} w_i x_i, \\qquad W_j = \\sum_{i: l_i = j} w_i

Rows with a negative label (noise) are skipped. Each thread accumulates a
private float64 copy over a contiguous block of rows, then the copies are
summed, so there are no write conflicts and the result does not depend on
the thread count beyond float64 rounding.
Reference: ``tests/kernels/reference.py::centroid_update``.
"""

import numba
import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE


@njit(inline="always", cache=NUMBA_CACHE)
def add_weighted_row(sums, counts, block, j, w, X, i):
    """``sums[block, j] += w * X[i]`` and ``counts[block, j] += w``, in float64.

    Takes indices rather than ``sums[block]`` and ``X[i]`` views, and is
    inlined into its callers: views per row or a call per row made
    centroid_update 60% slower at n=1M d=32 (14.6 ms against 9.0 ms).
    """
    counts[block, j] += w
    for t in range(X.shape[1]):
        sums[block, j, t] += w * X[i, t]


@njit(cache=NUMBA_CACHE)
def reduce_blocks(sums, counts):
    """Add up per-block partial sums (blocks, k, d) and counts (blocks, k)."""
    total = sums[0].copy()
    total_counts = counts[0].copy()
    for b in range(1, sums.shape[0]):
        total += sums[b]
        total_counts += counts[b]
    return total, total_counts


@njit(parallel=True, cache=NUMBA_CACHE)
def _partial_sums(X, labels, weights, n_clusters, n_blocks):
    n, d = X.shape
    sums = np.zeros((n_blocks, n_clusters, d), dtype=np.float64)
    counts = np.zeros((n_blocks, n_clusters), dtype=np.float64)
    block = (n + n_blocks - 1) // n_blocks
    for b in prange(n_blocks):
        for i in range(b * block, min(n, (b + 1) * block)):
            if labels[i] >= 0:
                add_weighted_row(sums, counts, b, labels[i], np.float64(weights[i]), X, i)
    return sums, counts


def centroid_update(X, labels, weights, n_clusters):
    """Per-cluster weighted sums (k, d) and weights (k,), both float64.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous
    labels : ndarray (n,), integer; entries < 0 are skipped, entries must be < n_clusters
    weights : ndarray (n,), any float dtype, or None for all ones
    n_clusters : int
    """
    n = X.shape[0]
    if weights is None:
        weights = np.ones(n, dtype=np.float64)
    n_blocks = max(1, min(numba.get_num_threads(), n // 1024 + 1))
    sums, counts = _partial_sums(X, labels, weights, n_clusters, n_blocks)
    return reduce_blocks(sums, counts)
