"""Density-based clustering: ``DBSCAN``, with scikit-learn's API and results.

The eps-neighbourhoods come from the exact ``radius_neighbors`` kernel (a
KD-tree up to 16 features on the host, GEMM tiles on X's device above), or,
with ``algorithm="knn_graph"``, from a neighbour graph (``_graph``): each
row's nearest other rows, cut at eps. The rest is array-API work on the
neighbour lists: weighted neighbour counts give the core points, the connected
components of the core-core edges (``kernels.connected_components``) give
the clusters, and each border point joins the lowest-numbered cluster among
its core neighbours. That is exactly what scikit-learn's ``dbscan_inner``
produces: it grows clusters one at a time from the lowest unvisited core
index, so a border point is claimed by the first (lowest-numbered) cluster
that reaches it.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from .. import backend, distributed, kernels
from .._distances import cosine_mean, distance_rows, search_rows
from .._sparse import check_sparse, is_sparse
from .._validation import check_finite, check_option, check_scalar
from ._base import DeviceEstimatorMixin
from ._graph import NeighbourGraphMixin, graph_neighbors

# Metrics the kernels compute, by every name scikit-learn gives them; "minkowski"
# joins them when p is 2 (or None).
KERNEL_METRICS = {"euclidean": "euclidean", "l2": "euclidean", "sqeuclidean": "sqeuclidean",
                  "cosine": "cosine"}
ALGORITHMS = ("auto", "ball_tree", "kd_tree", "brute", "knn_graph")


def _host_metrics():
    """The metric names scikit-learn's neighbour search takes, besides "precomputed"."""
    from sklearn.neighbors import VALID_METRICS

    return sorted(set().union(*VALID_METRICS.values()) - {"precomputed"})


def _check_weights(sample_weight, X):
    """Weights in X's namespace, device and float64, or None.

    Unlike the other estimators, negative weights are allowed, as in
    scikit-learn's DBSCAN: a point with a negative weight holds its
    neighbours back from being core.
    """
    if sample_weight is None:
        return None
    xp = backend.namespace(X)
    n_samples = X.shape[0]
    if isinstance(sample_weight, numbers.Number):
        return xp.full(n_samples, float(sample_weight), dtype=xp.float64,
                       device=backend.device(X))
    sample_weight = xp.astype(backend.asarray_like(backend.coerce_array(sample_weight), X),
                              xp.float64)
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == {tuple(sample_weight.shape)}, expected ({n_samples},)!"
        )
    check_finite(sample_weight, "sample_weight")
    if n_samples and bool(xp.all(sample_weight == 0)):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


# Above this many eps-pairs the exact path reads the neighbour lists block by
# block of rows, so memory holds one block's lists and O(n) arrays, never
# every list at once (500,000 x 2 points at eps=0.02 have 0.3 billion pairs).
BLOCK_PAIRS = 1 << 25


def _precomputed_pairs(D, eps):
    """``(counts, rows, cols)`` of the entries of the distance matrix D within eps, the
    diagonal left out (int64, row-major order)."""
    xp = backend.namespace(D)
    n = D.shape[0]
    diagonal = xp.arange(n, device=backend.device(D))
    within = (D <= eps) & (diagonal[:, None] != diagonal[None, :])
    counts = xp.astype(xp.sum(xp.astype(within, xp.int64), axis=1), xp.int64)
    rows, cols = xp.nonzero(within)
    return counts, xp.astype(rows, xp.int64), xp.astype(cols, xp.int64)


def _rows_of(indptr, nnz, xp, device):
    """The row of every one of the ``nnz`` entries of CSR lists with row pointers
    ``indptr`` (int64): a running count of the row starts, O(nnz), with no
    search and no xp.repeat (CuPy's takes no array of repeats)."""
    # float64 counts (exact below 2^53): CuPy's scatter_add takes no int64.
    starts = xp.zeros(nnz + 1, dtype=xp.float64, device=device)
    boundaries = indptr[1:-1]  # a row starting at nnz (empty, at the end) lands in the spare slot
    starts = backend.scatter_add_rows(
        starts, boundaries, xp.ones(boundaries.shape[0], dtype=xp.float64, device=device))
    return xp.astype(xp.cumulative_sum(starts[:nnz]), xp.int64)


def _row_blocks(counts, budget):
    """``[(start, stop), ...]`` covering the rows, each block's ``counts`` summing to at
    most ``budget`` (a block is at least one row)."""
    ends = np.cumsum(backend.to_numpy(counts).astype(np.int64))
    blocks, start = [], 0
    while start < ends.shape[0]:
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + budget, side="right")))
        blocks.append((start, stop))
        start = stop
    return blocks


def _block_pairs(X, eps, metric, start, stop):
    """``(rows, cols)`` (int64) of the eps-pairs whose first row lies in [start, stop),
    each row's own pair left out."""
    xp = backend.namespace(X)
    _, indptr, cols = kernels.radius_neighbors(X, eps, queries=X[start:stop, :], metric=metric)
    rows = _rows_of(indptr, cols.shape[0], xp, backend.device(X)) + start
    other = rows != cols
    return rows[other], cols[other]


def _host_pairs(X, eps, estimator):
    """``(counts, rows, cols)`` (NumPy int64) of the eps-pairs under a metric no kernel
    computes, or of sparse X, by scikit-learn's neighbour search on the host
    (every list at once, as there)."""
    from sklearn.neighbors import NearestNeighbors

    algorithm = estimator.algorithm if estimator.algorithm in ("ball_tree", "kd_tree",
                                                               "brute") else "auto"
    search = NearestNeighbors(radius=eps, algorithm=algorithm, leaf_size=estimator.leaf_size,
                              metric=estimator.metric, p=estimator.p,
                              metric_params=estimator.metric_params)
    search.fit(X if is_sparse(X) else backend.to_numpy(X))
    graph = search.radius_neighbors_graph(mode="connectivity").tocsr()  # self left out
    counts = np.diff(graph.indptr).astype(np.int64)
    rows = np.repeat(np.arange(graph.shape[0], dtype=np.int64), counts)
    return counts, rows, graph.indices.astype(np.int64)


def _one_block(rows, cols):
    """``pair_blocks`` for pairs that are all in memory: one block."""
    return lambda: [(rows, cols)]


def _sparse_graph_pairs(D, eps):
    """``(counts, rows, cols, counts_self)`` of a sparse distance graph's stored
    entries within eps, as scikit-learn's DBSCAN reads it: a row's own entry is
    its stored diagonal, or 0 where none is stored (so it counts); pairs listed
    one way only link both ways. NumPy int64 arrays and a bool (n,) mask."""
    D = D.tocsr()
    n = D.shape[0]
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(D.indptr))
    cols = D.indices.astype(np.int64)
    within = (D.data <= eps) & (rows != cols)
    rows, cols = rows[within], cols[within]
    counts = np.bincount(rows, minlength=n).astype(np.int64)
    counts_self = np.asarray(D.diagonal()) <= eps
    # Listed both ways for the components and the border claims; the
    # counts stay those of each row's own list.
    return counts, np.concatenate([rows, cols]), np.concatenate([cols, rows]), counts_self


def neighbour_pairs(X, eps, metric):
    """The eps-neighbour pairs of X's rows, self excluded: ``(counts, blocks)``.

    ``counts`` (n,) int64 is each row's number of neighbours; ``blocks()``
    returns an iterable of ``(rows, cols)`` int64 arrays that together hold
    every pair once per direction. Up to ``BLOCK_PAIRS`` pairs they are one
    block computed once; above, each call searches again block by block, so
    that only one block's lists are in memory. For "precomputed", X is the
    (n, n) distance matrix. In X's namespace and on X's device.
    """
    if metric == "precomputed":
        counts, rows, cols = _precomputed_pairs(X, eps)
        return counts, _one_block(rows, cols)
    # The radius kernel moves rows far from the origin near it (``far_centre``).
    n = X.shape[0]
    blocks = None
    if n * (n - 1) > BLOCK_PAIRS:
        # Count first (one pass, no lists) only where the lists could outgrow one block.
        counts = kernels.radius_neighbors(X, eps, metric=metric, include_self=False,
                                          return_lists=False)
        blocks = _row_blocks(counts, BLOCK_PAIRS)
    if blocks is None or len(blocks) == 1:
        counts, indptr, cols = kernels.radius_neighbors(X, eps, metric=metric,
                                                        include_self=False)
        xp = backend.namespace(X)
        rows = _rows_of(indptr, cols.shape[0], xp, backend.device(X))
        return counts, _one_block(rows, cols)
    return counts, lambda: (_block_pairs(X, eps, metric, start, stop)
                            for start, stop in blocks)


def graph_pairs(distances, indices, eps, xp):
    """The neighbour pairs within eps of a neighbour graph, as ``(counts, rows, cols)``.

    ``distances``/``indices`` (n, k) are each row's nearest other rows,
    ascending. ``counts`` (n,) int64 is how many of a row's own neighbours lie
    within eps; ``rows``/``cols`` hold every such pair in both directions (the
    relation is symmetric, and an approximate graph may list it one way only),
    repeats allowed, int64.
    """
    n, k = indices.shape
    within = (distances <= eps) & (indices >= 0)
    counts = xp.astype(xp.sum(xp.astype(within, xp.int64), axis=1), xp.int64)
    flat = xp.reshape(within, (-1,))
    position = xp.nonzero(flat)[0]
    rows = xp.astype(position // max(k, 1), xp.int64)
    cols = xp.astype(xp.take(xp.reshape(indices, (-1,)), position), xp.int64)
    return counts, xp.concat([rows, cols]), xp.concat([cols, rows])


def core_rows(X, core_indices):
    """``components_``: the rows of the core samples (a copy, X's dtype and kind, sparse
    for sparse X); with none, a float64 (0, n_features) array in X's namespace, as
    scikit-learn's ``np.empty((0, n_features))`` whatever X is."""
    if is_sparse(X):
        return X[core_indices].copy() if core_indices.shape[0] else np.empty((0, X.shape[1]))
    xp = backend.namespace(X)
    if not core_indices.shape[0]:
        return xp.zeros((0, X.shape[1]), dtype=xp.float64, device=backend.device(X))
    return xp.take(X, core_indices, axis=0)


def dbscan_labels(pair_blocks, core, xp, device):
    """Cluster labels from neighbour pairs (self excluded) and the core mask.

    ``pair_blocks`` is an iterable of ``(rows, cols)`` int64 arrays holding
    every neighbour pair (in both directions); it is read once, block by
    block. Clusters are the connected components of the core-core edges,
    numbered in the order of their lowest core index; a non-core point with a
    core neighbour takes the lowest cluster number among them; the rest are
    -1. Returns labels (n,) int64.
    """
    n = core.shape[0]
    n_core = int(xp.sum(xp.astype(core, xp.int64)))
    minus_one = xp.full(n, -1, dtype=xp.int64, device=device)
    if n_core == 0:
        return minus_one
    # Core points renumbered 0 .. n_core - 1 in index order. ``cluster`` maps
    # each to an id of its component so far; each block's edges join ids.
    # connected_components numbers components by their smallest node, so the
    # ids stay in the order of each component's lowest core index.
    position = xp.cumulative_sum(xp.astype(core, xp.int64)) - 1
    cluster = xp.arange(n_core, dtype=xp.int64, device=device)
    border_rows, border_cols = [], []
    for rows, cols in pair_blocks:
        core_row = xp.take(core, rows)
        core_col = xp.take(core, cols)
        edges = core_row & core_col
        if bool(xp.any(edges)):
            components = kernels.connected_components(
                n_core, xp.take(cluster, xp.take(position, rows[edges])),
                xp.take(cluster, xp.take(position, cols[edges])))
            cluster = xp.take(components, cluster)
        border = ~core_row & core_col
        border_rows.append(rows[border])
        border_cols.append(cols[border])
    _, cluster = xp.unique_inverse(cluster)  # ids without gaps, order kept
    cluster = xp.astype(xp.reshape(cluster, (-1,)), xp.int64)
    labels = xp.where(core, xp.take(cluster, xp.clip(position, min=0)), minus_one)
    border_rows = xp.concat(border_rows)
    if border_rows.shape[0] == 0:
        return labels
    n_clusters = int(xp.max(cluster)) + 1
    # One sort of (row, cluster) keys puts each border row's smallest cluster first.
    keys = xp.sort(border_rows * n_clusters + xp.take(labels, xp.concat(border_cols)))
    key_rows = keys // n_clusters
    everyone = xp.arange(n, dtype=xp.int64, device=device)
    first = xp.searchsorted(key_rows, everyone)
    first = xp.clip(first, max=keys.shape[0] - 1)
    has_core_neighbour = xp.take(key_rows, first) == everyone
    return xp.where(has_core_neighbour, xp.take(keys, first) % n_clusters, labels)


class DBSCAN(NeighbourGraphMixin, DeviceEstimatorMixin, ClusterMixin, BaseEstimator):
    """Density-based spatial clustering (DBSCAN) on the GPU or the CPU, as scikit-learn's.

    Parameters
    ----------
    eps : float, default=0.5
        Radius of a neighbourhood: points at distance <= eps are neighbours.
        For "sqeuclidean" it bounds the squared distance.
    min_samples : int, default=5
        Weighted neighbour count, the point itself included, that makes a
        point a core point.
    metric : str or callable, default="euclidean"
        "euclidean" (or "l2"), "sqeuclidean", "cosine" (``1 - cos``, 1
        against a zero row) and "minkowski" with ``p`` 2 run on the kernels
        (X's device, lists in bounded memory); "precomputed" takes X as an
        (n_samples, n_samples) distance matrix. Every other metric
        scikit-learn's neighbour search takes ("manhattan", "cityblock",
        "l1", "chebyshev", "minkowski" with any p, "haversine"...) and
        callables run there, on the host, holding every neighbour list at
        once as scikit-learn does; callables are slow (one Python call per
        pair).
    metric_params : dict or None, default=None
        Extra arguments of the metric (host metrics only).
    algorithm : {"auto", "ball_tree", "kd_tree", "brute", "knn_graph"}, default="auto"
        scikit-learn's names all take the exact radius search (a KD-tree up
        to 16 features on the host, GEMM tiles otherwise). "knn_graph"
        takes each row's ``max(min_samples - 1, GRAPH_NEIGHBORS)`` nearest
        other rows from ``kernels.knn_graph`` (approximate above its size
        limit) and keeps those within eps: near-linear in n instead of
        O(n^2 d). With an exact graph the core points and the border
        assignments are exact (a non-core row has fewer than min_samples
        rows within eps, all of them in its list); two core points within
        eps of each other with k nearer rows each may go unlinked, so a
        cluster held together only by such pairs can split. Not with
        "precomputed" or sample weights.
    leaf_size : int, default=30
        Accepted for scikit-learn compatibility; unused.
    p : float or None, default=None
        Minkowski power (> 0); None is 2.
    n_jobs : int or None, default=None
        Accepted for scikit-learn compatibility; the CPU kernels use Numba's threads.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to compute; "auto" uses a GPU for data already on one, or for
        host data when the work is large enough.
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"
        The array type of fitted attributes and results; "input" mirrors X.

    Attributes
    ----------
    core_sample_indices_ : array of shape (n_core_samples,), int64
        Indices of the core samples, ascending.
    components_ : array of shape (n_core_samples, n_features)
        Copy of each core sample, X's dtype (sparse for sparse X); with no core
        sample float64 (0, n_features), dense, as in scikit-learn.
    labels_ : array of shape (n_samples,), int64
        Cluster of each point, numbered in the order of each cluster's lowest
        core index; -1 for noise.
    n_features_in_ : int
        All arrays have X's array type and device (or ``output_type``).

    Notes
    -----
    The neighbourhoods are found by brute force, O(n_samples^2 n_features)
    work as GEMM tiles (BLAS on the CPU, cuBLAS on the GPU) with memory
    O(tile) besides the neighbour lists, which hold O(n_samples * average
    neighbourhood size) int64 entries, as scikit-learn's do. Labels equal
    scikit-learn's: same core samples, clusters and numbering, and border
    points claimed by the lowest-numbered cluster that reaches them, up to
    rounding of distances within about ``eps(dtype) * |x|^2`` of ``eps``. The
    cosine distance is the squared distance of X's unit rows, made and centred
    in float64 and scaled by sqrt(1/2) (``gpucluster._distances.distance_rows``;
    1 - u.v cancels for rows far from the origin), searched in X's dtype; an X
    with a zero row keeps 1 - u.v.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster import DBSCAN
    >>> X = np.array([[1, 2], [2, 2], [2, 3], [8, 7], [8, 8], [25, 80]])
    >>> clustering = DBSCAN(eps=3, min_samples=2).fit(X)
    >>> clustering.labels_.tolist()
    [0, 0, 0, 1, 1, -1]
    >>> clustering.core_sample_indices_.tolist()
    [0, 1, 2, 3, 4]
    """

    def __init__(self, eps=0.5, *, min_samples=5, metric="euclidean", metric_params=None,
                 algorithm="auto", leaf_size=30, p=None, n_jobs=None, device="auto",
                 output_type="input"):
        self.eps = eps
        self.min_samples = min_samples
        self.metric = metric
        self.metric_params = metric_params
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.n_jobs = n_jobs
        self.device = device
        self.output_type = output_type

    def _check_params(self):
        check_scalar(self.eps, "eps", kind=numbers.Real, min_value=0.0, include_min=False)
        if self.eps != self.eps:
            raise ValueError(f"eps must be > 0.0, got {self.eps!r}.")
        check_scalar(self.min_samples, "min_samples", min_value=1)
        if not callable(self.metric):
            check_option(self.metric, "metric", ("precomputed", *_host_metrics()))
        check_option(self.algorithm, "algorithm", ALGORITHMS)
        check_scalar(self.leaf_size, "leaf_size", min_value=1)
        if self.p is not None:
            check_scalar(self.p, "p", kind=numbers.Real, min_value=0.0, include_min=False)
        if self.metric_params is not None and not isinstance(self.metric_params, dict):
            raise ValueError(f"metric_params must be a dict or None, got "
                             f"{self.metric_params!r}.")
        if self.algorithm == "knn_graph" and self._kernel_metric() in (None, "precomputed"):
            raise ValueError(f"algorithm='knn_graph' takes the metrics "
                             f"{sorted(KERNEL_METRICS)} (or minkowski with p=2), not "
                             f"metric={self.metric!r}.")
        if self.n_jobs is not None:
            check_scalar(self.n_jobs, "n_jobs")
        self._check_device_params()

    def _kernel_metric(self):
        """The kernels' name for the metric, "precomputed", or None: scikit-learn's
        neighbour search on the host serves it."""
        if callable(self.metric) or self.metric_params:
            return None
        if self.metric == "precomputed":
            return "precomputed"
        if self.metric == "minkowski" and self.p in (None, 2):
            return "euclidean"
        return KERNEL_METRICS.get(self.metric)

    def fit(self, X, y=None, sample_weight=None):
        """Perform DBSCAN clustering of X.

        Parameters
        ----------
        X : array of shape (n_samples, n_features), or (n_samples, n_samples) with "precomputed"
            NumPy, CuPy, torch (CPU or CUDA), any array-API array or a list; or a
            SciPy sparse matrix, on the host: sparse features go through
            scikit-learn's neighbour search, and with "precomputed" a sparse
            distance graph's stored entries are the only candidate neighbours
            (a row's missing diagonal counts as 0; an entry stored one way
            only links both rows, where scikit-learn's expansion follows it
            one way). Or a dask array: fitted on the client, the
            "knn_graph" neighbours found on the Dask cluster
            (:mod:`gpucluster.distributed.density`).
        y : ignored
        sample_weight : array of shape (n_samples,), default=None
            Weight of each sample: a point whose weight is at least
            ``min_samples`` is core by itself; negative weights are allowed
            and count against a neighbourhood, as in scikit-learn.

        Returns
        -------
        self : DBSCAN

        Raises
        ------
        ValueError
            eps <= 0, min_samples < 1, unknown metric or option, NaN or
            infinity in X, empty X, or a non-square X with "precomputed".
        """
        if distributed.is_dask_array(X):
            return distributed.density.fit(self, X, sample_weight=sample_weight)
        self._check_params()
        if is_sparse(X):
            return self._fit_sparse(X, sample_weight)

        def work(n_samples, n_features):
            return 2.0 * n_samples * n_samples * n_features

        X, _, like = self._prepare_input(X, None, reset=True, work=work)
        if self.metric == "precomputed" and X.shape[0] != X.shape[1]:
            raise ValueError(
                f"With metric='precomputed', X must be a square distance matrix, "
                f"got shape {tuple(X.shape)}."
            )
        sample_weight = _check_weights(sample_weight, X)
        xp = backend.namespace(X)
        device = backend.device(X)
        n = X.shape[0]
        counts_self = None
        # The cosine distance is searched among X's cosine rows (``distance_rows``).
        metric = self._kernel_metric()
        measured, metric = distance_rows(X, metric, cosine_mean(X, metric))
        measured = search_rows(measured, X)

        if self.algorithm == "knn_graph":
            if sample_weight is not None:
                raise ValueError("algorithm='knn_graph' does not take sample_weight; use an "
                                 "exact algorithm.")
            k = graph_neighbors(self.min_samples - 1, n)
            distances, graph = self._neighbour_graph(measured, k, metric)
            counts, rows, cols = graph_pairs(distances, graph, float(self.eps), xp)
            pair_blocks = _one_block(rows, cols)
        elif metric is None:
            counts, rows, cols = (backend.asarray_like(a, X)
                                  for a in _host_pairs(X, float(self.eps), self))
            pair_blocks = _one_block(rows, cols)
        else:
            counts, pair_blocks = neighbour_pairs(measured, float(self.eps), metric)
        if self.metric == "precomputed":
            # The diagonal holds each point's distance to itself; it counts
            # only when within eps, as in scikit-learn.
            counts_self = xp.take(xp.reshape(X, (-1,)), xp.arange(n, device=device) * (n + 1)) \
                <= self.eps
        labels, core_indices = self._labels(counts, pair_blocks, counts_self, sample_weight,
                                            xp, device)
        self.core_sample_indices_ = self._to_output(core_indices, like)
        self.components_ = self._to_output(core_rows(X, core_indices), like)
        self.labels_ = self._to_output(labels, like)
        self.n_features_in_ = int(X.shape[1])
        return self

    def _labels(self, counts, pair_blocks, counts_self, sample_weight, xp, device):
        """``(labels, core_indices)`` from the neighbour counts and pairs; ``counts_self``
        (bool (n,) or None: every row) says which rows count themselves."""
        n = counts.shape[0]
        weights = (xp.ones(n, dtype=xp.float64, device=device) if sample_weight is None
                   else sample_weight)
        if counts_self is not None:
            weights = xp.where(counts_self, weights, xp.zeros_like(weights))
        if sample_weight is None:
            n_neighbors = weights + xp.astype(counts, xp.float64)
        else:
            neighbour_weights = xp.zeros(n, dtype=xp.float64, device=device)
            for rows, cols in pair_blocks():
                neighbour_weights = backend.scatter_add_rows(
                    neighbour_weights, rows, xp.take(sample_weight, cols))
            n_neighbors = weights + neighbour_weights
        core = n_neighbors >= self.min_samples
        labels = dbscan_labels(pair_blocks(), core, xp, device)
        return labels, xp.astype(xp.nonzero(core)[0], xp.int64)

    def _fit_sparse(self, X, sample_weight):
        """DBSCAN of a SciPy sparse matrix, on the host: sparse features (through
        scikit-learn's neighbour search) or, with "precomputed", a sparse distance
        graph whose stored entries are the only candidate neighbours. Outputs are
        NumPy; ``components_`` stays sparse, as in scikit-learn."""
        if self.algorithm == "knn_graph":
            raise ValueError("algorithm='knn_graph' takes dense X; sparse input runs on an "
                             "exact algorithm.")
        X = check_sparse(X, estimator_name=type(self).__name__)
        n = X.shape[0]
        if self.metric == "precomputed":
            if X.shape[0] != X.shape[1]:
                raise ValueError(f"With metric='precomputed', X must be a square distance "
                                 f"matrix, got shape {tuple(X.shape)}.")
            counts, rows, cols, counts_self = _sparse_graph_pairs(X, float(self.eps))
        else:
            counts, rows, cols = _host_pairs(X, float(self.eps), self)
            counts_self = None
        weights = None if sample_weight is None else _check_weights(sample_weight,
                                                                    np.empty((n, 0)))
        labels, core_indices = self._labels(counts, _one_block(rows, cols), counts_self, weights,
                                            np, None)
        self.core_sample_indices_ = core_indices
        self.components_ = core_rows(X, core_indices)
        self.labels_ = labels
        self.n_features_in_ = int(X.shape[1])
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return ``labels_`` (int64, X's array type and device)."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.input_tags.sparse = True
        return tags


def dbscan(X, eps=0.5, *, min_samples=5, metric="minkowski", metric_params=None,
           algorithm="auto", leaf_size=30, p=2, sample_weight=None, n_jobs=None,
           device="auto", output_type="input"):
    """DBSCAN as a function, as scikit-learn's ``dbscan``: ``(core_samples, labels)``.

    The parameters are :class:`DBSCAN`'s (with scikit-learn's function
    defaults, metric "minkowski" with p=2: the Euclidean distance). Returns
    the core sample indices (n_core,) and the labels (n_samples,), int64,
    in X's array type (NumPy for sparse X).
    """
    est = DBSCAN(eps=eps, min_samples=min_samples, metric=metric, metric_params=metric_params,
                 algorithm=algorithm, leaf_size=leaf_size, p=p, n_jobs=n_jobs, device=device,
                 output_type=output_type)
    est.fit(X, sample_weight=sample_weight)
    return est.core_sample_indices_, est.labels_
