"""Exact k nearest neighbours on the GPU: matmul tiles plus a top-k merge kernel.

Distances as in ``kernels/cpu/knn.py``: :math:`|q|^2 - 2 q \\cdot x + |x|^2`
clipped at 0 (its square root for euclidean) or :math:`1 - q \\cdot x/(|q||x|)`
(1 against a zero row), ascending, ties to the lower index; with
``self_query`` a row's distance to itself is exactly 0 (1 for a zero row
under cosine).

Queries go in chunks of ``QUERY_CHUNK_ROWS``; for each, the data rows go in
chunks sized from free memory (``memory.row_chunk_size``, halved on
out-of-memory by ``memory.for_each_chunk``). Each (data chunk, query chunk)
pair is one matmul, ``Q_chunk @ X_chunk.T`` of shape (rows, cols). The merge
works per block, not per thread: one block of ``MERGE_THREADS`` threads per
query row keeps the row's top-k in shared memory; the threads read
``MERGE_THREADS`` consecutive columns of the row at a time (coalesced), count
with ``syncthreads_count`` the candidates strictly nearer than the current
k-th, and insert those one at a time in ascending column order, each thread
moving its own slot (after equal distances, so ties keep the lower index).
The top-k goes back to the (m, k) float64 running arrays between chunks.
(One thread per query, as before, used about 12 % of an H100's threads and
kept k slots in local memory.)

Above ``KNN_MAX_K`` neighbours (one slot per thread of a block) a larger k
takes the array-library path: the chunk's distances are concatenated to the
running top-k and a stable argsort keeps the first k (earlier columns have
lower indices, so stability keeps ties at the lower index).
Reference: ``tests/kernels/reference_neighbors.py::knn``.
"""

import math

import numpy as np
from numba import cuda
from numba import types as nt

from .. import memory
from .._numba import NUMBA_CACHE
from ..metric import COSINE
from ..pairwise import near_origin
from ._launch import launch_for

# Largest k of the merge kernel: one slot per thread of a merge block, whose
# MERGE_THREADS threads (two warps) hold the row's top-k in 1.5 KiB of shared memory.
MERGE_THREADS = 64
KNN_MAX_K = 64
# Query rows per chunk: one merge thread each, enough to fill an H100 several
# times over, while their (cols, rows) matmul tile stays a fraction of memory.
QUERY_CHUNK_ROWS = 32768
# Threads per block of the one-thread-per-row kernels that share this chunking (radius).
MERGE_BLOCK_ROWS = 128


def norm_terms(A, metric, launch):
    """Per-row float64 term of the expanded distance: |a|^2, or 1/|a| (0 for a zero row) for cosine.

    Computed in row chunks so that the float64 copy never holds all of A.
    """
    lib = launch.lib
    m = A.shape[0]
    out = lib.empty(m, dtype=lib.float64)
    chunk = memory.row_chunk_size(m, 2 * A.shape[1] * 8, device=launch.device)

    def step(start, stop):
        rows = A[start:stop].astype(lib.float64)
        out[start:stop] = lib.sum(rows * rows, axis=1)

    memory.for_each_chunk(m, chunk, step)
    if metric == COSINE:
        positive = out > 0
        out = lib.where(positive, 1.0 / lib.sqrt(lib.where(positive, out, 1.0)), 0.0)
    return out


@cuda.jit(cache=NUMBA_CACHE)
def _knn_merge_kernel(gram, q_terms, x_terms, q0, x0, metric, self_query, exclude_self,
                      best, best_j):
    """Merge a tile ``gram`` (rows, cols) of inner products into the running top-k.

    gram[r, c] is :math:`q_{q0+r} \\cdot x_{x0+c}` (C-contiguous, float32 or
    float64); q_terms / x_terms are the float64 per-row terms of
    ``norm_terms`` for all queries and all rows of X. best (m, k) float64 and
    best_j (m, k) int64 hold each query's sorted top-k (inf and -1 where
    empty), k <= ``MERGE_THREADS``. One block per query row of the tile.
    """
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    rows = gram.shape[0]
    cols = gram.shape[1]
    if r >= rows:
        return
    i = q0 + r
    k = best.shape[1]
    top_d = cuda.shared.array(MERGE_THREADS, nt.float64)
    top_j = cuda.shared.array(MERGE_THREADS, nt.int64)
    cand_d = cuda.shared.array(MERGE_THREADS, nt.float64)
    if t < k:
        top_d[t] = best[i, t]
        top_j[t] = best_j[i, t]
    cuda.syncthreads()
    q_term = q_terms[i]
    for c0 in range(0, cols, MERGE_THREADS):
        c = c0 + t
        dist = math.inf
        if c < cols:
            j = x0 + c
            g = gram[r, c]
            if metric == COSINE:
                dist = 1.0 - g * q_term * x_terms[j]
            else:
                dist = q_term + x_terms[j] - 2.0 * g
            dist = max(dist, 0.0)
            if self_query and j == i:
                if exclude_self:
                    dist = math.inf
                else:
                    dist = 1.0 if (metric == COSINE and q_term == 0.0) else 0.0
        cand_d[t] = dist
        n_candidates = cuda.syncthreads_count(1 if dist < top_d[k - 1] else 0)
        if n_candidates > 0:
            for s in range(MERGE_THREADS):
                d_s = cand_d[s]
                # Every thread reads the same shared values: a uniform branch.
                if d_s < top_d[k - 1]:
                    new_d = 0.0
                    new_j = -1
                    moved = False
                    if t < k and top_d[t] > d_s:
                        moved = True
                        if t == 0 or top_d[t - 1] <= d_s:
                            new_d = d_s
                            new_j = x0 + c0 + s
                        else:
                            new_d = top_d[t - 1]
                            new_j = top_j[t - 1]
                    cuda.syncthreads()
                    if moved:
                        top_d[t] = new_d
                        top_j[t] = new_j
                    cuda.syncthreads()
        cuda.syncthreads()
    if t < k:
        best[i, t] = top_d[t]
        best_j[i, t] = top_j[t]


def _merge_by_sort(gram, q_terms, x_terms, q0, x0, metric, self_query, exclude_self,
                   best, best_j, lib):
    """The large-k path: the same merge as ``_knn_merge_kernel`` with array operations."""
    rows, cols = gram.shape
    g = gram.astype(lib.float64)
    q = q_terms[q0:q0 + rows, None]
    x = x_terms[None, x0:x0 + cols]
    dist = 1.0 - g * q * x if metric == COSINE else q + x - 2.0 * g
    dist = lib.maximum(dist, 0.0)
    columns = lib.arange(x0, x0 + cols, dtype=lib.int64)
    if self_query:
        queries = lib.arange(q0, q0 + rows, dtype=lib.int64)[:, None]
        is_self = queries == columns[None, :]
        self_dist = 0.0 if metric != COSINE else lib.where(q == 0.0, 1.0, 0.0)
        dist = lib.where(is_self, lib.inf if exclude_self else self_dist, dist)
    all_dist = lib.concatenate([best[q0:q0 + rows], dist], axis=1)
    all_index = lib.concatenate(
        [best_j[q0:q0 + rows], lib.broadcast_to(columns, (rows, cols))], axis=1
    )
    # CuPy's argsort is always stable; NumPy's (the simulator) must be asked.
    order = (np.argsort(all_dist, axis=1, kind="stable") if lib is np
             else lib.argsort(all_dist, axis=1))[:, :best.shape[1]]
    best[q0:q0 + rows] = lib.take_along_axis(all_dist, order, axis=1)
    best_j[q0:q0 + rows] = lib.take_along_axis(all_index, order, axis=1)


def knn(X, queries, k, metric, root, exclude_self):
    """The k nearest rows of X to every query row, on the GPU.

    Parameters
    ----------
    X : CuPy array (n, d), float32 or float64 (NumPy under the CUDA simulator)
    queries : array (m, d), same library and dtype, or None for X itself
    k : int, 0 <= k <= n (n - 1 when ``exclude_self``); validated by the caller
    metric : int
        ``SQEUCLIDEAN`` or ``COSINE`` from ``kernels._numba``.
    root : bool
        Return square roots (euclidean).
    exclude_self : bool
        With ``queries=None``, row i is not a neighbour of itself.

    Returns
    -------
    distances : array (m, k) in X's dtype, ascending per row
    indices : array (m, k) int64, ties to the lower index
        Both in X's array library, computed on CuPy's current stream.
    """
    launch = launch_for(X)
    lib = launch.lib
    X, queries = near_origin(lib, X, queries, metric)  # rows far from the origin moved near it
    X = lib.ascontiguousarray(X)
    self_query = queries is None
    Q = X if self_query else lib.ascontiguousarray(queries)
    m, n = Q.shape[0], X.shape[0]
    if m == 0 or k == 0:
        return lib.empty((m, k), dtype=X.dtype), lib.empty((m, k), dtype=lib.int64)
    x_terms = norm_terms(X, metric, launch)
    q_terms = x_terms if self_query else norm_terms(Q, metric, launch)
    best = lib.full((m, k), lib.inf, dtype=lib.float64)
    best_j = lib.full((m, k), -1, dtype=lib.int64)
    use_kernel = k <= min(KNN_MAX_K, MERGE_THREADS)
    for q0 in range(0, m, QUERY_CHUNK_ROWS):
        q1 = min(m, q0 + QUERY_CHUNK_ROWS)
        Q_chunk = Q[q0:q1]
        rows = q1 - q0
        # One data row of a chunk holds `rows` inner products (and, on the
        # sort path, float64 distances and candidates besides).
        per_row = rows * (X.itemsize if use_kernel else X.itemsize + 24)
        chunk_rows = memory.row_chunk_size(n, per_row, device=launch.device)

        def step(x0, x1, q0=q0, Q_chunk=Q_chunk, rows=rows):
            gram = launch.lib.matmul(Q_chunk, X[x0:x1].T)
            if use_kernel:
                _knn_merge_kernel[rows, MERGE_THREADS, launch.stream](
                    gram, q_terms, x_terms, q0, x0, metric, self_query, exclude_self,
                    best, best_j,
                )
            else:
                _merge_by_sort(gram, q_terms, x_terms, q0, x0, metric, self_query,
                               exclude_self, best, best_j, lib)

        memory.for_each_chunk(n, chunk_rows, step)
    if root:
        best = lib.sqrt(best)
    return best.astype(X.dtype), best_j
