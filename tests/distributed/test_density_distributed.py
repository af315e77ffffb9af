"""HDBSCAN and DBSCAN on dask arrays: the neighbour graph built on the cluster, the fit on
the client, equal to the single-machine fit on the exact graph.

``knn_graph`` of a dask array takes one task per pair of row chunks; its neighbours
equal the single-machine exact graph's (ties to the lower index), whatever the
chunking, so the estimators built on it give the single-machine labels.
"""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gpucluster import DBSCAN, HDBSCAN, kernels
from gpucluster.distributed.neighbors import knn_graph

da = pytest.importorskip("dask.array")

CHUNKINGS = {
    "uneven": (150, 400, 250),
    "single": (800,),
    "with-empty": (300, 0, 500),
    "many-small": (60,) * 13 + (20,),
}


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(800, centers=4, n_features=20, cluster_std=1.5, random_state=3)
    X = X.astype(np.float32)
    X[17] = X[5]  # a duplicated row: its twin is a neighbour at distance 0
    return X, y


def _dask(X, chunks):
    return da.from_array(X, chunks=(chunks, X.shape[1]))


@pytest.mark.parametrize("chunking", sorted(CHUNKINGS))
@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean", "cosine"])
def test_knn_graph_equals_the_exact_single_machine_graph(dask_client, blobs, chunking, metric):
    X, _ = blobs
    distances, indices = knn_graph(_dask(X, CHUNKINGS[chunking]), 12, metric, split_every=3)
    expected_distances, expected_indices = kernels.knn_graph(X, 12, metric=metric,
                                                             method="exact")
    assert isinstance(indices, np.ndarray) and indices.dtype == np.int64
    assert distances.dtype == X.dtype and distances.shape == (800, 12)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5, atol=1e-5)
    assert not np.any(indices == np.arange(800)[:, None])


def test_knn_graph_rejects_bad_arguments(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="k must be an integer in"):
        knn_graph(_dask(X, 400), 800)
    with pytest.raises(ValueError, match="split_every"):
        knn_graph(_dask(X, 400), 5, split_every=1)
    distances, indices = knn_graph(_dask(X, 400), 0)
    assert distances.shape == indices.shape == (800, 0)


@pytest.mark.parametrize("chunking", ["uneven", "with-empty"])
def test_hdbscan_on_a_dask_array_equals_the_single_machine_fit(dask_client, blobs, chunking):
    X, y = blobs
    ours = HDBSCAN(min_cluster_size=20, algorithm="knn_graph").fit(_dask(X, CHUNKINGS[chunking]))
    alone = HDBSCAN(min_cluster_size=20, algorithm="knn_graph").fit(X)
    assert isinstance(ours.labels_, da.Array) and ours.labels_.chunks[0] == CHUNKINGS[chunking]
    np.testing.assert_array_equal(ours.labels_.compute(), alone.labels_)
    np.testing.assert_allclose(ours.probabilities_.compute(), alone.probabilities_)
    assert len(set(alone.labels_.tolist()) - {-1}) == 4
    labels = HDBSCAN(min_cluster_size=20, algorithm="knn_graph").fit_predict(_dask(X, 300))
    np.testing.assert_array_equal(labels.compute(), alone.labels_)


def test_dbscan_on_a_dask_array_equals_the_single_machine_fit(dask_client, blobs):
    X, _ = blobs
    weights = np.random.default_rng(0).integers(1, 3, size=800).astype(np.float64)
    ours = DBSCAN(eps=7.0, min_samples=8, algorithm="knn_graph").fit(
        _dask(X, CHUNKINGS["uneven"]), sample_weight=None)
    alone = DBSCAN(eps=7.0, min_samples=8, algorithm="knn_graph").fit(X)
    np.testing.assert_array_equal(ours.labels_.compute(), alone.labels_)
    np.testing.assert_array_equal(ours.core_sample_indices_, alone.core_sample_indices_)
    assert len(set(alone.labels_.tolist()) - {-1}) == 4
    exact = DBSCAN(eps=7.0, min_samples=8).fit(_dask(X, 300), sample_weight=da.from_array(weights))
    np.testing.assert_array_equal(exact.labels_.compute(),
                                  DBSCAN(eps=7.0, min_samples=8).fit(X, sample_weight=weights)
                                  .labels_)
