"""The two hot steps of greedy k-means++ seeding, on the GPU with numba.cuda.

``potentials`` returns :math:`\\phi_j = \\sum_i w_i \\min(D_i, |x_i - c_j|^2)`
for every candidate centre :math:`c_j`, where :math:`D_i` is the squared
distance of row i to its closest chosen centre; ``update`` applies
:math:`D_i \\leftarrow \\min(D_i, |x_i - c|^2)`. Each thread computes
:math:`|x - c|^2` directly as a sum of squared differences (no cancellation),
in X's dtype. Potentials: each block walks a grid-strided set of rows and,
per candidate, reduces its threads' float64 sums in shared memory (one block
reduction per candidate) into a (blocks, t) array that the array library sums,
so the result does not depend on the order of atomics.

Above ``DIRECT_MAX_FEATURES`` features the candidates' inner products come
from the array library's matmul (cuBLAS on CuPy) over row tiles, and a
second kernel rebuilds :math:`(|c|^2 - 2 x \\cdot c) + |x|^2` clipped at 0
from them, as the CPU kernel does: the per-thread scan does d
multiply-adds per (row, candidate) on CUDA cores, re-reading each row for
every candidate (about 1e13 at 10M x 128, k=1024), while the GEMM reads X
once per centre. Unmeasured on a GPU (benchmarks/NOTES.md, "KMeans at scale").
Reference: ``tests/kernels/reference_seeding.py``.
"""

import numpy as np
from numba import cuda

from .. import memory
from .._numba import NUMBA_CACHE
from ._launch import launch_for, n_blocks

# Threads per block; a power of two for the tree reduction.
BLOCK_ROWS = 256
# Most blocks of the potentials kernel; each strides over the rows, so the
# (blocks, t) partial sums stay small.
MAX_BLOCKS = 1024
# Features up to which potentials scan rows directly (exact, no
# cancellation); above, GEMM tiles. The threshold of assign's fused kernel.
DIRECT_MAX_FEATURES = 64
# Most bytes of one (t, rows) tile of candidate inner products.
GRAM_TILE_BYTES = 2**28


@cuda.jit(cache=NUMBA_CACHE)
def _potentials_kernel(X, weights, candidates, closest_sq, out, store, partial):
    """partial[b, j] = block b's share of sum_i w_i min(D_i, |x_i - c_j|^2).

    X (n, d) and candidates (t, d) C-contiguous in one float dtype;
    closest_sq (n,) in that dtype, weights (n,) and partial (blocks, t)
    float64. With ``store``, out (t, n) in X's dtype receives each
    min(D_i, |x_i - c_j|^2); otherwise out is not touched. Blocks of
    ``BLOCK_ROWS`` threads; rows are strided over the whole grid. The
    per-candidate sum is reduced through shared memory (the CUDA simulator
    has no warp shuffles). Each thread re-reads its rows once per candidate
    (from L1/L2 after the first); a cuBLAS GEMM path for large d, as
    ``assign`` has, is left to tuning on a GPU.
    """
    sums = cuda.shared.array(BLOCK_ROWS, np.float64)
    n, d = X.shape
    t = candidates.shape[0]
    tid = cuda.threadIdx.x
    first = cuda.grid(1)
    stride = cuda.gridsize(1)
    zero = X.dtype.type(0)
    for j in range(t):
        s = 0.0
        for i in range(first, n, stride):
            acc = zero
            for f in range(d):
                diff = X[i, f] - candidates[j, f]
                acc += diff * diff
            v = min(closest_sq[i], acc)
            if store:
                out[j, i] = v
            s += v * weights[i]
        sums[tid] = s
        cuda.syncthreads()
        step = BLOCK_ROWS // 2
        while step > 0:
            if tid < step:
                sums[tid] += sums[tid + step]
            cuda.syncthreads()
            step //= 2
        if tid == 0:
            partial[cuda.blockIdx.x, j] = sums[0]
        cuda.syncthreads()  # sums[0] is read before the next candidate overwrites it


@cuda.jit(cache=NUMBA_CACHE)
def _potentials_gram_kernel(gram_t, x_sq, c_sq, closest_sq, weights, start, out, store, partial):
    """partial[b, j] += block b's share of sum_i w_i min(D_i, d_ij) over one tile of rows.

    gram_t (t, m) C-contiguous, the inner products of the candidates with
    rows ``start .. start + m`` of X; x_sq (n,), c_sq (t,) and closest_sq
    (n,) in gram_t's dtype, weights (n,) and partial (blocks, t) float64.
    ``d_ij = max((c_sq[j] - 2 g) + x_sq[i], 0)`` in gram_t's dtype, the CPU
    kernel's order of operations. With ``store``, out (t, n) receives each
    min(D_i, d_ij). Blocks of ``BLOCK_ROWS`` threads stride over the tile's
    rows; the per-candidate sums are reduced in shared memory, as in
    ``_potentials_kernel``; the tiles' launches are ordered on one stream,
    so their additions to ``partial`` never race.
    """
    sums = cuda.shared.array(BLOCK_ROWS, np.float64)
    t, m = gram_t.shape
    tid = cuda.threadIdx.x
    first = cuda.grid(1)
    stride = cuda.gridsize(1)
    zero = gram_t.dtype.type(0)
    two = gram_t.dtype.type(2)
    for j in range(t):
        s = 0.0
        for r in range(first, m, stride):
            i = start + r
            v = min(closest_sq[i], max((c_sq[j] - two * gram_t[j, r]) + x_sq[i], zero))
            if store:
                out[j, i] = v
            s += v * weights[i]
        sums[tid] = s
        cuda.syncthreads()
        step = BLOCK_ROWS // 2
        while step > 0:
            if tid < step:
                sums[tid] += sums[tid + step]
            cuda.syncthreads()
            step //= 2
        if tid == 0:
            partial[cuda.blockIdx.x, j] += sums[0]
        cuda.syncthreads()


def _potentials_gemm(X, x_sq, weights, candidates, closest_sq, out, c_sq, launch):
    """The large-d potentials: a matmul and ``_potentials_gram_kernel`` per row tile."""
    lib = launch.lib
    n = X.shape[0]
    t = candidates.shape[0]
    if c_sq is None:
        c_sq = (candidates * candidates).sum(axis=1)
    bytes_per_row = (t + X.shape[1]) * X.itemsize
    tile_rows = min(
        memory.row_chunk_size(n, bytes_per_row, device=launch.device),
        max(1, GRAM_TILE_BYTES // bytes_per_row),
    )
    blocks = max(1, min(MAX_BLOCKS, n_blocks(tile_rows, BLOCK_ROWS)))
    partial = lib.zeros((blocks, t), dtype=lib.float64)
    store = out is not None
    out = lib.empty((0, 0), dtype=X.dtype) if out is None else out

    def step(start, stop):
        gram_t = lib.matmul(candidates, X[start:stop].T)
        _potentials_gram_kernel[blocks, BLOCK_ROWS, launch.stream](
            gram_t, x_sq, c_sq, closest_sq, weights, start, out, store, partial
        )

    memory.for_each_chunk(n, tile_rows, step)
    return partial.sum(axis=0)


@cuda.jit(cache=NUMBA_CACHE)
def _update_kernel(X, center, closest_sq):
    """closest_sq[i] = min(closest_sq[i], |x_i - center|^2), one thread per row.

    X (n, d) C-contiguous, center (d,) and closest_sq (n,) in X's dtype.
    """
    i = cuda.grid(1)
    if i >= X.shape[0]:
        return
    acc = X.dtype.type(0)
    for f in range(X.shape[1]):
        diff = X[i, f] - center[f]
        acc += diff * diff
    if acc < closest_sq[i]:
        closest_sq[i] = acc


def potentials(X, x_sq, weights, candidates, closest_sq, out=None, c_sq=None):
    """Weighted k-means++ potential of each candidate centre, on the GPU.

    The signature is the CPU kernel's. Up to ``DIRECT_MAX_FEATURES``
    features each thread sums squared differences and the squared norms are
    not used; above, GEMM tiles rebuild the distances from them.

    Parameters
    ----------
    X : CuPy array (n, d), float32 or float64 (NumPy under the CUDA simulator)
    x_sq : array (n,) in X's dtype, squared row norms of X (GEMM path; None
        computes them)
    weights : array (n,) float64
    candidates : array (t, d) in X's dtype
    closest_sq : array (n,) in X's dtype
    out : array (t, n) C-contiguous in X's dtype and library, or None
        When given, receives every min(D_i, |x_i - c_j|^2).
    c_sq : array (t,) in X's dtype or None, the candidates' squared norms
        (GEMM path; None computes them)

    Returns
    -------
    array (t,) float64 in X's array library, computed on CuPy's current stream
    """
    launch = launch_for(X)
    lib = launch.lib
    X = lib.ascontiguousarray(X)
    candidates = lib.ascontiguousarray(candidates)
    if X.shape[1] > DIRECT_MAX_FEATURES and X.shape[0] and candidates.shape[0]:
        if x_sq is None:
            x_sq = (X * X).sum(axis=1)
        return _potentials_gemm(X, x_sq, weights, candidates, closest_sq, out, c_sq, launch)
    blocks = max(1, min(MAX_BLOCKS, n_blocks(X.shape[0], BLOCK_ROWS)))
    partial = lib.zeros((blocks, candidates.shape[0]), dtype=lib.float64)
    if X.shape[0] and candidates.shape[0]:
        _potentials_kernel[blocks, BLOCK_ROWS, launch.stream](
            X, weights, candidates, closest_sq,
            lib.empty((0, 0), dtype=X.dtype) if out is None else out, out is not None, partial,
        )
    return partial.sum(axis=0)


def update(X, x_sq, center, closest_sq, c_sq=None):
    """closest_sq = min(closest_sq, |x - center|^2) in place, on the GPU; returns closest_sq.

    X (n, d) CuPy (NumPy under the simulator), float32 or float64; center
    (d,) and closest_sq (n,) contiguous in X's dtype and library. The
    signature is the CPU kernel's; the squared norms ``x_sq`` and ``c_sq``
    are not used.
    """
    launch = launch_for(X)
    X = launch.lib.ascontiguousarray(X)
    if X.shape[0]:
        _update_kernel[n_blocks(X.shape[0], BLOCK_ROWS), BLOCK_ROWS, launch.stream](
            X, launch.lib.ascontiguousarray(center), closest_sq
        )
    return closest_sq
