"""Agglomerative trees restricted to a connectivity graph, ported from scikit-learn.

Merges may only join clusters that share an edge of the graph. scikit-learn's
heap algorithms (``ward_tree`` and ``linkage_tree`` with ``connectivity``) are
ported to plain Python on the host: their cost follows the number of edges and
they can stop once ``n_clusters`` remain. ``AgglomerativeClustering`` in
``cluster.hierarchy`` calls :func:`structured_tree` when given a graph.

Edge distances: the Euclidean, Manhattan and cosine distances from the rows
themselves (the cosine distance as the squared distance of X's cosine rows,
``gpucluster._distances.distance_rows``: 1 - u.v cancels for rows far from the
origin), the entries of X with ``metric="precomputed"``, a callable on
each pair of rows (as scikit-learn's ``paired_distances`` calls it), and any
other metric of ``sklearn.metrics.pairwise`` through
``gpucluster._host_distances.paired_distances`` (scikit-learn refuses those here).
"""

import warnings
from heapq import heapify, heappop, heappush

import numpy as np
from scipy import sparse
from sklearn.metrics import pairwise_distances

from .. import backend, kernels
from .._distances import cosine_mean, distance_rows
from .._host_distances import HostMetric, paired_distances

# Edge distances computed from the rows here: scikit-learn's paired metrics, and
# "sqeuclidean", under which the cosine rows (``distance_rows``) are measured.
ROW_METRICS = ("euclidean", "manhattan", "cosine", "sqeuclidean")


def _component_distances(Xh, idx_i, idx_j, metric, host):
    """Distances between the members of two components, as scikit-learn's
    ``_fix_connected_components`` computes them."""
    if metric == "precomputed":
        return Xh[np.ix_(idx_i, idx_j)]
    if metric in ROW_METRICS:
        return pairwise_distances(Xh[idx_i], Xh[idx_j], metric=metric)
    return host.pairwise(Xh[idx_i], Xh[idx_j])


def fix_connectivity(Xh, connectivity, metric, host=None):
    """Symmetrise the connectivity graph and join its components, as scikit-learn does.

    Returns the graph as a LIL matrix and the number of connected components
    it had. Components are joined (with a UserWarning) by an edge between
    their closest pair of points, so the tree does not stop early; with
    ``metric="precomputed"`` the distances are the entries of Xh; any metric but
    those and ``ROW_METRICS`` is measured by ``host`` (a ``HostMetric``).
    """
    n = Xh.shape[0]
    if connectivity.shape[0] != n or connectivity.shape[1] != n:
        raise ValueError(
            f"Wrong shape for connectivity matrix: {connectivity.shape} when X is {Xh.shape}"
        )
    connectivity = connectivity + connectivity.T
    connectivity = sparse.lil_matrix(connectivity) if sparse.issparse(connectivity) else (
        sparse.lil_matrix(np.asarray(connectivity))
    )
    coo = connectivity.tocoo()
    labels = backend.to_numpy(kernels.connected_components(
        n, np.asarray(coo.row, dtype=np.int64), np.asarray(coo.col, dtype=np.int64)
    ))
    n_components = int(labels.max()) + 1 if n else 0
    if n_components > 1:
        warnings.warn(
            f"the number of connected components of the connectivity matrix is "
            f"{n_components} > 1. Completing it to avoid stopping the tree early.",
            stacklevel=3,
        )
        for i in range(n_components):
            idx_i = np.flatnonzero(labels == i)
            for j in range(i):
                idx_j = np.flatnonzero(labels == j)
                D = _component_distances(Xh, idx_i, idx_j, metric, host)
                ii, jj = np.unravel_index(D.argmin(axis=None), D.shape)
                connectivity[idx_i[ii], idx_j[jj]] = 1
                connectivity[idx_j[jj], idx_i[ii]] = 1
    return connectivity, n_components


def _pop_live_pair(heap, used):
    """The closest pair in ``heap`` whose two clusters have not been merged yet."""
    # Pairs are not removed from the heap when one side merges (a heap cannot
    # delete cheaply); they are skipped here instead, as scikit-learn does.
    while True:
        value, i, j = heappop(heap)
        if used[i] and used[j]:
            return value, i, j


class _Edge(tuple):
    """A heap entry ``(weight, i, j)`` ordered by its weight alone, as scikit-learn's
    ``WeightedEdge``: among equal weights the heap's own order (so the order of
    the pushes) decides which pops first, not the node numbers, so tied
    distances merge in scikit-learn's order."""

    __slots__ = ()

    def __lt__(self, other):
        return self[0] < other[0]


def _ward_inertia(moments_1, moments_2, rows, cols):
    n = moments_1[rows] * moments_1[cols] / (moments_1[rows] + moments_1[cols])
    diff = moments_2[rows] / moments_1[rows, None] - moments_2[cols] / moments_1[cols, None]
    return np.sum(diff * diff, axis=1) * n


def structured_ward(Xh, connectivity, n_nodes):
    """scikit-learn's ``ward_tree`` with connectivity: merges, parents and distances."""
    n, n_features = Xh.shape
    A = []
    coord_row, coord_col = [], []
    for ind, row in enumerate(connectivity.rows):
        A.append(list(row))
        lower = [i for i in row if i < ind]
        coord_row.extend(len(lower) * [ind])
        coord_col.extend(lower)
    moments_1 = np.zeros(n_nodes)
    moments_1[:n] = 1
    moments_2 = np.zeros((n_nodes, n_features))
    moments_2[:n] = Xh
    rows = np.asarray(coord_row, dtype=np.intp)
    cols = np.asarray(coord_col, dtype=np.intp)
    heap = list(zip(_ward_inertia(moments_1, moments_2, rows, cols).tolist(),
                    coord_row, coord_col))
    heapify(heap)
    parent = np.arange(n_nodes, dtype=np.intp)
    used = np.ones(n_nodes, dtype=bool)
    not_visited = np.empty(n_nodes, dtype=bool)
    children = []
    distances = np.empty(n_nodes - n)
    for k in range(n, n_nodes):
        inertia, i, j = _pop_live_pair(heap, used)
        parent[i] = parent[j] = k
        children.append((j, i))
        used[i] = used[j] = False
        distances[k - n] = inertia
        moments_1[k] = moments_1[i] + moments_1[j]
        moments_2[k] = moments_2[i] + moments_2[j]
        # The current clusters next to i or j: the roots of their neighbours.
        heads = []
        not_visited.fill(True)
        not_visited[k] = False
        for node in A[i] + A[j]:
            while parent[node] != node:
                node = parent[node]
            if not_visited[node]:
                not_visited[node] = False
                heads.append(node)
        for col in heads:
            A[col].append(k)
        A.append(heads)
        cols = np.asarray(heads, dtype=np.intp)
        rows = np.full(cols.shape, k, dtype=np.intp)
        for value, col in zip(_ward_inertia(moments_1, moments_2, rows, cols).tolist(), heads):
            heappush(heap, (value, k, col))
    children = np.asarray(children, dtype=np.int64).reshape(-1, 2)
    # scikit-learn stores half the squared increase; sqrt(2 x) is the ward distance.
    return children, parent, np.sqrt(2.0 * distances)


def _merge_neighbours(a, b, used, n_a, n_b, linkage):
    out = {key: value for key, value in a.items() if used[key]}
    for key, value in b.items():
        if not used[key]:
            continue
        if key in out:
            if linkage == "complete":
                out[key] = max(out[key], value)
            else:
                out[key] = (n_a * out[key] + n_b * value) / (n_a + n_b)
        else:
            out[key] = value
    return out


def _edge_distances(Xh, rows, cols, metric, host):
    if metric == "precomputed":
        return Xh[rows, cols]
    if metric not in ROW_METRICS:
        return paired_distances(Xh, rows, cols, host)
    diff_a, diff_b = Xh[rows], Xh[cols]
    if metric == "sqeuclidean":
        return np.sum((diff_a - diff_b) ** 2, axis=1)
    if metric == "euclidean":
        return np.sqrt(np.sum((diff_a - diff_b) ** 2, axis=1))
    if metric == "manhattan":
        return np.sum(np.abs(diff_a - diff_b), axis=1)
    norms = np.linalg.norm(diff_a, axis=1) * np.linalg.norm(diff_b, axis=1)
    return 1.0 - np.sum(diff_a * diff_b, axis=1) / norms


def structured_linkage(Xh, connectivity, n_nodes, linkage, metric, host=None):
    """scikit-learn's ``linkage_tree`` with connectivity: merges, parents and distances."""
    n = Xh.shape[0]
    coo = connectivity.tocoo()
    keep = coo.row != coo.col
    rows, cols = coo.row[keep].astype(np.intp), coo.col[keep].astype(np.intp)
    weights = _edge_distances(Xh, rows, cols, metric, host)
    parent = np.arange(n_nodes, dtype=np.intp)
    if linkage == "single":
        upper = rows < cols
        edges = np.stack([rows[upper], cols[upper]], axis=1)
        w = weights[upper]
        order = np.argsort(w, kind="stable")
        edges, w = edges[order], w[order]
        keep = kernels.spanning_forest(edges, n)
        chosen = w[keep]
        children = kernels.label_merges(edges[keep], n)
        for k, (left, right) in enumerate(children.tolist(), n):
            if k >= n_nodes:
                break
            parent[left] = parent[right] = k
        return children, parent, np.asarray(chosen, dtype=np.float64)
    graph = sparse.coo_matrix((weights, (rows, cols)), shape=(n, n)).tolil()
    A = [dict(zip(r, d)) for r, d in zip(graph.rows, graph.data)] + [None] * (n_nodes - n)
    heap = [_Edge((d, ind, r)) for ind, (r_list, d_list) in enumerate(zip(graph.rows, graph.data))
            for r, d in zip(r_list, d_list) if r < ind]
    heapify(heap)
    used = np.ones(n_nodes, dtype=np.intp)
    children = []
    distances = np.empty(n_nodes - n)
    for k in range(n, n_nodes):
        weight, i, j = _pop_live_pair(heap, used)
        distances[k - n] = weight
        parent[i] = parent[j] = k
        children.append((j, i))
        n_i, n_j = used[i], used[j]
        used[k] = n_i + n_j
        used[i] = used[j] = 0
        merged = _merge_neighbours(A[i], A[j], used, n_i, n_j, linkage)
        # Pushed in ascending node order, as scikit-learn's sorted IntFloatDict is read.
        for col, d in sorted(merged.items()):
            A[col][k] = d
            heappush(heap, _Edge((d, k, col)))
        A[k] = merged
        A[i] = A[j] = None
    return np.asarray(children, dtype=np.int64).reshape(-1, 2), parent, distances


def structured_tree(Xh, connectivity, linkage, metric, n_clusters):
    """Tree restricted to ``connectivity``; partial when ``n_clusters`` is given.

    Parameters
    ----------
    Xh : ndarray of shape (n_samples, n_features), float64, C-contiguous
        The samples, on the host; with "precomputed" the (n_samples,
        n_samples) distance matrix.
    connectivity : ndarray or sparse matrix of shape (n_samples, n_samples)
        Neighbours of each sample; symmetrised, and completed with a warning
        when it has several components.
    linkage : {"ward", "complete", "average", "single"}
    metric : str or callable
        "euclidean", "manhattan", "cosine" (aliases already resolved),
        "precomputed", another name of ``gpucluster._host_distances.PAIRWISE_METRICS``,
        or a callable of two rows; "ward" uses "euclidean".
    n_clusters : int or None
        Stop after ``n_samples - n_clusters`` merges; None builds the full tree.

    Returns
    -------
    children : ndarray of shape (n_merges, 2), int64
    n_connected_components : int
        Components of the graph before it was completed.
    parents : ndarray of shape (n_nodes,), intp
        Parent of each node; a root is its own parent.
    distances : ndarray of shape (n_merges,), float64

    Raises
    ------
    ValueError
        When ``connectivity`` is not (n_samples, n_samples) or ``n_clusters``
        exceeds ``n_samples``.
    """
    n = Xh.shape[0]
    # SciPy's definitions (cdist), with V or VI from all rows (as pdist).
    host = HostMetric(metric, source="scipy").fitted(Xh)
    # The cosine distance is the squared distance of the cosine rows (float64).
    Xh, metric = distance_rows(Xh, metric, cosine_mean(Xh, metric))
    connectivity, n_components = fix_connectivity(Xh, connectivity, metric, host)
    if n_clusters is None:
        n_nodes = 2 * n - 1
    else:
        if n_clusters > n:
            raise ValueError(
                f"Cannot provide more clusters than samples. {n_clusters} n_clusters "
                f"was asked, and there are {n} samples."
            )
        n_nodes = 2 * n - n_clusters
    if linkage == "ward":
        children, parents, distances = structured_ward(Xh, connectivity, n_nodes)
    else:
        children, parents, distances = structured_linkage(
            Xh, connectivity, n_nodes, linkage, metric, host
        )
    return children, n_components, parents, distances
