"""Nearest-centre assignment on the CPU, optionally fused with the centroid sums.

For every row :math:`x_i` of X find :math:`\\arg\\min_j \\delta(x_i, c_j)` and the
distance to it, where :math:`\\delta` is the squared Euclidean distance, the
negated inner product or the cosine distance :math:`1 - x \\cdot c / (|x||c|)`
(1 when either vector is zero). Ties go to the lowest centre index.
``lloyd_step`` also accumulates :math:`S_j = \\sum_{l_i = j} w_i x_i` and
:math:`W_j = \\sum_{l_i = j} w_i` in float64 while each tile is in cache.

Every dimension takes a BLAS GEMM per tile of rows, then an argmin over the
tile: on the CPU this beat a fused one-pass distance loop even at d=2 (41 ms
against 62 ms at n=1M k=64). The tile is computed transposed, (k, rows), so
that the argmin runs down contiguous rows with vector compares and blends
instead of a branchy scan per row, and squared row norms are summed with
``fastmath={"reassoc"}`` so that they vectorise (30 ms -> 4 ms at n=1M d=32);
benchmarks/NOTES.md has the measurements. Rows are re-centred by the callers
that need it (KMeans centres X) to keep the cancellation in
:math:`|x|^2 - 2 x \\cdot c + |c|^2` small.
Reference: ``tests/kernels/reference.py::assign`` and ``::centroid_update``.
"""

import numba
import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE, single_threaded_blas
from ..metric import COSINE, INNER_PRODUCT, SQEUCLIDEAN
from .centroids import add_weighted_row, reduce_blocks

# Rows per GEMM tile: as many as keep the (k, rows) tile within GRAM_TILE_BYTES
# (about an L2 cache) while the argmin reads it back, between 64 and 512.
# Measured best at n=1M d=32 k=64 (512 rows), n=200k d=512 k=100 (512) and
# n=200k d=128 k=1000 (256); benchmarks/NOTES.md, "assign: tile rows".
GRAM_TILE_BYTES = 2**20
MIN_TILE_ROWS = 64
MAX_TILE_ROWS = 512


@njit(fastmath={"reassoc", "contract"}, cache=NUMBA_CACHE)
def _sq_norm(x):
    # Reassociation lets LLVM vectorise the sum; only the summation order changes.
    s = 0.0
    for t in range(x.shape[0]):
        s += np.float64(x[t]) * x[t]
    return s


@njit(parallel=True, cache=NUMBA_CACHE)
def row_sq_norms(X):
    """Squared L2 norm of every row of X (n, d), accumulated in float64."""
    out = np.empty(X.shape[0], dtype=np.float64)
    for i in prange(X.shape[0]):
        out[i] = _sq_norm(X[i])
    return out


@njit(cache=NUMBA_CACHE)
def _argmin_tile(gram_t, offsets, scales, best, best_j):
    """Per column r of ``gram_t`` (k, rows): min over j of offsets[j] + scales[j] * gram_t[j, r].

    Scans j upwards with a strict ``<``, so ties keep the lowest index; the
    inner loop over contiguous r vectorises as compare-and-blend.
    """
    k, rows = gram_t.shape
    for r in range(rows):
        best[r] = offsets[0] + scales[0] * gram_t[0, r]
        best_j[r] = 0
    for j in range(1, k):
        offset = offsets[j]
        scale = scales[j]
        for r in range(rows):
            v = offset + scale * gram_t[j, r]
            if v < best[r]:
                best[r] = v
                best_j[r] = j


@njit(parallel=True, cache=NUMBA_CACHE)
def _assign_tiles(X, centers, metric, weights, accumulate, x_sq, tile_rows, n_blocks, labels,
                  distances):
    """Nearest centres of X's rows, tile by tile; returns per-block partial sums and weights.

    X (n, d) and centers (k, d) are C-contiguous with the same dtype. Each of
    ``n_blocks`` threads takes a contiguous run of ``tile_rows``-row tiles,
    computes ``centers @ tile.T`` with a single-threaded BLAS GEMM (the caller
    limits BLAS to one thread: OpenBLAS threads spinning beside Numba's made
    a step 20x slower), takes the argmin, and with ``accumulate`` adds the
    tile's weighted rows into its private float64 sums. ``x_sq`` (n,)
    float64 holds the rows' squared norms, or is empty for norms computed
    here (as ``row_sq_norms`` computes them).
    """
    n, d = X.shape
    k = centers.shape[0]
    dtype = X.dtype.type
    # Distance, up to a per-row term, as offsets[j] + scales[j] * (x . c_j).
    offsets = np.zeros(k, dtype=X.dtype)
    scales = np.empty(k, dtype=X.dtype)
    for j in range(k):
        c_sq = _sq_norm(centers[j])
        if metric == SQEUCLIDEAN:
            offsets[j] = c_sq
            scales[j] = -2.0
        elif metric == INNER_PRODUCT:
            scales[j] = -1.0
        else:
            scales[j] = -1.0 / np.sqrt(c_sq) if c_sq > 0.0 else 0.0
    sums = np.zeros((n_blocks if accumulate else 0, k, d), dtype=np.float64)
    counts = np.zeros((n_blocks if accumulate else 0, k), dtype=np.float64)
    n_tiles = (n + tile_rows - 1) // tile_rows
    tiles_per_block = (n_tiles + n_blocks - 1) // n_blocks
    for b in prange(n_blocks):
        best = np.empty(tile_rows, dtype=X.dtype)
        best_j = np.empty(tile_rows, dtype=np.int32)
        for tile in range(b * tiles_per_block, min(n_tiles, (b + 1) * tiles_per_block)):
            start = tile * tile_rows
            stop = min(n, start + tile_rows)
            gram_t = np.dot(centers, X[start:stop].T)
            _argmin_tile(gram_t, offsets, scales, best, best_j)
            for r in range(stop - start):
                i = start + r
                j = best_j[r]
                labels[i] = j
                if metric == INNER_PRODUCT:
                    distances[i] = best[r]
                else:
                    norm_sq = x_sq[i] if x_sq.shape[0] else _sq_norm(X[i])
                    if metric == SQEUCLIDEAN:
                        distances[i] = max(best[r] + norm_sq, 0.0)
                    else:
                        # The argmin ignored the positive factor 1/|x|.
                        distances[i] = (
                            1.0 + best[r] / np.sqrt(norm_sq) if norm_sq > 0.0 else dtype(1.0)
                        )
                if accumulate:
                    add_weighted_row(sums, counts, b, j, np.float64(weights[i]), X, i)
    return sums, counts


def _run(X, centers, metric, weights, accumulate, x_sq=None):
    n = X.shape[0]
    labels = np.empty(n, dtype=np.int32)
    distances = np.empty(n, dtype=X.dtype)
    tile_rows = min(MAX_TILE_ROWS, max(MIN_TILE_ROWS, GRAM_TILE_BYTES // (centers.shape[0] * X.itemsize)))
    n_tiles = -(-n // tile_rows)
    n_blocks = max(1, min(n_tiles, 4 * numba.get_num_threads()))
    if weights is None:
        weights = np.ones(0, dtype=X.dtype)
    if x_sq is None:
        x_sq = np.empty(0, dtype=np.float64)
    with single_threaded_blas():
        sums, counts = _assign_tiles(X, centers, metric, weights, accumulate, x_sq, tile_rows,
                                     n_blocks, labels, distances)
    return labels, distances, sums, counts


def assign(X, centers, metric, x_sq=None):
    """Nearest centre for each row of X.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous
    centers : ndarray (k, d), same dtype, C-contiguous
    metric : int
        A code from ``kernels.metric`` (SQEUCLIDEAN, INNER_PRODUCT or COSINE).
    x_sq : ndarray (n,) float64 or None
        Squared row norms of X, computed once per fit by the caller; None
        computes them row by row.

    Returns
    -------
    labels : ndarray (n,) int32
    distances : ndarray (n,) in X's dtype
    """
    labels, distances, _, _ = _run(X, centers, metric, None, False, x_sq)
    return labels, distances


def lloyd_step(X, centers, weights, metric, x_sq=None):
    """``assign`` plus the weighted sums and weights of the rows given to each centre.

    Parameters
    ----------
    X, centers, metric, x_sq : as for ``assign``
    weights : ndarray (n,), float, or None for all ones (in X's dtype)

    Returns
    -------
    labels : ndarray (n,) int32
    distances : ndarray (n,) in X's dtype
    sums : ndarray (k, d) float64
    counts : ndarray (k,) float64
    """
    if weights is None:
        weights = np.ones(X.shape[0], dtype=X.dtype)
    labels, distances, sums, counts = _run(X, centers, metric, weights, True, x_sq)
    sums, counts = reduce_blocks(sums, counts)
    return labels, distances, sums, counts
