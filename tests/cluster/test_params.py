"""Parameter checks shared by every estimator (``_validation.check_scalar``): NaN and
values of the wrong type are refused with an error that names the parameter."""

import numbers
import warnings

import numpy as np
import pytest

from gpucluster._validation import check_scalar
from gpucluster.cluster import (
    DBSCAN,
    FINCH,
    HDBSCAN,
    OPTICS,
    AgglomerativeClustering,
    GaussianMixture,
    KMeans,
    MiniBatchKMeans,
)

X = np.random.default_rng(0).normal(size=(40, 3))
NAN = float("nan")


def _fit(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X)


# Each float parameter once accepted NaN silently (the first six) or refused it only by
# luck of its range check (the rest).
@pytest.mark.parametrize("cls, params, name", [
    (KMeans, {"n_clusters": 2, "tol": NAN}, "tol"),
    (MiniBatchKMeans, {"n_clusters": 2, "reassignment_ratio": NAN}, "reassignment_ratio"),
    (DBSCAN, {"p": NAN}, "p"),
    (HDBSCAN, {"cluster_selection_epsilon": NAN}, "cluster_selection_epsilon"),
    (OPTICS, {"cluster_method": "dbscan", "eps": NAN}, "eps"),
    (AgglomerativeClustering, {"n_clusters": None, "distance_threshold": NAN},
     "distance_threshold"),
    (DBSCAN, {"eps": NAN}, "eps"),
    (HDBSCAN, {"alpha": NAN}, "alpha"),
    (OPTICS, {"max_eps": NAN}, "max_eps"),
    (OPTICS, {"xi": NAN}, "xi"),
    (KMeans, {"n_clusters": 2, "tol": np.float64("nan")}, "tol"),
    (GaussianMixture, {"tol": NAN}, "tol"),
    (GaussianMixture, {"reg_covar": NAN}, "reg_covar"),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_nan_parameter_is_refused_naming_it(cls, params, name):
    estimator = cls(**params)
    with pytest.raises(ValueError, match=rf"^{name} must be .*, got (np\.float64\()?nan\)?\.$"):
        _fit(estimator)
    assert not hasattr(estimator, "labels_")


@pytest.mark.parametrize("cls, params, name", [
    (KMeans, {"n_clusters": "3"}, "n_clusters"),
    (MiniBatchKMeans, {"n_clusters": "3"}, "n_clusters"),
    (KMeans, {"n_clusters": 2, "max_iter": "3"}, "max_iter"),
    (MiniBatchKMeans, {"n_clusters": 2, "max_iter": "3"}, "max_iter"),
    (KMeans, {"n_clusters": 2, "tol": "0.1"}, "tol"),
    (KMeans, {"n_clusters": 2.0}, "n_clusters"),
    (AgglomerativeClustering, {"n_clusters": "3"}, "n_clusters"),
    (FINCH, {"n_clusters": "3"}, "n_clusters"),
    (HDBSCAN, {"min_cluster_size": "3"}, "min_cluster_size"),
    (DBSCAN, {"min_samples": "3"}, "min_samples"),
    (DBSCAN, {"eps": "0.5"}, "eps"),
    (GaussianMixture, {"n_components": "3"}, "n_components"),
    (GaussianMixture, {"max_iter": 2.0}, "max_iter"),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_parameter_of_the_wrong_type_is_refused_naming_it(cls, params, name):
    with pytest.raises(TypeError, match=rf"^{name} must be an instance of"):
        _fit(cls(**params))


@pytest.mark.parametrize("kwargs, message", [
    ({}, "x must be a number, got nan."),
    ({"min_value": 0}, "x must be >= 0, got nan."),
    ({"min_value": 0, "include_min": False, "max_value": 1}, "x must be > 0 and <= 1, got nan."),
])
def test_check_scalar_refuses_nan_stating_the_range(kwargs, message):
    with pytest.raises(ValueError) as info:
        check_scalar(NAN, "x", kind=numbers.Real, **kwargs)
    assert str(info.value) == message


def test_check_scalar_keeps_infinity_and_numpy_scalars():
    # OPTICS's default max_eps is infinity; NumPy integers are Integral.
    assert check_scalar(float("inf"), "max_eps", kind=numbers.Real, min_value=0) == float("inf")
    assert check_scalar(np.int64(3), "n_clusters", min_value=1) == 3
    with pytest.raises(ValueError, match="<= 1"):
        check_scalar(float("inf"), "x", kind=numbers.Real, max_value=1)


# Bad parameters as scikit-learn 1.9.1 refuses them: each raises its InvalidParameterError
# (a ValueError and a TypeError) there; gpucluster raised plain ValueError or TypeError.
BAD_PARAMETERS = [
    ("KMeans", [{"n_clusters": 0}, {"n_clusters": 1.5}, {"tol": -1.0}, {"max_iter": 0},
                {"init": "bogus"}, {"algorithm": "bogus"}, {"n_init": 0}]),
    ("MiniBatchKMeans", [{"n_clusters": 0}, {"batch_size": 0}, {"max_no_improvement": -1},
                         {"reassignment_ratio": -1.0}, {"init_size": 0}]),
    ("DBSCAN", [{"eps": 0.0}, {"min_samples": 0}, {"algorithm": "bogus"}, {"leaf_size": 0},
                {"p": -1.0}, {"metric": 3}]),
    ("HDBSCAN", [{"min_cluster_size": 1}, {"min_samples": 0}, {"cluster_selection_epsilon": -1.0},
                 {"alpha": 0.0}, {"cluster_selection_method": "bogus"},
                 {"store_centers": "bogus"}, {"algorithm": "bogus"}]),
    ("OPTICS", [{"min_samples": 0}, {"max_eps": -1.0}, {"cluster_method": "bogus"}, {"xi": 2.0},
                {"algorithm": "bogus"}]),
    ("AgglomerativeClustering", [{"n_clusters": 0}, {"linkage": "bogus"}, {"metric": "bogus"},
                                 {"distance_threshold": -1.0, "n_clusters": None}]),
    ("Birch", [{"threshold": 0.0}, {"branching_factor": 1}, {"n_clusters": 0}]),
    ("MeanShift", [{"bandwidth": -1.0}, {"min_bin_freq": 0}, {"max_iter": -1}]),
    ("AffinityPropagation", [{"damping": 0.2}, {"max_iter": 0}, {"convergence_iter": 0},
                             {"affinity": "bogus"}]),
    ("SpectralClustering", [{"n_clusters": 0}, {"affinity": "bogus"}, {"assign_labels": "bogus"},
                            {"n_neighbors": 0}, {"gamma": -1.0}]),
    ("GaussianMixture", [{"n_components": 0}, {"covariance_type": "bogus"}, {"reg_covar": -1.0},
                         {"max_iter": -1}, {"init_params": "bogus"}, {"tol": -1.0}]),
    ("PCA", [{"n_components": -1}, {"svd_solver": "bogus"}, {"tol": -1.0},
             {"iterated_power": -1}]),
]


def _raised(cls, params):
    try:
        _fit(cls(**params))
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return exc
    return None


@pytest.mark.parametrize("name, params", [(name, params) for name, cases in BAD_PARAMETERS
                                          for params in cases])
def test_bad_parameter_raises_invalid_parameter_error_as_scikit_learn(name, params):
    import gpucluster
    import sklearn.cluster
    import sklearn.decomposition
    import sklearn.mixture
    from sklearn.utils._param_validation import InvalidParameterError

    theirs = next(getattr(module, name) for module in (sklearn.cluster, sklearn.mixture,
                                                        sklearn.decomposition)
                  if hasattr(module, name))
    assert isinstance(_raised(theirs, params), InvalidParameterError)
    ours = _raised(getattr(gpucluster, name), params)
    assert isinstance(ours, InvalidParameterError), repr(ours)
    assert next(iter(params)) in str(ours)
