"""Checks every estimator must pass: scikit-learn's estimator checks and output mirroring."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)

from gpucluster import (
    DBSCAN,
    FINCH,
    HDBSCAN,
    OPTICS,
    AffinityPropagation,
    AgglomerativeClustering,
    Birch,
    GaussianMixture,
    KMeans,
    KMedoids,
    MeanShift,
    MiniBatchKMeans,
    PCA,
    SpectralClustering,
)

from ._helpers import assert_same_kind, make_blobs_np

KMEANS_ESTIMATORS = [
    KMeans(n_clusters=3, n_init=2, random_state=0),
    MiniBatchKMeans(n_clusters=3, batch_size=10, random_state=0),
]
ESTIMATORS = KMEANS_ESTIMATORS + [
    DBSCAN(),
    HDBSCAN(min_samples=1),
    OPTICS(),
    AgglomerativeClustering(n_clusters=3),
    AgglomerativeClustering(n_clusters=3, linkage="single"),
    Birch(n_clusters=3),
    FINCH(),
    FINCH(n_clusters=3),
    GaussianMixture(n_init=2, max_iter=5),
    KMedoids(n_clusters=3),
    KMedoids(n_clusters=3, method="pam"),
    SpectralClustering(n_clusters=3, random_state=0),
    AffinityPropagation(random_state=0),
    MeanShift(bandwidth=2.0),
    PCA(n_components=2, random_state=0),
]

# scikit-learn's own KMeans and MiniBatchKMeans carry the same expectation:
# a weight of 2 is not the same as a repeated row once random initialisation
# and (for mini-batches) random batches are involved.
KMEANS_EXPECTED_FAILED = {
    "check_sample_weight_equivalence_on_dense_data": "sample_weight is not equivalent to "
    "removing/adding samples under random initialisation, as in scikit-learn's KMeans.",
    "check_sample_weight_equivalence_on_sparse_data": "the same, on sparse X (KMeans takes "
    "sparse input, as scikit-learn's does).",
}


def expected_failed(estimator):
    return KMEANS_EXPECTED_FAILED if isinstance(estimator, KMeans) else {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_dataframe_column_names_are_kept_and_checked(estimator):
    """scikit-learn's check (which parametrize_with_checks leaves out): fit on a DataFrame
    records ``feature_names_in_``, and the methods refuse columns renamed or reordered."""
    pytest.importorskip("pandas")
    check_dataframe_column_names_consistency(type(estimator).__name__, clone(estimator))


@pytest.mark.parametrize("estimator", KMEANS_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_outputs_mirror_input(estimator, xp, dtype):
    """Fitted arrays and method outputs have X's kind, device and dtype, as the NumPy run."""
    X_np, _ = make_blobs_np(120, 4, centers=3, dtype=dtype)
    X = xp.asarray(X_np)
    est = estimator.fit(X)
    ref = type(estimator)(**estimator.get_params()).fit(X_np)
    for name, expected_dtype in (("cluster_centers_", dtype), ("labels_", np.int32)):
        out = getattr(est, name)
        assert_same_kind(out, X)
        assert tuple(out.shape) == getattr(ref, name).shape, name
        assert np.dtype(str(out.dtype).split(".")[-1]) == np.dtype(expected_dtype), name
    for method in ("predict", "transform", "fit_predict", "fit_transform"):
        out = getattr(est, method)(X)
        assert_same_kind(out, X)
        assert tuple(out.shape) == getattr(ref, method)(X_np).shape, method
    assert isinstance(est.score(X), float)
    assert isinstance(est.inertia_, float) and isinstance(est.n_iter_, int)
