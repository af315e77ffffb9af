"""GaussianMixture on dask arrays: EM as map-reduce equals the single-machine EM.

From the same start (given weights, means and precisions, or the rows
"random_from_data" draws with the seed) every iteration is the single-machine
one up to the order of the float64 chunk sums, so parameters agree to 1e-6
(float64; ~1e-13 in practice) and iteration counts exactly.
"""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gpucluster import GaussianMixture
from gpucluster.distributed import is_dask_array, mixture

da = pytest.importorskip("dask.array")

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(1500, centers=3, n_features=3, random_state=0)
    assert len(set(y[[0, 1, 2]])) == 3
    return X, da.from_array(X, chunks=((400, 0, 700, 400), 3))


def _initial(X, covariance_type):
    """A start near the answer (three rows of different blobs, unit precisions)."""
    means = X[[0, 1, 2]]
    d = X.shape[1]
    precisions = {
        "full": np.stack([np.eye(d)] * 3), "tied": np.eye(d),
        "diag": np.ones((3, d)), "spherical": np.ones(3),
    }[covariance_type]
    return {"weights_init": np.full(3, 1 / 3), "means_init": means,
            "precisions_init": precisions}


def _assert_same_model(est, ref):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(est, name), getattr(ref, name), rtol=1e-6,
                                   atol=1e-6, err_msg=name)
    assert est.n_iter_ == ref.n_iter_
    assert est.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_given_initial_parameters_give_the_single_machine_model(dask_client, data,
                                                                 covariance_type):
    X, dX = data
    params = dict(n_components=3, covariance_type=covariance_type,
                  **_initial(X, covariance_type))
    ref = GaussianMixture(**params).fit(X)
    est = mixture.fit(GaussianMixture(**params), dX)
    _assert_same_model(est, ref)
    assert isinstance(est.means_, np.ndarray)


def test_random_from_data_and_the_fitted_model_on_chunks(dask_client, data):
    X, dX = data
    params = dict(n_components=3, covariance_type="full", init_params="random_from_data",
                  random_state=0)
    ref = GaussianMixture(**params)
    ref_labels = ref.fit_predict(X)
    est = GaussianMixture(**params)
    labels = mixture.fit_predict(est, dX)
    _assert_same_model(est, ref)
    assert is_dask_array(labels)
    np.testing.assert_array_equal(labels.compute(), ref_labels)
    proba = mixture.predict_proba(est, dX)
    assert is_dask_array(proba) and proba.shape == (1500, 3)
    np.testing.assert_allclose(proba.compute(), ref.predict_proba(X), atol=1e-10)
    np.testing.assert_allclose(mixture.score_samples(est, dX).compute(), ref.score_samples(X),
                               rtol=1e-10)
    assert mixture.score(est, dX) == pytest.approx(ref.score(X), rel=1e-10)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random"])
def test_other_initialisations_reach_a_model_as_good(dask_client, data, init_params):
    """These draw differently from one machine (k-means|| seeding, per-chunk random
    draws), so the bar is the fitted log-likelihood, not the parameters."""
    X, dX = data
    params = dict(n_components=3, covariance_type="spherical", init_params=init_params,
                  random_state=0)
    ref = GaussianMixture(**params).fit(X)
    est = mixture.fit(GaussianMixture(**params), dX)
    assert est.lower_bound_ >= ref.lower_bound_ - 1e-3


def test_bad_input_is_refused(dask_client, data):
    X, _ = data
    bad = X.copy()
    bad[3, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        mixture.fit(GaussianMixture(2), da.from_array(bad, chunks=(500, 3)))
    est = mixture.fit(GaussianMixture(2, random_state=0), da.from_array(X, chunks=(500, 3)))
    with pytest.raises(ValueError, match="features"):
        mixture.predict(est, da.from_array(X[:, :2], chunks=(500, 2)))
