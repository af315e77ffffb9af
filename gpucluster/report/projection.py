"""Two-dimensional projections of embeddings for plots: PCA, UMAP or t-SNE.

- "pca": gpucluster's own ``decomposition.PCA``, fitted on a sample of rows
  and run where the embeddings live (a CuPy or torch CUDA array stays on its
  GPU; only the (n, 2) result comes to the host);
- "umap": umap-learn's UMAP (the ``projection`` extra: ``pip install
  gpucluster[projection]``);
- "tsne": scikit-learn's Barnes-Hut ``TSNE`` after a PCA to 50 dimensions
  (the reduction scikit-learn's documentation recommends). It is the slow
  one, and slow above about 10,000 points: 3,000 points take 4 s on 16
  cores and 15 s on one, 10,000 points 100 s on two busy cores. It runs
  on at most ``TSNE_SAMPLE`` rows and places the others beside their
  nearest sampled rows (openTSNE, faster on large sets, is not a dependency).

Nothing here writes UMAP or t-SNE by hand; both libraries run on the host.
"""

import importlib.util

import numpy as np

from .. import backend, kernels
from .._validation import check_input
from ..decomposition import PCA

PROJECTION_METHODS = ("pca", "umap", "tsne", "auto")
# PCA axes are fitted on at most this many rows: two axes of a few-hundred-d
# embedding are stable long before 10,000 rows, and the fit stays well under a second.
PCA_SAMPLE = 10_000
# UMAP is fitted on a sample this large and the rest are placed with transform().
UMAP_SAMPLE = 20_000
# t-SNE runs on at most this many rows: scikit-learn's Barnes-Hut t-SNE took
# 103 s at 10,000 points (50-d, two busy cores) and 49 s at 5,000; it grows as
# O(n log n) per iteration with a large constant.
TSNE_SAMPLE = 10_000
# Dimensions t-SNE sees (PCA first, as scikit-learn's TSNE documentation advises).
TSNE_PCA_DIMS = 50
# Rows outside the t-SNE sample sit at the inverse-distance-weighted mean of
# the t-SNE positions of this many nearest sampled rows (openTSNE's idea for
# placing new points, without its optimisation afterwards).
TSNE_PLACEMENT_NEIGHBOURS = 10
# scikit-learn's TSNE default perplexity; smaller sets get (n - 1) / 3, as
# perplexity must stay below the number of points.
TSNE_PERPLEXITY = 30.0
# scikit-learn's init="pca" scales the first axis to this standard deviation.
TSNE_INIT_STD = 1e-4


def _as_float_matrix(X):
    """X as a host float64 NumPy matrix, checked (2-D, not empty, real, finite)."""
    X = np.asarray(backend.to_numpy(_checked(X)))
    return X.astype(np.float64, copy=False)


def _checked(X):
    """X validated (2-D, at least one row, real numbers, finite) in its own namespace and device."""
    return check_input(X, name="X")


def _row_sample(n_samples, sample, random_state):
    """Sorted indices of ``sample`` rows drawn without replacement, or None for all rows."""
    if sample is None or n_samples <= sample:
        return None
    return np.sort(np.random.default_rng(random_state).choice(n_samples, sample, replace=False))


def _take_rows(X, rows):
    """The rows of X at the host indices ``rows`` (all of X when None), in X's namespace."""
    if rows is None:
        return X
    xp = backend.namespace(X)
    return xp.take(X, backend.asarray_like(rows, X), axis=0)


def _fit_pca(X, n_components, sample, random_state):
    """``decomposition.PCA`` fitted on up to ``sample`` rows of the checked X, or None
    when fewer than two rows are there to fit (no variance to find)."""
    fit_rows = _take_rows(X, _row_sample(X.shape[0], sample, random_state))
    n_components = min(n_components, fit_rows.shape[0], X.shape[1])
    if fit_rows.shape[0] < 2:
        return None
    return PCA(n_components, random_state=random_state).fit(fit_rows)


def fit_pca(X, n_components=2, *, sample=PCA_SAMPLE, random_state=0):
    """Fit principal axes with ``decomposition.PCA`` on a random sample of rows.

    Parameters
    ----------
    X : array of shape (n_samples, n_features); NumPy, CuPy, torch or any
        array-API array (the fit runs where X lives)
    n_components : int
    sample : int or None
        Rows used for the fit (all when None or when X has no more rows).
    random_state : int
        Seed for the row sample (and the randomized solver, where PCA's
        "auto" picks it).

    Returns
    -------
    mean : ndarray of shape (n_features,), float64
    components : ndarray of shape (n_components, n_features), float64
        Unit axes, signed so that each axis's largest-magnitude loading is
        positive (the result does not depend on the SVD's sign choice).
        Axes beyond min(sample rows, n_features) are zero.
    """
    X = _checked(X)
    n_features = X.shape[1]
    components = np.zeros((n_components, n_features))
    pca = _fit_pca(X, n_components, sample, random_state)
    if pca is None:
        mean = np.asarray(backend.to_numpy(X), dtype=np.float64).mean(axis=0)
        return mean, components
    fitted = np.asarray(backend.to_numpy(pca.components_), dtype=np.float64)
    components[:fitted.shape[0]] = fitted
    return np.asarray(backend.to_numpy(pca.mean_), dtype=np.float64), components


def _project_pca(X, n_components, sample, random_state):
    """Every row of the checked X on ``n_components`` PCA axes fitted on a sample;
    host NumPy (n, n_components) in X's dtype, missing axes zero. Runs where X lives."""
    pca = _fit_pca(X, n_components, sample, random_state)
    if pca is None:
        return np.zeros((X.shape[0], n_components))
    coords = np.asarray(backend.to_numpy(pca.transform(X)))
    out = np.zeros((X.shape[0], n_components), dtype=coords.dtype)
    out[:, :coords.shape[1]] = coords
    return out


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


def _tsne_init(reduced):
    """scikit-learn's init="pca": the first two PCA coordinates (here the first two
    columns of the PCA-reduced data), the first scaled to ``TSNE_INIT_STD``."""
    init = np.zeros((reduced.shape[0], 2), dtype=np.float64)
    init[:, :min(2, reduced.shape[1])] = reduced[:, :2]
    spread = float(np.std(init[:, 0]))
    return init * (TSNE_INIT_STD / spread) if spread > 0 else init


def _place_beside_neighbours(sample_points, sample_coords, queries):
    """Positions for ``queries`` (m, d): the inverse-distance-weighted mean of the
    coordinates of their ``TSNE_PLACEMENT_NEIGHBOURS`` nearest ``sample_points``."""
    k = min(TSNE_PLACEMENT_NEIGHBOURS, sample_points.shape[0])
    distances, indices = kernels.knn(sample_points, k, queries=queries, metric="euclidean")
    distances = np.asarray(distances, dtype=np.float64)
    # An exact duplicate of a sampled row (distance 0) takes that row's place.
    weights = 1.0 / np.maximum(distances, 1e-12 * max(1.0, float(distances.max(initial=0.0))))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("mk,mkc->mc", weights, sample_coords[np.asarray(indices)])


def _project_tsne(X, random_state):
    """t-SNE of the checked X (any kind): PCA to ``TSNE_PCA_DIMS`` where X lives, then
    scikit-learn's TSNE on at most ``TSNE_SAMPLE`` rows; host float64 (n, 2)."""
    from sklearn.manifold import TSNE

    n_samples = X.shape[0]
    if n_samples < 2:
        return np.zeros((n_samples, 2))
    rows = _row_sample(n_samples, TSNE_SAMPLE, random_state)
    # All components when d <= 50: a rotation, which t-SNE's distances do not see.
    reduced = _project_pca(X, TSNE_PCA_DIMS, PCA_SAMPLE, random_state)
    fitted = reduced if rows is None else reduced[rows]
    perplexity = min(TSNE_PERPLEXITY, (fitted.shape[0] - 1) / 3.0)
    coords = TSNE(2, perplexity=perplexity, init=_tsne_init(fitted),
                  random_state=random_state).fit_transform(fitted)
    if rows is None:
        return coords
    out = np.empty((n_samples, 2))
    out[rows] = coords
    rest = np.setdiff1d(np.arange(n_samples), rows)
    out[rest] = _place_beside_neighbours(fitted, coords, reduced[rest])
    return out


def project_2d(X, method="pca", *, random_state=0, sample=PCA_SAMPLE):
    """Project rows of X to two dimensions for plotting.

    Parameters
    ----------
    X : array of shape (n_samples, n_features); NumPy, CuPy, torch or any
        array-API array. "pca" (and t-SNE's PCA step) run where X lives;
        UMAP and t-SNE run on the host.
    method : {"pca", "umap", "tsne", "auto"}
        "pca": ``decomposition.PCA`` axes fitted on up to ``sample`` rows,
        then every row projected on them; "umap": umap-learn's UMAP
        (ImportError naming the package when it is missing), fitted on up
        to ``UMAP_SAMPLE`` rows; "tsne": scikit-learn's TSNE on the data
        reduced to 50 PCA dimensions, on up to ``TSNE_SAMPLE`` rows (the
        rest placed beside their nearest sampled rows). Slow above about
        10,000 points (seconds for 3,000 on many cores, minutes for
        10,000 on a laptop); "auto":
        UMAP when umap-learn is installed, else PCA.
    random_state : int
        Seed of the row samples, UMAP and t-SNE: the same seed gives the
        same picture.
    sample : int or None
        Rows used to fit the PCA axes.

    Returns
    -------
    ndarray of shape (n_samples, 2), float32, NumPy
    """
    if method not in PROJECTION_METHODS:
        raise ValueError(f"method must be one of {PROJECTION_METHODS}, got {method!r}.")
    X = _checked(X)
    if method == "umap" and not _umap_available():
        raise ImportError("method='umap' needs the umap-learn package: pip install umap-learn "
                          "(or gpucluster[projection]).")
    if method == "tsne":
        return np.asarray(_project_tsne(X, random_state), dtype=np.float32)
    if method == "umap" or (method == "auto" and _umap_available() and X.shape[0] > 15):
        return np.asarray(_project_umap(_as_float_matrix(X), random_state), dtype=np.float32)
    return _project_pca(X, 2, sample, random_state).astype(np.float32)
