"""NumPy references for every kernel, written for clarity, computed in float64."""

import numpy as np


def pairwise(X, centers, metric):
    """(n, k) float64 distances as the kernels define them."""
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(centers, dtype=np.float64)
    if metric == "sqeuclidean":
        return ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1)
    dots = X @ C.T
    if metric == "inner_product":
        return -dots
    norms = np.linalg.norm(X, axis=1)[:, None] * np.linalg.norm(C, axis=1)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
    return 1.0 - cos


def assign(X, centers, metric="sqeuclidean"):
    """Nearest centre (lowest index on ties) and its distance."""
    D = pairwise(X, centers, metric)
    labels = np.argmin(D, axis=1)
    return labels, D[np.arange(len(X)), labels]


def centroid_update(X, labels, n_clusters, sample_weight=None):
    """Weighted per-cluster sums and weights; negative labels skipped."""
    X = np.asarray(X, dtype=np.float64)
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    sums = np.zeros((n_clusters, X.shape[1]))
    counts = np.zeros(n_clusters)
    for i, j in enumerate(labels):
        if j >= 0:
            sums[j] += w[i] * X[i]
            counts[j] += w[i]
    return sums, counts


def pairwise_sums(X, labels, n_labels, metric="euclidean"):
    """(n, n_labels) float64: per row, the sum of distances to the rows of each label.

    The distance of a row to itself is 0; rows with a negative label count
    nowhere. "euclidean" is the square root of "sqeuclidean"; "cosine" is
    1 - cos, 1 against a zero row, clipped to [0, 2].
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    if metric == "euclidean":
        D = np.sqrt(pairwise(X, X, "sqeuclidean"))
    else:
        D = np.clip(pairwise(X, X, metric), 0.0, 2.0 if metric == "cosine" else np.inf)
    np.fill_diagonal(D, 0.0)
    sums = np.zeros((len(X), n_labels))
    for t in range(n_labels):
        sums[:, t] = D[:, labels == t].sum(axis=1)
    return sums
