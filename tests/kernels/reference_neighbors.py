"""NumPy references for the neighbour kernels, written for clarity, computed in float64."""

import numpy as np


def pairwise(Q, X, metric):
    """(m, n) float64 distances: "sqeuclidean", "euclidean" or "cosine" (1 against a zero row)."""
    Q = np.asarray(Q, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if metric == "cosine":
        outer = np.linalg.norm(Q, axis=1)[:, None] * np.linalg.norm(X, axis=1)[None, :]
        safe = np.where(outer > 0, outer, 1.0)
        return 1.0 - np.where(outer > 0, (Q @ X.T) / safe, 0.0)
    D = ((Q[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    return np.sqrt(D) if metric == "euclidean" else D


def self_distances(X, metric):
    """(n, n) distances of X to itself with the exact diagonal the kernels use.

    A row is at distance 0 from itself, except a zero row under cosine (1).
    """
    D = pairwise(X, X, metric)
    diagonal = np.zeros(len(D))
    if metric == "cosine":
        diagonal[~np.any(np.asarray(X) != 0, axis=1)] = 1.0
    np.fill_diagonal(D, diagonal)
    return D


def knn(X, k, queries=None, metric="sqeuclidean", exclude_self=True):
    """Distances (m, k) float64 and indices (m, k) int64, ascending, ties to the lower index."""
    if queries is None:
        D = self_distances(X, metric)
        if exclude_self:
            np.fill_diagonal(D, np.inf)
    else:
        D = pairwise(queries, X, metric)
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(D, order, axis=1), order.astype(np.int64)


def radius_neighbors(X, radius, queries=None, metric="euclidean", include_self=True):
    """counts (m,), indptr (m + 1,), indices (nnz,) int64 of the rows with distance <= radius."""
    if queries is None:
        D = self_distances(X, metric)
        within = D <= radius
        if not include_self:
            np.fill_diagonal(within, False)
    else:
        within = pairwise(queries, X, metric) <= radius
    counts = within.sum(axis=1).astype(np.int64)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return counts, indptr, np.nonzero(within)[1].astype(np.int64)


def tolerance(X, queries, metric):
    """Per-query absolute tolerance on the kernels' distances (squared ones for euclidean).

    The kernels expand :math:`|q|^2 - 2 q \\cdot x + |x|^2` from a GEMM in X's
    dtype, whose rounding error is about ``eps * (|q| + |x|)^2``; the cosine
    distance's is about ``eps``. Eight times the suite's ``4 sqrt(eps)``
    covers both with room for the summation order of BLAS.
    """
    eps = 4 * float(np.sqrt(np.finfo(np.asarray(X).dtype).eps))
    Q = X if queries is None else queries
    if metric == "cosine":
        return np.full(len(Q), 8 * eps)
    q_norms = np.linalg.norm(np.asarray(Q, dtype=np.float64), axis=1)
    x_norm = np.linalg.norm(np.asarray(X, dtype=np.float64), axis=1).max(initial=0.0)
    return 8 * eps * (1.0 + (q_norms + x_norm) ** 2)


def _squared_if_euclidean(D, metric):
    return D * D if metric == "euclidean" else D


def assert_knn_matches(X, k, queries, metric, exclude_self, distances, indices, exact=False):
    """Kernel output agrees with ``knn``: same distances up to ``tolerance``, valid neighbours.

    Every returned index must be a true k-nearest neighbour up to the
    tolerance, appear once per row, and not be the query itself when
    excluded. With ``exact`` (small-integer data, where the expanded form is
    exact for the Euclidean metrics) indices and distances must be equal to
    the reference, ties included.
    """
    distances = np.asarray(distances)
    indices = np.asarray(indices)
    m = len(X) if queries is None else len(queries)
    context = f"metric={metric} dtype={np.asarray(X).dtype} m={m} n={len(X)} k={k}"
    assert distances.shape == (m, k) and indices.shape == (m, k), context
    assert distances.dtype == np.asarray(X).dtype and indices.dtype == np.int64, context
    ref_d, ref_i = knn(X, k, queries=queries, metric=metric, exclude_self=exclude_self)
    if exact:
        np.testing.assert_array_equal(indices, ref_i, err_msg=context)
        np.testing.assert_allclose(distances, ref_d.astype(distances.dtype), rtol=0, atol=0,
                                   err_msg=context)
        return
    tol = tolerance(X, queries, metric)[:, None]
    D = self_distances(X, metric) if queries is None else pairwise(queries, X, metric)
    got = _squared_if_euclidean(distances.astype(np.float64), metric)
    want = _squared_if_euclidean(ref_d, metric)
    assert np.all(np.abs(got - want) <= tol), context
    true = _squared_if_euclidean(np.take_along_axis(D, indices, axis=1), metric)
    assert np.all(np.abs(true - want) <= tol), context
    assert all(len(set(row)) == k for row in indices.tolist()), context
    if queries is None and exclude_self:
        assert not np.any(indices == np.arange(m)[:, None]), context
    assert np.all(np.diff(distances, axis=1) >= 0), context


def assert_radius_matches(X, radius, queries, metric, include_self, result, exact=False):
    """Kernel CSR output agrees with ``radius_neighbors`` up to ``tolerance``.

    Rows whose reference distance is within the tolerance of the radius may
    go either way; all others must be listed exactly when within. Indices are
    ascending per row and ``indptr`` is the cumulative sum of ``counts``.
    """
    counts, indptr, indices = (np.asarray(a) for a in result)
    m = len(X) if queries is None else len(queries)
    context = f"metric={metric} dtype={np.asarray(X).dtype} m={m} n={len(X)} r={radius}"
    for a in (counts, indptr, indices):
        assert a.dtype == np.int64, context
    assert counts.shape == (m,) and indptr.shape == (m + 1,), context
    np.testing.assert_array_equal(indptr, np.concatenate([[0], np.cumsum(counts)]), context)
    assert indices.shape == (indptr[-1],), context
    if exact:
        ref = radius_neighbors(X, radius, queries=queries, metric=metric,
                               include_self=include_self)
        for a, b in zip((counts, indptr, indices), ref):
            np.testing.assert_array_equal(a, b, err_msg=context)
        return
    D = self_distances(X, metric) if queries is None else pairwise(queries, X, metric)
    D = _squared_if_euclidean(D, metric)
    r = radius * radius if metric == "euclidean" else radius
    tol = tolerance(X, queries, metric)
    for i in range(m):
        row = indices[indptr[i]:indptr[i + 1]]
        assert np.all(np.diff(row) > 0), context
        listed = np.zeros(len(X), dtype=bool)
        listed[row] = True
        must = D[i] <= r - tol[i]
        may = D[i] <= r + tol[i]
        if queries is None:
            if include_self:
                must[i] = D[i, i] <= r
                may[i] = must[i]
            else:
                must[i] = may[i] = False
        assert np.all(listed[must]) and not np.any(listed & ~may), f"{context} row={i}"
