"""The spectral embedding of an affinity graph, as scikit-learn's ``spectral_embedding``
with ``norm_laplacian=True`` and ``drop_first=False`` (what spectral clustering uses).

With A the affinity (dense or sparse, symmetric, non-negative), A0 = A with
its diagonal set to 0 (SciPy's ``csgraph.laplacian`` ignores self-loops),
degrees w = A0 1 and d = sqrt(w) (1 for an isolated node), the normalised
Laplacian with scikit-learn's diagonal trick is

.. math:: L = I - S, \\qquad S = D^{-1/2} A_0 D^{-1/2}, \\quad D = \\mathrm{diag}(d^2),

so L has 1 on its whole diagonal, isolated nodes included. The embedding is
the eigenvectors x of the n_components smallest eigenvalues of L, ascending,
returned as u = x / d with each column's largest-magnitude entry made
positive (scikit-learn's ``_deterministic_vector_sign_flip``).

How the eigenvectors are found:

- The eigenvalue 0 of L has one eigenvector per connected component of
  two or more nodes, known in closed form: d on the component, 0 elsewhere.
  Krylov solvers started from one vector find a repeated eigenvalue only
  by the accident of rounding (on 10 well-separated blobs, ARPACK found 9
  of the 10 zero eigenvalues, benchmarks/NOTES.md), so these vectors are
  taken exactly (the largest components first) and the rest of the
  spectrum is sought orthogonally to them: deflated out of S for Lanczos
  (moved to eigenvalue -2, below S's spectrum [-1, 1]), passed as
  constraints to LOBPCG.
- "arpack" (and None): Lanczos for the largest eigenvalues of the deflated
  S (``_eigen.eigsh_largest``: ARPACK on the host, cupyx's thick-restart
  Lanczos on the GPU), one sparse (or dense) product with A per step. Where
  scikit-learn factorises L for shift-invert mode (a sparse LU, or a dense
  one for "rbf": O(n^3)), this needs no factorisation, and the largest end
  of S is as well separated as the smallest end of L.
- "lobpcg": LOBPCG for the smallest eigenvalues of L (SciPy's or cupyx's),
  from scikit-learn's random block, at most 2000 iterations.
- "amg": LOBPCG preconditioned by pyamg's smoothed aggregation, on the
  host, as scikit-learn's; its small-graph and dense-matrix fallbacks to
  "arpack" are kept, and on the GPU (no pyamg there) it is "lobpcg".
- Below ``DENSE_EIGH_MAX_ROWS`` rows (or where the Krylov solvers would need
  more vectors than rows), the dense deflated S goes to ``eigh``.

The random draws follow scikit-learn's (ARPACK's starting vector, LOBPCG's
initial block), so the ``random_state`` that later seeds k-means or
discretisation is in the same state as scikit-learn's.
"""

import warnings

import numpy as np

from .. import backend, kernels
from .._sparse import is_sparse
from .. import _eigen

EIGEN_SOLVERS = (None, "arpack", "lobpcg", "amg")
# Up to this many rows the deflated S is formed densely and solved by eigh: at n=256 the
# dense solve takes ~10 ms and is exact for repeated eigenvalues.
DENSE_EIGH_MAX_ROWS = 256
# Deflated eigenvectors of S move from eigenvalue 1 to 1 - NULL_SHIFT, below the spectrum.
NULL_SHIFT = 3.0
LOBPCG_MAX_ITER = 2000
NOT_CONNECTED = "Graph is not fully connected, spectral embedding may not work as expected."


class NormalizedAffinity:
    """S = D^-1/2 A0 D^-1/2 of an affinity A, applied to blocks of vectors without forming it.

    Attributes
    ----------
    A : the affinity, a ``native`` dense array or a sparse matrix, float64
    sqrt_degree : array (n,), float64: d, 1 for isolated nodes
    null : array (n, c) or None, orthonormal eigenvectors of S for eigenvalue 1 that
        ``deflated`` moves to 1 - NULL_SHIFT
    """

    def __init__(self, A):
        self.A = A
        self.n = A.shape[0]
        sums, self.diagonal = _eigen.row_sums_and_diagonal(A)
        degree = sums - self.diagonal
        self.xp = backend.namespace(degree)
        xp = self.xp
        self.isolated = degree <= 0
        self.sqrt_degree = xp.where(self.isolated, xp.ones_like(degree),
                                    xp.sqrt(xp.maximum(degree, xp.zeros_like(degree))))
        self.inverse = 1.0 / self.sqrt_degree
        self.null = None

    def apply(self, V):
        """S V for V (n, m), float64, in the affinity's library."""
        W = V * self.inverse[:, None]
        return (self.A @ W - self.diagonal[:, None] * W) * self.inverse[:, None]

    def deflated(self, V):
        """S V - NULL_SHIFT Q (Q^T V), Q the ``null`` vectors."""
        out = self.apply(V)
        if self.null is not None:
            out = out - NULL_SHIFT * (self.null @ (self.null.T @ V))
        return out

    def laplacian(self, V):
        """L V = V - S V."""
        return V - self.apply(V)

    def explicit_laplacian(self):
        """L as a sparse CSR matrix (sparse affinity only): I - S, 1 on the diagonal."""
        A = self.A
        inverse = _eigen.diagonal_matrix(self.inverse, A)
        off = A - _eigen.diagonal_matrix(self.diagonal, A)
        S = inverse @ off @ inverse
        return (_eigen.diagonal_matrix(self.xp.ones_like(self.inverse), A) - S).tocsr()


# --------------------------------------------------------------------------
# Connected components and the null space


def _dense_edges(A, step):
    """Call ``step(rows, cols)`` with the positive off-diagonal entries of dense A, by row
    blocks sized by the memory budget."""
    xp = backend.namespace(A)
    n = A.shape[0]
    device = backend.device(A)
    columns = xp.arange(n, device=device)
    # Per row: the boolean mask and, at worst, two int64 indices per entry.
    chunk = backend.row_chunk_size(n, 24 * n, device=backend.device_of(A))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        rows = xp.arange(start, stop, device=device)
        positive = (A[start:stop, :] > 0) & (rows[:, None] != columns[None, :])
        block_rows, block_cols = xp.nonzero(positive)
        step(block_rows + start, block_cols)


def graph_components(A):
    """Connected components of the graph of positive entries of A (dense or sparse):
    ``(labels, count)``, labels (n,) int64 numbered by each component's smallest node."""
    n = A.shape[0]
    if is_sparse(A):
        rows, cols, values = _eigen.coordinates(A)
        keep = values > 0
        labels = kernels.connected_components(n, rows[keep], cols[keep])
        return labels, (int(backend.namespace(labels).max(labels)) + 1 if n else 0)
    xp = backend.namespace(A)
    if n < 2 or bool(xp.min(A) > 0):
        return xp.zeros(n, dtype=xp.int64, device=backend.device(A)), min(n, 1)
    # Merge block by block: each block's edges join the components found so far.
    labels = xp.arange(n, dtype=xp.int64, device=backend.device(A))

    def merge(rows, cols):
        nonlocal labels
        merged = kernels.connected_components(n, xp.take(labels, rows), xp.take(labels, cols))
        labels = xp.take(merged, labels)

    _dense_edges(A, merge)
    return _by_smallest_node(labels)


def _by_smallest_node(labels):
    """Component ids renumbered 0, 1, ... in the order of each component's smallest node,
    and their number."""
    host = backend.to_numpy(labels)
    _, first, inverse = np.unique(host, return_index=True, return_inverse=True)
    rank = np.empty_like(first)
    rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
    return backend.asarray_like(rank[inverse].astype(np.int64), labels), int(first.shape[0])


def null_vectors(labels, count, sqrt_degree, k):
    """Orthonormal eigenvectors of S for eigenvalue 1: d restricted to each component of
    two or more nodes, the largest components first (ties: smallest node), at most k of
    them. Returns (n, c) float64, or None when there is none."""
    xp = backend.namespace(sqrt_degree)
    sizes = backend.to_numpy(backend.bincount(labels, minlength=count))
    components = [int(j) for j in np.argsort(-sizes, kind="stable") if sizes[j] >= 2][:k]
    if not components:
        return None
    chosen = xp.asarray(np.asarray(components, dtype=np.int64), device=backend.device(labels))
    members = labels[:, None] == chosen[None, :]
    Q = xp.where(members, sqrt_degree[:, None], xp.zeros_like(sqrt_degree)[:, None])
    return Q / xp.sqrt(xp.sum(Q * Q, axis=0))[None, :]


# --------------------------------------------------------------------------
# The solvers


def _solve_dense(S, n_wanted):
    """The n_wanted largest eigenpairs of the deflated S, formed densely: eigh."""
    xp = S.xp
    M = S.deflated(xp.eye(S.n, dtype=xp.float64, device=backend.device(S.sqrt_degree)))
    values, vectors = xp.linalg.eigh(0.5 * (M + M.T))
    keep = xp.flip(xp.arange(S.n - n_wanted, S.n, device=backend.device(values)))
    return 1.0 - xp.take(values, keep), xp.take(vectors, keep, axis=1)


def _solve_arpack(S, n_wanted, v0, tol):
    """Lanczos on the deflated S (see the module docstring)."""
    xp = S.xp
    v0 = xp.asarray(v0, device=backend.device(S.sqrt_degree))
    if S.null is not None:
        v0 = v0 - S.null @ (S.null.T @ v0)
    operator = _eigen.linear_operator(S.n, S.deflated, S.sqrt_degree)
    values, vectors = _eigen.eigsh_largest(operator, n_wanted, v0=v0, tol=tol)
    order = xp.flip(xp.argsort(values))
    return 1.0 - xp.take(values, order), xp.take(vectors, order, axis=1)


def _solve_lobpcg(S, n_wanted, block, tol, preconditioner=None):
    """LOBPCG on L orthogonally to the null vectors, from n_wanted + 1 columns of
    scikit-learn's initial ``block`` (``_lobpcg_block``)."""
    xp = S.xp
    # With null vectors as constraints, d (the block's first column) lies in their span.
    first = 0 if S.null is None else 1
    X0 = xp.asarray(block[:, first:first + n_wanted + 1], device=backend.device(S.sqrt_degree))
    operator = _eigen.linear_operator(S.n, S.laplacian, S.sqrt_degree)
    values, vectors = _eigen.lobpcg_smallest(operator, X0, constraints=S.null, tol=tol,
                                             maxiter=LOBPCG_MAX_ITER,
                                             preconditioner=preconditioner)
    return values[:n_wanted], vectors[:, :n_wanted]


def _lobpcg_block(S, n_components, random_state):
    """scikit-learn's initial LOBPCG block: standard normal (n, n_components + 1), host
    float64, whose first column is d."""
    block = random_state.standard_normal(size=(S.n, n_components + 1))
    block[:, 0] = backend.to_numpy(S.sqrt_degree)
    return block


def _solve_iterative(S, solver, n_wanted, draw, eigen_tol, fresh_block):
    """The n_wanted eigenpairs beyond the null space by the chosen iterative solver, from
    its draw (ARPACK's v0 or LOBPCG's block); an ARPACK failure falls back to LOBPCG from
    ``fresh_block()``, as scikit-learn's does."""
    if solver == "arpack":
        try:
            return _solve_arpack(S, n_wanted, draw, 0.0 if eigen_tol == "auto"
                                 else float(eigen_tol))
        except RuntimeError:  # ARPACK's ArpackNoConvergence, which scikit-learn catches too
            warnings.warn("ARPACK has failed, falling back to LOBPCG.", RuntimeWarning,
                          stacklevel=4)
            return _solve_lobpcg(S, n_wanted, fresh_block(), None)
    tol = None if eigen_tol == "auto" else float(eigen_tol)
    preconditioner = (_eigen.amg_preconditioner(S.explicit_laplacian())
                      if solver == "amg" else None)
    return _solve_lobpcg(S, n_wanted, draw, tol, preconditioner)


def _choose_solver(eigen_solver, S, n_components):
    """The solver that runs: scikit-learn's "amg" fallbacks, and "lobpcg" for "amg" on a GPU."""
    solver = "arpack" if eigen_solver is None else eigen_solver
    if solver != "amg":
        return solver
    if S.n < 5 * n_components:
        warnings.warn("AMG solver does not work well with small graphs, using ARPACK instead.",
                      RuntimeWarning, stacklevel=4)
        return "arpack"
    if not is_sparse(S.A):
        warnings.warn("AMG solver does not work well with dense matrices, using ARPACK "
                      "instead.", RuntimeWarning, stacklevel=4)
        return "arpack"
    if backend.is_cuda_array(S.sqrt_degree):
        warnings.warn("pyamg runs on the host only: eigen_solver='amg' runs LOBPCG without "
                      "a preconditioner on the GPU.", RuntimeWarning, stacklevel=4)
        return "lobpcg"
    return "amg"


def spectral_embedding(affinity, n_components, *, eigen_solver=None, random_state,
                       eigen_tol="auto"):
    """The spectral embedding of a symmetric non-negative affinity matrix.

    Parameters
    ----------
    affinity : array (n, n) float64 (a ``_eigen.native`` NumPy or CuPy array), or a SciPy /
        cupyx sparse matrix
    n_components : int, 1 <= n_components <= n
    eigen_solver : {None, "arpack", "lobpcg", "amg"} (see the module docstring)
    random_state : numpy.random.RandomState, drawn from as scikit-learn draws
    eigen_tol : "auto" or float >= 0: "auto" is 0 (machine precision) for Lanczos and the
        solver's default for LOBPCG, as in scikit-learn

    Returns
    -------
    embedding : array (n, n_components), float64: u = x / d, sign-flipped, columns by
        ascending eigenvalue
    eigenvalues : array (n_components,), float64, ascending: the eigenvalues of L
        Both in the affinity's library (NumPy or CuPy).
    """
    if eigen_solver == "amg" and not _eigen.amg_available():
        raise ValueError("The eigen_solver was set to 'amg', but pyamg is not available.")
    S = NormalizedAffinity(affinity)
    n = S.n
    xp = S.xp
    labels, count = graph_components(affinity)
    if count > 1:
        warnings.warn(NOT_CONNECTED, UserWarning, stacklevel=3)
    solver = _choose_solver(eigen_solver, S, n_components)
    S.null = null_vectors(labels, count, S.sqrt_degree, n_components)
    n_null = 0 if S.null is None else S.null.shape[1]
    n_wanted = n_components - n_null
    # scikit-learn's draws, made whether or not they are used.
    draw = None
    if solver == "arpack":
        draw = random_state.uniform(-1, 1, n)
    elif n >= 5 * n_components + 1:
        draw = _lobpcg_block(S, n_components, random_state)
    if n_wanted == 0:
        values, vectors = xp.zeros(0, dtype=xp.float64), S.null[:, :0]
    elif (n <= DENSE_EIGH_MAX_ROWS or n < 5 * n_components + 1
          or n - n_null < 5 * (n_wanted + 1)):
        # Too few rows for the Krylov solvers' working vectors (LOBPCG wants 5 per
        # sought vector outside the constraints).
        values, vectors = _solve_dense(S, n_wanted)
    else:
        values, vectors = _solve_iterative(S, solver, n_wanted, draw, eigen_tol,
                                           lambda: _lobpcg_block(S, n_components, random_state))
    if n_null:
        device = backend.device(values)
        values = xp.concat([xp.zeros(n_null, dtype=xp.float64, device=device), values])
        vectors = xp.concat([S.null, vectors], axis=1)
    return sign_flipped(vectors * S.inverse[:, None]), values


def sign_flipped(U):
    """U (n, k) with each column multiplied by the sign of its largest-magnitude entry."""
    xp = backend.namespace(U)
    n, k = U.shape
    at = xp.argmax(xp.abs(U), axis=0)
    flat = xp.reshape(U, (-1,))
    largest = xp.take(flat, at * k + xp.arange(k, dtype=at.dtype, device=backend.device(at)))
    return U * xp.sign(largest)[None, :]
