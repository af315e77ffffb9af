"""k-medoids clustering: ``KMedoids``, scikit-learn-extra's estimator with FasterPAM.

Two methods share the initialisations and the distances of
``_medoid_distances``:

- "alternate" (k-means style, as scikit-learn-extra's): assign every sample
  to its nearest medoid (the ``assign`` kernel for Euclidean and cosine),
  then make each cluster's medoid the member with the smallest sum of
  distances to the other members (the ``pairwise_sums`` kernel over the
  members, O(m) memory, or the stored matrix when "build" made one), until
  no medoid changes. One array-API implementation for every backend; on a
  GPU every step runs on the device.
- "pam": PAM's SWAP phase as FasterPAM (Schubert and Rousseeuw, 2021): eager
  swaps with O(k) bookkeeping of removal losses, the same swaps as the
  ``kmedoids`` package. Its loop is sequential and runs on the host, in
  compiled Numba code (``kernels.fasterpam_sweep``), over a host distance
  matrix when n^2 values fit the memory budget, else over blocks of
  distance rows computed on X's device for every pass.
"""

import warnings

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import _format as fmt
from .. import backend, kernels
from .._distances import has_zero_row, nonzero_unit_rows_mean, unit_rows_mean
from .._validation import check_option, check_scalar
from ._base import DeviceEstimatorMixin
from ._medoid_distances import (
    SampleDistances,
    build_medoids,
    distance_block,
    heuristic_medoids,
    kmedoids_plusplus,
    nearest_medoids,
    prepare_rows,
    zero_medoids_own,
)

METRICS = ("euclidean", "cosine", "manhattan", "precomputed")
# scikit-learn's other names for the same distances.
METRIC_ALIASES = {"l2": "euclidean", "l1": "manhattan", "cityblock": "manhattan"}
METHODS = ("alternate", "pam")
INITS = ("build", "heuristic", "k-medoids++", "random")
NOT_CONVERGED = ("Maximum number of iteration reached before convergence. Consider increasing "
                 "max_iter to improve the fit.")


# --------------------------------------------------------------------------
# Checks


def canonical_metric(metric):
    """The metric's name among ``METRICS`` (aliases resolved); ValueError for any other."""
    if isinstance(metric, str) and metric in METRIC_ALIASES:
        return METRIC_ALIASES[metric]
    return check_option(metric, "metric", METRICS)


def check_precomputed(X):
    """A precomputed distance matrix must be square and non-negative (scikit-learn's words)."""
    if X.shape[0] != X.shape[1]:
        raise ValueError(
            f"With metric='precomputed', X must be a square distance matrix, got shape "
            f"{tuple(X.shape)}."
        )
    if bool(backend.namespace(X).any(X < 0)):
        raise ValueError("Negative values in data passed to precomputed distance matrix.")


def check_init(init, X, n_clusters, metric):
    """``init`` as a name of ``INITS``, or as host int64 medoid indices.

    An array is either the (n_clusters,) indices of the initial medoids or,
    as in scikit-learn-extra, their (n_clusters, n_features) rows, each of
    which must be a row of X.
    """
    if isinstance(init, str):
        if init not in INITS:
            raise ValueError(
                f"init must be one of {INITS} or an array of medoid indices, got {init!r}."
            )
        return init
    try:
        values = backend.to_numpy(backend.coerce_array(init))
    except TypeError:
        raise TypeError(
            f"init must be one of {INITS} or an array of medoid indices, got {init!r}."
        ) from None
    n_samples = X.shape[0]
    if values.ndim == 2 and metric != "precomputed":
        values = _rows_in(values, X)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise ValueError(
            f"An array init must hold {n_clusters} integer medoid indices, got shape "
            f"{values.shape} and dtype {values.dtype}."
        )
    if values.shape[0] != n_clusters:
        raise ValueError(f"init has {values.shape[0]} medoids but n_clusters={n_clusters}.")
    if values.size and (values.min() < 0 or values.max() >= n_samples):
        raise ValueError(
            f"init medoid indices must lie in [0, {n_samples}), got {values.tolist()}."
        )
    if np.unique(values).shape[0] != values.shape[0]:
        raise ValueError(f"init medoid indices must be distinct, got {values.tolist()}.")
    return values.astype(np.int64)


def _rows_in(points, X):
    """Index in X of each of ``points`` (its first equal row); ValueError for a point not in X."""
    X_host = backend.to_numpy(X)
    if points.shape[1] != X_host.shape[1]:
        raise ValueError(
            f"init has {fmt.counted(points.shape[1], 'feature')} but X has {X_host.shape[1]}."
        )
    indices = []
    for i, point in enumerate(points):
        equal = np.flatnonzero((X_host == point.astype(X_host.dtype)).all(axis=1))
        if equal.size == 0:
            raise ValueError(
                f"Row {i} of init is not a row of X: initial medoids must be samples of X "
                "(or give their indices)."
            )
        indices.append(int(equal[0]))
    return np.asarray(indices, dtype=np.int64)


# --------------------------------------------------------------------------
# The two methods


def initial_medoids(source, n_clusters, init, random_state):
    """Initial medoids (host int64, (k,)): ``init``'s indices, or drawn by the named method."""
    if not isinstance(init, str):
        return init.copy()
    if init == "random":
        return random_state.choice(source.n, n_clusters, replace=False).astype(np.int64)
    if init == "heuristic":
        return heuristic_medoids(source, n_clusters)
    if init == "k-medoids++":
        return kmedoids_plusplus(source, n_clusters, random_state)
    return build_medoids(source, n_clusters)


def _clusters(labels, n_clusters):
    """Members of each cluster, in index order: a stable argsort of ``labels`` and the
    (k + 1,) host offsets of each cluster in it."""
    xp = backend.namespace(labels)
    order = xp.argsort(labels, stable=True)
    counts = backend.to_numpy(backend.bincount(labels, minlength=n_clusters))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return order, offsets


def update_medoids(source, labels, medoids):
    """Each cluster's medoid becomes its member of smallest distance sum to the others,
    when that sum is strictly smaller than the current medoid's (scikit-learn-extra's rule).

    Returns the new host int64 medoids; an empty cluster keeps its medoid, with a warning.
    """
    xp = source.xp
    order, offsets = _clusters(labels, medoids.shape[0])
    new = medoids.copy()
    for j in range(medoids.shape[0]):
        if offsets[j] == offsets[j + 1]:
            warnings.warn(
                f"Cluster {j} is empty! self.labels_[self.medoid_indices_[{j}]] may not be "
                f"labeled with its corresponding cluster ({j}).",
                stacklevel=4,
            )
            continue
        members = order[int(offsets[j]):int(offsets[j + 1])]
        costs = source.within_sums(members)
        best = int(xp.argmin(costs))
        current = xp.nonzero(members == int(medoids[j]))[0]
        current = int(current[0]) if current.shape[0] else 0
        if float(costs[best]) < float(costs[current]):
            new[j] = int(members[best])
    return new


def alternate(source, medoids, max_iter):
    """The alternating (k-means style) iterations from ``medoids``: returns (medoids, n_iter)."""
    for iteration in range(max_iter):
        new = update_medoids(source, source.labels(medoids), medoids)
        if np.array_equal(new, medoids):
            return medoids, iteration + 1
        medoids = new
    if max_iter > 0:
        warnings.warn(NOT_CONVERGED, ConvergenceWarning, stacklevel=3)
    return medoids, max_iter


def _best_single_medoid(source, medoids):
    """For k = 1: the sample of smallest total distance, if strictly better than the current."""
    xp = source.xp
    sums = source.row_sums()
    best = int(xp.argmin(sums))
    current = int(medoids[0])
    return np.asarray([best if float(sums[best]) < float(sums[current]) else current],
                      dtype=np.int64)


def fasterpam(source, medoids, max_iter):
    """FasterPAM's swap passes from ``medoids``, as the ``kmedoids`` package's ``fasterpam``.

    Each pass tries every sample once as a new medoid, in index order,
    starting where the last swap left off, and stops a full cycle after
    the last swap; passes end when one makes no swap or does not lower the
    loss. The sweep kernel runs on host blocks of distance rows
    (``source.block``). Returns (medoids, n_iter): host int64 and the number of passes.
    """
    n = source.n
    if medoids.shape[0] == 1 and max_iter > 0:
        return _best_single_medoid(source, medoids), 1
    medoids = np.ascontiguousarray(medoids, dtype=np.int64)
    medoid_distances = np.ascontiguousarray(
        backend.to_numpy(source.to_medoids(medoids)), dtype=np.float64)
    nearest, nearest_distances = kernels.medoid_assignment(medoid_distances, medoids)
    state = (medoids, medoid_distances, nearest, nearest_distances)
    loss = float(nearest_distances[:, 0].sum())
    block_rows = source.block_rows()
    last_swap, n_swaps, n_iter = n, 0, 0
    while n_iter < max_iter:
        n_iter += 1
        swaps_before, last_loss = n_swaps, loss
        start = 0
        while start < n and start != last_swap:
            stop = min(n, start + block_rows)
            if start < last_swap < stop:
                stop = last_swap  # the pass ends there unless a swap comes first
            rows = backend.to_numpy(source.block(start, stop))
            swapped = kernels.fasterpam_sweep(rows, start, *state)
            if swapped.shape[0]:
                n_swaps += int(swapped.shape[0])
                last_swap = int(swapped[-1])
                loss = float(nearest_distances[:, 0].sum())
            start = stop
        if n_swaps == swaps_before or loss >= last_loss:
            return medoids, n_iter
    if max_iter > 0:
        warnings.warn(NOT_CONVERGED, ConvergenceWarning, stacklevel=3)
    return medoids, n_iter


# --------------------------------------------------------------------------
# The estimator


class KMedoids(ClassNamePrefixFeaturesOutMixin, DeviceEstimatorMixin, ClusterMixin,
               TransformerMixin, BaseEstimator):
    """k-medoids clustering on the GPU or the CPU: scikit-learn-extra's ``KMedoids`` with FasterPAM.

    Every cluster is represented by one of its samples (its medoid), chosen to
    minimise the sum of distances from the samples to their nearest medoid,
    for any of the metrics below.

    Parameters
    ----------
    n_clusters : int, default=8
    metric : {"euclidean", "cosine", "manhattan", "precomputed"}, default="euclidean"
        "l2", "l1" and "cityblock" are accepted as scikit-learn's names.
        "precomputed" takes X as a square, symmetric, non-negative distance
        matrix (n_samples, n_samples).
    method : {"alternate", "pam"}, default="alternate"
        "alternate" alternates assignment and per-cluster medoid updates
        (fast, on X's device). "pam" is PAM's swap phase as FasterPAM
        (Schubert and Rousseeuw 2021): lower losses, O(n^2) per pass, on the
        host in Numba (see the module docstring).
    init : {"build", "heuristic", "k-medoids++", "random"} or array, default="build"
        "build" is PAM's greedy BUILD (O(k n^2)); "heuristic" takes the k
        samples of smallest total distance; "k-medoids++" is k-means++
        seeding on squared distances (O(k n), the choice for large n);
        "random" draws k distinct samples. An array gives the (n_clusters,)
        indices of the initial medoids or, as in scikit-learn-extra, their
        (n_clusters, n_features) rows, which must be rows of X.
    max_iter : int, default=300
        Most iterations ("alternate") or swap passes ("pam").
    random_state : int, RandomState instance or None, default=None
        Seeds "random" and "k-medoids++" (draws made on the host, so a seed
        gives the same medoids on every backend).
    device : {"auto", "cpu", "cuda"}, default="auto"
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"

    Attributes
    ----------
    cluster_centers_ : array (n_clusters, n_features) or None
        The medoids' rows of X (None with ``metric="precomputed"``, as in
        scikit-learn-extra).
    medoid_indices_ : array (n_clusters,), int64
    labels_ : array (n_samples,), int32, the nearest medoid of each sample
    inertia_ : float, sum of the distances of the samples to their nearest medoid
    n_iter_ : int, iterations or passes run
    n_features_in_ : int
        Array attributes have the array type and device of the X given to
        ``fit`` (see ``output_type``).

    Notes
    -----
    No (n_samples, n_samples) array is made unless ``metric="precomputed"``
    or it fits the memory budget (``gpucluster.set_config(memory_budget=...)``,
    else half the free memory) and a step reads it many times ("build",
    "pam"); otherwise distances are computed in blocks sized by the budget.
    "alternate" costs O(n^2 d / k) per iteration for balanced clusters;
    "build" O(k n^2) reads and "pam" O(n^2) reads per pass.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster import KMedoids
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 4], [4, 0]])
    >>> km = KMedoids(n_clusters=2, method="pam").fit(X)
    >>> sorted(km.cluster_centers_.tolist())
    [[1.0, 2.0], [4.0, 2.0]]
    >>> km.inertia_
    8.0
    """

    # Integer and bool X are measured in float64, as scikit-learn-extra's check_array does.
    _integers_as_float64 = True

    def __init__(self, n_clusters=8, metric="euclidean", method="alternate", init="build",
                 max_iter=300, random_state=None, *, device="auto", output_type="input"):
        self.n_clusters = n_clusters
        self.metric = metric
        self.method = method
        self.init = init
        self.max_iter = max_iter
        self.random_state = random_state
        self.device = device
        self.output_type = output_type

    def _work(self, n_samples, n_features):
        return 2.0 * n_samples * n_samples * n_features

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        return tags

    @property
    def _n_features_out(self):
        """Output width of ``transform``, for ``get_feature_names_out`` ("kmedoids0", ...)."""
        return int(self.medoid_indices_.shape[0])

    def _check_params(self, X):
        """Check the parameters against X; returns the canonical metric and init."""
        check_scalar(self.n_clusters, "n_clusters", min_value=1)
        check_scalar(self.max_iter, "max_iter", min_value=0)
        metric = canonical_metric(self.metric)
        check_option(self.method, "method", METHODS)
        self._check_device_params()
        if metric == "precomputed":
            check_precomputed(X)
        if X.shape[0] < self.n_clusters:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}.")
        return metric, check_init(self.init, X, self.n_clusters, metric)

    def fit(self, X, y=None):
        """Find the medoids of X.

        Parameters
        ----------
        X : array (n_samples, n_features), or (n_samples, n_samples) distances
            with ``metric="precomputed"``; NumPy, CuPy, torch, any array-API array or a list
        y : ignored

        Returns
        -------
        self : KMedoids
        """
        X, _, like = self._prepare_input(X, reset=True, work=self._work)
        metric, init = self._check_params(X)
        random_state = check_random_state(self.random_state)
        xp = backend.namespace(X)
        shift = xp.mean(X, axis=0) if metric == "euclidean" else None
        rows_metric = metric
        if metric == "cosine":
            shift = unit_rows_mean(X)
            rows_metric = "cosine_rows"
            if shift is None:  # X has a zero row
                shift = nonzero_unit_rows_mean(X)
                rows_metric = "cosine" if shift is None else "cosine_zero_rows"
        W = prepare_rows(X, rows_metric, shift)
        pam = self.method == "pam"
        store = pam or (isinstance(init, str) and init == "build")
        source = SampleDistances.for_fit(W, rows_metric, store, host=pam)
        medoids = initial_medoids(source, self.n_clusters, init, random_state)
        run = fasterpam if pam else alternate
        medoids, n_iter = run(source, medoids, self.max_iter)

        self._metric = rows_metric
        self._shift = shift
        ids = backend.asarray_like(medoids, X)
        self._medoid_rows = None if metric == "precomputed" else xp.take(W, ids, axis=0)
        # The medoids as "cosine_zero_rows" measures them, for an X with a zero row later.
        self._medoid_flagged = (prepare_rows(xp.take(X, ids, axis=0), "cosine_zero_rows", shift)
                                if rows_metric == "cosine_rows" else None)
        self.medoid_indices_ = self._to_output(ids, like)
        labels, distances = self._nearest(X, W)
        if rows_metric == "cosine_zero_rows":
            labels, distances = zero_medoids_own(W, medoids, labels, distances)
        self.cluster_centers_ = (
            None if metric == "precomputed" else self._to_output(xp.take(X, ids, axis=0), like)
        )
        self.labels_ = self._to_output(labels, like)
        self.inertia_ = float(xp.sum(xp.astype(distances, xp.float64)))
        self.n_iter_ = int(n_iter)
        self.n_features_in_ = int(X.shape[1])
        return self

    def _nearest(self, X, W=None):
        """Labels (int32) and distances to the nearest medoid of the rows of X (validated)."""
        xp = backend.namespace(X)
        if self._metric == "precomputed":
            D = xp.take(X, backend.asarray_like(self._medoid_ids(), X), axis=1)
            return xp.astype(xp.argmin(D, axis=1), xp.int32), xp.min(D, axis=1)
        metric, medoid_rows = self._rows_for(X)
        if W is None:
            W = prepare_rows(X, metric, self._shift)
        medoid_rows = xp.astype(backend.asarray_like(medoid_rows, W), W.dtype)
        return nearest_medoids(W, medoid_rows, metric)

    def _rows_for(self, X):
        """The metric and medoid rows for the rows of X: "cosine_zero_rows" for an X with a
        zero row, whose distance has no |u - v|^2 / 2 form, when the fit took "cosine_rows"
        (the other rows still measured from their centred unit rows, as in the fit)."""
        if self._metric == "cosine_rows" and has_zero_row(X):
            return "cosine_zero_rows", self._medoid_flagged
        return self._metric, self._medoid_rows

    def _medoid_ids(self):
        return np.asarray(backend.to_numpy(self.medoid_indices_), dtype=np.int64)

    def predict(self, X):
        """Index of the nearest medoid for each row of X.

        X is (n_queries, n_features), or with ``metric="precomputed"`` the
        distances (n_queries, n_samples_fit) to the samples ``fit`` saw.

        Returns
        -------
        labels : array (n_queries,), int32, X's array type and device
        """
        check_is_fitted(self)
        X, _, like = self._prepare_input(X, reset=False)
        return self._to_output(self._nearest(X)[0], like)

    def fit_predict(self, X, y=None):
        """Fit and return ``labels_``."""
        return self.fit(X).labels_

    def transform(self, X):
        """Distances (n_queries, n_clusters) from each row of X to every medoid, in X's dtype.

        With ``metric="precomputed"``, X holds the distances (n_queries,
        n_samples_fit) to the samples ``fit`` saw, and its medoid columns are returned.
        """
        check_is_fitted(self)
        X, _, like = self._prepare_input(X, reset=False)
        xp = backend.namespace(X)
        if self._metric == "precomputed":
            D = xp.take(X, backend.asarray_like(self._medoid_ids(), X), axis=1)
        else:
            metric, medoid_rows = self._rows_for(X)
            W = prepare_rows(X, metric, self._shift)
            medoid_rows = xp.astype(backend.asarray_like(medoid_rows, W), W.dtype)
            D = distance_block(W, medoid_rows, metric)
        return self._to_output(D, like)
