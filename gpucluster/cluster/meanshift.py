"""Mean shift with a flat kernel: ``MeanShift``, ``mean_shift``, ``estimate_bandwidth`` and
``get_bin_seeds``, scikit-learn's.

Every seed climbs to the mean of the samples within ``bandwidth`` of it
until it moves less than ``1e-3 * bandwidth`` (or ``max_iter`` runs out).
scikit-learn climbs one seed at a time with radius queries on a tree; here
all the seeds still moving climb together, one step per iteration: the
squared distances from a tile of seeds to every sample are one GEMM
(cuBLAS on the GPU), the neighbourhood sums one more (the 0/1 mask times
X), tiles sized by the memory budget, on X's device. Seeds that converged
leave the batch, so later iterations cost what the stragglers cost. A seed
with a sample within the GEMM's rounding of the radius (a bandwidth below
the data's scale, rows on a lattice) has its neighbourhood decided from the
differences, as a tree search decides it.

Then, as scikit-learn: the converged means of non-empty neighbourhoods,
each once, sorted by (neighbourhood size, mean) descending; a mean within
``bandwidth`` of a kept one is dropped (on the host: a few thousand
means); every sample joins its nearest centre (the ``assign`` kernel, or
the differences when two centres lie closer than its rounding).
"""

import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import _format as fmt
from .. import backend, kernels
from .._validation import check_input, check_scalar
from ._base import DeviceEstimatorMixin

# A seed has converged once its mean moves at most this share of the bandwidth.
STOP_SHARE = 1e-3
# scikit-learn's estimate_bandwidth queries 500 rows at a time; the knn kernel
# takes the rows in blocks sized by the memory budget instead.
NO_POINT_NEAR = ("No point was within bandwidth={:f} of any seed. Try a different seeding "
                 "strategy                              or increase the bandwidth.")


# --------------------------------------------------------------------------
# Bandwidth and seeds


def estimate_bandwidth(X, *, quantile=0.3, n_samples=None, random_state=0, n_jobs=None):
    """The mean distance of every sample to its ``int(n * quantile)``-th nearest sample
    (itself first), as scikit-learn's ``estimate_bandwidth``.

    Parameters
    ----------
    X : array (n_samples, n_features); NumPy, CuPy, torch, any array-API array or a list
    quantile : float in [0, 1], default=0.3
    n_samples : int >= 1 or None, default=None
        Use a random subsample of this many rows (drawn on the host with
        ``random_state``, as scikit-learn draws it).
    random_state : int, RandomState instance or None, default=0
    n_jobs : int or None
        Accepted for scikit-learn's signature; the work runs on X's device.

    Returns
    -------
    bandwidth : NumPy scalar of X's dtype (float32 or float64)

    Notes
    -----
    The neighbour search is the exact ``knn`` kernel on X's device, the
    queries in blocks sized by the memory budget: O(n^2 d) work.
    """
    check_scalar(quantile, "quantile", kind=numbers.Real, min_value=0, max_value=1)
    if n_samples is not None:
        check_scalar(n_samples, "n_samples", min_value=1)
    if n_jobs is not None:
        check_scalar(n_jobs, "n_jobs")
    X = check_input(X, estimator_name="estimate_bandwidth")
    bandwidth = _bandwidth(X, quantile, n_samples, check_random_state(random_state))
    return np.dtype(str(X.dtype).split(".")[-1]).type(bandwidth)


def _bandwidth(X, quantile, n_samples, random_state):
    xp = backend.namespace(X)
    if n_samples is not None:
        ids = random_state.permutation(X.shape[0])[:n_samples]
        X = xp.take(X, backend.asarray_like(ids, X), axis=0)
    n = X.shape[0]
    k = max(1, int(n * quantile))
    total = 0.0
    rows = backend.row_chunk_size(n, 16 * k + 8 * n, device=backend.device_of(X))
    for start in range(0, n, rows):
        distances, _ = kernels.knn(X, k, queries=X[start:start + rows, :], metric="euclidean")
        total += float(xp.sum(xp.astype(distances[:, k - 1], xp.float64)))
    return total / n


def get_bin_seeds(X, bin_size, min_bin_freq=1):
    """Seeds for mean shift from a grid of cell size ``bin_size`` (scikit-learn's function).

    Every sample falls in the cell ``round(x / bin_size)``; each cell holding
    at least ``min_bin_freq`` samples gives one seed, its grid point, in the
    order cells are first met, as float32 times ``bin_size``. When every
    sample is alone in its cell, X itself is returned, with a warning.

    Parameters
    ----------
    X : array (n_samples, n_features); any supported kind
    bin_size : float
    min_bin_freq : int, default=1

    Returns
    -------
    seeds : host NumPy array (n_seeds, n_features), or X itself
    """
    if bin_size == 0:
        return X
    host = np.asarray(backend.to_numpy(backend.coerce_array(X)))
    cells, first, counts = np.unique(np.round(host / bin_size) + 0.0, axis=0, return_index=True,
                                     return_counts=True)
    order = np.argsort(first, kind="stable")
    cells, counts = cells[order], counts[order]
    seeds = np.asarray(cells[counts >= min_bin_freq], dtype=np.float32)
    if len(seeds) == len(host):
        warnings.warn(f"Binning data failed with provided bin_size={bin_size:f}, using data "
                      "points as seeds.", stacklevel=2)
        return X
    return seeds * bin_size


# --------------------------------------------------------------------------
# Climbing


def neighbourhood_means(X, x_norms, means, radius_sq):
    """Mean and count of the rows of X within the radius of each of ``means``.

    X (n, d), ``means`` (m, d), float64, same namespace and device; ``x_norms``
    (n,) the squared row norms of X. Tiles of ``means`` sized by the memory
    budget; per tile two GEMMs, the squared distances and the masked sums.
    Returns ``(new_means (m, d) float64 (the old mean where the count is 0),
    counts (m,) int64)``.
    """
    xp = backend.namespace(X)
    m, n = means.shape[0], X.shape[0]
    device = backend.device(X)
    new_means = xp.empty(means.shape, dtype=xp.float64, device=device)
    counts = xp.empty(m, dtype=xp.int64, device=device)
    rows = backend.row_chunk_size(m, 3 * 8 * n, device=backend.device_of(X))

    # The GEMM's |x|^2 - 2 x.c + |c|^2 is off by at most rounding * (|x|^2 + |c|^2);
    # pairs nearer the radius than that are decided by their differences instead.
    rounding = 4 * (X.shape[1] + 2) * float(np.finfo(np.float64).eps)
    largest_x_norm = xp.max(x_norms)

    def step(start, stop):
        tile = means[start:stop, :]
        tile_norms = xp.sum(tile * tile, axis=1)
        distances = x_norms[None, :] - 2.0 * (tile @ X.T)
        distances += tile_norms[:, None]
        within = distances <= radius_sq
        edge = xp.abs(distances - radius_sq) <= rounding * (largest_x_norm + xp.max(tile_norms))
        del distances
        within = decide_edge_rows(X, tile, within, xp.any(edge, axis=1), radius_sq)
        within = xp.astype(within, xp.float64)
        count = xp.sum(within, axis=1)
        sums = within @ X
        nonempty = count > 0
        new_means[start:stop, :] = xp.where(
            nonempty[:, None], sums / xp.where(nonempty, count, 1.0)[:, None], tile)
        counts[start:stop] = xp.astype(count, xp.int64)

    backend.for_each_chunk(m, rows, step)
    return new_means, counts


def decide_edge_rows(X, tile, within, edge_rows, radius_sq):
    """``within`` with its rows marked in ``edge_rows`` recomputed from differences.

    A row of ``tile`` has a pair whose GEMM distance lies within rounding of
    the radius (a bandwidth below the data's scale, or rows on a lattice):
    its neighbourhood is then decided by ``sum((x - c)^2) <= radius_sq``, as
    a tree search decides it. X (n, d), tile (m, d) float64; ``within`` (m, n)
    bool; returns it, updated in place where the namespace allows."""
    xp = backend.namespace(X)
    for i in backend.to_numpy(xp.nonzero(edge_rows)[0]).tolist():
        difference = X - tile[i:i + 1, :]
        within[i, :] = xp.sum(difference * difference, axis=1) <= radius_sq
    return within


def climb(X, seeds, bandwidth, max_iter):
    """Shift every seed to its mode, all still-moving seeds together.

    Per seed, as scikit-learn's ``_mean_shift_single_seed``: an empty
    neighbourhood stops it (count 0, dropped later); otherwise it moves to
    the neighbourhood's mean and stops when it moved at most
    ``STOP_SHARE * bandwidth`` or after ``max_iter`` completed iterations.
    X and seeds are float64 in one namespace, centred alike.

    Returns ``(means (m, d), counts (m,) int64, n_iter)`` in the order seeds
    finished (the order does not matter to the result); ``n_iter`` is the
    largest number of completed iterations.
    """
    xp = backend.namespace(X)
    x_norms = xp.sum(X * X, axis=1)
    radius_sq = float(bandwidth) ** 2
    stop_sq = (STOP_SHARE * float(bandwidth)) ** 2
    means = seeds
    done_means, done_counts, n_iter, completed = [], [], 0, 0
    while means.shape[0]:
        new, counts = neighbourhood_means(X, x_norms, means, radius_sq)
        moved = new - means
        empty = counts == 0
        done = empty | (xp.sum(moved * moved, axis=1) <= stop_sq) | (completed == max_iter)
        done_means.append(new[done])
        done_counts.append(counts[done])
        n_iter = completed
        keep = xp.logical_not(done)
        means = new[keep]
        completed += 1
    return xp.concat(done_means, axis=0), xp.concat(done_counts), n_iter


def equal_row_counts(X, seeds):
    """Per seed, how many rows of X equal it: the neighbourhood sizes at bandwidth 0.

    X (n, d) and seeds (m, d) float64 NumPy; returns (m,) int64 (0 for a seed
    that is no row)."""
    rows, counts = np.unique(X, axis=0, return_counts=True)
    _, inverse = np.unique(np.concatenate([rows, seeds]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    per_distinct = np.zeros(rows.shape[0] + seeds.shape[0], dtype=np.int64)
    per_distinct[inverse[:rows.shape[0]]] = counts
    return per_distinct[inverse[rows.shape[0]:]]


def distinct_centers(means, counts, bandwidth):
    """scikit-learn's post-processing, on the host: the non-empty means, each once, sorted
    by (count, mean) descending; each kept centre removes the later ones within
    ``bandwidth`` of it. Returns the centres (k, d) float64."""
    means, counts = np.asarray(means, dtype=np.float64) + 0.0, np.asarray(counts)
    means, counts = means[counts > 0], counts[counts > 0]
    if means.shape[0] == 0:
        raise ValueError(NO_POINT_NEAR.format(bandwidth))
    # A dict keyed by the mean keeps each mean once, with its last count.
    _, last = np.unique(means[::-1], axis=0, return_index=True)
    last = means.shape[0] - 1 - last
    means, counts = means[last], counts[last]
    order = np.lexsort([means[:, j] for j in range(means.shape[1] - 1, -1, -1)] + [counts])
    centers = means[order[::-1]]
    unique = np.ones(centers.shape[0], dtype=bool)
    radius_sq = float(bandwidth) ** 2
    for i in range(centers.shape[0]):
        if unique[i]:
            diff = centers - centers[i]
            unique[np.einsum("ij,ij->i", diff, diff) <= radius_sq] = False
            unique[i] = True
    return centers[unique]


def assign_rounding(X, centers):
    """How far the ``assign`` kernel's squared distances may be off: centres closer
    than this (squared) cannot be told apart by it. X (n, d), centers (k, d), X's dtype."""
    xp = backend.namespace(X)
    eps = float(np.finfo(np.dtype(str(X.dtype).split(".")[-1])).eps)
    largest = float(xp.max(xp.sum(X * X, axis=1))) + float(xp.max(xp.sum(centers * centers, axis=1)))
    return 16 * (X.shape[1] + 2) * eps * largest


def nearest_by_differences(X, centers):
    """Index of the nearest of ``centers`` for each row of X, from ``sum((x - c)^2)``,
    one centre at a time (O(n k d), no GEMM rounding; the first of equal ones).
    X (n, d), centers (k, d) float64, one namespace; returns (n,) int64."""
    xp = backend.namespace(X)
    device = backend.device(X)
    best = xp.full(X.shape[0], xp.inf, dtype=xp.float64, device=device)
    labels = xp.zeros(X.shape[0], dtype=xp.int64, device=device)
    for j in range(centers.shape[0]):
        difference = X - centers[j:j + 1, :]
        distance = xp.sum(difference * difference, axis=1)
        closer = distance < best
        labels = xp.where(closer, j, labels)
        best = xp.where(closer, distance, best)
    return labels


# --------------------------------------------------------------------------
# The estimator and the function


def mean_shift(X, *, bandwidth=None, seeds=None, bin_seeding=False, min_bin_freq=1,
               cluster_all=True, max_iter=300, n_jobs=None):
    """Mean shift clustering with a flat kernel (scikit-learn's function).

    Returns ``(cluster_centers (k, n_features), labels (n_samples,) int32)``
    in X's array type and on its device; see :class:`MeanShift`.
    """
    model = MeanShift(bandwidth=bandwidth, seeds=seeds, bin_seeding=bin_seeding,
                      min_bin_freq=min_bin_freq, cluster_all=cluster_all, n_jobs=n_jobs,
                      max_iter=max_iter).fit(X)
    return model.cluster_centers_, model.labels_


class MeanShift(DeviceEstimatorMixin, ClusterMixin, BaseEstimator):
    """Mean shift clustering with a flat kernel on the GPU or the CPU, as scikit-learn's.

    Parameters
    ----------
    bandwidth : float > 0 or None, default=None
        Kernel radius; None estimates it with :func:`estimate_bandwidth`.
    seeds : array-like (n_seeds, n_features) or None, default=None
        Starting points; None takes X (or bins of X with ``bin_seeding``).
    bin_seeding : bool, default=False
        Seed from a grid of cell size ``bandwidth`` (:func:`get_bin_seeds`):
        far fewer seeds, the faster choice.
    min_bin_freq : int >= 1, default=1
        Fewest samples a cell needs to give a seed.
    cluster_all : bool, default=True
        False labels samples farther than ``bandwidth`` from every centre -1.
    n_jobs : int or None, default=None
        Accepted for scikit-learn's signature; the seeds climb together on X's device.
    max_iter : int >= 0, default=300
    device : {"auto", "cpu", "cuda"}, default="auto"
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"

    Attributes
    ----------
    cluster_centers_ : array (n_clusters, n_features), X's dtype
    labels_ : array (n_samples,), int32
    n_iter_ : int, the most iterations any seed completed
    n_features_in_ : int
        Array attributes have X's array type and device (see ``output_type``).

    Notes
    -----
    Each iteration costs O(m n d) for the m seeds still moving, as two GEMMs
    per tile of seeds on X's device, plus O(n^2 d) once for the bandwidth
    estimate when ``bandwidth`` is None.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster import MeanShift
    >>> X = np.array([[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]])
    >>> ms = MeanShift(bandwidth=2).fit(X)
    >>> ms.labels_.tolist()
    [1, 1, 1, 0, 0, 0]
    >>> ms.predict(np.array([[0, 0], [5, 5]])).tolist()
    [1, 0]
    """

    # Integer and bool X are averaged in float64, as scikit-learn's means are.
    _integers_as_float64 = True

    def __init__(self, *, bandwidth=None, seeds=None, bin_seeding=False, min_bin_freq=1,
                 cluster_all=True, n_jobs=None, max_iter=300, device="auto",
                 output_type="input"):
        self.bandwidth = bandwidth
        self.seeds = seeds
        self.bin_seeding = bin_seeding
        self.min_bin_freq = min_bin_freq
        self.cluster_all = cluster_all
        self.n_jobs = n_jobs
        self.max_iter = max_iter
        self.device = device
        self.output_type = output_type

    def _work(self, n_samples, n_features):
        """Estimated flops, for device="auto": a few all-pairs passes."""
        return 20.0 * n_samples * n_samples * n_features

    def _check_params(self):
        if self.bandwidth is not None:
            check_scalar(self.bandwidth, "bandwidth", kind=numbers.Real, min_value=0,
                         include_min=False)
        check_scalar(self.min_bin_freq, "min_bin_freq", min_value=1)
        check_scalar(self.max_iter, "max_iter", min_value=0)
        if self.n_jobs is not None:
            check_scalar(self.n_jobs, "n_jobs")
        for name in ("bin_seeding", "cluster_all"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}.")
        self._check_device_params()

    def _seeds(self, X, bandwidth):
        """The starting points, float64 in X's namespace and device."""
        xp = backend.namespace(X)
        seeds = self.seeds
        if seeds is None:
            seeds = get_bin_seeds(X, bandwidth, self.min_bin_freq) if self.bin_seeding else X
        seeds = check_input(seeds, name="seeds")
        if seeds.shape[1] != X.shape[1]:
            raise ValueError(f"seeds have {fmt.counted(seeds.shape[1], 'feature')} but X has "
                             f"{X.shape[1]}.")
        return xp.astype(backend.asarray_like(seeds, X), xp.float64)

    def fit(self, X, y=None):
        """Find the modes of X's density.

        Parameters
        ----------
        X : array (n_samples, n_features); NumPy, CuPy, torch, any array-API array or a list
        y : ignored

        Returns
        -------
        self : MeanShift
        """
        self._check_params()
        X, _, like = self._prepare_input(X, reset=True, work=self._work)
        xp = backend.namespace(X)
        bandwidth = self.bandwidth
        if bandwidth is None:
            # np.float64, as scikit-learn's estimate is: bin seeds are float32 cells times it.
            bandwidth = np.float64(_bandwidth(X, 0.3, None, check_random_state(0)))
        seeds = self._seeds(X, bandwidth)
        # Centred rows keep the GEMM's |x|^2 - 2 x.y + |y|^2 from cancelling.
        X64 = xp.astype(X, xp.float64)
        if float(bandwidth) == 0.0:
            # An estimate of 0 (the quantile's neighbour is a duplicate, or the row
            # itself): only equal rows lie within it, which the GEMM's rounding
            # cannot decide. Every seed stays where it is, as in scikit-learn.
            means = backend.to_numpy(seeds)
            counts, n_iter = equal_row_counts(backend.to_numpy(X64), means), 0
        else:
            shift = xp.mean(X64, axis=0)
            means, counts, n_iter = climb(X64 - shift, seeds - shift, bandwidth, self.max_iter)
            means, counts = backend.to_numpy(means + shift), backend.to_numpy(counts)
        centers = distinct_centers(means, counts, bandwidth)
        centers = xp.astype(backend.asarray_like(centers, X), X.dtype)
        if float(bandwidth) ** 2 > assign_rounding(X, centers):
            labels, _ = kernels.assign(X, centers)
        else:
            labels = nearest_by_differences(X64, xp.astype(centers, xp.float64))
        if not self.cluster_all:
            # From the differences, not the GEMM's distances: a radius near their
            # rounding (or 0) is decided as scikit-learn's tree search decides it.
            difference = X64 - xp.astype(xp.take(centers, labels, axis=0), xp.float64)
            within = xp.sum(difference * difference, axis=1) <= float(bandwidth) ** 2
            labels = xp.where(within, labels, -1)

        self.cluster_centers_ = self._to_output(centers, like)
        self.labels_ = self._to_output(xp.astype(labels, xp.int32), like)
        self.n_iter_ = int(n_iter)
        self.n_features_in_ = int(X.shape[1])
        return self

    def predict(self, X):
        """Index of the nearest centre for each row of X (the ``assign`` kernel).

        Returns
        -------
        labels : array (n_queries,), int32, X's array type and device
        """
        check_is_fitted(self)
        X, _, like = self._prepare_input(X, reset=False)
        xp = backend.namespace(X)
        centers = xp.astype(backend.asarray_like(self.cluster_centers_, X), X.dtype)
        return self._to_output(kernels.assign(X, centers)[0], like)

    def fit_predict(self, X, y=None):
        """Fit and return ``labels_``: (n_samples,) int32, X's array type and device."""
        return self.fit(X).labels_
