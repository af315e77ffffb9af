"""Graph kernels: ``mst`` (Boruvka over mutual reachability), ``graph_mst`` (the same
tree restricted to a neighbour graph, its components joined exactly) and
``connected_components``.

Declared once with ``@kernel`` (see ``_dispatch.py``); implementations in
``cpu/mst.py``, ``cpu/graph_mst.py``, ``cpu/union_find.py`` and their ``cuda/``
namesakes.
References: ``tests/kernels/reference_graph.py``.
"""

import numpy as np

from ._dispatch import kernel
from .arrays import array_module
from .metric import metric_code

MST_METRICS = ("euclidean", "sqeuclidean", "cosine")


def _check_points(X, core_distances, metric, alpha):
    """Validate the inputs of ``mst``; returns the metric code."""
    code = metric_code(metric, MST_METRICS)
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise TypeError(f"alpha must be a real number, got {alpha!r}.") from None
    if not (np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha}.")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {tuple(X.shape)}.")
    lib = array_module(X)
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"X must be float32 or float64, got {X.dtype}.")
    if X.shape[0] and not bool(lib.isfinite(X).all()):
        raise ValueError("X contains NaN or infinity.")
    if core_distances is not None:
        if tuple(core_distances.shape) != (X.shape[0],):
            raise ValueError(
                f"core_distances must have shape ({X.shape[0]},), "
                f"got {tuple(core_distances.shape)}."
            )
        if core_distances.dtype.kind != "f":
            raise TypeError(f"core_distances must be floating point, got {core_distances.dtype}.")
        if X.shape[0] and not bool(lib.isfinite(core_distances).all()):
            raise ValueError("core_distances contains NaN or infinity.")
    return code, alpha


@kernel(cpu="mst.mst", cuda="mst.mst")
def mst(X, core_distances=None, *, metric="euclidean", alpha=1.0):
    """Minimum spanning tree of the complete graph on X's rows, exact.

    Edge weights are the mutual reachability distances

    .. math:: w(i, j) = \\max(c_i, c_j, d(x_i, x_j) / \\alpha),

    or :math:`d / \\alpha` when ``core_distances`` is None; :math:`d` is the
    Euclidean, squared Euclidean or cosine (:math:`1 - \\cos`, 1 against a
    zero row) distance. Edges are ordered by (w, d / alpha, i, j), nearer
    pairs first among equal weights, so the tree is unique. No n x n matrix
    is formed (Boruvka, see ``kernels/cpu/mst.py`` and ``kernels/cuda/mst.py``).

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64, finite;
        NumPy, torch, CuPy or any array-API array
    core_distances : array (n_samples,), floating, finite, or None;
        same kind and device as X
    metric : {"euclidean", "sqeuclidean", "cosine"}
    alpha : float > 0

    Returns
    -------
    edges : array (n_samples - 1, 2), int64, each row (i, j) with i < j
    weights : array (n_samples - 1,), float64, ascending (ties: by (i, j))
        Both in X's namespace and on X's device.

    Raises
    ------
    ValueError
        Unknown metric, alpha <= 0, X not 2-D, NaN or infinity in X or the
        core distances, core distances of the wrong shape.
    TypeError
        X or the core distances not floating point.

    Notes
    -----
    Edges are chosen with distances in X's dtype (from a GEMM above 16
    features, from a KD-tree in float64 below, cosine always by GEMM), so
    with float32 input edges whose weights differ by less than the rounding
    may be swapped; the weights returned are recomputed in float64 from the
    coordinates. The CPU kernel caches each point's best candidates between
    Boruvka rounds; the CUDA kernel rescans all pairs each round.
    """
    code, alpha = _check_points(X, core_distances, metric, alpha)
    core = None if core_distances is None else core_distances.astype(np.float64, copy=False)
    return X, core, code, alpha


def _check_indices(indices, n):
    """Validate a neighbour graph of n rows: (n, k) integers in [-1, n)."""
    if indices.ndim != 2 or indices.shape[0] != n:
        raise ValueError(f"indices must have shape ({n}, k), got {tuple(indices.shape)}.")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be an integer array, got {indices.dtype}.")
    if indices.size:
        low, high = int(indices.min()), int(indices.max())
        if low < -1 or high >= n:
            raise ValueError(
                f"indices must lie in [-1, {n}) (-1: no neighbour), got values from {low} "
                f"to {high}."
            )


@kernel(cpu="graph_mst.graph_mst", cuda=None)
def graph_mst(X, core_distances, indices, *, metric="euclidean", alpha=1.0):
    """Minimum spanning tree of a neighbour graph, the components it leaves joined exactly.

    The weights are those of :func:`mst`. The tree is the minimum spanning
    forest of the graph with an edge (i, j) for every j in ``indices[i]``,
    plus the minimum spanning tree of its components, where two components
    are joined by their cheapest pair of points (Kruskal over all pairs of
    points in different components, after the graph's edges). With the
    complete graph (k = n - 1) it is :func:`mst`'s tree; with the exact k
    nearest neighbours it is the tree fast_hdbscan and cuML build. The join
    scans pairs of components lazily, pruned by centroid bounds, never all
    cross pairs (see ``kernels/cpu/graph_mst.py``).

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64, finite;
        NumPy, torch, CuPy or any array-API array
    core_distances : array (n_samples,), floating, finite, or None;
        same kind and device as X
    indices : array (n_samples, k), integer, in [-1, n_samples): row i's
        neighbours (-1 or i itself: none), for example from ``knn`` or
        ``knn_graph``; same kind and device as X
    metric : {"euclidean", "sqeuclidean", "cosine"}
    alpha : float > 0

    Returns
    -------
    edges : array (n_samples - 1, 2), int64, each row (i, j) with i < j
    weights : array (n_samples - 1,), float64, ascending (ties: by (i, j))
        Both in X's namespace and on X's device.

    Raises
    ------
    ValueError
        As :func:`mst`, and indices of the wrong shape or out of range.
    TypeError
        As :func:`mst`, and indices not integer.

    Notes
    -----
    Weights and the choice of every edge are computed in float64 from the
    coordinates (GEMM distances only filter candidates, with a rounding
    slack), so float32 input gives the float64 reference's tree. Host only:
    CUDA inputs are copied to the host and the results copied back.
    Reference: ``tests/kernels/reference_graph.py::graph_mst``.
    """
    code, alpha = _check_points(X, core_distances, metric, alpha)
    _check_indices(indices, X.shape[0])
    core = None if core_distances is None else core_distances.astype(np.float64, copy=False)
    return X, core, indices.astype(np.int64, copy=False), code, alpha


def _check_edges(n_nodes, sources, targets):
    """Validate the inputs of ``connected_components``; returns n_nodes as an int."""
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)):
        raise TypeError(f"n_nodes must be an integer, got {n_nodes!r}.")
    n_nodes = int(n_nodes)
    if n_nodes < 0:
        raise ValueError(f"n_nodes must be >= 0, got {n_nodes}.")
    if sources.ndim != 1 or tuple(sources.shape) != tuple(targets.shape):
        raise ValueError(
            "sources and targets must be 1-D of equal length, got shapes "
            f"{tuple(sources.shape)} and {tuple(targets.shape)}."
        )
    for name, a in (("sources", sources), ("targets", targets)):
        if a.dtype.kind not in "iu":
            raise TypeError(f"{name} must be an integer array, got {a.dtype}.")
        if a.shape[0]:
            low, high = int(a.min()), int(a.max())
            if low < 0 or high >= n_nodes:
                raise ValueError(
                    f"{name} must lie in [0, {n_nodes}), got values from {low} to {high}."
                )
    return n_nodes


@kernel(cpu="union_find.connected_components", cuda="union_find.connected_components")
def connected_components(n_nodes, sources, targets):
    """Component label of every node of an undirected graph given as an edge list.

    Parameters
    ----------
    n_nodes : int >= 0
    sources, targets : arrays (n_edges,), integer, values in [0, n_nodes);
        edge e joins sources[e] and targets[e] (self-loops and repeats allowed);
        NumPy, torch, CuPy or any array-API array, both of one kind

    Returns
    -------
    labels : array (n_nodes,), int64, numbered 0, 1, ... in the order of each
        component's smallest node; in the namespace and device of ``sources``.
    """
    n_nodes = _check_edges(n_nodes, sources, targets)
    return (n_nodes, sources.astype(np.int64, copy=False), targets.astype(np.int64, copy=False))
