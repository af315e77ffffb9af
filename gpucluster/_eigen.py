"""Sparse graphs and symmetric eigensolvers, on the host (SciPy) or on the GPU (cupyx).

Spectral clustering needs a few things the array API does not have: sparse
matrices, a Lanczos solver, LOBPCG, a linear-operator wrapper, QR with
column pivoting and (optionally) an algebraic-multigrid preconditioner.
Each has a SciPy and a CuPy twin; this module is the one place that picks
between them, by the kind of array it is handed (NumPy for host data, CuPy
for CUDA data), so the algorithm in ``cluster/_spectral_embedding`` and
``cluster/spectral`` reads the same on both. It sits beside ``backend`` and
``_sparse``, where the library differences live. CuPy, cupyx and pyamg are imported
only when used.
"""

import inspect

import numpy as np

from . import backend
from ._sparse import is_sparse, sparse_module
from .kernels.arrays import array_module


def _on_gpu(x):
    """Whether x (an array or a sparse matrix) lives on a CUDA device."""
    if is_sparse(x):
        return type(x).__module__.startswith("cupyx")
    return backend.is_cuda_array(x)


def native(x):
    """x as the array its library's solvers take: a NumPy array for host data (torch CPU and
    array_api_strict are viewed without a copy), a CuPy array for CUDA data. Sparse
    matrices are returned as they are."""
    if is_sparse(x):
        return x
    return backend.cuda_view(x) if backend.is_cuda_array(x) else backend.host_view(x)


def _linalg(like):
    """``scipy.sparse.linalg`` or ``cupyx.scipy.sparse.linalg``, as ``like`` lives."""
    if _on_gpu(like):
        import cupyx.scipy.sparse.linalg

        return cupyx.scipy.sparse.linalg
    import scipy.sparse.linalg

    return scipy.sparse.linalg


def _sparse_for(like):
    """``scipy.sparse`` or ``cupyx.scipy.sparse`` for an array (or sparse matrix) ``like``."""
    if is_sparse(like):
        return sparse_module(like)
    if _on_gpu(like):
        import cupyx.scipy.sparse

        return cupyx.scipy.sparse
    import scipy.sparse

    return scipy.sparse


def csr_from_coordinates(values, rows, cols, n):
    """An (n, n) CSR matrix with ``values[e]`` at ``(rows[e], cols[e])``, repeats summed.

    Parameters
    ----------
    values : array (n_entries,), float64; NumPy or CuPy (``native`` arrays)
    rows, cols : arrays (n_entries,), integer, values in [0, n); same library as ``values``

    Returns
    -------
    A ``scipy.sparse.csr_matrix`` for NumPy input, a ``cupyx.scipy.sparse.csr_matrix``
    for CuPy input.
    """
    module = _sparse_for(values)
    if _on_gpu(values):
        rows, cols = rows.astype(np.int32), cols.astype(np.int32)  # cuSPARSE's index type
    matrix = module.coo_matrix((values, (rows, cols)), shape=(n, n)).tocsr()
    matrix.sum_duplicates()
    return matrix


def coordinates(A):
    """``(rows, cols, values)`` of the stored entries of sparse A, as NumPy or CuPy arrays."""
    coo = A.tocoo()
    return coo.row, coo.col, coo.data


def diagonal_matrix(values, like):
    """The sparse diagonal matrix of 1-D ``values``, in the library of sparse ``like``."""
    return sparse_module(like).diags(values).tocsr()


def row_sums_and_diagonal(A):
    """Row sums and diagonal of a square matrix, dense (``native``) or sparse, as 1-D
    float64 NumPy or CuPy arrays."""
    if is_sparse(A):
        lib = array_module(A.data)  # the library of the matrix's buffers
        sums = lib.asarray(A.sum(axis=1)).reshape(-1)
        return sums.astype(lib.float64), lib.asarray(A.diagonal()).astype(lib.float64)
    lib = array_module(A)
    return A.sum(axis=1, dtype=lib.float64), lib.diagonal(A).astype(lib.float64)


def linear_operator(n, matmat, like):
    """A symmetric (n, n) float64 linear operator from a function of (n, m) blocks.

    ``matmat(V)`` takes and returns ``native`` arrays (n, m); vectors are
    passed as (n, 1) blocks. The operator belongs to SciPy or cupyx as
    ``like`` (an array) lives, for the solvers below.
    """
    def matvec(v):
        return matmat(v.reshape(n, 1)).reshape(v.shape)

    linalg = _linalg(like)
    return linalg.LinearOperator((n, n), matvec=matvec, rmatvec=matvec, matmat=matmat,
                                 dtype=np.float64)


def eigsh_largest(operator, k, *, v0, tol, ncv=None, maxiter=None):
    """The k largest (algebraic) eigenpairs of a symmetric operator by implicitly restarted
    Lanczos: ARPACK (``scipy.sparse.linalg.eigsh``) on the host, thick-restart Lanczos
    (``cupyx.scipy.sparse.linalg.eigsh``) on the GPU.

    Parameters
    ----------
    operator : a ``linear_operator``
    k : int, 1 <= k < n - 1
    v0 : array (n,), float64, the starting vector, in the operator's library
    tol : float >= 0, residual tolerance (0: machine precision)
    ncv : int or None, Lanczos vectors (k + 1 < ncv < n)

    Returns
    -------
    values : array (k,), ascending; vectors : array (n, k), orthonormal columns;
        NumPy or CuPy, as ``v0``.
    """
    linalg = _linalg(v0)
    options = dict(k=k, which="LA", tol=tol, ncv=ncv, maxiter=maxiter)
    # Older cupyx eigsh takes no starting vector (it draws one from cupy.random).
    if "v0" in inspect.signature(linalg.eigsh).parameters:
        options["v0"] = v0
    return linalg.eigsh(operator, **options)


def lobpcg_smallest(operator, X0, *, constraints=None, tol=None, maxiter=2000,
                    preconditioner=None):
    """The smallest eigenpairs of a symmetric operator by LOBPCG (SciPy's or cupyx's).

    Parameters
    ----------
    operator : a ``linear_operator``, or a sparse matrix
    X0 : array (n, m), float64, the initial block (m eigenpairs are sought)
    constraints : array (n, c) or None, orthonormal vectors the search stays orthogonal to
    tol : float or None (the solver's default, about sqrt(eps) * n)
    maxiter : int
    preconditioner : operator or None, an approximation of the inverse of the operator

    Returns
    -------
    values : array (m,), ascending; vectors : array (n, m), in X0's library.
    """
    linalg = _linalg(X0)
    values, vectors = linalg.lobpcg(operator, X0, Y=constraints, M=preconditioner, tol=tol,
                                    maxiter=maxiter, largest=False)
    lib = array_module(X0)
    order = lib.argsort(values)
    return values[order], vectors[:, order]


def amg_preconditioner(laplacian):
    """pyamg's smoothed-aggregation preconditioner for a host CSR Laplacian, as scikit-learn
    builds it for ``eigen_solver="amg"`` (on the Laplacian plus 1e-5 times the identity,
    since a singular matrix makes a poor multigrid hierarchy).

    Raises
    ------
    ValueError
        When pyamg is not installed (scikit-learn's words).
    """
    try:
        from pyamg import smoothed_aggregation_solver
    except ImportError as exc:
        raise ValueError("The eigen_solver was set to 'amg', but pyamg is not available.") from exc
    import scipy.sparse

    shifted = (laplacian + 1e-5 * scipy.sparse.identity(laplacian.shape[0], format="csr")).tocsr()
    return smoothed_aggregation_solver(shifted).aspreconditioner()


def amg_available():
    """Whether pyamg imports (``eigen_solver="amg"`` needs it, as in scikit-learn)."""
    try:
        import pyamg  # noqa: F401
    except ImportError:
        return False
    return True


def pivoted_qr_rows(V):
    """The rows of V (n, k) that QR with column pivoting of V^T picks first: host int64 (k,).

    LAPACK's geqp3 through ``scipy.linalg.qr(V.T, pivoting=True)``, on a host copy of V
    (neither the array API nor CuPy has a pivoted QR; V^T is only k x n).
    """
    from scipy.linalg import qr

    V = backend.to_numpy(V)
    _, _, pivots = qr(V.T, mode="economic", pivoting=True)
    return np.asarray(pivots[: V.shape[1]], dtype=np.int64)
