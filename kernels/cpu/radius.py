"""Exact radius neighbourhoods on the CPU, as CSR lists, by brute-force GEMM tiles.

Row j of X is a neighbour of query row i when :math:`\\delta(q_i, x_j) \\le r`,
with the distances of ``kernels/cpu/knn.py`` (the expanded form from a
single-threaded BLAS GEMM per tile; a row's distance to itself exactly 0, or
1 for a zero row under cosine). Euclidean compares squared distances with
:math:`r^2`, which saves a square root per pair. Rows far from the origin are
first moved near it (``pairwise.near_origin``, queries by the same point), since
the expanded form's rounding grows with the rows' norms (not on the KD-tree path).

Two passes over the same tiles, each a ``prange`` over query tiles: the first
counts each row's neighbours, the caller turns the counts into ``indptr`` by a
cumulative sum, and the second writes the indices. Data tiles and columns are
visited in ascending order, so each row's indices come out ascending. The
GEMM is done twice; in exchange memory stays O(tile) besides the output.
Both passes run the same tiles through the same code, so they see the same
distances; still, the fill never writes past its row's end
(``indptr[i + 1]``) and reports what it found, and should that differ from
the counts (a BLAS whose rounding depends on more than the shapes), the
lists are filled again from the fill's counts, as ``cuda/radius.py`` does
(``FILL_ATTEMPTS``), or RuntimeError is raised.
With at most ``kdtree.KDTREE_MAX_FEATURES`` features and a Euclidean metric
the search takes exact float64 distances from coordinate differences, with
the same output: through a KD-tree (``kdtree.py``), or, where the tree does
not pay (it would measure a large share of the rows per query, or few
queries; ``search_path``), over all rows by the tree's arithmetic
(``knn_direct.py``), which finds the tree's lists exactly.
Reference: ``tests/kernels/reference_neighbors.py::radius_neighbors``.
"""

import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE, single_threaded_blas
from ..metric import COSINE
from ..pairwise import near_origin
from . import kdtree, knn_direct
from .knn import DATA_TILE_ROWS, norm_terms, query_tile_rows

# Columns counted at once before the fill pass scans them one by one.
FILL_BLOCK = 32
# Fills tried before the lists are given up as irreproducible: the first
# follows the count pass, each further one the counts the previous fill found.
FILL_ATTEMPTS = 3
# The KD-tree pays while it measures a small share of the rows per query
# (``kdtree.radius_reach``, estimated on a sample of the queries); beyond it
# the direct search, which measures them all, is faster. Tree time / direct
# time, 2 shared cores (load 1.7-5), make_blobs (10 centres) and uniform
# float32 rows, n = 2,000 to 200,000, d = 2 to 16, eps for 5 to 10,000
# neighbours a row (128 cases; benchmarks/NOTES.md): reach up to 0.05
# 0.11-1.02, 0.05-0.15 0.26-1.79 (above 1 at 2,000 rows, whose calls sit on
# a 15 ms floor of the busy machine, and from 500 neighbours a row, whose
# sort the tree pays), 0.15-0.25 0.91-1.68, above 0.25 1.27-5.0 (uniform
# rows in 10 and 16 features reach 0.5-1 whatever eps). This threshold costs
# 6 % over the faster path in the geometric mean, 1.8 at worst (10,000
# neighbours a row); the tree alone 38 %, 5.0 at worst.
TREE_MAX_REACH = 0.15
# The tree's build pays only over enough queries. Tree (with its build) /
# direct, make_blobs in 5 features, about 50 neighbours a row, load 1: n =
# 20,000: 16 queries 8.7 / 0.7 ms, 256 10.2 / 7.0, 512 10.8 / 10.3, 1,024
# 15.5 / 27.2; n = 200,000: 16 140 / 5.2 ms, 512 148 / 72, 1,024 150 / 143.
TREE_MIN_QUERIES = 512


def search_path(X, m, metric, tree_reach):
    """How ``radius_neighbors`` searches m queries among the rows of X (n, d): "tree"
    (``kdtree.radius_neighbors``), "direct" (``knn_direct.radius_neighbors``: the tree's
    distances over all rows, the same lists) or "gemm" (the GEMM tiles, for cosine and
    more features).

    ``tree_reach()`` estimates the share of X's rows the tree would measure per query
    (``kdtree.radius_reach``); it is called only where the shape leaves the tree in
    play (Euclidean, few features, ``TREE_MIN_QUERIES`` queries or more).
    """
    if not kdtree.usable(X, metric == COSINE):
        return "gemm"
    if m < TREE_MIN_QUERIES or tree_reach() > TREE_MAX_REACH:
        return "direct"
    return "tree"


@njit(cache=NUMBA_CACHE)
def _count_range(g, c0, c1, x0, q_term, x_terms, metric, threshold):
    """How many of columns c0..c1 of one row of inner products ``g`` are within ``threshold``."""
    count = 0
    if metric == COSINE:
        for c in range(c0, c1):
            count += 1.0 - g[c] * q_term * x_terms[x0 + c] <= threshold
    else:
        for c in range(c0, c1):
            count += q_term + x_terms[x0 + c] - 2.0 * g[c] <= threshold
    return count


@njit(cache=NUMBA_CACHE)
def _fill_range(g, c0, c1, x0, q_term, x_terms, metric, threshold, indices, pos, end):
    """Write the columns of c0..c1 within ``threshold`` (as row indices) at ``pos``; return the new pos.

    Positions from ``end`` (the row's end) on are counted but not written.

    Neighbours are rare among the columns, so each block of ``FILL_BLOCK``
    columns is first counted by a loop that vectorises, and scanned one by
    one (a loop that cannot vectorise, because of the conditional store)
    only when it holds a neighbour.
    """
    c = c0
    while c < c1:
        stop = min(c1, c + FILL_BLOCK)
        hits = 0
        if metric == COSINE:
            for t in range(c, stop):
                hits += 1.0 - g[t] * q_term * x_terms[x0 + t] <= threshold
        else:
            for t in range(c, stop):
                hits += q_term + x_terms[x0 + t] - 2.0 * g[t] <= threshold
        if hits > 0:
            for t in range(c, stop):
                if metric == COSINE:
                    dist = 1.0 - g[t] * q_term * x_terms[x0 + t]
                else:
                    dist = q_term + x_terms[x0 + t] - 2.0 * g[t]
                if dist <= threshold:
                    if pos < end:
                        indices[pos] = x0 + t
                    pos += 1
        c = stop
    return pos


@njit(parallel=True, cache=NUMBA_CACHE)
def _radius_tiles(Q, X, q_terms, x_terms, metric, threshold, self_query, include_self,
                  tile_q, tile_x, fill, counts, indptr, indices):
    """Count (``fill`` False, into ``counts``) or list (into ``indices`` at ``indptr``) neighbours.

    With ``fill``, each row writes only inside ``indptr[i]:indptr[i + 1]``
    and ``counts`` receives how many neighbours it found (more than fit when
    the tiles disagree with the counts ``indptr`` was built from). Q (m, d)
    and X (n, d) are C-contiguous with one dtype; the caller limits BLAS to
    one thread.
    """
    m = Q.shape[0]
    n = X.shape[0]
    n_tiles = (m + tile_q - 1) // tile_q
    for t in prange(n_tiles):
        q0 = t * tile_q
        q1 = min(m, q0 + tile_q)
        rows = q1 - q0
        cursor = np.zeros(rows, dtype=np.int64)
        for r in range(rows):
            cursor[r] = indptr[q0 + r] if fill else 0
        for x0 in range(0, n, tile_x):
            x1 = min(n, x0 + tile_x)
            gram = np.dot(Q[q0:q1], X[x0:x1].T)
            for r in range(rows):
                i = q0 + r
                q_term = q_terms[i]
                end = indptr[i + 1] if fill else 0
                # Columns before and after the query's own row, so the hot
                # loops carry no self test; the self pair is decided exactly.
                s = x1 - x0
                self_in = False
                if self_query and x0 <= i < x1:
                    s = i - x0
                    self_dist = 1.0 if (metric == COSINE and q_term == 0.0) else 0.0
                    self_in = include_self and self_dist <= threshold
                if fill:
                    pos = _fill_range(gram[r], 0, s, x0, q_term, x_terms, metric, threshold,
                                      indices, cursor[r], end)
                    if self_in:
                        if pos < end:
                            indices[pos] = i
                        pos += 1
                    if s < x1 - x0:
                        pos = _fill_range(gram[r], s + 1, x1 - x0, x0, q_term, x_terms, metric,
                                          threshold, indices, pos, end)
                    cursor[r] = pos
                else:
                    count = _count_range(gram[r], 0, s, x0, q_term, x_terms, metric, threshold)
                    if self_in:
                        count += 1
                    if s < x1 - x0:
                        count += _count_range(gram[r], s + 1, x1 - x0, x0, q_term, x_terms,
                                              metric, threshold)
                    cursor[r] += count
        for r in range(rows):
            counts[q0 + r] = cursor[r] - indptr[q0 + r] if fill else cursor[r]


def radius_neighbors(X, queries, threshold, metric, include_self, return_lists):
    """Rows of X within ``threshold`` of every query row.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous
    queries : ndarray (m, d) of X's dtype, C-contiguous, or None for X itself
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
    counts : ndarray (m,) int64
    indptr : ndarray (m + 1,) int64, only with ``return_lists``
    indices : ndarray (nnz,) int64, ascending within each row, only with ``return_lists``

    Raises
    ------
    RuntimeError
        When no fill agrees with the counts it was given (see the module
        docstring); the lists are never returned inconsistent with the counts.
    """
    self_query = queries is None
    Q = X if self_query else queries
    m = Q.shape[0]
    counts = np.zeros(m, dtype=np.int64)
    indptr = np.zeros(m + 1, dtype=np.int64)
    if m == 0 or X.shape[0] == 0:
        return (counts, indptr, np.empty(0, dtype=np.int64)) if return_lists else counts
    trees = []

    def tree_reach():
        trees.append(kdtree.search_tree(X))
        return kdtree.radius_reach(trees[0], queries, threshold)

    path = search_path(X, m, metric, tree_reach)
    if path == "tree":
        return kdtree.radius_neighbors(X, queries, threshold, include_self, return_lists,
                                       tree=trees[0])
    if path == "direct":
        return knn_direct.radius_neighbors(X, queries, threshold, include_self, return_lists)
    # The Gram tiles see rows far from the origin moved near it (the tree's distances are
    # exact differences already).
    X, Q = near_origin(np, X, None if self_query else Q, metric)
    X = np.ascontiguousarray(X)
    Q = X if self_query else np.ascontiguousarray(Q)
    x_terms = norm_terms(X, metric)
    q_terms = x_terms if self_query else norm_terms(Q, metric)
    tile_q = query_tile_rows(m)
    threshold = float(threshold)
    no_indices = np.empty(0, dtype=np.int64)
    with single_threaded_blas():
        _radius_tiles(Q, X, q_terms, x_terms, metric, threshold, self_query, include_self,
                      tile_q, DATA_TILE_ROWS, False, counts, indptr, no_indices)
        if not return_lists:
            return counts
        for _attempt in range(FILL_ATTEMPTS):
            np.cumsum(counts, out=indptr[1:])
            indices = np.empty(int(indptr[-1]), dtype=np.int64)
            found = np.empty(m, dtype=np.int64)
            _radius_tiles(Q, X, q_terms, x_terms, metric, threshold, self_query, include_self,
                          tile_q, DATA_TILE_ROWS, True, found, indptr, indices)
            if np.array_equal(found, counts):
                return counts, indptr, indices
            counts = found
    raise RuntimeError(
        f"radius_neighbors: {FILL_ATTEMPTS} fill passes in a row found other neighbours than "
        "the counts they were given; the distance tiles are not reproducible between passes."
    )
