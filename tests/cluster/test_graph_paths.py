"""DBSCAN, FINCH and single linkage on the neighbour graph (``cluster._graph``).

Each graph path is checked against the estimator's exact path: identical
results when the graph holds every needed pair, ARI >= 0.99 on clustered
data with the approximate (inverted-file) graph.
"""

import importlib

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from gpucluster.cluster import _graph
from gpucluster.cluster.dbscan import DBSCAN
from gpucluster.cluster.finch import FINCH
from gpucluster.cluster.hierarchy import AgglomerativeClustering

from .._helpers import assert_same_kind, to_numpy


def _approximate_graphs(monkeypatch):
    """Make knn_graph's "auto" take the inverted-file search at any size."""
    module = importlib.import_module("gpucluster.kernels.knn_graph")
    monkeypatch.setattr(module, "AUTO_EXACT_MAX_ROWS", 0)


def _blobs(n, d=32, centers=8, std=1.0, seed=0):
    X, y = make_blobs(n, d, centers=centers, cluster_std=std, random_state=seed)
    return X.astype(np.float32), y


def _eps(X, min_samples, quantile):
    """The quantile of the rows' distances to their (min_samples - 1)-th nearest other
    row: about that share of rows is core."""
    from sklearn.neighbors import NearestNeighbors

    distances, _ = NearestNeighbors(n_neighbors=min_samples).fit(X).kneighbors(X)
    return float(np.quantile(distances[:, -1], quantile))


def _spy(monkeypatch, module, name, calls):
    original = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)


# ----------------------------------------------------------------------
# DBSCAN


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
def test_dbscan_graph_with_every_pair_equals_the_exact_path(metric, monkeypatch):
    # k = n - 1: every pair within eps is in the graph, so the result is exact.
    X, _ = _blobs(400, 8, centers=4, std=1.5)
    monkeypatch.setattr(_graph, "GRAPH_NEIGHBORS", X.shape[0])
    eps = {"euclidean": 3.0, "sqeuclidean": 9.0, "cosine": 0.05}[metric]
    exact = DBSCAN(eps, min_samples=6, metric=metric).fit(X)
    graph = DBSCAN(eps, min_samples=6, metric=metric, algorithm="knn_graph").fit(X)
    np.testing.assert_array_equal(graph.labels_, exact.labels_)
    np.testing.assert_array_equal(graph.core_sample_indices_, exact.core_sample_indices_)
    assert len(set(exact.labels_.tolist())) > 2


def test_dbscan_graph_core_points_and_borders_are_exact_with_an_exact_graph():
    # The default k (15) against min_samples 10: core points need only the
    # 9 nearest, and a non-core row has all its eps-neighbours in its list.
    X, _ = _blobs(1500, 16, centers=6, std=2.0, seed=3)
    eps = _eps(X, 10, 0.6)
    exact = DBSCAN(eps, min_samples=10).fit(X)
    graph = DBSCAN(eps, min_samples=10, algorithm="knn_graph").fit(X)
    np.testing.assert_array_equal(graph.core_sample_indices_, exact.core_sample_indices_)
    assert adjusted_rand_score(exact.labels_, graph.labels_) >= 0.99
    assert (exact.labels_ == -1).any() and (exact.labels_ >= 0).any()


@pytest.mark.parametrize("n_samples", [2000, 6000])
def test_dbscan_approximate_graph_agrees_with_the_exact_path(n_samples, monkeypatch):
    _approximate_graphs(monkeypatch)
    X, _ = _blobs(n_samples, 32, centers=10, std=2.0, seed=1)
    eps = _eps(X, 10, 0.7)
    exact = DBSCAN(eps, min_samples=10).fit(X).labels_
    ours = DBSCAN(eps, min_samples=10, algorithm="knn_graph").fit(X).labels_
    assert len(set(exact.tolist())) > 5
    assert adjusted_rand_score(exact, ours) >= 0.99


def test_dbscan_graph_outputs_mirror_input(xp):
    X, _ = _blobs(300, 8, centers=3)
    est = DBSCAN(3.0, min_samples=5, algorithm="knn_graph").fit(xp.asarray(X))
    assert_same_kind(est.labels_, xp.asarray(X))
    exact = DBSCAN(3.0, min_samples=5).fit(X)
    np.testing.assert_array_equal(to_numpy(est.labels_), exact.labels_)


def test_dbscan_graph_refuses_what_it_cannot_do():
    X, _ = _blobs(50, 4, centers=2)
    with pytest.raises(ValueError, match="precomputed"):
        DBSCAN(1.0, metric="precomputed", algorithm="knn_graph").fit(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="sample_weight"):
        DBSCAN(1.0, algorithm="knn_graph").fit(X, sample_weight=np.ones(50))
    with pytest.raises(ValueError, match="algorithm"):
        DBSCAN(1.0, algorithm="graph").fit(X)


# ----------------------------------------------------------------------
# FINCH


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_finch_graph_with_an_exact_graph_equals_the_exact_search(metric):
    # Below knn_graph's size limit the graph is the exact search.
    X, _ = _blobs(1200, 24, centers=6, std=2.0, seed=2)
    exact = FINCH(metric=metric, algorithm="brute").fit(X)
    graph = FINCH(metric=metric, algorithm="knn_graph").fit(X)
    assert graph.n_clusters_per_partition_ == exact.n_clusters_per_partition_
    for a, b in zip(graph.partitions_, exact.partitions_):
        np.testing.assert_array_equal(a, b)


def test_finch_approximate_graph_agrees_with_the_exact_search(monkeypatch):
    _approximate_graphs(monkeypatch)
    X, y = _blobs(6000, 32, centers=8, std=1.5, seed=4)
    exact = FINCH(algorithm="brute").fit(X)
    graph = FINCH(algorithm="knn_graph").fit(X)
    # The levels with about the true number of clusters agree.
    pick = [np.argmin(np.abs(np.asarray(m.n_clusters_per_partition_) - 8))
            for m in (exact, graph)]
    a = exact.partitions_[pick[0]]
    b = graph.partitions_[pick[1]]
    assert adjusted_rand_score(a, b) >= 0.99
    assert adjusted_rand_score(y, b) >= 0.99


def test_finch_auto_takes_the_graph_above_its_size(monkeypatch):
    from gpucluster import kernels

    monkeypatch.setattr(_graph, "GRAPH_MIN_ROWS", 500)
    calls = []
    _spy(monkeypatch, kernels, "knn_graph", calls)
    _spy(monkeypatch, kernels, "knn", calls)
    X, _ = _blobs(600, 20, centers=3)
    FINCH().fit(X)
    # The first level (600 rows) on the graph, the levels of means exactly.
    assert calls[0] == "knn_graph" and set(calls[1:]) <= {"knn"}
    calls.clear()
    FINCH().fit(X[:, :16])
    assert set(calls) == {"knn"}


def test_finch_rejects_an_unknown_algorithm():
    with pytest.raises(ValueError, match="algorithm"):
        FINCH(algorithm="ivf").fit(np.random.default_rng(0).standard_normal((10, 3)))


# ----------------------------------------------------------------------
# Single linkage


@pytest.mark.parametrize("approximate", [False, True])
def test_single_linkage_on_the_graph_agrees_with_the_exact_tree(approximate, monkeypatch):
    if approximate:
        _approximate_graphs(monkeypatch)
    X, _ = _blobs(3000, 32, centers=6, std=1.0, seed=5)
    exact = AgglomerativeClustering(6, linkage="single", compute_distances=True).fit(X)
    monkeypatch.setattr(_graph, "GRAPH_MIN_ROWS", 1000)
    from gpucluster import kernels

    calls = []
    _spy(monkeypatch, kernels, "graph_mst", calls)
    graph = AgglomerativeClustering(6, linkage="single", compute_distances=True).fit(X)
    assert calls == ["graph_mst"]
    assert adjusted_rand_score(exact.labels_, graph.labels_) >= 0.99
    # The joins between the blobs are the exact closest pairs.
    np.testing.assert_allclose(graph.distances_[-5:], exact.distances_[-5:], rtol=1e-5)


def test_single_linkage_keeps_the_exact_tree_below_the_graph_size(monkeypatch):
    from gpucluster import kernels

    calls = []
    _spy(monkeypatch, kernels, "graph_mst", calls)
    _spy(monkeypatch, kernels, "mst", calls)
    X, _ = _blobs(500, 32, centers=3)
    AgglomerativeClustering(3, linkage="single").fit(X)
    assert calls == ["mst"]


# ----------------------------------------------------------------------
# OPTICS


def test_optics_graph_with_every_pair_equals_the_exact_loop(monkeypatch):
    from gpucluster.cluster.optics import OPTICS

    X, _ = _blobs(300, 6, centers=3, std=1.0, seed=6)
    monkeypatch.setattr(_graph, "GRAPH_NEIGHBORS", X.shape[0])
    exact = OPTICS(min_samples=8).fit(X)
    graph = OPTICS(min_samples=8, algorithm="knn_graph").fit(X)
    for name in ("ordering_", "reachability_", "predecessor_", "core_distances_", "labels_"):
        np.testing.assert_array_equal(getattr(graph, name), getattr(exact, name), err_msg=name)


@pytest.mark.parametrize("approximate", [False, True])
def test_optics_graph_agrees_with_the_exact_loop_on_blobs(approximate, monkeypatch):
    from gpucluster.cluster.optics import OPTICS

    if approximate:
        _approximate_graphs(monkeypatch)
    X, _ = _blobs(3000, 24, centers=6, std=1.5, seed=7)
    exact = OPTICS(min_samples=10, min_cluster_size=100).fit(X).labels_
    graph = OPTICS(min_samples=10, min_cluster_size=100, algorithm="knn_graph").fit(X).labels_
    assert len(set(exact.tolist()) - {-1}) >= 5
    assert adjusted_rand_score(exact, graph) >= 0.99


def test_optics_auto_takes_the_graph_above_its_size(monkeypatch):
    from gpucluster import kernels
    from gpucluster.cluster.optics import OPTICS

    monkeypatch.setattr(_graph, "GRAPH_MIN_ROWS", 500)
    calls = []
    _spy(monkeypatch, kernels, "optics_graph_ordering", calls)
    _spy(monkeypatch, kernels, "optics_ordering", calls)
    X, _ = _blobs(600, 20, centers=3)
    OPTICS(min_samples=5).fit(X)
    OPTICS(min_samples=5).fit(X[:499])
    OPTICS(min_samples=5).fit(X[:, :16])
    assert calls == ["optics_graph_ordering", "optics_ordering", "optics_ordering"]
