"""Assertions and data helpers written once for the whole suite."""

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from gpucluster import backend


def rtol_for(dtype):
    """Default relative tolerance: 4 * sqrt(eps) of the dtype (1.4e-3 float32, 6e-8 float64)."""
    return 4 * float(np.sqrt(np.finfo(np.dtype(dtype)).eps))


def to_numpy(a):
    return backend.to_numpy(a)


def assert_same_kind(out, like):
    """``out`` has the array kind and device of ``like``."""
    assert backend.array_kind(out) == backend.array_kind(like), (
        f"expected a {backend.array_kind(like)} array, got {type(out).__name__}"
    )
    assert backend.device_of(out) == backend.device_of(like)


def labels_agree(a, b):
    """Adjusted Rand index of two labelings (permutation-invariant agreement)."""
    return adjusted_rand_score(to_numpy(a), to_numpy(b))


def make_blobs_np(n_samples=300, n_features=2, centers=3, dtype=np.float64, seed=0, **kw):
    X, y = make_blobs(
        n_samples=n_samples, n_features=n_features, centers=centers, random_state=seed, **kw
    )
    return X.astype(dtype), y


def exact_cosine_rows(X, centre=None):
    """Rows whose squared Euclidean distances are the cosine distances of X's rows (no zero
    rows), without cancellation: the float64 unit rows less ``centre`` (their mean when None),
    times sqrt(1/2), as 1 - cos(x, y) = |u - v|^2 / 2. Returns ``(rows, centre)``."""
    U = np.asarray(X, dtype=np.float64)
    U = U / np.linalg.norm(U, axis=1, keepdims=True)
    centre = U.mean(axis=0) if centre is None else centre
    return (U - centre) * np.sqrt(0.5), centre


def exact_cosine_distances(X):
    """scikit-learn's cosine distances (n, n) of X's rows (no zero rows), float64, from the
    differences of :func:`exact_cosine_rows` (exact where 1 - u.v cancels, at small angles)."""
    rows, _ = exact_cosine_rows(X)
    return ((rows[:, None, :] - rows[None, :, :]) ** 2).sum(axis=-1)
