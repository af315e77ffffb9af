"""Exact k nearest neighbours on the CPU, by brute-force GEMM tiles.

For every query row :math:`q_i` find the k rows :math:`x_j` of X with the
smallest :math:`\\delta(q_i, x_j)`, ascending, ties to the lower index, where
:math:`\\delta` is

.. math:: |q|^2 - 2\\, q \\cdot x + |x|^2 \\;(\\text{sqeuclidean, clipped at 0}),
          \\qquad 1 - \\frac{q \\cdot x}{|q|\\,|x|} \\;(\\text{cosine; 1 against a zero row}),

or the square root of the first (euclidean). The inner products come from a
single-threaded BLAS GEMM per (query tile, data tile) pair, so the (m, n)
distance matrix never exists: memory is O(tile rows * (k + data tile rows))
per thread. Each thread owns whole query tiles (``prange``) and merges every
data tile into a k-long sorted buffer per query (insertion; a candidate must
be strictly nearer than the current k-th to get in, and data tiles are
visited in ascending index order, so ties keep the lower index). From
``HEAP_MIN_K`` neighbours the buffer is a max-heap on (distance, index),
sorted at the end: the same candidates, O(log k) an insertion.

Distances are formed in float64 from the tile's inner products and float64
norms; for float32 input the GEMM itself is float32, so distances carry the
usual ``eps32 * |x|^2`` cancellation error of the expanded form. With
``self_query`` the distance of a row to itself is set to exactly 0 (1 for a
zero row under cosine), which the expanded form only approximates.
With at most ``kdtree.KDTREE_MAX_FEATURES`` features and a Euclidean metric
the search takes exact float64 distances from coordinate differences, with
the same ordering and ties: through a KD-tree (``kdtree.py``), or, where the
tree does not pay (many neighbours a row, few queries; ``search_path``),
over all rows by the tree's arithmetic (``knn_direct.py``), which finds
the tree's neighbours and distances to the last bit.
Reference: ``tests/kernels/reference_neighbors.py::knn``.
"""

import contextlib

import numba
import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE, one_thread, single_threaded_blas
from ..metric import COSINE
from ..pairwise import near_origin
from . import kdtree, knn_direct
from .assign import row_sq_norms

# Query rows per tile (one prange task) and data rows per GEMM tile: a
# (128, 1024) tile of inner products is 1 MiB in float64, about an L2 cache,
# and is read back once by the merge. At most QUERY_TILE_ROWS, fewer when
# that keeps every thread busy (at least MIN_TILE_ROWS).
QUERY_TILE_ROWS = 128
MIN_TILE_ROWS = 16
DATA_TILE_ROWS = 1024
# From this many neighbours a row the GEMM tiles keep them in a heap (see
# ``_knn_tiles``). Sorted buffer time / heap time, one thread, 500 queries
# among make_blobs and standard normal float32 rows, 5,000 x 32 and 20,000 x
# 64: k=4-16 0.96-1.08, k=32-64 0.89-0.98, k=128 1.00-1.06, k=256 1.30-1.47,
# k=1,500 4.9-5.5 (estimate_bandwidth's k at 5,000 rows).
HEAP_MIN_K = 128
# The KD-tree loses to the direct search (``search_path``) when many
# neighbours per row are asked: it keeps a row's k best in a sorted buffer,
# so its cost grows as k^2, where the direct search's grows as n + k log k;
# k / sqrt(n) decides. Tree time / direct time, one thread each (a busy
# machine's barriers would blur two), 300 queries among n = 500, 2,000,
# 5,000, 20,000 rows of make_blobs(centers=5), standard normal and uniform
# float32 rows in 2, 5, 8 and 16 features: k / sqrt(n) up to 1.1 (k = 15 to
# 150): 0.10-0.53 in 2-5 features, 0.26-2.3 in 8-16 (above 1 only on
# normal and uniform rows in 8 and 16, where the tree visits nearly every
# row whatever k); 2.1-3.5: 0.34-1.8; 6.7-7.1: 0.94-3.4; 10.6-42: 1.6-28.
# Through the tree, estimate_bandwidth on 5,000 x 16 (k = 1,500) took 11-13 s.
TREE_MAX_K_PER_ROOT_N = 4.0
# The tree's O(n log n) build pays only over enough queries. Tree / direct,
# one thread, make_blobs rows in 8 features, k=15, load 5 on 2 cores:
# n=5,000: 1 query 6.8 / 0.10 ms, 10: 2.8 / 0.66 ms, 100: 7.7 / 11 ms;
# n=20,000: 10 queries 29 / 2.9 ms, 100: 48 / 75 ms; n=100,000: 10 queries
# 546 / 28 ms, 100: 289 / 351 ms.
TREE_MIN_QUERIES = 64
# Up to this many rows x queries the GEMM tiles run on one thread
# (``gemm_on_one_thread``): on busy cores the barrier ending the parallel
# loop waits for a thread the system has not scheduled. One thread / two,
# mean of 21 alternating calls, 64 features float32, k=16, 2 shared cores;
# rows x queries: at load 2.2; at load 3 (two busy-loop processes), two
# runs: 100 x 100 1.11; 0.73, 0.21. 250 x 250 1.41; 1.22, 0.25. 500 x 250
# 1.12; 0.20, 0.52. 500 x 500 (a dask chunk pair) 1.34 (1.77 against 1.32
# ms); 0.10 (2.2 against 21.9 ms), 0.58. 1,000 x 500 1.64; 0.16, 0.15.
# 1,000 x 1,000 1.74; 1.03, 0.40. 5,000 x 5,000 1.77; 1.20, 0.99. Up to
# here one thread costs at most half a millisecond at load 2.2.
SERIAL_MAX_PAIRS = 2**18


def query_tile_rows(m):
    """Query rows per prange task: up to QUERY_TILE_ROWS, fewer so that all threads get work."""
    per_thread = -(-m // (4 * numba.get_num_threads()))
    return max(MIN_TILE_ROWS, min(QUERY_TILE_ROWS, per_thread))


def search_path(X, m, k, metric):
    """How ``knn`` searches m queries for their k nearest rows of X (n, d): "tree"
    (``kdtree.knn``), "direct" (``knn_direct.knn``: the tree's distances, over all
    rows) or "gemm" (the GEMM tiles, for the other metrics and more features)."""
    if not kdtree.usable(X, metric == COSINE):
        return "gemm"
    if m < TREE_MIN_QUERIES or k > TREE_MAX_K_PER_ROOT_N * np.sqrt(X.shape[0]):
        return "direct"
    return "tree"


def gemm_on_one_thread(n, m):
    """Whether the GEMM tiles search m queries among n rows on one thread (``SERIAL_MAX_PAIRS``)."""
    return n * m <= SERIAL_MAX_PAIRS


def norm_terms(A, metric):
    """Per-row float64 term of the expanded distance: |a|^2, or 1/|a| (0 for a zero row) for cosine."""
    sq = row_sq_norms(A)
    if metric != COSINE:
        return sq
    out = np.zeros_like(sq)
    np.divide(1.0, np.sqrt(sq), out=out, where=sq > 0)
    return out


@njit(cache=NUMBA_CACHE)
def _tile_distance(g, c, x0, q_term, x_terms, metric):
    """The distance of column c of one row of inner products ``g``, clipped at 0."""
    if metric == COSINE:
        dist = 1.0 - g[c] * q_term * x_terms[x0 + c]
    else:
        dist = q_term + x_terms[x0 + c] - 2.0 * g[c]
    return max(dist, 0.0)


@njit(cache=NUMBA_CACHE)
def _merge_range(g, c0, c1, x0, q_term, x_terms, metric, best, best_j):
    """Merge columns c0..c1 of one row of inner products ``g`` into the sorted top-k buffer."""
    k = best.shape[0]
    worst = best[k - 1]
    for c in range(c0, c1):
        dist = _tile_distance(g, c, x0, q_term, x_terms, metric)
        if dist < worst:
            pos = k - 1
            while pos > 0 and best[pos - 1] > dist:
                best[pos] = best[pos - 1]
                best_j[pos] = best_j[pos - 1]
                pos -= 1
            best[pos] = dist
            best_j[pos] = x0 + c
            worst = best[k - 1]


@njit(cache=NUMBA_CACHE)
def _insert(dist, j, best, best_j):
    """Insert one candidate into a sorted top-k buffer (after equal distances)."""
    k = best.shape[0]
    if not dist < best[k - 1]:
        return
    pos = k - 1
    while pos > 0 and best[pos - 1] > dist:
        best[pos] = best[pos - 1]
        best_j[pos] = best_j[pos - 1]
        pos -= 1
    best[pos] = dist
    best_j[pos] = j


@njit(cache=NUMBA_CACHE)
def _heap_replace(dist, j, best, best_j, size):
    """Put (dist, j) in place of the top of the max-heap ``best[:size]`` on (distance, index)."""
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        right = child + 1
        if right < size and (best[right] > best[child]
                             or (best[right] == best[child] and best_j[right] > best_j[child])):
            child = right
        if best[child] > dist or (best[child] == dist and best_j[child] > j):
            best[pos] = best[child]
            best_j[pos] = best_j[child]
            pos = child
        else:
            break
    best[pos] = dist
    best_j[pos] = j


@njit(cache=NUMBA_CACHE)
def _heap_merge_range(g, c0, c1, x0, q_term, x_terms, metric, best, best_j):
    """``_merge_range`` into a max-heap on (distance, index): the same k candidates are kept."""
    k = best.shape[0]
    for c in range(c0, c1):
        dist = _tile_distance(g, c, x0, q_term, x_terms, metric)
        if dist < best[0]:
            _heap_replace(dist, x0 + c, best, best_j, k)


@njit(cache=NUMBA_CACHE)
def _heap_sort(best, best_j):
    """Sort a max-heap on (distance, index) ascending, in place."""
    for end in range(best.shape[0] - 1, 0, -1):
        dist, j = best[end], best_j[end]
        best[end], best_j[end] = best[0], best_j[0]
        _heap_replace(dist, j, best, best_j, end)


@njit(parallel=True, cache=NUMBA_CACHE)
def _knn_tiles(Q, X, q_terms, x_terms, k, metric, root, self_query, exclude_self,
               tile_q, tile_x, heap, distances, indices):
    """Top-k of every query row over all rows of X, written to ``distances`` and ``indices``.

    Q (m, d) and X (n, d) are C-contiguous with one dtype; the caller limits
    BLAS to one thread (each prange task runs its own GEMM). ``root`` takes
    the square root at the end (euclidean). With ``heap`` each row's k best
    are kept in a max-heap on (distance, index), sorted at the end, instead
    of a sorted buffer: the same candidates in the same order, for O(log k)
    an insertion instead of O(k).
    """
    m = Q.shape[0]
    n = X.shape[0]
    n_tiles = (m + tile_q - 1) // tile_q
    for t in prange(n_tiles):
        q0 = t * tile_q
        q1 = min(m, q0 + tile_q)
        rows = q1 - q0
        best = np.full((rows, k), np.inf)
        best_j = np.full((rows, k), -1, dtype=np.int64)
        for x0 in range(0, n, tile_x):
            x1 = min(n, x0 + tile_x)
            gram = np.dot(Q[q0:q1], X[x0:x1].T)
            for r in range(rows):
                i = q0 + r
                q_term = q_terms[i]
                if self_query and x0 <= i < x1:
                    # Split around the diagonal so the main loop has no self test,
                    # and give the self pair its exact distance.
                    s = i - x0
                    if heap:
                        _heap_merge_range(gram[r], 0, s, x0, q_term, x_terms, metric,
                                          best[r], best_j[r])
                    else:
                        _merge_range(gram[r], 0, s, x0, q_term, x_terms, metric,
                                     best[r], best_j[r])
                    if not exclude_self:
                        self_dist = 1.0 if (metric == COSINE and q_term == 0.0) else 0.0
                        if not heap:
                            _insert(self_dist, i, best[r], best_j[r])
                        elif self_dist < best[r, 0]:
                            _heap_replace(self_dist, i, best[r], best_j[r], k)
                    if heap:
                        _heap_merge_range(gram[r], s + 1, x1 - x0, x0, q_term, x_terms, metric,
                                          best[r], best_j[r])
                    else:
                        _merge_range(gram[r], s + 1, x1 - x0, x0, q_term, x_terms, metric,
                                     best[r], best_j[r])
                elif heap:
                    _heap_merge_range(gram[r], 0, x1 - x0, x0, q_term, x_terms, metric,
                                      best[r], best_j[r])
                else:
                    _merge_range(gram[r], 0, x1 - x0, x0, q_term, x_terms, metric,
                                 best[r], best_j[r])
        for r in range(rows):
            if heap:
                _heap_sort(best[r], best_j[r])
            for c in range(k):
                v = best[r, c]
                distances[q0 + r, c] = np.sqrt(v) if root else v
                indices[q0 + r, c] = best_j[r, c]


def knn(X, queries, k, metric, root, exclude_self):
    """The k nearest rows of X to every query row.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous
    queries : ndarray (m, d) of X's dtype, C-contiguous, or None for X itself
    k : int, 0 <= k <= n (n - 1 when ``exclude_self`` applies); validated by the caller
    metric : int
        ``SQEUCLIDEAN`` or ``COSINE`` from ``kernels._numba``.
    root : bool
        Return square roots (euclidean from sqeuclidean).
    exclude_self : bool
        With ``queries=None``, row i is not a neighbour of itself.

    Returns
    -------
    distances : ndarray (m, k) in X's dtype, ascending per row
    indices : ndarray (m, k) int64, ties to the lower index
    """
    self_query = queries is None
    Q = X if self_query else queries
    m = Q.shape[0]
    distances = np.empty((m, k), dtype=X.dtype)
    indices = np.empty((m, k), dtype=np.int64)
    if m == 0 or k == 0:
        return distances, indices
    path = search_path(X, m, k, metric)
    if path == "tree":
        return kdtree.knn(X, queries, k, root, exclude_self)
    if path == "direct":
        return knn_direct.knn(X, queries, k, root, exclude_self)
    # Tiles sized for all threads whatever runs them: the same GEMMs, the same sums.
    tile_rows = query_tile_rows(m)
    threads = one_thread() if gemm_on_one_thread(X.shape[0], m) else contextlib.nullcontext()
    with threads:
        # The Gram tiles see rows far from the origin moved near it (the tree's distances
        # are exact differences already).
        X, Q = near_origin(np, X, None if self_query else Q, metric)
        X = np.ascontiguousarray(X)
        Q = X if self_query else np.ascontiguousarray(Q)
        x_terms = norm_terms(X, metric)
        q_terms = x_terms if self_query else norm_terms(Q, metric)
        with single_threaded_blas():
            _knn_tiles(Q, X, q_terms, x_terms, k, metric, root, self_query,
                       self_query and exclude_self, tile_rows, DATA_TILE_ROWS,
                       k >= HEAP_MIN_K, distances, indices)
    return distances, indices
