"""project_2d(): shapes, PCA equal to NumPy's SVD projection up to sign, errors."""

import numpy as np
import pytest

from gpucluster.report import project_2d
from gpucluster.report.projection import fit_pca


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
    _, components = fit_pca(X, sample=200)
    assert abs(components[0, 0]) > 0.99  # the long axis is found from 200 rows


def test_pca_axes_have_a_fixed_sign():
    X = np.random.default_rng(2).normal(size=(50, 4))
    _, a = fit_pca(X)
    _, b = fit_pca(-X)
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_rank_deficient_and_one_feature():
    X = np.arange(10.0)[:, None]
    got = project_2d(X)
    assert got.shape == (10, 2)
    np.testing.assert_allclose(got[:, 1], 0)


@pytest.mark.parametrize("bad, error", [(np.zeros(5), ValueError), (np.zeros((0, 3)), ValueError),
                                        (np.array([[np.nan, 1.0]]), ValueError)])
def test_bad_input_is_refused(bad, error):
    with pytest.raises(error):
        project_2d(bad)


def test_unknown_method_and_missing_umap():
    X = np.zeros((20, 3))
    with pytest.raises(ValueError, match="method"):
        project_2d(X, method="tsne")
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="umap-learn"):
            project_2d(X, method="umap")
        assert project_2d(X + np.arange(3), method="auto").shape == (20, 2)  # falls back to PCA
    else:
        assert project_2d(np.random.default_rng(0).normal(size=(40, 3)), method="umap").shape == (40, 2)
