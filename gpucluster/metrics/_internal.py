"""Internal cluster-validity indices: silhouette, Calinski-Harabasz, Davies-Bouldin.

Each is written once against the array API and runs where X lives (NumPy,
torch, array_api_strict, CuPy). Labels are encoded on the host (they are
small) and placed beside X. The O(n^2) silhouette step is the
``pairwise_sums`` kernel over row chunks; the per-cluster sums of the other
two come from ``centroid_update``. Accumulations are float64. Values and
edge cases follow scikit-learn's ``sklearn.metrics`` functions of the same
names.

The silhouette also takes what the kernel does not compute, as scikit-learn
does: SciPy sparse X, every other metric of ``sklearn.metrics.pairwise``,
callables and keyword arguments of the metric. Those distances come from
``sklearn.metrics.pairwise_distances_chunked`` on the host, in row blocks of
the host memory budget, and are reduced block by block to the same per-label
sums. Calinski-Harabasz and Davies-Bouldin refuse sparse X, as scikit-learn's do.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import pairwise_distances_chunked
from sklearn.utils import check_random_state

from .. import backend, distributed, kernels
from .._distances import centred_unit_rows, unit_rows_mean
from .._host_distances import BOOLEAN_METRICS, KERNEL_METRICS
from .._sparse import check_sparse, is_sparse
from .._validation import check_input
from ._external import as_host_labels, check_consistent_length
from ._params import check_params

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


def _host_labels(labels):
    """Labels as a 1-D host array. A column vector (n, 1) is raveled with scikit-learn's
    DataConversionWarning, as its ``check_X_y`` does for these four functions."""
    labels = backend.to_numpy(backend.coerce_array(labels))
    if labels.ndim == 2 and labels.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please "
                      "change the shape of y to (n_samples, ), for example using ravel().",
                      DataConversionWarning, stacklevel=2)
        labels = labels.reshape(-1)
    return as_host_labels(labels)


def _encode_labels(labels, n_samples):
    """Label codes (host, 0..k-1, int64) and cluster sizes of labels for n_samples rows."""
    labels = _host_labels(labels)
    check_consistent_length(n_samples, labels.shape[0])
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    counts = np.bincount(codes)
    check_number_of_labels(counts.shape[0], n_samples)
    return codes, counts


def _prepare(X, labels, function_name=None):
    """Validate X and labels; return X, the label codes (host, 0..k-1) and the cluster sizes."""
    X = check_input(X, estimator_name=function_name)
    return (X, *_encode_labels(labels, X.shape[0]))


# --------------------------------------------------------------------------
# Silhouette


NONZERO_DIAGONAL = ("The precomputed distance matrix contains non-zero elements on the "
                    "diagonal. Use np.fill_diagonal(X, 0).")
# scikit-learn's words, its double space and double full stop included.
NEGATIVE_DISTANCES = ("Negative values in data passed to `pairwise_distances`. Precomputed "
                      "distance  need to have non-negative values..")


def _check_precomputed(X):
    """scikit-learn's checks of a precomputed distance matrix (dense or sparse): square, a
    diagonal of zeros up to 100 eps of its dtype, and no negative entry."""
    n_rows, n_cols = X.shape
    if n_rows != n_cols:
        raise ValueError(
            f"Precomputed metric requires shape (n_queries, n_indexed). Got "
            f"({n_rows}, {n_cols}) for {n_rows} indexed."
        )
    if is_sparse(X):
        diagonal = np.abs(X.diagonal())
        atol = float(np.finfo(X.dtype).eps) * 100
        if np.any(diagonal > atol):
            raise ValueError(NONZERO_DIAGONAL)
        if X.data.size and X.data.min() < 0:
            raise ValueError(NEGATIVE_DISTANCES)
        return
    xp = backend.namespace(X)
    diagonal = xp.reshape(X, (-1,))[:: n_rows + 1]
    atol = float(xp.finfo(X.dtype).eps) * 100
    if bool(xp.any(xp.abs(diagonal) > atol)):
        raise ValueError(NONZERO_DIAGONAL)
    if bool(xp.min(X) < 0):
        raise ValueError(NEGATIVE_DISTANCES)


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


def _cosine_rows(X):
    """Rows whose squared Euclidean distances are twice the cosine distances of X's rows
    (``centred_unit_rows``; the silhouette does not see the factor 2), or None when X has
    a zero row (its cosine distance, 1 to every row, has no such form)."""
    mean = unit_rows_mean(X)
    return None if mean is None else centred_unit_rows(X, mean)


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


def _device_sum_chunks(X, labels, n_labels, metric):
    """(start, stop, sums) over row chunks of X: sums (stop - start, n_labels) float64 of
    the distances from those rows to each label, by the ``pairwise_sums`` kernel (or a GEMM
    with the one-hot labels for a precomputed X), in X's namespace."""
    X, exact = _overflow_safe(X, metric)
    if metric == "cosine":
        rows = _cosine_rows(X)
        if rows is not None:
            X, metric = rows, "sqeuclidean"
    xp = backend.namespace(X)
    n_samples = X.shape[0]
    one_hot = None
    if metric == "precomputed" or exact:
        label_ids = xp.arange(n_labels, device=backend.device(X))
        one_hot = xp.astype(labels[:, None] == label_ids[None, :], xp.float64)
    row_bytes = 4 * 8 * n_labels
    if exact:
        # Three (rows, n_samples, n_features) float64 temporaries per chunk row.
        row_bytes += 3 * 8 * n_samples * X.shape[1]
    chunk = backend.row_chunk_size(n_samples, row_bytes, device=backend.device_of(X))
    if not exact:
        chunk = max(chunk, min(n_samples, MIN_SILHOUETTE_CHUNK_ROWS))
    for start in range(0, n_samples, chunk):
        stop = min(n_samples, start + chunk)
        if exact:
            sums = _exact_distance_sums(X, one_hot, start, stop)
        elif metric == "precomputed":
            sums = xp.astype(X[start:stop, :], xp.float64) @ one_hot
        else:
            sums = kernels.pairwise_sums(X, labels, n_labels, metric, start=start, stop=stop)
        yield start, stop, sums


def _host_sum_chunks(X, codes, n_labels, metric, kwds, boolean=False):
    """The same chunks as :func:`_device_sum_chunks`, from scikit-learn's
    ``pairwise_distances_chunked`` on the host (NumPy or SciPy sparse X), for every
    metric, callable and keyword argument scikit-learn takes, and for sparse X.

    Features are measured in float64 (a precomputed matrix is read as it is): a
    coefficient near 0 is a difference of two nearly equal means, which float32
    distances would blur (2e-6 relative on scikit-learn's own sparse test data).
    ``boolean``: X was bool before validation made it float; it is given back as
    bool, which scikit-learn's boolean metrics read without the DataConversionWarning
    they give for other dtypes.
    """
    n_samples = X.shape[0]
    if boolean:
        X = X.astype(bool)
    elif metric != "precomputed":
        X = X.astype(np.float64, copy=False)
    # SciPy's "sqeuclidean" takes no sparse rows (scikit-learn refuses them); the
    # square of scikit-learn's sparse Euclidean distances is the same distance.
    square = is_sparse(X) and metric == "sqeuclidean" and not kwds
    if square:
        metric = "euclidean"
    # Sparse one-hot labels: a block's per-label sums cost O(block size), whatever n_labels.
    one_hot = sp.csr_matrix((np.ones(n_samples), (np.arange(n_samples), codes)),
                            shape=(n_samples, n_labels))
    # Per row: its distances (float64, as scikit-learn counts them) and its sums.
    rows = backend.row_chunk_size(n_samples, 8 * n_samples + 4 * 8 * n_labels)
    # In MiB, as scikit-learn takes it; the extra bytes keep its floor() at ``rows``.
    working_memory = (rows * 8 * n_samples + 4) / 2**20

    def label_sums(D, start):
        if square:
            D = D * D
        sums = (one_hot.T @ D.T).T
        return (sums.toarray() if sp.issparse(sums) else np.asarray(sums)).astype(
            np.float64, copy=False)

    start = 0
    for sums in pairwise_distances_chunked(X, reduce_func=label_sums, metric=metric,
                                           working_memory=working_memory, **kwds):
        yield start, start + sums.shape[0], sums
        start += sums.shape[0]


def _silhouette_from_sums(chunks, codes, counts, like):
    """Silhouette coefficient of every row, float64, from the per-label distance sums of
    ``chunks``, in the namespace and on the device of ``like``."""
    xp = backend.namespace(like)
    device = backend.device(like)
    labels = backend.asarray_like(codes, like)
    sizes = backend.asarray_like(counts.astype(np.float64), like)
    label_ids = xp.arange(counts.shape[0], device=device)
    zero = xp.asarray(0.0, dtype=xp.float64, device=device)
    inf = xp.asarray(np.inf, dtype=xp.float64, device=device)
    intra, inter = [], []
    for start, stop, sums in chunks:
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


def _kernel_metric(metric, kwds):
    """The kernel's name for ``metric``, "precomputed", or None when the host computes it."""
    if metric == "precomputed":
        return metric
    if kwds or not isinstance(metric, str):
        return None
    return KERNEL_METRICS.get(metric)


def _reads_bool(X, metric):
    """Whether X (as the caller gave it) is bool and ``metric`` one of scikit-learn's
    boolean metrics, which then read it as it is."""
    if not (isinstance(metric, str) and metric in BOOLEAN_METRICS):
        return False
    dtype = X.dtype if hasattr(X, "dtype") else np.asarray(X).dtype
    return str(dtype).rsplit(".", 1)[-1] in ("bool", "bool_")


def _silhouette(X, codes, counts, metric, kwds, boolean=False):
    """Silhouette coefficients of validated X (dense, or CSR), float64, beside X."""
    if is_sparse(X):
        return _silhouette_from_sums(
            _host_sum_chunks(X, codes, counts.shape[0], metric, kwds, boolean), codes,
            counts, np.empty(0))
    kernel_metric = _kernel_metric(metric, kwds)
    if kernel_metric is None:
        chunks = _host_sum_chunks(backend.to_numpy(X), codes, counts.shape[0], metric, kwds,
                                  boolean)
        return backend.asarray_like(_silhouette_from_sums(chunks, codes, counts, np.empty(0)),
                                    X)
    labels = backend.asarray_like(codes, X)
    chunks = _device_sum_chunks(X, labels, counts.shape[0], kernel_metric)
    return _silhouette_from_sums(chunks, codes, counts, X)


def _validated(X, labels, metric, function_name):
    """X (dense array, or CSR for sparse input), label codes and cluster sizes, checked."""
    if is_sparse(X):
        X = check_sparse(X, estimator_name=function_name)
        codes, counts = _encode_labels(labels, X.shape[0])
    else:
        X, codes, counts = _prepare(X, labels, function_name)
    if metric == "precomputed":
        _check_precomputed(X)
    return X, codes, counts


def silhouette_samples(X, labels, *, metric="euclidean", **kwds):
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
        array-API array, a list, or a SciPy sparse matrix (computed on the host).
    labels : array of shape (n_samples,)
        Cluster labels, integer (any hashable values work); any array kind or list.
    metric : str or callable, default="euclidean"
        Distance between samples. "euclidean" ("l2"), "sqeuclidean" and
        "cosine" run on the ``pairwise_sums`` kernel, on X's device;
        "precomputed" takes X as a distance matrix with zeros on its
        diagonal; every other metric of ``sklearn.metrics.pairwise``, a
        callable ``f(x, y) -> float`` and sparse X take scikit-learn's
        ``pairwise_distances_chunked`` on the host, in row blocks.
    **kwds
        Keyword arguments of the metric (``p`` of "minkowski", ...), passed to
        ``sklearn.metrics.pairwise_distances``; with any of them the distances
        are computed on the host.

    Returns
    -------
    silhouette : array of shape (n_samples,)
        Values in [-1, 1], X's dtype, same array type and device as X (NumPy
        for sparse X).

    Raises
    ------
    InvalidParameterError
        (scikit-learn's; a ValueError and a TypeError) For an unknown metric, or
        X or labels that are not arrays.
    ValueError
        For NaN or infinity in X, labels of another length than X, fewer than
        2 or more than n_samples - 1 distinct labels, or a precomputed matrix
        that is not square or has non-zero diagonal entries.

    Notes
    -----
    O(n_samples^2 n_features) work in BLAS/cuBLAS GEMM tiles, with the
    per-cluster sums fused into the same pass (``kernels.pairwise_sums``);
    memory O(n_samples * n_labels) beyond X. Float32 data with entries whose
    squares would overflow is computed in float64; Euclidean float64 data with
    entries beyond about 1e150 (squares that overflow float64) takes exact
    differences instead of GEMM tiles, far slower; "sqeuclidean" distances that
    large do not fit in float64 and give NaN. The cosine silhouette is the squared
    Euclidean one of the unit rows (centred in float64), which keeps the small angles
    between rows far from the origin; with a zero row it is ``1 - cos`` in X's dtype.
    """
    check_params("silhouette_samples", X=X, labels=labels, metric=metric)
    boolean = _reads_bool(X, metric)
    X, codes, counts = _validated(X, labels, metric, "silhouette_samples")
    values = _silhouette(X, codes, counts, metric, kwds, boolean)
    if is_sparse(X):
        return values.astype(X.dtype)
    xp = backend.namespace(X)
    return backend.to_output(xp.astype(values, X.dtype), backend.describe_input(X))


def silhouette_score(X, labels, *, metric="euclidean", sample_size=None, random_state=None,
                     **kwds):
    """Mean silhouette coefficient of all samples.

    See :func:`silhouette_samples` for the coefficient. The best value is 1,
    the worst -1; values near 0 indicate overlapping clusters.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), or (n_samples, n_samples) when
        ``metric="precomputed"``
        float32 or float64; NumPy, CuPy, torch or any array-API array, a list,
        or a SciPy sparse matrix.
    labels : array of shape (n_samples,)
        Cluster labels, integer; any array kind or list.
    metric : str or callable, default="euclidean"
        As in :func:`silhouette_samples`.
    sample_size : int or None, default=None
        Score a random subset of this many samples instead of all of them.
    random_state : int, numpy.random.RandomState or None, default=None
        Seeds the choice of the subset; the same seed picks the same samples
        as ``sklearn.metrics.silhouette_score``.
    **kwds
        Keyword arguments of the metric, as in :func:`silhouette_samples`.

    Returns
    -------
    silhouette : float

    Raises
    ------
    InvalidParameterError
        As :func:`silhouette_samples`, and for a ``sample_size`` that is not an
        int >= 1 or a ``random_state`` that is not a seed, RandomState or None.
    ValueError
        As :func:`silhouette_samples`.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster.metrics import silhouette_score
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    >>> round(silhouette_score(X, [0, 0, 1, 1]), 4)
    0.9002
    """
    check_params("silhouette_score", X=X, labels=labels, metric=metric, sample_size=sample_size,
                 random_state=random_state)
    if distributed.is_dask_array(X) or distributed.is_dask_array(labels):
        return distributed.metrics.silhouette_score(
            X, labels, metric=metric, sample_size=sample_size, random_state=random_state, **kwds)
    boolean = _reads_bool(X, metric)
    if sample_size is not None:
        if is_sparse(X):
            X = check_sparse(X, estimator_name="silhouette_score")
        else:
            X = check_input(X, estimator_name="silhouette_score")
        labels = _host_labels(labels)
        check_consistent_length(X.shape[0], labels.shape[0])
        indices = check_random_state(random_state).permutation(X.shape[0])[:sample_size]
        X = _take_samples(X, indices, metric)
        labels = labels[indices]
    X, codes, counts = _validated(X, labels, metric, "silhouette_score")
    values = _silhouette(X, codes, counts, metric, kwds, boolean)
    return float(backend.namespace(values).mean(values))


def _take_samples(X, indices, metric):
    """The rows ``indices`` of X (and the same columns of a precomputed X)."""
    if is_sparse(X):
        X = X[indices]
        return X[:, indices].tocsr() if metric == "precomputed" else X
    xp = backend.namespace(X)
    rows = backend.asarray_like(indices.astype(np.int64), X)
    X = xp.take(X, rows, axis=0)
    return xp.take(X, rows, axis=1) if metric == "precomputed" else X


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


def _real_part(X):
    """A complex NumPy X as float64, its imaginary part dropped with NumPy's ComplexWarning,
    as scikit-learn's ``calinski_harabasz_score`` casts a NumPy X to float64 before its
    checks; any other X as it is (complex lists and arrays of other kinds are refused)."""
    if isinstance(X, np.ndarray) and X.dtype.kind == "c":
        return X.astype(np.float64)
    return X


def calinski_harabasz_score(X, labels):
    """Calinski-Harabasz score (variance ratio criterion).

    .. math:: CH = \\frac{\\mathrm{tr}(B) / (k - 1)}{\\mathrm{tr}(W) / (n - k)}

    the between-cluster dispersion over the within-cluster dispersion, each
    per degree of freedom. Higher is better.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        float32 or float64; NumPy, CuPy, torch or any array-API array, or a
        list. Sparse matrices are refused (InvalidParameterError, a TypeError),
        as in scikit-learn. A complex NumPy X is taken as its real part with
        NumPy's ComplexWarning, as scikit-learn's cast to float64 does.
    labels : array of shape (n_samples,)
        Cluster labels, integer; any array kind or list.

    Returns
    -------
    score : float
        1.0 when every cluster has zero within-cluster dispersion, as in sklearn.

    Raises
    ------
    InvalidParameterError
        (a ValueError and a TypeError) For sparse X, or X or labels that are not arrays.
    ValueError
        For NaN or infinity in X, labels of another length than X, or fewer
        than 2 or more than n_samples - 1 distinct labels.
    """
    check_params("calinski_harabasz_score", X=X, labels=labels)
    if distributed.is_dask_array(X) or distributed.is_dask_array(labels):
        return distributed.metrics.calinski_harabasz_score(X, labels)
    X, codes, counts = _prepare(_real_part(X), labels, "calinski_harabasz_score")
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
        float32 or float64; NumPy, CuPy, torch or any array-API array, or a
        list. Sparse matrices are refused (InvalidParameterError, a TypeError),
        as in scikit-learn.
    labels : array of shape (n_samples,)
        Cluster labels, integer; any array kind or list.

    Returns
    -------
    score : float
        0.0 when all clusters have zero spread or all centroids coincide, as in sklearn.

    Raises
    ------
    InvalidParameterError
        (a ValueError and a TypeError) For sparse X, or X or labels that are not arrays.
    ValueError
        For NaN or infinity in X, labels of another length than X, or fewer
        than 2 or more than n_samples - 1 distinct labels.
    """
    check_params("davies_bouldin_score", X=X, labels=labels)
    if distributed.is_dask_array(X) or distributed.is_dask_array(labels):
        return distributed.metrics.davies_bouldin_score(X, labels)
    X, codes, counts = _prepare(X, labels, "davies_bouldin_score")
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
