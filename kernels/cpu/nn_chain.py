"""Hierarchical clustering on the CPU: the nearest-neighbour chain and tree bookkeeping.

The nearest-neighbour chain (Murtagh 1983; Müllner 2011, "Modern hierarchical,
agglomerative clustering algorithms") builds the exact dendrogram of every
reducible linkage in O(n^2) time: follow nearest neighbours from any cluster
until two clusters are each other's nearest neighbour, merge them, and keep the
rest of the chain. Merges come out of order; ``label_merges`` sorts them into
SciPy's linkage numbering (leaves 0..n-1, merge ``s`` creates node ``n + s``,
each row ``(min, max)`` of the two roots).

``nn_chain`` is one loop for every linkage; only the distance between two
clusters (``_pair_distance``) and the merge update (``_merge``) branch on the
linkage code:

- ``WARD`` keeps only cluster centroids and sizes (O(n d) memory):
  :math:`d(A, B) = \\sqrt{2 |A| |B| / (|A| + |B|)}\\, \\lVert c_A - c_B \\rVert`,
  the distance SciPy's ``ward`` and scikit-learn's ``distances_`` report;
- ``COMPLETE``, ``AVERAGE`` and ``SINGLE`` work on a condensed float64
  distance matrix (n (n - 1) / 2 entries) updated in place with the
  Lance-Williams formulas, as SciPy's ``nn_chain`` does.

Each chain step scans all active clusters; the scan is split over Numba
threads (one argmin per block, blocks reduced in order), the only parallel
part. Reference: SciPy's ``scipy.cluster.hierarchy.linkage``.
"""

import numba
import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE
from ..metric import COSINE, EUCLIDEAN, MANHATTAN, SQEUCLIDEAN

# Linkage codes understood by ``nn_chain``.
COMPLETE = 0
AVERAGE = 1
SINGLE = 2
WARD = 3
LINKAGE_CODES = {"complete": COMPLETE, "average": AVERAGE, "single": SINGLE, "ward": WARD}

# Fewest active clusters per thread block in a chain scan: below it the
# thread start-up costs more than the scan.
MIN_SCAN_BLOCK = 2048


@njit(fastmath={"reassoc", "contract"}, cache=NUMBA_CACHE)
def _sq_diff(a, b):
    # Reassociation lets LLVM vectorise the sum; only the summation order changes.
    s = 0.0
    for t in range(a.shape[0]):
        v = a[t] - b[t]
        s += v * v
    return s


@njit(fastmath={"reassoc", "contract"}, cache=NUMBA_CACHE)
def _sq_diff_rows(A, i, j):
    # ``_sq_diff`` on two rows of A, taken by index so that the parallel
    # scan creates no array view per pair.
    s = 0.0
    for t in range(A.shape[1]):
        v = A[i, t] - A[j, t]
        s += v * v
    return s


@njit(cache=NUMBA_CACHE)
def _condensed_index(n, i, j):
    if i > j:
        i, j = j, i
    return n * i - (i * (i + 1)) // 2 + (j - i - 1)


@njit(cache=NUMBA_CACHE)
def _reduce_blocks(block_best, block_arg, n_blocks, current, y, has_previous):
    """The nearest cluster over all blocks; ties go to the previous chain element, then the lowest index."""
    keep_previous = has_previous
    for b in range(n_blocks):
        v = block_best[b]
        if v < current or (v == current and not keep_previous and 0 <= block_arg[b] < y):
            current = v
            y = block_arg[b]
            keep_previous = False
    return y, current


@njit(cache=NUMBA_CACHE)
def _fill_row(X, norms, metric, out, i):
    n, d = X.shape
    base = n * i - (i * (i + 1)) // 2 - i - 1
    for j in range(i + 1, n):
        if metric == EUCLIDEAN:
            v = np.sqrt(_sq_diff(X[i], X[j]))
        elif metric == SQEUCLIDEAN:
            v = _sq_diff(X[i], X[j])
        elif metric == MANHATTAN:
            v = 0.0
            for t in range(d):
                v += abs(X[i, t] - X[j, t])
        else:
            dot = 0.0
            for t in range(d):
                dot += X[i, t] * X[j, t]
            v = 1.0 - dot / (norms[i] * norms[j])
        out[base + j] = v


@njit(parallel=True, cache=NUMBA_CACHE)
def condensed_distances(X, metric):
    """Condensed distance matrix (n (n - 1) / 2,) float64 of the rows of X, SciPy's ``pdist`` order.

    Each pair is computed directly from the coordinate differences (not from
    norms and a dot product), so distances carry no cancellation error and
    merge orders match SciPy's. ``metric``: EUCLIDEAN, SQEUCLIDEAN, MANHATTAN or COSINE
    (``1 - x.y / (|x| |y|)``; rows must be non-zero).
    """
    n, d = X.shape
    out = np.empty(n * (n - 1) // 2, dtype=np.float64)
    norms = np.zeros(n, dtype=np.float64)
    if metric == COSINE:
        for i in range(n):
            norms[i] = np.sqrt(np.sum(X[i] * X[i]))
    # Rows r and n - 1 - r together hold about n pairs: equal work per iteration.
    for r in prange((n + 1) // 2):
        _fill_row(X, norms, metric, out, r)
        if n - 1 - r != r:
            _fill_row(X, norms, metric, out, n - 1 - r)
    return out


# Inlined by Numba into the parallel scan: left to LLVM, the call stayed a
# call there and average linkage at 5k x 32 on one thread took 1.7 s instead
# of 0.7 s (the separate ward and condensed loops this replaced).
@njit(inline="always", cache=NUMBA_CACHE)
def _pair_distance(method, centroids, size, D, n, x, i):
    """Distance between active clusters x and i: squared ward distance, or the condensed entry."""
    if method == WARD:
        sx = size[x]
        si = size[i]
        return 2.0 * sx * si / (sx + si) * _sq_diff_rows(centroids, x, i)
    return D[_condensed_index(n, x, i)]


@njit(parallel=True, cache=NUMBA_CACHE)
def _scan(method, centroids, size, D, n, active, n_active, x, n_blocks, block_best, block_arg):
    """Nearest active cluster to x, per block of the active list (ties to the lowest index)."""
    step = (n_active + n_blocks - 1) // n_blocks
    for b in prange(n_blocks):
        best = np.inf
        arg = -1
        for p in range(b * step, min(n_active, (b + 1) * step)):
            i = active[p]
            if i == x:
                continue
            v = _pair_distance(method, centroids, size, D, n, x, i)
            if v < best or (v == best and i < arg):
                best = v
                arg = i
        block_best[b] = best
        block_arg[b] = arg


@njit(cache=NUMBA_CACHE)
def _remove_active(active, position, n_active, i):
    p = position[i]
    last = active[n_active - 1]
    active[p] = last
    position[last] = p
    position[i] = -1
    return n_active - 1


@njit(cache=NUMBA_CACHE)
def _merge(method, centroids, size, D, n, active, n_active, x, y):
    """Merge cluster x into y: y's centroid (ward) or its row of D (Lance-Williams), and the sizes.

    Call after x has left the active list.
    """
    nx = size[x]
    ny = size[y]
    if method == WARD:
        for t in range(centroids.shape[1]):
            centroids[y, t] = (nx * centroids[x, t] + ny * centroids[y, t]) / (nx + ny)
    else:
        for p in range(n_active):
            i = active[p]
            if i == y:
                continue
            iy = _condensed_index(n, i, y)
            dx = D[_condensed_index(n, i, x)]
            dy = D[iy]
            if method == COMPLETE:
                D[iy] = max(dx, dy)
            elif method == AVERAGE:
                D[iy] = (nx * dx + ny * dy) / (nx + ny)
            else:
                D[iy] = min(dx, dy)
    size[y] = nx + ny
    size[x] = 0.0


@njit(cache=NUMBA_CACHE)
def nn_chain(X, D, n, method, n_threads):
    """Merges of n clusters by the nearest-neighbour chain, in the order the chain finds them.

    Parameters
    ----------
    X : ndarray (n, d) float64 for ``WARD`` (copied, not changed); any (0, 0) float64 otherwise
    D : ndarray (n (n - 1) / 2,) float64 condensed distances for ``COMPLETE``, ``AVERAGE``
        and ``SINGLE`` (overwritten); any empty float64 array for ``WARD``
    n : int, the number of points
    method : int, one of ``LINKAGE_CODES``' values
    n_threads : int, the most Numba threads a scan uses

    Returns
    -------
    merges : ndarray (n - 1, 2) int64, the representative rows (x < y) merged;
        the new cluster keeps representative y, as in SciPy's ``nn_chain``
    distances : ndarray (n - 1,) float64, the linkage distance of each merge
    """
    centroids = X.copy()
    size = np.ones(n, dtype=np.float64)
    active = np.arange(n)
    position = np.arange(n)
    n_active = n
    chain = np.empty(n, dtype=np.int64)
    chain_length = 0
    merges = np.empty((max(n - 1, 0), 2), dtype=np.int64)
    distances = np.empty(max(n - 1, 0), dtype=np.float64)
    block_best = np.empty(n_threads, dtype=np.float64)
    block_arg = np.empty(n_threads, dtype=np.int64)
    first = 0
    for k in range(n - 1):
        if chain_length == 0:
            # SciPy starts each chain at the lowest live index; ties then
            # resolve as in its nn_chain.
            while size[first] == 0.0:
                first += 1
            chain[0] = first
            chain_length = 1
        while True:
            x = chain[chain_length - 1]
            # Prefer the previous chain element on ties, so the chain cannot cycle.
            if chain_length > 1:
                y = chain[chain_length - 2]
                current = _pair_distance(method, centroids, size, D, n, x, y)
            else:
                y = -1
                current = np.inf
            n_blocks = max(1, min(n_threads, n_active // MIN_SCAN_BLOCK))
            _scan(method, centroids, size, D, n, active, n_active, x, n_blocks, block_best,
                  block_arg)
            y, current = _reduce_blocks(block_best, block_arg, n_blocks, current, y,
                                        chain_length > 1)
            if chain_length > 1 and y == chain[chain_length - 2]:
                break
            chain[chain_length] = y
            chain_length += 1
        chain_length -= 2
        if x > y:
            x, y = y, x
        merges[k, 0] = x
        merges[k, 1] = y
        # The ward scan compares squared distances.
        distances[k] = np.sqrt(current) if method == WARD else current
        n_active = _remove_active(active, position, n_active, x)
        _merge(method, centroids, size, D, n, active, n_active, x, y)
    return merges, distances


def merge_order(X, method, metric):
    """The merges of ``nn_chain`` for rows X (n, d) float64, with their distances.

    ``WARD`` works on the rows themselves (O(n d) memory); the other
    linkages on the condensed ``metric`` distances (n (n - 1) / 2 float64).
    """
    n = X.shape[0]
    threads = default_threads()
    if method == WARD:
        return nn_chain(X, np.empty(0), n, method, threads)
    D = condensed_distances(X, metric)
    return nn_chain(np.empty((0, 0)), D, n, method, threads)


@njit(cache=NUMBA_CACHE)
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit(cache=NUMBA_CACHE)
def spanning_forest(edges, n_nodes):
    """Kruskal's selection: True for each edge (in the given order) that joins two trees."""
    parent = np.arange(n_nodes)
    keep = np.zeros(edges.shape[0], dtype=np.bool_)
    for e in range(edges.shape[0]):
        a = _find(parent, edges[e, 0])
        b = _find(parent, edges[e, 1])
        if a != b:
            parent[a] = b
            keep[e] = True
    return keep


@njit(cache=NUMBA_CACHE)
def label_merges(merges, n):
    """SciPy's linkage numbering for merges sorted by distance.

    ``merges`` (n - 1, 2) names any member row (or representative) of each
    side; merge ``s`` creates node ``n + s``. Returns children (n - 1, 2)
    int64, each row (smaller root, larger root), as scikit-learn's ``children_``.
    """
    parent = np.arange(2 * n - 1)
    children = np.empty((merges.shape[0], 2), dtype=np.int64)
    for s in range(merges.shape[0]):
        a = _find(parent, merges[s, 0])
        b = _find(parent, merges[s, 1])
        if a > b:
            a, b = b, a
        children[s, 0] = a
        children[s, 1] = b
        parent[a] = n + s
        parent[b] = n + s
    return children


@njit(cache=NUMBA_CACHE)
def labels_below(children, n, cut_nodes):
    """Label every leaf with the index in ``cut_nodes`` of its ancestor among them.

    Nodes are visited from the root down (a parent's id is always larger than
    its children's), so each node below the cut inherits its parent's label.
    """
    n_nodes = n + children.shape[0]
    label = np.full(n_nodes, -1, dtype=np.int64)
    for c in range(cut_nodes.shape[0]):
        label[cut_nodes[c]] = c
    for node in range(n_nodes - 1, n - 1, -1):
        lab = label[node]
        if lab < 0:
            continue
        for t in range(2):
            child = children[node - n, t]
            if label[child] < 0:
                label[child] = lab
    return label[:n].copy()


@njit(cache=NUMBA_CACHE)
def roots_of(parents, n):
    """The root of each of the first ``n`` nodes of a forest given by parent pointers."""
    heads = np.empty(n, dtype=np.int64)
    for i in range(n):
        node = i
        while parents[node] != node:
            node = parents[node]
        heads[i] = node
    return heads


def default_threads():
    """The Numba threads a chain scan may use (``numba.get_num_threads()``)."""
    return numba.get_num_threads()
