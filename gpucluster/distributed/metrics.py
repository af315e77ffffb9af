"""Cluster-validity metrics on dask arrays: chunked reductions, and the silhouette on a sample.

- :func:`calinski_harabasz_score` and :func:`davies_bouldin_score`: two
  passes over the chunks, each a map plus a float64 tree reduction (the
  per-cluster sums through the ``centroid_update`` kernel, then the
  distances of the rows to their cluster's centre), the same formulas as
  :mod:`gpucluster.metrics` on one machine.
- The external indices (:func:`adjusted_rand_score`,
  :func:`adjusted_mutual_info_score`, :func:`normalized_mutual_info_score`,
  :func:`homogeneity_completeness_v_measure`, :func:`v_measure_score`, ...):
  the contingency table is counted per chunk of the two labelings and the
  tables added; the index follows from the table with the single-machine
  helpers.
- :func:`silhouette_score`: O(n^2), so on a sample of rows gathered to the
  client (the rows scikit-learn's ``sample_size`` and ``random_state`` pick).

Labels may be dask arrays or in-memory arrays of the same length as X.
"""

import numpy as np
from sklearn.utils import check_random_state

from .. import backend, kernels
from ..metrics import _external, _internal
from ..metrics._params import check_params
from . import _chunks

# Rows the silhouette gathers to the client when no sample_size is given.
SILHOUETTE_MAX_ROWS = 50_000

# --------------------------------------------------------------------------
# Labels


def _unique_block(labels):
    return np.unique(backend.to_numpy(labels))


def _label_values(labels):
    """The sorted distinct values of a 1-D dask array of labels (NumPy)."""
    import dask

    parts = dask.compute(*[dask.delayed(_unique_block)(b) for b in labels.to_delayed()])
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0)


def _check_labels(labels, n_samples, X_like, name="labels"):
    """``labels`` as a 1-D dask array chunked like ``X_like``'s rows, validated."""
    da = _chunks.dask_array()
    if not _chunks.is_dask(labels):
        labels = _external.as_host_labels(labels, name)
    elif labels.ndim != 1:
        raise ValueError(f"{name} must be 1D: shape is {tuple(labels.shape)}")
    _external.check_consistent_length(n_samples, labels.shape[0])
    if X_like is None:
        return labels if _chunks.is_dask(labels) else da.from_array(labels, chunks=-1)
    return _chunks.rows_like(labels, X_like)


def _codes(labels, values):
    """Labels as codes 0..k-1 (int64 dask array), by their place among the sorted ``values``."""
    return labels.map_blocks(lambda b: np.searchsorted(values, backend.to_numpy(b)),
                             dtype=np.int64, meta=np.empty(0, np.int64))


# --------------------------------------------------------------------------
# Calinski-Harabasz and Davies-Bouldin


def _sums_block(X, codes, n_labels):
    """Per-cluster float64 sums and sizes of a chunk, by the ``centroid_update`` kernel."""
    d = X.shape[1]
    if X.shape[0] == 0:
        return np.zeros(n_labels * d + n_labels)
    sums, sizes = kernels.centroid_update(X, _chunks.like_chunk(backend.to_numpy(codes), X),
                                          n_labels)
    return np.concatenate([_chunks.host64(sums).reshape(-1), _chunks.host64(sizes)])


def _spread_block(X, codes, centers, n_labels, squared):
    """Per-cluster sums of the distances (or squared) of a chunk's rows to their centre."""
    if X.shape[0] == 0:
        return np.zeros(n_labels)
    labels = _chunks.like_chunk(backend.to_numpy(codes), X)
    distances = _internal._distances_to_centers(X, labels, _chunks.like_chunk(centers, X),
                                                squared=squared)
    return _chunks.host64(backend.bincount(labels, weights=distances, minlength=n_labels))


def _centers_and_spreads(X, labels, function_name, squared):
    """Validated X; cluster means, sizes and per-cluster distance sums (float64 NumPy)."""
    X = _chunks.check_array(X, name=function_name, integers_as_float64=False)
    n_samples, d = X.shape
    labels = _check_labels(labels, n_samples, X)
    values = _label_values(labels)
    _internal.check_number_of_labels(values.shape[0], n_samples)
    k = values.shape[0]
    codes = _codes(labels, values)
    _chunks.stats(X, _chunks.row_weights(None, X))  # NaN and infinity, as check_input
    total = _chunks.reduce_rows(_sums_block, X, codes, args=(k,), width=k * d + k).compute()
    sizes = total[k * d:]
    centers = total[:k * d].reshape(k, d) / sizes[:, None]
    spreads = _chunks.reduce_rows(_spread_block, X, codes, args=(centers, k, squared),
                                  width=k).compute()
    return n_samples, centers, sizes, spreads


def calinski_harabasz_score(X, labels):
    """Calinski-Harabasz score of a dask array X, as :func:`gpucluster.metrics.calinski_harabasz_score`.

    Parameters
    ----------
    X : dask array (n_samples, n_features), float32 or float64, NumPy or CuPy chunks
    labels : array (n_samples,), dask or in memory, integer

    Returns
    -------
    score : float
    """
    n_samples, centers, sizes, spreads = _centers_and_spreads(
        X, labels, "calinski_harabasz_score", squared=True)
    n_labels = sizes.shape[0]
    mean = np.sum(centers * sizes[:, None], axis=0) / n_samples
    extra_disp = float(np.sum(sizes * np.sum((centers - mean) ** 2, axis=1)))
    intra_disp = float(np.sum(spreads))
    if intra_disp == 0.0:
        return 1.0
    return float(extra_disp * (n_samples - n_labels) / (intra_disp * (n_labels - 1.0)))


def davies_bouldin_score(X, labels):
    """Davies-Bouldin score of a dask array X, as :func:`gpucluster.metrics.davies_bouldin_score`.

    Parameters
    ----------
    X : dask array (n_samples, n_features), float32 or float64, NumPy or CuPy chunks
    labels : array (n_samples,), dask or in memory, integer

    Returns
    -------
    score : float
    """
    _, centers, sizes, spreads = _centers_and_spreads(
        X, labels, "davies_bouldin_score", squared=False)
    spreads = spreads / sizes
    center_distances = _internal._center_distances(centers)
    if np.all(np.abs(spreads) <= 1e-8) or np.all(np.abs(center_distances) <= 1e-8):
        return 0.0
    center_distances = np.where(center_distances == 0.0, np.inf, center_distances)
    combined = spreads[:, None] + spreads[None, :]
    return float(np.mean(np.max(combined / center_distances, axis=1)))


# --------------------------------------------------------------------------
# External indices: the contingency table counted per chunk


def _pairs_block(a, b):
    """Distinct (label_true, label_pred) pairs of a chunk and their counts."""
    a, b = backend.to_numpy(a), backend.to_numpy(b)
    if a.shape[0] == 0:
        return np.zeros(0, a.dtype), np.zeros(0, b.dtype), np.zeros(0, np.int64)
    pairs, counts = np.unique(np.stack([a, b]), axis=1, return_counts=True)
    return pairs[0], pairs[1], counts.astype(np.int64)


def contingency(labels_true, labels_pred):
    """The non-zero contingency table of two labelings, as ``_external._contingency``.

    At least one labeling is a dask array; the other is rechunked to match.

    Returns
    -------
    rows, cols, counts, class_sizes, cluster_sizes : int64 ndarrays
    n_samples : int
    """
    import dask

    if _chunks.is_dask(labels_true):
        labels_true = _check_labels(labels_true, labels_true.shape[0], None, "labels_true")
        labels_pred = _check_labels(labels_pred, labels_true.shape[0], None, "labels_pred")
    else:
        labels_pred = _check_labels(labels_pred, labels_pred.shape[0], None, "labels_pred")
        labels_true = _check_labels(labels_true, labels_pred.shape[0], None, "labels_true")
    labels_pred = labels_pred.rechunk(labels_true.chunks)
    parts = dask.compute(*[dask.delayed(_pairs_block)(a, b) for a, b in
                           zip(labels_true.to_delayed(), labels_pred.to_delayed())])
    a = np.concatenate([p[0] for p in parts])
    b = np.concatenate([p[1] for p in parts])
    weights = np.concatenate([p[2] for p in parts])
    classes, class_idx = np.unique(a, return_inverse=True)
    clusters, cluster_idx = np.unique(b, return_inverse=True)
    class_idx, cluster_idx = class_idx.reshape(-1), cluster_idx.reshape(-1)
    n_clusters = max(clusters.shape[0], 1)
    keys, where = np.unique(class_idx * n_clusters + cluster_idx, return_inverse=True)
    counts = np.bincount(where.reshape(-1), weights=weights).astype(np.int64)
    rows, cols = np.divmod(keys, n_clusters)
    class_sizes = np.bincount(rows, weights=counts, minlength=classes.shape[0]).astype(np.int64)
    cluster_sizes = np.bincount(cols, weights=counts,
                                minlength=clusters.shape[0]).astype(np.int64)
    return (rows.astype(np.int64), cols.astype(np.int64), counts, class_sizes, cluster_sizes,
            int(labels_true.shape[0]))


def adjusted_rand_score(labels_true, labels_pred):
    """Adjusted Rand index of two labelings, at least one a dask array (a Python float)."""
    rows, cols, counts, class_sizes, cluster_sizes, n = contingency(labels_true, labels_pred)
    # _external._pair_confusion, from the table instead of the labels.
    sum_squares = int(np.sum(counts * counts))
    tp = sum_squares - n
    fp = int(np.sum(counts * cluster_sizes[cols])) - sum_squares
    fn = int(np.sum(counts * class_sizes[rows])) - sum_squares
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def homogeneity_completeness_v_measure(labels_true, labels_pred, *, beta=1.0):
    """Homogeneity, completeness and V-measure of dask labelings (three floats)."""
    check_params("homogeneity_completeness_v_measure", labels_true=labels_true,
                 labels_pred=labels_pred, beta=beta)
    rows, cols, counts, class_sizes, cluster_sizes, n = contingency(labels_true, labels_pred)
    if n == 0:
        return 1.0, 1.0, 1.0
    entropy_C = _external._entropy(class_sizes)
    entropy_K = _external._entropy(cluster_sizes)
    mi = _external._mutual_info(rows, cols, counts, class_sizes, cluster_sizes)
    homogeneity = mi / entropy_C if entropy_C else 1.0
    completeness = mi / entropy_K if entropy_K else 1.0
    if homogeneity + completeness == 0.0:
        return float(homogeneity), float(completeness), 0.0
    v_measure = ((1 + beta) * homogeneity * completeness / (beta * homogeneity + completeness))
    return float(homogeneity), float(completeness), float(v_measure)


def v_measure_score(labels_true, labels_pred, *, beta=1.0):
    """V-measure of dask labelings (a float in [0, 1])."""
    return homogeneity_completeness_v_measure(labels_true, labels_pred, beta=beta)[2]


def mutual_info_score(labels_true, labels_pred):
    """Mutual information (natural log) of dask labelings."""
    return _external._mutual_info(*contingency(labels_true, labels_pred)[:5])


def normalized_mutual_info_score(labels_true, labels_pred, *, average_method="arithmetic"):
    """Normalised mutual information of dask labelings, as the single-machine function."""
    check_params("normalized_mutual_info_score", labels_true=labels_true,
                 labels_pred=labels_pred, average_method=average_method)
    rows, cols, counts, class_sizes, cluster_sizes, _ = contingency(labels_true, labels_pred)
    if class_sizes.size == cluster_sizes.size and class_sizes.size in (0, 1):
        return 1.0
    mi = _external._mutual_info(rows, cols, counts, class_sizes, cluster_sizes)
    if mi == 0:
        return 0.0
    normalizer = _external._generalized_average(
        _external._entropy(class_sizes), _external._entropy(cluster_sizes), average_method)
    return float(mi / normalizer)


def adjusted_mutual_info_score(labels_true, labels_pred, *, average_method="arithmetic"):
    """Adjusted mutual information of dask labelings, as the single-machine function."""
    check_params("adjusted_mutual_info_score", labels_true=labels_true,
                 labels_pred=labels_pred, average_method=average_method)
    rows, cols, counts, class_sizes, cluster_sizes, n = contingency(labels_true, labels_pred)
    n_classes, n_clusters = class_sizes.size, cluster_sizes.size
    if n_classes == n_clusters and n_classes in (0, 1):
        return 1.0
    if n_classes == 1 or n_clusters == 1:
        return 0.0
    mi = _external._mutual_info(rows, cols, counts, class_sizes, cluster_sizes)
    emi = _external._expected_mutual_info(class_sizes, cluster_sizes, n)
    normalizer = _external._generalized_average(
        _external._entropy(class_sizes), _external._entropy(cluster_sizes), average_method)
    eps = np.finfo(np.float64).eps
    denominator = normalizer - emi
    denominator = min(denominator, -eps) if denominator < 0 else max(denominator, eps)
    numerator = mi - emi
    numerator = min(numerator, -eps) if numerator < 0 else max(numerator, eps)
    return float(numerator / denominator)


# --------------------------------------------------------------------------
# Silhouette on a sample


def silhouette_score(X, labels, *, metric="euclidean", sample_size=None, random_state=None,
                     **kwds):
    """Mean silhouette of a dask array, computed on a sample of rows gathered to the client.

    The rows are those ``sklearn.metrics.silhouette_score`` picks for the
    same ``sample_size`` and ``random_state`` (a permutation of all rows, the
    first ``sample_size``), so the value equals the in-memory one.

    Parameters
    ----------
    X : dask array (n_samples, n_features)
    labels : array (n_samples,), dask or in memory
    metric, random_state, **kwds : as :func:`gpucluster.metrics.silhouette_score`
    sample_size : int or None
        Rows scored; None takes all rows, allowed up to ``SILHOUETTE_MAX_ROWS``.

    Raises
    ------
    ValueError
        Without ``sample_size`` on more than ``SILHOUETTE_MAX_ROWS`` rows, and
        as the single-machine function.
    """
    check_params("silhouette_score", X=X, labels=labels, metric=metric, sample_size=sample_size,
                 random_state=random_state)
    X = _chunks.check_array(X, name="silhouette_score", integers_as_float64=False)
    n_samples = X.shape[0]
    labels = _check_labels(labels, n_samples, X)
    if sample_size is None:
        if n_samples > SILHOUETTE_MAX_ROWS:
            raise ValueError(
                f"silhouette_score on a dask array of {n_samples} rows needs a sample_size "
                f"(at most {SILHOUETTE_MAX_ROWS} rows are gathered without one).")
        indices = np.arange(n_samples)
    else:
        indices = check_random_state(random_state).permutation(n_samples)[:sample_size]
    rows = _chunks.gather_rows(X, indices)
    sample_labels = _chunks.gather_rows(labels[:, None], indices)[:, 0]
    return _internal.silhouette_score(rows, sample_labels, metric=metric, **kwds)
