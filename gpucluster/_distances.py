"""Dense pairwise distances in pure array-API code, for the places that need a full (n, m) block."""

from . import backend
from .kernels.arrays import unit_rows as normalize_rows  # noqa: F401  (one source for the kernels and above)


def row_norms_sq(X):
    """Squared L2 norm of each row of X (n, d), computed in X's dtype and returned as float64."""
    xp = backend.namespace(X)
    return xp.astype(xp.vecdot(X, X), xp.float64)


def pairwise_distances(X, Y, metric="sqeuclidean"):
    """Distances (n, m) between the rows of X (n, d) and Y (m, d), in X's dtype and namespace.

    ``metric`` is "sqeuclidean", "euclidean" or "cosine" (1 - cosine similarity,
    1 when either row is zero). Squared distances come from
    :math:`|x|^2 - 2 x \\cdot y + |y|^2` computed in float64 and clipped at 0.
    """
    xp = backend.namespace(X, Y)
    X64 = xp.astype(X, xp.float64)
    Y64 = xp.astype(Y, xp.float64)
    if metric == "cosine":
        D = 1.0 - normalize_rows(X64) @ normalize_rows(Y64).T
    elif metric in ("sqeuclidean", "euclidean"):
        D = row_norms_sq(X64)[:, None] - 2.0 * (X64 @ Y64.T) + row_norms_sq(Y64)[None, :]
        D = xp.maximum(D, xp.zeros_like(D))
        if metric == "euclidean":
            D = xp.sqrt(D)
    else:
        raise ValueError(f"metric must be 'sqeuclidean', 'euclidean' or 'cosine', got {metric!r}.")
    return xp.astype(D, X.dtype)
