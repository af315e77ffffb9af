"""Exact minimum spanning tree over mutual-reachability distances on the CPU (Boruvka).

The graph is complete on the n rows of X, with weights

.. math:: w(i, j) = \\max(c_i, c_j, \\delta(x_i, x_j) / \\alpha)

(:math:`c` the core distances, all 0 when there are none; :math:`\\delta` the
Euclidean, squared Euclidean or cosine distance). Edges are totally ordered
by a key (below), so the tree is unique, and no n x n matrix is ever formed.

Each Boruvka round every component takes its cheapest outgoing edge and the
components merge through ``union_find``. A point's cheapest edge into
another component is found from a per-point cache of its ``CACHE_SIZE``
best candidates (by key), filled by a scan over all points in GEMM tiles (one
BLAS call per tile inside a parallel Numba loop, as in ``assign.py``). The
cache stays valid as components grow: the point's best outgoing edge is the
first cached candidate now in another component. With at most
``KDTREE_MAX_FEATURES`` features (and a Euclidean metric) the scan is a
KD-tree query instead, pruned by bounding boxes, by the smallest core
distance below each node and by nodes lying wholly in the point's own
component, with exact float64 distances. Only when all cached
candidates have joined the point's own component must it be rescanned, and
then only if the key of its last cached candidate (a lower bound on what a
rescan could find; it is also at least the point's core distance) does not
exceed the best edge already known for its component. A rescan keeps only
keys below that component best, which prunes most of the tree for points
deep inside a component.

Edges are ordered by (w, d / alpha, min(i, j), max(i, j)): among equal
weights (frequent with core distances, where w is often c_i for all of a
point's neighbours) the nearer pair comes first, so that the caches hold
nearest neighbours rather than the lowest indices, which one Boruvka round
would all pull into one component.

On the GEMM path candidates are chosen with distances from
:math:`|x|^2 + |y|^2 - 2 x \\cdot y` (inner products in X's dtype); the
weights returned are always recomputed for the chosen edges from the
coordinates in float64. Reference:
``tests/kernels/reference_graph.py::mst``.
"""

import numba
import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE, single_threaded_blas
from ..metric import COSINE, EUCLIDEAN
from ..pairwise import near_origin
from .kdtree import KDTREE_MAX_FEATURES, LEAF_SIZE, _box_distance, _tree_levels, build_tree
from .union_find import find, new_forest, union


# Candidates remembered per point. On blobs with HDBSCAN core distances the
# rows left to rescan hardly change from 8 to 32 (the first Boruvka round
# already merges whole basins), while every query costs more: 8 measured
# fastest at n=100,000 d=5 (about 1.2 s against 1.6 s for 16 and 2.4 s for
# 32, on a shared 2-core machine).
CACHE_SIZE = 8
# Gram tiles (rows x columns) of about GRAM_TILE_BYTES, as in assign.py.
GRAM_TILE_BYTES = 2**20
MAX_TILE_ROWS = 256
MIN_TILE_ROWS = 8
MIN_TILE_COLS = 256


@njit(parallel=True, cache=NUMBA_CACHE)
def _row_norms(X):
    """Squared norms (float64) and inverse norms (0 for a zero row) of X's rows."""
    n = X.shape[0]
    sq = np.empty(n, dtype=np.float64)
    inv = np.empty(n, dtype=np.float64)
    for i in prange(n):
        s = 0.0
        for t in range(X.shape[1]):
            s += np.float64(X[i, t]) * X[i, t]
        sq[i] = s
        inv[i] = 1.0 / np.sqrt(s) if s > 0.0 else 0.0
    return sq, inv


@njit(cache=NUMBA_CACHE)
def _less(w, dist, j, other_w, other_dist, other_j):
    """Key order of a point's candidates: weight, then distance, then index."""
    if w != other_w:
        return w < other_w
    if dist != other_dist:
        return dist < other_dist
    return j < other_j


@njit(cache=NUMBA_CACHE)
def _score_limit(worst_w, core_i, sq_i, inv_i, sq_max, metric, alpha):
    """Largest column score ``offset[j] + slope[j] * (x_i . x_j)`` that can still beat worst_w.

    The score is the part of the distance that varies with j: |x_j|^2 -
    2 x_i.x_j for the Euclidean metrics, -x_i.x_j / |x_j| for cosine, so
    that d / alpha <= worst_w exactly when the score is at most this limit.
    A relative slack of 1e-9 covers the float64 rounding of either side:
    the test only skips what the exact comparison would reject. -inf when
    the core distance alone is too large, inf when nothing bounds it yet.
    """
    if core_i > worst_w:
        return -np.inf
    if worst_w == np.inf:
        return np.inf
    if metric == COSINE:
        if inv_i == 0.0:
            return np.inf
        norm_i = 1.0 / inv_i
        limit = (worst_w * alpha - 1.0) * norm_i
        return limit + 1e-9 * (abs(limit) + norm_i)
    bound = worst_w * alpha
    if metric == EUCLIDEAN:
        bound = bound * bound
    limit = bound - sq_i
    return limit + 1e-9 * (abs(limit) + sq_i + sq_max)


@njit(parallel=True, cache=NUMBA_CACHE)
def _scan(X, sq, inv, core, comp, rows, bound_w, bound_d, metric, alpha, tile_rows, tile_cols,
          cache_w, cache_d, cache_j):
    """Refill the candidate caches of ``rows`` from a scan over every point.

    Row i's cache becomes its ``CACHE_SIZE`` smallest keys (w, d / alpha, j)
    over the points j outside ``comp[i]`` with (w, d / alpha) at most the
    row's bound, ascending; empty slots hold the bound with j = n, a
    sentinel that every real candidate at the bound precedes.
    Each parallel task gathers ``tile_rows`` of the rows into a contiguous
    block and multiplies it by ``tile_cols`` columns of X at a time (BLAS,
    single-threaded: the caller limits it).
    """
    n, d = X.shape
    k = cache_w.shape[1]
    m = rows.shape[0]
    # Column scores, see _score_limit.
    offset = np.zeros(n)
    slope = np.empty(n)
    for j in range(n):
        if metric == COSINE:
            slope[j] = -inv[j]
        else:
            offset[j] = sq[j]
            slope[j] = -2.0
    sq_max = sq.max()
    n_tiles = (m + tile_rows - 1) // tile_rows
    for t in prange(n_tiles):
        start = t * tile_rows
        stop = min(m, start + tile_rows)
        block = np.empty((stop - start, d), dtype=X.dtype)
        for r in range(stop - start):
            i = rows[start + r]
            block[r] = X[i]
            for p in range(k):
                cache_w[i, p] = bound_w[start + r]
                cache_d[i, p] = bound_d[start + r]
                cache_j[i, p] = n
        for c0 in range(0, n, tile_cols):
            c1 = min(n, c0 + tile_cols)
            gram = np.dot(block, X[c0:c1].T)
            for r in range(stop - start):
                i = rows[start + r]
                ci = comp[i]
                core_i = core[i]
                worst_w = cache_w[i, k - 1]
                worst_d = cache_d[i, k - 1]
                worst_j = cache_j[i, k - 1]
                limit = _score_limit(worst_w, core_i, sq[i], inv[i], sq_max, metric, alpha)
                for jj in range(c1 - c0):
                    # Almost every entry fails this one multiply-add and compare.
                    if offset[c0 + jj] + slope[c0 + jj] * gram[r, jj] > limit:
                        continue
                    j = c0 + jj
                    if core[j] > worst_w or comp[j] == ci or j == i:
                        continue
                    g = np.float64(gram[r, jj])
                    if metric == COSINE:
                        dist = (1.0 - g * inv[i] * inv[j]) / alpha
                    elif metric == EUCLIDEAN:
                        dist = np.sqrt(max(sq[i] + sq[j] - 2.0 * g, 0.0)) / alpha
                    else:
                        dist = max(sq[i] + sq[j] - 2.0 * g, 0.0) / alpha
                    w = max(max(core_i, core[j]), dist)
                    if not _less(w, dist, j, worst_w, worst_d, worst_j):
                        continue
                    p = k - 1
                    while p > 0 and _less(w, dist, j, cache_w[i, p - 1], cache_d[i, p - 1],
                                          cache_j[i, p - 1]):
                        cache_w[i, p] = cache_w[i, p - 1]
                        cache_d[i, p] = cache_d[i, p - 1]
                        cache_j[i, p] = cache_j[i, p - 1]
                        p -= 1
                    cache_w[i, p] = w
                    cache_d[i, p] = dist
                    cache_j[i, p] = j
                    worst_w = cache_w[i, k - 1]
                    worst_d = cache_d[i, k - 1]
                    worst_j = cache_j[i, k - 1]
                    limit = _score_limit(worst_w, core_i, sq[i], inv[i], sq_max, metric, alpha)


@njit(parallel=True, cache=NUMBA_CACHE)
def _candidates(rows, comp, cache_w, cache_d, cache_j, cand_w, cand_d, cand_j):
    """Each row's best outgoing edge from its cache: the first candidate outside its component.

    ``cand_j[i]`` is -1 when there is none (the sentinel or the end of the
    cache came first); ``_stale_rows`` decides whether to rescan the row.
    """
    k = cache_w.shape[1]
    n = comp.shape[0]
    for r in prange(rows.shape[0]):
        i = rows[r]
        cand_j[i] = -1
        cand_w[i] = np.inf
        cand_d[i] = np.inf
        for p in range(k):
            j = cache_j[i, p]
            if j == n:
                break
            if comp[j] != comp[i]:
                cand_w[i] = cache_w[i, p]
                cand_d[i] = cache_d[i, p]
                cand_j[i] = j
                break


@njit(cache=NUMBA_CACHE)
def _component_best(rows, comp, cand_w, cand_d, cand_j, best_w, best_d, best_a, best_b):
    """Fold the candidates of ``rows`` into their components' best (w, d, a, b) keys."""
    for r in range(rows.shape[0]):
        i = rows[r]
        j = cand_j[i]
        if j < 0:
            continue
        a, b = min(i, j), max(i, j)
        c = comp[i]
        w, dist = cand_w[i], cand_d[i]
        if w != best_w[c]:
            better = w < best_w[c]
        elif dist != best_d[c]:
            better = dist < best_d[c]
        else:
            better = a < best_a[c] or (a == best_a[c] and b < best_b[c])
        if better:
            best_w[c] = w
            best_d[c] = dist
            best_a[c] = a
            best_b[c] = b


@njit(cache=NUMBA_CACHE)
def _stale_rows(comp, cand_j, cache_w, cache_d, cache_j, best_w, best_d):
    """Rows without a candidate whose unseen keys could still beat their component's best.

    Unseen keys are at least the cache's last key. After a real candidate
    they can equal its (w, d) and win on the index, so equality means a
    rescan; after the sentinel of a bounded scan they are strictly above the
    bound's (w, d). A bound of inf means nothing exists beyond the cache.
    """
    n = comp.shape[0]
    k = cache_w.shape[1]
    keep = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if cand_j[i] >= 0:
            continue
        c = comp[i]
        w, dist = cache_w[i, k - 1], cache_d[i, k - 1]
        if cache_j[i, k - 1] == n:
            keep[i] = w < best_w[c] or (w == best_w[c] and dist < best_d[c])
        else:
            keep[i] = w < best_w[c] or (w == best_w[c] and dist <= best_d[c])
    return np.nonzero(keep)[0]


@njit(cache=NUMBA_CACHE)
def _merge(parent, size, comp, best_w, best_d, best_a, best_b, edges, n_edges):
    """Add every component's best edge (skipping one that closes a cycle) and relabel.

    Components are visited by root index, so the tree does not depend on
    thread timing. Returns the new edge count.
    """
    n = comp.shape[0]
    for c in range(n):
        if best_a[c] < 0:
            continue
        if union(parent, size, best_a[c], best_b[c]):
            edges[n_edges, 0] = best_a[c]
            edges[n_edges, 1] = best_b[c]
            n_edges += 1
        best_w[c] = np.inf
        best_d[c] = np.inf
        best_a[c] = -1
        best_b[c] = -1
    for i in range(n):
        comp[i] = find(parent, i)
    return n_edges


@njit(cache=NUMBA_CACHE)
def pair_distance(X, a, b, metric):
    """delta(x_a, x_b) in float64 from the coordinates (no cancellation)."""
    s = 0.0
    if metric == COSINE:
        na = 0.0
        nb = 0.0
        for t in range(X.shape[1]):
            xa = np.float64(X[a, t])
            xb = np.float64(X[b, t])
            s += xa * xb
            na += xa * xa
            nb += xb * xb
        if na == 0.0 or nb == 0.0:
            return 1.0
        # One norm at a time: the product of two squared norms underflows to 0
        # for norms below about 1e-81, while s / |x_a| / |x_b| stays in range.
        return 1.0 - s / np.sqrt(na) / np.sqrt(nb)
    for t in range(X.shape[1]):
        diff = np.float64(X[a, t]) - np.float64(X[b, t])
        s += diff * diff
    return np.sqrt(s) if metric == EUCLIDEAN else s


@njit(parallel=True, cache=NUMBA_CACHE)
def edge_weights(X, core, edges, metric, alpha):
    """Weights of ``edges`` computed from the coordinates in float64 (no cancellation)."""
    m = edges.shape[0]
    weights = np.empty(m, dtype=np.float64)
    for e in prange(m):
        a = edges[e, 0]
        b = edges[e, 1]
        weights[e] = max(core[a], core[b], pair_distance(X, a, b, metric) / alpha)
    return weights


# --------------------------------------------------------------------------
# KD-tree candidate search, for few features (euclidean and sqeuclidean); the
# tree itself and KDTREE_MAX_FEATURES / LEAF_SIZE come from kdtree.py.


@njit(cache=NUMBA_CACHE)
def _node_components(order, start, end, comp):
    """The component shared by all points of each node, or -1 if they differ (bottom-up)."""
    n_nodes = start.shape[0]
    node_comp = np.empty(n_nodes, dtype=np.int64)
    first_leaf = (n_nodes - 1) // 2
    for t in range(n_nodes - 1, -1, -1):
        if t >= first_leaf:
            s, e = start[t], end[t]
            c = comp[order[s]] if e > s else -2
            for p in range(s + 1, e):
                if comp[order[p]] != c:
                    c = -1
                    break
            node_comp[t] = c
        else:
            left, right = node_comp[2 * t + 1], node_comp[2 * t + 2]
            if left == -2:
                node_comp[t] = right
            elif right == -2 or left == right:
                node_comp[t] = left
            else:
                node_comp[t] = -1
    return node_comp


@njit(parallel=True, cache=NUMBA_CACHE)
def _tree_scan(points, point_core, rows, bound_w, bound_d, comp, metric, alpha, order, position,
               start, end, lo, hi, min_core, node_comp, cache_w, cache_d, cache_j):
    """``_scan`` through the KD-tree: the same caches, exact float64 distances.

    ``points`` and ``point_core`` are X (float64) and the core distances in
    tree order (``position`` maps a point to its place there), so leaves
    read contiguous memory; ``rows`` should be in tree
    order too, so that each thread's queries are neighbours sharing cache
    lines. A node is skipped when all its points share row i's component,
    or when the smallest key it could hold, (max(c_i, min core, box distance
    / alpha), box distance / alpha), is above the cache's last key. Depth
    first, the nearer child first; the stack keeps each node's box distance
    so that it is computed once.
    """
    n, d = points.shape
    k = cache_w.shape[1]
    n_nodes = start.shape[0]
    first_leaf = (n_nodes - 1) // 2
    depth = 2 * _tree_levels(n_nodes + 1, 1) + 2
    block = 64
    n_blocks = (rows.shape[0] + block - 1) // block
    for b in prange(n_blocks):
        x = np.empty(d)
        stack = np.empty(depth, dtype=np.int64)
        stack_dist = np.empty(depth)
        for r in range(b * block, min(rows.shape[0], (b + 1) * block)):
            i = rows[r]
            ci = comp[i]
            home = position[i]
            core_i = point_core[home]
            for q in range(d):
                x[q] = points[home, q]
            for p in range(k):
                cache_w[i, p] = bound_w[r]
                cache_d[i, p] = bound_d[r]
                cache_j[i, p] = n
            worst_w = bound_w[r]
            worst_d = bound_d[r]
            worst_j = n
            stack[0] = 0
            stack_dist[0] = _box_distance(lo, hi, 0, x, metric == EUCLIDEAN, alpha)
            top = 1
            while top > 0:
                top -= 1
                t = stack[top]
                box_dist = stack_dist[top]
                if node_comp[t] == ci or node_comp[t] == -2:
                    continue
                box_w = max(max(core_i, min_core[t]), box_dist)
                if box_w > worst_w or (box_w == worst_w and box_dist > worst_d):
                    continue
                if t < first_leaf:
                    left, right = 2 * t + 1, 2 * t + 2
                    dist_left = _box_distance(lo, hi, left, x, metric == EUCLIDEAN, alpha)
                    dist_right = _box_distance(lo, hi, right, x, metric == EUCLIDEAN, alpha)
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
                    if j == i or comp[j] == ci:
                        continue
                    lower = max(core_i, point_core[p])
                    if lower > worst_w:
                        continue
                    s = 0.0
                    for q in range(d):
                        diff = x[q] - points[p, q]
                        s += diff * diff
                    dist = (np.sqrt(s) if metric == EUCLIDEAN else s) / alpha
                    w = max(lower, dist)
                    if not _less(w, dist, j, worst_w, worst_d, worst_j):
                        continue
                    p2 = k - 1
                    while p2 > 0 and _less(w, dist, j, cache_w[i, p2 - 1], cache_d[i, p2 - 1],
                                           cache_j[i, p2 - 1]):
                        cache_w[i, p2] = cache_w[i, p2 - 1]
                        cache_d[i, p2] = cache_d[i, p2 - 1]
                        cache_j[i, p2] = cache_j[i, p2 - 1]
                        p2 -= 1
                    cache_w[i, p2] = w
                    cache_d[i, p2] = dist
                    cache_j[i, p2] = j
                    worst_w = cache_w[i, k - 1]
                    worst_d = cache_d[i, k - 1]
                    worst_j = cache_j[i, k - 1]


def _tile_shape(n_rows, n, itemsize):
    """Row and column counts of a Gram tile: enough row tiles to feed every thread."""
    threads = numba.get_num_threads()
    tile_rows = -(-n_rows // (4 * threads))
    tile_rows = int(min(MAX_TILE_ROWS, max(MIN_TILE_ROWS, tile_rows)))
    tile_cols = int(max(MIN_TILE_COLS, GRAM_TILE_BYTES // (tile_rows * itemsize)))
    return tile_rows, min(tile_cols, max(n, 1))


class _Boruvka:
    """The state of one Boruvka run: norms, forest, candidate caches, component bests."""

    def __init__(self, X, core, metric, alpha, cache_size):
        n = X.shape[0]
        self.X, self.core, self.metric, self.alpha = X, core, metric, alpha
        self.sq, self.inv = _row_norms(X)
        self.parent, self.size = new_forest(n)
        self.comp = np.arange(n, dtype=np.int64)
        self.cache_w = np.full((n, cache_size), np.inf)
        self.cache_d = np.full((n, cache_size), np.inf)
        self.cache_j = np.full((n, cache_size), n, dtype=np.int64)
        self.cand_w = np.empty(n)
        self.cand_d = np.empty(n)
        self.cand_j = np.empty(n, dtype=np.int64)
        self.best_w = np.full(n, np.inf)
        self.best_d = np.full(n, np.inf)
        self.best_a = np.full(n, -1, dtype=np.int64)
        self.best_b = np.full(n, -1, dtype=np.int64)
        self.tree = None
        if metric != COSINE and X.shape[1] <= KDTREE_MAX_FEATURES:
            self.tree = build_tree(X, core, LEAF_SIZE)

    def scan(self, rows, bound_w, bound_d):
        """Refill the caches of ``rows``, keeping only keys up to the rows' bounds."""
        if self.tree is not None:
            order, position, points, point_core, start, end, lo, hi, min_core = self.tree
            node_comp = _node_components(order, start, end, self.comp)
            # Queries in tree order: each thread's rows are neighbours in space.
            by_place = np.argsort(position[rows], kind="stable")
            _tree_scan(points, point_core, rows[by_place], bound_w[by_place], bound_d[by_place],
                       self.comp, self.metric, self.alpha, order, position, start, end, lo, hi,
                       min_core, node_comp, self.cache_w, self.cache_d, self.cache_j)
            return
        tile_rows, tile_cols = _tile_shape(rows.shape[0], self.X.shape[0], self.X.itemsize)
        with single_threaded_blas():
            _scan(self.X, self.sq, self.inv, self.core, self.comp, rows, bound_w, bound_d,
                  self.metric, self.alpha, tile_rows, tile_cols,
                  self.cache_w, self.cache_d, self.cache_j)

    def candidates(self, rows):
        _candidates(rows, self.comp, self.cache_w, self.cache_d, self.cache_j,
                    self.cand_w, self.cand_d, self.cand_j)
        _component_best(rows, self.comp, self.cand_w, self.cand_d, self.cand_j,
                        self.best_w, self.best_d, self.best_a, self.best_b)

    def stale_rows(self):
        return _stale_rows(self.comp, self.cand_j, self.cache_w, self.cache_d, self.cache_j,
                           self.best_w, self.best_d)

    def merge(self, edges, n_edges):
        return _merge(self.parent, self.size, self.comp, self.best_w, self.best_d,
                      self.best_a, self.best_b, edges, n_edges)


def mst(X, core, metric, alpha):
    """Minimum spanning tree of the mutual-reachability graph of X's rows.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous, finite
    core : ndarray (n,) float64, core distances, or None for plain distances
    metric : int, a code from ``kernels.metric`` (EUCLIDEAN, SQEUCLIDEAN or COSINE)
    alpha : float > 0

    Returns
    -------
    edges : ndarray (n - 1, 2) int64, i < j in each row
    weights : ndarray (n - 1,) float64
        Sorted by (weight, i, j).
    """
    n = X.shape[0]
    if core is None:
        core = np.zeros(n, dtype=np.float64)
    edges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    if n <= 1:
        return edges, np.empty(0, dtype=np.float64)
    scanned = X
    if metric == COSINE or X.shape[1] > KDTREE_MAX_FEATURES:
        # The GEMM scan: rows far from the origin moved near it (the KD-tree's distances
        # are exact differences already; the weights below come from X itself).
        scanned = np.ascontiguousarray(near_origin(np, X, None, metric)[0])
    state = _Boruvka(scanned, core, metric, float(alpha), min(CACHE_SIZE, n - 1))
    everyone = np.arange(n, dtype=np.int64)
    state.scan(everyone, np.full(n, np.inf), np.full(n, np.inf))
    n_edges = 0
    while n_edges < n - 1:
        state.candidates(everyone)
        stale = state.stale_rows()
        if stale.shape[0]:
            # Only keys below the component's best so far can matter; bounding the
            # rescan by it prunes most of the tree for points deep inside a component.
            owner = state.comp[stale]
            state.scan(stale, state.best_w[owner], state.best_d[owner])
            state.candidates(stale)
        before = n_edges
        n_edges = state.merge(edges, n_edges)
        if n_edges == before:
            raise RuntimeError("Boruvka made no progress; the input must be finite.")
    weights = edge_weights(X, core, edges, metric, float(alpha))
    order = np.lexsort((edges[:, 1], edges[:, 0], weights))
    return edges[order], weights[order]
