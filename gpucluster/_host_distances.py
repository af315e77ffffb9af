"""Host distances for what no kernel computes: other metrics, callables, precomputed input.

The kernels compute the Euclidean, squared Euclidean, Manhattan and cosine
distances on X's device (each caller says which of them it sends there).
Every other metric the estimators and the silhouette take is computed here,
on the host in float64, with the definitions the scikit-learn twin uses
(:class:`HostMetric`): ``sklearn.metrics.pairwise_distances`` (HDBSCAN's and
OPTICS's brute paths), ``sklearn.metrics.DistanceMetric`` (their trees, and
single linkage) or SciPy's ``cdist``/``pdist`` (complete and average linkage,
through ``scipy.cluster.hierarchy.linkage``). "seuclidean" and
"mahalanobis" take their V or VI from all rows (:meth:`HostMetric.fitted`),
as ``pdist`` does, so that every block of rows is measured alike.

Distances come in blocks of rows sized by the host memory budget
(``gpucluster.set_config(memory_budget=...)``, :func:`row_blocks`); from
them this module builds condensed matrices, whole matrices, k-th neighbour
distances and nearest rows. It also decides which path an estimator's
metric takes (:func:`resolve_metric`) and holds scikit-learn's checks of
precomputed input. The estimators build their own loops on what it returns
(``cluster._host_mst``, ``cluster._host_ordering``, ``cluster.hierarchy``,
``metrics._internal``).
"""

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from numba import njit
from scipy.spatial.distance import cdist, pdist
from sklearn.metrics import DistanceMetric, pairwise_distances
from sklearn.metrics.pairwise import PAIRWISE_BOOLEAN_FUNCTIONS
from sklearn.neighbors import VALID_METRICS, VALID_METRICS_SPARSE, BallTree, KDTree
from sklearn.utils._param_validation import InvalidParameterError

from . import backend
from ._config import get_config
from ._sparse import is_sparse, sparse_to_device
from .kernels._numba import NUMBA_CACHE

# --------------------------------------------------------------------------
# Metric names

# The names sklearn.metrics.pairwise_distances takes (its _VALID_METRICS),
# less "wminkowski", which SciPy removed: scikit-learn accepts the name and
# then fails. The silhouette and AgglomerativeClustering take these.
PAIRWISE_METRICS = (
    "braycurtis", "canberra", "chebyshev", "cityblock", "correlation", "cosine", "dice",
    "euclidean", "hamming", "haversine", "jaccard", "l1", "l2", "mahalanobis", "manhattan",
    "matching", "minkowski", "nan_euclidean", "rogerstanimoto", "russellrao", "seuclidean",
    "sokalsneath", "sqeuclidean", "yule",
)
# The names scikit-learn's neighbour search takes (HDBSCAN, OPTICS): its brute
# path's, and those only its trees (DistanceMetric) know ("infinity", "p", ...).
TREE_METRICS = {"kd_tree": tuple(KDTree.valid_metrics), "ball_tree": tuple(BallTree.valid_metrics)}
METRICS = tuple(sorted((set(VALID_METRICS["brute"]) - {"precomputed"})
                       .union(*TREE_METRICS.values())))
BOOLEAN_METRICS = tuple(PAIRWISE_BOOLEAN_FUNCTIONS)
# The names scikit-learn's neighbour search takes for sparse rows.
SPARSE_METRICS = tuple(sorted(set(VALID_METRICS_SPARSE["brute"]) - {"precomputed"}))
# Names SciPy's distance functions do not know; scikit-learn computes them.
SKLEARN_ONLY_METRICS = ("haversine", "nan_euclidean", "l1", "l2", "manhattan")
# Host metrics the density estimators' and the silhouette's kernels compute
# themselves (with no parameters), by their kernel name.
KERNEL_METRICS = {"euclidean": "euclidean", "l2": "euclidean", "sqeuclidean": "sqeuclidean",
                  "cosine": "cosine"}


def check_metric(metric, name="metric", extra=()):
    """Return ``metric`` when it is a name of :data:`PAIRWISE_METRICS` (or ``extra``) or a
    callable; raise InvalidParameterError (a ValueError) otherwise, naming the accepted values."""
    if callable(metric) or (isinstance(metric, str) and metric in PAIRWISE_METRICS + extra):
        return metric
    accepted = tuple(sorted(PAIRWISE_METRICS + extra))
    raise InvalidParameterError(f"{name} must be one of {accepted} or a callable, got {metric!r}.")


def host_sparse(X):
    """A SciPy copy of a cupyx sparse matrix (through its own ``get``); SciPy input as is."""
    return sparse_to_device(X, "cpu")


def _dense(X):
    return X.toarray() if is_sparse(X) else np.asarray(X)


# --------------------------------------------------------------------------
# One metric on the host


@dataclass(frozen=True)
class HostMetric:
    """A distance computed on the host: a metric name scikit-learn knows, or a callable.

    ``params`` are the metric's keyword arguments (``p`` of "minkowski"
    included). Distances are float64 NumPy arrays; rows may be NumPy arrays or
    SciPy sparse matrices (scikit-learn's own metrics only, as in scikit-learn).

    ``source`` says whose definitions measure dense rows (for "braycurtis" on
    negative data and the boolean metrics on non-boolean data they differ;
    elsewhere they agree to rounding):

    - "sklearn": ``sklearn.metrics.pairwise_distances`` (boolean metrics read
      nonzero as True), or ``DistanceMetric`` for the names only it knows;
    - "tree": ``DistanceMetric``, as scikit-learn's trees and its single
      linkage measure;
    - "scipy": SciPy's ``cdist``, as ``scipy.cluster.hierarchy.linkage``
      measures for scikit-learn's complete and average linkage, and
      scikit-learn for the names SciPy does not know.
    """

    metric: object
    params: dict = field(default_factory=dict)
    source: str = "sklearn"

    @cached_property
    def _distance_metric(self):
        return DistanceMetric.get_metric(self.metric, **self.params)

    @property
    def boolean(self):
        """Whether the metric reads its input as booleans (jaccard, rogerstanimoto, ...)."""
        return isinstance(self.metric, str) and self.metric in BOOLEAN_METRICS

    def fitted(self, X):
        """This metric with what SciPy derives from all rows of X filled in: V of
        "seuclidean" and VI of "mahalanobis", as ``pdist(X)`` computes them, so that
        every block of rows is measured alike (``cdist`` of two blocks would derive
        them from those blocks alone)."""
        if self.metric == "seuclidean" and "V" not in self.params:
            return replace(self, params={**self.params, "V": np.var(_dense(X), axis=0, ddof=1)})
        if self.metric == "mahalanobis" and "V" not in self.params and "VI" not in self.params:
            inverse = np.linalg.inv(np.atleast_2d(np.cov(_dense(X).T))).T.copy()
            return replace(self, params={**self.params, "VI": inverse})
        return self

    def pairwise(self, A, B):
        """Distances (len(A), len(B)), float64, between the rows of A and of B."""
        if isinstance(self.metric, str):
            if self.source == "scipy" and self.metric not in SKLEARN_ONLY_METRICS:
                return cdist(A, B, metric=self.metric, **self.params)
            if self.source == "tree" or self.metric not in PAIRWISE_METRICS:
                if is_sparse(A) or is_sparse(B):
                    raise TypeError(f"metric {self.metric!r} does not take sparse input; use a "
                                    f"metric of sklearn.metrics.pairwise_distances or dense X.")
                return self._distance_metric.pairwise(A, B)
        if self.boolean and (A.dtype != bool or B.dtype != bool):
            # Read as booleans (nonzero is True) without scikit-learn's warning on
            # every block; OPTICS warns once itself.
            A, B = A.astype(bool), B.astype(bool)
        return np.asarray(pairwise_distances(A, B, metric=self.metric, **self.params),
                          dtype=np.float64)


# --------------------------------------------------------------------------
# Which path computes an estimator's metric


@dataclass(frozen=True)
class MetricChoice:
    """Where an estimator's distances come from.

    Exactly one holds: ``kernel`` names the kernels' metric ("euclidean",
    "sqeuclidean", "cosine"); ``host`` is a :class:`HostMetric`;
    ``precomputed`` is True (X holds the distances), with ``params`` the
    caller's ``metric_params`` (HDBSCAN's ``max_distance``).
    """

    kernel: str = None
    host: HostMetric = None
    precomputed: bool = False
    params: dict = field(default_factory=dict)


def resolve_metric(metric, metric_params=None, p=None, *,
                   kernel_metrics=("euclidean", "sqeuclidean", "cosine")):
    """Which path computes ``metric``: a kernel, the host, or none ("precomputed").

    Parameters
    ----------
    metric : str or callable
        "precomputed", a name in ``METRICS`` or a callable ``f(x, y) -> float``.
    metric_params : dict or None
        The metric's keyword arguments.
    p : float or None
        Minkowski power when ``metric_params`` has none (scikit-learn's OPTICS
        parameter); 2 when both are None.
    kernel_metrics : tuple of str
        The kernels' metrics (values of ``KERNEL_METRICS``) the estimator
        computes on them.

    Returns
    -------
    MetricChoice
        A name with no parameters that a kernel computes (Minkowski with
        p=2 among them) goes to the kernel; anything else to the host.

    Raises
    ------
    ValueError
        An unknown name; TypeError when metric_params is not a dict.
    """
    if metric_params is not None and not isinstance(metric_params, dict):
        raise InvalidParameterError(
            f"metric_params must be a dict or None, got {metric_params!r}.")
    params = dict(metric_params or {})
    if callable(metric):
        return MetricChoice(host=HostMetric(metric, params))
    if not isinstance(metric, str) or metric not in METRICS + ("precomputed",):
        raise InvalidParameterError(
            f"metric must be 'precomputed', a callable or one of {METRICS}, got {metric!r}."
        )
    if metric == "precomputed":
        return MetricChoice(precomputed=True, params=params)
    if metric == "minkowski":
        params.setdefault("p", 2 if p is None else p)
        if params == {"p": 2} and "euclidean" in kernel_metrics:
            return MetricChoice(kernel="euclidean")
    elif not params and KERNEL_METRICS.get(metric) in kernel_metrics:
        return MetricChoice(kernel=KERNEL_METRICS[metric])
    return MetricChoice(host=HostMetric(metric, params))


def sparse_rows_metric(choice):
    """The host metric that measures sparse feature rows for ``choice`` (a kernel's
    metric or a host one), as scikit-learn's neighbour search: Minkowski with p=1 or 2
    becomes "manhattan" or "euclidean"; callables and ``SPARSE_METRICS`` only.

    Raises
    ------
    ValueError
        Any other metric (scikit-learn's message).
    """
    if choice.kernel is not None:
        name, params = choice.kernel, {}
    else:
        name, params = choice.host.metric, dict(choice.host.params)
    if name == "minkowski" and set(params) == {"p"} and params["p"] in (1, 2):
        name, params = ("manhattan" if params["p"] == 1 else "euclidean"), {}
    if callable(name) or name in SPARSE_METRICS:
        return HostMetric(name, params)
    raise ValueError(
        f"Metric '{name}' not valid for sparse input. Use "
        "sorted(sklearn.neighbors.VALID_METRICS_SPARSE['brute']) to get valid options. "
        "Metric can also be a callable function."
    )


def check_tree_metric(metric, algorithm):
    """Whether scikit-learn's KD-tree or ball tree ("kd_tree", "ball_tree") takes
    ``metric`` (callables: the ball tree only); any other algorithm takes all."""
    if algorithm not in TREE_METRICS:
        return True
    if callable(metric):
        return algorithm == "ball_tree"
    return metric in TREE_METRICS[algorithm]


# --------------------------------------------------------------------------
# Blocks of rows, whole and condensed matrices, pairs, k-th neighbours


def matrix_fits(n_samples):
    """Whether an (n_samples, n_samples) float64 matrix fits on the host: within the
    configured ``memory_budget``, or else a quarter of the available memory."""
    budget = get_config()["memory_budget"] or backend.free_memory("cpu") // 4
    return 8 * n_samples * n_samples <= budget


def row_blocks(n_rows, n_columns):
    """``(start, stop)`` of consecutive blocks of ``n_rows`` rows whose float64 distances
    to ``n_columns`` rows fit the host budget (``backend.row_chunk_size``), with room for
    a temporary as large beside them, as scikit-learn may hold."""
    step = backend.row_chunk_size(n_rows, 16 * max(1, n_columns))
    for start in range(0, n_rows, step):
        yield start, min(n_rows, start + step)


def distance_blocks(queries, X, metric, *, same=False):
    """Yield ``(start, stop, block)``: distances (stop - start, n_samples), float64,
    from ``queries[start:stop]`` to every row of X under the :class:`HostMetric`
    ``metric``, in blocks that fit the budget.

    With ``same=True`` (queries is X) the diagonal is exactly 0 for named
    metrics, as ``pairwise_distances(X)`` makes it (callables keep their values).
    """
    for start, stop in row_blocks(queries.shape[0], X.shape[0]):
        block = metric.pairwise(queries[start:stop], X)
        if same and isinstance(metric.metric, str):
            rows = np.arange(stop - start)
            block[rows, start + rows] = 0.0
        yield start, stop, block


def _tree_metric(X, metric):
    """``metric`` measured by ``DistanceMetric``, fitted to X, or None where that does
    not know the name ("correlation", "cosine", ...)."""
    host = HostMetric(metric, source="tree").fitted(X)
    try:
        host._distance_metric
    except (ValueError, TypeError):
        return None
    return host


def condensed_distances(X, metric, *, definitions="scipy"):
    """Condensed distance matrix (n (n - 1) / 2,) float64 of the rows of X (host, float64),
    SciPy's ``pdist`` order, under the metric name ``metric``.

    ``definitions="sklearn"`` takes scikit-learn's ``DistanceMetric`` where it knows
    the name, as scikit-learn's single linkage does; its "braycurtis" (on negative
    values) and boolean metrics (on non-boolean values) differ from SciPy's. Otherwise
    SciPy's ``pdist``, as ``scipy.cluster.hierarchy.linkage`` computes it for
    scikit-learn's complete and average linkages. Metrics computed by row blocks
    hold one block of ``memory_budget`` bytes at a time.
    """
    host = _tree_metric(X, metric) if definitions == "sklearn" else None
    if host is None:
        if metric not in SKLEARN_ONLY_METRICS:
            return pdist(X, metric=metric)
        host = HostMetric(metric, source="scipy")
    n = X.shape[0]
    out = np.empty(n * (n - 1) // 2, dtype=np.float64)
    for start, stop in row_blocks(n, n):
        block = host.pairwise(X[start:stop], X[start:])
        for i in range(start, stop):
            offset = n * i - i * (i + 1) // 2
            out[offset:offset + n - i - 1] = block[i - start, i - start + 1:]
    return out


def paired_distances(X, rows, cols, metric):
    """Distance of each pair (X[rows[e]], X[cols[e]]), (n_pairs,) float64, on the host,
    under the :class:`HostMetric` ``metric``.

    Pairs are grouped by their first row, so each row costs one vectorised call;
    callables are called on each pair of rows, as ``sklearn.metrics.paired_distances``
    calls them.
    """
    out = np.empty(rows.shape[0], dtype=np.float64)
    if callable(metric.metric):
        for e, (i, j) in enumerate(zip(rows.tolist(), cols.tolist())):
            out[e] = metric.metric(X[i], X[j])
        return out
    order = np.argsort(rows, kind="stable")
    bounds = np.flatnonzero(np.diff(rows[order])) + 1
    for segment in np.split(order, bounds):
        if segment.size:
            i = rows[segment[0]]
            out[segment] = metric.pairwise(X[i:i + 1], X[cols[segment]])[0]
    return out


def _kth_of_block(block, ks):
    wanted = sorted({k - 1 for k in ks if k >= 1})
    part = np.partition(block, wanted, axis=1) if wanted else block
    return tuple(part[:, k - 1].astype(np.float64) if k >= 1 else np.zeros(block.shape[0])
                 for k in ks)


def kth_smallest(D, ks):
    """The ``k``-th smallest value of each row of D (k counted from 1), for each k in ``ks``:
    a tuple of (n_rows,) float64 arrays (zeros for k < 1). Rows are taken in blocks, so
    no copy of D is made."""
    out = tuple(np.empty(D.shape[0]) for _ in ks)
    for start, stop in row_blocks(D.shape[0], D.shape[1]):
        for target, values in zip(out, _kth_of_block(D[start:stop], ks)):
            target[start:stop] = values
    return out


def neighbour_distances(X, metric, ks, *, keep_matrix):
    """The distance of each row of X to its k-th nearest row, counting itself, for each k
    in ``ks``, and with ``keep_matrix`` every pairwise distance.

    Returns ``(D, kth)``: D (n, n) float64 or None, and a tuple of (n,) float64. The
    blocks of distances go through once; callables are called once per pair (i < j)
    through ``pairwise_distances(X)``, as scikit-learn does, when D is kept.
    """
    if keep_matrix and callable(metric.metric):
        D = np.asarray(pairwise_distances(X, metric=metric.metric, **metric.params),
                       dtype=np.float64)
        return D, kth_smallest(D, ks)
    n = X.shape[0]
    D = np.empty((n, n), dtype=np.float64) if keep_matrix else None
    kth = tuple(np.empty(n) for _ in ks)
    for start, stop, block in distance_blocks(X, X, metric, same=True):
        if D is not None:
            D[start:stop] = block
        for target, values in zip(kth, _kth_of_block(block, ks)):
            target[start:stop] = values
    return D, kth


def nearest_rows(queries, X, k, metric):
    """The k nearest rows of X to each query, ascending: ``(distances, indices)``,
    (n_queries, k) float64 and int64."""
    k = min(k, X.shape[0])
    distances = np.empty((queries.shape[0], k))
    indices = np.empty((queries.shape[0], k), dtype=np.int64)
    for start, stop, block in distance_blocks(queries, X, metric):
        nearest = np.argpartition(block, k - 1, axis=1)[:, :k]
        values = np.take_along_axis(block, nearest, axis=1)
        order = np.lexsort((nearest, values), axis=1)
        indices[start:stop] = np.take_along_axis(nearest, order, axis=1)
        distances[start:stop] = np.take_along_axis(values, order, axis=1)
    return distances, indices


@njit(cache=NUMBA_CACHE)
def _kth_stored(indptr, data, k):
    out = np.empty(indptr.shape[0] - 1, dtype=np.float64)
    for i in range(out.shape[0]):
        out[i] = np.sort(data[indptr[i]:indptr[i + 1]])[k - 1]
    return out


def kth_stored(G, k):
    """The k-th smallest stored value of each row of a CSR graph (k counted from 1;
    every row must store at least k values): (n_rows,) float64."""
    return _kth_stored(G.indptr.astype(np.int64), G.data.astype(np.float64), int(k))


# --------------------------------------------------------------------------
# Precomputed input


def check_non_negative(values, whom):
    """Raise scikit-learn's ValueError when a precomputed distance is negative."""
    if values.size and values.min() < 0:
        raise ValueError(f"Negative values in data passed to {whom}.")


def symmetric(D, rtol=1e-7, atol=1e-9):
    """Whether D equals its transpose within scikit-learn's tolerances (dense or sparse;
    sparse: the same stored pattern, values close)."""
    if not is_sparse(D):
        return np.allclose(D, D.T, rtol=rtol, atol=atol)
    D, T = D.tocsr(copy=True), D.T.tocsr(copy=True)
    D.sum_duplicates()
    T.sum_duplicates()
    return (np.array_equal(D.indices, T.indices) and np.array_equal(D.indptr, T.indptr)
            and np.allclose(D.data, T.data, rtol=rtol, atol=atol))
