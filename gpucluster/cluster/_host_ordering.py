"""The OPTICS ordering from host distances: scikit-learn's metrics, callables, precomputed input.

scikit-learn's ``compute_optics_graph`` loop, step for step, as the kernels
run it for the Euclidean and cosine distances (``kernels.optics_ordering``):
take the unprocessed point of smallest reachability (ties to the lowest
index), and when it is a core point lower the reachability of every
unprocessed point within ``max_eps`` to :math:`\\max(\\mathrm{core}(p),
\\delta(p, q))`, rounded to 15 decimals, recording p as its predecessor.
The distances come from

- a dense (n, n) matrix: precomputed, or computed with the metric when it
  fits the host (``gpucluster._host_distances.matrix_fits``); the loop is one compiled
  function, O(n^2);
- one row per step from the metric otherwise (O(n) memory);
- a sparse precomputed graph, where only stored entries are neighbours
  (scikit-learn's reading of a sparse distance matrix).
"""

import numpy as np
from numba import njit

from .._host_distances import kth_smallest, kth_stored, matrix_fits, neighbour_distances
from ..kernels._numba import NUMBA_CACHE
from ..kernels.cpu.optics import round_like_numpy

_NO_COLUMNS = np.empty(0, dtype=np.int64)


@njit(cache=NUMBA_CACHE)
def _ordering_state(n):
    """The arrays of an ordering of n points: processed, reachability (inf until
    reached), predecessor (-1 until reached) and ordering."""
    return (np.zeros(n, dtype=np.bool_), np.full(n, np.inf), np.full(n, -1, dtype=np.int64),
            np.empty(n, dtype=np.int64))


@njit(cache=NUMBA_CACHE)
def _next_point(step, processed, reachability, ordering):
    """Take the unprocessed point of smallest reachability (the lowest index among ties)
    as the ``step``-th of the ordering, and return it."""
    best = -1
    value = np.inf
    for j in range(reachability.shape[0]):
        if not processed[j] and (best < 0 or reachability[j] < value):
            best = j
            value = reachability[j]
    processed[best] = True
    ordering[step] = best
    return best


@njit(cache=NUMBA_CACHE)
def _reach_from(point, distances, columns, core, max_eps, processed, reachability, predecessor):
    """Lower the reachability of the unprocessed points within ``max_eps`` of ``point``.

    ``distances[t]`` is the distance to point ``columns[t]``, or to point t
    when ``columns`` is empty (a whole row).
    """
    whole_row = columns.shape[0] == 0
    for t in range(distances.shape[0]):
        j = t if whole_row else columns[t]
        if processed[j] or not distances[t] <= max_eps:
            continue
        # np.around(x, 15), as scikit-learn rounds (and ``kernels.optics_ordering``).
        reach = round_like_numpy(max(distances[t], core))
        if reach < reachability[j]:
            reachability[j] = reach
            predecessor[j] = point


@njit(cache=NUMBA_CACHE)
def _order(D, indptr, indices, data, core, max_eps):
    # Rows of D when it has any, else rows of the CSR graph (indptr, indices, data).
    dense = D.shape[0] > 0
    processed, reachability, predecessor, ordering = _ordering_state(core.shape[0])
    for step in range(core.shape[0]):
        point = _next_point(step, processed, reachability, ordering)
        if core[point] == np.inf:
            continue
        if dense:
            _reach_from(point, D[point], indices, core[point], max_eps, processed,
                        reachability, predecessor)
        else:
            lo, hi = indptr[point], indptr[point + 1]
            _reach_from(point, data[lo:hi], indices[lo:hi], core[point], max_eps, processed,
                        reachability, predecessor)
    return ordering, reachability, predecessor


def order_points(core, max_eps, *, D=None, graph=None, row=None):
    """The OPTICS ordering, reachability and predecessors from one source of distances.

    Parameters
    ----------
    core : ndarray (n,), float64
        Core distances, rounded, inf above ``max_eps`` (:func:`core_distances`).
    max_eps : float
    D : ndarray (n, n), float64, optional
        Every distance.
    graph : SciPy CSR matrix (n, n), optional
        Stored distances only; the others are not neighbours.
    row : callable, optional
        ``row(i)``: the (n,) distances from point i, computed when needed.

    Returns
    -------
    ordering, reachability, predecessor : ndarray (n,)
        int64, float64 and int64, as ``kernels.optics_ordering`` returns them
        (inf and -1 where a point was never reached).
    """
    core = np.ascontiguousarray(core, dtype=np.float64)
    empty = np.zeros((0, 0))
    if D is not None:
        return _order(np.ascontiguousarray(D, dtype=np.float64), np.zeros(1, np.int64),
                      _NO_COLUMNS, np.zeros(0), core, max_eps)
    if graph is not None:
        return _order(empty, graph.indptr.astype(np.int64), graph.indices.astype(np.int64),
                      graph.data.astype(np.float64), core, max_eps)
    # _order's loop, with one row from the metric per step.
    processed, reachability, predecessor, ordering = _ordering_state(core.shape[0])
    for step in range(core.shape[0]):
        point = _next_point(step, processed, reachability, ordering)
        if core[point] != np.inf:
            _reach_from(point, np.ascontiguousarray(row(point), dtype=np.float64), _NO_COLUMNS,
                        core[point], max_eps, processed, reachability, predecessor)
    return ordering, reachability, predecessor


def core_distances(kth, max_eps):
    """OPTICS core distances from the distances to the min_samples-th neighbours:
    inf above ``max_eps``, rounded to 15 decimals, as scikit-learn."""
    core = np.where(kth > max_eps, np.inf, kth)
    return np.around(core, decimals=np.finfo(np.float64).precision)


def features_ordering(X, metric, min_samples, max_eps):
    """scikit-learn's ``compute_optics_graph`` for feature rows X (NumPy or SciPy sparse)
    under a host metric: ``(ordering, core_distances, reachability, predecessor)``."""
    metric = metric.fitted(X)
    D, (kth,) = neighbour_distances(X, metric, (min_samples,), keep_matrix=matrix_fits(X.shape[0]))
    core = core_distances(kth, max_eps)
    if D is not None:
        return _with_core(order_points(core, max_eps, D=D), core)
    return _with_core(order_points(core, max_eps, row=lambda i: metric.pairwise(X[i:i + 1], X)[0]),
                      core)


def matrix_ordering(D, min_samples, max_eps):
    """The same for a dense precomputed distance matrix (the diagonal counts as a neighbour)."""
    core = core_distances(kth_smallest(D, (min_samples,))[0], max_eps)
    return _with_core(order_points(core, max_eps, D=D), core)


def _with_core(result, core):
    ordering, reachability, predecessor = result
    return ordering, core, reachability, predecessor


def graph_ordering(G, min_samples, max_eps):
    """The same for a sparse precomputed graph (CSR, each row sorted, the diagonal stored):
    the core distance is a row's min_samples-th smallest stored value.

    Raises
    ------
    ValueError
        A row storing fewer than ``min_samples`` values (scikit-learn's message).
    """
    counts = np.diff(G.indptr)
    if counts.size and counts.min() < min_samples:
        raise ValueError(
            f"{min_samples} neighbors per samples are required, but some samples have only "
            f"{counts.min()} neighbors in precomputed graph matrix. Decrease number of "
            "neighbors used or recompute the graph with more neighbors."
        )
    core = core_distances(kth_stored(G, min_samples), max_eps)
    return _with_core(order_points(core, max_eps, graph=G), core)
