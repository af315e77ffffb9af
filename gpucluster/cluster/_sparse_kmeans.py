"""k-means on sparse X: the operations k-means applies to X, for SciPy and CuPy sparse matrices.

``KMeans`` and ``MiniBatchKMeans`` take CSR and CSC input (any real dtype)
as scikit-learn's do, and X stays sparse: nearest centres come from the
sparse-dense product :math:`X C^T` in row chunks, with
:math:`|x - c|^2 = |x|^2 - 2 x \\cdot c + |c|^2`, so only a (chunk,
n_clusters) block is ever dense; the per-centre sums go through a sparse
indicator matrix, :math:`S = M X` with :math:`M_{l_i, i} = w_i`, in float64.
Only small pieces are made dense: the k centres, a k-means++ candidate, a
row that re-seeds an empty cluster, one chunk while it is searched.

Every function here has the name and the signature of the operation that
``kmeans.py`` applies to a dense X (``DENSE`` there): ``assign``,
``lloyd_step``, ``seeding_update`` and ``seeding_potentials`` mirror the
kernels of ``gpucluster.kernels``, with their order of operations, so a
sparse X gives the labels and inertia of the same X made dense. ``kmeans.py``
picks one set at its input (``data_ops``) and runs the same Lloyd loop,
seeding and mini-batch steps on both. Everything uses only the matrix's own
methods (``@``, ``power``, ``toarray``, row indexing) and the array API on
its ``data``, so SciPy matrices compute with NumPy on the host and
``cupyx.scipy.sparse`` matrices with CuPy on the GPU.
"""

import numpy as np

from .. import backend
from .._sparse import sparse_module

# The kernel metrics k-means uses (see kmeans._KERNEL_METRIC): the squared
# Euclidean distance, and the negated inner product of unit rows for cosine.
METRICS = ("sqeuclidean", "inner_product")


def values(X):
    """X's stored values: the dense array that carries its namespace, device and dtype."""
    return X.data


def row_width(X):
    """Values stored per row, on average (at least 1)."""
    return int(X.nnz) // max(1, X.shape[0]) + 1


def _namespace(X):
    return backend.namespace(X.data)


# --------------------------------------------------------------------------
# Rows


def rows(X, indices):
    """The rows of X at ``indices`` (any integer array), still sparse."""
    return X[backend.to_numpy(indices) if backend.device_of(X.data) == "cpu"
             else backend.asarray_like(indices, X.data)]


def dense(X):
    """A small sparse block (a batch, a chunk, a few rows) as a dense array of X's dtype."""
    return X.toarray()


def row_norms_sq(X):
    """Squared L2 norm of every row (n,), summed in X's dtype as the dense path does, as float64."""
    xp = _namespace(X)
    ones = xp.ones(X.shape[1], dtype=X.dtype, device=backend.device(X.data))
    return xp.astype(X.power(2) @ ones, xp.float64)


def column_mean(X):
    """Mean of every column (d,), in X's dtype (summed in float64)."""
    xp = _namespace(X)
    X64 = X if X.dtype == np.float64 else X.astype(np.float64)
    ones = xp.ones(X.shape[0], dtype=xp.float64, device=backend.device(X.data))
    return xp.astype((X64.T @ ones) / X.shape[0], X.dtype)


def normalize_rows(X):
    """X with every row scaled to unit L2 norm, still sparse; all-zero rows stay zero.

    Each stored value is divided by its row's norm in X's dtype, as
    ``unit_rows`` divides a dense row.
    """
    xp = _namespace(X)
    device = backend.device(X.data)
    norms = xp.sqrt(row_norms_sq(X))
    norms = xp.astype(xp.where(norms > 0, norms, xp.ones_like(norms)), X.dtype)
    # The row of every stored value (CuPy's repeat takes no array of counts).
    row_ends = xp.astype(backend.asarray_like(X.indptr[1:], X.data), xp.int64)
    rows_of_values = xp.searchsorted(
        row_ends, xp.arange(int(X.nnz), dtype=xp.int64, device=device), side="right"
    )
    unit = X.copy()
    unit.data = X.data / xp.take(norms, rows_of_values)
    return unit


def _dense_sq_norms(A):
    xp = backend.namespace(A)
    A64 = xp.astype(A, xp.float64)
    return xp.sum(A64 * A64, axis=1)


def pairwise_distances(X, Y, metric="sqeuclidean"):
    """Distances (n, m) from the rows of a sparse X to the rows of a dense Y, in X's dtype.

    As ``gpucluster._distances.pairwise_distances``: "sqeuclidean",
    "euclidean" from :math:`|x|^2 - 2 x \\cdot y + |y|^2` in float64 clipped
    at 0, or "cosine" (1 - cosine similarity, 1 for a zero row).
    """
    xp = _namespace(X)
    X64 = X if X.dtype == np.float64 else X.astype(np.float64)
    Y64 = xp.astype(Y, xp.float64)
    if metric == "cosine":
        y_norms = xp.sqrt(_dense_sq_norms(Y64))
        Y_unit = Y64 / xp.where(y_norms > 0, y_norms, xp.ones_like(y_norms))[:, None]
        D = 1.0 - normalize_rows(X64) @ Y_unit.T
    elif metric in ("sqeuclidean", "euclidean"):
        D = row_norms_sq(X64)[:, None] - 2.0 * (X64 @ Y64.T) + _dense_sq_norms(Y64)[None, :]
        D = xp.maximum(D, xp.zeros_like(D))
        if metric == "euclidean":
            D = xp.sqrt(D)
    else:
        raise ValueError(f"metric must be 'sqeuclidean', 'euclidean' or 'cosine', got {metric!r}.")
    return xp.astype(D, X.dtype)


# --------------------------------------------------------------------------
# Nearest centres


def _chunk_rows(X, columns):
    """Rows per chunk: a few (chunk, columns) float64 blocks, plus the chunk's values."""
    per_row = 4 * 8 * columns + 16 * row_width(X)
    return backend.row_chunk_size(X.shape[0], per_row, device=backend.device_of(X.data))


def _check_metric(metric):
    if metric not in METRICS:
        raise ValueError(f"Sparse X takes metric {METRICS}, got {metric!r}.")


def _nearest(X, centers, sample_weight, metric, x_sq_norms, accumulate):
    """Labels, distances and (with ``accumulate``) the float64 per-centre sums and weights."""
    _check_metric(metric)
    xp = _namespace(X)
    device = backend.device(X.data)
    n, k = X.shape[0], centers.shape[0]
    centers = xp.astype(centers, X.dtype)
    centers_t = centers.T
    # The kernels' scores, offsets[j] + scale * (x . c_j), in X's dtype.
    if metric == "sqeuclidean":
        offsets = xp.astype(_dense_sq_norms(centers), X.dtype)
        scale = -2.0
        x_sq = row_norms_sq(X) if x_sq_norms is None else xp.astype(x_sq_norms, xp.float64)
    else:
        offsets = xp.zeros(k, dtype=X.dtype, device=device)
        scale = -1.0
    labels = xp.empty(n, dtype=xp.int32, device=device)
    distances = xp.empty(n, dtype=X.dtype, device=device)
    sums = xp.zeros((k, X.shape[1]), dtype=xp.float64, device=device)
    weights = xp.zeros(k, dtype=xp.float64, device=device)
    lib = sparse_module(X)

    def step(start, stop):
        nonlocal sums, weights
        block = X[start:stop] @ centers_t
        scores = offsets[None, :] + scale * block
        chunk_labels = xp.astype(xp.argmin(scores, axis=1), xp.int32)  # ties: lowest index
        best = xp.min(scores, axis=1)
        if metric == "sqeuclidean":
            best = xp.maximum(xp.astype(best, xp.float64) + x_sq[start:stop], 0.0)
        labels[start:stop] = chunk_labels
        distances[start:stop] = xp.astype(best, X.dtype)
        if accumulate:
            m = stop - start
            w = (xp.ones(m, dtype=xp.float64, device=device) if sample_weight is None
                 else xp.astype(sample_weight[start:stop], xp.float64))
            # M (k, m) with M[label_i, i] = w_i: built as its one-entry-per-row transpose.
            indicator = lib.csr_matrix(
                (w, chunk_labels, xp.arange(m + 1, dtype=xp.int32, device=device)), shape=(m, k)
            ).T.tocsr()
            sums = sums + (indicator @ X[start:stop].astype(np.float64)).toarray()
            weights = weights + backend.bincount(chunk_labels, weights=w, minlength=k)

    backend.for_each_chunk(n, _chunk_rows(X, k), step)
    return labels, distances, sums, weights


def assign(X, centers, metric="sqeuclidean", *, x_sq_norms=None, with_distances=True):
    """Nearest centre of every row of a sparse X, and the distance to it (as ``kernels.assign``).

    Parameters
    ----------
    X : SciPy or CuPy sparse CSR matrix (n_samples, n_features), float32 or float64
    centers : dense array (n_clusters, n_features) in the namespace of X's values
    metric : {"sqeuclidean", "inner_product"}
    x_sq_norms : array (n_samples,) or None (computed here)
    with_distances : bool
        False returns an empty array for the distances, as ``kernels.assign`` does.

    Returns
    -------
    labels : array (n_samples,) int32, ties to the lowest index
    distances : array (n_samples,) in X's dtype (the negated inner product for "inner_product")
    """
    labels, distances, _, _ = _nearest(X, centers, None, metric, x_sq_norms, False)
    return labels, distances if with_distances else distances[:0]


def lloyd_step(X, centers, sample_weight=None, metric="sqeuclidean", *, x_sq_norms=None,
               with_distances=True):
    """``assign`` plus every centre's weighted row sums (k, d) and weight (k,), both float64.

    The sums are :math:`M X` for the sparse indicator :math:`M_{l_i, i} = w_i`,
    chunk by chunk, so no dense copy of X is made. Without ``with_distances``
    the distances come back empty, as from ``kernels.lloyd_step``.
    """
    labels, distances, sums, weights = _nearest(X, centers, sample_weight, metric, x_sq_norms,
                                                True)
    return labels, distances if with_distances else distances[:0], sums, weights


# --------------------------------------------------------------------------
# k-means++ seeding


def seeding_update(X, x_sq_norms, center, closest_sq, *, center_sq_norm=None):
    """closest_sq = min(closest_sq, |x - center|^2) for a sparse X (as ``kernels.seeding_update``).

    The distance is :math:`(|c|^2 - 2 x \\cdot c) + |x|^2` clipped at 0 in X's
    dtype, the kernel's order of operations. Returns the updated array.
    """
    xp = _namespace(X)
    center = xp.astype(center, X.dtype)
    c_sq = (float(_dense_sq_norms(center[None, :])[0]) if center_sq_norm is None
            else float(center_sq_norm))
    c_sq = xp.asarray(c_sq, dtype=X.dtype, device=backend.device(X.data))
    dist = xp.maximum((c_sq - 2.0 * (X @ center)) + xp.astype(x_sq_norms, X.dtype), 0.0)
    return xp.minimum(closest_sq, xp.astype(dist, X.dtype))


def seeding_potentials(X, x_sq_norms, candidates, closest_sq, sample_weight=None, *, out=None,
                       candidate_sq_norms=None):
    """k-means++ potential of each candidate for a sparse X (as ``kernels.seeding_potentials``).

    .. math:: \\phi_j = \\sum_i w_i \\min(D_i, |x_i - c_j|^2)

    summed in float64, in row chunks of X so that only a (chunk,
    n_candidates) block is dense. ``out`` (n_candidates, n_samples), when
    given, receives every :math:`\\min(D_i, |x_i - c_j|^2)`.
    """
    xp = _namespace(X)
    device = backend.device(X.data)
    n, t = X.shape[0], candidates.shape[0]
    candidates = xp.astype(candidates, X.dtype)
    c_sq = xp.astype(_dense_sq_norms(candidates) if candidate_sq_norms is None
                     else candidate_sq_norms, X.dtype)
    x_sq = xp.astype(x_sq_norms, X.dtype)
    weights = (xp.ones(n, dtype=xp.float64, device=device) if sample_weight is None
               else xp.astype(sample_weight, xp.float64))
    potentials = xp.zeros(t, dtype=xp.float64, device=device)
    candidates_t = candidates.T

    def step(start, stop):
        nonlocal potentials
        dist = xp.maximum((c_sq[None, :] - 2.0 * (X[start:stop] @ candidates_t))
                          + x_sq[start:stop, None], 0.0)
        lowest = xp.minimum(closest_sq[start:stop, None], xp.astype(dist, X.dtype))
        if out is not None:
            out[:, start:stop] = lowest.T
        potentials = potentials + xp.sum(xp.astype(lowest, xp.float64)
                                         * weights[start:stop, None], axis=0)

    backend.for_each_chunk(n, _chunk_rows(X, t), step)
    return potentials
