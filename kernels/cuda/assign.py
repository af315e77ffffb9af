"""Nearest-centre assignment on the GPU with numba.cuda.

For every row :math:`x_i` of X find :math:`\\arg\\min_j \\delta(x_i, c_j)` and the
distance to it, where :math:`\\delta` is the squared Euclidean distance, the
negated inner product or the cosine distance :math:`1 - x \\cdot c / (|x||c|)`
(1 when either vector is zero). Ties go to the lowest centre index.

Two paths. Up to ``FUSED_MAX_FEATURES`` features one fused kernel computes
every distance directly and keeps a running argmin, so the (n, k) distance
matrix never exists. Above it the inner products come from the array
library's matmul (cuBLAS for CuPy) over row tiles of at most
``GRAM_TILE_BYTES``, and a second kernel rebuilds the distances from them
(with the squared row norms the caller computed once per fit, when given)
and takes the argmin, as the CPU kernels do.
Reference: ``tests/kernels/reference.py::assign``.
"""

import math

import numpy as np
from numba import cuda

from .. import memory
from .._numba import NUMBA_CACHE
from ..metric import COSINE, INNER_PRODUCT, SQEUCLIDEAN
from ._launch import launch_for, n_blocks
from .centroids import centroid_update

# Feature count up to which the fused kernel is used. The fused kernel does
# d multiply-adds per (row, centre) pair on CUDA cores while cuBLAS uses
# tensor cores, so past some d the GEMM wins; 64 is a first guess, to be
# tuned by benchmark on a GPU.
FUSED_MAX_FEATURES = 64
# Fused kernel: one thread per row; centres are staged in shared memory
# FUSED_TILE_CENTERS at a time (16 KiB per block at d = 64 in float64).
FUSED_BLOCK_ROWS = 128
FUSED_TILE_CENTERS = 32
# Argmin over a GEMM tile: a block of ARGMIN_BLOCK_ROWS rows, each scanned by
# ARGMIN_LANES threads (one warp) that read consecutive centres (coalesced).
# ARGMIN_LANES must be a power of two for the tree reduction.
ARGMIN_LANES = 32
ARGMIN_BLOCK_ROWS = 8
# Threads per block of the one-thread-per-row norm kernel.
NORM_BLOCK_ROWS = 128
# Most bytes of one Gram tile (rows x k inner products), whatever the free
# memory: a fixed tile rather than half the free memory, so assign never
# holds a 41 GB matrix (10M x 1024 float32) nor competes with the caller's
# allocations. Not an L2-sized tile (FAISS tiles 512 rows, ~2 MB at
# k=1024): each tile costs a CuPy matmul and a Numba launch from Python,
# tens of microseconds of host time, so 2 MB tiles (~20,000 per pass at 10M
# rows) would leave the GPU waiting on the host; at 256 MiB a tile's GEMM
# (about 65,000 rows at k=1024, d=128) runs for milliseconds, a pass takes
# ~150 of them, and the host launches stay hidden behind the GPU work.
# Unmeasured on a GPU (benchmarks/NOTES.md, "KMeans at scale").
GRAM_TILE_BYTES = 2**28


@cuda.jit(cache=NUMBA_CACHE)
def _row_norms_kernel(A, sq_norms, inv_norms):
    """Squared norm and inverse norm (0 for a zero row) of every row of A.

    A is C-contiguous (m, d), float32 or float64; one thread per row,
    accumulating in float64.
    """
    i = cuda.grid(1)
    if i >= A.shape[0]:
        return
    s = 0.0
    for t in range(A.shape[1]):
        s += A[i, t] * A[i, t]
    sq_norms[i] = s
    inv_norms[i] = 1.0 / math.sqrt(s) if s > 0.0 else 0.0


def _row_norms(A, launch):
    """Squared norms and inverse norms of the rows of A, in A's dtype and array library."""
    m = A.shape[0]
    sq_norms = launch.lib.empty(m, dtype=A.dtype)
    inv_norms = launch.lib.empty(m, dtype=A.dtype)
    _row_norms_kernel[n_blocks(m, NORM_BLOCK_ROWS), NORM_BLOCK_ROWS, launch.stream](
        A, sq_norms, inv_norms
    )
    return sq_norms, inv_norms


@cuda.jit(cache=NUMBA_CACHE)
def _assign_fused_kernel(X, centers, inv_center_norms, metric, labels, distances):
    """Nearest centre of every row, computing each distance directly.

    X (n, d) and centers (k, d) are C-contiguous with the same float dtype
    and d <= ``FUSED_MAX_FEATURES``; inner sums accumulate in that dtype.
    One thread per row, ``FUSED_BLOCK_ROWS`` rows per block; the block loads
    ``FUSED_TILE_CENTERS`` centres at a time into dynamic shared memory
    (``FUSED_TILE_CENTERS * d`` elements, sized by the launch; coalesced,
    all threads together), then every thread scans them in ascending order
    with a strict ``<``, which keeps the lowest index on ties. Squared
    Euclidean sums :math:`(x - c)^2`, so it has no cancellation.
    """
    tile = cuda.shared.array(0, X.dtype)
    n, d = X.shape
    k = centers.shape[0]
    i = cuda.grid(1)
    # Threads past the last row work on a copy of it: they must still help
    # load every tile and reach every syncthreads.
    row = min(i, n - 1)
    # A zero of X's dtype: starting sums from the literal 0.0 would make
    # numba accumulate float32 input in float64.
    zero = X.dtype.type(0)

    inv_x = zero
    if metric == COSINE:
        x_sq = zero
        for t in range(d):
            x_sq += X[row, t] * X[row, t]
        if x_sq > 0:
            inv_x = 1 / math.sqrt(x_sq)

    best = np.inf
    best_j = 0
    for start in range(0, k, FUSED_TILE_CENTERS):
        tile_centers = min(FUSED_TILE_CENTERS, k - start)
        cuda.syncthreads()  # everyone is done with the previous tile
        for e in range(cuda.threadIdx.x, tile_centers * d, cuda.blockDim.x):
            tile[e] = centers[start + e // d, e % d]
        cuda.syncthreads()
        for jj in range(tile_centers):
            base = jj * d
            acc = zero
            # The row is re-read from global memory for every centre; after
            # the first centre it comes from L1.
            if metric == SQEUCLIDEAN:
                for t in range(d):
                    diff = X[row, t] - tile[base + t]
                    acc += diff * diff
                s = acc
            else:
                for t in range(d):
                    acc += X[row, t] * tile[base + t]
                if metric == INNER_PRODUCT:
                    s = -acc
                else:
                    s = 1 - acc * inv_x * inv_center_norms[start + jj]
            if s < best:
                best = s
                best_j = start + jj
    if i < n:
        labels[i] = best_j
        distances[i] = best


def _assign_fused(X, centers, inv_center_norms, metric, labels, distances, launch):
    blocks = n_blocks(X.shape[0], FUSED_BLOCK_ROWS)
    tile_bytes = FUSED_TILE_CENTERS * X.shape[1] * X.itemsize
    _assign_fused_kernel[blocks, FUSED_BLOCK_ROWS, launch.stream, tile_bytes](
        X, centers, inv_center_norms, metric, labels, distances
    )


@cuda.jit(cache=NUMBA_CACHE)
def _argmin_gram_kernel(
    gram, x_sq_norms, inv_x_norms, center_sq_norms, inv_center_norms, metric, labels, distances
):
    """Nearest centre of every row of a tile of inner products ``gram = X_tile @ centers.T``.

    gram (m, k) is C-contiguous, float32 or float64; the norm arrays are
    those of ``_row_norms`` for the tile's rows and for the centres. The
    distance is rebuilt as :math:`|x|^2 - 2 x \\cdot c + |c|^2` clipped at 0,
    :math:`-x \\cdot c`, or :math:`1 - x \\cdot c / (|x||c|)`. Block shape
    (``ARGMIN_LANES``, ``ARGMIN_BLOCK_ROWS``): threadIdx.y picks the row and
    its lanes (a warp) stride over the centres, each keeping the first
    minimum it meets; the lanes' (value, index) pairs are then reduced in
    shared memory, the smaller value winning and the smaller index on equal
    values. Shared memory rather than warp shuffles because the CUDA
    simulator has no shuffles.
    """
    values = cuda.shared.array((ARGMIN_BLOCK_ROWS, ARGMIN_LANES), np.float64)
    indices = cuda.shared.array((ARGMIN_BLOCK_ROWS, ARGMIN_LANES), np.int32)
    lane = cuda.threadIdx.x
    r = cuda.threadIdx.y
    i = cuda.blockIdx.x * ARGMIN_BLOCK_ROWS + r
    m, k = gram.shape

    best = np.inf
    # An index above every real one, so a lane that saw no centre never wins a tie.
    best_j = k
    if i < m:
        for j in range(lane, k, ARGMIN_LANES):
            g = gram[i, j]
            if metric == SQEUCLIDEAN:
                s = center_sq_norms[j] - 2 * g
            elif metric == INNER_PRODUCT:
                s = -g
            else:
                s = 1 - g * inv_x_norms[i] * inv_center_norms[j]
            if s < best:
                best = s
                best_j = j
    values[r, lane] = best
    indices[r, lane] = best_j
    cuda.syncthreads()
    step = ARGMIN_LANES // 2
    while step > 0:
        if lane < step:
            other = values[r, lane + step]
            other_j = indices[r, lane + step]
            if other < values[r, lane] or (
                other == values[r, lane] and other_j < indices[r, lane]
            ):
                values[r, lane] = other
                indices[r, lane] = other_j
        cuda.syncthreads()
        step //= 2
    if lane == 0 and i < m:
        best = values[r, 0]
        if metric == SQEUCLIDEAN:
            best = max(best + x_sq_norms[i], 0.0)
        labels[i] = indices[r, 0]
        distances[i] = best


def _argmin_gram(gram, x_norms, center_norms, metric, labels, distances, launch):
    """Launch ``_argmin_gram_kernel``; the norms are ``_row_norms`` pairs (squared, inverse)."""
    blocks = n_blocks(gram.shape[0], ARGMIN_BLOCK_ROWS)
    _argmin_gram_kernel[blocks, (ARGMIN_LANES, ARGMIN_BLOCK_ROWS), launch.stream](
        gram, *x_norms, *center_norms, metric, labels, distances
    )


def _tile_norms(X_tile, x_sq, start, stop, metric, launch):
    """The (squared, inverse) norm pair ``_argmin_gram_kernel`` reads for a tile's rows.

    The caller's squared norms where they serve (squared Euclidean), nothing
    for the inner product (the kernel does not read them), and
    ``_row_norms`` otherwise.
    """
    if metric == INNER_PRODUCT:
        unused = launch.lib.empty(0, dtype=X_tile.dtype)
        return unused, unused
    if metric == SQEUCLIDEAN and x_sq is not None:
        return x_sq[start:stop], x_sq[start:stop]
    return _row_norms(X_tile, launch)


def _assign_gemm(X, centers, center_norms, metric, labels, distances, launch, x_sq=None):
    """Large-d path: matmul and ``_argmin_gram`` per row tile; tiles halve on out-of-memory."""
    n = X.shape[0]
    k = centers.shape[0]
    # One row of a tile holds k inner products and two norms.
    bytes_per_row = (k + 2) * X.itemsize
    chunk_rows = min(
        memory.row_chunk_size(n, bytes_per_row, device=launch.device),
        max(1, GRAM_TILE_BYTES // bytes_per_row),
    )

    def step(start, stop):
        X_tile = X[start:stop]
        # centers.T is a view: (cu)BLAS reads it through a transpose flag, no copy.
        gram = launch.lib.matmul(X_tile, centers.T)
        _argmin_gram(
            gram,
            _tile_norms(X_tile, x_sq, start, stop, metric, launch),
            center_norms,
            metric,
            labels[start:stop],
            distances[start:stop],
            launch,
        )

    memory.for_each_chunk(n, chunk_rows, step)


def assign(X, centers, metric, x_sq=None, with_distances=True):
    """Nearest centre for each row of X, on the GPU.

    Parameters
    ----------
    X : CuPy array (n, d), float32 or float64 (NumPy under the CUDA simulator);
        made C-contiguous by a copy if it is not
    centers : array (k, d), same library and dtype as X, k >= 1
    metric : int
        A code from ``kernels.metric`` (SQEUCLIDEAN, INNER_PRODUCT or COSINE).
    x_sq : array (n,) float64 or None
        Squared row norms of X (computed once per fit by the caller); the
        GEMM path uses them for the squared Euclidean distance instead of a
        norm pass over every tile. None computes them per tile.
    with_distances : bool
        False returns an empty array for the distances (still computed: the
        launches write them beside the labels).

    Returns
    -------
    labels : array (n,) int32, the lowest index among equally near centres
    distances : array (n,) in X's dtype, or (0,) without ``with_distances``
        Both in X's array library, computed on CuPy's current stream.
    """
    launch = launch_for(X)
    lib = launch.lib
    X = lib.ascontiguousarray(X)
    centers = lib.ascontiguousarray(centers)
    n, d = X.shape
    labels = lib.empty(n, dtype=lib.int32)
    distances = lib.empty(n, dtype=X.dtype)
    if n == 0:
        return labels, distances
    center_norms = _row_norms(centers, launch)
    if d <= FUSED_MAX_FEATURES:
        _assign_fused(X, centers, center_norms[1], metric, labels, distances, launch)
    else:
        _assign_gemm(X, centers, center_norms, metric, labels, distances, launch, x_sq)
    return labels, distances if with_distances else distances[:0]


def lloyd_step(X, centers, weights, metric, x_sq=None, with_distances=True):
    """``assign`` then ``centroid_update``: the CPU kernel's fused Lloyd pass, as two launches.

    Same arguments and results as ``kernels/cpu/assign.lloyd_step``
    (``weights`` may be None for all ones). Without ``with_distances`` the
    distances are still computed by the assign launch, and not returned.
    """
    labels, distances = assign(X, centers, metric, x_sq)
    sums, counts = centroid_update(X, labels, weights, centers.shape[0])
    return labels, distances if with_distances else distances[:0], sums, counts
