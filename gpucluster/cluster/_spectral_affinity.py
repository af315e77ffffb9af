"""The affinity matrices spectral clustering starts from, built as scikit-learn builds them.

- "rbf": the dense Gaussian kernel :math:`\\exp(-\\gamma |x - y|^2)`, in
  float64, computed in row blocks on X's device (GEMM for the squared
  distances, on mean-centred rows). It takes n^2 float64 values, so it is
  refused with a ``MemoryError`` above the memory budget.
- "nearest_neighbors": the sparse connectivity of each row to itself and its
  n_neighbors - 1 nearest other rows (``kernels.knn_graph``, through the
  estimator's neighbour graph), symmetrised as 0.5 (C + C^T).
- "precomputed_nearest_neighbors": the same connectivity from a matrix of
  distances, dense or sparse (then from its stored entries).
- "precomputed": the matrix itself, checked square, finite, non-negative and
  symmetric (an asymmetric one is averaged with its transpose, with
  scikit-learn's warning).
- Any other kernel of ``sklearn.metrics.pairwise_kernels``, or a callable:
  computed by scikit-learn on a host copy of X.

Sparse matrices are SciPy's for host data and cupyx's for CUDA data
(``_eigen.csr_from_coordinates``).
"""

import warnings

import numpy as np

from .. import backend
from .._config import get_config
from .._sparse import is_sparse
from .. import _eigen
from ._medoid_distances import matrix_fits

# A precomputed affinity is symmetric when A and A^T agree to these tolerances
# (numpy.allclose's rtol with scikit-learn's check_symmetric atol).
SYMMETRY_RTOL = 1e-5
SYMMETRY_ATOL = 1e-10
NOT_SYMMETRIC = ("Array is not symmetric, and will be converted to symmetric by average with "
                 "its transpose.")


def check_dense_budget(n_samples, device):
    """Raise a ``MemoryError`` naming the sizes when an (n, n) float64 affinity does not fit
    the memory budget on ``device`` (``set_config(memory_budget=...)``, else half the
    memory free now), the budget KMedoids keeps its distance matrix within."""
    if matrix_fits(n_samples, 8, device):
        return
    need = n_samples * n_samples * 8
    budget = get_config()["memory_budget"]
    where = (f"the memory budget of {budget / 2**30:.2f} GiB" if budget else
             f"half the free {'GPU' if device == 'cuda' else 'host'} memory")
    raise MemoryError(
        f"A dense affinity matrix for {n_samples} samples takes {need / 2**30:.2f} GiB "
        f"(n_samples^2 float64 values), more than {where}. Use "
        "affinity='nearest_neighbors' (a sparse graph), fewer samples, or raise the "
        "budget with gpucluster.set_config(memory_budget=...)."
    )


def rbf_affinity(X, gamma):
    """The Gaussian kernel matrix exp(-gamma |x_i - x_j|^2): (n, n) float64, 1 on the
    diagonal, in X's namespace and on its device.

    Squared distances are :math:`|x|^2 - 2 x \\cdot y + |y|^2` on mean-centred float64
    rows (which keeps their cancellation small), clipped at 0; rows come in blocks
    sized by ``backend.row_chunk_size``.
    """
    xp = backend.namespace(X)
    n = X.shape[0]
    check_dense_budget(n, backend.device_of(X))
    X64 = xp.astype(X, xp.float64)
    X64 = X64 - xp.mean(X64, axis=0)[None, :]
    norms = xp.vecdot(X64, X64)
    device = backend.device(X64)
    A = xp.empty((n, n), dtype=xp.float64, device=device)
    columns = xp.arange(n, device=device)
    chunk = backend.row_chunk_size(n, 3 * 8 * n, device=backend.device_of(X))

    def step(start, stop):
        D = norms[start:stop, None] - 2.0 * (X64[start:stop, :] @ X64.T) + norms[None, :]
        D = xp.maximum(D, xp.zeros_like(D))
        block = xp.exp(-float(gamma) * D)
        on_diagonal = xp.arange(start, stop, device=device)[:, None] == columns[None, :]
        A[start:stop, :] = xp.where(on_diagonal, xp.ones_like(block), block)

    backend.for_each_chunk(n, chunk, step)
    return A


def kernel_affinity(X, metric, params):
    """scikit-learn's ``pairwise_kernels(X, metric=metric, filter_params=True, **params)``
    on a host float64 copy of X, returned in X's namespace and on its device."""
    from sklearn.metrics.pairwise import pairwise_kernels

    check_dense_budget(X.shape[0], "cpu")
    host = np.asarray(backend.to_numpy(X), dtype=np.float64)
    A = pairwise_kernels(host, metric=metric, filter_params=True, **params)
    return backend.asarray_like(np.ascontiguousarray(A, dtype=np.float64), X)


def connectivity_affinity(neighbors, n, *, add_self):
    """0.5 (C + C^T) for the connectivity C of each row to the rows of ``neighbors`` (n, k),
    integer (and to itself when ``add_self``): a sparse CSR (n, n) float64 matrix, SciPy's
    for host ``neighbors`` and cupyx's for CUDA ones, entries 1 (both ways) or 0.5 (one way)."""
    neighbors = _eigen.native(neighbors)
    xp = backend.namespace(neighbors)
    k = neighbors.shape[1]
    ids = xp.arange(n, dtype=xp.int64, device=backend.device(neighbors))
    rows = xp.reshape(xp.broadcast_to(ids[:, None], (n, k)), (-1,))
    cols = xp.reshape(xp.astype(neighbors, xp.int64), (-1,))
    if add_self:
        rows, cols = xp.concat([rows, ids]), xp.concat([cols, ids])
    values = xp.ones(rows.shape[0], dtype=xp.float64, device=backend.device(neighbors))
    C = _eigen.csr_from_coordinates(values, rows, cols, n)
    return (0.5 * (C + C.T)).tocsr()


def check_square(X, what):
    """A precomputed matrix must be (n, n)."""
    if X.shape[0] != X.shape[1]:
        raise ValueError(f"With affinity={what!r}, X must be a square (n_samples, n_samples) "
                         f"matrix, got shape {tuple(X.shape)}.")


def _non_negative(values, message):
    if values.shape[0] and bool(backend.namespace(values).any(values < 0)):
        raise ValueError(message)


def precomputed_neighbors(D, n_neighbors):
    """The ``n_neighbors`` nearest columns of each row of a precomputed distance matrix
    (scikit-learn's ``NearestNeighbors(metric="precomputed").kneighbors_graph(D)``): (n, k)
    int64 indices, ties to the lower column.

    Dense D: the k smallest entries of each row (its diagonal, usually 0, included). Sparse
    D: the k smallest stored entries of each row; every row must store at least k.
    """
    check_square(D, "precomputed_nearest_neighbors")
    n = D.shape[0]
    if not is_sparse(D):
        xp = backend.namespace(D)
        _non_negative(xp.reshape(D, (-1,)),
                      "Negative values in data passed to precomputed distance matrix.")
        return xp.argsort(D, axis=1, stable=True)[:, :n_neighbors]
    rows, cols, values = _eigen.coordinates(D)
    xp = backend.namespace(values)
    _non_negative(values, "Negative values in data passed to precomputed distance matrix.")
    counts = backend.bincount(rows, minlength=n)
    fewest = int(xp.min(counts)) if n else 0
    if fewest < n_neighbors:
        raise ValueError(
            f"{n_neighbors} neighbors per samples are required, but some samples have only "
            f"{fewest} neighbors in precomputed graph matrix. Decrease number of neighbors "
            "used or recompute the graph with more neighbors."
        )
    # Stored entries sorted by row, then by distance within a row (two stable sorts).
    order = xp.argsort(values, stable=True)
    order = xp.take(order, xp.argsort(xp.take(rows, order), stable=True))
    starts = xp.cumulative_sum(counts) - counts
    picks = starts[:, None] + xp.arange(n_neighbors, dtype=starts.dtype,
                                        device=backend.device(starts))[None, :]
    chosen = xp.take(order, xp.reshape(picks, (-1,)))
    return xp.reshape(xp.astype(xp.take(cols, chosen), xp.int64), (n, n_neighbors))


def check_affinity(A):
    """A precomputed affinity: square, non-negative, and symmetric; an asymmetric one is
    returned as 0.5 (A + A^T) with scikit-learn's warning. Dense A keeps its namespace;
    sparse A becomes CSR."""
    check_square(A, "precomputed")
    if is_sparse(A):
        A = A.tocsr()
        _non_negative(A.data, "The precomputed affinity matrix has negative entries; "
                      "affinities must be non-negative similarities.")
        difference = (A - A.T).tocsr().data
        xp = backend.namespace(difference)
        if difference.shape[0] and bool(xp.any(xp.abs(difference) >= SYMMETRY_ATOL)):
            warnings.warn(NOT_SYMMETRIC, UserWarning, stacklevel=3)
            A = (0.5 * (A + A.T)).tocsr()
        return A
    xp = backend.namespace(A)
    _non_negative(xp.reshape(A, (-1,)), "The precomputed affinity matrix has negative "
                  "entries; affinities must be non-negative similarities.")
    if not _dense_symmetric(A):
        warnings.warn(NOT_SYMMETRIC, UserWarning, stacklevel=3)
        A = 0.5 * (A + A.T)
    return A


def _dense_symmetric(A):
    """Whether A and A^T agree (``SYMMETRY_RTOL``, ``SYMMETRY_ATOL``), compared in row blocks
    so that no (n, n) temporary is made."""
    xp = backend.namespace(A)
    n = A.shape[0]
    chunk = backend.row_chunk_size(n, 3 * 8 * n, device=backend.device_of(A))
    for start in range(0, n, chunk):
        rows, columns = A[start:start + chunk, :], A[:, start:start + chunk].T
        close = xp.abs(rows - columns) <= SYMMETRY_ATOL + SYMMETRY_RTOL * xp.abs(columns)
        if not bool(xp.all(close)):
            return False
    return True
