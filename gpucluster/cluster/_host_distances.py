"""Distances no kernel computes, on the host: scikit-learn's metrics, callables, precomputed input.

The kernels compute the Euclidean, squared Euclidean and cosine distances on
X's device. HDBSCAN and OPTICS also take every other metric scikit-learn
takes, callables and precomputed distances; those are computed here, on the
host, by scikit-learn itself (``sklearn.metrics.pairwise_distances``, or
``sklearn.metrics.DistanceMetric`` for the names only its trees know, such
as "infinity"), in blocks of rows sized by the host memory budget
(``backend.row_chunk_size``). This module decides which metric takes which
path (:func:`resolve_metric`), computes blocks, whole matrices, k-th
neighbour distances and nearest neighbours from them, and holds the checks
scikit-learn makes on precomputed input. The estimators build their own
loops (``_host_mst``, ``_host_ordering``) on what it returns.
"""

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from numba import njit
from sklearn.metrics import DistanceMetric, pairwise_distances
from sklearn.metrics.pairwise import PAIRWISE_BOOLEAN_FUNCTIONS
from sklearn.neighbors import VALID_METRICS, VALID_METRICS_SPARSE, BallTree, KDTree

from .. import backend
from .._config import get_config
from ..kernels._numba import NUMBA_CACHE

# The names scikit-learn's pairwise_distances takes, and those only its
# trees (DistanceMetric) know besides ("infinity", "p", "pyfunc", ...).
PAIRWISE_METRICS = tuple(sorted(set(VALID_METRICS["brute"]) - {"precomputed"}))
TREE_METRICS = {"kd_tree": tuple(KDTree.valid_metrics), "ball_tree": tuple(BallTree.valid_metrics)}
METRICS = tuple(sorted(set(PAIRWISE_METRICS).union(*TREE_METRICS.values())))
BOOLEAN_METRICS = tuple(PAIRWISE_BOOLEAN_FUNCTIONS)
# The names scikit-learn's neighbour search takes for sparse rows.
SPARSE_METRICS = tuple(sorted(set(VALID_METRICS_SPARSE["brute"]) - {"precomputed"}))
# Host metrics the kernels compute themselves (with no parameters), by their
# kernel name; "minkowski" is Euclidean with p=2.
KERNEL_METRICS = {"euclidean": "euclidean", "l2": "euclidean", "sqeuclidean": "sqeuclidean",
                  "cosine": "cosine"}


def is_any_sparse(X):
    """Whether X is a SciPy or a CuPy (cupyx) sparse matrix or array."""
    return type(X).__module__.startswith(("scipy.sparse", "cupyx.scipy.sparse"))


def host_sparse(X):
    """A SciPy copy of a cupyx sparse matrix (through its own ``get``); SciPy input as is."""
    return X.get() if type(X).__module__.startswith("cupyx") else X


@dataclass(frozen=True)
class HostMetric:
    """A distance computed on the host: a metric name scikit-learn knows, or a callable.

    ``params`` are the metric's keyword arguments (``p`` of "minkowski"
    included). Distances are float64 NumPy arrays; rows may be NumPy arrays or
    SciPy sparse matrices (scikit-learn's own metrics only, as in scikit-learn).
    ``tree=True`` measures dense rows with ``DistanceMetric``, as
    scikit-learn's trees do, rather than ``pairwise_distances`` (for
    "braycurtis" on negative data the two formulas differ; elsewhere they
    agree to rounding).
    """

    metric: object
    params: dict = field(default_factory=dict)
    tree: bool = False

    @cached_property
    def _distance_metric(self):
        return DistanceMetric.get_metric(self.metric, **self.params)

    @property
    def boolean(self):
        """Whether the metric reads its input as booleans (jaccard, rogerstanimoto, ...)."""
        return isinstance(self.metric, str) and self.metric in BOOLEAN_METRICS

    def fitted(self, X):
        """This metric with what SciPy derives from the whole data filled in: V of
        "seuclidean" and VI of "mahalanobis", as ``pdist(X)`` computes them, so that
        every block of rows is measured alike."""
        if self.metric == "seuclidean" and "V" not in self.params:
            return replace(self, params={**self.params, "V": _dense(X).var(axis=0, ddof=1)})
        if self.metric == "mahalanobis" and "V" not in self.params and "VI" not in self.params:
            inverse = np.linalg.inv(np.cov(_dense(X).T)).T
            return replace(self, params={**self.params, "VI": inverse})
        return self

    def pairwise(self, A, B):
        """Distances (len(A), len(B)), float64, between the rows of A and of B."""
        sparse = is_any_sparse(A) or is_any_sparse(B)
        if isinstance(self.metric, str) and (self.tree or self.metric not in PAIRWISE_METRICS):
            if sparse:
                raise TypeError(f"metric {self.metric!r} does not take sparse input; use a "
                                f"metric of sklearn.metrics.pairwise_distances or dense X.")
            return self._distance_metric.pairwise(A, B)
        if self.boolean and (A.dtype != bool or B.dtype != bool):
            # Read as booleans (nonzero is True) without scikit-learn's warning on
            # every block; OPTICS warns once itself.
            A, B = A.astype(bool), B.astype(bool)
        return np.asarray(pairwise_distances(A, B, metric=self.metric, **self.params),
                          dtype=np.float64)


def _dense(X):
    return X.toarray() if is_any_sparse(X) else np.asarray(X)


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
        raise TypeError(f"metric_params must be a dict or None, got {metric_params!r}.")
    params = dict(metric_params or {})
    if callable(metric):
        return MetricChoice(host=HostMetric(metric, params))
    if not isinstance(metric, str) or metric not in METRICS + ("precomputed",):
        raise ValueError(
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
# Blocks of rows, whole matrices, k-th neighbours


def matrix_fits(n_samples):
    """Whether an (n_samples, n_samples) float64 matrix fits on the host: within the
    configured ``memory_budget``, or else a quarter of the available memory."""
    budget = get_config()["memory_budget"] or backend.free_memory("cpu") // 4
    return 8 * n_samples * n_samples <= budget


def _block_rows(n_queries, n_samples):
    # Each block of distances is float64, and scikit-learn may hold a
    # temporary as large beside it.
    return backend.row_chunk_size(n_queries, 16 * max(1, n_samples))


def distance_blocks(queries, X, metric, *, same=False):
    """Yield ``(start, stop, block)``: distances (stop - start, n_samples), float64,
    from ``queries[start:stop]`` to every row of X, in blocks that fit the budget.

    With ``same=True`` (queries is X) the diagonal is exactly 0 for named
    metrics, as ``pairwise_distances(X)`` makes it (callables keep their values).
    """
    n_queries, n_samples = queries.shape[0], X.shape[0]
    step = _block_rows(n_queries, n_samples)
    for start in range(0, n_queries, step):
        stop = min(n_queries, start + step)
        block = metric.pairwise(queries[start:stop], X)
        if same and isinstance(metric.metric, str):
            rows = np.arange(stop - start)
            block[rows, start + rows] = 0.0
        yield start, stop, block


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
    step = _block_rows(D.shape[0], D.shape[1])
    for start in range(0, D.shape[0], step):
        for target, values in zip(out, _kth_of_block(D[start:start + step], ks)):
            target[start:start + step] = values
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
    if not is_any_sparse(D):
        return np.allclose(D, D.T, rtol=rtol, atol=atol)
    D, T = D.tocsr(copy=True), D.T.tocsr(copy=True)
    D.sum_duplicates()
    T.sum_duplicates()
    return (np.array_equal(D.indices, T.indices) and np.array_equal(D.indptr, T.indptr)
            and np.allclose(D.data, T.data, rtol=rtol, atol=atol))
