"""The public estimators and metrics hand dask arrays over."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gpucluster import GaussianMixture, KMeans, MiniBatchKMeans, metrics
from gpucluster.distributed import is_dask_array

da = pytest.importorskip("dask.array")


def test_public_estimators_and_metrics_accept_dask_arrays(dask_client):
    X, y = make_blobs(1500, centers=4, n_features=3, random_state=0)
    dX = da.from_array(X, chunks=(600, 3))
    km = KMeans(4, init=X[:4], n_init=1).fit(dX)
    ref = KMeans(4, init=X[:4], n_init=1).fit(X)
    assert is_dask_array(km.labels_) and is_dask_array(km.predict(dX))
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, atol=1e-6)
    # Not only dask in and out: the labels find the blobs (ARI 0.96 in memory).
    minibatch_labels = MiniBatchKMeans(4, random_state=0).fit(dX).labels_
    mixture_labels = GaussianMixture(4, random_state=0).fit(dX).predict(dX)
    for labels in (minibatch_labels, mixture_labels):
        assert is_dask_array(labels)
        assert metrics.adjusted_rand_score(y, labels.compute()) > 0.9
    dy = da.from_array(y, chunks=500)
    assert metrics.adjusted_rand_score(dy, km.labels_) == pytest.approx(
        metrics.adjusted_rand_score(y, ref.labels_), rel=1e-10)
    assert metrics.calinski_harabasz_score(dX, dy) == pytest.approx(
        metrics.calinski_harabasz_score(X, y), rel=1e-10)
