"""The decompositions behind ``PCA``: sign convention, randomized SVD, ARPACK, row-chunked products.

Everything here takes and returns arrays of one array-API namespace and
device (NumPy, CuPy, torch, array_api_strict). Three functions choose a
library by where the data lives, and this module is the one place PCA makes
that choice: ``full_svd`` hands host arrays to SciPy's LAPACK ``gesdd``
(what scikit-learn calls; about twice as fast as ``numpy.linalg.svd`` with
NumPy's bundled LAPACK) and device arrays to ``xp.linalg.svd``;
``symmetric_eigh`` does the same for the covariance, computing only the
wanted eigenpairs on the host; ``arpack_svd`` runs SciPy's ARPACK on the host and hands its result back in
the caller's namespace. Random draws are made on the host with NumPy, as
scikit-learn makes them, so a seed gives scikit-learn's starting vectors on
every backend.
"""

import numpy as np

from .. import backend
from .._distances import row_norms_sq

# Temporaries per row of a chunk, in units of X's row: the centred rows and
# their product (the first dominates).
_CHUNK_ROW_COPIES = 2


def svd_flip(u, v, u_based_decision=True):
    """Fix the signs of an SVD so that the result is deterministic (scikit-learn's ``svd_flip``).

    With ``u_based_decision`` each column of ``u`` has its largest-magnitude
    entry made positive; otherwise each row of ``v`` does. The same signs
    are applied to the matching rows of ``v`` (columns of ``u``), so
    ``(u * s) @ v`` is unchanged.

    Parameters
    ----------
    u : array of shape (n, r) or None (allowed when ``u_based_decision`` is False)
    v : array of shape (r, m) or None (allowed when ``u_based_decision`` is True)
        Float arrays of one namespace and device.

    Returns
    -------
    u, v : new arrays of the same shapes, namespace and device (None stays None).
    """
    xp = backend.namespace(*(a for a in (u, v) if a is not None))
    basis = u.T if u_based_decision else v
    n_rows, n_cols = basis.shape
    if n_rows == 0:
        return u, v
    biggest = xp.argmax(xp.abs(basis), axis=1)
    shift = xp.arange(n_rows, dtype=biggest.dtype, device=backend.device(basis)) * n_cols
    signs = xp.sign(xp.take(xp.reshape(basis, (-1,)), biggest + shift, axis=0))
    if u is not None:
        u = u * signs[None, :]
    if v is not None:
        v = v * signs[:, None]
    return u, v


def chunk_rows(X):
    """Rows per chunk for the row-chunked passes over X, from the memory budget or free GPU memory."""
    n_samples, n_features = X.shape
    itemsize = 8 if X.dtype == backend.namespace(X).float64 else 4
    return backend.row_chunk_size(n_samples, _CHUNK_ROW_COPIES * itemsize * n_features,
                                  device=backend.device_of(X))


def column_mean(X):
    """Mean of every column of X (n, d): (d,) in X's namespace, device and dtype (float64 sums)."""
    return backend.column_mean(X)


def scatter_matrix(X, mean):
    """:math:`\\sum_i (x_i - \\mu)(x_i - \\mu)^T`, shape (n_features, n_features), float64.

    Each chunk of rows is centred (a copy of the chunk only) and multiplied in
    X's dtype; the chunk products add up in float64. Centring first avoids the
    cancellation of :math:`X^T X - n \\mu \\mu^T`, which loses the digits of a
    small spread around a large mean (float32 embeddings far from the origin).
    """
    xp = backend.namespace(X)
    n_features = X.shape[1]
    total = [xp.zeros((n_features, n_features), dtype=xp.float64, device=backend.device(X))]

    def step(start, stop):
        Z = X[start:stop, :] - mean
        total[0] = total[0] + xp.astype(Z.T @ Z, xp.float64)

    backend.for_each_chunk(X.shape[0], chunk_rows(X), step)
    return total[0]


def sum_of_squares(Z):
    """The sum of the squared entries of Z (n, d) as a Python float.

    Each row's sum is taken in Z's dtype (``vecdot``, no squared copy of the
    chunk), the rows' sums in float64: 0.02 s against 0.18 s for a float64
    copy of the squares at 200,000 x 512 float32.
    """
    xp = backend.namespace(Z)
    total = [0.0]

    def step(start, stop):
        total[0] += float(xp.sum(row_norms_sq(Z[start:stop, :])))

    backend.for_each_chunk(Z.shape[0], chunk_rows(Z), step)
    return total[0]


def centred_product(X, mean, components):
    """``(X - mean) @ components.T`` in row chunks (no full centred copy of X); shape (n, k)."""
    xp = backend.namespace(X)
    blocks = []

    def step(start, stop):
        blocks.append((X[start:stop, :] - mean) @ components.T)

    backend.for_each_chunk(X.shape[0], chunk_rows(X), step)
    return blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=0)


def _normalizer(name, M):
    """The power-iteration step ``A -> orthonormal-ish basis of A``'s columns for a normalizer name.

    "LU" is SciPy's LU with the permutation folded into L, on NumPy arrays
    only (the array API has no LU); other namespaces use QR instead, which
    spans the same columns and is more stable.
    """
    if name == "none":
        return lambda A: A
    if name == "LU" and backend.array_kind(M) == "numpy":
        from scipy import linalg

        return lambda A: linalg.lu(A, permute_l=True, check_finite=False)[0]
    xp = backend.namespace(M)
    return lambda A: xp.linalg.qr(A, mode="reduced")[0]


def randomized_svd(M, n_components, *, n_oversamples, n_iter, power_iteration_normalizer,
                   random_state):
    """Truncated SVD of M by the randomized range finder of Halko et al. (2011).

    scikit-learn's ``_randomized_svd`` (``transpose="auto"``, ``flip_sign=False``)
    written against the array API: the Gaussian test matrix is drawn on the
    host with ``random_state.normal`` (scikit-learn's draws, cast to float32
    for float32 M), then power iterations, a QR and a small SVD run in M's
    namespace and on its device.

    Parameters
    ----------
    M : array of shape (n, m), float32 or float64
    n_components : int, 1 <= n_components <= min(n, m)
    n_oversamples : int
    n_iter : int or "auto"
        "auto": 7 when ``n_components < 0.1 * min(n, m)``, else 4.
    power_iteration_normalizer : {"auto", "QR", "LU", "none"}
        "auto": "none" for ``n_iter <= 2``, else "LU" on NumPy and "QR" elsewhere.
    random_state : numpy.random.RandomState

    Returns
    -------
    U : array (n, n_components), S : array (n_components,), Vt : array (n_components, m)
        In M's namespace, device and dtype; signs as they come (see ``svd_flip``).
    """
    xp = backend.namespace(M)
    n_samples, n_features = M.shape
    if n_iter == "auto":
        # scikit-learn's choice: 7 was found a good compromise for PCA (its #5299).
        n_iter = 7 if n_components < 0.1 * min(n_samples, n_features) else 4
    transpose = n_samples < n_features
    if transpose:
        M = M.T
    normalizer = power_iteration_normalizer
    if normalizer == "auto":
        normalizer = "none" if n_iter <= 2 else "LU"
    normalize = _normalizer(normalizer, M)
    Q = random_state.normal(size=(M.shape[1], n_components + n_oversamples))
    if M.dtype == xp.float32:
        Q = Q.astype(np.float32)
    Q = xp.astype(backend.asarray_like(Q, M), M.dtype)
    for _ in range(n_iter):
        Q = normalize(M @ Q)
        Q = normalize(M.T @ Q)
    Q = xp.linalg.qr(M @ Q, mode="reduced")[0]
    Uhat, S, Vt = xp.linalg.svd(Q.T @ M, full_matrices=False)
    U = Q @ Uhat
    if transpose:
        return Vt[:n_components, :].T, S[:n_components], U[:, :n_components].T
    return U[:, :n_components], S[:n_components], Vt[:n_components, :]


def full_svd(Z, *, overwrite=False):
    """Thin SVD of Z (n, m): ``U`` (n, r), ``S`` (r,), ``Vt`` (r, m) with r = min(n, m).

    Host arrays (NumPy, torch CPU, array_api_strict) go to SciPy's LAPACK
    ``gesdd`` through a NumPy view, without SciPy's finiteness pass (the
    input has been checked); CUDA arrays to ``xp.linalg.svd`` (cuSOLVER).
    Results are in Z's namespace, device and dtype, signs as they come
    (see ``svd_flip``).

    Parameters
    ----------
    Z : array of shape (n, m), float32 or float64
    overwrite : bool
        Z is a scratch copy that LAPACK may destroy (saves a copy on the host).
    """
    if backend.is_cuda_array(Z):
        xp = backend.namespace(Z)
        return xp.linalg.svd(Z, full_matrices=False)
    from scipy import linalg

    U, S, Vt = linalg.svd(backend.host_view(Z), full_matrices=False, lapack_driver="gesdd",
                          check_finite=False, overwrite_a=overwrite)
    return tuple(backend.wrap_like(a, Z) for a in (U, S, Vt))


# Below this share of the spectrum, LAPACK's MRRR (syevr) for the wanted eigenpairs
# only beats the divide-and-conquer of the whole spectrum (syevd): about 3x at
# 50 of 2,000, even at a third, slower past a half.
_SUBSET_MAX_SHARE = 1 / 3


def symmetric_eigh(C, n_largest=None):
    """Eigenpairs of symmetric C (d, d) by decreasing eigenvalue: ``values`` (m,), ``vectors`` (d, m).

    m is d, or ``n_largest`` (1 <= n_largest <= d) when only the largest are
    wanted. Host arrays go to SciPy's LAPACK through a NumPy view: ``syevr``
    for the wanted pairs alone when they are at most a third of the
    spectrum, else ``syevd`` (NumPy's driver); CUDA arrays to ``xp.linalg.eigh``
    (cuSOLVER), whose full result is cut. In C's namespace, device and dtype;
    eigenvector signs as they come.
    """
    d = C.shape[0]
    m = d if n_largest is None else int(n_largest)
    if backend.is_cuda_array(C):
        xp = backend.namespace(C)
        values, vectors = xp.linalg.eigh(C)
        return xp.flip(values[d - m:], axis=0), xp.flip(vectors[:, d - m:], axis=1)
    from scipy import linalg

    if m <= _SUBSET_MAX_SHARE * d:
        values, vectors = linalg.eigh(backend.host_view(C), driver="evr",
                                      subset_by_index=[d - m, d - 1], check_finite=False)
    else:
        values, vectors = linalg.eigh(backend.host_view(C), driver="evd", check_finite=False)
        values, vectors = values[d - m:], vectors[:, d - m:]
    return (backend.wrap_like(np.ascontiguousarray(values[::-1]), C),
            backend.wrap_like(np.ascontiguousarray(vectors[:, ::-1]), C))


def arpack_svd(Z, n_components, *, tol, random_state, like=None):
    """Truncated SVD of Z by ARPACK (``scipy.sparse.linalg.svds``) on the host, largest first.

    Parameters
    ----------
    Z : array of shape (n, m), any namespace and device, or a host
        ``scipy.sparse.linalg.LinearOperator`` (an implicitly centred sparse
        matrix, see ``_sparse_pca.centred_operator``)
    n_components : int, 1 <= n_components < min(n, m)
    tol : float, ARPACK's tolerance (0: machine precision)
    random_state : numpy.random.RandomState
        The starting vector is scikit-learn's (``random_state.uniform(-1, 1, min(Z.shape))``).
    like : array or None
        Where the result goes (namespace, device, dtype); None: Z itself.

    Returns
    -------
    U (n, k), S (k,), Vt (k, m) in ``like``'s namespace, device and dtype,
    with signs as they come.

    Notes
    -----
    An all-zero Z (constant rows once centred) gives zero singular values and
    the first unit vectors, what ``full_svd`` (LAPACK) gives: since arpack-ng
    3.6 (SciPy 1.15) ARPACK stops there with "error -9: Starting vector is
    zero" (arpack-ng#215, scipy#21137), which scikit-learn 1.9.1 passes on
    for ``np.ones`` rows, while float32 constant rows whose float32 mean
    leaves a rounding residue fit there with zero variances.
    """
    from scipy.sparse.linalg import ArpackError, LinearOperator, svds

    host = Z if isinstance(Z, LinearOperator) else np.asarray(backend.to_numpy(Z))
    v0 = random_state.uniform(-1, 1, min(host.shape))
    try:
        U, S, Vt = svds(host, k=n_components, tol=tol, v0=v0)
    except ArpackError as error:
        # SciPy keeps the code only in the message.
        if not str(error).startswith("ARPACK error -9:") or not _is_zero(host):
            raise
        U, S, Vt = _zero_svd(host.shape, n_components, host.dtype)
    else:
        # svds returns the singular values in increasing order.
        U, S, Vt = U[:, ::-1], S[::-1], Vt[::-1]
    like = Z if like is None else like
    return tuple(backend.asarray_like(np.ascontiguousarray(a), like) for a in (U, S, Vt))


def _is_zero(host):
    """Whether the host matrix or ``LinearOperator`` is all zeros (an operator: its product
    with a random vector, which is zero only for the zero operator, almost surely)."""
    if isinstance(host, np.ndarray):
        return not np.any(host)
    probe = np.random.RandomState(0).uniform(-1, 1, host.shape[1])
    return not np.any(host.matvec(probe))


def _zero_svd(shape, k, dtype):
    """``(U, S, Vt)`` of the (n, m) zero matrix, k triplets: the first unit vectors and zeros,
    as LAPACK's SVD gives them."""
    n, m = shape
    return np.eye(n, k, dtype=dtype), np.zeros(k, dtype=dtype), np.eye(k, m, dtype=dtype)
