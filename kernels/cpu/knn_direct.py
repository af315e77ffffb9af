"""Exact neighbour searches in few dimensions by the KD-tree's arithmetic over all rows.

The brute-force companion of ``kdtree.knn`` and ``kdtree.radius_neighbors``
for the (squared) Euclidean metrics with at most ``kdtree.KDTREE_MAX_FEATURES``
features, where the tree does not pay (``knn.search_path``,
``radius.search_path``): every query measures every row of X, with the
tree's exact float64 sums of squared coordinate differences, summed over the
features in the same order, so each distance is the tree's to the last bit.
For knn each row's k smallest (squared distance, index) pairs are then
selected (the k-th distance by a partition, the rows below it and the
lowest-indexed rows at it, sorted stably by distance), so the neighbours,
their order and ties to the lower index are those of the tree. The radius
search lists the rows within the threshold in ascending order, through the
tree's buffered block search (``kdtree.radius_lists``): the tree's counts
and lists.

X is held transposed in float64, one feature per row, so that adding one
feature's squared differences to all n running sums is a loop over
contiguous memory that vectorises without changing any sum's order. Work
O(m n d), memory O(n d) besides the output, plus O(n) per parallel task.
"""

import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE
from . import kdtree

# Queries per parallel task.
QUERY_BLOCK = 64
# Rows of X the radius search's queries go through at a time (passed to the
# kernel as an argument, so that tests can shrink it): 512 rows of
# 16 features are 64 KiB of columns, held in cache while a task's queries
# pass. Count pass, 4,000 uniform queries (load 6-7 on 2 cores), one query
# through all of X at a time / 256 rows / 1,024 / 4,096: n = 10,000 d = 2
# 70 / 49 / 47 / 68 ms, d = 16 389 / 222 / 236 / 320 ms; n = 200,000 d = 5
# 3.0 / 1.9 / 2.0 / 2.7 s, d = 16 14.8 / 3.5 / 3.6 / 5.4 s.
CHUNK_ROWS = 512


@njit(cache=NUMBA_CACHE)
def _squared_distances(columns, Q, i, j0, j1, sums):
    """The squared distances of query row i of Q to rows j0..j1 of X (``columns``, X
    transposed in float64), into ``sums[:j1 - j0]``: the tree's sums, feature by feature."""
    width = j1 - j0
    for j in range(width):
        sums[j] = 0.0
    for q in range(columns.shape[0]):
        x = np.float64(Q[i, q])
        column = columns[q, j0:j1]
        for j in range(width):
            diff = x - column[j]
            sums[j] += diff * diff


@njit(cache=NUMBA_CACHE)
def _select(sums, skip, k, values, rows):
    """The k smallest (sums[j], j), j != skip, ascending by sum then index, into values and rows."""
    n = sums.shape[0]
    others = np.empty(n - (1 if skip >= 0 else 0))
    c = 0
    for j in range(n):
        if j != skip:
            others[c] = sums[j]
            c += 1
    kth = np.partition(others, k - 1)[k - 1]
    picked = np.empty(k, dtype=np.int64)
    c = 0
    for j in range(n):
        if j != skip and sums[j] < kth:
            picked[c] = j
            c += 1
    for j in range(n):
        if c == k:
            break
        if j != skip and sums[j] == kth:
            picked[c] = j
            c += 1
    picked_sums = np.empty(k)
    for c in range(k):
        picked_sums[c] = sums[picked[c]]
    order = np.argsort(picked_sums, kind="mergesort")
    for c in range(k):
        values[c] = picked_sums[order[c]]
        rows[c] = picked[order[c]]


@njit(parallel=True, cache=NUMBA_CACHE)
def _knn_direct(columns, Q, self_query, exclude_self, root, block, distances, indices):
    """Top-k (k = distances.shape[1]) of every query row of Q over the rows of X.

    ``columns`` is X transposed, in float64 (d, n); Q (m, d) holds the queries
    (X itself with ``self_query``, whose row i then skips itself with
    ``exclude_self``).
    """
    d, n = columns.shape
    k = distances.shape[1]
    m = Q.shape[0]
    n_blocks = (m + block - 1) // block
    for b in prange(n_blocks):
        sums = np.empty(n)
        values = np.empty(k)
        rows = np.empty(k, dtype=np.int64)
        for i in range(b * block, min(m, (b + 1) * block)):
            _squared_distances(columns, Q, i, 0, n, sums)
            _select(sums, i if (self_query and exclude_self) else -1, k, values, rows)
            for c in range(k):
                distances[i, c] = np.sqrt(values[c]) if root else values[c]
                indices[i, c] = rows[c]


@njit(parallel=True, cache=NUMBA_CACHE)
def _radius_direct(columns, Q, self_query, include_self, threshold, block, chunk, blocks, fill,
                   slots, buffer, full, counts, indptr, indices):
    """The neighbours (squared distance <= ``threshold``) of the queries of ``blocks``.

    ``columns`` as in ``_knn_direct``; query i is row i of Q (X itself with
    ``self_query``, whose row i then skips itself unless ``include_self``),
    ``block`` queries a task. The task's queries go through X ``chunk``
    rows at a time, so the chunk's columns stay in cache between them; each
    query's neighbours come out ascending. Without ``fill``: count them into
    ``counts`` and keep query i's first ``slots`` in ``buffer[i * slots:]``,
    marking ``full[b]`` when they do not fit. With ``fill``: write them to
    ``indices`` at ``indptr``.
    """
    n = columns.shape[1]
    m = Q.shape[0]
    for bb in prange(blocks.shape[0]):
        b = blocks[bb]
        i0 = b * block
        i1 = min(m, i0 + block)
        sums = np.empty(chunk)
        found = np.empty(i1 - i0, dtype=np.int64)
        for i in range(i0, i1):
            found[i - i0] = indptr[i] if fill else 0
        for j0 in range(0, n, chunk):
            j1 = min(n, j0 + chunk)
            for i in range(i0, i1):
                _squared_distances(columns, Q, i, j0, j1, sums)
                hits = 0
                for j in range(j1 - j0):
                    hits += sums[j] <= threshold
                if hits == 0:
                    continue
                skip = i - j0 if (self_query and not include_self) else -1
                pos = found[i - i0]
                for j in range(j1 - j0):
                    if sums[j] <= threshold and j != skip:
                        if fill:
                            indices[pos] = j0 + j
                        elif pos < slots:
                            buffer[i * slots + pos] = j0 + j
                        else:
                            full[b] = True
                        pos += 1
                found[i - i0] = pos
        if not fill:
            for i in range(i0, i1):
                counts[i] = found[i - i0]


@njit(parallel=True, cache=NUMBA_CACHE)
def _copy_slots(block, slots, buffer, full, counts, indptr, indices):
    """Move the buffered neighbours of the queries of every block that fit into ``indices``."""
    m = counts.shape[0]
    for b in prange(full.shape[0]):
        if full[b]:
            continue
        for i in range(b * block, min(m, (b + 1) * block)):
            indices[indptr[i]:indptr[i + 1]] = buffer[i * slots:i * slots + counts[i]]


def knn(X, queries, k, root, exclude_self):
    """``cpu.knn.knn`` for the (squared) Euclidean metric, over all rows; k >= 1, n >= 1."""
    self_query = queries is None
    Q = X if self_query else queries
    distances = np.empty((Q.shape[0], k), dtype=X.dtype)
    indices = np.empty((Q.shape[0], k), dtype=np.int64)
    columns = np.ascontiguousarray(X.T, dtype=np.float64)
    _knn_direct(columns, Q, self_query, self_query and exclude_self, root, QUERY_BLOCK,
                distances, indices)
    return distances, indices


def radius_neighbors(X, queries, threshold, include_self, return_lists):
    """``kdtree.radius_neighbors`` over all rows: the same counts and lists; n, m >= 1.

    One pass over X per query where its neighbours fit its ``BUFFER_PER_QUERY``
    slots of a buffer (the tree's, and at most its ``BUFFER_ENTRIES`` in all);
    the blocks holding a query that overflowed pass again to fill their rows.
    """
    self_query = queries is None
    Q = X if self_query else queries
    m = Q.shape[0]
    columns = np.ascontiguousarray(X.T, dtype=np.float64)
    threshold = float(threshold)
    counts = np.zeros(m, dtype=np.int64)
    indptr = np.zeros(m + 1, dtype=np.int64)
    n_blocks = -(-m // QUERY_BLOCK)
    slots = min(kdtree.BUFFER_PER_QUERY, kdtree.BUFFER_ENTRIES // m) if return_lists else 0
    buffer = np.empty(m * slots, dtype=np.int64)
    full = np.zeros(n_blocks, dtype=np.bool_)
    _radius_direct(columns, Q, self_query, include_self, threshold, QUERY_BLOCK, CHUNK_ROWS,
                   np.arange(n_blocks, dtype=np.int64), False, slots, buffer, full, counts,
                   indptr, np.empty(0, dtype=np.int64))
    if not return_lists:
        return counts
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(int(indptr[-1]), dtype=np.int64)
    _copy_slots(QUERY_BLOCK, slots, buffer, full, counts, indptr, indices)
    overflowed = np.flatnonzero(full)
    if overflowed.shape[0]:
        _radius_direct(columns, Q, self_query, include_self, threshold, QUERY_BLOCK,
                       CHUNK_ROWS, overflowed, True, slots, buffer, full, counts, indptr, indices)
    return counts, indptr, indices
