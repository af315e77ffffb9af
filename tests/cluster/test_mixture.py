"""GaussianMixture: parity with scikit-learn, the fitted model's methods, warm starts and errors."""

import warnings

import numpy as np
import pytest
import sklearn.mixture
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from gpucluster import GaussianMixture, config_context
from gpucluster.cluster import mixture
from gpucluster.cluster._mixture_design import DesignBlocks

from .._helpers import assert_same_kind, labels_agree, make_blobs_np, rtol_for, to_numpy

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def blobs(n_samples=600, n_features=3, centers=3, seed=0, offset=0.0, dtype=np.float64):
    """Blobs of unequal spread (so that every covariance type has something to fit)."""
    X, y = make_blobs_np(n_samples, n_features, centers=centers, seed=seed,
                         cluster_std=np.linspace(0.6, 1.8, centers), dtype=np.float64)
    return (X + offset).astype(dtype), y


def initial_parameters(X, y, covariance_type):
    """Weights, means and precisions of the true labels: a start both libraries can share."""
    k = int(y.max()) + 1
    weights = np.bincount(y, minlength=k) / len(y)
    means = np.stack([X[y == c].mean(axis=0) for c in range(k)])
    covs = np.stack([np.cov(X[y == c].T, bias=True) + 0.3 * np.eye(X.shape[1]) for c in range(k)])
    precisions = {
        "full": np.linalg.inv(covs),
        "tied": np.linalg.inv(covs.mean(axis=0)),
        "diag": 1.0 / np.diagonal(covs, axis1=1, axis2=2),
        "spherical": 1.0 / np.diagonal(covs, axis1=1, axis2=2).mean(axis=1),
    }[covariance_type]
    return weights, means, precisions


def assert_matches_sklearn(ours, ref):
    """lower_bound_ within 1e-5 relative, means_ within 1e-4, and the same iterations."""
    np.testing.assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(ours.means_), ref.means_, atol=1e-4)
    np.testing.assert_allclose(to_numpy(ours.weights_), ref.weights_, atol=1e-6)
    np.testing.assert_allclose(to_numpy(ours.covariances_), ref.covariances_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(to_numpy(ours.precisions_), ref.precisions_, rtol=1e-4, atol=1e-6)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.converged_ == ref.converged_


# ---------------------------------------------------------------------------
# Parity with scikit-learn


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_matches_sklearn_from_the_same_initial_parameters(xp, covariance_type):
    """The same weights_init, means_init and precisions_init give scikit-learn's fit (float64)."""
    X, y = blobs(offset=20.0)
    weights, means, precisions = initial_parameters(X, y, covariance_type)
    kwargs = dict(n_components=3, covariance_type=covariance_type, tol=1e-6, max_iter=300)
    ref = sklearn.mixture.GaussianMixture(
        weights_init=weights, means_init=means, precisions_init=precisions, **kwargs).fit(X)
    ours = GaussianMixture(
        weights_init=xp.asarray(weights), means_init=xp.asarray(means),
        precisions_init=xp.asarray(precisions), **kwargs).fit(xp.asarray(X))
    assert_matches_sklearn(ours, ref)
    np.testing.assert_array_equal(to_numpy(ours.predict(xp.asarray(X))), ref.predict(X))
    assert_same_kind(ours.means_, xp.asarray(X))


# "tied" started from picked rows ("k-means++", "random_from_data") differs on
# purpose: see test_tied_start_from_picked_rows_weights_rows_by_responsibility.
SAME_START = [(init, covariance_type)
              for init in ("kmeans", "k-means++", "random", "random_from_data")
              for covariance_type in COVARIANCE_TYPES
              if covariance_type != "tied" or init in ("kmeans", "random")]


@pytest.mark.parametrize("init_params, covariance_type", SAME_START)
def test_matches_sklearn_with_the_same_random_state(init_params, covariance_type):
    """Every initialisation draws what scikit-learn draws, so one seed gives its fit."""
    X, _ = blobs(seed=3)
    kwargs = dict(n_components=3, covariance_type=covariance_type, init_params=init_params,
                  random_state=7, tol=1e-6, max_iter=300)
    ref = sklearn.mixture.GaussianMixture(**kwargs).fit(X)
    ours = GaussianMixture(**kwargs).fit(X)
    assert_matches_sklearn(ours, ref)
    assert labels_agree(ours.predict(X), ref.predict(X)) == 1.0


def test_tied_start_from_picked_rows_weights_rows_by_responsibility():
    """A deliberate difference from scikit-learn, and why.

    scikit-learn's tied covariance sums x x^T over every row, which is right
    only when each row's responsibilities sum to one. From k-means++ or
    random_from_data they are zero except at the picked rows, so its initial
    covariance is X^T X / n_components: huge, and dependent on where the
    origin is. gpucluster weights each row by its responsibilities, so that
    start is reg_covar * I like the other covariance types', and EM then
    finds the better optimum.
    """
    X, y = blobs(2000, 5, centers=4, offset=100.0)
    start = GaussianMixture(4, covariance_type="tied", init_params="k-means++",
                            random_state=0, max_iter=0).fit(X)
    np.testing.assert_allclose(start.covariances_, 1e-6 * np.eye(5), atol=1e-9)
    kwargs = dict(n_components=4, covariance_type="tied", init_params="k-means++", random_state=0)
    ours = GaussianMixture(**kwargs).fit(X)
    ref = sklearn.mixture.GaussianMixture(**kwargs).fit(X)
    assert ours.lower_bound_ > ref.lower_bound_
    assert labels_agree(ours.predict(X), y) > labels_agree(ref.predict(X), y)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_tied_start_from_picked_rows_holds_in_float32(init_params):
    """That start's covariance cancels to reg_covar * I: float32 products of the second
    moment left rounding above reg_covar (Cholesky failed for every seed on these blobs)."""
    X, _ = blobs(600, 8, centers=5)
    for seed in range(3):
        start = GaussianMixture(3, covariance_type="tied", init_params=init_params,
                                random_state=seed, max_iter=0).fit(X.astype(np.float32))
        # reg_covar * I plus the picked rows' z z^T times float32's size offset (10 eps).
        assert np.linalg.eigvalsh(start.covariances_.astype(np.float64)).min() > 0.99e-6
        fitted = GaussianMixture(3, covariance_type="tied", init_params=init_params,
                                 random_state=seed).fit(X.astype(np.float32))
        assert fitted.converged_ and np.isfinite(fitted.lower_bound_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_methods_match_sklearn_on_the_same_parameters(covariance_type):
    """score_samples, predict_proba, predict, score, bic, aic and sample equal scikit-learn's
    for the same fitted parameters (copied into a scikit-learn model)."""
    X, _ = blobs(offset=5.0)
    ours = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    ref = sklearn.mixture.GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        setattr(ref, name, getattr(ours, name))
    X_new = X[::7] + 0.5
    np.testing.assert_allclose(ours.score_samples(X_new), ref.score_samples(X_new), rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X_new), ref.predict_proba(X_new), atol=1e-12)
    np.testing.assert_array_equal(ours.predict(X_new), ref.predict(X_new))
    np.testing.assert_allclose(ours.score(X_new), ref.score(X_new), rtol=1e-10)
    np.testing.assert_allclose(ours.bic(X_new), ref.bic(X_new), rtol=1e-10)
    np.testing.assert_allclose(ours.aic(X_new), ref.aic(X_new), rtol=1e-10)
    ours_X, ours_y = ours.sample(50)
    ref_X, ref_y = ref.sample(50)
    np.testing.assert_allclose(ours_X, ref_X)
    np.testing.assert_array_equal(ours_y, ref_y)


def test_n_init_keeps_the_best_lower_bound_as_sklearn():
    X, _ = blobs(400, 4, centers=4, seed=5)
    kwargs = dict(n_components=4, n_init=4, init_params="random", random_state=2, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = sklearn.mixture.GaussianMixture(**kwargs).fit(X)
        ours = GaussianMixture(**kwargs).fit(X)
    np.testing.assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=1e-5)
    np.testing.assert_allclose(ours.lower_bounds_, ref.lower_bounds_, rtol=1e-5)
    np.testing.assert_allclose(ours.means_, ref.means_, atol=1e-4)


# ---------------------------------------------------------------------------
# The fitted model


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predict_proba_rows_sum_to_one_and_agree_with_predict(xp, dtype, covariance_type):
    X_np, _ = blobs(dtype=dtype)
    X = xp.asarray(X_np)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    labels = gm.fit_predict(X)
    proba = gm.predict_proba(X)
    assert_same_kind(proba, X)
    assert tuple(proba.shape) == (600, 3)
    np.testing.assert_allclose(to_numpy(proba).sum(axis=1), 1.0, rtol=rtol_for(dtype))
    np.testing.assert_array_equal(to_numpy(proba).argmax(axis=1), to_numpy(gm.predict(X)))
    np.testing.assert_array_equal(to_numpy(labels), to_numpy(gm.predict(X)))
    score_samples = gm.score_samples(X)
    assert_same_kind(score_samples, X)
    np.testing.assert_allclose(gm.score(X), to_numpy(score_samples).astype(np.float64).mean(),
                               rtol=rtol_for(dtype))


def test_float32_stays_float32_and_integers_become_float64(xp):
    X, _ = blobs(dtype=np.float32)
    gm = GaussianMixture(3, random_state=0).fit(xp.asarray(X))
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert to_numpy(getattr(gm, name)).dtype == np.float32, name
    assert to_numpy(gm.predict_proba(xp.asarray(X))).dtype == np.float32
    # scikit-learn's types: the bound in X's dtype, score a Python float.
    assert type(gm.lower_bound_) is np.float32 and isinstance(gm.score(xp.asarray(X)), float)
    ints = GaussianMixture(2, random_state=0).fit(np.array([[0, 0], [0, 1], [9, 9], [9, 8]] * 3))
    assert ints.means_.dtype == np.float64


def test_float32_agrees_with_float64_on_offset_data():
    """Centring on the mixture's mean keeps float32 close even far from the origin."""
    X, _ = blobs(offset=1000.0)
    kwargs = dict(n_components=3, covariance_type="diag", random_state=0, tol=1e-6)
    a = GaussianMixture(**kwargs).fit(X)
    b = GaussianMixture(**kwargs).fit(X.astype(np.float32))
    assert labels_agree(a.predict(X), b.predict(X.astype(np.float32))) == 1.0
    np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=2e-3)
    np.testing.assert_allclose(b.lower_bound_, a.lower_bound_, rtol=1e-5)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_row_chunks_give_the_same_fit(covariance_type):
    """A tiny memory budget splits every pass into many chunks; the fit is the same."""
    X, _ = blobs(900, 4)
    kwargs = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    whole = GaussianMixture(**kwargs).fit(X)
    with config_context(memory_budget=4096):
        chunked = GaussianMixture(**kwargs).fit(X)
        proba = chunked.predict_proba(X)
    assert chunked.n_iter_ == whole.n_iter_
    np.testing.assert_allclose(chunked.lower_bound_, whole.lower_bound_, rtol=1e-12)
    np.testing.assert_allclose(chunked.means_, whole.means_, rtol=1e-10)
    np.testing.assert_allclose(chunked.covariances_, whole.covariances_, rtol=1e-9)
    np.testing.assert_allclose(proba, whole.predict_proba(X), atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_shapes_and_component_counts(xp, covariance_type):
    X, _ = blobs()
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=1).fit(xp.asarray(X))
    samples, labels = gm.sample(3000)
    assert_same_kind(samples, xp.asarray(X))
    assert tuple(samples.shape) == (3000, 3) and tuple(labels.shape) == (3000,)
    labels = to_numpy(labels)
    counts = np.bincount(labels, minlength=3)
    expected = np.random.RandomState(1).multinomial(3000, to_numpy(gm.weights_))
    np.testing.assert_array_equal(counts, expected)
    means = np.stack([to_numpy(samples)[labels == k].mean(axis=0) for k in range(3)])
    np.testing.assert_allclose(means, to_numpy(gm.means_), atol=0.2)
    with pytest.raises(ValueError, match="Invalid value for 'n_samples'"):
        gm.sample(0)


def test_precisions_init_gives_the_upper_triangular_factor():
    """precisions_cholesky_ from precisions_init is U with U U^T = P, U upper-triangular."""
    X, y = blobs()
    _, _, precisions = initial_parameters(X, y, "full")
    gm = GaussianMixture(3, precisions_init=precisions, max_iter=0).fit(X)
    for U, P in zip(gm.precisions_cholesky_, precisions):
        np.testing.assert_allclose(np.tril(U, -1), 0.0)
        np.testing.assert_allclose(U @ U.T, P, rtol=1e-10)
    np.testing.assert_allclose(gm.covariances_, np.linalg.inv(precisions), rtol=1e-10)


def test_max_iter_zero_keeps_the_initial_parameters():
    X, y = blobs()
    weights, means, precisions = initial_parameters(X, y, "diag")
    gm = GaussianMixture(3, covariance_type="diag", weights_init=weights, means_init=means,
                         precisions_init=precisions, max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # no warning at max_iter=0
        gm.fit(X)
    np.testing.assert_allclose(gm.means_, means)
    np.testing.assert_allclose(gm.weights_, weights)
    np.testing.assert_allclose(gm.precisions_, precisions)
    assert gm.n_iter_ == 0 and not gm.converged_ and gm.lower_bound_ == -np.inf


def test_all_initial_parameters_given_makes_init_params_irrelevant():
    X, y = blobs()
    weights, means, precisions = initial_parameters(X, y, "full")
    fits = [GaussianMixture(3, weights_init=weights, means_init=means, precisions_init=precisions,
                            init_params=init, random_state=seed).fit(X)
            for init, seed in (("kmeans", 0), ("random", 1))]
    np.testing.assert_array_equal(fits[0].means_, fits[1].means_)
    assert fits[0].lower_bound_ == fits[1].lower_bound_


# ---------------------------------------------------------------------------
# Warm starts and convergence


def test_warm_start_continues_where_the_last_fit_stopped():
    """Two warm fits of one iteration each equal one cold fit of two (scikit-learn's test)."""
    X, _ = blobs(400, 2, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold = GaussianMixture(3, max_iter=2, random_state=0).fit(X)
        warm = GaussianMixture(3, max_iter=1, random_state=0, warm_start=True, n_init=5)
        first = warm.fit(X).lower_bound_
        warm.fit(X)
    np.testing.assert_allclose(warm.means_, cold.means_, rtol=1e-12)
    np.testing.assert_allclose(warm.precisions_, cold.precisions_, rtol=1e-10)
    assert warm.lower_bound_ == cold.lower_bound_ > first
    assert warm.n_iter_ == 1


def test_convergence_warning_when_not_converged():
    X, _ = blobs()
    gm = GaussianMixture(3, max_iter=1, tol=1e-12, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Best performing initialization did not converge"):
        gm.fit(X)
    assert not gm.converged_ and gm.n_iter_ == 1


def test_verbose_prints_progress(capsys):
    X, _ = blobs()
    GaussianMixture(3, verbose=2, verbose_interval=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert "Initialization 0" in out and "Iteration 1" in out and "converged" in out


# ---------------------------------------------------------------------------
# Errors


def test_collapsed_data_raises_the_ill_defined_covariance_error():
    X = np.vstack([np.ones((5, 3)), np.zeros((5, 3))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(ValueError, match="ill-defined empirical covariance") as info:
            GaussianMixture(4, reg_covar=0, random_state=0).fit(X)
        assert "float64 data instead of float32" not in str(info.value)
        with pytest.raises(ValueError, match="passing float64 data instead of float32"):
            GaussianMixture(4, reg_covar=0, covariance_type="diag",
                            random_state=0).fit(X.astype(np.float32))
        GaussianMixture(4, reg_covar=1e-6, random_state=0).fit(X)


@pytest.mark.parametrize("params, error, match", [
    ({"n_components": 0}, ValueError, "n_components must be >= 1"),
    ({"covariance_type": "banded"}, ValueError, "covariance_type must be one of"),
    ({"init_params": "kmeans||"}, ValueError, "init_params must be one of"),
    ({"reg_covar": -1.0}, ValueError, "reg_covar must be >= 0"),
    ({"tol": -1.0}, ValueError, "tol must be >= 0"),
    ({"max_iter": -1}, ValueError, "max_iter must be >= 0"),
    ({"n_init": 0}, ValueError, "n_init must be >= 1"),
    ({"verbose_interval": 0}, ValueError, "verbose_interval must be >= 1"),
    ({"warm_start": "yes"}, TypeError, "warm_start must be an instance of bool"),
    ({"n_components": 700}, ValueError, "Expected n_samples >= n_components"),
    ({"weights_init": [0.5, 0.5]}, ValueError, r"'weights' should have the shape of \(3,\)"),
    ({"weights_init": [0.5, 0.3, 0.3]}, ValueError, "'weights' should be normalized"),
    ({"weights_init": [1.5, -0.2, -0.3]}, ValueError, r"'weights' should be in the range \[0, 1\]"),
    ({"means_init": np.zeros((2, 3))}, ValueError, "'means' should have the shape of"),
    ({"means_init": np.full((3, 3), np.nan)}, ValueError, "NaN"),
    ({"precisions_init": -np.ones(3), "covariance_type": "spherical"}, ValueError,
     "'spherical precision' should be positive"),
    ({"precisions_init": np.stack([np.eye(3), np.eye(3), -np.eye(3)])}, ValueError,
     "'full precision' should be symmetric, positive-definite"),
    ({"precisions_init": np.ones((3, 3))}, ValueError, "'full precision' should have the shape"),
], ids=lambda v: str(v)[:40] if isinstance(v, dict) else None)
def test_bad_parameters_raise_and_leave_the_estimator_unchanged(params, error, match):
    X, _ = blobs()
    gm = GaussianMixture(3, random_state=0).fit(X)
    before = gm.means_.copy()
    with pytest.raises(error, match=match):
        gm.set_params(**params).fit(X)
    np.testing.assert_array_equal(gm.means_, before)


@pytest.mark.parametrize("X, match", [
    (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), "NaN"),
    (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), "infinity"),
    (np.zeros((0, 2)), "0 sample"),
    (np.ones((1, 2)), "minimum of 2 is required by GaussianMixture"),
    (np.ones(5), "Expected 2D array"),
])
def test_bad_input_is_refused(X, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(1).fit(X)


def test_methods_need_a_fit_and_the_fitted_feature_count():
    X, _ = blobs()
    gm = GaussianMixture(3)
    for method in (gm.predict, gm.predict_proba, gm.score, gm.score_samples, gm.bic):
        with pytest.raises(NotFittedError):
            method(X)
    with pytest.raises(NotFittedError):
        gm.sample(3)
    gm.fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is expecting 3"):
        gm.predict(X[:, :2])


def test_fitted_precisions_are_the_inverse_covariances():
    X, _ = blobs(offset=3.0)
    for covariance_type in COVARIANCE_TYPES:
        gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
        if covariance_type == "full":
            inverse = np.stack([linalg.inv(p) for p in gm.precisions_])
        elif covariance_type == "tied":
            inverse = linalg.inv(gm.precisions_)
        else:
            inverse = 1.0 / gm.precisions_
        np.testing.assert_allclose(inverse, gm.covariances_, rtol=1e-8)


# ---------------------------------------------------------------------------
# "diag" and "spherical": one EM pass as two matrix products over design blocks

DESIGN_TYPES = ["diag", "spherical"]


def _sklearn_after(X, covariance_type, n_iter):
    """A scikit-learn model after ``n_iter`` EM iterations from a seeded start."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sklearn.mixture.GaussianMixture(
            4, covariance_type=covariance_type, init_params="random_from_data", max_iter=n_iter,
            tol=0.0, random_state=1).fit(X)


@pytest.mark.parametrize("covariance_type", DESIGN_TYPES)
def test_one_em_iteration_equals_sklearns_e_and_m_steps(xp, covariance_type):
    """em_iteration from scikit-learn's parameters gives its _e_step and _m_step, to rounding."""
    X_np, _ = blobs(800, 5, centers=4, offset=30.0)
    ref = _sklearn_after(X_np, covariance_type, 2)
    params = tuple(xp.asarray(np.asarray(getattr(ref, name), dtype=np.float64)) for name in (
        "weights_", "means_", "covariances_", "precisions_cholesky_"))
    (weights, means, covariances, _), lower_bound = mixture.em_iteration(
        xp.asarray(X_np), params, ref.reg_covar, covariance_type)
    ref_lower_bound, log_resp = ref._e_step(X_np)
    ref._m_step(X_np, log_resp)
    np.testing.assert_allclose(lower_bound, ref_lower_bound, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(weights), ref.weights_, rtol=1e-10)
    np.testing.assert_allclose(to_numpy(means), ref.means_, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(to_numpy(covariances), ref.covariances_, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", DESIGN_TYPES)
def test_float32_matches_sklearn_in_float32(covariance_type):
    """float32 data from the same initial parameters gives scikit-learn's float32 fit."""
    X, y = blobs(dtype=np.float32, offset=10.0)
    weights, means, precisions = initial_parameters(X.astype(np.float64), y, covariance_type)
    kwargs = dict(n_components=3, covariance_type=covariance_type, tol=1e-4, max_iter=100,
                  weights_init=weights, means_init=means, precisions_init=precisions)
    ref = sklearn.mixture.GaussianMixture(**kwargs).fit(X)
    ours = GaussianMixture(**kwargs).fit(X)
    assert ours.means_.dtype == np.float32
    np.testing.assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=1e-5)
    np.testing.assert_allclose(ours.means_, ref.means_, atol=1e-3)
    np.testing.assert_allclose(ours.covariances_, ref.covariances_, rtol=1e-3)
    assert labels_agree(ours.predict(X), ref.predict(X)) == 1.0


@pytest.mark.parametrize("covariance_type", DESIGN_TYPES)
def test_design_block_holds_ones_centred_rows_and_squares(xp, covariance_type):
    X_np, _ = blobs(50, 3)
    blocks = DesignBlocks(xp.asarray(X_np), covariance_type, 3)
    block = to_numpy(blocks.block(0, 10))
    Z = X_np[:10] - X_np.mean(axis=0)
    squares = Z * Z if covariance_type == "diag" else (Z * Z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(block, np.vstack([np.ones((1, 10)), Z.T, squares.T]), rtol=1e-12)
    assert block.flags.c_contiguous  # feature-major: the fast layout for both products
    np.testing.assert_allclose(to_numpy(blocks.center), X_np.mean(axis=0), rtol=1e-12)


def test_design_blocks_are_kept_over_a_fit_unless_memory_is_short():
    X, _ = blobs(900, 4)
    kept = DesignBlocks(X, "diag", 3)
    assert kept.block(0, 100) is kept.block(0, 100)
    with config_context(memory_budget=4096):
        short = DesignBlocks(X, "diag", 3)
    assert short.rows < X.shape[0]
    assert short.block(0, 10) is not short.block(0, 10)
    np.testing.assert_array_equal(short.block(0, 10), kept.block(0, 10))
    fresh = DesignBlocks(X, "diag", 3, cache=False)
    assert fresh.block(0, 10) is not fresh.block(0, 10)


def test_a_chunk_halved_on_out_of_memory_stops_keeping_blocks():
    """After a halving, blocks of other bounds are not kept, and every row is seen once."""
    X, _ = blobs(900, 4)
    blocks = DesignBlocks(X, "spherical", 3)
    seen, failed = [], []

    def step(start, stop, block):
        if not failed:
            failed.append(stop)
            raise MemoryError("simulated")
        seen.append((start, stop, block.shape[1]))

    blocks.for_each(step)
    assert failed == [blocks.rows] and seen[0][1] == blocks.rows // 2
    assert sum(width for _, _, width in seen) == X.shape[0]
    assert blocks.block(0, 5) is not blocks.block(0, 5)


@pytest.mark.parametrize("overwrite", [False, True])
def test_log_normalize_along_either_axis(overwrite):
    from scipy.special import logsumexp

    rng = np.random.default_rng(0)
    L = rng.normal(size=(30, 5)) * 50.0 - 1000.0  # exp underflows without the shift
    expected_log = logsumexp(L, axis=1)
    expected_resp = np.exp(L - expected_log[:, None])
    for axis, given in ((1, L.copy()), (0, np.ascontiguousarray(L.T))):
        before = given.copy()
        log_norm, resp = mixture.log_normalize(given, axis=axis, overwrite=overwrite)
        np.testing.assert_allclose(log_norm, expected_log, rtol=1e-12)
        np.testing.assert_allclose(resp if axis == 1 else resp.T, expected_resp, atol=1e-12)
        if not overwrite:
            np.testing.assert_array_equal(given, before)


def _type_of(value):
    """A fitted attribute's type, with the dtype of a NumPy array or scalar and the types of
    a list's items."""
    if isinstance(value, list):
        return list, tuple(_type_of(item) for item in value)
    if isinstance(value, (np.ndarray, np.generic)):
        return type(value), value.dtype
    return type(value)


@pytest.mark.parametrize("max_iter", [100, 0])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fitted_attribute_types_match_sklearn(dtype, covariance_type, max_iter):
    """Every fitted attribute has scikit-learn's type and dtype: lower_bound_ and the items of
    lower_bounds_ were Python floats where scikit-learn gives X's dtype (numpy.float32 for
    float32 X); at max_iter=0 both give a float -inf and no bounds."""
    X, _ = blobs(120, dtype=dtype)
    params = dict(n_components=3, covariance_type=covariance_type, max_iter=max_iter,
                  random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GaussianMixture(**params).fit(X)
        theirs = sklearn.mixture.GaussianMixture(**params).fit(X)
    fitted = sorted(name for name in vars(theirs) if name.endswith("_") and name[0] != "_")
    assert "lower_bounds_" in fitted
    for name in fitted:
        assert _type_of(getattr(ours, name)) == _type_of(getattr(theirs, name)), name



@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_an_empty_component_sits_at_the_origin_as_in_sklearn(covariance_type):
    """A component no row is given to has scikit-learn's mean 0 (the sums over its 10 eps
    of weight), not the data mean the centred sums gave, and its covariance is reg_covar:
    on identical rows its mean was [1, 2, 2], and on lattice rows with k = n the
    E-steps then differed (other weights and labels)."""
    identical = np.repeat([[1.0, 2.0, 2.0]], 9, axis=0)
    lattice = np.array([[0, 1], [2, 0], [1, 1], [0, 2], [2, 0], [1, 1], [2, 2], [0, 2], [0, 1.]])
    for X, k in ((identical, 2), (lattice, 9)):
        params = dict(n_components=k, covariance_type=covariance_type, random_state=1,
                      reg_covar=1e-3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours = GaussianMixture(**params).fit(X)
            theirs = sklearn.mixture.GaussianMixture(**params).fit(X)
        np.testing.assert_allclose(ours.means_, theirs.means_, atol=1e-6)
        np.testing.assert_allclose(ours.weights_, theirs.weights_, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
