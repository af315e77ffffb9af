"""The decompositions behind ``PCA``: sign convention, randomized SVD, ARPACK, row-chunked products.

Everything here takes and returns arrays of one array-API namespace and
device (NumPy, CuPy, torch, array_api_strict), except ``arpack_svd``, which
runs SciPy's ARPACK on the host and hands its result back in the caller's
namespace. Random draws are made on the host with NumPy, as scikit-learn
makes them, so a seed gives scikit-learn's starting vectors on every backend.
"""

import numpy as np

from .. import backend

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
    """The sum of the squared entries of Z (n, d) as a Python float, in float64 chunk sums."""
    xp = backend.namespace(Z)
    total = [0.0]

    def step(start, stop):
        block = Z[start:stop, :]
        total[0] += float(xp.sum(xp.astype(block * block, xp.float64)))

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


def arpack_svd(Z, n_components, *, tol, random_state):
    """Truncated SVD of Z by ARPACK (``scipy.sparse.linalg.svds``) on the host, largest first.

    The starting vector is scikit-learn's (``random_state.uniform(-1, 1,
    min(Z.shape))``). Returns U (n, k), S (k,), Vt (k, m) in Z's namespace,
    device and dtype, with signs as they come.
    """
    from scipy.sparse.linalg import svds

    host = np.asarray(backend.to_numpy(Z))
    v0 = random_state.uniform(-1, 1, min(host.shape))
    U, S, Vt = svds(host, k=n_components, tol=tol, v0=v0)
    # svds returns the singular values in increasing order.
    U, S, Vt = U[:, ::-1], S[::-1], Vt[::-1]
    return tuple(backend.asarray_like(np.ascontiguousarray(a), Z) for a in (U, S, Vt))
