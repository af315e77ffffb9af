"""Minimum spanning tree of a neighbour graph, its components joined exactly, on the CPU.

The tree has two parts:

1. the minimum spanning forest of the neighbour graph (edge (i, j) for every
   j in ``indices[i]``) under the mutual-reachability weights

   .. math:: w(i, j) = \\max(c_i, c_j, \\delta(x_i, x_j) / \\alpha),

   under the strict key order (w, delta / alpha, min(i, j), max(i, j)) of
   ``kernels/cpu/mst.py``, by Boruvka rounds over the n * k edges (the
   forest Kruskal would take over the sorted edges, without the sort);
2. the components the graph leaves apart, joined by the minimum spanning
   tree of the component graph whose edge between components C and Q is
   the cheapest pair (i in C, j in Q) by that key. This is what Boruvka over
   the cross-component pairs finds (fast_hdbscan and cuML join their
   graphs so); it equals Kruskal over all cross pairs after the graph edges.

The join never scans all cross pairs. Each component C gets its centroid
c_C and radius r_C (in the space where the metric is Euclidean: X itself,
or the rows scaled to unit norm for cosine). Two lower bounds on the
Euclidean distance of any pair (i in C, j in Q) come from one (n, m) GEMM of
X against the centroids:

- the balls: |c_C - c_Q| - r_C - r_Q;
- the projections on u = (c_Q - c_C) / |c_Q - c_C|: min over Q of u.x_j
  minus max over C of u.x_i (one line through the centroids separates the
  components even when their balls overlap).

Together with the smallest core distances in C and Q they give a lower
bound on each pair's key. Kruskal over the component pairs then runs
lazily (the pairs in the order of their bounds, each evaluated exactly only
when its bound comes up and C and Q are still apart), so pairs whose
components were joined by cheaper pairs first are never evaluated. A pair
is evaluated with GEMM tiles: C's rows in decreasing order of u.x, Q's in
increasing order, each tile of C's rows against the prefix of Q's rows
that the projection bound and the best pair so far leave, and no tile once
the bound of its first row exceeds the best. Distances from the GEMM only
filter (with a rounding slack of (d + 2) eps (|x_i|^2 + |x_j|^2)); the
pairs that pass are measured in float64 from the coordinates, so the join
is exact in float64, like the reference
``tests/kernels/reference_graph.py::graph_mst``.

Cost: O(n k d) for the graph's weights, O(n k) per Boruvka round (at most
log2 n rounds, each dropping the edges inside a component), O(n m d)
for the bounds (m components) and, per evaluated pair, at most |C| |Q| d,
much less where the projections separate the pair.
"""

import heapq

import numba
import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE, single_threaded_blas
from ..metric import COSINE, EUCLIDEAN, SQEUCLIDEAN
from .mst import _less, edge_weights, pair_distance
from .union_find import new_forest, number_by_smallest, union

# Rows of C per GEMM tile in a pair's evaluation, and Q's rows per tile.
PAIR_TILE_ROWS = 32
PAIR_TILE_COLS = 512
# Component pairs evaluated together, per thread.
PAIR_BATCH = 8
# Rows per float64 copy while the join measures the components.
JOIN_CHUNK_ROWS = 1 << 16


@njit(parallel=True, cache=NUMBA_CACHE)
def _graph_edges(X, core, indices, metric, alpha):
    """Key (w, delta / alpha, a, b) of every graph edge; a = -1 marks none (j < 0 or j == i)."""
    n, k = indices.shape
    w = np.empty(n * k)
    dist = np.empty(n * k)
    a = np.empty(n * k, dtype=np.int64)
    b = np.empty(n * k, dtype=np.int64)
    for i in prange(n):
        for t in range(k):
            e = i * k + t
            j = indices[i, t]
            if j < 0 or j == i:
                a[e] = -1
                b[e] = -1
                w[e] = np.inf
                dist[e] = np.inf
                continue
            a[e] = min(i, j)
            b[e] = max(i, j)
            dist[e] = pair_distance(X, i, j, metric) / alpha
            w[e] = max(max(core[i], core[j]), dist[e])
    return w, dist, a, b


@njit(inline="always", cache=NUMBA_CACHE)
def _before(w_e, dist_e, e, w_f, dist_f, f, a, b):
    """Whether edge e (weight w_e, distance dist_e) comes before edge f in the key order
    (w, dist, a, b); the endpoints are read only on a tie of both."""
    if w_e != w_f:
        return w_e < w_f
    if dist_e != dist_f:
        return dist_e < dist_f
    if a[e] != a[f]:
        return a[e] < a[f]
    return b[e] < b[f]


@njit(parallel=True, cache=NUMBA_CACHE)
def _lightest_leaving(live, w, dist, a, b, comp, m, n_parts):
    """Per component (labels ``comp`` in [0, m)), the first live edge by key with one end in it.

    The live edges are cut into ``n_parts`` runs taken in parallel, each with
    its own (m,) rows of best edges and their weights and distances (no two
    threads write one entry, and a comparison reads no edge array at a
    random place); the rows are then reduced. Returns (m,) int64 edge
    numbers, -1 where none.
    """
    n_live = live.shape[0]
    best = np.full((n_parts, m), -1, dtype=np.int64)
    best_w = np.full((n_parts, m), np.inf)
    best_dist = np.full((n_parts, m), np.inf)
    step = (n_live + n_parts - 1) // n_parts
    for part in prange(n_parts):
        for t in range(part * step, min(n_live, (part + 1) * step)):
            e = live[t]
            w_e = w[e]
            dist_e = dist[e]
            for c in (comp[a[e]], comp[b[e]]):
                f = best[part, c]
                if f < 0 or _before(w_e, dist_e, e, best_w[part, c], best_dist[part, c], f, a, b):
                    best[part, c] = e
                    best_w[part, c] = w_e
                    best_dist[part, c] = dist_e
    chosen = best[0].copy()
    for part in range(1, n_parts):
        for c in range(m):
            e = best[part, c]
            f = chosen[c]
            if e >= 0 and (f < 0 or _before(best_w[part, c], best_dist[part, c], e,
                                            w[f], dist[f], f, a, b)):
                chosen[c] = e
    return chosen


@njit(cache=NUMBA_CACHE)
def _add_chosen(parent, size, chosen, a, b, edges, n_edges):
    """Add each component's chosen edge that still joins two trees; returns the edge count."""
    for e in chosen:
        if e >= 0 and union(parent, size, a[e], b[e]):
            edges[n_edges, 0] = a[e]
            edges[n_edges, 1] = b[e]
            n_edges += 1
    return n_edges


def _graph_forest(n, w, dist, a, b, edges):
    """The minimum spanning forest of the graph edges by Boruvka; returns (comp, n_edges),
    ``comp`` (n,) the forest's component labels in the order of their smallest node.

    The key (w, dist, a, b) orders the edges strictly (the same edge seen
    from both of its ends has one key), so the forest is the one Kruskal
    takes over the sorted edges, without sorting them: each round every
    component adds the first edge by key that leaves it, and the edges
    inside one component are dropped. At 320,000 x 256 (8.0M edges) the
    rounds took 0.78 s against 4.8 s for the three-key sort and Kruskal.
    """
    parent, size = new_forest(n)
    comp = np.arange(n, dtype=np.int64)  # number_by_smallest of the empty forest
    n_edges = 0
    live = np.flatnonzero(a >= 0)
    n_parts = numba.get_num_threads()
    while live.size:
        live = live[comp[a[live]] != comp[b[live]]]
        if not live.size:
            break
        chosen = _lightest_leaving(live, w, dist, a, b, comp, int(comp.max()) + 1, n_parts)
        n_edges = _add_chosen(parent, size, chosen, a, b, edges, n_edges)
        comp = number_by_smallest(parent)
    return comp, n_edges


@njit(cache=NUMBA_CACHE)
def _add_component_sums(sums, Y, comp):
    """Add each row of Y to its component's row of ``sums`` (m, d) float64, in Y's row order."""
    for i in range(Y.shape[0]):
        sums[comp[i]] += Y[i]


@njit(cache=NUMBA_CACHE)
def _component_geometry(Y, sq, comp, m, projections):
    """Per component: centroid norm^2, radius and the projection extremes.

    ``projections`` is Y @ centroids.T (float64). Returns (centroid_sq (m,),
    radius (m,), high (m, m)) with high[C, Q] = max over i in C of
    x_i . (c_Q - c_C).
    """
    n = Y.shape[0]
    counts = np.zeros(m)
    for i in range(n):
        counts[comp[i]] += 1.0
    # |c_C|^2 = mean over C of x_i . c_C.
    centroid_sq = np.zeros(m)
    for i in range(n):
        centroid_sq[comp[i]] += projections[i, comp[i]]
    for c in range(m):
        centroid_sq[c] /= counts[c]
    radius = np.zeros(m)
    high = np.full((m, m), -np.inf)
    for i in range(n):
        c = comp[i]
        r2 = sq[i] - 2.0 * projections[i, c] + centroid_sq[c]
        radius[c] = max(radius[c], np.sqrt(max(r2, 0.0)))
        for q in range(m):
            high[c, q] = max(high[c, q], projections[i, q] - projections[i, c])
    return centroid_sq, radius, high


@njit(cache=NUMBA_CACHE)
def _metric_bound(e, metric):
    """Lower bound on delta from a lower bound e >= 0 on the Euclidean distance in Y.

    Cosine works on unit rows (zero rows stay zero), where 1 - cos = e^2 / 2
    for two unit rows and 1 >= e^2 / 2 when either row is zero.
    """
    if metric == EUCLIDEAN:
        return e
    if metric == SQEUCLIDEAN:
        return e * e
    return 0.5 * e * e


@njit(cache=NUMBA_CACHE)
def _euclidean_reach(w, metric, alpha):
    """The largest Euclidean distance in Y whose delta / alpha is at most w."""
    bound = w * alpha
    if metric == EUCLIDEAN:
        return bound
    if metric == SQEUCLIDEAN:
        return np.sqrt(bound)
    return np.sqrt(2.0 * bound)


@njit(cache=NUMBA_CACHE)
def _reach_slack(reach):
    """``reach`` widened by a relative 1e-9 for the rounding of the float64 projections."""
    return reach * (1.0 + 1e-9) + 1e-9


@njit(cache=NUMBA_CACHE)
def _tile_best(X, Y, sq, core, rows, row_proj, cols, col_proj, col_block, start, stop,
               metric, alpha, slack, tile_cols, best):
    """Best key over rows[start:stop] x cols (Q's rows), pruned by projections; updates best.

    ``best`` is [w, dist, a, b] (float64). A pair (i, j) is at least
    col_proj[j] - row_proj[i] apart, so the tile needs only the prefix of
    Q's rows (sorted by projection) within reach of its first row, and each
    row only the prefix within its own reach.
    """
    top = row_proj[start]
    limit = _reach_slack(_euclidean_reach(best[0], metric, alpha))
    m = np.searchsorted(col_proj, top + limit, side="right")
    if m == 0:
        return
    d = Y.shape[1]
    block = np.empty((stop - start, d), dtype=Y.dtype)
    for r in range(stop - start):
        block[r] = Y[rows[start + r]]
    for c0 in range(0, m, tile_cols):
        limit = _reach_slack(_euclidean_reach(best[0], metric, alpha))
        if col_proj[c0] - top > limit:
            break
        c1 = min(m, c0 + tile_cols)
        gram = np.dot(block, col_block[c0:c1].T)
        for r in range(stop - start):
            i = rows[start + r]
            if core[i] > best[0]:
                continue
            reach_i = row_proj[start + r] + _reach_slack(_euclidean_reach(best[0], metric, alpha))
            for jj in range(c1 - c0):
                if col_proj[c0 + jj] > reach_i:
                    break
                j = cols[c0 + jj]
                if core[j] > best[0]:
                    continue
                e2 = sq[i] + sq[j] - 2.0 * np.float64(gram[r, jj])
                e2 -= slack * (sq[i] + sq[j])
                lower = _metric_bound(np.sqrt(max(e2, 0.0)), metric) / alpha
                if max(max(core[i], core[j]), lower) > best[0]:
                    continue
                dist = pair_distance(X, i, j, metric) / alpha
                w = max(max(core[i], core[j]), dist)
                a, b = min(i, j), max(i, j)
                if _less(w, dist, a * (X.shape[0] + 1) + b, best[0], best[1],
                         np.int64(best[2]) * (X.shape[0] + 1) + np.int64(best[3])):
                    best[0] = w
                    best[1] = dist
                    best[2] = a
                    best[3] = b
                    reach_i = row_proj[start + r] + _reach_slack(
                        _euclidean_reach(best[0], metric, alpha))


@njit(cache=NUMBA_CACHE)
def _pair_best(X, Y, sq, core, rows, row_proj, cols, col_proj, metric, alpha, slack,
               tile_rows, tile_cols):
    """Cheapest key [w, dist, a, b] between the rows (C, by decreasing projection on
    u) and cols (Q, by increasing projection), tile after tile of rows, each
    pruned by the best found before it."""
    col_block = np.empty((cols.shape[0], Y.shape[1]), dtype=Y.dtype)
    for c in range(cols.shape[0]):
        col_block[c] = Y[cols[c]]
    best = np.array([np.inf, np.inf, -1.0, -1.0])
    for start in range(0, rows.shape[0], tile_rows):
        _tile_best(X, Y, sq, core, rows, row_proj, cols, col_proj, col_block, start,
                   min(rows.shape[0], start + tile_rows), metric, alpha, slack, tile_cols, best)
    return best


@njit(parallel=True, cache=NUMBA_CACHE)
def _pairs_best(X, Y, sq, core, rows, row_proj, row_ptr, cols, col_proj, col_ptr, metric,
                alpha, slack, tile_rows, tile_cols):
    """``_pair_best`` for a batch of component pairs, one task per pair.

    Pair p's rows are rows[row_ptr[p]:row_ptr[p + 1]] (likewise its cols).
    One task per pair rather than threads inside a pair: most pairs take a
    millisecond or less, less than a parallel region's start-up on a busy
    machine (1.5 ms on one thread against 16 ms on two for 500 x 500 rows).
    """
    n_pairs = row_ptr.shape[0] - 1
    found = np.empty((n_pairs, 4))
    for p in prange(n_pairs):
        r0, r1, c0, c1 = row_ptr[p], row_ptr[p + 1], col_ptr[p], col_ptr[p + 1]
        found[p] = _pair_best(X, Y, sq, core, rows[r0:r1], row_proj[r0:r1], cols[c0:c1],
                              col_proj[c0:c1], metric, alpha, slack, tile_rows, tile_cols)
    return found


class _Join:
    """Lazy Kruskal over the component pairs (see the module docstring)."""

    def __init__(self, X, core, comp, m, metric, alpha):
        self.X, self.core, self.comp, self.m = X, core, comp, m
        self.metric, self.alpha = metric, alpha
        if metric == COSINE:
            Y = X.astype(np.float64)
            norms = np.sqrt(np.einsum("ij,ij->i", Y, Y))
            Y /= np.where(norms > 0, norms, 1.0)[:, None]
        else:
            Y = X
        self.Y = np.ascontiguousarray(Y)
        eps = float(np.finfo(self.Y.dtype).eps)
        self.slack = (self.Y.shape[1] + 2) * eps
        counts = np.bincount(comp, minlength=m).astype(np.float64)
        by_comp = np.argsort(comp, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts[:-1]).astype(np.int64)])
        self.sq, centroids, self.projections = self._float64_geometry(comp, m, counts)
        centroid_sq, radius, self.high = _component_geometry(
            self.Y, self.sq, comp, m, self.projections)
        gram = centroids @ centroids.T
        separation = np.sqrt(np.maximum(
            centroid_sq[:, None] + centroid_sq[None, :] - 2.0 * gram, 0.0))
        self.separation = separation
        min_core = np.full(m, np.inf)
        np.minimum.at(min_core, comp, core)
        self.members = np.split(by_comp, starts[1:])
        # Bounds on the Euclidean distance in Y of every pair, then on its key. The
        # squared separations and radii, and the projection differences, are float64
        # sums of d products of values up to sqrt(scale): each is off by at most
        # ``rounding``, which is taken off before any square root (a rounding of
        # 1e-16 becomes 1e-8 under a square root; identical rows in two components
        # must still get a bound of 0).
        scale = max(float(self.sq.max(initial=0.0)), float(centroid_sq.max(initial=0.0)))
        rounding = 4.0 * (Y.shape[1] + 2) * float(np.finfo(np.float64).eps) * scale
        separation_sq = separation * separation
        radius_high = np.sqrt(radius * radius + rounding)
        ball = (np.sqrt(np.maximum(separation_sq - rounding, 0.0))
                - radius_high[:, None] - radius_high[None, :])
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = ((-(self.high + self.high.T) - 2.0 * rounding)
                   / np.where(separation > 0, np.sqrt(separation_sq + rounding), np.inf))
        euclid = np.maximum(np.maximum(ball, gap), 0.0)
        if metric == EUCLIDEAN:
            delta = euclid
        elif metric == SQEUCLIDEAN:
            delta = euclid * euclid
        else:
            delta = 0.5 * euclid * euclid
        self.bound = np.maximum(np.maximum(min_core[:, None], min_core[None, :]), delta / alpha)

    def _float64_geometry(self, comp, m, counts):
        """Squared row norms (n,), component centroids (m, d) and projections Y @ centroids^T
        (n, m), all float64, from float64 copies of ``JOIN_CHUNK_ROWS`` rows at a time
        (never of all of Y: 2 GB at 1M x 256)."""
        Y = self.Y
        n = Y.shape[0]
        sq = np.empty(n)
        sums = np.zeros((m, Y.shape[1]))
        for start in range(0, n, JOIN_CHUNK_ROWS):
            block = Y[start:start + JOIN_CHUNK_ROWS].astype(np.float64)
            sq[start:start + block.shape[0]] = np.einsum("ij,ij->i", block, block)
            _add_component_sums(sums, block, comp[start:start + block.shape[0]])
        centroids = sums / counts[:, None]
        projections = np.empty((n, m))
        for start in range(0, n, JOIN_CHUNK_ROWS):
            block = Y[start:start + JOIN_CHUNK_ROWS].astype(np.float64)
            projections[start:start + block.shape[0]] = block @ centroids.T
        return sq, centroids, projections

    def _sorted_members(self, c, q):
        """C's rows by decreasing and Q's by increasing projection on c_q - c_c (the
        smaller component as C), with their projections."""
        if len(self.members[c]) > len(self.members[q]):
            c, q = q, c
        rows, cols = self.members[c], self.members[q]
        scale = self.separation[c, q] if self.separation[c, q] > 0 else np.inf
        row_proj = (self.projections[rows, q] - self.projections[rows, c]) / scale
        col_proj = (self.projections[cols, q] - self.projections[cols, c]) / scale
        by_row = np.argsort(-row_proj, kind="stable")
        by_col = np.argsort(col_proj, kind="stable")
        return rows[by_row], row_proj[by_row], cols[by_col], col_proj[by_col]

    def pairs(self, batch):
        """Exact cheapest keys (w, dist, a, b) of the component pairs in ``batch``."""
        parts = [self._sorted_members(c, q) for c, q in batch]
        row_ptr = np.cumsum([0] + [len(p[0]) for p in parts])
        col_ptr = np.cumsum([0] + [len(p[2]) for p in parts])
        found = _pairs_best(self.X, self.Y, self.sq, self.core,
                            np.concatenate([p[0] for p in parts]),
                            np.concatenate([p[1] for p in parts]), row_ptr,
                            np.concatenate([p[2] for p in parts]),
                            np.concatenate([p[3] for p in parts]), col_ptr,
                            self.metric, self.alpha, self.slack, PAIR_TILE_ROWS,
                            PAIR_TILE_COLS)
        return [(float(f[0]), float(f[1]), int(f[2]), int(f[3])) for f in found]

    def tree(self, edges, n_edges):
        """Add the m - 1 joining edges to ``edges``; returns the new count.

        Pairs come in the order of their bounds and are evaluated in batches
        of up to ``PAIR_BATCH`` times the thread count: those whose bound is
        below the best evaluated key and whose components are still apart.
        A batch may evaluate a pair that an earlier pair of the same batch
        makes unnecessary; it is then skipped when popped.
        """
        m = self.m
        upper = np.triu_indices(m, 1)
        bounds = self.bound[upper]
        order = np.argsort(bounds, kind="stable")
        parent = list(range(m))

        def root(c):
            while parent[c] != c:
                parent[c] = parent[parent[c]]
                c = parent[c]
            return c

        evaluated = []  # heap of exact pair keys (w, dist, a, b, c, q)
        joined = 0
        position = 0
        batch_size = PAIR_BATCH * numba.get_num_threads()
        with single_threaded_blas():
            while joined < m - 1:
                next_bound = bounds[order[position]] if position < len(order) else np.inf
                if evaluated and evaluated[0][0] < next_bound:
                    w, dist, a, b, c, q = heapq.heappop(evaluated)
                    rc, rq = root(c), root(q)
                    if rc != rq:
                        parent[max(rc, rq)] = min(rc, rq)
                        edges[n_edges] = (a, b)
                        n_edges += 1
                        joined += 1
                    continue
                if position == len(order):
                    raise RuntimeError("the component join made no progress.")
                batch = []
                limit = evaluated[0][0] if evaluated else np.inf
                while position < len(order) and len(batch) < batch_size:
                    p = order[position]
                    if batch and bounds[p] > limit:
                        break
                    position += 1
                    c, q = int(upper[0][p]), int(upper[1][p])
                    if root(c) != root(q):
                        batch.append((c, q))
                for (c, q), key in zip(batch, self.pairs(batch) if batch else []):
                    heapq.heappush(evaluated, key + (c, q))
        return n_edges


def graph_mst(X, core, indices, metric, alpha):
    """Minimum spanning tree of the neighbour graph, its components joined exactly.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, finite
    core : ndarray (n,) float64 core distances, or None for plain distances
    indices : ndarray (n, k) int64, neighbours of each row (-1: none)
    metric : int, a code from ``kernels.metric`` (EUCLIDEAN, SQEUCLIDEAN or COSINE)
    alpha : float > 0

    Returns
    -------
    edges : ndarray (n - 1, 2) int64, i < j in each row
    weights : ndarray (n - 1,) float64, sorted by (weight, i, j)
    """
    n = X.shape[0]
    if core is None:
        core = np.zeros(n, dtype=np.float64)
    alpha = float(alpha)
    edges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    if n <= 1:
        return edges, np.empty(0, dtype=np.float64)
    X = np.ascontiguousarray(X)
    w, dist, a, b = _graph_edges(X, core, np.ascontiguousarray(indices), metric, alpha)
    comp, n_edges = _graph_forest(n, w, dist, a, b, edges)
    if n_edges < n - 1:
        join = _Join(X, core, comp, int(comp.max()) + 1, metric, alpha)
        n_edges = join.tree(edges, n_edges)
    weights = edge_weights(X, core, edges, metric, alpha)
    order = np.lexsort((edges[:, 1], edges[:, 0], weights))
    return edges[order], weights[order]
