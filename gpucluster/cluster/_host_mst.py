"""HDBSCAN's mutual-reachability spanning tree from host distances.

For the metrics no kernel computes (``gpucluster._host_distances``) and for
precomputed distances, the tree is built on the host as scikit-learn builds
it, and handed to the same tree processing as the kernels' tree
(``_hdbscan_tree.process_tree``):

- Prim's algorithm grown from point 0 over the mutual reachability
  :math:`\\max(c_i, c_j, d_{ij})`, each step one pass over the points not in
  the tree (O(n^2) in all). The distances come from a whole (n, n) matrix
  when it fits the host (``gpucluster._host_distances.matrix_fits``), else one row per
  step from the metric (O(n) memory, one ``pairwise_distances`` call a step).
- A sparse precomputed graph: scikit-learn's sparse path, with SciPy's
  ``minimum_spanning_tree`` on the mutual reachability of the stored
  entries, and its errors.
"""

import warnings

import numpy as np
from numba import njit
from scipy.sparse import coo_matrix, csgraph

from .._host_distances import kth_smallest, kth_stored, matrix_fits, neighbour_distances
from ..kernels._numba import NUMBA_CACHE

INFINITE_EDGE_WARNING = (
    "The minimum spanning tree contains edge weights with value infinity. Potentially, you "
    "are missing too many distances in the initial distance matrix for the given "
    "neighborhood size."
)


@njit(cache=NUMBA_CACHE)
def _prim_state(n):
    """The arrays of a Prim's run over n points: in_tree, best (each outside point's
    lightest edge into the tree), source (that edge's end in the tree), sequence (the
    points in the order they were added) and weights (of the edges, in that order)."""
    return (np.zeros(n, dtype=np.bool_), np.full(n, np.inf), np.zeros(n, dtype=np.int64),
            np.empty(n, dtype=np.int64), np.empty(n - 1, dtype=np.float64))


@njit(cache=NUMBA_CACHE)
def _prim_step(step, current, distances, core, in_tree, best, source, sequence, weights):
    """One step of Prim's algorithm: add ``current`` as the ``step``-th point of the tree,
    lower each outside point's best mutual reachability through it (``distances`` is its
    row), and return the nearest outside point (the lowest index among ties), recording
    the weight of its edge."""
    sequence[step] = current
    in_tree[current] = True
    nearest = -1
    nearest_weight = np.inf
    for j in range(distances.shape[0]):
        if in_tree[j]:
            continue
        weight = max(distances[j], core[current], core[j])
        if weight < best[j]:
            best[j] = weight
            source[j] = current
        if nearest < 0 or best[j] < nearest_weight:
            nearest = j
            nearest_weight = best[j]
    weights[step] = nearest_weight
    return nearest


@njit(cache=NUMBA_CACHE)
def _prim_matrix(D, core):
    in_tree, best, source, sequence, weights = _prim_state(D.shape[0])
    current = 0
    for step in range(D.shape[0] - 1):
        current = _prim_step(step, current, D[current], core, in_tree, best, source, sequence,
                             weights)
    sequence[-1] = current
    return source, sequence, weights


def prim_tree(core, D=None, row=None, *, sequential=False):
    """Prim's minimum spanning tree of the mutual reachability max(c_i, c_j, d_ij).

    Parameters
    ----------
    core : ndarray (n,), float64
        Core distances (already divided by alpha where the caller wants it).
    D : ndarray (n, n), float64, or None
        Distances (divided by alpha), inf where missing.
    row : callable or None
        Without D, ``row(i)`` returns the (n,) distances from point i.

    sequential : bool
        Emit each edge as (the point added before, the point added), as
        scikit-learn's Prim's algorithm on a mutual-reachability matrix (its
        brute path) records them, instead of (its end in the tree, the point
        added), as its tree-based path does. The weights are the same, and so
        is the single-linkage tree built from either.

    Returns
    -------
    edges : ndarray (n - 1, 2), int64, grown from point 0
    weights : ndarray (n - 1,), float64, in the order the edges were added
    """
    core = np.ascontiguousarray(core, dtype=np.float64)
    if D is not None:
        source, sequence, weights = _prim_matrix(np.ascontiguousarray(D, dtype=np.float64), core)
    else:
        # _prim_matrix's loop, with one row from the metric per step.
        in_tree, best, source, sequence, weights = _prim_state(core.shape[0])
        current = 0
        for step in range(core.shape[0] - 1):
            distances = np.ascontiguousarray(row(current), dtype=np.float64)
            current = _prim_step(step, current, distances, core, in_tree, best, source,
                                 sequence, weights)
        sequence[-1] = current
    added = sequence[1:]
    edges = np.stack([sequence[:-1] if sequential else source[added], added], axis=1)
    return edges, weights


def warn_infinite_edges(weights):
    """scikit-learn's UserWarning when the tree had to take an infinite edge."""
    if np.isinf(weights).any():
        warnings.warn(INFINITE_EDGE_WARNING, UserWarning, stacklevel=3)


def features_tree(X, metric, min_samples, alpha, brute):
    """The tree of feature rows X (NumPy or SciPy sparse) under a host metric.

    ``brute`` follows scikit-learn's brute path (for the metrics its trees do
    not know, callables and sparse X): alpha divides the core distances as
    well as the distances, and the edges are recorded as its Prim's algorithm
    on a matrix records them; otherwise its tree-based path, where alpha
    divides only the distances.

    Returns ``(core, previous_core, edges, weights)``: the core distances
    (min_samples-th and (min_samples - 1)-th nearest, counting the point;
    undivided) and the tree.
    """
    metric = metric.fitted(X)
    D, (core, previous) = neighbour_distances(X, metric, (min_samples, min_samples - 1),
                                              keep_matrix=matrix_fits(X.shape[0]))
    used = core / alpha if brute else core
    if D is not None:
        D /= alpha
        edges, weights = prim_tree(used, D=D, sequential=brute)
    else:
        edges, weights = prim_tree(
            used, row=lambda i: metric.pairwise(X[i:i + 1], X)[0] / alpha, sequential=brute)
    return core, previous, edges, weights


def matrix_tree(D, min_samples, alpha):
    """The tree of a dense precomputed distance matrix, as scikit-learn's brute path:
    distances divided by alpha, then core distances from them. Returns
    ``(core, previous_core, edges, weights)``."""
    D = D / alpha
    core, previous = kth_smallest(D, (min_samples, min_samples - 1))
    edges, weights = prim_tree(core, D=D, sequential=True)
    warn_infinite_edges(weights)
    return core, previous, edges, weights


def graph_tree(G, min_samples, alpha, max_distance=0.0):
    """The tree of a sparse precomputed distance graph (SciPy CSR, float64), as scikit-learn's.

    Only stored entries are edges. A point's core distance is its
    ``min_samples``-th smallest stored distance (the diagonal counts only when
    stored); a mutual reachability that is not finite becomes ``max_distance``
    when that is positive.

    Returns ``(core, edges, weights)``, the edges as SciPy's tree stores them.

    Raises
    ------
    ValueError
        A point with fewer than ``min_samples`` stored distances, or a graph of
        several connected components (scikit-learn's messages).
    """
    G = G.tocsr(copy=True)
    # Canonical (sorted, duplicates summed), as scikit-learn's symmetry check
    # leaves its input: SciPy's tree then lists its edges in the same order.
    G.sum_duplicates()
    G.data = G.data / alpha
    counts = np.diff(G.indptr)
    if (counts < min_samples).any():
        raise ValueError(
            f"There exists points with fewer than {min_samples} neighbors. Ensure your "
            f"distance matrix has non-zero values for at least `min_sample`={min_samples} "
            "neighbors for each points (i.e. K-nn graph), or specify a `max_distance` in "
            "`metric_params` to use when distances are missing."
        )
    core = kth_stored(G, min_samples)
    rows = np.repeat(np.arange(G.shape[0]), counts)
    reach = np.maximum(np.maximum(core[rows], core[G.indices]), G.data)
    if max_distance > 0:
        reach[~np.isfinite(reach)] = max_distance
    G.data = reach
    n_components = csgraph.connected_components(G, directed=False, return_labels=False)
    if n_components > 1:
        raise ValueError(
            f"Sparse mutual reachability matrix has {n_components} connected components. "
            "HDBSCAN cannot be performed on a disconnected graph. Ensure that the sparse "
            "distance matrix has only one connected component."
        )
    tree = csgraph.minimum_spanning_tree(G).tocoo()
    edges = np.stack([tree.row, tree.col], axis=1).astype(np.int64)
    weights = tree.data.astype(np.float64)
    if edges.shape[0] != G.shape[0] - 1:
        # SciPy leaves out edges of weight 0; they join at distance 0.
        edges, weights = _join_at_zero(edges, weights, G.shape[0])
    warn_infinite_edges(weights)
    return core, edges, weights


def _join_at_zero(edges, weights, n):
    forest = coo_matrix((np.ones(edges.shape[0]), (edges[:, 0], edges[:, 1])), shape=(n, n))
    labels = csgraph.connected_components(forest, directed=False, return_labels=True)[1]
    firsts = np.unique(labels, return_index=True)[1]
    extra = np.stack([np.full(firsts.shape[0] - 1, firsts[0]), firsts[1:]], axis=1)
    return (np.concatenate([edges, extra]),
            np.concatenate([weights, np.zeros(extra.shape[0])]))
