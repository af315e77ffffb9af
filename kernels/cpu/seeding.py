"""The two hot steps of greedy k-means++ seeding, on the CPU.

For candidate centres :math:`c_j` and the squared distance :math:`D_i` of
every row to its closest chosen centre, ``potentials`` returns

.. math:: \\phi_j = \\sum_i w_i \\min(D_i, |x_i - c_j|^2)

and ``update`` applies :math:`D_i \\leftarrow \\min(D_i, |x_i - c|^2)` for the
centre that won. Both make one pass over X in tiles of rows, each tile's
inner products from a single-threaded BLAS GEMM with Numba threads over runs
of tiles; ``potentials`` can also keep every :math:`\\min(D_i, |x_i - c_j|^2)`
in a caller's (t, n) buffer so that the winner's row replaces ``update``'s
pass over X. The distance is rebuilt as
:math:`(|c|^2 - 2 x \\cdot c) + |x|^2` clipped at 0 in X's dtype, the order of
operations of scikit-learn's ``euclidean_distances``, and the potentials are
summed in float64.

Measured on 2 shared cores, float32, 6 candidates (medians, noisy): at
n=1M d=32 ``potentials`` 22 ms against 66 ms for the GEMM-plus-elementwise
passes it replaces; ``update`` as a one-row GEMM 7.8 ms (19 ms as a GEMV),
at n=200k d=512 22 ms (57 ms as a GEMV). Tiles of 64 to 2048 rows
(TILE_BYTES 2^15 to 2^18) measured alike; 2^19 and up was 1.7x slower at d=512.
Reference: ``tests/kernels/reference_seeding.py``.
"""

import numba
import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE, single_threaded_blas
from .assign import _sq_norm

# Rows per tile: as many as keep the tile of X within TILE_BYTES (about half
# an L2 cache) while the distances are rebuilt from its inner products.
TILE_BYTES = 2**18
MIN_TILE_ROWS = 64
MAX_TILE_ROWS = 4096


def _layout(X):
    """(tile_rows, n_blocks): tile height, and how many runs of tiles the threads share."""
    n, d = X.shape
    tile_rows = min(MAX_TILE_ROWS, max(MIN_TILE_ROWS, TILE_BYTES // max(1, d * X.itemsize)))
    n_tiles = -(-n // tile_rows)
    return tile_rows, max(1, min(n_tiles, 4 * numba.get_num_threads()))


@njit(cache=NUMBA_CACHE)
def _center_sq_norms(C, dtype):
    out = np.empty(C.shape[0], dtype=dtype)
    for j in range(C.shape[0]):
        out[j] = _sq_norm(C[j])
    return out


@njit(fastmath={"reassoc"}, cache=NUMBA_CACHE)
def _weighted_sum(values, weights, count):
    # Reassociation lets LLVM vectorise the sum; only the summation order changes.
    s = 0.0
    for r in range(count):
        s += np.float64(values[r]) * weights[r]
    return s


@njit(parallel=True, cache=NUMBA_CACHE)
def _potentials_tiles(X, x_sq, weights, candidates, c_sq, closest_sq, out, store, tile_rows,
                      n_blocks):
    """Per-block partial potentials (n_blocks, t), float64.

    Each of ``n_blocks`` threads takes a contiguous run of tiles; per tile
    ``candidates @ tile.T`` is one GEMM (the caller limits BLAS to one
    thread), then each candidate's clipped, min-ed distances go through a
    small buffer into a vectorised weighted sum.
    """
    n = X.shape[0]
    t = candidates.shape[0]
    dtype = X.dtype.type
    two = dtype(2.0)
    zero = dtype(0.0)
    partial = np.zeros((n_blocks, t), dtype=np.float64)
    n_tiles = (n + tile_rows - 1) // tile_rows
    tiles_per_block = (n_tiles + n_blocks - 1) // n_blocks
    for b in prange(n_blocks):
        buf = np.empty(tile_rows, dtype=X.dtype)
        for tile in range(b * tiles_per_block, min(n_tiles, (b + 1) * tiles_per_block)):
            start = tile * tile_rows
            stop = min(n, start + tile_rows)
            rows = stop - start
            gram_t = np.dot(candidates, X[start:stop].T)
            for j in range(t):
                cj = c_sq[j]
                target = out[j, start:stop] if store else buf[:rows]
                for r in range(rows):
                    dist = max((cj - two * gram_t[j, r]) + x_sq[start + r], zero)
                    target[r] = min(closest_sq[start + r], dist)
                partial[b, j] += _weighted_sum(target, weights[start:stop], rows)
    return partial


@njit(parallel=True, cache=NUMBA_CACHE)
def _update_tiles(X, x_sq, center, c_sq, closest_sq, tile_rows, n_blocks):
    """closest_sq[i] = min(closest_sq[i], |x_i - center|^2); center is (1, d), one GEMM per tile."""
    n = X.shape[0]
    dtype = X.dtype.type
    two = dtype(2.0)
    zero = dtype(0.0)
    n_tiles = (n + tile_rows - 1) // tile_rows
    tiles_per_block = (n_tiles + n_blocks - 1) // n_blocks
    for b in prange(n_blocks):
        for tile in range(b * tiles_per_block, min(n_tiles, (b + 1) * tiles_per_block)):
            start = tile * tile_rows
            stop = min(n, start + tile_rows)
            dots = np.dot(center, X[start:stop].T)
            for r in range(stop - start):
                i = start + r
                dist = max((c_sq - two * dots[0, r]) + x_sq[i], zero)
                closest_sq[i] = min(closest_sq[i], dist)


def potentials(X, x_sq, weights, candidates, closest_sq, out=None, c_sq=None):
    """Weighted k-means++ potential of each candidate centre.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous
    x_sq : ndarray (n,), X's dtype, the squared row norms of X
    weights : ndarray (n,) float64
    candidates : ndarray (t, d), X's dtype, C-contiguous
    closest_sq : ndarray (n,), X's dtype
    out : ndarray (t, n) C-contiguous in X's dtype, or None
        When given, receives :math:`\\min(D_i, |x_i - c_j|^2)` for every
        candidate, so the winner's row is the next ``closest_sq`` without
        another pass over X.
    c_sq : ndarray (t,) in X's dtype, or None
        The candidates' squared norms; computed here when None. Passing
        ``x_sq`` at the candidates' rows keeps every norm from one computation.

    Returns
    -------
    ndarray (t,) float64, :math:`\\sum_i w_i \\min(D_i, |x_i - c_j|^2)`
    """
    tile_rows, n_blocks = _layout(X)
    with single_threaded_blas():
        partial = _potentials_tiles(
            X, x_sq, weights, candidates,
            _center_sq_norms(candidates, X.dtype) if c_sq is None else c_sq, closest_sq,
            np.empty((0, 0), dtype=X.dtype) if out is None else out, out is not None,
            tile_rows, n_blocks,
        )
    return partial.sum(axis=0)


def update(X, x_sq, center, closest_sq, c_sq=None):
    """closest_sq = min(closest_sq, |x - center|^2) row by row, in place; returns closest_sq.

    X (n, d) C-contiguous float32 or float64; x_sq and closest_sq (n,) and
    center (d,) contiguous in X's dtype; c_sq its squared norm (computed
    here when None). A read-only closest_sq (the DLPack view of an
    array_api_strict array) is updated in a copy, which is returned.
    """
    if not closest_sq.flags.writeable:
        closest_sq = closest_sq.copy()
    tile_rows, n_blocks = _layout(X)
    with single_threaded_blas():
        center = center.reshape(1, -1)
        if c_sq is None:
            c_sq = _center_sq_norms(center, X.dtype)[0]
        _update_tiles(X, x_sq, center, X.dtype.type(c_sq), closest_sq, tile_rows, n_blocks)
    return closest_sq
