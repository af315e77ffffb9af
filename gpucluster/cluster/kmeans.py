"""K-means clustering: ``KMeans``, ``k_means`` and ``kmeans_plusplus``.

One array-API implementation for every backend; the hot steps are the
``assign`` and ``centroid_update`` kernels. The Lloyd loop follows
scikit-learn's ``_kmeans_single_lloyd``: strict convergence on unchanged
labels, then the shift tolerance, and a final E-step so that labels match the
returned centres. A subclass can watch every iteration by overriding
``KMeans._iteration_callback`` (the k-means animation records its frames so).
SciPy and CuPy sparse X stays sparse: the few operations applied to X itself
come from ``data_ops`` (the kernels for dense X, ``_sparse_kmeans`` for
sparse X), and the algorithm is the same code for both.
"""

import math
import numbers
import warnings
from types import SimpleNamespace

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

from .. import backend, distributed, kernels
from .._distances import normalize_rows, pairwise_distances, row_norms_sq
from .._sparse import is_sparse
from .._sparse_input import check_canonical_csr, prepare_sparse_input
from .._validation import check_finite, check_input, check_option, check_scalar
from . import _sparse_kmeans
from ._base import DeviceEstimatorMixin, integers_as_float64

METRICS = ("euclidean", "cosine")
INITS = ("k-means++", "k-means||", "random")
# k-means|| (Bahmani et al., "Scalable k-means++", 2012), as cuML's default
# init: rounds of sampling, and candidates drawn per round as a multiple of
# n_clusters (cuML's oversampling_factor default; the paper's experiments
# find 5 rounds enough).
KMEANS_PARALLEL_ROUNDS = 5
KMEANS_PARALLEL_OVERSAMPLING = 2.0
# The kernel metric each estimator metric runs on: cosine k-means works on
# unit rows and unit centres, where the nearest centre by cosine is the one
# with the largest inner product.
_KERNEL_METRIC = {"euclidean": "sqeuclidean", "cosine": "inner_product"}


# --------------------------------------------------------------------------
# What k-means does to X, for dense arrays and for sparse matrices


def _take(X, indices):
    return backend.namespace(X).take(X, backend.asarray_like(indices, X), axis=0)


# The operations k-means applies to X itself; everything else works on
# dense arrays (centres, labels, weights). ``_sparse_kmeans`` has the same
# names for SciPy and CuPy sparse matrices, so the Lloyd loop, the seeding
# and the mini-batch steps are one code for both (``data_ops``).
DENSE = SimpleNamespace(
    values=lambda X: X,            # the array that carries X's namespace, device and dtype
    row_width=lambda X: X.shape[1],  # values stored per row
    rows=_take,                    # rows at some indices, in X's own kind
    dense=lambda X: X,             # a few rows of X as a dense array
    column_mean=backend.column_mean,
    row_norms_sq=row_norms_sq,
    normalize_rows=normalize_rows,
    pairwise_distances=pairwise_distances,
    assign=kernels.assign,
    lloyd_step=kernels.lloyd_step,
    seeding_update=kernels.seeding_update,
    seeding_potentials=kernels.seeding_potentials,
)


# Rows per float64 chunk of ``weighted_sum``.
WEIGHTED_SUM_CHUNK = 1 << 20


def data_ops(X):
    """``DENSE``, or ``_sparse_kmeans`` (the same operations) for a sparse X."""
    return _sparse_kmeans if is_sparse(X) else DENSE


def check_data(X, *, min_samples=1, estimator_name=None):
    """X validated for k-means: a sparse matrix stays sparse (canonical CSR, float32 or
    float64); anything else goes through ``check_input`` with integers as float64."""
    if is_sparse(X):
        return check_canonical_csr(X, min_samples=min_samples, estimator_name=estimator_name)
    return check_input(integers_as_float64(X), min_samples=min_samples,
                       estimator_name=estimator_name)


def take_rows(X, indices):
    """Rows of X at ``indices`` as a dense array of X's dtype (for sparse X too)."""
    ops = data_ops(X)
    return ops.dense(ops.rows(X, indices))


# --------------------------------------------------------------------------
# Building blocks shared with MiniBatchKMeans


def labels_and_distances(X, centers, metric, x_sq_norms=None, *, with_distances=True):
    """Nearest centre of every row and the metric's distance to it (float64 for cosine is 1 - cos).

    ``X`` must already be prepared for the metric (unit rows for cosine);
    ``x_sq_norms`` are its squared row norms when the caller has them
    (``fit_norms``). Returns labels (int32) and distances (X's dtype,
    squared for euclidean; empty without ``with_distances``, for a caller
    that reads none).
    """
    labels, distances = data_ops(X).assign(X, centers, _KERNEL_METRIC[metric],
                                           x_sq_norms=x_sq_norms, with_distances=with_distances)
    if metric == "cosine":
        distances = 1.0 + distances  # negated inner product of unit vectors -> 1 - cos
    return labels, distances


def lloyd_pass(X, centers, sample_weight, metric, x_sq_norms=None, *, with_distances=True):
    """``labels_and_distances`` plus each centre's weighted row sums and weight (float64);
    the distances empty without ``with_distances``."""
    labels, distances, sums, weights = data_ops(X).lloyd_step(
        X, centers, sample_weight, _KERNEL_METRIC[metric], x_sq_norms=x_sq_norms,
        with_distances=with_distances,
    )
    if metric == "cosine" and with_distances:
        distances = 1.0 + distances
    return labels, distances, sums, weights


def fit_norms(X, metric):
    """Squared row norms of X (float64), computed once per fit; None for cosine, which needs none.

    The Lloyd iterations and the k-means++ seeding rebuild squared distances
    from them, so no iteration makes another pass over X for its norms.
    """
    return data_ops(X).row_norms_sq(X) if metric == "euclidean" else None


def weighted_sum(values, sample_weight):
    """sum(w * v) as a Python float, accumulated in float64.

    In chunks of ``WEIGHTED_SUM_CHUNK`` rows, each one float64 dot product: a
    whole-length float64 copy of 12M distances cost 0.23 s, mostly in fresh
    pages, against 0.01 s in chunks.
    """
    xp = backend.namespace(values)
    total = 0.0
    for start in range(0, values.shape[0], WEIGHTED_SUM_CHUNK):
        stop = min(start + WEIGHTED_SUM_CHUNK, values.shape[0])
        total += float(xp.astype(values[start:stop], xp.float64, copy=False)
                       @ xp.astype(sample_weight[start:stop], xp.float64, copy=False))
    return total


def prepare_for_metric(X, metric):
    """Unit rows for cosine (a sparse X stays sparse); X unchanged for euclidean."""
    return data_ops(X).normalize_rows(X) if metric == "cosine" else X


def finish_centers(centers, metric):
    """Project centres back onto the unit sphere for cosine k-means."""
    return normalize_rows(centers) if metric == "cosine" else centers


def relocate_empty_clusters(X, sample_weight, labels, centers, sums, weights):
    """Re-seed clusters with zero weight from the points farthest from their centres.

    As scikit-learn's ``_relocate_empty_clusters_dense``: the ``n_empty``
    points with the largest :math:`|x - c|^2` to the ``centers`` they were
    assigned to become the new centres, and each leaves the cluster it was
    in. The distances are taken directly (not from the kernel's norm
    expansion; a sparse X one dense chunk of rows at a time) and the points
    chosen by NumPy's ``argpartition`` as sklearn does, so that ties
    (duplicate points: every distance 0) fall on the same points and the
    iteration counts agree. When every point sits on its centre (more
    centres than distinct points), nothing moves, as in scikit-learn.
    Updates and returns ``(sums, weights)`` (float64).
    """
    xp = backend.namespace(centers)
    empty = xp.nonzero(weights == 0)[0]
    n_empty = int(empty.shape[0])
    if n_empty == 0:
        return sums, weights
    n_samples, n_features = X.shape
    dense = data_ops(X).dense
    distances = xp.empty(n_samples, dtype=X.dtype, device=backend.device(centers))
    # A chunk row holds the row made dense, the assigned centre and the difference.
    chunk = backend.row_chunk_size(n_samples, 3 * 8 * n_features,
                                   device=backend.device_of(centers))

    def step(start, stop):
        diff = dense(X[start:stop, :]) - xp.take(centers, labels[start:stop], axis=0)
        distances[start:stop] = xp.sum(diff * diff, axis=1)

    backend.for_each_chunk(n_samples, chunk, step)
    distances = backend.to_numpy(distances)
    if distances.max() == 0:
        return sums, weights
    far = np.argpartition(distances, -n_empty)[:-n_empty - 1:-1]
    w64 = xp.astype(sample_weight, xp.float64)
    for new_id, point in zip(backend.to_numpy(empty).tolist(), far.tolist()):
        old_id = int(labels[point])
        w = w64[point]
        row = xp.astype(take_rows(X, np.asarray([point]))[0, :], xp.float64) * w
        sums[old_id, :] -= row
        weights[old_id] -= w
        sums[new_id, :] = row
        weights[new_id] = w
    return sums, weights


def centers_from_sums(sums, weights, dtype):
    """Weighted means sums / weights in ``dtype``.

    A centre still without weight after relocation (only when every point
    sits on its centre: more centres than distinct points) moves onto the
    mean of the heaviest cluster, the first among equals, as scikit-learn's
    ``_average_centers`` places it; the centre shift, and so ``n_iter_``,
    then agree with scikit-learn's.
    """
    xp = backend.namespace(sums)
    safe = xp.where(weights > 0, weights, xp.ones_like(weights))
    means = xp.astype(sums / safe[:, None], dtype)
    heaviest = means[int(xp.argmax(weights)), :]
    return xp.where((weights > 0)[:, None], means, heaviest[None, :])


def kmeans_plusplus(X, n_clusters, *, sample_weight=None, x_squared_norms=None,
                    random_state=None, n_local_trials=None):
    """Greedy k-means++ seeding, as scikit-learn's.

    Parameters
    ----------
    X : array of shape (n_samples, n_features); NumPy, CuPy, torch or array-API,
        or a SciPy / CuPy sparse matrix (CSR, CSC or any format with ``tocsr``)
    n_clusters : int
    sample_weight : array of shape (n_samples,) or None
    x_squared_norms : array of shape (n_samples,) or None
        Squared row norms of X, computed here when None.
    random_state : int, RandomState instance or None
        Random draws are made on the host, so one seed gives the same
        centres on every backend (up to rounding).
    n_local_trials : int or None
        Candidates tried per centre; ``2 + int(log(n_clusters))`` by default.

    Returns
    -------
    centers : array of shape (n_clusters, n_features), X's type and device
        (float64 for integer or bool X); dense for sparse X (NumPy for
        SciPy, CuPy for cupyx), as in scikit-learn
    indices : ndarray of shape (n_clusters,), int64, rows of X chosen

    Raises
    ------
    ValueError
        When ``x_squared_norms`` is not 1-D, not of length n_samples, or not finite.

    Notes
    -----
    Each new centre costs one fused pass over X (``kernels.seeding_potentials``);
    extra memory is ``n_local_trials * n_samples`` values of X's dtype when
    ``n_local_trials <= n_features``, else a second pass over X replaces it.
    """
    X = check_data(X, min_samples=int(n_clusters))
    ops = data_ops(X)
    like = ops.values(X)
    xp = backend.namespace(like)
    n_samples, n_features = X.shape
    if x_squared_norms is not None:
        x_squared_norms = check_squared_norms(x_squared_norms, n_samples)
    random_state = check_random_state(random_state)
    unweighted = sample_weight is None
    sample_weight = (
        xp.ones(n_samples, dtype=xp.float64, device=backend.device(like))
        if sample_weight is None
        else xp.astype(backend.asarray_like(sample_weight, like), xp.float64)
    )
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    weights_host = backend.to_numpy(sample_weight).astype(np.float64)

    indices = np.full(n_clusters, -1, dtype=np.int64)
    indices[0] = random_state.choice(n_samples, p=weights_host / weights_host.sum())
    # Per new centre, one fused pass over X gives every candidate's potential
    # (no per-centre (n_local_trials, n_samples) temporaries). When those distances
    # take less memory than X, they are kept in one reused buffer and the
    # winner's row becomes the closest distances; otherwise a second pass over
    # X lowers them to the winner's.
    device = backend.device(like)
    x_sq = xp.astype(
        ops.row_norms_sq(X) if x_squared_norms is None
        else backend.asarray_like(x_squared_norms, like), X.dtype
    )
    kept = (
        xp.empty((n_local_trials, n_samples), dtype=X.dtype, device=device)
        if n_local_trials <= n_features else None
    )
    closest_dist_sq = xp.full(n_samples, xp.inf, dtype=X.dtype, device=device)
    first = int(indices[0])
    closest_dist_sq = ops.seeding_update(
        X, x_sq, take_rows(X, indices[:1])[0, :], closest_dist_sq, center_sq_norm=x_sq[first]
    )
    current_pot = float(xp.sum(xp.astype(closest_dist_sq, xp.float64) * sample_weight))
    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        cumulative = (
            xp.cumulative_sum(closest_dist_sq, dtype=xp.float64) if unweighted
            else xp.cumulative_sum(closest_dist_sq * sample_weight)  # promotes to float64
        )
        candidate_ids = xp.searchsorted(cumulative, backend.asarray_like(rand_vals, cumulative))
        candidate_ids = xp.minimum(candidate_ids, xp.asarray(n_samples - 1, dtype=candidate_ids.dtype))
        candidates = take_rows(X, candidate_ids)
        candidates_sq = xp.take(x_sq, candidate_ids)
        candidates_pot = backend.to_numpy(ops.seeding_potentials(
            X, x_sq, candidates, closest_dist_sq, sample_weight, out=kept,
            candidate_sq_norms=candidates_sq,
        ))
        best = int(np.argmin(candidates_pot))
        current_pot = float(candidates_pot[best])
        if kept is None:
            closest_dist_sq = ops.seeding_update(
                X, x_sq, candidates[best, :], closest_dist_sq, center_sq_norm=candidates_sq[best]
            )
        else:
            closest_dist_sq = xp.asarray(kept[best, :], copy=True)
        indices[c] = int(candidate_ids[best])
    return take_rows(X, indices), indices


def check_squared_norms(x_squared_norms, n_samples):
    """``x_squared_norms`` as an array: ``n_samples`` long, 1-D, finite (sklearn's messages).

    The length is checked first, as scikit-learn does, so a 2-D array of
    the wrong length gets the length message.
    """
    x_squared_norms = backend.coerce_array(x_squared_norms)
    if x_squared_norms.ndim == 0 or x_squared_norms.shape[0] != n_samples:
        length = x_squared_norms.shape[0] if x_squared_norms.ndim else 0
        raise ValueError(
            f"The length of x_squared_norms {length} should "
            f"be equal to the length of n_samples {n_samples}."
        )
    if x_squared_norms.ndim != 1:
        raise ValueError(
            f"x_squared_norms must be 1D: shape is {tuple(x_squared_norms.shape)}."
        )
    check_finite(x_squared_norms, "x_squared_norms")
    return x_squared_norms


def kmeans_parallel(X, n_clusters, *, sample_weight=None, x_squared_norms=None,
                    random_state=None, n_rounds=KMEANS_PARALLEL_ROUNDS,
                    oversampling_factor=KMEANS_PARALLEL_OVERSAMPLING):
    """k-means|| seeding: a few rounds of oversampling, then weighted k-means++ on the candidates.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), float32 or float64; NumPy, CuPy, torch or array-API
    n_clusters : int
    sample_weight : array of shape (n_samples,) or None
    x_squared_norms : array of shape (n_samples,) or None
        Squared row norms of X, computed by the distance kernel when None.
    random_state : int, RandomState instance or None
        Every draw is made on the host, so a seed gives the same centres on
        every backend (up to rounding).
    n_rounds : int
    oversampling_factor : float
        Rows drawn per round, as a multiple of ``n_clusters``.

    Returns
    -------
    centers : array of shape (n_clusters, n_features), X's type and device
    indices : ndarray of shape (n_clusters,), int64, rows of X chosen

    Notes
    -----
    The first candidate is a row drawn in proportion to ``sample_weight``.
    Each round draws ``oversampling_factor * n_clusters`` rows with
    replacement in proportion to :math:`w_i D_i^2` (:math:`D_i` the distance
    to the nearest candidate so far), keeps the new distinct ones, and lowers
    :math:`D` with one pass of the ``assign`` kernel (a GEMM against the new
    candidates). The paper draws each row independently with probability
    :math:`\\min(1, \\ell w_i D_i^2 / \\phi)`; drawing a fixed count from the
    same distribution gives the same expected sample where that probability
    is small, and needs host random numbers for the draws only, not for
    every row. Each candidate is then weighted by the rows (times their
    weights) nearest to it, and greedy k-means++ on the weighted candidates
    picks the centres. The cost is ``n_rounds`` passes over X, each a GEMM
    against about ``oversampling_factor * n_clusters`` rows, against
    ``n_clusters`` sequential passes for k-means++, which is why cuML makes
    it its default for large data. With fewer distinct candidates than
    ``n_clusters`` (data with few distinct rows) it falls back to k-means++.
    """
    X = check_data(X, min_samples=int(n_clusters))
    assign = data_ops(X).assign
    like = data_ops(X).values(X)
    xp = backend.namespace(like)
    n_samples = X.shape[0]
    random_state = check_random_state(random_state)
    weights = (
        xp.ones(n_samples, dtype=xp.float64, device=backend.device(like))
        if sample_weight is None
        else xp.astype(backend.asarray_like(sample_weight, like), xp.float64)
    )
    x_sq = None if x_squared_norms is None else backend.asarray_like(x_squared_norms, like)
    weights_host = backend.to_numpy(weights)
    chosen = [int(random_state.choice(n_samples, p=weights_host / weights_host.sum()))]
    nearest, closest_sq = assign(X, take_rows(X, np.asarray(chosen)), x_sq_norms=x_sq)
    n_draws = max(1, int(math.ceil(oversampling_factor * n_clusters)))
    for _ in range(n_rounds):
        cumulative = xp.cumulative_sum(xp.astype(closest_sq, xp.float64) * weights)
        potential = float(cumulative[-1])
        if potential <= 0.0:
            break  # every row sits on a candidate
        draws = backend.asarray_like(random_state.uniform(size=n_draws) * potential, cumulative)
        ids = xp.minimum(xp.searchsorted(cumulative, draws),
                         xp.asarray(n_samples - 1, dtype=xp.int64, device=backend.device(like)))
        new = np.setdiff1d(backend.to_numpy(ids).astype(np.int64), chosen)
        if new.shape[0] == 0:
            continue
        labels, sq = assign(X, take_rows(X, new), x_sq_norms=x_sq)
        closer = sq < closest_sq
        nearest = xp.where(closer, labels + len(chosen), nearest)
        closest_sq = xp.where(closer, sq, closest_sq)
        chosen.extend(new.tolist())
    if len(chosen) < n_clusters:
        return kmeans_plusplus(X, n_clusters, sample_weight=sample_weight,
                               x_squared_norms=x_squared_norms, random_state=random_state)
    chosen = np.asarray(chosen, dtype=np.int64)
    candidates = take_rows(X, chosen)
    candidate_weights = backend.bincount(nearest, weights=weights, minlength=chosen.shape[0])
    centers, picked = kmeans_plusplus(candidates, n_clusters, sample_weight=candidate_weights,
                                      random_state=random_state)
    return centers, chosen[picked]


def init_centroids(X, n_clusters, init, random_state, sample_weight, metric, x_sq_norms=None):
    """Initial centres in X's namespace: "k-means++", "k-means||", "random", an array or a callable.

    X is already prepared for the metric (centred for euclidean, unit rows
    for cosine), and so is an array ``init`` (by the caller); ``x_sq_norms``
    are its squared row norms when the caller has them. The centres are
    dense arrays in the namespace of X's values, whether X is dense or sparse.
    """
    like = data_ops(X).values(X)
    xp = backend.namespace(like)
    n_samples = X.shape[0]
    if isinstance(init, str) and init == "k-means++":
        centers, _ = kmeans_plusplus(
            X, n_clusters, sample_weight=sample_weight, random_state=random_state,
            x_squared_norms=x_sq_norms,
        )
    elif isinstance(init, str) and init == "k-means||":
        centers, _ = kmeans_parallel(
            X, n_clusters, sample_weight=sample_weight, random_state=random_state,
            x_squared_norms=x_sq_norms,
        )
    elif isinstance(init, str) and init == "random":
        weights = backend.to_numpy(sample_weight).astype(np.float64)
        seeds = random_state.choice(
            n_samples, size=n_clusters, replace=False, p=weights / weights.sum()
        )
        centers = take_rows(X, seeds)
    elif callable(init):
        centers = init(X, n_clusters, random_state=random_state)
        centers = xp.astype(backend.asarray_like(check_input(centers, name="init"), like), X.dtype)
        validate_center_shape(centers, n_clusters, X.shape[1])
    else:
        centers = init
    return finish_centers(centers, metric)


def validate_center_shape(centers, n_clusters, n_features):
    """Raise ValueError unless the initial centres have shape (n_clusters, n_features)."""
    if centers.shape[0] != n_clusters:
        raise ValueError(
            f"The shape of the initial centers {tuple(centers.shape)} does not match "
            f"the number of clusters {n_clusters}."
        )
    if centers.shape[1] != n_features:
        raise ValueError(
            f"The shape of the initial centers {tuple(centers.shape)} does not match "
            f"the number of features of the data {n_features}."
        )


def same_labels(labels, labels_old, weights, weights_old):
    """Whether two iterations' labels are equal; their clusters' total weights first.

    Equal labels give equal weights up to the rounding of their sums, so
    weights further apart than that prove the labels differ without the
    comparison of every label (0.25 s of a 2.45 s fit at 12M rows, k=8).
    """
    xp = backend.namespace(labels)
    gap = float(xp.max(xp.abs(weights - weights_old)))
    if gap > 1e-9 * float(xp.sum(xp.abs(weights))):
        return False
    return bool(xp.all(labels == labels_old))


def kmeans_single_lloyd(X, sample_weight, centers, *, max_iter, tol, metric, verbose=0,
                        callback=None, x_sq_norms=None):
    """One run of Lloyd's algorithm from ``centers``.

    Parameters
    ----------
    X : array or sparse matrix of shape (n_samples, n_features), prepared for ``metric``
    sample_weight : array of shape (n_samples,), float64, X's namespace
    centers : array of shape (n_clusters, n_features), X's namespace and dtype (dense)
    max_iter : int
    tol : float
        Absolute tolerance on the squared centre shift.
    metric : {"euclidean", "cosine"}
    verbose : int
    callback : callable or None, keyword-only
        Called after every iteration as
        ``callback(iteration, labels, centers, inertia)``: ``iteration``
        counts from 0; ``labels`` (int32) is that iteration's assignment, to
        the centres it started from; ``centers`` are the centres after its
        update (empty clusters relocated, as the returned centres are);
        ``inertia`` is the weighted sum of distances of that assignment (a
        Python float). The arrays are in X's namespace and must not be
        modified. It is called ``n_iter`` times, and the last ``centers`` are
        the returned ones.
    x_sq_norms : array of shape (n_samples,), float64, or None, keyword-only
        Squared row norms of X (``fit_norms``), computed once by the caller.

    Returns
    -------
    labels : array of shape (n_samples,), int32, X's namespace
    inertia : float
        Weighted sum of squared distances, or of cosine distances.
    centers : array of shape (n_clusters, n_features)
    n_iter : int
    """
    xp = backend.namespace(centers)
    labels_old = label_weights_old = None
    strict_convergence = False
    # The passes write distances only for a reader (a third of a pass at d=5, k=8).
    with_distances = bool(verbose) or callback is not None
    for i in range(max_iter):
        labels, distances, sums, weights = lloyd_pass(X, centers, sample_weight, metric,
                                                      x_sq_norms, with_distances=with_distances)
        label_weights = xp.asarray(weights, copy=True)  # before any relocation changes them
        sums, weights = relocate_empty_clusters(X, sample_weight, labels, centers, sums, weights)
        centers_new = finish_centers(centers_from_sums(sums, weights, X.dtype), metric)
        if verbose or callback is not None:
            inertia = weighted_sum(distances, sample_weight)
        if verbose:
            print(f"Iteration {i}, inertia {inertia}.")
        if callback is not None:
            callback(i, labels, centers_new, inertia)
        if labels_old is not None and same_labels(labels, labels_old, label_weights,
                                                  label_weights_old):
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            strict_convergence = True
            centers = centers_new
            break
        diff = xp.astype(centers_new - centers, xp.float64)
        center_shift_tot = float(xp.sum(diff * diff))
        centers = centers_new
        if center_shift_tot <= tol:
            if verbose:
                print(
                    f"Converged at iteration {i}: center shift {center_shift_tot} "
                    f"within tolerance {tol}."
                )
            break
        labels_old = labels
        label_weights_old = label_weights
    if not (strict_convergence and with_distances):
        # Rerun the E-step so that the labels match the returned centres (after a strict
        # convergence they already do, and the pass without distances needs theirs).
        labels, distances = labels_and_distances(X, centers, metric, x_sq_norms)
    return labels, weighted_sum(distances, sample_weight), centers, i + 1


def inertia_from_differences(X, centers, labels, sample_weight):
    """sum_i w_i |x_i - c_(l_i)|^2 from the differences, in float64 row chunks (dense X).

    The distances the kernels return come from |x|^2 - 2 x.c + |c|^2, whose
    rounding grows with |x|^2: float32 rows at an offset of 1e6 gave a score of
    -76,654 for a true -1.77. ``sample_weight`` (n,) or None; a Python float."""
    xp = backend.namespace(X)
    n = X.shape[0]
    total = [0.0]

    def add(start, stop):
        difference = xp.astype(X[start:stop, :], xp.float64) - xp.astype(
            xp.take(centers, xp.astype(labels[start:stop], xp.int64), axis=0), xp.float64)
        squared = xp.sum(difference * difference, axis=1)
        if sample_weight is not None:
            squared = squared * xp.astype(sample_weight[start:stop], xp.float64)
        total[0] += float(xp.sum(squared))

    rows = backend.row_chunk_size(n, 24 * X.shape[1], device=backend.device_of(X))
    backend.for_each_chunk(n, rows, add)
    return total[0]


def nearest_centers(X, centers, metric, *, with_distances=True):
    """``(labels, distances, Xm, centers)``: each row's nearest centre and its distance, with
    X and ``centers`` (X's namespace, already prepared for the metric) as compared.

    As fit does, rows far from the origin against the centres' spread are centred
    first (euclidean, dense X), or the GEMM's rounding picks the wrong centre
    (float32 rows at an offset of 1e6). Without ``with_distances`` the distances
    are empty (``labels_and_distances``).
    """
    Xm = prepare_for_metric(X, metric)
    shift = far_offset(centers) if metric == "euclidean" and not is_sparse(X) else None
    if shift is not None:
        Xm, centers = Xm - shift, centers - shift
    labels, distances = labels_and_distances(Xm, centers, metric,
                                             with_distances=with_distances)
    return labels, distances, Xm, centers


def labels_and_inertia(X, centers, metric, sample_weight):
    """Each row's nearest centre (``nearest_centers``) and the weighted inertia, a Python
    float: from the differences to the assigned centres for dense euclidean X (whose
    kernel distances are then not asked for)."""
    from_differences = metric == "euclidean" and not is_sparse(X)
    labels, distances, Xm, centers = nearest_centers(X, centers, metric,
                                                     with_distances=not from_differences)
    if from_differences:
        return labels, inertia_from_differences(Xm, centers, labels, sample_weight)
    return labels, weighted_sum(distances, sample_weight)


def mean_and_spread(X, sq_norms=None):
    """Column means of X and its total variance :math:`E|x - m|^2` (a Python float).

    Uses :math:`E|x|^2 - |m|^2` from the squared row norms (``sq_norms``, float64,
    when the caller has them), so no copy of X is made (and a sparse X stays
    sparse).
    """
    ops = data_ops(X)
    xp = backend.namespace(ops.values(X))
    mean = ops.column_mean(X)
    mean_sq = float(xp.vecdot(mean, mean))
    if sq_norms is None:
        sq_norms = ops.row_norms_sq(X)
    total_variance = max(float(xp.mean(sq_norms)) - mean_sq, 0.0)
    return mean, mean_sq, total_variance


def centred_spread(X, mean):
    """The total variance :math:`E|x - m|^2` of a dense X from the differences, in float64
    row chunks: where the mean is large against the spread, :math:`E|x|^2 - |m|^2`
    cancels (float32 rows at 1e6 + 0.1 noise gave 157,286 for 0.447)."""
    xp = backend.namespace(X)
    n = X.shape[0]
    total = [0.0]

    def add(start, stop):
        difference = xp.astype(X[start:stop, :], xp.float64) - mean
        total[0] += float(xp.sum(difference * difference))

    rows = backend.row_chunk_size(n, 16 * X.shape[1], device=backend.device_of(X))
    backend.for_each_chunk(n, rows, add)
    return total[0] / n


def total_variance(X, sq_norms=None):
    """``mean_and_spread``, its variance taken from the differences when the mean is
    larger than the spread (dense X; a sparse X keeps the norms' formula)."""
    mean, mean_sq, spread = mean_and_spread(X, sq_norms)
    if mean_sq > spread and not is_sparse(X):
        spread = centred_spread(X, mean)
    return mean, mean_sq, spread


def far_offset(rows):
    """The column means of the dense ``rows`` when they are larger than their spread
    (:math:`|m|^2 > E|x - m|^2`), else None: the shift that keeps the rounding of
    :math:`|x|^2 - 2 x.c + |c|^2` small (float32 rows at an offset of 1e6 were assigned
    to centres at random). ``rows`` are a sample of the data or the centres, so the
    decision costs no pass over X.
    """
    mean, mean_sq, spread = total_variance(rows)
    return mean if mean_sq > spread else None


def tolerance(X, tol):
    """scikit-learn's tolerance: ``tol`` times the mean per-feature variance of X."""
    if tol == 0:
        return 0.0
    return total_variance(X)[2] / X.shape[1] * tol


def is_same_clustering(labels1, labels2, n_clusters):
    """True when every cluster of ``labels1`` lies within one cluster of ``labels2``.

    Labels are in [0, n_clusters); for two labelings with the same number of
    clusters this is the same partition up to a permutation of ids. Computed
    on the labels' device: one sort of the pairs ``labels1 * k + labels2``,
    after which a cluster of ``labels1`` that meets two of ``labels2`` shows
    as two different neighbouring keys with the same ``labels1``.
    """
    xp = backend.namespace(labels1)
    keys = xp.sort(xp.astype(labels1, xp.int64) * n_clusters + xp.astype(labels2, xp.int64))
    first = keys // n_clusters
    split = (first[1:] == first[:-1]) & (keys[1:] != keys[:-1])
    return not bool(xp.any(split))


def center_distances(X, centers, metric):
    """Distances (n_samples, n_clusters) from the rows of X to the centres, in X's dtype.

    Computed in row chunks (each in float64, sized from the memory budget or
    free device memory) written into one array of X's dtype, so no
    (n_samples, n_clusters) float64 matrix is ever made.
    """
    xp = backend.namespace(centers)
    distances = data_ops(X).pairwise_distances
    n, k = X.shape[0], centers.shape[0]
    out = xp.empty((n, k), dtype=X.dtype, device=backend.device(centers))
    # A chunk row holds the float64 products, distances and their cast.
    chunk = backend.row_chunk_size(n, 3 * 8 * k + 8 * data_ops(X).row_width(X),
                                   device=backend.device_of(centers))

    def step(start, stop):
        out[start:stop, :] = distances(X[start:stop, :], centers, metric)

    backend.for_each_chunk(n, chunk, step)
    return out


def check_kmeans_params(est, X):
    """Validation shared by KMeans and MiniBatchKMeans; returns the effective n_init."""
    check_scalar(est.n_clusters, "n_clusters", min_value=1)
    check_scalar(est.max_iter, "max_iter", min_value=1)
    check_scalar(est.tol, "tol", kind=numbers.Real, min_value=0)
    check_option(est.metric, "metric", METRICS)
    est._check_device_params()
    if X.shape[0] < est.n_clusters:
        raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={est.n_clusters}.")
    init = est.init
    if isinstance(init, str):
        check_option(init, "init", INITS)
    elif not callable(init):
        if backend.array_kind(backend.coerce_array(init)) == "other":
            raise TypeError(
                f"init must be 'k-means++', 'k-means||', 'random', an array or a callable, "
                f"got {init!r}."
            )
    if isinstance(est.n_init, str):
        check_option(est.n_init, "n_init", ("auto",))
        # As scikit-learn: several runs for the random inits (a callable may
        # draw too), one for k-means++, k-means|| and explicit centres.
        randomised = callable(init) or (isinstance(init, str) and init == "random")
        n_init = est._default_n_init if randomised else 1
    else:
        n_init = check_scalar(est.n_init, "n_init", min_value=1)
    if not isinstance(init, str) and not callable(init) and n_init != 1:
        warnings.warn(
            f"Explicit initial center position passed: performing only one init in "
            f"{type(est).__name__} instead of n_init={n_init}.",
            RuntimeWarning,
            stacklevel=3,
        )
        n_init = 1
    return n_init


def prepare_init_array(init, X, n_clusters, offset, metric):
    """An array ``init`` where X's values live, shifted like X (centred), shape checked."""
    like = data_ops(X).values(X)
    centers = check_input(init, name="init")
    centers = backend.namespace(like).astype(backend.asarray_like(centers, like), X.dtype)
    validate_center_shape(centers, n_clusters, X.shape[1])
    if offset is not None:
        centers = centers - offset
    return prepare_for_metric(centers, metric)


class KMeans(ClassNamePrefixFeaturesOutMixin, DeviceEstimatorMixin, ClusterMixin,
             TransformerMixin, BaseEstimator):
    """K-means clustering on the GPU or the CPU, a drop-in replacement for scikit-learn's.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters and centres.
    init : {"k-means++", "k-means||", "random"}, callable or array of shape (n_clusters, n_features), default="k-means++"
        "k-means++" is scikit-learn's greedy k-means++; "k-means||" is
        scalable k-means++ (:func:`kmeans_parallel`; cuML's default), a few
        passes over X instead of one per centre, for 10^7 rows and more;
        "random" picks rows
        (weighted by ``sample_weight``); a callable is called as
        ``init(X, n_clusters, random_state=random_state)``.
    n_init : "auto" or int, default="auto"
        Runs from different seeds; the lowest inertia wins. "auto" is 1 for
        k-means++, k-means|| and explicit centres, 10 for "random".
    max_iter : int, default=300
        Most Lloyd iterations per run.
    tol : float, default=1e-4
        Convergence tolerance on the squared centre shift, relative to the
        mean per-feature variance of X.
    verbose : int, default=0
    random_state : int, RandomState instance or None, default=None
        Seeds every random choice; draws are made on the host, so a seed gives
        the same initialisation on the CPU and the GPU.
    copy_x : bool, default=True
        Accepted for compatibility: X is never modified in any case.
    algorithm : {"lloyd", "elkan"}, default="lloyd"
        Both run Lloyd's iterations (Elkan's bounds give the same result and do
        not pay on GPUs).
    metric : {"euclidean", "cosine"}, default="euclidean"
        "cosine" is spherical k-means: rows and centres are unit vectors, and
        ``inertia_`` sums the cosine distances.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to compute; "auto" uses a GPU for data already on one, or for
        host data when the work is large enough.
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"
        The array type of fitted attributes and results; "input" mirrors X.

    Attributes
    ----------
    cluster_centers_ : array of shape (n_clusters, n_features)
        Same array type and device as the X given to ``fit`` (see ``output_type``);
        X's dtype, or float64 for integer and bool X, as in scikit-learn.
    labels_ : array of shape (n_samples,), int32
    inertia_ : float
        Sum of weighted squared distances of samples to their closest centre.
    n_iter_ : int
    n_features_in_ : int

    Notes
    -----
    Each iteration costs O(n_samples * n_clusters * n_features), run as GEMM
    tiles plus a fused argmin (BLAS on the CPU, cuBLAS on the GPU), then a
    weighted scatter-sum in float64. A SciPy or CuPy sparse X (CSR, CSC,
    any real dtype) stays sparse: O(nnz * n_clusters) per iteration as a
    sparse-dense product in row chunks, and the centre sums through a sparse
    indicator matrix (``_sparse_kmeans``); it gives the labels and inertia
    of the same data made dense.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> sorted(km.cluster_centers_.tolist())
    [[1.0, 2.0], [10.0, 2.0]]
    >>> km.predict([[0, 0], [12, 3]]).tolist() == [km.labels_[0], km.labels_[3]]
    True
    >>> from scipy.sparse import csr_matrix
    >>> sparse = KMeans(n_clusters=2, random_state=0).fit(csr_matrix(X))
    >>> sparse.labels_.tolist() == km.labels_.tolist()
    True
    """

    _default_n_init = 10
    _integers_as_float64 = True

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300,
                 tol=1e-4, verbose=0, random_state=None, copy_x=True, algorithm="lloyd",
                 metric="euclidean", device="auto", output_type="input"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.metric = metric
        self.device = device
        self.output_type = output_type

    def _work(self, n_samples, n_features):
        return 2.0 * n_samples * n_features * self.n_clusters * min(self.max_iter, 20)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @property
    def _n_features_out(self):
        """Output width of ``transform``, for ``get_feature_names_out`` ("kmeans0", ...)."""
        return int(self.cluster_centers_.shape[0])

    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            NumPy, CuPy, torch (CPU or CUDA), any array-API array or a list;
            or a SciPy / CuPy sparse matrix (CSR, CSC, ...), which stays sparse.
        y : ignored
        sample_weight : array of shape (n_samples,), default=None

        Returns
        -------
        self : KMeans
        """
        if distributed.is_dask_array(X):
            return distributed.kmeans.fit(self, X, sample_weight)
        X, sample_weight, like = self._prepare_data(X, sample_weight, reset=True)
        n_init = check_kmeans_params(self, X)
        check_option(self.algorithm, "algorithm", ("lloyd", "elkan"))
        if self.algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn(
                "algorithm='elkan' doesn't make sense for a single cluster. Using 'lloyd' "
                "instead.",
                RuntimeWarning,
                stacklevel=2,
            )
        random_state = check_random_state(self.random_state)

        Xw = prepare_for_metric(X, self.metric)
        sq_norms = data_ops(Xw).row_norms_sq(Xw)
        mean, mean_sq, spread = total_variance(Xw, sq_norms)
        # Distances come from |x|^2 - 2 x.c + |c|^2, whose rounding error grows
        # with |x|^2. Centring X (a full copy) pays only when the mean is large
        # against the spread; otherwise the error stays within a factor of two.
        # A sparse X is never centred (that would make it dense), as in scikit-learn.
        centre = self.metric == "euclidean" and mean_sq > spread and not is_sparse(X)
        offset = mean if centre else None
        if offset is not None:
            Xw = Xw - offset
        init = self.init
        if not isinstance(init, str) and not callable(init):
            init = prepare_init_array(init, Xw, self.n_clusters, offset, self.metric)
        tol = self.tol * spread / X.shape[1]
        callback = self._iteration_callback()
        if callback is not None and offset is not None:
            # The watcher sees centres in X's coordinates, as cluster_centers_.
            callback = _shifted_back(callback, offset)

        # The norms above serve the Lloyd loop unless X was centred (one pass over X fewer).
        x_sq_norms = (fit_norms(Xw, self.metric) if offset is not None or self.metric != "euclidean"
                      else sq_norms)
        best = None
        for _ in range(n_init):
            centers = init_centroids(Xw, self.n_clusters, init, random_state, sample_weight,
                                     self.metric, x_sq_norms)
            if self.verbose:
                print("Initialization complete")
            labels, inertia, centers, n_iter = kmeans_single_lloyd(
                Xw, sample_weight, centers, max_iter=self.max_iter, tol=tol,
                metric=self.metric, verbose=self.verbose, callback=callback,
                x_sq_norms=x_sq_norms,
            )
            if best is None or (
                inertia < best[1] and not is_same_clustering(labels, best[0], self.n_clusters)
            ):
                best = (labels, inertia, centers, n_iter)
        labels, inertia, centers, n_iter = best

        sizes = backend.bincount(labels, minlength=self.n_clusters)
        distinct = int(backend.namespace(sizes).count_nonzero(sizes))
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        if self.metric == "euclidean" and not is_sparse(X):
            inertia = inertia_from_differences(Xw, centers, labels, sample_weight)
        if offset is not None:
            centers = centers + offset
        self._centers = centers
        self.cluster_centers_ = self._to_output(centers, like)
        self.labels_ = self._to_output(labels, like)
        self.inertia_ = float(inertia)
        self.n_iter_ = int(n_iter)
        self.n_features_in_ = int(X.shape[1])
        self._n_init = n_init  # scikit-learn's name for the runs made
        return self

    def _prepare_data(self, X, sample_weight=None, *, reset):
        """``_prepare_input`` for dense X; for a sparse matrix its sparse twin, which keeps
        X sparse (canonical CSR) and makes outputs NumPy (SciPy) or CuPy (cupyx)."""
        if is_sparse(X):
            return prepare_sparse_input(self, X, sample_weight, reset=reset,
                                                work=self._work)
        return self._prepare_input(X, sample_weight, reset=reset, work=self._work)

    def _iteration_callback(self):
        """The callable ``fit`` gives every Lloyd run to watch its iterations; None here.

        A subclass overrides this to record the iterations without changing
        scikit-learn's parameters (the k-means animation,
        :func:`gpucluster.report.animate_kmeans`, does). The callable is
        called as ``callback(iteration, labels, centers, inertia)`` after each
        iteration of each of the ``n_init`` runs, ``iteration`` restarting
        from 0 with each run (see :func:`kmeans_single_lloyd`). ``centers``
        are in X's coordinates and on the device ``fit`` computes on; for
        ``metric="cosine"`` they are the unit centres of the unit rows. After
        a single run, the last call's ``centers`` equal ``cluster_centers_``
        and there were ``n_iter_`` calls.
        """
        return None

    def _centers_for(self, X):
        """The fitted centres in X's namespace and on X's device (those of its values for a
        sparse X), prepared for the metric."""
        centers = backend.asarray_like(self._centers, data_ops(X).values(X))
        return prepare_for_metric(centers, self.metric)

    def _nearest(self, X, *, with_distances=True):
        """``(labels, distances, Xm, centers)`` of X against the fitted centres
        (``nearest_centers``)."""
        return nearest_centers(X, self._centers_for(X), self.metric,
                               with_distances=with_distances)

    def _labels_inertia(self, X, sample_weight):
        """Labels and weighted inertia of X against the fitted centres (used by score)."""
        return labels_and_inertia(X, self._centers_for(X), self.metric, sample_weight)

    def predict(self, X, sample_weight=None):
        """Index of the closest centre for each row of X.

        Returns
        -------
        labels : array of shape (n_samples,), int32, X's array type and device
        """
        if distributed.is_dask_array(X):
            return distributed.kmeans.predict(self, X, sample_weight)
        check_is_fitted(self)
        X, sample_weight, like = self._prepare_data(X, sample_weight, reset=False)
        return self._to_output(self._nearest(X, with_distances=False)[0], like)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X):
        """Distances (n_samples, n_clusters) from each row of X to every centre.

        Euclidean distances for ``metric="euclidean"``, cosine distances for
        ``metric="cosine"``; X's array type and device (NumPy for a SciPy
        sparse X).
        """
        if distributed.is_dask_array(X):
            return distributed.kmeans.transform(self, X)
        check_is_fitted(self)
        # scikit-learn's euclidean_distances(X, cluster_centers_) sets the
        # diagonal to exactly 0 when X is cluster_centers_ itself, where the
        # norm expansion leaves rounding (~1e-8); so does this.
        own_centers = X is getattr(self, "cluster_centers_", None)
        X, _, like = self._prepare_data(X, reset=False)
        distances = center_distances(X, self._centers_for(X), self.metric)
        if own_centers:
            xp = backend.namespace(distances)
            on_diagonal = xp.eye(distances.shape[0], dtype=xp.bool,
                                 device=backend.device(distances))
            distances = xp.where(on_diagonal, xp.zeros_like(distances), distances)
        return self._to_output(distances, like)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return the distances of X to the centres (see ``transform``)."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the inertia of X against the fitted centres, a Python float."""
        if distributed.is_dask_array(X):
            return distributed.kmeans.score(self, X, sample_weight)
        check_is_fitted(self)
        X, sample_weight, _ = self._prepare_data(X, sample_weight, reset=False)
        return -self._labels_inertia(X, sample_weight)[1]


def _shifted_back(callback, offset):
    """``callback`` fed centres of the centred data moved back by ``offset``."""

    def shifted(iteration, labels, centers, inertia):
        callback(iteration, labels, centers + offset, inertia)

    return shifted


def k_means(X, n_clusters, *, sample_weight=None, init="k-means++", n_init="auto",
            max_iter=300, verbose=False, tol=1e-4, random_state=None, copy_x=True,
            algorithm="lloyd", return_n_iter=False, metric="euclidean", device="auto",
            output_type="input"):
    """Functional k-means: fit a :class:`KMeans` and return its results.

    X is an array or a SciPy / CuPy sparse matrix, as for :meth:`KMeans.fit`;
    the other parameters are :class:`KMeans`'s.

    Returns
    -------
    centroid : array (n_clusters, n_features)
    label : array (n_samples,), int32
    inertia : float
    best_n_iter : int, only when ``return_n_iter`` is True
    """
    est = KMeans(
        n_clusters=n_clusters, init=init, n_init=n_init, max_iter=max_iter, verbose=verbose,
        tol=tol, random_state=random_state, copy_x=copy_x, algorithm=algorithm,
        metric=metric, device=device, output_type=output_type,
    ).fit(X, sample_weight=sample_weight)
    if return_n_iter:
        return est.cluster_centers_, est.labels_, est.inertia_, est.n_iter_
    return est.cluster_centers_, est.labels_, est.inertia_
