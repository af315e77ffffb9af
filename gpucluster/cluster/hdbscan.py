"""HDBSCAN: hierarchical density-based clustering, with prediction and soft clustering.

The estimator has scikit-learn's ``HDBSCAN`` signature and defaults, plus what
the hdbscan library offers beyond it (``prediction_data``, ``outlier_scores_``,
``approximate_predict``, membership vectors). The pipeline:

1. core distances: distance to the ``min_samples``-th nearest neighbour,
   counting the point itself (scikit-learn's definition; the hdbscan
   library's ``min_samples=m`` is this one's ``m + 1``);
2. the minimum spanning tree of the mutual-reachability graph;
3. the single-linkage tree, condensed tree, cluster selection and scores, on
   the host (``_hdbscan_tree``), because they are sequential.

Steps 1 and 2 take one of two paths (``algorithm``):

- exact ("brute", "kd_tree", "ball_tree"): core distances from
  ``kernels.knn`` and the exact tree of all pairs, ``kernels.mst``
  (a KD-tree below 17 features, GEMM tiles above: O(n^2 d) there);
- "knn_graph": one neighbour graph from ``kernels.knn_graph`` (exact below
  its size limit, an inverted-file search above) gives the core distances
  and the edges; ``kernels.graph_mst`` builds the tree on the graph and joins
  the components it leaves apart by their cheapest pairs (as fast_hdbscan's
  and cuML's graph paths do).

"auto" takes the graph above ``GRAPH_MIN_ROWS`` rows and
``GRAPH_MIN_FEATURES`` features on the host, the exact path otherwise (see
``_graph.graph_is_cheaper``). Step 3 sees only the n - 1 tree edges.

The kernels compute the Euclidean, squared Euclidean and cosine distances.
Every other metric scikit-learn's HDBSCAN takes, callables, sparse feature
rows and precomputed distances (dense, or a sparse graph) take steps 1 and 2
on the host as scikit-learn does (``_host_mst``, with distances from
``gpucluster._host_distances``); step 3 is the same for every path.
"""

import dataclasses
import math
import numbers
import warnings

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import _check_feature_names, check_is_fitted

from .. import backend, distributed, kernels
from .._distances import (
    cosine_mean,
    distance_rows,
    has_zero_row,
    pairwise_distances,
    search_rows,
)
from .._host_distances import (
    TREE_METRICS,
    check_non_negative,
    host_sparse,
    nearest_rows,
    resolve_metric,
    sparse_rows_metric,
    symmetric,
)
from .._sparse import check_sparse, is_sparse
from .._validation import check_input, check_n_features, check_option, check_scalar
from . import _hdbscan_tree as tree_ops
from . import _host_mst
from ._base import DeviceEstimatorMixin
from ._graph import NeighbourGraphMixin, graph_neighbors, takes_graph

# The distances the kernels compute; other metrics run on the host.
KERNEL_METRICS = ("euclidean", "sqeuclidean", "cosine")
# Metrics scikit-learn's HDBSCAN measures with a KD-tree or ball tree: there
# alpha divides the distances only; elsewhere (its brute path) it divides the
# core distances too.
FAST_METRICS = frozenset(TREE_METRICS["kd_tree"] + TREE_METRICS["ball_tree"])
TREE_NAMES = {"kd_tree": "KDTree", "ball_tree": "BallTree"}
ALGORITHMS = ("auto", "brute", "kd_tree", "ball_tree", "knn_graph")
SELECTION_METHODS = ("eom", "leaf")
STORE_CENTERS = ("centroid", "medoid", "both")
# scikit-learn's ``_OUTLIER_ENCODING``: rows holding infinity and rows holding
# NaN are left out of the clustering and labelled apart.
INFINITE_LABEL, INFINITE_PROBABILITY = -2, 0.0
MISSING_LABEL, MISSING_PROBABILITY = -3, np.nan
# GLOSH score of those rows: the hdbscan library puts them under the root at
# lambda 0, which scores 1 (most outlying).
NON_FINITE_OUTLIER_SCORE = 1.0


def core_distances(X, min_samples, metric="euclidean"):
    """Distance of each row to its ``min_samples``-th nearest row, counting itself.

    Returns ``(core, previous)``: arrays (n_samples,) of X's dtype, namespace
    and device, for ``min_samples`` and ``min_samples - 1`` (zeros where that
    is 1 or less). ``previous`` is what the hdbscan library's prediction uses.
    """
    xp = backend.namespace(X)
    zeros = xp.zeros(X.shape[0], dtype=X.dtype, device=backend.device(X))
    if min_samples <= 1:
        return zeros, zeros
    distances, _ = kernels.knn(X, min_samples - 1, metric=metric, exclude_self=True)
    return distances[:, -1], (distances[:, -2] if min_samples > 2 else zeros)


def distance_scale(X):
    """A power of two to divide X by so that its squared distances cannot overflow.

    1.0 for ordinary data. A row holding, say, 1e308 would make the kernels'
    squared Euclidean distances infinite; divided by a power of two, every
    distance is exact up to that factor, and the results are multiplied back
    (an edge longer than the largest float then reads inf, as in scikit-learn).
    """
    xp = backend.namespace(X)
    if 0 in X.shape:
        return 1.0
    largest = float(xp.max(xp.abs(X)))
    # |x|^2 + |y|^2 + 2|x.y| <= 4 d largest^2 must stay below the dtype's
    # maximum, with a factor 2 to spare.
    limit = math.sqrt(float(xp.finfo(X.dtype).max) / (8.0 * X.shape[1]))
    if not largest > limit:
        return 1.0
    return 2.0 ** math.ceil(math.log2(largest / limit))


def _cosine_rows(X):
    """X with each row divided by a power of two near its largest magnitude when some
    row's squared norm could overflow or underflow (the product of two of them must
    stay finite and nonzero); else X. The cosine distance does not change."""
    xp = backend.namespace(X)
    if 0 in X.shape:
        return X
    peak = backend.to_numpy(xp.max(xp.abs(X), axis=1)).astype(np.float64)
    # Squared norms of rows within (1 / bound, bound) and their products stay
    # finite and nonzero: about 1e61 for float64, 5e7 for float32.
    bound = float(xp.finfo(X.dtype).max) ** 0.2
    if np.all((peak == 0) | ((peak < bound) & (peak > 1.0 / bound))):
        return X
    exponent = np.where(peak > 0, np.floor(np.log2(np.where(peak > 0, peak, 1.0))), 0.0)
    # Two factors, each representable, whose product is 2**-exponent.
    half = np.floor(exponent / 2)
    first = backend.asarray_like(np.exp2(-half), X)
    second = backend.asarray_like(np.exp2(half - exponent), X)
    return X * xp.astype(first, X.dtype)[:, None] * xp.astype(second, X.dtype)[:, None]


def kernel_rows(X, metric, scale):
    """X as the kernels measure it under ``metric``, and the factor that turns their
    distances back into X's: divided by ``scale`` (from :func:`distance_scale`) for the
    Euclidean distances, each row rescaled where needed for the cosine distance."""
    if metric == "cosine":
        return _cosine_rows(X), 1.0
    if scale == 1.0:
        return X, 1.0
    return X / scale, (scale if metric == "euclidean" else scale * scale)


def split_non_finite_rows(X):
    """The rows of X without NaN or infinity, and where the others were, as scikit-learn's HDBSCAN.

    A row whose sum (in float64) is NaN is "missing", one whose sum is
    infinite is "infinite", as scikit-learn classifies them.

    Returns
    -------
    X : the finite rows, in X's namespace and on its device (X itself when
        every row is finite, or when X is not a 2-D float array: ``check_input``
        judges that); sparse X as a SciPy CSR matrix
    rows : None when nothing was left out, else ``(n_samples, finite,
        infinite, missing)`` with host int64 row indices
    """
    if is_sparse(X):
        X = host_sparse(X).tocsr()
        if X.dtype.kind != "f" or 0 in X.shape:
            return X, None
        with np.errstate(invalid="ignore"):
            reduced = np.asarray(X.sum(axis=1, dtype=np.float64)).ravel()
        if np.all(np.isfinite(reduced)):
            return X, None
        finite = np.flatnonzero(np.isfinite(reduced))
        rows = (int(reduced.shape[0]), finite, np.flatnonzero(np.isinf(reduced)),
                np.flatnonzero(np.isnan(reduced)))
        return X[finite], rows
    try:
        X = backend.coerce_array(X)
    except TypeError:
        return X, None  # check_input raises with its own message
    xp = backend.namespace(X)
    if X.ndim != 2 or 0 in X.shape or not xp.isdtype(X.dtype, "real floating"):
        return X, None
    with np.errstate(invalid="ignore"):  # inf - inf is NaN, as intended (NumPy warns)
        reduced = xp.sum(X, axis=1, dtype=xp.float64)
    if bool(xp.all(xp.isfinite(reduced))):
        return X, None
    reduced = backend.to_numpy(reduced)
    finite = np.flatnonzero(np.isfinite(reduced))
    rows = (int(reduced.shape[0]), finite, np.flatnonzero(np.isinf(reduced)),
            np.flatnonzero(np.isnan(reduced)))
    return xp.take(X, backend.asarray_like(finite, X), axis=0), rows


def spread_rows(values, rows, infinite_value, missing_value):
    """Host per-row ``values`` of the finite rows put back among all rows, the others filled."""
    if rows is None:
        return values
    n_samples, finite, infinite, missing = rows
    out = np.empty((n_samples,) + values.shape[1:], dtype=values.dtype)
    out[finite] = values
    out[infinite] = infinite_value
    out[missing] = missing_value
    return out


def _check_distance_matrix(D):
    """scikit-learn's checks of a precomputed distance matrix (dense or sparse): square
    and symmetric; and no negative distance (which scikit-learn lets through)."""
    if D.shape[0] != D.shape[1]:
        raise ValueError(
            f"The precomputed distance matrix is expected to be symmetric, however it has "
            f"shape {D.shape}. Please verify that the distance matrix was constructed correctly."
        )
    if not symmetric(D):
        raise ValueError(
            "The precomputed distance matrix is expected to be symmetric, however its values "
            "appear to be asymmetric. Please verify that the distance matrix was constructed "
            "correctly."
        )
    check_non_negative(D.data if is_sparse(D) else D, "precomputed distance matrix")


class NoPredictionData(AttributeError, ValueError):
    """``exemplars_`` read before prediction data exists."""


class HDBSCAN(NeighbourGraphMixin, DeviceEstimatorMixin, ClusterMixin, BaseEstimator):
    """Hierarchical density-based clustering (HDBSCAN*), on the GPU or the CPU.

    Parameters
    ----------
    min_cluster_size : int, default=5
        Smallest group of points counted as a cluster; at least 2.
    min_samples : int or None, default=None
        Neighbourhood size for the core distance, counting the point itself
        (as scikit-learn); ``min_cluster_size`` when None. The hdbscan
        library's ``min_samples=m`` corresponds to ``m + 1`` here.
    cluster_selection_epsilon : float, default=0.0
        Clusters born at a distance below this are merged up to the cluster
        that exists at this distance.
    max_cluster_size : int or None, default=None
        Excess of mass does not select clusters larger than this (None or 0:
        no limit). Ignored by ``"leaf"`` selection.
    metric : str or callable, default="euclidean"
        "euclidean", "l2", "minkowski" with p=2 (also when no p is given),
        "sqeuclidean" and "cosine" run on the kernels, on X's device. Every
        other metric scikit-learn's HDBSCAN takes runs on the host with
        scikit-learn's distances, as its brute path: "minkowski" with another
        p, "manhattan"/"l1"/"cityblock", "chebyshev", "seuclidean" and
        "mahalanobis" (V or VI from the data when not given), the boolean
        metrics (nonzero is True), the names only its trees know
        ("infinity", "p", ...), and a callable ``f(x, y) -> float``, called
        once per pair of rows in Python: slow (O(n^2) calls), as in
        scikit-learn. "precomputed": X is a symmetric (n_samples, n_samples)
        distance matrix, dense (inf for a missing distance) or a SciPy sparse
        graph whose stored entries are the only edges (each point needs
        ``min_samples`` of them, and the graph one connected component). Host
        metrics hold an (n, n) matrix when it fits the memory budget
        (``gpucluster.set_config(memory_budget=...)``, else a quarter of the
        available memory), else compute one row of distances per step; they
        run on the host whatever ``device`` says, and the results still
        mirror X's type.
    metric_params : dict or None, default=None
        Keyword arguments of the metric (``p`` of "minkowski"); with
        "precomputed", ``max_distance`` replaces infinite mutual
        reachabilities of a sparse graph, as in scikit-learn.
    alpha : float, default=1.0
        Distances are divided by ``alpha`` in the mutual reachability.
    algorithm : {"auto", "brute", "kd_tree", "ball_tree", "knn_graph"}, default="auto"
        "brute", "kd_tree" and "ball_tree" (scikit-learn's names) build the
        exact tree over all pairs (``kernels.mst``, which picks a KD-tree or
        GEMM tiles itself). "knn_graph" builds it on a neighbour graph of
        ``max(min_samples - 1, GRAPH_NEIGHBORS)`` neighbours per row from
        ``kernels.knn_graph`` (approximate above its size limit), the
        components it leaves joined by their cheapest pairs; on clustered
        data its labels agree with the exact path's (ARI >= 0.99 in the
        tests). "auto" takes the graph for at least ``GRAPH_MIN_ROWS`` rows
        and ``GRAPH_MIN_FEATURES`` features of host data, the exact path
        otherwise (and always on CUDA, where ``graph_mst`` has no kernel yet).
        As in scikit-learn, "kd_tree" and "ball_tree" refuse a metric the
        tree does not know (callables and "precomputed" among them) and
        sparse X; "knn_graph" takes only the kernels' metrics.
    leaf_size, n_jobs : accepted for scikit-learn compatibility; unused.
    cluster_selection_method : {"eom", "leaf"}, default="eom"
    allow_single_cluster : bool, default=False
    store_centers : {None, "centroid", "medoid", "both"}, default=None
        Store ``centroids_`` (probability-weighted means) and/or ``medoids_``
        (under the metric); not with "precomputed", as in scikit-learn.
    copy : bool, default=False
        Accepted for scikit-learn compatibility; X is never modified.
    prediction_data : bool, default=False
        Compute what ``approximate_predict`` and the membership vectors need
        at fit. Prediction needs feature rows: not with "precomputed" or
        sparse X.
    device : {"auto", "cpu", "cuda"}, default="auto"
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"

    Attributes
    ----------
    labels_ : array (n_samples,), int64
        Cluster of each point, 0 .. n_clusters - 1, and -1 for noise; same
        array type and device as X (or ``output_type``). As in scikit-learn,
        rows holding infinity are left out of the clustering and labelled
        -2, rows holding NaN -3.
    probabilities_ : array (n_samples,), float64
        Membership strength of each point in its cluster (0 for noise and
        for rows with infinity, NaN for rows with NaN, as scikit-learn).
    outlier_scores_ : array (n_samples,), float64
        GLOSH outlier scores, as the hdbscan library's (1 for rows with NaN
        or infinity).
    cluster_persistence_ : array (n_clusters,), float64
        Stability of each cluster relative to its size, as the hdbscan library's.
    condensed_tree_ : ndarray (n_rows,), structured NumPy array
        Fields ``parent``, ``child`` (points are 0 .. n-1, clusters from n,
        the root being n), ``lambda_val`` (1 / distance at which the child
        leaves the parent) and ``child_size``, as hdbscan's
        ``condensed_tree_.to_numpy()``. Always NumPy: it is host bookkeeping.
    single_linkage_tree_ : ndarray (n_samples - 1, 4), float64
        SciPy linkage matrix ``[left, right, distance, size]`` of the
        mutual-reachability spanning tree. Always NumPy.
    centroids_, medoids_ : array (n_clusters, n_features), X's dtype (float64 on the host)
        With ``store_centers``.
    prediction_data_ : object or None
        Host data for prediction, after ``prediction_data=True`` or
        ``generate_prediction_data()``.
    n_features_in_ : int

    Notes
    -----
    On the exact path, core distances and the spanning tree are exact
    kernels: O(n^2 d) work on X's device above 16 features, chunked to fit
    its memory. On the graph path, the neighbour search dominates (O(n^2 d)
    exact, less with the inverted file) and the tree costs O(n k d) plus the
    join of the graph's components. Tree processing is O(n log n) on the
    host. ``labels_`` agree with scikit-learn's and the hdbscan library's up
    to ties between equal mutual-reachability distances. Host metrics cost
    O(n^2) distance evaluations and an O(n^2) Prim's algorithm on the host.
    Rows with values so large that squared distances would overflow (1e308)
    are clustered in a scaled copy (``kernel_rows``), as scikit-learn's brute
    path clusters them. The cosine distance is measured as the squared distance
    of X's unit rows, made and centred in float64 and scaled by sqrt(1/2)
    (``gpucluster._distances.distance_rows``), searched in X's dtype: rows far
    from the origin are at small angles, where 1 - u.v cancels. New points are
    centred on the fitted rows' mean; an X with a zero row keeps 1 - u.v.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster.cluster.hdbscan import HDBSCAN
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [0.1, 0.1],
    ...               [5.0, 5.0], [5.1, 5.0], [5.0, 5.1], [5.1, 5.1]])
    >>> HDBSCAN(min_cluster_size=3, min_samples=2).fit(X).labels_
    array([0, 0, 0, 0, 1, 1, 1, 1])
    """

    def __init__(
        self,
        min_cluster_size=5,
        *,
        min_samples=None,
        cluster_selection_epsilon=0.0,
        max_cluster_size=None,
        metric="euclidean",
        metric_params=None,
        alpha=1.0,
        algorithm="auto",
        leaf_size=40,
        n_jobs=None,
        cluster_selection_method="eom",
        allow_single_cluster=False,
        store_centers=None,
        copy=False,
        prediction_data=False,
        device="auto",
        output_type="input",
    ):
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_epsilon = cluster_selection_epsilon
        self.max_cluster_size = max_cluster_size
        self.metric = metric
        self.metric_params = metric_params
        self.alpha = alpha
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.n_jobs = n_jobs
        self.cluster_selection_method = cluster_selection_method
        self.allow_single_cluster = allow_single_cluster
        self.store_centers = store_centers
        self.copy = copy
        self.prediction_data = prediction_data
        self.device = device
        self.output_type = output_type

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Rows with NaN or infinity are labelled apart (-3, -2), not rejected;
        # a precomputed matrix may hold inf (a missing distance), not NaN.
        tags.input_tags.allow_nan = self.metric != "precomputed"
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------
    # Validation

    def _metric_choice(self):
        """Where the distances come from (``gpucluster._host_distances.MetricChoice``)."""
        return resolve_metric(self.metric, self.metric_params, kernel_metrics=KERNEL_METRICS)

    def _check_params(self):
        check_scalar(self.min_cluster_size, "min_cluster_size", min_value=2)
        if self.min_samples is not None:
            check_scalar(self.min_samples, "min_samples", min_value=1)
        check_scalar(self.cluster_selection_epsilon, "cluster_selection_epsilon",
                     kind=numbers.Real, min_value=0.0)
        if self.max_cluster_size is not None:
            check_scalar(self.max_cluster_size, "max_cluster_size", min_value=0)
        choice = self._metric_choice()
        check_scalar(self.alpha, "alpha", kind=numbers.Real, min_value=0.0, include_min=False)
        check_option(self.algorithm, "algorithm", ALGORITHMS)
        check_scalar(self.leaf_size, "leaf_size", min_value=1)
        if self.n_jobs is not None:
            check_scalar(self.n_jobs, "n_jobs")
        check_option(self.cluster_selection_method, "cluster_selection_method",
                     SELECTION_METHODS)
        for name in ("allow_single_cluster", "copy", "prediction_data"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}.")
        if self.store_centers is not None:
            check_option(self.store_centers, "store_centers", STORE_CENTERS)
        self._check_device_params()
        self._check_algorithm_metric(choice)
        if choice.precomputed and self.store_centers is not None:
            raise ValueError("Cannot store centers when using a precomputed distance matrix.")
        if choice.precomputed and self.prediction_data:
            raise ValueError("prediction_data needs feature rows; it is not available with "
                             "metric='precomputed'.")
        return choice

    def _check_algorithm_metric(self, choice):
        """scikit-learn's rule: its trees take only the metrics they know; the
        neighbour graph takes only the kernels' metrics."""
        if self.algorithm in TREE_NAMES and (callable(self.metric)
                                             or self.metric not in TREE_METRICS[self.algorithm]):
            raise ValueError(f"{self.metric} is not a valid metric for a "
                             f"{TREE_NAMES[self.algorithm]}-based algorithm. Please select a "
                             "different metric.")
        if self.algorithm == "knn_graph" and choice.kernel is None:
            raise ValueError(f"algorithm='knn_graph' takes the metrics {KERNEL_METRICS} (and "
                             f"their aliases), got metric={self.metric!r}.")

    @staticmethod
    def _work(n_samples, n_features):
        return float(n_samples) * n_samples * n_features

    # ------------------------------------------------------------------
    # Fit

    def fit(self, X, y=None):
        """Cluster X.

        Parameters
        ----------
        X : array of shape (n_samples, n_features), or (n_samples, n_samples) with "precomputed"
            NumPy, CuPy, torch (CPU or CUDA), any array-API array or a list;
            or a SciPy (or cupyx) sparse matrix: feature rows (measured on
            the host) or, with "precomputed", a distance graph; or a dask
            array: fitted on the client, the neighbour graph (where the fit
            takes one) built on the Dask cluster
            (:mod:`gpucluster.distributed.density`).
        y : ignored

        Returns
        -------
        self : HDBSCAN
        """
        if distributed.is_dask_array(X):
            return distributed.density.fit(self, X)
        choice = self._check_params()
        X, rows, like = self._fit_input(X, choice)
        min_samples = self._checked_min_samples(X.shape[0])
        if choice.precomputed:
            _check_distance_matrix(X)
        if self.prediction_data:
            self._check_predictable(choice, X)

        previous_core, edges, weights = self._spanning_tree(X, min_samples)
        # The tree steps are sequential: one transfer of the n - 1 edges to the host.
        result = tree_ops.process_tree(
            backend.to_numpy(edges), backend.to_numpy(weights), X.shape[0],
            min_cluster_size=self.min_cluster_size,
            method=self.cluster_selection_method,
            allow_single_cluster=bool(self.allow_single_cluster),
            epsilon=float(self.cluster_selection_epsilon),
            max_cluster_size=self.max_cluster_size,
            # The host paths emit scikit-learn's own edges, in its order.
            sklearn_order=choice.kernel is None or is_sparse(X),
        )
        self._set_results(X, rows, like, choice, min_samples, previous_core, result)
        return self

    def _checked_min_samples(self, n_samples):
        """``min_samples`` (``min_cluster_size`` when None), at most n_samples."""
        if n_samples == 1:
            raise ValueError("n_samples=1 while HDBSCAN requires more than one sample.")
        min_samples = self.min_cluster_size if self.min_samples is None else self.min_samples
        if min_samples > n_samples:
            # Name the parameter the caller set: min_samples defaults to min_cluster_size.
            if self.min_samples is not None:
                raise ValueError(f"min_samples ({min_samples}) must be at most the number of "
                                 f"samples in X ({n_samples}).")
            raise ValueError(f"min_cluster_size ({min_samples}) must be at most the number of "
                             f"samples in X ({n_samples}): min_samples is not set, so it "
                             f"defaults to min_cluster_size.")
        return min_samples

    def _set_results(self, X, rows, like, choice, min_samples, previous_core, result):
        """Every fitted attribute, from the tree processing's ``result``."""
        labels = result["labels"]
        # Results take the kind of the array the work ran on (NumPy on the host).
        template = X if choice.kernel is not None and not is_sparse(X) else np.empty(0)

        def out(values):
            return self._to_output(backend.asarray_like(values, template), like)

        self._raw_data = X
        self._like = like
        self._metric = choice
        # What prediction and the medoids measure with: the fitted host metric, or
        # the kernels' metric on rows scaled as at fit.
        on_host = not choice.precomputed and template is not X
        self._host = self._host_metric(X, choice).fitted(X) if on_host else None
        # The cosine rows' centre (``distance_rows``): new points are measured on it.
        self._cosine_mean = cosine_mean(X, choice.kernel) if template is X else None
        self._distance_scale = (distance_scale(X) if template is X and self._cosine_mean is None
                                else 1.0)
        self._min_samples = int(min_samples)
        self._prediction_core = backend.to_numpy(previous_core).astype(np.float64)
        self._tree = result
        self._non_finite_rows = rows
        self.n_features_in_ = int(X.shape[1])
        self.single_linkage_tree_ = result["single_linkage_tree"]
        self.condensed_tree_ = result["condensed_tree"]
        if rows is not None:
            # In the order scikit-learn appends them: iterating the Python set
            # set(np.hstack([infinite, missing])).
            left_out = np.fromiter(set(np.hstack([rows[2], rows[3]]).tolist()), dtype=np.int64)
            self.single_linkage_tree_ = tree_ops.remap_single_linkage_tree(
                self.single_linkage_tree_, rows[1], left_out)
            self.condensed_tree_ = tree_ops.remap_condensed_tree(
                self.condensed_tree_, rows[1], left_out)
        self.labels_ = out(spread_rows(labels, rows, INFINITE_LABEL, MISSING_LABEL))
        self.probabilities_ = out(spread_rows(result["probabilities"], rows,
                                              INFINITE_PROBABILITY, MISSING_PROBABILITY))
        self.outlier_scores_ = out(spread_rows(result["outlier_scores"], rows,
                                               NON_FINITE_OUTLIER_SCORE, NON_FINITE_OUTLIER_SCORE))
        self.cluster_persistence_ = out(result["persistence"])
        self.prediction_data_ = None
        if self.store_centers:
            self._store_centers(labels, result["probabilities"])
        if self.prediction_data:
            self.generate_prediction_data()

    def _fit_input(self, X, choice):
        """X checked and placed for ``choice``: ``(X, rows, like)``, the rows left out for
        NaN or infinity (``split_non_finite_rows``) and the caller's kind. On the kernels
        X stays in its namespace (moved to ``device``); on the host it is float64 NumPy or
        SciPy CSR. A DataFrame's column names become ``feature_names_in_``."""
        given = X
        if choice.precomputed:
            X, like = self._precomputed_input(X)
            rows = None
        else:
            X, rows = split_non_finite_rows(X)
            if is_sparse(X) or choice.kernel is None:
                X, like = self._host_features(X, choice)
            else:
                X, _, like = self._prepare_input(X, reset=True, work=self._work)
        # The names of the caller's X, which the arrays above no longer carry.
        _check_feature_names(self, given, reset=True)
        return X, rows, like

    def _precomputed_input(self, X):
        """A precomputed distance matrix checked as scikit-learn checks it: float64 on the
        host, dense (inf allowed: a missing distance; NaN refused) or a CSR graph (finite
        stored values); and the caller's kind."""
        name = type(self).__name__
        if is_sparse(X):
            G = check_sparse(host_sparse(X), estimator_name=name)
            return G.astype(np.float64), backend.describe_input(np.empty(0))
        X = backend.coerce_array(X)
        like = backend.describe_input(X)
        D = backend.to_numpy(X)
        if D.ndim == 2 and D.dtype.kind == "f" and np.isnan(D).any():
            raise ValueError("np.nan values found in precomputed-dense")
        # Shape and dtype checked as any X; infinity stands for a missing distance.
        finite = np.where(np.isinf(D), 0.0, D) if D.dtype.kind == "f" else D
        check_input(finite, estimator_name=name)
        return D.astype(np.float64), like

    def _host_features(self, X, choice):
        """Feature rows for a host metric: float64 NumPy or CSR, checked as any X; and the
        caller's kind. Sparse rows take scikit-learn's brute path only."""
        name = type(self).__name__
        if is_sparse(X):
            if self.algorithm not in ("auto", "brute"):
                raise ValueError("Sparse data matrices only support algorithm `brute`.")
            sparse_rows_metric(choice)
            X = check_sparse(X, estimator_name=name)
            return X.astype(np.float64), backend.describe_input(np.empty(0))
        like = backend.describe_input(X)
        X = check_input(X, estimator_name=name)
        return backend.to_numpy(X).astype(np.float64), like

    def _uses_graph(self, X):
        """Whether the tree is built on a neighbour graph (``algorithm``, see the class)."""
        return takes_graph(self.algorithm, X)

    def _spanning_tree(self, X, min_samples):
        """The mutual-reachability minimum spanning tree of X: (previous_core, edges,
        weights). It depends on X, min_samples, metric, alpha and algorithm only, not on
        min_cluster_size or the cluster selection (a search over those reuses it)."""
        choice = self._metric_choice()
        alpha = float(self.alpha)
        if choice.precomputed and is_sparse(X):
            max_distance = float(choice.params.get("max_distance", 0.0))
            _, edges, weights = _host_mst.graph_tree(X, min_samples, alpha, max_distance)
            return np.zeros(X.shape[0]), edges, weights
        if choice.precomputed:
            _, previous_core, edges, weights = _host_mst.matrix_tree(X, min_samples, alpha)
            return previous_core, edges, weights
        if is_sparse(X) or choice.kernel is None:
            # scikit-learn's tree-based path divides only the distances by alpha,
            # its brute path (sparse X, other metrics) the core distances too.
            brute = is_sparse(X) or callable(self.metric) or self.metric not in FAST_METRICS
            _, previous_core, edges, weights = _host_mst.features_tree(
                X, self._host_metric(X, choice), min_samples, alpha, brute=brute)
            return previous_core, edges, weights
        return self._kernel_tree(X, min_samples, choice.kernel, alpha)

    def _kernel_tree(self, X, min_samples, metric, alpha):
        """The tree on the kernels, exact or on a neighbour graph (``algorithm``), computed
        on X's cosine rows (``distance_rows``, rounded to X's dtype), or in a copy of X
        scaled by ``distance_scale`` where squared distances would overflow."""
        rows, metric = distance_rows(X, metric, cosine_mean(X, metric))
        X = search_rows(rows, X)
        X, factor = kernel_rows(X, metric, distance_scale(X))
        # As scikit-learn's brute path, which measures these two metrics, alpha
        # divides the core distances too.
        core_alpha = alpha if metric in ("sqeuclidean", "cosine") else 1.0
        xp = backend.namespace(X)
        if not self._uses_graph(X):
            core, previous_core = core_distances(X, min_samples, metric)
            edges, weights = kernels.mst(X, core / core_alpha, metric=metric, alpha=alpha)
        else:
            k = graph_neighbors(min_samples - 1, X.shape[0])
            distances, indices = self._neighbour_graph(X, k, metric)
            zeros = xp.zeros(X.shape[0], dtype=X.dtype, device=backend.device(X))
            core = distances[:, min_samples - 2] if min_samples > 1 else zeros
            previous_core = distances[:, min_samples - 3] if min_samples > 2 else zeros
            edges, weights = kernels.graph_mst(X, core / core_alpha, indices, metric=metric,
                                               alpha=alpha)
        if factor == 1.0:
            return previous_core, edges, weights
        return xp.astype(previous_core, xp.float64) * factor, edges, weights * factor

    def _host_metric(self, X, choice):
        """The host metric that measures X's rows: sparse rows with scikit-learn's sparse
        names; dense rows under a metric its trees know with its trees' ``DistanceMetric``,
        as its tree-based path measures them (bit for bit, so that ties break alike)."""
        if is_sparse(X):
            return sparse_rows_metric(choice)
        if isinstance(self.metric, str) and self.metric in FAST_METRICS:
            return dataclasses.replace(choice.host, source="tree")
        return choice.host

    def fit_predict(self, X, y=None):
        """Cluster X and return ``labels_``."""
        return self.fit(X).labels_

    def _store_centers(self, labels, probabilities):
        """``centroids_`` (probability-weighted means) and/or ``medoids_`` (the member of least
        probability-weighted distance to the others, under the metric) of each cluster."""
        X = self._raw_data
        sparse = is_sparse(X)
        template = np.empty(0) if sparse else X
        xp = backend.namespace(template)
        n_clusters = int(labels.max()) + 1 if labels.size else 0
        dtype = xp.float64 if sparse else X.dtype
        empty = xp.zeros((0, X.shape[1]), dtype=dtype, device=backend.device(template))
        weights_all = backend.asarray_like(probabilities, template)

        def out(values):
            return self._to_output(values, self._like)

        if self.store_centers in ("centroid", "both"):
            centroids = empty
            if n_clusters and sparse:
                clustered = np.flatnonzero(labels >= 0)
                assign = csr_matrix((probabilities[clustered], (labels[clustered], clustered)),
                                    shape=(n_clusters, X.shape[0]))
                centroids = (assign @ X).toarray() / np.asarray(assign.sum(axis=1))
            elif n_clusters:
                # Noise (-1) rows are skipped by the kernel.
                sums, weights = kernels.centroid_update(
                    X, backend.asarray_like(labels, X), n_clusters, weights_all
                )
                centroids = xp.astype(sums / weights[:, None], X.dtype)
            self.centroids_ = out(centroids)
        if self.store_centers in ("medoid", "both"):
            medoids = []
            for label in range(n_clusters):
                members = np.flatnonzero(labels == label)
                rows = X[members] if sparse else xp.take(
                    X, backend.asarray_like(members, X), axis=0)
                weights = xp.astype(xp.take(weights_all, backend.asarray_like(members, template),
                                            axis=0), xp.float64)
                dist = xp.astype(backend.asarray_like(self._distances_within(rows), template),
                                 xp.float64)
                best = int(xp.argmin(xp.sum(dist * weights[None, :], axis=1)))
                medoids.append(rows[best].toarray()[0] if sparse else rows[best, :])
            self.medoids_ = out(xp.stack([backend.asarray_like(m, template) for m in medoids])
                                if medoids else empty)

    def _distances_within(self, rows):
        """Distances (m, m) between some training rows under the fitted metric."""
        if self._host is not None:
            return self._host.pairwise(rows, rows)
        rows, metric = distance_rows(rows, self._metric.kernel, self._cosine_mean)
        rows, _ = kernel_rows(rows, metric, self._distance_scale)
        distances = pairwise_distances(rows, rows, metric)
        # Each row at 0 from itself, as scikit-learn's pairwise_distances of X with itself:
        # a zero row's cosine distance is 1 from every row, itself included.
        xp = backend.namespace(distances)
        own = xp.eye(distances.shape[0], dtype=xp.bool, device=backend.device(distances))
        return xp.where(own, xp.zeros_like(distances), distances)

    # ------------------------------------------------------------------
    # Prediction and soft clustering

    def generate_prediction_data(self):
        """Compute and store ``prediction_data_`` for prediction and soft clustering.

        Raises
        ------
        ValueError
            After a fit on a precomputed matrix or sparse rows (prediction
            measures new points against dense training rows).
        """
        check_is_fitted(self, "labels_")
        self._check_predictable(self._metric, self._raw_data)
        result = self._tree
        self.prediction_data_ = tree_ops.PredictionData(
            result["condensed_tree"], result["hierarchy"], result["selected"],
            self._prediction_core, result["point_lambda"], result["point_parent"],
        )
        return self

    def _check_prediction_data(self):
        check_is_fitted(self, "labels_")
        if getattr(self, "prediction_data_", None) is None:
            raise ValueError(
                "HDBSCAN has no prediction data: fit with prediction_data=True or call "
                "generate_prediction_data() first."
            )
        return self.prediction_data_

    def _new_points(self, X):
        """Validate new points; return them like the training data, and the caller's description."""
        _check_feature_names(self, X, reset=False)
        X = check_input(X, estimator_name=type(self).__name__)
        check_n_features(self, X)
        like = backend.describe_input(X)
        X = backend.asarray_like(X, self._raw_data)
        xp = backend.namespace(X)
        return xp.astype(X, self._raw_data.dtype), like

    @staticmethod
    def _check_predictable(choice, X):
        if choice.precomputed or is_sparse(X):
            raise ValueError("Prediction data needs dense feature rows; it is not available "
                             "after a fit on a precomputed distance matrix or sparse X.")

    def _nearest_training_rows(self, rows, k, points):
        """The k nearest of ``rows`` (training rows) to each new point, under the fitted
        metric: ``(distances, indices)`` (n_points, k), ascending."""
        if self._metric.kernel is None:
            return nearest_rows(points, rows, k, self._host)
        # Points with a zero row take 1 - u.v with the training rows: a zero row's cosine
        # distance has no form in the centred rows.
        mean = self._cosine_mean
        if mean is not None and has_zero_row(points):
            mean = None
        given = rows
        rows, metric = distance_rows(rows, self._metric.kernel, mean)
        points, _ = distance_rows(points, self._metric.kernel, mean)
        rows, points = search_rows(rows, given), search_rows(points, given)
        scale = self._distance_scale
        rows, factor = kernel_rows(rows, metric, scale)
        points, _ = kernel_rows(points, metric, scale)
        distances, indices = kernels.knn(rows, k, queries=points, metric=metric)
        if factor == 1.0:
            return distances, indices
        xp = backend.namespace(distances)
        return xp.astype(distances, xp.float64) * factor, indices

    def _neighbors_of(self, points):
        pdata = self.prediction_data_
        n_train = self._raw_data.shape[0]
        k = min(n_train, max(2 * (self._min_samples - 1), self._min_samples))
        distances, indices = self._nearest_training_rows(self._raw_data, k, points)
        return tree_ops.neighbor_and_lambda(
            backend.to_numpy(distances), backend.to_numpy(indices), pdata.core_distances,
            self._min_samples, float(self.alpha),
        )

    def approximate_predict(self, X):
        """Labels and membership strengths of new points in the fitted clustering.

        Parameters
        ----------
        X : array of shape (n_points, n_features)

        Returns
        -------
        labels : array (n_points,), int64 (-1 for noise)
        probabilities : array (n_points,), float64
            Both of X's array type and device (or ``output_type``).
        """
        pdata = self._check_prediction_data()
        points, like = self._new_points(X)
        nearest, lambdas = self._neighbors_of(points)
        labels, probs = tree_ops.approximate_predict(pdata, nearest, lambdas)
        return (self._to_output(backend.asarray_like(labels, points), like),
                self._to_output(backend.asarray_like(probs, points), like))

    def _exemplar_distances(self, points):
        pdata = self.prediction_data_
        xp = backend.namespace(points)
        columns = []
        for exemplars in pdata.exemplar_indices:
            rows = xp.take(self._raw_data, backend.asarray_like(exemplars, points), axis=0)
            distances, _ = self._nearest_training_rows(rows, 1, points)
            columns.append(backend.to_numpy(distances)[:, 0].astype(np.float64))
        return np.stack(columns, axis=1)

    def membership_vector(self, X):
        """Soft membership of new points in each cluster (rows sum to 1).

        Follows the hdbscan library's ``membership_vector`` (distance to
        exemplars and position in the tree), normalised so that each row is
        a distribution over the clusters; the hdbscan library scales each row
        by the point's probability of being in any cluster.

        Returns
        -------
        array (n_points, n_clusters), float64, of X's array type and device;
        (n_points, 0) when no cluster was found.
        """
        pdata = self._check_prediction_data()
        points, like = self._new_points(X)
        vectors = self._membership(points, training=False)
        return self._to_output(backend.asarray_like(vectors, points), like)

    def all_points_membership_vectors(self):
        """Soft membership of every training point in each cluster (rows sum to 1).

        Returns
        -------
        array (n_samples, n_clusters), float64, of the training data's type and
        device; (n_samples, 0) when no cluster was found.
        """
        self._check_prediction_data()
        vectors = self._membership(self._raw_data, training=True)
        # Rows left out of the clustering belong to no cluster (NaN: never seen).
        vectors = spread_rows(vectors, self._non_finite_rows, 0.0, np.nan)
        return self._to_output(backend.asarray_like(vectors, self._raw_data), self._like)

    def _membership(self, points, *, training, with_probability=False):
        pdata = self.prediction_data_
        m = points.shape[0]
        if pdata.selected.shape[0] == 0:
            warnings.warn("HDBSCAN found no clusters; membership vectors have no columns.",
                          UserWarning, stacklevel=3)
            vectors, prob = np.zeros((m, 0)), np.zeros(m)
        else:
            if training:
                cluster, lam = pdata.point_parent, pdata.point_lambda
            else:
                nearest, lambdas = self._neighbors_of(points)
                cluster, lam = tree_ops.tree_position_of_new_points(pdata, nearest, lambdas)
            vectors, prob = tree_ops.membership_vectors(
                pdata, self._exemplar_distances(points), cluster, lam, training=training
            )
        return (vectors, prob) if with_probability else vectors

    # ------------------------------------------------------------------
    # Other views of the tree

    def dbscan_clustering(self, cut_distance, min_cluster_size=5):
        """DBSCAN* labels from cutting the single-linkage tree at ``cut_distance``.

        Components smaller than ``min_cluster_size`` are noise (-1). Returns an
        int64 array of X's type and device.
        """
        check_is_fitted(self, "labels_")
        check_scalar(cut_distance, "cut_distance", kind=numbers.Real)
        check_scalar(min_cluster_size, "min_cluster_size", min_value=1)
        labels = tree_ops.labelling_at_cut(self.single_linkage_tree_, float(cut_distance),
                                           int(min_cluster_size))
        rows = self._non_finite_rows
        if rows is not None:  # as scikit-learn: those rows keep their own labels
            labels[rows[2]] = INFINITE_LABEL
            labels[rows[3]] = MISSING_LABEL
        return self._to_output(backend.asarray_like(labels, self._raw_data), self._like)

    @property
    def exemplars_(self):
        """Per cluster, the training points at the heart of its leaves (needs prediction data).

        Without it the error is an AttributeError (and a ValueError), so that
        ``hasattr`` and ``dir`` on a fitted estimator answer instead of raising."""
        try:
            pdata = self._check_prediction_data()
        except ValueError as exc:
            raise NoPredictionData(str(exc)) from None
        xp = backend.namespace(self._raw_data)
        return [
            self._to_output(
                xp.take(self._raw_data, backend.asarray_like(idx, self._raw_data), axis=0),
                self._like)
            for idx in pdata.exemplar_indices
        ]

    def plot_condensed_tree(self, ax=None, select_clusters=True, cmap="viridis"):
        """Draw the condensed tree as an icicle plot with matplotlib (the ``viz`` extra).

        Each cluster is a bar from its birth to its death lambda, as wide as
        its size; selected clusters are outlined in red. Returns the axes.
        """
        check_is_fitted(self, "labels_")
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError(
                "plot_condensed_tree needs matplotlib: pip install gpucluster[viz]"
            ) from exc
        hier = self._tree["hierarchy"]
        selected = set(int(c) for c in self._tree["selected"])
        if ax is None:
            ax = plt.gca()
        deaths = tree_ops.subtree_deaths(hier)
        finite = deaths[np.isfinite(deaths)]
        top = float(finite.max()) if finite.size else 1.0
        # Lay clusters out left to right: each gets a span proportional to its size.
        spans = {0: (0.0, float(hier.size[0]))}
        colours = plt.get_cmap(cmap)
        for c in range(hier.n_clusters):
            lo, hi = spans[c]
            birth = float(hier.birth[c])
            death = min(float(hier.death[c]), top)
            width = hi - lo
            ax.bar((lo + hi) / 2, death - birth, width=width * 0.9, bottom=birth,
                   color=colours(np.log1p(hier.size[c]) / np.log1p(hier.size[0])),
                   edgecolor="red" if (select_clusters and c in selected) else "none",
                   linewidth=2)
            left, right = hier.left[c], hier.right[c]
            if left >= 0:
                total = hier.size[left] + hier.size[right]
                cut = lo + width * hier.size[left] / total
                spans[int(left)] = (lo, cut)
                spans[int(right)] = (cut, hi)
        ax.set_ylim(top, 0)
        ax.set_xticks([])
        ax.set_ylabel("lambda")
        ax.set_title("Condensed tree")
        return ax


def approximate_predict(clusterer, points_to_predict):
    """Labels and probabilities of new points, as ``hdbscan.approximate_predict``."""
    return clusterer.approximate_predict(points_to_predict)


def membership_vector(clusterer, points_to_predict):
    """Soft cluster membership of new points (rows sum to 1), as ``hdbscan.membership_vector``."""
    return clusterer.membership_vector(points_to_predict)


def all_points_membership_vectors(clusterer):
    """Soft cluster membership of the training points (rows sum to 1)."""
    return clusterer.all_points_membership_vectors()
