"""Dense pairwise distances in pure array-API code, for the places that need a full (n, m) block,
and the rows that the neighbour searches measure the cosine distance on."""

import math

from . import backend
from .kernels.arrays import unit_rows as normalize_rows  # noqa: F401  (one source for the kernels and above)


def row_norms_sq(X):
    """Squared L2 norm of each row of X (n, d), computed in X's dtype and returned as float64."""
    xp = backend.namespace(X)
    return xp.astype(xp.vecdot(X, X), xp.float64)


def has_zero_row(X):
    """Whether some row of X (n, d) is all zeros (a Python bool)."""
    xp = backend.namespace(X)
    return bool(xp.any(xp.all(X == 0, axis=1)))


def _unit_rows64(X):
    """X's rows scaled to unit length in float64, each divided by its largest entry first so
    that no square overflows or underflows (no zero rows)."""
    xp = backend.namespace(X)
    X64 = xp.astype(X, xp.float64)
    X64 = X64 / xp.max(xp.abs(X64), axis=1, keepdims=True)
    return X64 / xp.sqrt(xp.sum(X64 * X64, axis=1, keepdims=True))


def unit_rows_mean(X):
    """The mean of X's rows scaled to unit length, float64 (d,), or None when X has a zero
    row: the point ``centred_unit_rows`` subtracts."""
    if has_zero_row(X):
        return None
    return backend.namespace(X).mean(_unit_rows64(X), axis=0)


def nonzero_unit_rows_mean(X):
    """The mean of X's rows other than zero rows scaled to unit length, float64 (d,), or None
    when every row is zero."""
    xp = backend.namespace(X)
    zero = xp.all(X == 0, axis=1)
    count = X.shape[0] - int(xp.sum(xp.astype(zero, xp.int64)))
    if count == 0:
        return None
    stand_in = xp.where(zero[:, None], xp.ones_like(X), X)
    units = xp.where(zero[:, None], xp.zeros(1, dtype=xp.float64, device=backend.device(X)),
                     _unit_rows64(stand_in))
    return xp.sum(units, axis=0) / count


def centred_unit_rows(X, mean):
    """X's rows (no zero rows) scaled to unit length and less ``mean`` in float64, rounded
    once to X's dtype: their squared distances are twice the cosine distances.

    For unit rows :math:`1 - \\cos(x, y) = |u - v|^2 / 2`, while :math:`1 - u \\cdot v` in
    X's dtype cancels for rows at small angles (float32 blobs 1e4 from the origin: a
    silhouette of 0.68 for 0.998, KMedoids' inertia 3e7 times its medoids' loss);
    centred in float64, the small differences keep their digits.
    """
    xp = backend.namespace(X)
    return xp.astype(_unit_rows64(X) - backend.asarray_like(mean, X), X.dtype)


# 1 - cos(x, y) = |u - v|^2 / 2 for the unit rows u, v: unit rows scaled by sqrt(1/2)
# have the cosine distances as their squared distances.
HALF_ROOT = math.sqrt(0.5)


def cosine_mean(X, metric):
    """The point :func:`distance_rows` centres X's unit rows on under ``metric``: the mean
    unit row (float64 (d,), ``unit_rows_mean``) for "cosine"; None for any other metric and
    for an X with a zero row (measured as given)."""
    return unit_rows_mean(X) if metric == "cosine" else None


def distance_rows(X, metric, mean):
    """``(rows, metric)``: X's rows as the neighbour searches measure them under ``metric``.

    With a ``mean`` (from :func:`cosine_mean` on the fitted rows; X without zero rows),
    the cosine distance is the squared distance of the unit rows less ``mean``, made in
    float64 and scaled by sqrt(1/2): float64 rows under "sqeuclidean". :math:`1 - u \\cdot v`
    cancels for rows at small angles, far from the origin (float32 blobs at 1e4: HDBSCAN's
    ARI 0.4-0.65, DBSCAN's 0, against the exact distances), where the differences of the
    centred unit rows keep their digits. Searches take the rows in X's dtype
    (:func:`search_rows`). Without a mean (another metric, or a zero row: its cosine
    distance, 1 from every row, has no such form), X and ``metric`` as given.
    """
    if mean is None:
        return X, metric
    xp = backend.namespace(X)
    return centred_unit_rows(xp.astype(X, xp.float64), mean) * HALF_ROOT, "sqeuclidean"


def search_rows(rows, X):
    """The rows a neighbour search takes for the distance rows of X: those rows in X's dtype
    (X itself where they are X)."""
    return backend.namespace(X).astype(rows, X.dtype, copy=False)


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
