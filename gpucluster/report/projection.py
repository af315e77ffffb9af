"""Two-dimensional projections of embeddings for plots: PCA (built in) or UMAP."""

import importlib.util

import numpy as np

from .. import backend

PROJECTION_METHODS = ("pca", "umap", "auto")
# PCA axes are fitted on at most this many rows: two axes of a few-hundred-d
# embedding are stable long before 10,000 rows, and the SVD stays well under a second.
PCA_SAMPLE = 10_000
# UMAP is fitted on a sample this large and the rest are placed with transform().
UMAP_SAMPLE = 20_000


def _as_float_matrix(X):
    X = np.asarray(backend.to_numpy(X))
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {X.shape}.")
    if X.shape[0] == 0:
        raise ValueError("X is empty: a projection needs at least one row.")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise TypeError(f"X must hold real numbers, got dtype {X.dtype}.")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinity.")
    return X


def fit_pca(X, n_components=2, *, sample=PCA_SAMPLE, random_state=0):
    """Fit principal axes with NumPy's SVD on a random sample of rows.

    Parameters
    ----------
    X : array of shape (n_samples, n_features); NumPy, CuPy or torch (copied to the host)
    n_components : int
    sample : int or None
        Rows used for the fit (all when None or when X has no more rows).
    random_state : int
        Seed for the row sample.

    Returns
    -------
    mean : ndarray of shape (n_features,), float64
    components : ndarray of shape (n_components, n_features), float64
        Unit axes, signed so that each axis's largest-magnitude loading is
        positive (the result does not depend on the SVD's sign choice).
        Axes beyond the rank of X are zero.
    """
    X = _as_float_matrix(X)
    n_samples, n_features = X.shape
    if sample is not None and n_samples > sample:
        rows = np.sort(np.random.default_rng(random_state).choice(n_samples, sample, replace=False))
        fit_rows = X[rows]
    else:
        fit_rows = X
    mean = fit_rows.mean(axis=0)
    _, _, vt = np.linalg.svd(fit_rows - mean, full_matrices=False)
    components = np.zeros((n_components, n_features))
    m = min(n_components, vt.shape[0])
    components[:m] = vt[:m]
    for axis in components:
        if np.any(axis):
            biggest = np.argmax(np.abs(axis))
            if axis[biggest] < 0:
                axis *= -1.0
    return mean, components


def _umap_available():
    return importlib.util.find_spec("umap") is not None


def _project_umap(X, random_state):
    import umap

    reducer = umap.UMAP(n_components=2, random_state=random_state)
    if X.shape[0] <= UMAP_SAMPLE:
        return reducer.fit_transform(X)
    rows = np.random.default_rng(random_state).choice(X.shape[0], UMAP_SAMPLE, replace=False)
    reducer.fit(X[rows])
    return reducer.transform(X)


def project_2d(X, method="pca", *, random_state=0, sample=PCA_SAMPLE):
    """Project rows of X to two dimensions for plotting.

    Parameters
    ----------
    X : array of shape (n_samples, n_features); NumPy, CuPy or torch (copied to the host)
    method : {"pca", "umap", "auto"}
        "pca": principal axes from NumPy's SVD on up to ``sample`` rows, then
        every row projected on them; "umap": umap-learn (ImportError naming the
        package when it is missing); "auto": UMAP when umap-learn is installed,
        else PCA.
    random_state : int
    sample : int or None
        Rows used to fit the PCA axes.

    Returns
    -------
    ndarray of shape (n_samples, 2), float32
    """
    if method not in PROJECTION_METHODS:
        raise ValueError(f"method must be one of {PROJECTION_METHODS}, got {method!r}.")
    X = _as_float_matrix(X)
    if method == "umap" and not _umap_available():
        raise ImportError("method='umap' needs the umap-learn package (pip install umap-learn).")
    if method == "umap" or (method == "auto" and _umap_available() and X.shape[0] > 15):
        return np.asarray(_project_umap(X, random_state), dtype=np.float32)
    mean, components = fit_pca(X, 2, sample=sample, random_state=random_state)
    return ((X - mean) @ components.T).astype(np.float32)
