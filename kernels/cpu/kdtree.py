"""A KD-tree over X's rows for exact neighbour searches in few dimensions.

Shared by ``mst.py`` (Boruvka candidate search) and by ``knn.py`` and
``radius.py``, which use it in place of their GEMM tiles for the Euclidean
metrics with at most ``KDTREE_MAX_FEATURES`` features: there its pruning
visits a few hundred points per query where brute force visits all n.
``knn.py`` and ``radius.py`` take it only where it pays (``knn.search_path``:
not for many neighbours a row, nor for a few queries; ``radius.search_path``:
not where a query would measure a large share of the rows, ``radius_reach``,
nor for a few queries) and otherwise ``knn_direct.py``, the same distances
over all rows.

The tree is balanced (ranges halved at every level, split on the dimension
of widest spread), stored as flat arrays with node t's children at 2t+1 and
2t+2, and holds its points in float64 in tree order, so leaves read
contiguous memory. Queries walk it depth first, nearer child first, and skip
a node whose bounding box is already too far. Distances are exact float64
sums of squared coordinate differences (no :math:`|x|^2 - 2 x \\cdot y +
|y|^2` cancellation), summed in the same order as the box distances, so a
box distance never exceeds the distance of a point inside and pruning
drops nothing it should keep; a row's distance to itself is exactly 0.
"""

import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE, one_thread

# Up to this many features a KD-tree replaces the GEMM scan: in few
# dimensions its pruning visits a few hundred points per query where the
# scan visits all n (n=100,000 d=5: 1.2-1.4 s for the whole Boruvka tree,
# where the GEMM scan's first pass alone goes through all 10^10 pairs; knn
# with k=49 there: 1.3 s against 12.8 s for the GEMM tiles, on 2 cores).
KDTREE_MAX_FEATURES = 16
LEAF_SIZE = 32
# Queries per parallel task: consecutive queries (in tree order for a
# self-query) are neighbours in space and share the nodes they visit.
# Passed to the kernels as an argument, so that tests can shrink it.
QUERY_BLOCK = 64
# Radius search buffer: up to BUFFER_PER_QUERY neighbours per query on
# average within each block, and BUFFER_ENTRIES (128 MiB of int64) in all;
# blocks with more neighbours search again into the final arrays. Against
# two full passes (count, then fill) this takes DBSCAN's radius search at
# n=100,000 d=8 eps=1.5 (13 neighbours a row) from 2.1 s to 1.3 s on 2 cores.
BUFFER_PER_QUERY = 32
BUFFER_ENTRIES = 2**24
# Queries ``radius_reach`` walks to estimate the share of rows a radius search measures.
REACH_SAMPLE = 256
# Up to this many rows knn, radius_neighbors and the MST build their tree
# on one thread (``build_tree``). The parallel build runs one parallel loop per level, each ending
# at a barrier, and its top levels hold one or two nodes. On 2 busy cores
# (load 5), best / median of 5: 500 rows 0.12 / 180 ms on 2 threads against
# 0.06 / 0.06 ms on one, 5,000 rows 244 / 262 against 2.4 / 11 ms, 20,000
# rows 264 / 290 against 48 / 61 ms. A dask knn_graph of 5,000 x 16 in
# chunks of 500 (a tree per chunk pair, two worker processes, load 6-15)
# spent a median 0.16-0.26 s a pair, 0.020-0.024 s with this, where the
# GEMM tiles spend 0.07 s at 64 features. Above, the build is parallel;
# serial, it would be a few percent of the queries.
SERIAL_BUILD_ROWS = 2**14


@njit(cache=NUMBA_CACHE)
def _tree_levels(n, leaf_size):
    levels = 1
    while (n >> (levels - 1)) > leaf_size:
        levels += 1
    return levels


@njit(parallel=True, cache=NUMBA_CACHE)
def _build_tree(X, core, leaf_size):
    """A balanced KD-tree over X's rows, in float64, as flat arrays.

    Node t has children 2t+1 and 2t+2 and holds the points ``order[start[t]:
    end[t]]``; ranges are halved at each level, split on the dimension of
    widest spread (so the tree is balanced and its shape depends only on n).
    ``lo``/``hi`` are the nodes' bounding boxes and ``min_core`` the
    smallest core distance inside, both used to prune queries.
    """
    n, d = X.shape
    levels = _tree_levels(n, leaf_size)
    n_nodes = 2**levels - 1
    order = np.arange(n)
    start = np.zeros(n_nodes, dtype=np.int64)
    end = np.zeros(n_nodes, dtype=np.int64)
    lo = np.zeros((n_nodes, d))
    hi = np.zeros((n_nodes, d))
    min_core = np.zeros(n_nodes)
    start[0] = 0
    end[0] = n
    for level in range(levels):
        first = 2**level - 1
        for t in prange(first, 2 * first + 1):
            s, e = start[t], end[t]
            for q in range(d):
                lo[t, q] = np.inf
                hi[t, q] = -np.inf
            smallest = np.inf
            for p in range(s, e):
                i = order[p]
                smallest = min(smallest, core[i])
                for q in range(d):
                    v = np.float64(X[i, q])
                    lo[t, q] = min(lo[t, q], v)
                    hi[t, q] = max(hi[t, q], v)
            min_core[t] = smallest
            if level == levels - 1:
                continue
            widest = 0
            for q in range(1, d):
                if hi[t, q] - lo[t, q] > hi[t, widest] - lo[t, widest]:
                    widest = q
            if e - s > 1:
                keys = np.empty(e - s)
                for p in range(s, e):
                    keys[p - s] = X[order[p], widest]
                sorted_order = order[s:e][np.argsort(keys, kind="mergesort")]
                order[s:e] = sorted_order
            mid = s + (e - s) // 2
            start[2 * t + 1], end[2 * t + 1] = s, mid
            start[2 * t + 2], end[2 * t + 2] = mid, e
    position = np.empty(n, dtype=np.int64)
    points = np.empty((n, d))
    point_core = np.empty(n)
    for p in prange(n):
        position[order[p]] = p
        point_core[p] = core[order[p]]
        for q in range(d):
            points[p, q] = X[order[p], q]
    return order, position, points, point_core, start, end, lo, hi, min_core


@njit(cache=NUMBA_CACHE)
def _box_sq_distance(lo, hi, t, x):
    """Smallest squared Euclidean distance from x to node t's bounding box."""
    box = 0.0
    for q in range(x.shape[0]):
        gap = max(lo[t, q] - x[q], x[q] - hi[t, q], 0.0)
        box += gap * gap
    return box


@njit(cache=NUMBA_CACHE)
def _box_distance(lo, hi, t, x, root, alpha):
    """Smallest distance / alpha from x to node t's bounding box (Euclidean with ``root``)."""
    box = _box_sq_distance(lo, hi, t, x)
    return (np.sqrt(box) if root else box) / alpha


@njit(cache=NUMBA_CACHE)
def _query_point(points, order, Q, self_query, r, x):
    """Load query r into x (float64) and return its row: the tree's r-th point with
    ``self_query`` (row ``order[r]``), else ``Q[r]`` (row r)."""
    if self_query:
        for q in range(x.shape[0]):
            x[q] = points[r, q]
        return order[r]
    for q in range(x.shape[0]):
        x[q] = np.float64(Q[r, q])
    return r


@njit(parallel=True, cache=NUMBA_CACHE)
def _knn_query(points, order, start, end, lo, hi, Q, self_query, exclude_self, root, block,
               distances, indices):
    """Top-k (k = distances.shape[1]) of every query, ties to the lower index.

    With ``self_query`` the queries are the tree's own points, taken in tree
    order (``Q`` is unused), and written to the rows ``order`` names;
    otherwise query r is ``Q[r]``. Candidates are ordered by (squared
    distance, index), so a node is skipped only when its box is strictly
    farther than the current k-th: a tie there could still hold a lower index.
    """
    n, d = points.shape
    k = distances.shape[1]
    m = n if self_query else Q.shape[0]
    n_nodes = start.shape[0]
    first_leaf = (n_nodes - 1) // 2
    depth = 2 * _tree_levels(n_nodes + 1, 1) + 2
    n_blocks = (m + block - 1) // block
    for b in prange(n_blocks):
        x = np.empty(d)
        stack = np.empty(depth, dtype=np.int64)
        stack_dist = np.empty(depth)
        best_d = np.empty(k)
        best_j = np.empty(k, dtype=np.int64)
        for r in range(b * block, min(m, (b + 1) * block)):
            i = _query_point(points, order, Q, self_query, r, x)
            skip = i if (self_query and exclude_self) else -1
            for c in range(k):
                best_d[c] = np.inf
                best_j[c] = n
            worst_d = np.inf
            worst_j = n
            stack[0] = 0
            stack_dist[0] = _box_sq_distance(lo, hi, 0, x)
            top = 1
            while top > 0:
                top -= 1
                t = stack[top]
                if stack_dist[top] > worst_d:
                    continue
                if t < first_leaf:
                    left, right = 2 * t + 1, 2 * t + 2
                    dist_left = _box_sq_distance(lo, hi, left, x)
                    dist_right = _box_sq_distance(lo, hi, right, x)
                    # Push the farther child first so that the nearer one is searched first.
                    if dist_left <= dist_right:
                        stack[top], stack_dist[top] = right, dist_right
                        stack[top + 1], stack_dist[top + 1] = left, dist_left
                    else:
                        stack[top], stack_dist[top] = left, dist_left
                        stack[top + 1], stack_dist[top + 1] = right, dist_right
                    top += 2
                    continue
                for p in range(start[t], end[t]):
                    j = order[p]
                    if j == skip:
                        continue
                    s = 0.0
                    for q in range(d):
                        diff = x[q] - points[p, q]
                        s += diff * diff
                    if s > worst_d or (s == worst_d and j > worst_j):
                        continue
                    c = k - 1
                    while c > 0 and (best_d[c - 1] > s
                                     or (best_d[c - 1] == s and best_j[c - 1] > j)):
                        best_d[c] = best_d[c - 1]
                        best_j[c] = best_j[c - 1]
                        c -= 1
                    best_d[c] = s
                    best_j[c] = j
                    worst_d = best_d[k - 1]
                    worst_j = best_j[k - 1]
            for c in range(k):
                distances[i, c] = np.sqrt(best_d[c]) if root else best_d[c]
                indices[i, c] = best_j[c]


@njit(cache=NUMBA_CACHE)
def _leaves_within(lo, hi, x, threshold, stack, leaves):
    """Write to ``leaves`` the leaves whose boxes lie within squared distance
    ``threshold`` of x, depth first, left child first; return how many."""
    first_leaf = (lo.shape[0] - 1) // 2
    count = 0
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        t = stack[top]
        if _box_sq_distance(lo, hi, t, x) > threshold:
            continue
        if t < first_leaf:
            stack[top] = 2 * t + 2
            stack[top + 1] = 2 * t + 1
            top += 2
            continue
        leaves[count] = t
        count += 1
    return count


@njit(cache=NUMBA_CACHE)
def _rows_within_reach(points, order, start, end, lo, hi, Q, self_query, threshold, queries,
                       reached):
    """For each query r of ``queries`` (as in ``_knn_query``), how many rows lie in the
    leaves a radius search would measure: the rows of ``_leaves_within``."""
    d = points.shape[1]
    n_nodes = start.shape[0]
    depth = 2 * _tree_levels(n_nodes + 1, 1) + 2
    x = np.empty(d)
    stack = np.empty(depth, dtype=np.int64)
    leaves = np.empty((n_nodes + 1) // 2, dtype=np.int64)
    for c in range(queries.shape[0]):
        _query_point(points, order, Q, self_query, queries[c], x)
        rows = 0
        for v in range(_leaves_within(lo, hi, x, threshold, stack, leaves)):
            rows += end[leaves[v]] - start[leaves[v]]
        reached[c] = rows


@njit(parallel=True, cache=NUMBA_CACHE)
def _radius_query(points, order, start, end, lo, hi, Q, self_query, include_self, threshold,
                  block, blocks, fill, cap, buffer, full, counts, indptr, indices):
    """Find the neighbours (squared distance <= ``threshold``) of the queries of ``blocks``.

    Queries as in ``_knn_query``, ``block`` per task, each measuring the
    points of ``_leaves_within``. Without ``fill``:
    count each row's neighbours into ``counts`` and keep the first ``cap``
    of each block's neighbours in ``buffer[b * cap:]``, marking ``full[b]``
    when they do not fit. With ``fill``: write each row's neighbours to
    ``indices`` at ``indptr`` and sort them ascending.
    """
    n, d = points.shape
    m = n if self_query else Q.shape[0]
    n_nodes = start.shape[0]
    depth = 2 * _tree_levels(n_nodes + 1, 1) + 2
    for bb in prange(blocks.shape[0]):
        b = blocks[bb]
        x = np.empty(d)
        stack = np.empty(depth, dtype=np.int64)
        leaves = np.empty((n_nodes + 1) // 2, dtype=np.int64)
        kept = b * cap
        room = kept + cap
        for r in range(b * block, min(m, (b + 1) * block)):
            i = _query_point(points, order, Q, self_query, r, x)
            skip = i if (self_query and not include_self) else -1
            pos = indptr[i] if fill else 0
            first = pos
            for v in range(_leaves_within(lo, hi, x, threshold, stack, leaves)):
                t = leaves[v]
                for p in range(start[t], end[t]):
                    j = order[p]
                    s = 0.0
                    for q in range(d):
                        diff = x[q] - points[p, q]
                        s += diff * diff
                    if s <= threshold and j != skip:
                        if fill:
                            indices[pos] = j
                        elif kept < room:
                            buffer[kept] = j
                            kept += 1
                        else:
                            full[b] = True
                        pos += 1
            if fill:
                indices[first:pos].sort()
            else:
                counts[i] = pos


@njit(parallel=True, cache=NUMBA_CACHE)
def _copy_blocks(order, self_query, m, block, cap, buffer, full, counts, indptr, indices):
    """Move the buffered neighbours of every block that fit into ``indices``, sorted per row."""
    n_blocks = full.shape[0]
    for b in prange(n_blocks):
        if full[b]:
            continue
        src = b * cap
        for r in range(b * block, min(m, (b + 1) * block)):
            i = order[r] if self_query else r
            dst = indptr[i]
            for c in range(counts[i]):
                indices[dst + c] = buffer[src + c]
            indices[dst:dst + counts[i]].sort()
            src += counts[i]


def build_tree(X, core, leaf_size):
    """``_build_tree``, on one thread up to ``SERIAL_BUILD_ROWS`` rows (the same tree)."""
    if X.shape[0] <= SERIAL_BUILD_ROWS:
        with one_thread():
            return _build_tree(X, core, leaf_size)
    return _build_tree(X, core, leaf_size)


def search_tree(X):
    """The tree the searches walk: ``(points, order, start, end, lo, hi)`` of ``build_tree``."""
    order, _, points, _, start, end, lo, hi, _ = build_tree(X, np.zeros(X.shape[0]), LEAF_SIZE)
    return points, order, start, end, lo, hi


def usable(X, metric_is_cosine):
    """Whether the KD-tree path serves this input: few features, a Euclidean metric."""
    return not metric_is_cosine and 1 <= X.shape[1] <= KDTREE_MAX_FEATURES


def knn(X, queries, k, root, exclude_self):
    """``cpu.knn.knn`` for the (squared) Euclidean metric, through the tree; k >= 1, n >= 1."""
    self_query = queries is None
    m = X.shape[0] if self_query else queries.shape[0]
    distances = np.empty((m, k), dtype=X.dtype)
    indices = np.empty((m, k), dtype=np.int64)
    points, order, start, end, lo, hi = search_tree(X)
    Q = X if self_query else queries
    _knn_query(points, order, start, end, lo, hi, Q, self_query, exclude_self, root, QUERY_BLOCK,
               distances, indices)
    return distances, indices


def radius_reach(tree, queries, threshold):
    """The mean share of the tree's rows a radius search measures per query, estimated
    on up to ``REACH_SAMPLE`` queries evenly spread (in tree order for a self-query,
    ``queries=None``): the rows of the leaves whose boxes lie within ``threshold``.

    Walks the nodes only, about a leaf's size cheaper a query than the search,
    and on one thread: 1,024 queries among 2,000 to 20,000 rows took 0.4-1.8 ms
    so, 12-16 ms in a parallel loop on two busy cores (load 4-5), whose
    barrier waits for a thread the system has not scheduled; among 200,000
    uniform rows in 16 features, 0.19-0.29 s (hence 256 queries).
    """
    points, order, start, end, lo, hi = tree
    self_query = queries is None
    Q = points if self_query else queries
    m = Q.shape[0]
    sample = np.unique(np.linspace(0, m - 1, min(m, REACH_SAMPLE)).astype(np.int64))
    reached = np.empty(sample.shape[0], dtype=np.int64)
    _rows_within_reach(points, order, start, end, lo, hi, Q, self_query, float(threshold),
                       sample, reached)
    return float(reached.mean()) / points.shape[0]


def radius_neighbors(X, queries, threshold, include_self, return_lists, tree=None):
    """``cpu.radius.radius_neighbors`` for squared Euclidean thresholds by the tree
    (``search_tree(X)`` unless given); n, m >= 1.

    One walk of the tree per query: each block of queries keeps its
    neighbours in its slice of a buffer while they fit (the usual case), and
    only the blocks that overflowed walk the tree again to fill their rows.
    """
    self_query = queries is None
    m = X.shape[0] if self_query else queries.shape[0]
    counts = np.zeros(m, dtype=np.int64)
    indptr = np.zeros(m + 1, dtype=np.int64)
    points, order, start, end, lo, hi = search_tree(X) if tree is None else tree
    Q = X if self_query else queries
    block = QUERY_BLOCK
    n_blocks = -(-m // block)
    cap = min(block * BUFFER_PER_QUERY, BUFFER_ENTRIES // n_blocks) if return_lists else 0
    buffer = np.empty(n_blocks * cap, dtype=np.int64)
    full = np.zeros(n_blocks, dtype=np.bool_)
    everyone = np.arange(n_blocks, dtype=np.int64)
    no_indices = np.empty(0, dtype=np.int64)
    threshold = float(threshold)
    _radius_query(points, order, start, end, lo, hi, Q, self_query, include_self, threshold,
                  block, everyone, False, cap, buffer, full, counts, indptr, no_indices)
    if not return_lists:
        return counts
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(int(indptr[-1]), dtype=np.int64)
    _copy_blocks(order, self_query, m, block, cap, buffer, full, counts, indptr, indices)
    overflowed = np.flatnonzero(full)
    if overflowed.shape[0]:
        _radius_query(points, order, start, end, lo, hi, Q, self_query, include_self, threshold,
                      block, overflowed, True, cap, buffer, full, counts, indptr, indices)
    return counts, indptr, indices
