"""Weighted per-cluster sums and counts on the GPU with numba.cuda.

.. math:: S_j = \\sum_{i: l_i = j} w_i x_i, \\qquad W_j = \\sum_{i: l_i = j} w_i

Rows with a negative label (noise) are skipped. Accumulation is in float64
with atomic adds, so the result does not depend on the launch shape beyond
float64 rounding (the order of the adds is not fixed).
Reference: ``tests/kernels/reference.py::centroid_update``.
"""

import numpy as np
from numba import cuda, float64

from .._numba import NUMBA_CACHE
from ._launch import launch_for, n_blocks

# float64 entries of the per-block shared partial, at most (32 KiB): used
# when the n_clusters * (d + 1) sums and counts fit, so that threads of a
# block mostly collide in fast shared-memory atomics and each block adds to
# global memory once. Larger outputs spread the adds over so many addresses
# that global atomics rarely collide. To be tuned by benchmark on a GPU.
SHARED_PARTIAL_ENTRIES = 4096
BLOCK_THREADS = 256
# Blocks stride over the data, so each block's flush of its partial is paid
# once per many rows: a few blocks per SM (132 SMs on an H100).
MAX_BLOCKS = 1024


@cuda.jit(cache=NUMBA_CACHE)
def _centroid_update_kernel(X, labels, weights, n_clusters, use_shared, out):
    """Add ``w_i * X[i, t]`` to ``out[l_i * d + t]`` and ``w_i`` to ``out[n_clusters * d + l_i]``.

    X (n, d) is C-contiguous float32 or float64, labels (n,) any integer
    (outside [0, n_clusters) skipped), weights (n,) float or None for all
    ones; ``out`` is zeroed float64 of size n_clusters * (d + 1), sums then
    counts. A 1-D grid strides over the n * d elements of X, so consecutive
    threads read consecutive elements (coalesced) whatever d is, and adds
    them with float64 atomics. With ``use_shared`` the launch gives each
    block dynamic shared memory for a partial copy of ``out``: the block
    zeroes it, accumulates into it, then adds it to ``out`` with one global
    atomic per entry. One kernel with a flag rather than two sharing a
    device function: compiling a call to a device function asks for the
    current GPU, so ``compile_ptx`` would fail on machines without one.
    """
    partial = cuda.shared.array(0, float64)
    n, d = X.shape
    size = out.shape[0]
    if use_shared:
        for e in range(cuda.threadIdx.x, size, cuda.blockDim.x):
            partial[e] = 0.0
        cuda.syncthreads()
    target = partial if use_shared else out
    for e in range(cuda.grid(1), n * d, cuda.gridsize(1)):
        i = e // d
        t = e - i * d
        j = labels[i]
        if j < 0 or j >= n_clusters:
            continue
        w = 1.0 if weights is None else float64(weights[i])
        cuda.atomic.add(target, j * d + t, w * X[i, t])
        if t == 0:
            cuda.atomic.add(target, n_clusters * d + j, w)
    if use_shared:
        cuda.syncthreads()
        for e in range(cuda.threadIdx.x, size, cuda.blockDim.x):
            cuda.atomic.add(out, e, partial[e])


def centroid_update(X, labels, weights, n_clusters):
    """Per-cluster weighted sums and total weights, on the GPU.

    Parameters
    ----------
    X : CuPy array (n, d), float32 or float64 (NumPy under the CUDA simulator);
        made C-contiguous by a copy if it is not
    labels : array (n,), integer; entries < 0 (and >= n_clusters) are skipped
    weights : array (n,), float, or None for all ones
    n_clusters : int

    Returns
    -------
    sums : array (n_clusters, d) float64
    counts : array (n_clusters,) float64
        Both in X's array library, computed on CuPy's current stream.
    """
    launch = launch_for(X)
    X = launch.lib.ascontiguousarray(X)
    d = X.shape[1]
    out = launch.lib.zeros(n_clusters * (d + 1), dtype=np.float64)
    if X.size > 0:
        use_shared = out.shape[0] <= SHARED_PARTIAL_ENTRIES
        shared_bytes = out.nbytes if use_shared else 0
        blocks = min(n_blocks(X.size, BLOCK_THREADS), MAX_BLOCKS)
        _centroid_update_kernel[blocks, BLOCK_THREADS, launch.stream, shared_bytes](
            X, labels, weights, n_clusters, use_shared, out
        )
    return out[: n_clusters * d].reshape(n_clusters, d), out[n_clusters * d :]
