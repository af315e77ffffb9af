"""Exact k nearest neighbours in few dimensions by the KD-tree's arithmetic over all rows.

The brute-force companion of ``kdtree.knn`` for the (squared) Euclidean
metrics with at most ``kdtree.KDTREE_MAX_FEATURES`` features, where the tree
does not pay (``knn.search_path``): every query measures every row of X,
with the tree's exact float64 sums of squared coordinate differences, summed
over the features in the same order, so each distance is the tree's to the
last bit. Each row's k smallest (squared distance, index) pairs are then
selected (the k-th distance by a partition, the rows below it and the
lowest-indexed rows at it, sorted stably by distance), so the neighbours,
their order and ties to the lower index are those of the tree.

X is held transposed in float64, one feature per row, so that adding one
feature's squared differences to all n running sums is a loop over
contiguous memory that vectorises without changing any sum's order. Work
O(m n d), memory O(n d) besides the output, plus O(n) per parallel task.
"""

import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE

# Queries per parallel task.
QUERY_BLOCK = 64


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
            for j in range(n):
                sums[j] = 0.0
            for q in range(d):
                x = np.float64(Q[i, q])
                column = columns[q]
                for j in range(n):
                    diff = x - column[j]
                    sums[j] += diff * diff
            _select(sums, i if (self_query and exclude_self) else -1, k, values, rows)
            for c in range(k):
                distances[i, c] = np.sqrt(values[c]) if root else values[c]
                indices[i, c] = rows[c]


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
