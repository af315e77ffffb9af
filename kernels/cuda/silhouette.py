"""Per-label sums of pairwise distances on a CUDA GPU, the hot step of the silhouette.

Same result as ``kernels/cpu/silhouette.py``: for the query rows i of a block
and every label t, :math:`S_{it} = \\sum_{j: l_j = t} \\delta(x_i, x_j)`, with
:math:`\\delta(x_i, x_i) = 0` exactly and rows of negative label counted
nowhere. Rows are taken in chunks whose (chunk, n) Gram matrix fits in a
share of the free device memory; CuPy's matmul (cuBLAS) computes the Gram
tile, and a numba.cuda kernel turns it into distances and sums them per
label. The whole Gram matrix is computed rather than half of it: on a GPU
the GEMM is cheap next to the scatter, and the mirrored writes would need
global atomics across rows. As on the CPU, a squared distance below
``exact_below(dtype)`` times :math:`|x|^2 + |y|^2` (identical and nearly
identical rows, where the tile's rounding is as large as the distance) is
recomputed from the rows' differences in float64.
Reference: ``tests/kernels/reference.py::pairwise_sums``.

CuPy is imported inside the host functions only (through ``_launch``), so
the kernels compile (``numba.cuda.compile_ptx``) on a machine without CuPy or
a GPU, and under Numba's CUDA simulator the launcher takes NumPy arrays. The
distance is written out in both kernels rather than in a shared device
function: compiling a call to a device function asks for the current GPU.
"""

import math

from numba import cuda, float64

from .. import memory
from .._numba import NUMBA_CACHE
from ..cpu.silhouette import exact_below
from ..metric import SQEUCLIDEAN
from ..pairwise import centre
from ._launch import launch_for

# Labels whose sums fit in a block's shared memory (8 KiB of float64);
# beyond that the sums go straight to global memory with atomics.
SHARED_LABELS = 1024
THREADS_PER_BLOCK = 256
# Blocks launched per chunk at most; each block strides over the chunk's rows.
MAX_BLOCKS = 65535


@cuda.jit(cache=NUMBA_CACHE)
def _pairwise_sums_shared_kernel(X, gram, sq_norms, labels, row_start, metric, root, near, out):
    """One block per query row (grid-stride): threads stride over columns j,
    add :math:`\\delta(x_i, x_j)` to a shared per-label accumulator with
    shared-memory atomics, then write the row's sums to ``out``.

    X : (n, d) the rows as given; gram : (rows, n) Gram tile of the chunk's centred
    rows, sq_norms (n,) float64 their squared norms; labels (n,) int; out (rows,
    n_labels) float64 with n_labels <= SHARED_LABELS. A squared distance below
    ``near`` times :math:`|x|^2 + |y|^2` is recomputed from the rows of X.
    """
    acc = cuda.shared.array(SHARED_LABELS, float64)
    rows, n = gram.shape
    k = out.shape[1]
    tid = cuda.threadIdx.x
    for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        for t in range(tid, k, cuda.blockDim.x):
            acc[t] = 0.0
        cuda.syncthreads()
        i = row_start + r
        x_sq = sq_norms[i]
        for j in range(tid, n, cuda.blockDim.x):
            label_j = labels[j]
            if label_j < 0 or j == i:
                continue
            g = float64(gram[r, j])
            if metric == SQEUCLIDEAN:
                y_sq = sq_norms[j]
                dist = x_sq + y_sq - 2.0 * g
                if dist < near * (x_sq + y_sq):
                    # Too small for the Gram tile's rounding: from the differences.
                    dist = 0.0
                    for t in range(X.shape[1]):
                        v = float64(X[i, t]) - float64(X[j, t])
                        dist += v * v
                if root:
                    dist = math.sqrt(dist)
            else:
                dist = min(max(1.0 - g, 0.0), 2.0)
            cuda.atomic.add(acc, label_j, dist)
        cuda.syncthreads()
        for t in range(tid, k, cuda.blockDim.x):
            out[r, t] = acc[t]
        cuda.syncthreads()


@cuda.jit(cache=NUMBA_CACHE)
def _pairwise_sums_global_kernel(X, gram, sq_norms, labels, row_start, metric, root, near, out):
    """As the shared-memory kernel, for more labels than fit in shared memory:
    each thread adds its distances to ``out`` (zeroed first) with global atomics.
    """
    rows, n = gram.shape
    tid = cuda.threadIdx.x
    for r in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        i = row_start + r
        x_sq = sq_norms[i]
        for j in range(tid, n, cuda.blockDim.x):
            label_j = labels[j]
            if label_j < 0 or j == i:
                continue
            g = float64(gram[r, j])
            if metric == SQEUCLIDEAN:
                y_sq = sq_norms[j]
                dist = x_sq + y_sq - 2.0 * g
                if dist < near * (x_sq + y_sq):
                    # Too small for the Gram tile's rounding: from the differences.
                    dist = 0.0
                    for t in range(X.shape[1]):
                        v = float64(X[i, t]) - float64(X[j, t])
                        dist += v * v
                if root:
                    dist = math.sqrt(dist)
            else:
                dist = min(max(1.0 - g, 0.0), 2.0)
            cuda.atomic.add(out, (r, label_j), dist)


def _prepare_rows(lib, X, metric):
    """Centred rows for (sq)Euclidean, unit rows for cosine (in X's dtype), and
    their squared norms in float64; no float64 copy of X is made. ``lib`` is
    CuPy (NumPy under the simulator)."""
    if metric == SQEUCLIDEAN:
        Xp = X - centre(lib, X)
    else:
        norms = lib.sqrt(lib.sum(X * X, axis=1, dtype=lib.float64))
        inverse = 1.0 / lib.where(norms > 0.0, norms, 1.0)
        inverse[norms == 0.0] = 0.0
        Xp = X * inverse.astype(X.dtype)[:, None]
    Xp = lib.ascontiguousarray(Xp)
    sq_norms = lib.sum(Xp * Xp, axis=1, dtype=lib.float64)
    return Xp, sq_norms


def pairwise_sums(X, labels, n_labels, metric, root, start, stop):
    """Per-label distance sums for rows ``start:stop`` of X against all rows.

    Parameters
    ----------
    X : cupy.ndarray (n, d), float32 or float64 (NumPy under the simulator)
    labels : cupy.ndarray (n,), integer, values in [-1, n_labels)
    n_labels : int
    metric : int
        ``SQEUCLIDEAN`` or ``COSINE`` from ``kernels.metric``.
    root : bool
        Take the square root of the squared Euclidean distance.
    start, stop : int
        The block of query rows.

    Returns
    -------
    sums : (stop - start, n_labels) float64 array of X's kind, on X's device
    """
    launch = launch_for(X)
    lib = launch.lib
    out = lib.zeros((stop - start, n_labels), dtype=lib.float64)
    if stop <= start or n_labels == 0:
        return out
    Xp, sq_norms = _prepare_rows(lib, X, metric)
    X = lib.ascontiguousarray(X)
    near = exact_below(X.dtype)
    labels = lib.ascontiguousarray(labels, dtype=lib.int64)
    n = Xp.shape[0]
    kernel = (_pairwise_sums_shared_kernel if n_labels <= SHARED_LABELS
              else _pairwise_sums_global_kernel)
    # The Gram tile dominates a chunk's memory: one row of n entries in X's dtype.
    chunk = memory.row_chunk_size(stop - start, n * Xp.dtype.itemsize, device=launch.device)

    def step(lo, hi):
        gram = lib.matmul(Xp[start + lo:start + hi], Xp.T)
        blocks = min(hi - lo, MAX_BLOCKS)
        kernel[blocks, THREADS_PER_BLOCK, launch.stream](
            X, gram, sq_norms, labels, start + lo, metric, bool(root), near, out[lo:hi]
        )

    memory.for_each_chunk(stop - start, chunk, step)
    return out
