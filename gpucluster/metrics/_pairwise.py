"""Distances on the host for the metrics the kernels do not serve.

The kernels compute the Euclidean, squared Euclidean, Manhattan and cosine
distances (each caller says which of them it sends there). Every other metric
of ``sklearn.metrics.pairwise`` is computed here, on the host in float64: by
SciPy's ``pdist``/``cdist`` for the metrics SciPy knows, as scikit-learn's
``AgglomerativeClustering`` does (through ``scipy.cluster.hierarchy.linkage``),
and by ``sklearn.metrics.pairwise_distances`` for the two SciPy does not know.
Row blocks keep the memory of a call bounded by the host budget
(``gpucluster.set_config(memory_budget=...)``).
"""

import numpy as np
from scipy.spatial.distance import cdist, pdist
from sklearn.metrics import DistanceMetric, pairwise_distances

from .. import backend

# The metric names of sklearn.metrics.pairwise (its _VALID_METRICS), less
# "wminkowski", which SciPy removed: scikit-learn accepts the name and then fails.
PAIRWISE_METRICS = (
    "braycurtis", "canberra", "chebyshev", "cityblock", "correlation", "cosine", "dice",
    "euclidean", "hamming", "haversine", "jaccard", "l1", "l2", "mahalanobis", "manhattan",
    "matching", "minkowski", "nan_euclidean", "rogerstanimoto", "russellrao", "seuclidean",
    "sokalsneath", "sqeuclidean", "yule",
)
# Names SciPy's distance functions do not know; scikit-learn computes them.
SKLEARN_ONLY_METRICS = ("haversine", "nan_euclidean", "l1", "l2", "manhattan")


def check_metric(metric, name="metric", extra=()):
    """Return ``metric`` when it is a name of :data:`PAIRWISE_METRICS` (or ``extra``) or a
    callable; raise ValueError otherwise, naming the accepted values."""
    if callable(metric) or (isinstance(metric, str) and metric in PAIRWISE_METRICS + extra):
        return metric
    accepted = tuple(sorted(PAIRWISE_METRICS + extra))
    raise ValueError(f"{name} must be one of {accepted} or a callable, got {metric!r}.")


def metric_params(X, metric):
    """The parameters SciPy's ``pdist`` derives from all rows of X ("seuclidean": the
    variances V, "mahalanobis": the inverse covariance VI), so that distances computed
    block by block (``cdist``, which would derive them from the two blocks alone)
    equal ``pdist``'s. Empty for every other metric."""
    if metric == "seuclidean":
        return {"V": np.var(X, axis=0, ddof=1)}
    if metric == "mahalanobis":
        return {"VI": np.linalg.inv(np.atleast_2d(np.cov(X.T))).T.copy()}
    return {}


def block_distances(A, B, metric, params=None):
    """Distances (len(A), len(B)) float64 between the rows of A and of B (host arrays).

    ``params`` from :func:`metric_params` of the whole data; callables are called on
    each pair of rows, as ``sklearn.metrics.pairwise_distances`` calls them.
    """
    if callable(metric) or metric in SKLEARN_ONLY_METRICS:
        return np.asarray(pairwise_distances(A, B, metric=metric), dtype=np.float64)
    return cdist(A, B, metric=metric, **(params or {}))


def _distance_metric(X, metric):
    """scikit-learn's ``DistanceMetric`` for ``metric`` (with :func:`metric_params` of X),
    or None where it does not know the name."""
    try:
        return DistanceMetric.get_metric(metric, **metric_params(X, metric))
    except (ValueError, TypeError):
        return None


def _condensed_by_blocks(X, distances):
    """Condensed matrix from ``distances(A, B)`` over row blocks of X (memory bounded)."""
    n = X.shape[0]
    out = np.empty(n * (n - 1) // 2, dtype=np.float64)
    chunk = backend.row_chunk_size(n, 8 * n)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        block = distances(X[start:stop], X[start:])
        for i in range(start, stop):
            offset = n * i - i * (i + 1) // 2
            out[offset:offset + n - i - 1] = block[i - start, i - start + 1:]
    return out


def condensed_distances(X, metric, *, definitions="scipy"):
    """Condensed distance matrix (n (n - 1) / 2,) float64 of the rows of X (host, float64),
    SciPy's ``pdist`` order.

    ``definitions="sklearn"`` takes scikit-learn's ``DistanceMetric`` where it knows
    the name, as scikit-learn's single linkage does; its "braycurtis" (on negative
    values) and boolean metrics (on non-boolean values) differ from SciPy's. Otherwise
    SciPy's ``pdist``, as ``scipy.cluster.hierarchy.linkage`` computes it for
    scikit-learn's complete and average linkages. Metrics computed by row blocks
    hold one block of ``memory_budget`` bytes at a time.
    """
    if definitions == "sklearn":
        distance = _distance_metric(X, metric)
        if distance is not None:
            return _condensed_by_blocks(X, distance.pairwise)
    if metric not in SKLEARN_ONLY_METRICS:
        return pdist(X, metric=metric)
    return _condensed_by_blocks(X, lambda A, B: block_distances(A, B, metric))


def paired_distances(X, rows, cols, metric, params=None):
    """Distance of each pair (X[rows[e]], X[cols[e]]), (n_pairs,) float64, on the host.

    Pairs are grouped by their first row, so each row costs one vectorised call;
    callables are called on each pair of rows, as ``sklearn.metrics.paired_distances``
    calls them.
    """
    out = np.empty(rows.shape[0], dtype=np.float64)
    if callable(metric):
        for e, (i, j) in enumerate(zip(rows.tolist(), cols.tolist())):
            out[e] = metric(X[i], X[j])
        return out
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    bounds = np.flatnonzero(np.diff(sorted_rows)) + 1
    for segment in np.split(order, bounds):
        if segment.size:
            i = rows[segment[0]]
            out[segment] = block_distances(X[i:i + 1], X[cols[segment]], metric, params)[0]
    return out
