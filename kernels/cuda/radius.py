"""Exact radius neighbourhoods on the GPU, as CSR lists: matmul tiles plus count and fill kernels.

Row j of X is a neighbour of query row i when :math:`\\delta(q_i, x_j) \\le r`,
with the distances of ``kernels/cuda/knn.py`` (euclidean compares squared
distances with :math:`r^2`; a row's distance to itself is exactly 0, or 1
for a zero row under cosine).

Two passes over the same tiles as ``kernels/cuda/knn.py`` (query chunks of
``QUERY_CHUNK_ROWS``, data chunks from free memory, one ``X_chunk @
Q_chunk.T`` matmul each): ``_radius_count_kernel`` adds each query's
neighbours in the tile to its count; an exclusive cumulative sum of the
counts gives ``indptr``; ``_radius_fill_kernel`` then walks the same tiles and
writes indices from a per-row cursor. One thread per query row, columns in
ascending order, so each row's indices come out ascending.

The fill must see the distances the count saw, or a pair at the threshold
can flip between the sweeps. So the data chunks are sized once, before the
count sweep, and the fill replays the very tiles the count sweep used (same
GEMM shapes, hence the same cuBLAS algorithm and rounding), instead of
resizing them from the free memory left after ``indices`` is allocated. The
fill is also bounded: it never writes past its row's end (``indptr[i + 1]``)
and it counts what it found. Should the counts still differ (a chunk halved
on out-of-memory during the fill, or a GEMM that is not bitwise
reproducible), the fill's counts become the result's and the lists are
filled again from them, up to ``FILL_ATTEMPTS`` fills: every row is then
consistent with one sweep's distances, which differ from the other's only at
the threshold, within rounding. If no fill agrees with the counts it was
given, RuntimeError is raised rather than lists that disagree with their
counts.
Reference: ``tests/kernels/reference_neighbors.py::radius_neighbors``.
"""

from numba import cuda

from .. import memory
from .._numba import NUMBA_CACHE
from ..metric import COSINE
from ..pairwise import near_origin
from ._launch import launch_for, n_blocks
from .knn import MERGE_BLOCK_ROWS, QUERY_CHUNK_ROWS, norm_terms

# Fills tried before the lists are given up as irreproducible: the first
# follows the count sweep, each further one the counts the previous fill found.
FILL_ATTEMPTS = 3


@cuda.jit(cache=NUMBA_CACHE)
def _radius_count_kernel(gram_t, q_terms, x_terms, q0, x0, metric, threshold, self_query,
                         include_self, counts):
    """Add to ``counts[q0 + r]`` the columns of tile ``gram_t`` (cols, rows) within ``threshold``.

    gram_t[c, r] is :math:`x_{x0+c} \\cdot q_{q0+r}`, C-contiguous float32 or
    float64; the terms are float64 (``norm_terms``). One thread per query
    row; counts (m,) int64.
    """
    r = cuda.grid(1)
    cols = gram_t.shape[0]
    rows = gram_t.shape[1]
    if r >= rows:
        return
    i = q0 + r
    q_term = q_terms[i]
    count = 0
    for c in range(cols):
        j = x0 + c
        g = gram_t[c, r]
        if metric == COSINE:
            dist = 1.0 - g * q_term * x_terms[j]
        else:
            dist = q_term + x_terms[j] - 2.0 * g
        within = dist <= threshold
        if self_query and j == i:
            self_dist = 1.0 if (metric == COSINE and q_term == 0.0) else 0.0
            within = include_self and self_dist <= threshold
        if within:
            count += 1
    counts[i] += count


@cuda.jit(cache=NUMBA_CACHE)
def _radius_fill_kernel(gram_t, q_terms, x_terms, q0, x0, metric, threshold, self_query,
                        include_self, indptr, cursor, indices):
    """Write the indices of the columns of ``gram_t`` within ``threshold``, advancing ``cursor``.

    The same tile, terms and test as ``_radius_count_kernel``; indptr (m + 1,)
    int64 holds the rows' bounds, cursor (m,) int64 starts at ``indptr[:-1]``
    and indices (nnz,) int64 is the CSR column array. A neighbour past the
    row's end (``indptr[i + 1]``) is counted in ``cursor`` but not written, so
    the caller sees the overflow and nothing outside the row changes. One
    thread per query row.
    """
    r = cuda.grid(1)
    cols = gram_t.shape[0]
    rows = gram_t.shape[1]
    if r >= rows:
        return
    i = q0 + r
    q_term = q_terms[i]
    pos = cursor[i]
    end = indptr[i + 1]
    for c in range(cols):
        j = x0 + c
        g = gram_t[c, r]
        if metric == COSINE:
            dist = 1.0 - g * q_term * x_terms[j]
        else:
            dist = q_term + x_terms[j] - 2.0 * g
        within = dist <= threshold
        if self_query and j == i:
            self_dist = 1.0 if (metric == COSINE and q_term == 0.0) else 0.0
            within = include_self and self_dist <= threshold
        if within:
            if pos < end:
                indices[pos] = j
            pos += 1
    cursor[i] = pos


def radius_neighbors(X, queries, threshold, metric, include_self, return_lists):
    """Rows of X within ``threshold`` of every query row, on the GPU.

    Parameters
    ----------
    X : CuPy array (n, d), float32 or float64 (NumPy under the CUDA simulator)
    queries : array (m, d), same library and dtype, or None for X itself
    threshold : float >= 0
        The radius, squared for euclidean (the caller squares it).
    metric : int
        ``SQEUCLIDEAN`` or ``COSINE`` from ``kernels._numba``.
    include_self : bool
        With ``queries=None``, whether row i may list itself.
    return_lists : bool
        False: only the counts (one pass).

    Returns
    -------
    counts : array (m,) int64
    indptr : array (m + 1,) int64, only with ``return_lists``
    indices : array (nnz,) int64, ascending within each row, only with ``return_lists``
        In X's array library, computed on CuPy's current stream.

    Raises
    ------
    RuntimeError
        When no fill agrees with the counts it was given (see the module
        docstring); the lists are never returned inconsistent with the counts.
    """
    launch = launch_for(X)
    lib = launch.lib
    X, queries = near_origin(lib, X, queries, metric)  # rows far from the origin moved near it
    X = lib.ascontiguousarray(X)
    self_query = queries is None
    Q = X if self_query else lib.ascontiguousarray(queries)
    m, n = Q.shape[0], X.shape[0]
    counts = lib.zeros(m, dtype=lib.int64)
    indptr = lib.zeros(m + 1, dtype=lib.int64)
    if m == 0 or n == 0:
        return (counts, indptr, lib.empty(0, dtype=lib.int64)) if return_lists else counts
    x_terms = norm_terms(X, metric, launch)
    q_terms = x_terms if self_query else norm_terms(Q, metric, launch)
    threshold = float(threshold)

    def run_tile(kernel, q0, q1, x0, x1, *outputs):
        gram_t = lib.matmul(X[x0:x1], Q[q0:q1].T)
        rows = q1 - q0
        kernel[n_blocks(rows, MERGE_BLOCK_ROWS), MERGE_BLOCK_ROWS, launch.stream](
            gram_t, q_terms, x_terms, q0, x0, metric, threshold, self_query, include_self,
            *outputs,
        )

    # One chunking for both sweeps: sized once here, halved only on
    # out-of-memory, and every tile the count ran is recorded for the fill.
    chunk_rows = memory.row_chunk_size(
        n, min(m, QUERY_CHUNK_ROWS) * X.itemsize, device=launch.device
    )
    plan = []
    for q0 in range(0, m, QUERY_CHUNK_ROWS):
        q1 = min(m, q0 + QUERY_CHUNK_ROWS)
        tiles = []

        def count_step(x0, x1, q0=q0, q1=q1, tiles=tiles):
            run_tile(_radius_count_kernel, q0, q1, x0, x1, counts)
            tiles.append((x0, x1))

        chunk_rows = memory.for_each_chunk(n, chunk_rows, count_step)
        plan.append((q0, q1, tiles))
    if not return_lists:
        return counts

    for _attempt in range(FILL_ATTEMPTS):
        indptr[1:] = lib.cumsum(counts)
        # A host sync for the output size.
        indices = lib.empty(int(indptr[-1]), dtype=lib.int64)
        cursor = indptr[:-1].copy()
        _fill(plan, run_tile, indptr, cursor, indices)
        found = cursor - indptr[:-1]
        if bool(lib.array_equal(found, counts)):
            return counts, indptr, indices
        counts = found
    raise RuntimeError(
        f"radius_neighbors: {FILL_ATTEMPTS} fill sweeps in a row found other neighbours than "
        "the counts they were given; the distance tiles are not reproducible between sweeps "
        "on this device."
    )


def _fill(plan, run_tile, indptr, cursor, indices):
    """Replay the count sweep's tiles with the bounded fill kernel.

    A recorded tile runs whole (the same GEMM shape as in the count sweep);
    only an out-of-memory error splits it, and then the bounded fill and the
    caller's count check keep the result inside its rows.
    """
    for q0, q1, tiles in plan:
        for x0, x1 in tiles:

            def fill_step(a, b, q0=q0, q1=q1, x0=x0):
                run_tile(_radius_fill_kernel, q0, q1, x0 + a, x0 + b, indptr, cursor, indices)

            memory.for_each_chunk(x1 - x0, x1 - x0, fill_step)
