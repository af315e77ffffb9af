"""Nearest-centre assignment on the CPU.

For every row :math:`x_i` of X find :math:`\\arg\\min_j \\delta(x_i, c_j)` and the
distance to it, where :math:`\\delta` is the squared Euclidean distance, the
negated inner product or the cosine distance :math:`1 - x \\cdot c / (|x||c|)`
(1 when either vector is zero). Ties go to the lowest centre index.

Every dimension takes a BLAS GEMM per tile of rows followed by a fused argmin
over the tile (``assign_gemm``): on the CPU this beat a fused one-pass
distance loop even at d=2 (41 ms against 62 ms at n=1M k=64,
benchmarks/NOTES.md, "assign: fused vs GEMM"). Rows are re-centred by the
callers that need it (KMeans centres X) to keep the cancellation in
:math:`|x|^2 - 2 x \\cdot c + |c|^2` small. Reference: ``tests/kernels/reference.py::assign``.
"""

import numpy as np
from numba import njit, prange

from .._numba import COSINE, INNER_PRODUCT, NUMBA_CACHE, SQEUCLIDEAN, single_threaded_blas

# Rows per GEMM tile, measured at n=1M d=32 k=64 and n=200k d=512 k=100
# (benchmarks/NOTES.md, "assign: tile rows").
SMALL_TILE_ROWS = 256
LARGE_TILE_ROWS = 2048


@njit(cache=NUMBA_CACHE)
def _argmin_rows(gram, X, start, center_sq_norms, inv_center_norms, metric, labels, distances):
    rows, k = gram.shape
    d = X.shape[1]
    for r in range(rows):
        i = start + r
        best = np.inf
        best_j = 0
        if metric == SQEUCLIDEAN:
            for j in range(k):
                s = center_sq_norms[j] - 2.0 * gram[r, j]
                if s < best:
                    best = s
                    best_j = j
            x_sq = 0.0
            for t in range(d):
                x_sq += np.float64(X[i, t]) * X[i, t]
            best = max(best + x_sq, 0.0)
        elif metric == INNER_PRODUCT:
            for j in range(k):
                s = -gram[r, j]
                if s < best:
                    best = s
                    best_j = j
        else:
            x_sq = 0.0
            for t in range(d):
                x_sq += np.float64(X[i, t]) * X[i, t]
            inv_x = 1.0 / np.sqrt(x_sq) if x_sq > 0.0 else 0.0
            for j in range(k):
                s = 1.0 - gram[r, j] * inv_x * inv_center_norms[j]
                if s < best:
                    best = s
                    best_j = j
        labels[i] = best_j
        distances[i] = best


@njit(parallel=True, cache=NUMBA_CACHE)
def assign_gemm(X, centers_t, center_sq_norms, metric, tile_rows, labels, distances):
    """GEMM tile + fused argmin; X (n, d) and centers_t (d, k) C-contiguous.

    Threads take tiles of ``tile_rows`` rows; each computes its tile of inner
    products with a single-threaded BLAS GEMM (the caller limits BLAS to one
    thread: OpenBLAS threads spinning beside Numba's made a step 20x slower,
    benchmarks/NOTES.md) and takes the argmin while the tile is in cache.
    For squared Euclidean the distance is :math:`|x|^2 - 2 x \\cdot c + |c|^2`,
    clipped at 0.
    """
    n = X.shape[0]
    k = centers_t.shape[1]
    inv_center_norms = np.empty(k, dtype=np.float64)
    for j in range(k):
        c = np.sqrt(center_sq_norms[j])
        inv_center_norms[j] = 1.0 / c if c > 0.0 else 0.0
    n_tiles = (n + tile_rows - 1) // tile_rows
    for b in prange(n_tiles):
        start = b * tile_rows
        stop = min(n, start + tile_rows)
        gram = np.dot(X[start:stop], centers_t)
        _argmin_rows(gram, X, start, center_sq_norms, inv_center_norms, metric, labels, distances)


@njit(parallel=True, cache=NUMBA_CACHE)
def row_sq_norms(X):
    """Squared L2 norm of every row of X, accumulated in float64."""
    n, d = X.shape
    out = np.empty(n, dtype=np.float64)
    for i in prange(n):
        s = 0.0
        for t in range(d):
            s += np.float64(X[i, t]) * X[i, t]
        out[i] = s
    return out


def assign(X, centers, metric):
    """Nearest centre for each row of X.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous
    centers : ndarray (k, d), same dtype, C-contiguous
    metric : int
        A code from ``kernels._numba.METRIC_CODES``.

    Returns
    -------
    labels : ndarray (n,) int32
    distances : ndarray (n,) in X's dtype
    """
    n, d = X.shape
    k = centers.shape[0]
    labels = np.empty(n, dtype=np.int32)
    distances = np.empty(n, dtype=X.dtype)
    if n == 0:
        return labels, distances
    center_sq_norms = row_sq_norms(centers)
    centers_t = np.ascontiguousarray(centers.T)
    tile_rows = SMALL_TILE_ROWS if d < 128 else LARGE_TILE_ROWS
    with single_threaded_blas():
        assign_gemm(X, centers_t, center_sq_norms, metric, tile_rows, labels, distances)
    return labels, distances
