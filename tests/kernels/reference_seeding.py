"""NumPy references for the k-means++ seeding kernels, written for clarity.

``kmeans_plusplus`` is the seeding as gpucluster computed it before the fused
kernels (scikit-learn's greedy k-means++ with the full (trials, n) distance
matrix), with the same random draws, so a seed must pick the same rows.
"""

import numpy as np


def sq_distances(X, C):
    """(m, n) float64 squared distances from the rows of C (m, d) to the rows of X (n, d)."""
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    return ((C[:, None, :] - X[None, :, :]) ** 2).sum(-1)


def potentials(X, candidates, closest_sq, sample_weight=None):
    """(t,) float64: sum_i w_i min(closest_sq_i, |x_i - c_j|^2) for every candidate j."""
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    closest = np.asarray(closest_sq, dtype=np.float64)
    return np.minimum(closest[None, :], sq_distances(X, candidates)) @ w


def update(X, center, closest_sq):
    """(n,) float64: min(closest_sq_i, |x_i - center|^2)."""
    return np.minimum(np.asarray(closest_sq, dtype=np.float64), sq_distances(X, center[None, :])[0])


def kmeans_plusplus(X, n_clusters, sample_weight=None, random_state=0, n_local_trials=None):
    """Indices (n_clusters,) int64 of the rows greedy k-means++ picks, computed in float64."""
    rng = np.random.RandomState(random_state)
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    indices = np.full(n_clusters, -1, dtype=np.int64)
    indices[0] = rng.choice(n, p=w / w.sum())
    closest = sq_distances(X, X[indices[0]][None, :])[0]
    current_pot = float(closest @ w)
    for c in range(1, n_clusters):
        rand_vals = rng.uniform(size=n_local_trials) * current_pot
        ids = np.minimum(np.searchsorted(np.cumsum(closest * w), rand_vals), n - 1)
        dist = np.minimum(closest[None, :], sq_distances(X, X[ids]))
        pots = dist @ w
        best = int(np.argmin(pots))
        current_pot = float(pots[best])
        closest = dist[best]
        indices[c] = ids[best]
    return indices
