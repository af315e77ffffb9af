"""Mini-batch k-means: ``MiniBatchKMeans``, with ``partial_fit`` for data streamed in pieces.

The steps follow scikit-learn's ``MiniBatchKMeans``: per-centre learning
rates from accumulated weights, random reassignment of centres that receive
too little weight, and early stopping on an exponentially weighted average
of the batch inertia or on the squared centre shift.
"""

import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils import check_random_state

from .. import backend, distributed
from .._sparse import is_sparse
from .._validation import check_input, check_scalar
from .kmeans import (
    KMeans,
    check_kmeans_params,
    data_ops,
    far_offset,
    finish_centers,
    init_centroids,
    labels_and_distances,
    lloyd_pass,
    prepare_for_metric,
    prepare_init_array,
    take_rows,
    tolerance,
    weighted_sum,
)


def batch_cdf(sample_weight):
    """The cumulative distribution that batches are drawn from, computed once per fit (host float64).

    ``draw_batch(cdf, random_state, size)`` then gives exactly the rows
    ``random_state.choice(n, size, p=sample_weight / sample_weight.sum())``
    gives, from the same random stream: NumPy's ``choice`` builds this
    ``cumsum`` normalised by its last entry and searches it with
    ``random_sample(size)``. ``choice`` redoes that O(n) work and checks p at
    every call (881 ms per step at n=10M); a draw here costs
    O(size log n).
    """
    weights = backend.to_numpy(sample_weight).astype(np.float64)
    cdf = (weights / weights.sum()).cumsum()
    cdf /= cdf[-1]
    return cdf


def draw_batch(cdf, random_state, size):
    """``size`` row indices drawn with replacement from ``batch_cdf``'s distribution (int64 ndarray)."""
    return cdf.searchsorted(random_state.random_sample(size), side="right")


def shifted_init(init, offset):
    """A callable ``init`` that is given and returns rows in X's own coordinates, as
    scikit-learn's MiniBatchKMeans calls it, for a fit on rows shifted by ``offset``."""

    def shifted(X, n_clusters, random_state):
        centers = init(X + offset, n_clusters, random_state=random_state)
        centers = backend.asarray_like(check_input(centers, name="init"), X)
        return backend.namespace(X).astype(centers, X.dtype) - offset

    return shifted


def minibatch_step(X, sample_weight, centers, counts, *, metric, random_state,
                   random_reassign, reassignment_ratio, verbose=0):
    """One mini-batch update; X is the batch (dense or sparse), prepared for the metric.

    Each centre moves to the weighted mean of its old position (weighted by
    the weight it has seen so far, ``counts``) and the batch rows assigned to
    it. With ``random_reassign``, centres whose weight is below
    ``reassignment_ratio`` times the largest are moved to random batch rows.

    Returns ``(centers, counts, batch_inertia)``; counts are float64.
    """
    xp = backend.namespace(centers)
    _, distances, sums, batch_weights = lloyd_pass(X, centers, sample_weight, metric)
    inertia = weighted_sum(distances, sample_weight)
    new_counts = counts + batch_weights
    seen = batch_weights > 0
    safe = xp.where(seen, new_counts, xp.ones_like(new_counts))
    moved = (xp.astype(centers, xp.float64) * counts[:, None] + sums) / safe[:, None]
    centers = finish_centers(xp.where(seen[:, None], xp.astype(moved, X.dtype), centers), metric)
    counts = new_counts

    if random_reassign and reassignment_ratio > 0:
        counts_host = backend.to_numpy(counts)
        to_reassign = counts_host < reassignment_ratio * counts_host.max()
        # Move at most half a batch of centres at once.
        if to_reassign.sum() > 0.5 * X.shape[0]:
            to_reassign[np.argsort(counts_host, kind="stable")[int(0.5 * X.shape[0]):]] = False
        n_reassigns = int(to_reassign.sum())
        if n_reassigns:
            rows = random_state.choice(X.shape[0], replace=False, size=n_reassigns)
            if verbose:
                print(f"[MiniBatchKMeans] Reassigning {n_reassigns} cluster centers.")
            moved = take_rows(X, rows)
            for i, j in enumerate(np.flatnonzero(to_reassign).tolist()):
                centers[j, :] = moved[i, :]
            # Reassigned centres restart with the smallest weight among the
            # others rather than zero, so they are not reassigned at once.
            counts_host[to_reassign] = counts_host[~to_reassign].min()
            counts = backend.asarray_like(counts_host, counts)
    return centers, counts, inertia


class MiniBatchKMeans(KMeans):
    """Mini-batch k-means on the GPU or the CPU, a drop-in replacement for scikit-learn's.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "k-means||", "random"}, callable or array of shape (n_clusters, n_features), default="k-means++"
        Computed on a random subset of ``init_size`` rows.
    max_iter : int, default=100
        Passes over the data (in batches) before stopping.
    batch_size : int, default=1024
    verbose : int, default=0
    compute_labels : bool, default=True
        Compute ``labels_`` and ``inertia_`` on the whole data after fitting.
    random_state : int, RandomState instance or None, default=None
        Batches, initialisation and reassignment are drawn on the host.
    tol : float, default=0.0
        Stop when the squared centre shift of a step falls below ``tol``
        times the mean feature variance; 0 turns this off.
    max_no_improvement : int or None, default=10
        Stop after this many steps without improvement of the smoothed batch
        inertia; None turns this off.
    init_size : int or None, default=None
        Rows used for initialisation; ``3 * batch_size`` by default.
    n_init : "auto" or int, default="auto"
        Initialisations tried, each scored on the same random validation rows.
    reassignment_ratio : float, default=0.01
        Centres with less than this share of the largest weight are moved.
    metric : {"euclidean", "cosine"}, default="euclidean"
    device : {"auto", "cpu", "cuda"}, default="auto"
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"

    Attributes
    ----------
    cluster_centers_ : array of shape (n_clusters, n_features)
    labels_ : array of shape (n_samples,), int32 (when ``compute_labels``)
    inertia_ : float
    n_iter_ : int
        Passes over the data.
    n_steps_ : int
        Mini-batches processed.
    n_features_in_ : int

    Notes
    -----
    Each step costs O(batch_size * n_clusters * n_features) on the device
    holding X; only the batch indices and the small per-centre decisions are
    made on the host.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster import MiniBatchKMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 0], [4, 4],
    ...               [4, 5], [0, 1], [2, 2], [3, 2], [5, 5], [1, -1]])
    >>> km = MiniBatchKMeans(n_clusters=2, batch_size=6, random_state=0, n_init="auto")
    >>> km = km.partial_fit(X[:6]).partial_fit(X[6:])
    >>> km.cluster_centers_.shape
    (2, 2)
    """

    _default_n_init = 3

    def __init__(self, n_clusters=8, *, init="k-means++", max_iter=100, batch_size=1024,
                 verbose=0, compute_labels=True, random_state=None, tol=0.0,
                 max_no_improvement=10, init_size=None, n_init="auto",
                 reassignment_ratio=0.01, metric="euclidean", device="auto",
                 output_type="input"):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.metric = metric
        self.device = device
        self.output_type = output_type

    def _work(self, n_samples, n_features):
        return 2.0 * n_samples * n_features * self.n_clusters * min(self.max_iter, 20)

    def _check_params(self, X):
        """Validate parameters against X; returns (n_init, batch_size, init_size)."""
        n_init = check_kmeans_params(self, X)
        check_scalar(self.batch_size, "batch_size", min_value=1)
        check_scalar(self.reassignment_ratio, "reassignment_ratio", kind=numbers.Real, min_value=0)
        if self.max_no_improvement is not None:
            check_scalar(self.max_no_improvement, "max_no_improvement", min_value=0)
        batch_size = min(self.batch_size, X.shape[0])
        init_size = self.init_size
        if init_size is None:
            init_size = 3 * batch_size
            if init_size < self.n_clusters:
                init_size = 3 * self.n_clusters
        else:
            check_scalar(init_size, "init_size", min_value=1)
            if init_size < self.n_clusters:
                warnings.warn(
                    f"init_size={init_size} should be larger than n_clusters="
                    f"{self.n_clusters}. Setting it to min(3*n_clusters, n_samples)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                init_size = 3 * self.n_clusters
        return n_init, batch_size, min(init_size, X.shape[0])

    def _init_on_subset(self, X, sample_weight, init, init_size, random_state, offset=None):
        """Initial centres computed on ``init_size`` random rows, as scikit-learn does; the
        rows (and the centres) shifted by ``offset`` when it is given (see ``far_offset``)."""
        if init_size < X.shape[0]:
            rows = random_state.randint(0, X.shape[0], init_size)
            X = data_ops(X).rows(X, rows)
            sample_weight = backend.namespace(sample_weight).take(
                sample_weight, backend.asarray_like(rows, sample_weight), axis=0)
        if offset is not None:
            X = X - offset
            if callable(init):
                init = shifted_init(init, offset)
        return init_centroids(X, self.n_clusters, init, random_state, sample_weight, self.metric)

    def _random_reassign(self, batch_size):
        """Whether this step may reassign centres: an empty centre, or 10*k rows since the last time."""
        self._n_since_last_reassign += batch_size
        if bool(backend.namespace(self._counts).any(self._counts == 0)) or (
            self._n_since_last_reassign >= 10 * self.n_clusters
        ):
            self._n_since_last_reassign = 0
            return True
        return False

    def fit(self, X, y=None, sample_weight=None):
        """Compute the centres by mini-batch k-means over X.

        Parameters
        ----------
        X : array of shape (n_samples, n_features), or a SciPy / CuPy sparse
            matrix, which stays sparse (batches are its rows)
        y : ignored
        sample_weight : array of shape (n_samples,), default=None

        Returns
        -------
        self : MiniBatchKMeans
        """
        if distributed.is_dask_array(X):
            return distributed.minibatch.fit(self, X, sample_weight)
        X, sample_weight, like = self._prepare_data(X, sample_weight, reset=True)
        n_init, batch_size, init_size = self._check_params(X)
        xp = backend.namespace(sample_weight)
        device = backend.device(sample_weight)
        random_state = check_random_state(self.random_state)
        n_samples = X.shape[0]
        Xm = prepare_for_metric(X, self.metric)
        tol = tolerance(Xm, self.tol)

        # Every initialisation is scored on the same validation rows.
        valid = random_state.randint(0, n_samples, init_size)
        X_valid = data_ops(Xm).rows(Xm, valid)
        # Rows far from the origin are shifted, a batch at a time, by the mean of
        # these random rows (no pass over X, no copy of it).
        offset = None
        if self.metric == "euclidean" and not is_sparse(X):
            offset = far_offset(X_valid)
        if offset is not None:
            X_valid = X_valid - offset

        def rows_of(X, indices):
            rows = data_ops(X).rows(X, indices)
            return rows if offset is None else rows - offset

        init = self.init
        if not isinstance(init, str) and not callable(init):
            init = prepare_init_array(init, Xm, self.n_clusters, offset, self.metric)
        w_valid = xp.take(sample_weight, backend.asarray_like(valid, sample_weight), axis=0)
        best_inertia = None
        for _ in range(n_init):
            candidate = self._init_on_subset(Xm, sample_weight, init, init_size, random_state,
                                             offset)
            _, distances = labels_and_distances(X_valid, candidate, self.metric)
            inertia = weighted_sum(distances, w_valid)
            if best_inertia is None or inertia < best_inertia:
                centers, best_inertia = candidate, inertia

        self._counts = xp.zeros(self.n_clusters, dtype=xp.float64, device=device)
        self._n_since_last_reassign = 0
        ewa_inertia = ewa_inertia_min = None
        no_improvement = 0
        n_steps = (self.max_iter * n_samples) // batch_size
        # Batches are drawn in proportion to sample_weight and then carry
        # unit weights, as in scikit-learn, so weights are not counted twice.
        cdf = batch_cdf(sample_weight)
        unit_weights = xp.ones(batch_size, dtype=X.dtype, device=device)
        step = -1
        for step in range(n_steps):
            rows = draw_batch(cdf, random_state, batch_size)
            centers_old = centers
            centers, self._counts, batch_inertia = minibatch_step(
                rows_of(Xm, rows), unit_weights, centers,
                self._counts, metric=self.metric, random_state=random_state,
                random_reassign=self._random_reassign(batch_size),
                reassignment_ratio=self.reassignment_ratio, verbose=self.verbose,
            )
            # Convergence, as scikit-learn: skip the first step (its inertia
            # reflects the initialisation), smooth the per-row batch inertia.
            if step == 0:
                continue
            batch_inertia /= batch_size
            if ewa_inertia is None:
                ewa_inertia = batch_inertia
            else:
                alpha = min(1.0, batch_size * 2.0 / (n_samples + 1))
                ewa_inertia = ewa_inertia * (1 - alpha) + batch_inertia * alpha
            if self.verbose:
                print(f"Minibatch step {step + 1}/{n_steps}: mean batch inertia: "
                      f"{batch_inertia}, ewa inertia: {ewa_inertia}")
            if tol > 0.0:
                diff = xp.astype(centers - centers_old, xp.float64)
                if float(xp.sum(diff * diff)) <= tol:
                    if self.verbose:
                        print(f"Converged (small centers change) at step {step + 1}/{n_steps}")
                    break
            if ewa_inertia_min is None or ewa_inertia < ewa_inertia_min:
                no_improvement = 0
                ewa_inertia_min = ewa_inertia
            else:
                no_improvement += 1
            if self.max_no_improvement is not None and no_improvement >= self.max_no_improvement:
                if self.verbose:
                    print(f"Converged (lack of improvement in inertia) at step {step + 1}/{n_steps}")
                break

        if offset is not None:
            centers = centers + offset
        self._centers = centers
        self._random_state = random_state
        self.cluster_centers_ = self._to_output(centers, like)
        self.n_steps_ = step + 1
        self.n_iter_ = int(math.ceil((step + 1) * batch_size / n_samples))
        if self.compute_labels:
            labels, inertia = self._labels_inertia(X, sample_weight)
            self.labels_ = self._to_output(labels, like)
            self.inertia_ = float(inertia)
        else:
            self.inertia_ = float((ewa_inertia or 0.0) * n_samples)
        self.n_features_in_ = int(X.shape[1])
        self._n_init, self._init_size = n_init, init_size  # scikit-learn's names
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the centres with one mini-batch X (for data streamed in pieces).

        The first call initialises the centres from X, so it needs at least
        ``n_clusters`` rows. Later calls must have the same feature count.

        Returns
        -------
        self : MiniBatchKMeans
        """
        if distributed.is_dask_array(X):
            return distributed.minibatch.partial_fit(self, X, sample_weight)
        has_centers = hasattr(self, "_centers")
        X, sample_weight, like = self._prepare_data(X, sample_weight, reset=not has_centers)
        Xm = prepare_for_metric(X, self.metric)
        # A batch far from the origin is stepped shifted (see far_offset): by the mean
        # of the first batch, then by that of the centres.
        offset = None
        if self.metric == "euclidean" and not is_sparse(X):
            offset = far_offset(backend.asarray_like(self._centers, X) if has_centers else X)
        if not has_centers:
            self._n_init, _, init_size = self._check_params(X)
            self._init_size = init_size
            random_state = check_random_state(self.random_state)
            init = self.init
            if not isinstance(init, str) and not callable(init):
                init = prepare_init_array(init, Xm, self.n_clusters, offset, self.metric)
            centers = self._init_on_subset(Xm, sample_weight, init, init_size, random_state,
                                           offset)
            xp = backend.namespace(sample_weight)
            counts = xp.zeros(self.n_clusters, dtype=xp.float64,
                              device=backend.device(sample_weight))
            self._random_state = random_state
            self._n_since_last_reassign = 0
            self.n_steps_ = 0
        else:
            centers = backend.asarray_like(self._centers, sample_weight)
            counts = backend.asarray_like(self._counts, sample_weight)
            if offset is not None:
                centers = centers - offset
        if offset is not None:
            Xm = Xm - offset
        self._counts = counts
        centers, counts, _ = minibatch_step(
            Xm, sample_weight, centers, counts, metric=self.metric,
            random_state=self._random_state,
            random_reassign=self._random_reassign(X.shape[0]),
            reassignment_ratio=self.reassignment_ratio, verbose=self.verbose,
        )
        if offset is not None:
            centers = centers + offset
        self._centers = centers
        self._counts = counts
        self.cluster_centers_ = self._to_output(centers, like)
        if self.compute_labels:
            labels, inertia = self._labels_inertia(X, sample_weight)
            self.labels_ = self._to_output(labels, like)
            self.inertia_ = float(inertia)
        self.n_steps_ += 1
        self.n_features_in_ = int(X.shape[1])
        return self
