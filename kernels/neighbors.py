"""Neighbour-search kernels: ``knn`` and ``radius_neighbors``, exact, by brute-force tiles.

Declared once with ``@kernel`` (see ``_dispatch.py``); implementations in
``cpu/knn.py``, ``cpu/radius.py`` and their ``cuda/`` namesakes. Both
compute inner products with a GEMM per tile and rebuild the distances from
them, so no (m, n) matrix is ever formed. References:
``tests/kernels/reference_neighbors.py``.
"""

import math
import numbers

from ._dispatch import kernel
from .metric import metric_code, squared_form

METRICS = ("sqeuclidean", "euclidean", "cosine")


def _check_data(X, queries):
    """Validate X and queries; return queries in X's dtype (or None)."""
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {tuple(X.shape)}.")
    if X.dtype.kind != "f":
        raise TypeError(f"X must be float32 or float64, got {X.dtype}.")
    if queries is None:
        return None
    if queries.ndim != 2 or queries.shape[1] != X.shape[1]:
        raise ValueError(
            f"queries must be 2-D with X's {X.shape[1]} features, got shape "
            f"{tuple(queries.shape)}."
        )
    if queries.dtype.kind not in "fiub":
        raise TypeError(f"queries must be numeric, got {queries.dtype}.")
    return queries.astype(X.dtype, copy=False)


@kernel(cpu="knn.knn", cuda="knn.knn")
def knn(X, k, *, queries=None, metric="sqeuclidean", exclude_self=True):
    """The k nearest rows of X to each query row, exact.

    .. math:: \\delta(q, x) = |q - x|^2,\\ |q - x|,\\ \\text{or}\\ 1 - \\frac{q \\cdot x}{|q||x|}

    (the cosine distance is 1 against a zero row). Brute force over tiles of
    inner products (BLAS on the CPU, cuBLAS on the GPU), merged into a
    running top-k per query; memory O(tile * k) besides the output.

    Parameters
    ----------
    X : array (n, d), float32 or float64; NumPy, torch, CuPy or array-API
    k : int, 0 <= k <= n (n - 1 when self is excluded)
    queries : array (m, d) of X's kind and device (cast to X's dtype), or None for X itself
    metric : {"sqeuclidean", "euclidean", "cosine"}
    exclude_self : bool
        With ``queries=None``, row i is not its own neighbour (its exact
        duplicates still are). Ignored when queries are given.

    Returns
    -------
    distances : array (m, k), X's dtype, ascending per row
    indices : array (m, k), int64; ties go to the lower index
        Both in X's namespace and on X's device.

    Raises
    ------
    ValueError
        Unknown metric, k out of range, X or queries not 2-D or with
        different feature counts or devices.
    TypeError
        k not an integer, X not floating point.
    """
    code, root = squared_form(metric_code(metric, METRICS))
    queries = _check_data(X, queries)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer, got {k!r}.")
    k = int(k)
    excluded = queries is None and bool(exclude_self)
    n_candidates = X.shape[0] - 1 if excluded else X.shape[0]
    if not 0 <= k <= max(n_candidates, 0):
        raise ValueError(
            f"k must be in [0, {max(n_candidates, 0)}] for {X.shape[0]} rows of X"
            f"{' (self excluded)' if excluded else ''}, got {k}."
        )
    return X, queries, k, code, root, excluded


@kernel(cpu="radius.radius_neighbors", cuda="radius.radius_neighbors")
def radius_neighbors(X, radius, *, queries=None, metric="euclidean", include_self=True,
                     return_lists=True):
    """Rows of X within ``radius`` of each query row (distance <= radius), exact.

    Brute force over tiles of inner products, in two passes (count, then
    fill the CSR lists), so memory is the output plus O(tile). Distances are
    those of :func:`knn`; a row's distance to itself is exactly 0 (1 for a
    zero row under cosine).

    Parameters
    ----------
    X : array (n, d), float32 or float64; NumPy, torch, CuPy or array-API
    radius : float >= 0
    queries : array (m, d) of X's kind and device (cast to X's dtype), or None for X itself
    metric : {"euclidean", "sqeuclidean", "cosine"}
    include_self : bool
        With ``queries=None``, whether row i lists itself (when within radius).
        Ignored when queries are given.
    return_lists : bool
        False returns only the counts (one pass instead of two).

    Returns
    -------
    counts : array (m,), int64
    indptr : array (m + 1,), int64 (only with ``return_lists``)
    indices : array (nnz,), int64, ascending within each row (only with ``return_lists``)
        In X's namespace and on X's device.

    Raises
    ------
    ValueError
        Unknown metric, radius negative or NaN, X or queries not 2-D or with
        different feature counts or devices.
    TypeError
        radius not a real number, X not floating point.
    """
    code, root = squared_form(metric_code(metric, METRICS))
    queries = _check_data(X, queries)
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real):
        raise TypeError(f"radius must be a real number, got {radius!r}.")
    radius = float(radius)
    if math.isnan(radius) or radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}.")
    threshold = radius * radius if root else radius
    self_query = queries is None
    include = bool(include_self) or not self_query
    return X, queries, threshold, code, include, bool(return_lists)
