"""Sequential ordering kernels: the OPTICS cluster order and the agglomerative merge order.

Both are loops whose every step depends on the one before, O(n^2 d) in all.

Each is declared once with ``@kernel`` (see ``_dispatch.py``).

- ``optics_core_distances`` and ``optics_ordering``: the compiled Numba
  loop of ``cpu/optics.py`` on the host; on CUDA, ``cuda/optics.py``, the
  same loop in array-API code run on the CuPy view, one distance row per
  step on the device.
- ``optics_graph_ordering``: the same loop on a neighbour graph, with a
  heap, host-only (``cpu/optics.py``).
- ``nn_chain`` (the nearest-neighbour chain of ``cpu/nn_chain.py``) and the
  dendrogram bookkeeping (``label_merges``, ``leaf_labels``,
  ``forest_roots``, ``spanning_forest``) are host-only (``cuda=None``):
  merging is sequential and its state is small, so the dispatcher copies
  device arrays to the host and the results back to the input's device.
"""

import numbers

import numpy as np

from ._dispatch import kernel
from .arrays import unit_rows
from .cpu.nn_chain import LINKAGE_CODES
from .metric import COSINE, metric_code, squared_form

OPTICS_METRICS = ("euclidean", "sqeuclidean", "cosine")
LINKAGES = tuple(LINKAGE_CODES)
LINKAGE_METRICS = ("euclidean", "sqeuclidean", "manhattan", "cosine")


# --------------------------------------------------------------------------
# OPTICS


def _optics_metric(metric):
    return squared_form(metric_code(metric, OPTICS_METRICS))


def _check_max_eps(max_eps):
    if isinstance(max_eps, bool) or not isinstance(max_eps, numbers.Real) or not max_eps >= 0:
        raise ValueError(f"max_eps must be a number >= 0, got {max_eps!r}.")
    return float(max_eps)


def _check_rows(X):
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {tuple(X.shape)}.")
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"X must be float32 or float64, got {X.dtype}.")


def _rows(X, code):
    """X for the ordering loops: float64 unit rows for the cosine distance, else X itself."""
    return unit_rows(X.astype(np.float64)) if code == COSINE else X


@kernel(cpu="optics.core_distances", cuda="optics.core_distances")
def optics_core_distances(X, indices, max_eps=np.inf, metric="euclidean"):
    """OPTICS core distances: each row's distance to the farthest of its listed neighbours.

    Given the ``min_samples - 1`` nearest neighbours of each row (from
    ``knn`` with ``exclude_self=True``), this is scikit-learn's core
    distance: computed in float64 with exactly the operations of
    ``optics_ordering`` (so a point's core distance and its distance to its
    own farthest neighbour are one number and ties stay exact), inf above
    ``max_eps``, and otherwise rounded to 15 decimals as scikit-learn rounds
    it.

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    indices : array (n_samples, k), integer, k >= 1; same kind and device as X
    max_eps : float >= 0
    metric : {"euclidean", "sqeuclidean", "cosine"}
        The cosine distance is ``1 - cos(x, y)`` of the unit rows, clipped to [0, 2].

    Returns
    -------
    core_distances : array (n_samples,), float64, in X's namespace and on X's device
    """
    code, root = _optics_metric(metric)
    max_eps = _check_max_eps(max_eps)
    _check_rows(X)
    if indices.ndim != 2 or indices.shape[0] != X.shape[0] or indices.shape[1] < 1:
        raise ValueError(
            f"indices must have shape ({X.shape[0]}, k) with k >= 1, got {tuple(indices.shape)}."
        )
    return _rows(X, code), indices, max_eps, code, root


@kernel(cpu="optics.optics_ordering", cuda="optics.optics_ordering")
def optics_ordering(X, core_distances, max_eps=np.inf, metric="euclidean"):
    """The OPTICS cluster order, reachability distances and predecessors of X's rows.

    scikit-learn's ``compute_optics_graph`` loop: take the unprocessed point
    of smallest reachability (ties to the lowest index), and when it is core
    lower the reachability of every unprocessed point within ``max_eps`` to
    :math:`\\max(\\mathrm{core}(p), \\delta(p, q))`, rounded to 15 decimals,
    recording p as the predecessor. Distances are summed in float64 from
    coordinate differences. On the CPU the whole loop is one compiled
    function; on CUDA each step is one distance row on the device.

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    core_distances : array (n_samples,), float64, from ``optics_core_distances``;
        same kind and device as X
    max_eps : float >= 0
    metric : {"euclidean", "sqeuclidean", "cosine"}, as for ``optics_core_distances``

    Returns
    -------
    ordering : array (n_samples,), int64
    reachability : array (n_samples,), float64, inf where never reached
    predecessor : array (n_samples,), int64, -1 where never reached
        All in X's namespace and on X's device.
    """
    code, root = _optics_metric(metric)
    max_eps = _check_max_eps(max_eps)
    _check_rows(X)
    if tuple(core_distances.shape) != (X.shape[0],):
        raise ValueError(
            f"core_distances must have shape ({X.shape[0]},), got {tuple(core_distances.shape)}."
        )
    return _rows(X, code), core_distances.astype(np.float64, copy=False), max_eps, code, root


@kernel(cpu="optics.graph_ordering", cuda=None)
def optics_graph_ordering(X, core_distances, indices, max_eps=np.inf, metric="euclidean"):
    """``optics_ordering`` on a neighbour graph: a point reaches only its graph neighbours.

    The same loop and arithmetic as :func:`optics_ordering`, but a core point
    lowers the reachability of its neighbours in the graph (row i and every
    ``indices[i, c]``, in both directions) only, and the next point comes
    from a heap: O(n k (d + log n)) instead of O(n^2 d). With every pair in
    the graph the results are :func:`optics_ordering`'s; with the k nearest
    neighbours, a point none of whose graph neighbours is processed stays at
    inf until reached, so jumps between clusters read inf instead of their
    distance. Host-only: CUDA inputs are copied to the host and back.

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    core_distances : array (n_samples,), float64, from ``optics_core_distances``
    indices : array (n_samples, k), integer, in [-1, n_samples); -1 or the row
        itself: no neighbour
    max_eps : float >= 0
    metric : {"euclidean", "sqeuclidean", "cosine"}

    Returns
    -------
    ordering, reachability, predecessor : as :func:`optics_ordering`
    """
    code, root = _optics_metric(metric)
    max_eps = _check_max_eps(max_eps)
    _check_rows(X)
    n = X.shape[0]
    if tuple(core_distances.shape) != (n,):
        raise ValueError(
            f"core_distances must have shape ({n},), got {tuple(core_distances.shape)}."
        )
    if indices.ndim != 2 or indices.shape[0] != n:
        raise ValueError(f"indices must have shape ({n}, k), got {tuple(indices.shape)}.")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be an integer array, got {indices.dtype}.")
    if indices.size and (int(indices.min()) < -1 or int(indices.max()) >= n):
        raise ValueError(f"indices must lie in [-1, {n}).")
    return (_rows(X, code), core_distances.astype(np.float64, copy=False),
            indices.astype(np.int64, copy=False), max_eps, code, root)


# --------------------------------------------------------------------------
# Agglomerative merge order and dendrogram bookkeeping (host-only)


@kernel(cpu="nn_chain.merge_order", cuda=None)
def nn_chain(X, linkage="ward", metric="euclidean"):
    """Merges of X's rows by the nearest-neighbour chain, in the order the chain finds them.

    Exact for the reducible linkages, O(n^2) steps (Müllner 2011). "ward"
    keeps cluster centroids (O(n d) memory) and reports SciPy's ward
    distance; "complete", "average" and "single" build the condensed float64
    distance matrix of ``metric``, n (n - 1) / 2 entries, which the caller
    checks against its memory budget first. Host-only: device arrays are
    copied to the host and the results back.

    Parameters
    ----------
    X : array (n_samples, n_features), real; NumPy, torch, CuPy or array-API
        (computed in float64; rows must be non-zero for the cosine distance)
    linkage : {"ward", "complete", "average", "single"}
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine"}; "ward" takes only
        "euclidean" ("sqeuclidean" serves the cosine distance of rows scaled for it:
        ``gpucluster._distances.distance_rows``)

    Returns
    -------
    merges : array (n_samples - 1, 2), int64
        Two member rows (x < y) of the clusters each merge joins; sort by
        distance (stably) and number with ``label_merges``.
    distances : array (n_samples - 1,), float64, the linkage distance of each merge
        Both in X's kind and on X's device.
    """
    if linkage not in LINKAGE_CODES:
        raise ValueError(f"linkage must be one of {LINKAGES}, got {linkage!r}.")
    code = metric_code(metric, LINKAGE_METRICS)
    if linkage == "ward" and metric != "euclidean":
        raise ValueError(f"linkage='ward' takes only metric='euclidean', got {metric!r}.")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {tuple(X.shape)}.")
    return np.ascontiguousarray(X, dtype=np.float64), LINKAGE_CODES[linkage], code


def _host_int64(h, name, ndim):
    if h.ndim != ndim or (ndim == 2 and h.shape[1] != 2):
        want = "(m, 2)" if ndim == 2 else "(m,)"
        raise ValueError(f"{name} must have shape {want}, got {h.shape}.")
    if h.size and not np.issubdtype(h.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array, got {h.dtype}.")
    return h.astype(np.int64, copy=False)


@kernel(cpu="nn_chain.label_merges", cuda=None)
def label_merges(merges, n_leaves):
    """SciPy's linkage numbering of merges already sorted by distance (host-only).

    Parameters
    ----------
    merges : array (m, 2), integer; any member (leaf or representative row) of each side
    n_leaves : int; merge s creates node ``n_leaves + s``

    Returns
    -------
    children : array (m, 2), int64, each row (smaller root, larger root), as
        scikit-learn's ``children_``; in the kind and device of ``merges``
    """
    return _host_int64(merges, "merges", 2), int(n_leaves)


@kernel(cpu="nn_chain.labels_below", cuda=None)
def leaf_labels(children, n_leaves, cut_nodes):
    """Label of every leaf: the index in ``cut_nodes`` of its ancestor among them (host-only).

    Parameters
    ----------
    children : array (n_leaves - 1 or fewer, 2), integer, SciPy numbering
    n_leaves : int
    cut_nodes : array (k,), integer, node ids that together cover every leaf

    Returns
    -------
    labels : array (n_leaves,), int64, in the kind and device of ``children``
    """
    return (_host_int64(children, "children", 2), int(n_leaves),
            _host_int64(cut_nodes, "cut_nodes", 1))


@kernel(cpu="nn_chain.roots_of", cuda=None)
def forest_roots(parents, n_leaves):
    """Root of each of the first ``n_leaves`` nodes of a forest of parent pointers (host-only).

    ``parents`` (n_nodes,), integer, roots point to themselves; returns
    (n_leaves,) int64 in the kind and device of ``parents``.
    """
    return _host_int64(parents, "parents", 1), int(n_leaves)


@kernel(cpu="nn_chain.spanning_forest", cuda=None)
def spanning_forest(edges, n_nodes):
    """Kruskal's selection (host-only): which edges, taken in the given order, join two trees.

    Parameters
    ----------
    edges : array (m, 2), integer, values in [0, n_nodes); sort them by weight first
    n_nodes : int

    Returns
    -------
    keep : array (m,), bool, True for each edge that joined two components
        when it came; in the kind and device of ``edges``
    """
    e = _host_int64(edges, "edges", 2)
    n_nodes = int(n_nodes)
    if e.size and (e.min() < 0 or e.max() >= n_nodes):
        raise ValueError(f"edges must lie in [0, {n_nodes}), got values from {e.min()} to "
                         f"{e.max()}.")
    return e, n_nodes
