"""NumPy/SciPy references for the graph kernels, written for clarity, computed in float64."""

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as scipy_components
from scipy.sparse.csgraph import minimum_spanning_tree


def distances(X, metric):
    """(n, n) float64 distances: "euclidean", "sqeuclidean" or "cosine" (1 against a zero row)."""
    X = np.asarray(X, dtype=np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(X, axis=1)
        outer = norms[:, None] * norms[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            cos = np.where(outer > 0, (X @ X.T) / np.where(outer > 0, outer, 1.0), 0.0)
        return 1.0 - cos
    D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    return np.sqrt(D) if metric == "euclidean" else D


def mutual_reachability(X, core_distances=None, metric="euclidean", alpha=1.0):
    """(n, n) matrix of max(core_i, core_j, d(i, j) / alpha)."""
    D = distances(X, metric) / alpha
    if core_distances is not None:
        core = np.asarray(core_distances, dtype=np.float64)
        D = np.maximum(D, np.maximum(core[:, None], core[None, :]))
    return D


def core_distances(X, k, metric="euclidean"):
    """Distance of each row to its k-th nearest other row (brute force)."""
    D = distances(X, metric)
    np.fill_diagonal(D, np.inf)
    return np.sort(D, axis=1)[:, k - 1]


def mst(X, core_distances=None, metric="euclidean", alpha=1.0):
    """Edges (n-1, 2) with i < j and float64 weights, sorted by (weight, i, j).

    SciPy treats a zero entry as a missing edge, so weights are shifted by 1
    before and after (duplicate points have distance 0).
    """
    W = mutual_reachability(X, core_distances, metric, alpha)
    tree = minimum_spanning_tree(np.triu(W + 1.0, 1)).tocoo()
    i = np.minimum(tree.row, tree.col).astype(np.int64)
    j = np.maximum(tree.row, tree.col).astype(np.int64)
    w = W[i, j]
    order = np.lexsort((j, i, w))
    return np.stack([i[order], j[order]], axis=1), w[order]


def connected_components(n_nodes, sources, targets):
    """SciPy's components, renumbered 0, 1, ... in the order of each one's smallest node."""
    s = np.asarray(sources, dtype=np.int64)
    t = np.asarray(targets, dtype=np.int64)
    graph = coo_matrix((np.ones(len(s)), (s, t)), shape=(n_nodes, n_nodes))
    _, raw = scipy_components(graph, directed=False)
    _, first = np.unique(raw, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[raw]


def graph_mst(X, core_distances, indices, metric="euclidean", alpha=1.0):
    """Kruskal over the graph's edges, then over every pair of points in different components.

    Both passes sort by the key (w, d / alpha, i, j), so the joining edges are
    the minimum spanning tree of the components with their cheapest pairs.
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    W = mutual_reachability(X, core_distances, metric, alpha)
    D = distances(X, metric) / alpha
    indices = np.asarray(indices, dtype=np.int64)
    rows = np.repeat(np.arange(n), indices.shape[1])
    cols = indices.ravel()
    keep = (cols >= 0) & (cols != rows)
    graph = np.unique(np.stack([np.minimum(rows, cols)[keep], np.maximum(rows, cols)[keep]], 1),
                      axis=0).reshape(-1, 2)
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    def kruskal(pairs, tree):
        a, b = pairs[:, 0], pairs[:, 1]
        for e in np.lexsort((b, a, D[a, b], W[a, b])):
            ra, rb = root(a[e]), root(b[e])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
                tree.append((a[e], b[e]))

    tree = []
    kruskal(graph, tree)
    comp = np.array([root(i) for i in range(n)])
    i, j = np.triu_indices(n, 1)
    cross = comp[i] != comp[j]
    kruskal(np.stack([i[cross], j[cross]], 1), tree)
    edges = np.array(tree, dtype=np.int64).reshape(-1, 2)
    w = W[edges[:, 0], edges[:, 1]]
    order = np.lexsort((edges[:, 1], edges[:, 0], w))
    return edges[order], w[order]
