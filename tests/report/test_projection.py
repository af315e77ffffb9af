"""project_2d(): shapes, PCA equal to NumPy's SVD projection up to sign, t-SNE, UMAP, errors."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from gpucluster.report import project_2d, projection
from gpucluster.report.projection import fit_pca


@pytest.fixture(autouse=True)
def _one_openmp_thread():
    """The t-SNEs here have tens of points: OpenMP threads only spin against the
    other xdist worker (2,000 points: 10 s on one thread, 34 s on two busy cores)."""
    with threadpool_limits(1, user_api="openmp"):
        yield


def _svd_projection(X):
    centred = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def test_pca_matches_numpy_svd_up_to_sign():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12)) * np.linspace(5, 0.5, 12)
    got = project_2d(X, method="pca")
    want = _svd_projection(X)
    assert got.shape == (300, 2) and got.dtype == np.float32
    for axis in range(2):
        sign = np.sign(got[:, axis] @ want[:, axis])
        np.testing.assert_allclose(got[:, axis], sign * want[:, axis], rtol=1e-4, atol=1e-4)


def test_pca_on_a_sample_keeps_every_row_and_the_main_axis():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 5)) * np.array([10.0, 1, 1, 1, 1])
    got = project_2d(X, sample=200)
    assert got.shape == (2000, 2)
    mean, components = fit_pca(X, sample=200)
    assert abs(components[0, 0]) > 0.99  # the long axis is found from 200 rows
    # Every row, in the sample or not, is projected on the axes fitted to the sample.
    np.testing.assert_allclose(got, (X - mean) @ components.T, rtol=1e-5, atol=1e-4)


def test_pca_axes_have_a_fixed_sign():
    X = np.random.default_rng(2).normal(size=(50, 4))
    _, a = fit_pca(X)
    _, b = fit_pca(-X)
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_rank_deficient_and_one_feature():
    X = np.arange(10.0)[:, None]
    got = project_2d(X)
    assert got.shape == (10, 2)
    np.testing.assert_allclose(np.abs(got[:, 0]), np.abs(X[:, 0] - 4.5), rtol=1e-6)  # centred
    np.testing.assert_allclose(got[:, 1], 0)


@pytest.mark.parametrize("bad, message", [
    (np.zeros(5), "Expected 2D array, got 1D array"),
    (np.zeros((0, 3)), r"Found array with 0 sample\(s\)"),
    (np.array([[np.nan, 1.0]]), "Input X contains NaN"),
], ids=["1-D", "no-rows", "nan"])
@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_bad_input_is_refused(bad, message, method):
    with pytest.raises(ValueError, match=message):
        project_2d(bad, method=method)


def test_pca_axes_are_decomposition_pcas_and_sklearns():
    """fit_pca is gpucluster's PCA on the sample: sklearn's axes, with sklearn's signs."""
    X = np.random.default_rng(3).normal(size=(200, 6)) * np.linspace(4, 1, 6) + 2.0
    mean, components = fit_pca(X, 3, sample=None)
    theirs = PCA(3).fit(X)
    np.testing.assert_allclose(mean, theirs.mean_, rtol=1e-12)
    np.testing.assert_allclose(components, theirs.components_, rtol=1e-7, atol=1e-9)


def test_one_row_projects_to_the_origin():
    np.testing.assert_array_equal(project_2d(np.ones((1, 4))), np.zeros((1, 2), np.float32))
    _, components = fit_pca(np.ones((1, 4)))
    np.testing.assert_array_equal(components, 0.0)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_every_backend_gives_the_numpy_result(xp, method):
    """PCA runs where the input lives (CuPy and torch CUDA on the GPU); the picture is
    NumPy float32 whatever came in, and the NumPy run's."""
    X = _blobs(40)[0]
    got = project_2d(xp.asarray(X), method=method)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == (40, 2)
    np.testing.assert_allclose(got, project_2d(X, method=method), rtol=1e-5, atol=1e-5)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method must be one of"):
        project_2d(np.zeros((20, 3)), method="lda")


def test_umap_without_umap_learn_names_the_package_and_auto_falls_back(monkeypatch):
    monkeypatch.setattr(projection, "_umap_available", lambda: False)
    X = _blobs(20)[0]
    with pytest.raises(ImportError, match="pip install umap-learn"):
        project_2d(X, method="umap")
    np.testing.assert_array_equal(project_2d(X, method="auto"), project_2d(X, method="pca"))


@pytest.mark.slow  # umap-learn compiles its Numba functions on first use: about 20 s
def test_umap_projects_every_row():
    pytest.importorskip("umap")
    X, y = _blobs(40)
    got = project_2d(X, method="umap")
    assert got.shape == (40, 2) and got.dtype == np.float32 and np.all(np.isfinite(got))
    # UMAP's own picture (not PCA's), the same for a seed, with the blobs kept apart.
    assert not np.allclose(got, project_2d(X, method="pca"), atol=1e-3)
    np.testing.assert_array_equal(got, project_2d(X, method="umap"))
    assert adjusted_rand_score(y, KMeans(3, n_init=3, random_state=0).fit_predict(got)) == 1.0


# --------------------------------------------------------------------------
# t-SNE (scikit-learn's)


def _blobs(n, n_features=10, centers=3, seed=0):
    return make_blobs(n, n_features, centers=centers, cluster_std=0.5, random_state=seed)


def test_tsne_is_finite_seeded_and_separates_blobs():
    X, y = _blobs(60)
    got = project_2d(X, method="tsne", random_state=1)
    assert got.shape == (60, 2) and got.dtype == np.float32 and np.all(np.isfinite(got))
    # The start is PCA's (scikit-learn's init="pca"): the picture is the same for a seed.
    np.testing.assert_array_equal(got, project_2d(X, method="tsne", random_state=1))
    found = KMeans(3, n_init=3, random_state=0).fit_predict(got)
    assert adjusted_rand_score(y, found) == 1.0


def test_tsne_is_sklearns_tsne_on_the_pca_reduced_rows():
    """The same picture as scikit-learn's TSNE run by hand on our PCA coordinates."""
    X, _ = _blobs(30, n_features=60)
    reduced = PCA(30).fit_transform(X)  # every axis: min(n_samples, n_features) = 30
    init = np.zeros((30, 2))
    init[:] = reduced[:, :2]
    init *= 1e-4 / init[:, 0].std()
    want = TSNE(2, perplexity=29 / 3, init=init, random_state=0).fit_transform(reduced)
    np.testing.assert_allclose(project_2d(X, method="tsne"), want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("n", [2, 3])
def test_tsne_of_a_handful_of_rows(n):
    got = project_2d(_blobs(n)[0], method="tsne")
    assert got.shape == (n, 2) and np.all(np.isfinite(got))


def test_tsne_above_its_sample_places_the_rest_beside_their_neighbours(monkeypatch):
    monkeypatch.setattr(projection, "TSNE_SAMPLE", 45)
    X, y = _blobs(90)
    got = project_2d(X, method="tsne")
    assert got.shape == (90, 2) and np.all(np.isfinite(got))
    # Placed rows land among their own blob, so the blobs stay apart.
    assert adjusted_rand_score(y, KMeans(3, n_init=3, random_state=0).fit_predict(got)) == 1.0


def test_placement_is_the_inverse_distance_weighted_mean(monkeypatch):
    monkeypatch.setattr(projection, "TSNE_PLACEMENT_NEIGHBOURS", 2)
    points = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    coords = np.array([[0.0, 0.0], [3.0, 6.0], [-50.0, -50.0]])
    queries = np.array([[0.0, 0.0], [0.25, 0.0]])
    placed = projection._place_beside_neighbours(points, coords, queries)
    np.testing.assert_allclose(placed[0], coords[0], atol=1e-9)  # a duplicate takes its row's place
    np.testing.assert_allclose(placed[1], 0.75 * coords[0] + 0.25 * coords[1])  # weights 1/0.25, 1/0.75
