"""PCA on a sparse X that stays sparse: SciPy and CuPy (``cupyx.scipy.sparse``) matrices.

scikit-learn's PCA takes CSR and CSC input with the "arpack" and
"covariance_eigh" solvers, centring implicitly; so does gpucluster's, and
these are the operations it applies to such an X. Only (n_features,)
vectors, the (n_features, n_features) covariance and the (n_samples,
n_components) projections are dense; X itself never is:

- the covariance is :math:`(X^T X - n \\mu \\mu^T) / (n - 1)`, from the
  sparse product :math:`X^T X` in float64;
- ARPACK sees :math:`X - 1 \\mu^T` as a ``LinearOperator`` whose products
  subtract the mean's contribution (scikit-learn's ``_implicit_column_offset``);
- the total variance comes from the stored values and the count of implicit
  zeros per column, :math:`\\sum (x - \\mu_j)^2 + (n - c_j) \\mu_j^2`, with
  no cancellation;
- a projection is :math:`X W^T - \\mu W^T`.

Each function works on the matrix's own methods (``@``, ``astype``,
``toarray`` of the small product) and the array API on its buffers, so a
SciPy matrix computes with NumPy on the host and a cupyx one with CuPy on
its GPU; ARPACK alone runs on the host, as it does for dense X.
"""

import numpy as np

from .. import backend
from .._sparse import sparse_to_device


def _namespace(X):
    return backend.namespace(X.data)


def _as_float64(X):
    return X if X.dtype == np.float64 else X.astype(np.float64)


def column_mean(X):
    """Mean of every column of sparse X (n, d): (d,) float64, in the namespace of X's values."""
    xp = _namespace(X)
    ones = xp.ones(X.shape[0], dtype=xp.float64, device=backend.device(X.data))
    return (_as_float64(X).T @ ones) / X.shape[0]


def scatter_matrix(X, mean):
    """:math:`X^T X - n \\mu \\mu^T` (d, d), float64 and dense, from the sparse product of X.

    The sparse twin of ``_svd.scatter_matrix``: the same matrix, without
    centring (and so densifying) X. ``mean`` is X's column mean, (d,).
    """
    xp = _namespace(X)
    X64 = _as_float64(X)
    gram = (X64.T @ X64).toarray()
    mean = xp.astype(mean, xp.float64)
    return gram - X.shape[0] * (mean[:, None] * mean[None, :])


def centred_sum_of_squares(X, mean):
    """:math:`\\sum_{ij} (x_{ij} - \\mu_j)^2` over every entry of X, implicit zeros included.

    X is a canonical CSR matrix (no repeated entries, as ``_sparse_input.check_canonical_csr``
    makes it); summed in float64 without forming :math:`\\sum x^2 - n |\\mu|^2`.
    Returns a Python float.
    """
    xp = _namespace(X)
    mean = xp.astype(mean, xp.float64)
    columns = xp.astype(backend.asarray_like(X.indices, X.data), xp.int64)
    deviations = xp.astype(X.data, xp.float64) - xp.take(mean, columns)
    stored = xp.sum(deviations * deviations)
    counts = xp.astype(backend.bincount(columns, minlength=X.shape[1]), xp.float64)
    absent = xp.sum((X.shape[0] - counts) * mean * mean)
    return float(stored) + float(absent)


def centred_operator(X, mean):
    """X - 1 mean^T as a host ``scipy.sparse.linalg.LinearOperator`` in X's dtype, for ARPACK.

    The products are scikit-learn's (``sklearn.utils.sparsefuncs._implicit_column_offset``):
    ``X @ V - mean @ V`` and ``X.T @ U - mean.T @ sum(U)``. A cupyx X is copied to the host
    (its stored values only).
    """
    from scipy.sparse.linalg import LinearOperator

    X = sparse_to_device(X, "cpu")
    row = np.asarray(backend.to_numpy(mean), dtype=X.dtype).reshape(1, -1)
    XT = X.T

    def matmat(V):
        return X @ V - row @ V

    def rmatvec(u):
        # u is (n,) or (n, 1); the mean's column takes u's shape.
        return XT @ u - row[0].reshape((-1,) + (1,) * (u.ndim - 1)) * u.sum()

    def rmatmat(U):
        return XT @ U - row.T @ U.sum(axis=0)[None, :]

    return LinearOperator(X.shape, matvec=matmat, matmat=matmat, rmatvec=rmatvec,
                          rmatmat=rmatmat, dtype=X.dtype)


def centred_product(X, mean, components):
    """``(X - mean) @ components.T`` as ``X @ components.T - mean @ components.T``: (n, k) dense.

    ``mean`` (d,) and ``components`` (k, d) are dense arrays of X's dtype in
    the namespace and on the device of X's values; the result is too.
    """
    projected = X @ components.T
    return projected - (mean[None, :] @ components.T)
