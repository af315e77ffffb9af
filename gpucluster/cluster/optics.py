"""OPTICS: ordering points to identify the clustering structure.

The estimator has scikit-learn's ``OPTICS`` signature, defaults and results
(``ordering_``, ``reachability_``, ``core_distances_``, ``predecessor_``,
``labels_``, ``cluster_hierarchy_``). The pipeline:

1. core distances: distance to the ``min_samples``-th nearest neighbour,
   counting the point itself, found by ``kernels.knn`` on X's device and
   measured by ``kernels.optics_core_distances``; rounded to 15 decimals and
   set to inf above ``max_eps``, as scikit-learn does;
2. the ordering loop of scikit-learn's ``compute_optics_graph``, O(n^2 d),
   from ``kernels.optics_ordering``: on the CPU one compiled Numba function
   with no Python between steps, on a GPU one distance row per step; or,
   with ``algorithm="knn_graph"`` (and "auto" for large host data in many
   dimensions, ``_graph.graph_is_cheaper``), the same loop over a neighbour
   graph only, ``kernels.optics_graph_ordering``, near-linear in n;
3. cluster extraction on the host in NumPy, O(n): scikit-learn's Xi method
   (with predecessor correction) or its DBSCAN-like cut at ``eps``.

The kernels compute the Euclidean, squared Euclidean and cosine distances.
Every other metric scikit-learn's OPTICS takes (Minkowski with any p,
"manhattan", boolean metrics, callables, ...), sparse feature rows, and
precomputed distances (dense, or a sparse graph whose stored entries are the
only neighbours) take steps 1 and 2 on the host (``_host_ordering``), with
distances from scikit-learn (``gpucluster._host_distances``); step 3 is the same.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from scipy.sparse import SparseEfficiencyWarning
from sklearn.exceptions import DataConversionWarning
from sklearn.neighbors import sort_graph_by_row_values

from .. import backend, kernels
from .._distances import cosine_mean, distance_rows, search_rows
from .._host_distances import (
    check_non_negative,
    check_tree_metric,
    host_sparse,
    resolve_metric,
    sparse_rows_metric,
)
from .._sparse import check_sparse, is_sparse
from .._validation import InvalidParameterError, check_input, check_option, check_scalar
from . import _host_ordering
from ._base import DeviceEstimatorMixin
from ._graph import NeighbourGraphMixin, graph_neighbors, takes_graph

# The distances the ordering kernels compute; other metrics run on the host.
KERNEL_METRICS = ("euclidean", "sqeuclidean", "cosine")
CLUSTER_METHODS = ("xi", "dbscan")
ALGORITHMS = ("auto", "brute", "ball_tree", "kd_tree", "knn_graph")

# Each ordering step on a GPU costs a few kernel launches and two host
# synchronisations whatever its size, while the Numba loop costs O(n d) per
# step; host data goes to a GPU under device="auto" only when one distance row
# is at least this many multiply-adds. An estimate, not yet measured.
GPU_MIN_ROW_WORK = 1e6


def _validate_size(size, n_samples, name):
    if size > n_samples:
        # scikit-learn's words, which its tests match (with "n_samples=", which
        # its estimator checks look for).
        raise ValueError(
            f"{name} must be no greater than the number of samples (n_samples={n_samples}). "
            f"Got {size}"
        )


def _effective_size(size, n_samples, name):
    """scikit-learn's reading of an int >= 2 or a fraction of ``n_samples`` (at least 2)."""
    _validate_size(size, n_samples, name)
    if size <= 1:
        return max(2, int(size * n_samples))
    return int(size)


# --------------------------------------------------------------------------
# The OPTICS graph


_KNN_METRIC = {"euclidean": "sqeuclidean", "sqeuclidean": "sqeuclidean", "cosine": "cosine"}
def optics_on_graph(X, min_samples, distance, max_eps, indices):
    """``optics_graph``'s results with each point reaching only its neighbours in
    ``indices`` (n, k >= min_samples - 1), each row's nearest other rows, ascending,
    for X and ``distance`` from ``gpucluster._distances.distance_rows``."""
    core = kernels.optics_core_distances(X, indices[:, :min_samples - 1], max_eps,
                                         metric=distance)
    ordering, reachability, predecessor = kernels.optics_graph_ordering(
        X, core, indices, max_eps, metric=distance)
    return ordering, core, reachability, predecessor


def optics_graph(X, min_samples, distance, max_eps):
    """scikit-learn's ``compute_optics_graph`` for the rows of X, on X's device.

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    min_samples : int, 2 <= min_samples <= n_samples
    distance : {"euclidean", "sqeuclidean", "cosine"}
    max_eps : float

    Returns
    -------
    ordering : array (n_samples,), int64
    core_distances : array (n_samples,), float64
    reachability : array (n_samples,), float64
    predecessor : array (n_samples,), int64
        All in X's namespace and on X's device.
    """
    # The kNN kernel finds the neighbours (among the distance rows rounded to X's
    # dtype); their distances are then recomputed with the ordering loop's own
    # arithmetic, so that the core distance of p and its distance to its k-th
    # neighbour are one number and ties in the reachability are exact, as in
    # scikit-learn.
    rows, distance = distance_rows(X, distance, cosine_mean(X, distance))
    _, indices = kernels.knn(search_rows(rows, X), min_samples - 1,
                             metric=_KNN_METRIC[distance], exclude_self=True)
    core = kernels.optics_core_distances(rows, indices, max_eps, metric=distance)
    ordering, reachability, predecessor = kernels.optics_ordering(rows, core, max_eps,
                                                                  metric=distance)
    return ordering, core, reachability, predecessor


# --------------------------------------------------------------------------
# Cluster extraction (host NumPy, O(n) apart from the Xi steep-area bookkeeping)


def cluster_optics_dbscan(*, reachability, core_distances, ordering, eps):
    """DBSCAN-like labels at ``eps`` from an OPTICS result, as scikit-learn's function.

    All arguments are host NumPy arrays; returns labels (n_samples,) int64.
    """
    reachability = np.asarray(reachability)
    core_distances = np.asarray(core_distances)
    ordering = np.asarray(ordering)
    labels = np.zeros(core_distances.shape[0], dtype=np.int64)
    far_reach = reachability > eps
    near_core = core_distances <= eps
    labels[ordering] = np.cumsum(far_reach[ordering] & near_core[ordering]) - 1
    labels[far_reach & ~near_core] = -1
    return labels


def cluster_optics_xi(*, reachability, predecessor, ordering, min_samples,
                      min_cluster_size=None, xi=0.05, predecessor_correction=True):
    """Labels and cluster hierarchy by the Xi-steep method, as scikit-learn's function.

    All arrays are host NumPy arrays. Returns ``labels`` (n_samples,) int64
    and ``clusters`` (n_clusters, 2) int64: ``[start, end]`` positions in
    ``ordering``, both inclusive, smaller nested clusters first; with no
    cluster, an empty float64 array of shape (0,), as scikit-learn's.
    """
    reachability = np.asarray(reachability, dtype=np.float64)
    ordering = np.asarray(ordering, dtype=np.int64)
    n_samples = reachability.shape[0]
    min_samples = _effective_size(min_samples, n_samples, "min_samples")
    if min_cluster_size is None:
        min_cluster_size = min_samples
    min_cluster_size = _effective_size(min_cluster_size, n_samples, "min_cluster_size")
    clusters = _xi_cluster(
        reachability[ordering], np.asarray(predecessor)[ordering], ordering, float(xi),
        min_samples, min_cluster_size, bool(predecessor_correction),
    )
    return _extract_xi_labels(ordering, clusters), clusters


def _extend_region(steep_point, xward_point, start, min_samples):
    """End of the maximal steep region from ``start`` (at most ``min_samples`` non-steep points in a row)."""
    n_samples = steep_point.shape[0]
    non_xward_points = 0
    index = start
    end = start
    while index < n_samples:
        if steep_point[index]:
            non_xward_points = 0
            end = index
        elif not xward_point[index]:
            non_xward_points += 1
            if non_xward_points > min_samples:
                break
        else:
            return end
        index += 1
    return end


def _update_filter_sdas(sdas, mib, xi_complement, reachability_plot):
    """Drop the steep-down areas that the maximum in between (mib) rules out; raise the others' mib."""
    if np.isinf(mib):
        return []
    kept = [sda for sda in sdas if mib <= reachability_plot[sda["start"]] * xi_complement]
    for sda in kept:
        sda["mib"] = max(sda["mib"], mib)
    return kept


def _correct_predecessor(reachability_plot, predecessor_plot, position, s, e):
    """Algorithm 2 of Schubert and Gertz (2018): shrink [s, e] until e's predecessor lies in it.

    ``position[p]`` is p's index in the ordering, so "the predecessor of e is
    among ordering[s:e]" is one comparison instead of scikit-learn's scan.
    """
    while s < e:
        if reachability_plot[s] > reachability_plot[e]:
            return s, e
        p_e = predecessor_plot[e]
        if p_e >= 0 and s <= position[p_e] < e:
            return s, e
        e -= 1
    return None, None


def _xi_cluster(reachability_plot, predecessor_plot, ordering, xi, min_samples,
                min_cluster_size, predecessor_correction):
    """scikit-learn's ``_xi_cluster``: roughly Figure 19 of the OPTICS paper, with its two corrections."""
    # An inf at the end lets a cluster that runs to the end of the plot close.
    reachability_plot = np.hstack((reachability_plot, np.inf))
    position = np.empty(ordering.shape[0], dtype=np.int64)
    position[ordering] = np.arange(ordering.shape[0])
    xi_complement = 1 - xi
    sdas = []
    clusters = []
    index = 0
    mib = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = reachability_plot[:-1] / reachability_plot[1:]
        steep_upward = ratio <= xi_complement
        steep_downward = ratio >= 1 / xi_complement
        downward = ratio > 1
        upward = ratio < 1

    for steep_index in np.flatnonzero(steep_upward | steep_downward).tolist():
        if steep_index < index:
            continue
        mib = max(mib, np.max(reachability_plot[index:steep_index + 1]))
        if steep_downward[steep_index]:
            sdas = _update_filter_sdas(sdas, mib, xi_complement, reachability_plot)
            d_start = steep_index
            d_end = _extend_region(steep_downward, upward, d_start, min_samples)
            sdas.append({"start": d_start, "end": d_end, "mib": 0.0})
            index = d_end + 1
            mib = reachability_plot[index]
        else:
            sdas = _update_filter_sdas(sdas, mib, xi_complement, reachability_plot)
            u_start = steep_index
            u_end = _extend_region(steep_upward, downward, u_start, min_samples)
            index = u_end + 1
            mib = reachability_plot[index]
            u_clusters = []
            for sda in sdas:
                c_start = sda["start"]
                c_end = u_end
                if reachability_plot[c_end + 1] * xi_complement < sda["mib"]:
                    continue
                # Definition 11, criterion 4; 4c with the paper's r(x) < r(sD)
                # corrected to r(x) > r(sD), as scikit-learn does.
                d_max = reachability_plot[sda["start"]]
                if d_max * xi_complement >= reachability_plot[c_end + 1]:
                    while (reachability_plot[c_start + 1] > reachability_plot[c_end + 1]
                           and c_start < sda["end"]):
                        c_start += 1
                elif reachability_plot[c_end + 1] * xi_complement >= d_max:
                    while reachability_plot[c_end - 1] > d_max and c_end > u_start:
                        c_end -= 1
                if predecessor_correction:
                    c_start, c_end = _correct_predecessor(
                        reachability_plot, predecessor_plot, position, c_start, c_end
                    )
                if c_start is None:
                    continue
                if c_end - c_start + 1 < min_cluster_size:  # criterion 3.a
                    continue
                if c_start > sda["end"]:  # criterion 1
                    continue
                if c_end < u_start:  # criterion 2
                    continue
                u_clusters.append((c_start, c_end))
            # Smaller clusters first, so that labels go to the leaves.
            u_clusters.reverse()
            clusters.extend(u_clusters)
    # scikit-learn's np.array(clusters): with no cluster an empty float64 (0,) array.
    return np.array(clusters, dtype=np.int64) if clusters else np.array([])


def _extract_xi_labels(ordering, clusters):
    """Label each leaf cluster of the hierarchy (clusters come smallest first); -1 elsewhere."""
    labels = np.full(ordering.shape[0], -1, dtype=np.int64)
    label = 0
    for start, end in clusters.tolist():
        if not np.any(labels[start:end + 1] != -1):
            labels[start:end + 1] = label
            label += 1
    labels[ordering] = labels.copy()
    return labels


# --------------------------------------------------------------------------
# The estimator


class OPTICS(NeighbourGraphMixin, DeviceEstimatorMixin, ClusterMixin, BaseEstimator):
    """OPTICS clustering on the GPU or the CPU, a drop-in replacement for scikit-learn's.

    Parameters
    ----------
    min_samples : int > 1 or float in [0, 1], default=5
        Neighbourhood size (counting the point itself) for a core point; a
        float is a fraction of n_samples, at least 2. Also the most
        consecutive non-steep points in a steep region of the Xi method.
    max_eps : float, default=np.inf
        Points farther apart than this never reach each other; core
        distances above it are inf.
    metric : str or callable, default="minkowski"
        "minkowski" with p=2, "euclidean", "l2", "sqeuclidean" and "cosine"
        (``1 - cos(x, y)``) run on the kernels, on X's device. Any other
        metric scikit-learn's OPTICS takes runs on the host with
        scikit-learn's distances: "minkowski" with another p, "manhattan",
        "chebyshev", "seuclidean", "mahalanobis", the boolean metrics
        ("jaccard", "rogerstanimoto", ...; X is converted to bool with a
        DataConversionWarning unless it is bool), and a callable
        ``f(x, y) -> float``, called once per pair of rows in Python: slow,
        as in scikit-learn. "precomputed": X is an (n_samples, n_samples)
        distance matrix, dense (the diagonal counts as a neighbour) or a
        SciPy sparse graph whose stored entries are the only neighbours (the
        diagonal is stored as a neighbour at its value, 0 when absent).
        Host metrics hold an (n, n) matrix when it fits the memory budget,
        else compute one row of distances per step; they run on the host
        whatever ``device`` says, and the results still mirror X's type.
    p : float >= 1, default=2
        Minkowski power, unless ``metric_params`` holds "p".
    metric_params : dict or None, default=None
        Keyword arguments of the metric.
    cluster_method : {"xi", "dbscan"}, default="xi"
    eps : float or None, default=None
        The DBSCAN-like cut for ``cluster_method="dbscan"``; ``max_eps`` when None.
    xi : float in [0, 1), default=0.05
        Least relative steepness of a cluster boundary in the reachability plot.
    predecessor_correction : bool, default=True
        Correct Xi clusters by the OPTICS predecessors (Schubert and Gertz, 2018).
    min_cluster_size : int > 1, float in (0, 1] or None, default=None
        Smallest Xi cluster; a float is a fraction of n_samples (at least 2);
        ``min_samples`` when None.
    algorithm : {"auto", "brute", "ball_tree", "kd_tree", "knn_graph"}, default="auto"
        scikit-learn's names take the exact loop over all pairs. "knn_graph"
        runs the loop on a neighbour graph of ``max(min_samples - 1,
        GRAPH_NEIGHBORS)`` nearest other rows per row (``kernels.knn_graph``,
        approximate above its size limit), each point reaching only its
        graph neighbours: near-linear in n; where no processed neighbour
        reaches the next point its reachability reads inf (a jump between
        clusters) instead of the distance, and the clusters agree with the
        exact loop's on clustered data (ARI >= 0.99 in the tests). "auto"
        takes the graph from ``GRAPH_MIN_ROWS`` rows and
        ``GRAPH_MIN_FEATURES`` features of host data (kernels' metrics only).
        "kd_tree" and "ball_tree" refuse a metric scikit-learn's tree does
        not know ("kd_tree" takes no "cosine", no callable), as scikit-learn
        does; "knn_graph" takes only the kernels' metrics.
    leaf_size, memory, n_jobs
        Accepted for scikit-learn compatibility; unused.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to compute; "auto" keeps data where it lives, and moves host data
        to a GPU only when each ordering step is large.
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"

    Attributes
    ----------
    labels_ : array (n_samples,), int64
        Cluster of each point (-1 for noise); same array type and device as X
        (or ``output_type``), as every array attribute below.
    reachability_ : array (n_samples,), X's dtype (float64 for host metrics)
        Reachability distance of each point (inf for the first point of each
        connected region), indexed by point.
    ordering_ : array (n_samples,), int64
        The cluster order of the points.
    core_distances_ : array (n_samples,), X's dtype (float64 for host metrics)
        Distance at which each point becomes core (inf if it never does).
    predecessor_ : array (n_samples,), int64
        The point each point was reached from (-1 for none).
    cluster_hierarchy_ : array (n_clusters, 2), int64
        Xi clusters as inclusive ``[start, end]`` positions in ``ordering_``,
        smaller nested clusters first; only with ``cluster_method="xi"``.
        With no cluster, float64 of shape (0,), as in scikit-learn.
    n_features_in_ : int

    Notes
    -----
    Core distances are an exact kNN kernel on X's device, O(n^2 d). The
    ordering loop is sequential and O(n^2 d): on the CPU it is one compiled
    Numba function (float64 distances, no Python per step); on a GPU one
    distance row per step. Results equal scikit-learn's, which rounds
    distances to 15 decimals so that ties are stable; float32 data is
    processed with float64 distances and returned in float32. Extraction runs
    on the host in O(n). Host metrics and precomputed input run the same loop
    on the host, compiled, over a distance matrix (O(n^2) memory) or, above
    the memory budget, over one row of distances per step from scikit-learn;
    their results equal scikit-learn's to rounding (its core distances come
    from a tree, its reachabilities from ``pairwise_distances``).

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster.cluster.optics import OPTICS
    >>> X = np.array([[1, 2], [2, 5], [3, 6], [8, 7], [8, 8], [7, 3]], dtype=np.float64)
    >>> clustering = OPTICS(min_samples=2).fit(X)
    >>> clustering.labels_
    array([0, 0, 0, 1, 1, 1])
    >>> clustering.ordering_
    array([0, 1, 2, 5, 3, 4])
    """

    def __init__(
        self,
        *,
        min_samples=5,
        max_eps=np.inf,
        metric="minkowski",
        p=2,
        metric_params=None,
        cluster_method="xi",
        eps=None,
        xi=0.05,
        predecessor_correction=True,
        min_cluster_size=None,
        algorithm="auto",
        leaf_size=30,
        memory=None,
        n_jobs=None,
        device="auto",
        output_type="input",
    ):
        self.min_samples = min_samples
        self.max_eps = max_eps
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.cluster_method = cluster_method
        self.eps = eps
        self.xi = xi
        self.predecessor_correction = predecessor_correction
        self.min_cluster_size = min_cluster_size
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.memory = memory
        self.n_jobs = n_jobs
        self.device = device
        self.output_type = output_type

    # ------------------------------------------------------------------
    # Validation

    @staticmethod
    def _check_size(value, name, *, allow_zero, allow_none=False):
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be an int > 1 or a float in (0, 1], got {value!r}.")
        if isinstance(value, numbers.Integral):
            check_scalar(value, name, min_value=2)
        elif not (0 <= value <= 1) or (value == 0 and not allow_zero):
            low = "[0" if allow_zero else "(0"
            raise ValueError(f"{name} as a fraction must be in {low}, 1], got {value!r}.")

    def _check_params(self):
        """Check every parameter that does not depend on X; return the ``MetricChoice``."""
        self._check_size(self.min_samples, "min_samples", allow_zero=True)
        self._check_size(self.min_cluster_size, "min_cluster_size", allow_zero=False,
                         allow_none=True)
        check_scalar(self.max_eps, "max_eps", kind=numbers.Real, min_value=0)
        if self.max_eps != self.max_eps:
            raise ValueError(f"max_eps must be a number >= 0, got {self.max_eps!r}.")
        check_scalar(self.p, "p", kind=numbers.Real, min_value=1)
        choice = resolve_metric(self.metric, self.metric_params, self.p,
                                kernel_metrics=KERNEL_METRICS)
        check_option(self.cluster_method, "cluster_method", CLUSTER_METHODS)
        if self.eps is not None:
            check_scalar(self.eps, "eps", kind=numbers.Real, min_value=0)
        if self.cluster_method == "dbscan":
            eps = self.max_eps if self.eps is None else self.eps
            if eps > self.max_eps:
                raise ValueError(f"Specify an epsilon smaller than {self.max_eps}. Got {eps}.")
        check_scalar(self.xi, "xi", kind=numbers.Real, min_value=0)
        if not self.xi < 1:
            raise InvalidParameterError(f"xi must be in [0, 1), got {self.xi!r}.")
        if not isinstance(self.predecessor_correction, (bool, np.bool_)):
            raise TypeError(
                f"predecessor_correction must be a bool, got {self.predecessor_correction!r}."
            )
        check_option(self.algorithm, "algorithm", ALGORITHMS)
        check_scalar(self.leaf_size, "leaf_size", min_value=1)
        if self.memory is not None and not isinstance(self.memory, str) and not hasattr(
            self.memory, "cache"
        ):
            raise TypeError(
                f"memory must be None, a str or an object with a cache method, got {self.memory!r}."
            )
        if self.n_jobs is not None:
            check_scalar(self.n_jobs, "n_jobs")
        self._check_device_params()
        self._check_algorithm_metric(choice)
        return choice

    def _check_algorithm_metric(self, choice):
        """scikit-learn's neighbour search refuses a metric its tree does not know."""
        if choice.precomputed:
            return
        if self.algorithm == "knn_graph" and choice.kernel is None:
            raise ValueError(f"algorithm='knn_graph' takes the metrics {KERNEL_METRICS} (and "
                             f"their aliases), got metric={self.metric!r}.")
        if check_tree_metric(self.metric, self.algorithm):
            return
        if callable(self.metric):
            raise ValueError(f"kd_tree does not support callable metric '{self.metric}'"
                             "Function call overhead will resultin very poor performance.")
        raise ValueError(
            f"Metric '{self.metric}' not valid. Use sorted(sklearn.neighbors."
            f"VALID_METRICS['{self.algorithm}']) to get valid options. Metric can also be a "
            "callable function."
        )

    @staticmethod
    def _work(n_samples, n_features):
        if n_samples * n_features < GPU_MIN_ROW_WORK:
            return 0.0
        return float(n_samples) * n_samples * n_features

    # ------------------------------------------------------------------
    # Fit

    def fit(self, X, y=None):
        """Compute the OPTICS ordering and extract clusters.

        Parameters
        ----------
        X : array of shape (n_samples, n_features), or (n_samples, n_samples) with "precomputed"
            NumPy, CuPy, torch (CPU or CUDA), any array-API array or a list;
            or a SciPy sparse matrix: feature rows (host metrics, as
            scikit-learn's sparse neighbour search) or, with "precomputed",
            a distance graph.
        y : ignored

        Returns
        -------
        self : OPTICS
        """
        choice = self._check_params()
        on_kernels = choice.kernel is not None and not is_sparse(X)
        if on_kernels:
            X, _, like = self._prepare_input(X, reset=True, work=self._work)
        else:
            X, like = self._host_input(X, choice)
        n_samples = X.shape[0]
        min_samples = _effective_size(self.min_samples, n_samples, "min_samples")
        if self.cluster_method == "xi":
            min_cluster_size = (min_samples if self.min_cluster_size is None
                                else self.min_cluster_size)
            _effective_size(min_cluster_size, n_samples, "min_cluster_size")
        max_eps = float(self.max_eps)
        if on_kernels:
            graph = self._kernel_graph(X, choice.kernel, min_samples, max_eps)
        else:
            graph = self._host_graph(X, choice, min_samples, max_eps)
        ordering, core, reachability, predecessor = graph
        ordering_host = backend.to_numpy(ordering)
        reach_host = backend.to_numpy(reachability)
        if np.all(np.isinf(reach_host)):
            warnings.warn(
                "All reachability values are inf. Set a larger max_eps or all data will be "
                "considered outliers.",
                UserWarning,
                stacklevel=2,
            )
        core_host = backend.to_numpy(core)
        if self.cluster_method == "xi":
            labels, clusters = cluster_optics_xi(
                reachability=reach_host, predecessor=backend.to_numpy(predecessor),
                ordering=ordering_host, min_samples=min_samples, min_cluster_size=min_cluster_size,
                xi=float(self.xi), predecessor_correction=bool(self.predecessor_correction),
            )
        else:
            eps = max_eps if self.eps is None else float(self.eps)
            labels = cluster_optics_dbscan(
                reachability=reach_host, core_distances=core_host, ordering=ordering_host,
                eps=eps
            )

        # Distances keep X's dtype on the kernels; host metrics measure in float64.
        like_X = X if on_kernels else core_host
        xp = backend.namespace(like_X)
        distance_dtype = X.dtype if on_kernels else xp.float64

        def out(values, dtype=None):
            arr = backend.asarray_like(values, like_X)
            if dtype is not None:
                arr = xp.astype(arr, dtype)
            return self._to_output(arr, like)

        self.n_features_in_ = int(X.shape[1])
        self.ordering_ = out(ordering)
        self.core_distances_ = out(core, distance_dtype)
        self.reachability_ = out(reachability, distance_dtype)
        self.predecessor_ = out(predecessor)
        self.labels_ = out(labels)
        if self.cluster_method == "xi":
            self.cluster_hierarchy_ = out(clusters)
        elif hasattr(self, "cluster_hierarchy_"):
            del self.cluster_hierarchy_
        return self

    def _kernel_graph(self, X, distance, min_samples, max_eps):
        """The OPTICS graph of X on the kernels, exact or on a neighbour graph (``algorithm``)."""
        if takes_graph(self.algorithm, X):
            k = graph_neighbors(min_samples - 1, X.shape[0])
            rows, measured = distance_rows(X, distance, cosine_mean(X, distance))
            # The search's shared graph serves the Euclidean X as given.
            _, indices = self._neighbour_graph(search_rows(rows, X), k,
                                               distance if rows is X else measured)
            return optics_on_graph(rows, min_samples, measured, max_eps, indices)
        return optics_graph(X, min_samples, distance, max_eps)

    def _host_input(self, X, choice):
        """X checked on the host as scikit-learn's OPTICS checks it, and the caller's kind.

        Precomputed: float64, finite; a sparse graph becomes a sorted CSR copy
        with its diagonal stored (each point is its own neighbour). Features:
        float64 NumPy or CSR, bool for boolean metrics (with scikit-learn's
        DataConversionWarning when X was not bool).
        """
        name = type(self).__name__
        if is_sparse(X):
            X = check_sparse(host_sparse(X), estimator_name=name)
            like = backend.describe_input(np.empty(0))
            if choice.precomputed:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SparseEfficiencyWarning)
                    X = X.copy()
                    X.setdiag(X.diagonal())
                return sort_graph_by_row_values(X, warn_when_not_sorted=False), like
            if self.algorithm not in ("auto", "brute"):
                warnings.warn("cannot use tree with sparse input: using brute force",
                              UserWarning, stacklevel=3)
            sparse_rows_metric(choice)
        else:
            X = backend.coerce_array(X)
            like = backend.describe_input(X)
        boolean = choice.host is not None and choice.host.boolean
        is_bool = (X.dtype == bool if is_sparse(X)
                   else backend.namespace(X).isdtype(X.dtype, "bool"))
        if boolean and not is_bool:
            warnings.warn(f"Data will be converted to boolean for metric {self.metric}, to avoid "
                          "this warning, you may convert the data prior to calling fit.",
                          DataConversionWarning, stacklevel=3)
        if not is_sparse(X):
            X = backend.to_numpy(check_input(X, estimator_name=name)).astype(np.float64)
        return (X.astype(bool) if boolean else X), like

    def _host_graph(self, X, choice, min_samples, max_eps):
        """The OPTICS graph of host X (``_host_input``) under a host metric or precomputed."""
        if not choice.precomputed:
            metric = sparse_rows_metric(choice) if is_sparse(X) else choice.host
            return _host_ordering.features_ordering(X, metric, min_samples, max_eps)
        check_non_negative(X.data if is_sparse(X) else X,
                           "precomputed distance matrix" if is_sparse(X) else "X")
        if X.shape[0] != X.shape[1]:
            raise ValueError(f"Precomputed matrix must be square. Input is a "
                             f"{X.shape[0]}x{X.shape[1]} matrix.")
        if is_sparse(X):
            return _host_ordering.graph_ordering(X, min_samples, max_eps)
        return _host_ordering.matrix_ordering(X, min_samples, max_eps)

    def fit_predict(self, X, y=None):
        """Cluster X and return ``labels_``."""
        return self.fit(X).labels_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # feature rows or a precomputed graph
        return tags
