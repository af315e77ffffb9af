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


@njit(parallel=True, cache=NUMBA_CACHE)
def _partial_sums(X, labels, weights, n_clusters, n_blocks):
    n, d = X.shape
    sums = np.zeros((n_blocks, n_clusters, d), dtype=np.float64)
    counts = np.zeros((n_blocks, n_clusters), dtype=np.float64)
    block = (n + n_blocks - 1) // n_blocks
    for b in prange(n_blocks):
        for i in range(b * block, min(n, (b + 1) * block)):
            j = labels[i]
            if j < 0:
                continue
            w = np.float64(weights[i])
            counts[b, j] += w
            for t in range(d):
                sums[b, j, t] += w * X[i, t]
    return sums, counts


@njit(cache=NUMBA_CACHE)
def _reduce_blocks(sums, counts):
    n_blocks, k, d = sums.shape
    total = sums[0].copy()
    total_counts = counts[0].copy()
    for b in range(1, n_blocks):
        for j in range(k):
            total_counts[j] += counts[b, j]
            for t in range(d):
                total[j, t] += sums[b, j, t]
    return total, total_counts


def centroid_update(X, labels, weights, n_clusters):
    """Per-cluster weighted sums (k, d) and weights (k,), both float64.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous
    labels : ndarray (n,), integer; entries < 0 are skipped, entries must be < n_clusters
    weights : ndarray (n,), any float dtype
    n_clusters : int
    """
    n = X.shape[0]
    n_blocks = max(1, min(numba.get_num_threads(), n // 1024 + 1))
    sums, counts = _partial_sums(X, labels, weights, n_clusters, n_blocks)
    if n_blocks == 1:
        return sums[0], counts[0]
    return _reduce_blocks(sums, counts)
