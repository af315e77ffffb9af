"""Internal cluster-validity indices: silhouette, Calinski-Harabasz, Davies-Bouldin.

Each is written once against the array API and runs where X lives (NumPy,
torch, array_api_strict, CuPy). Labels are encoded on the host (they are
small) and placed beside X. The O(n^2) silhouette step is the
``pairwise_sums`` kernel over row chunks; the per-cluster sums of the other
two come from ``centroid_update``. Accumulations are float64. Values and
edge cases follow scikit-learn's ``sklearn.metrics`` functions of the same
names.
"""

import numpy as np
from sklearn.utils import check_random_state

from .. import backend, kernels
from .._validation import check_input, check_option, check_scalar
from ._external import as_host_labels, check_consistent_length

SILHOUETTE_METRICS = ("euclidean", "sqeuclidean", "cosine", "precomputed")
# Silhouette chunks hold a few (rows, n_labels) float64 arrays; the row
# count comes from backend.row_chunk_size, but never below this, so that
# every CPU thread gets tiles of the chunk to work on.
MIN_SILHOUETTE_CHUNK_ROWS = 4096


def check_number_of_labels(n_labels, n_samples):
    """Raise sklearn's ValueError unless 2 <= n_labels <= n_samples - 1."""
    if not 1 < n_labels < n_samples:
        raise ValueError(
            f"Number of labels is {n_labels}. Valid values are 2 to n_samples - 1 (inclusive)"
        )


def _prepare(X, labels):
    """Validate X and labels; return X, the label codes (host, 0..k-1) and the cluster sizes."""
    X = check_input(X)
    labels = as_host_labels(labels)
    check_consistent_length(X.shape[0], labels.shape[0])
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    counts = np.bincount(codes)
    check_number_of_labels(counts.shape[0], X.shape[0])
    return X, codes, counts


# --------------------------------------------------------------------------
# Silhouette


def _check_precomputed(X):
    xp = backend.namespace(X)
    n_rows, n_cols = X.shape
    if n_rows != n_cols:
        raise ValueError(
            f"Precomputed metric requires shape (n_queries, n_indexed). Got "
            f"({n_rows}, {n_cols}) for {n_cols} indexed."
        )
    diagonal = xp.reshape(X, (-1,))[:: n_rows + 1]
    atol = float(xp.finfo(X.dtype).eps) * 100
    if bool(xp.any(xp.abs(diagonal) > atol)):
        raise ValueError(
            "The precomputed distance matrix contains non-zero elements on the "
            "diagonal. Use np.fill_diagonal(X, 0)."
        )


def _overflow_safe(X, metric):
    """X as the distance kernel takes it without overflow, and whether the distances must
    come from exact differences instead (:func:`_exact_distance_sums`).

    The kernel forms :math:`|x|^2 - 2 x \\cdot y + |y|^2` (its Gram tile in X's dtype), so
    one finite entry near the dtype's largest overflows to inf and the silhouette to NaN.
    The silhouette is scale-invariant, so: cosine rows are divided by their largest
    entry; float32 data is computed in float64; float64 data whose squares overflow takes
    the exact-difference path (scaling it down instead would underflow the small
    distances to zero when the range is that wide).
    """
    if metric == "precomputed":
        return X, False
    xp = backend.namespace(X)
    largest = float(xp.max(xp.abs(X)))
    # |x - y|^2 over the features, the largest Gram or squared-norm term; Python floats
    # go to inf, not an exception, when this overflows.
    bound = 4.0 * X.shape[1] * largest * largest
    if bound < float(xp.finfo(X.dtype).max):
        return X, False
    if metric == "cosine":
        row_max = xp.max(xp.abs(X), axis=1, keepdims=True)
        return X / xp.where(row_max > 0, row_max, xp.ones_like(row_max)), False
    if X.dtype == xp.float32 and bound < float(xp.finfo(xp.float64).max):
        return xp.astype(X, xp.float64), False
    if metric == "sqeuclidean":
        # Squared distances this large do not fit in float64 at all.
        return xp.astype(X, xp.float64), False
    return xp.astype(X, xp.float64), True


def _exact_distance_sums(X, one_hot, start, stop):
    """Euclidean distance sums by label, (stop - start, n_labels) float64, from exact
    differences; only for float64 data whose squared norms overflow (see _overflow_safe).

    Every distance is scaled by one power of two (exact), small enough that no difference,
    distance or sum overflows; the silhouette's ratios do not see the scale.
    """
    xp = backend.namespace(X)
    n_samples, n_features = X.shape
    scale = 2.0 ** -float(np.ceil(np.log2(2.0 * np.sqrt(n_features) * n_samples)))
    X = X * scale
    diff = xp.expand_dims(X[start:stop, :], axis=1) - xp.expand_dims(X, axis=0)
    spread = xp.max(xp.abs(diff), axis=2)
    safe = xp.where(spread > 0, spread, xp.ones_like(spread))
    # The norm of each difference as its largest entry times the norm of the difference
    # divided by it (hypot's trick): the squares stay near 1.
    distances = spread * xp.sqrt(xp.sum((diff / xp.expand_dims(safe, axis=2)) ** 2, axis=2))
    return distances @ one_hot


def _label_distance_sums(X, labels, n_labels, metric, start, stop, one_hot, exact=False):
    """(stop - start, n_labels) float64 sums of distances from rows start:stop to each label."""
    if exact:
        return _exact_distance_sums(X, one_hot, start, stop)
    if metric == "precomputed":
        xp = backend.namespace(X)
        return xp.astype(X[start:stop, :], xp.float64) @ one_hot
    return kernels.pairwise_sums(X, labels, n_labels, metric, start=start, stop=stop)


def _silhouette_values(X, codes, counts, metric):
    """Silhouette coefficient of every row, float64, in X's namespace and on X's device."""
    X, exact = _overflow_safe(X, metric)
    xp = backend.namespace(X)
    device = backend.device(X)
    n_samples = X.shape[0]
    n_labels = counts.shape[0]
    labels = backend.asarray_like(codes, X)
    sizes = backend.asarray_like(counts.astype(np.float64), X)
    label_ids = xp.arange(n_labels, device=device)
    zero = xp.asarray(0.0, dtype=xp.float64, device=device)
    inf = xp.asarray(np.inf, dtype=xp.float64, device=device)
    one_hot = None
    if metric == "precomputed" or exact:
        one_hot = xp.astype(labels[:, None] == label_ids[None, :], xp.float64)
    row_bytes = 4 * 8 * n_labels
    if exact:
        # Three (rows, n_samples, n_features) float64 temporaries per chunk row.
        row_bytes += 3 * 8 * n_samples * X.shape[1]
    chunk = backend.row_chunk_size(n_samples, row_bytes, device=backend.device_of(X))
    if not exact:
        chunk = max(chunk, min(n_samples, MIN_SILHOUETTE_CHUNK_ROWS))
    intra, inter = [], []
    for start in range(0, n_samples, chunk):
        stop = min(n_samples, start + chunk)
        sums = _label_distance_sums(X, labels, n_labels, metric, start, stop, one_hot, exact)
        own = labels[start:stop, None] == label_ids[None, :]
        intra.append(xp.sum(xp.where(own, sums, zero), axis=1))
        # Mean distance to every other cluster; the nearest one is b.
        inter.append(xp.min(xp.where(own, inf, sums / sizes[None, :]), axis=1))
    intra = xp.concat(intra)
    inter = xp.concat(inter)
    # a: mean distance to the other members of the own cluster. A singleton
    # has no other member; its coefficient is 0, as in sklearn (which gets
    # 0/0 = NaN and maps it to 0).
    others = xp.take(sizes, labels) - 1.0
    has_others = others > 0
    a = xp.where(has_others, intra / xp.where(has_others, others, 1.0), zero)
    largest = xp.maximum(a, inter)
    defined = has_others & (largest > 0)
    return xp.where(defined, (inter - a) / xp.where(defined, largest, 1.0), zero)


def silhouette_samples(X, labels, *, metric="euclidean"):
    """Silhouette coefficient of each sample.

    For sample i with mean distance :math:`a_i` to the other members of its
    cluster and smallest mean distance :math:`b_i` to the members of another
    cluster, :math:`s_i = (b_i - a_i) / \\max(a_i, b_i)`; 0 for a sample
    alone in its cluster. Every label value is a cluster, including a noise
    label such as -1 (drop noise points first to leave them out).

    Parameters
    ----------
    X : array of shape (n_samples, n_features), or (n_samples, n_samples) when
        ``metric="precomputed"``
        float32 or float64 (integers become float32); NumPy, CuPy, torch or any
        array-API array, or a list.
    labels : array of shape (n_samples,)
        Cluster labels, integer (any hashable values work); any array kind or list.
    metric : {"euclidean", "sqeuclidean", "cosine", "precomputed"}, default="euclidean"
        Distance between samples; "precomputed" takes X as a distance matrix
        with zeros on its diagonal.

    Returns
    -------
    silhouette : array of shape (n_samples,)
        Values in [-1, 1], X's dtype, same array type and device as X.

    Raises
    ------
    ValueError
        For NaN or infinity in X, labels of another length than X, fewer than
        2 or more than n_samples - 1 distinct labels, or an unknown metric.

    Notes
    -----
    O(n_samples^2 n_features) work in BLAS/cuBLAS GEMM tiles, with the
    per-cluster sums fused into the same pass (``kernels.pairwise_sums``);
    memory O(n_samples * n_labels) beyond X. Float32 data with entries whose
    squares would overflow is computed in float64; Euclidean float64 data with
    entries beyond about 1e150 (squares that overflow float64) takes exact
    differences instead of GEMM tiles, far slower; "sqeuclidean" distances that
    large do not fit in float64 and give NaN.
    """
    check_option(metric, "metric", SILHOUETTE_METRICS)
    X, codes, counts = _prepare(X, labels)
    if metric == "precomputed":
        _check_precomputed(X)
    xp = backend.namespace(X)
    values = xp.astype(_silhouette_values(X, codes, counts, metric), X.dtype)
    return backend.to_output(values, backend.describe_input(X))


def silhouette_score(X, labels, *, metric="euclidean", sample_size=None, random_state=None):
    """Mean silhouette coefficient of all samples.

    See :func:`silhouette_samples` for the coefficient. The best value is 1,
    the worst -1; values near 0 indicate overlapping clusters.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), or (n_samples, n_samples) when
        ``metric="precomputed"``
        float32 or float64; NumPy, CuPy, torch or any array-API array, or a list.
    labels : array of shape (n_samples,)
        Cluster labels, integer; any array kind or list.
    metric : {"euclidean", "sqeuclidean", "cosine", "precomputed"}, default="euclidean"
    sample_size : int or None, default=None
        Score a random subset of this many samples instead of all of them.
    random_state : int, numpy.random.RandomState or None, default=None
        Seeds the choice of the subset; the same seed picks the same samples
        as ``sklearn.metrics.silhouette_score``.

    Returns
    -------
    silhouette : float

    Raises
    ------
    ValueError
        As :func:`silhouette_samples`, and for ``sample_size < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster.metrics import silhouette_score
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    >>> round(silhouette_score(X, [0, 0, 1, 1]), 4)
    0.9002
    """
    check_option(metric, "metric", SILHOUETTE_METRICS)
    if sample_size is None:
        X, codes, counts = _prepare(X, labels)
    else:
        check_scalar(sample_size, "sample_size", min_value=1)
        X = check_input(X)
        labels = as_host_labels(labels)
        check_consistent_length(X.shape[0], labels.shape[0])
        indices = check_random_state(random_state).permutation(X.shape[0])[:sample_size]
        xp = backend.namespace(X)
        rows = backend.asarray_like(indices.astype(np.int64), X)
        X = xp.take(X, rows, axis=0)
        if metric == "precomputed":
            X = xp.take(X, rows, axis=1)
        X, codes, counts = _prepare(X, labels[indices])
    if metric == "precomputed":
        _check_precomputed(X)
    xp = backend.namespace(X)
    return float(xp.mean(_silhouette_values(X, codes, counts, metric)))


# --------------------------------------------------------------------------
# Calinski-Harabasz and Davies-Bouldin


def _cluster_means(X, labels, n_labels):
    """Per-cluster means (n_labels, n_features) and sizes (n_labels,), float64, beside X."""
    sums, sizes = kernels.centroid_update(X, labels, n_labels)
    return sums / sizes[:, None], sizes


def _distances_to_centers(X, labels, centers, *, squared):
    """Distance (or squared distance) of every row to its cluster's centre, float64, chunked."""
    xp = backend.namespace(X)
    n_samples, n_features = X.shape
    chunk = backend.row_chunk_size(n_samples, 3 * 8 * n_features, device=backend.device_of(X))
    parts = []
    for start in range(0, n_samples, chunk):
        stop = min(n_samples, start + chunk)
        own_centers = xp.take(centers, labels[start:stop], axis=0)
        diff = xp.astype(X[start:stop, :], xp.float64) - own_centers
        sq = xp.sum(diff * diff, axis=1)
        parts.append(sq if squared else xp.sqrt(sq))
    return xp.concat(parts)


def calinski_harabasz_score(X, labels):
    """Calinski-Harabasz score (variance ratio criterion).

    .. math:: CH = \\frac{\\mathrm{tr}(B) / (k - 1)}{\\mathrm{tr}(W) / (n - k)}

    the between-cluster dispersion over the within-cluster dispersion, each
    per degree of freedom. Higher is better.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        float32 or float64; NumPy, CuPy, torch or any array-API array, or a list.
    labels : array of shape (n_samples,)
        Cluster labels, integer; any array kind or list.

    Returns
    -------
    score : float
        1.0 when every cluster has zero within-cluster dispersion, as in sklearn.

    Raises
    ------
    ValueError
        For NaN or infinity in X, labels of another length than X, or fewer
        than 2 or more than n_samples - 1 distinct labels.
    """
    X, codes, counts = _prepare(X, labels)
    xp = backend.namespace(X)
    n_samples = X.shape[0]
    n_labels = counts.shape[0]
    labels = backend.asarray_like(codes, X)
    centers, sizes = _cluster_means(X, labels, n_labels)
    mean = xp.sum(centers * sizes[:, None], axis=0) / n_samples
    extra_disp = float(xp.sum(sizes * xp.sum((centers - mean) ** 2, axis=1)))
    intra_disp = float(xp.sum(_distances_to_centers(X, labels, centers, squared=True)))
    if intra_disp == 0.0:
        return 1.0
    return float(extra_disp * (n_samples - n_labels) / (intra_disp * (n_labels - 1.0)))


def _center_distances(centers):
    """Euclidean distances between all pairs of centres, by exact differences (chunked)."""
    xp = backend.namespace(centers)
    n_labels, n_features = centers.shape
    chunk = backend.row_chunk_size(n_labels, 2 * 8 * n_labels * n_features,
                                   device=backend.device_of(centers))
    parts = []
    for start in range(0, n_labels, chunk):
        diff = centers[start:start + chunk, None, :] - centers[None, :, :]
        parts.append(xp.sqrt(xp.sum(diff * diff, axis=2)))
    return xp.concat(parts, axis=0)


def davies_bouldin_score(X, labels):
    """Davies-Bouldin score: the mean, over clusters, of the worst similarity ratio.

    .. math:: DB = \\frac{1}{k} \\sum_i \\max_{j \\ne i} \\frac{s_i + s_j}{d(c_i, c_j)}

    with :math:`s_i` the mean distance of cluster i's members to its centroid
    :math:`c_i`. Lower is better; 0 is the minimum.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        float32 or float64; NumPy, CuPy, torch or any array-API array, or a list.
    labels : array of shape (n_samples,)
        Cluster labels, integer; any array kind or list.

    Returns
    -------
    score : float
        0.0 when all clusters have zero spread or all centroids coincide, as in sklearn.

    Raises
    ------
    ValueError
        For NaN or infinity in X, labels of another length than X, or fewer
        than 2 or more than n_samples - 1 distinct labels.
    """
    X, codes, counts = _prepare(X, labels)
    xp = backend.namespace(X)
    n_labels = counts.shape[0]
    labels = backend.asarray_like(codes, X)
    centers, sizes = _cluster_means(X, labels, n_labels)
    distances = _distances_to_centers(X, labels, centers, squared=False)
    spreads = xp.asarray(backend.bincount(labels, weights=distances, minlength=n_labels),
                         dtype=xp.float64) / sizes
    center_distances = _center_distances(centers)
    # sklearn's closeness test: xpx.isclose(value, 0) with its default atol.
    if bool(xp.all(xp.abs(spreads) <= 1e-8)) or bool(xp.all(xp.abs(center_distances) <= 1e-8)):
        return 0.0
    center_distances = xp.where(
        center_distances == 0.0,
        xp.asarray(np.inf, dtype=xp.float64, device=backend.device(X)),
        center_distances,
    )
    combined = spreads[:, None] + spreads[None, :]
    return float(xp.mean(xp.max(combined / center_distances, axis=1)))
