"""AgglomerativeClustering: the same trees, distances and labels as scikit-learn's."""

import warnings

import numpy as np
import pytest
import sklearn.cluster
from sklearn.neighbors import kneighbors_graph

from gpucluster import config_context
from gpucluster.cluster.hierarchy import AgglomerativeClustering

from .._helpers import assert_same_kind, labels_agree, make_blobs_np, to_numpy

LINKAGE_METRICS = [
    ("ward", "euclidean"),
    ("complete", "euclidean"),
    ("complete", "manhattan"),
    ("complete", "cosine"),
    ("average", "euclidean"),
    ("average", "manhattan"),
    ("average", "cosine"),
    ("single", "euclidean"),
    ("single", "manhattan"),
    ("single", "cosine"),
]
IDS = [f"{link}-{metric}" for link, metric in LINKAGE_METRICS]


def _random(n=150, d=4, seed=0):
    # Continuous random data: no tied distances, so the tree is unique.
    return np.random.default_rng(seed).normal(size=(n, d))


def _assert_same_tree(ours, ref, linkage):
    children = to_numpy(ours.children_)
    if linkage == "single":
        # scikit-learn orients each single-linkage merge by its Prim
        # traversal; the merged pair and its node number are the same.
        children, expected = np.sort(children, axis=1), np.sort(ref.children_, axis=1)
    else:
        expected = ref.children_
    np.testing.assert_array_equal(children, expected)
    assert ours.n_clusters_ == ref.n_clusters_
    np.testing.assert_array_equal(to_numpy(ours.labels_), ref.labels_)
    assert labels_agree(ours.labels_, ref.labels_) == 1.0


@pytest.mark.parametrize("linkage,metric", LINKAGE_METRICS, ids=IDS)
def test_matches_sklearn_tree_distances_and_labels(linkage, metric):
    X = _random()
    params = dict(n_clusters=5, linkage=linkage, metric=metric, compute_distances=True)
    ref = sklearn.cluster.AgglomerativeClustering(**params).fit(X)
    ours = AgglomerativeClustering(**params).fit(X)
    _assert_same_tree(ours, ref, linkage)
    # Float64 throughout; both sides sum the same terms in different orders.
    np.testing.assert_allclose(to_numpy(ours.distances_), ref.distances_, rtol=1e-10)
    assert ours.n_leaves_ == ref.n_leaves_ and ours.n_connected_components_ == 1


@pytest.mark.parametrize("linkage,metric", LINKAGE_METRICS[::3], ids=IDS[::3])
@pytest.mark.parametrize("threshold", [0.5, 2.0])
def test_distance_threshold_matches_sklearn(linkage, metric, threshold):
    X = _random(seed=1)
    params = dict(n_clusters=None, distance_threshold=threshold, linkage=linkage, metric=metric)
    ref = sklearn.cluster.AgglomerativeClustering(**params).fit(X)
    ours = AgglomerativeClustering(**params).fit(X)
    _assert_same_tree(ours, ref, linkage)
    np.testing.assert_allclose(to_numpy(ours.distances_), ref.distances_, rtol=1e-10)


@pytest.mark.parametrize("linkage", ["ward", "complete", "average", "single"])
@pytest.mark.parametrize("n_neighbors", [10, 2], ids=["connected", "components"])
@pytest.mark.parametrize("n_clusters,full", [(4, "auto"), (30, False)], ids=["full", "partial"])
def test_connectivity_matches_sklearn(linkage, n_neighbors, n_clusters, full):
    """kNN graphs, also one with several components (completed with a warning), full or early-stopped."""
    X = _random(120, 3, seed=2)
    graph = kneighbors_graph(X, n_neighbors, include_self=False)
    params = dict(n_clusters=n_clusters, linkage=linkage, connectivity=graph,
                  compute_full_tree=full, compute_distances=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = sklearn.cluster.AgglomerativeClustering(**params).fit(X)
    with warnings.catch_warnings(record=True) as ours_caught:
        warnings.simplefilter("always")
        ours = AgglomerativeClustering(**params).fit(X)
    assert len(ours_caught) == len(caught)
    assert ours.n_connected_components_ == ref.n_connected_components_
    _assert_same_tree(ours, ref, linkage)
    np.testing.assert_allclose(to_numpy(ours.distances_), ref.distances_, rtol=1e-10)


def test_connectivity_callable():
    X = _random(80, 3, seed=3)

    def graph(data):
        return kneighbors_graph(data, 6, include_self=False)

    ref = sklearn.cluster.AgglomerativeClustering(3, connectivity=graph).fit(X)
    ours = AgglomerativeClustering(3, connectivity=graph).fit(X)
    _assert_same_tree(ours, ref, "ward")


def test_toy_case_by_hand(xp):
    """Two columns of three points: ward merges the pairs at distance 2 first, then the columns."""
    X = xp.asarray(np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 4], [4, 0]], dtype=np.float64))
    model = AgglomerativeClustering(compute_distances=True).fit(X)
    assert to_numpy(model.children_).tolist() == [[0, 1], [3, 5], [2, 6], [4, 7], [8, 9]]
    # Ward distances: sqrt(2 |A||B| / (|A|+|B|)) |c_A - c_B|.
    expected = [2.0, 2.0, np.sqrt(4 / 3) * 3, np.sqrt(4 / 3) * 3, np.sqrt(3) * 3]
    np.testing.assert_allclose(to_numpy(model.distances_), expected, rtol=1e-12)
    assert to_numpy(model.labels_).tolist() == [1, 1, 1, 0, 0, 0]
    assert model.n_clusters_ == 2 and model.n_leaves_ == 6 and model.n_features_in_ == 2


def test_blobs_recovered():
    X, y = make_blobs_np(400, 5, centers=4, cluster_std=0.5)
    for linkage in ("ward", "complete", "average", "single"):
        model = AgglomerativeClustering(4, linkage=linkage).fit(X)
        assert labels_agree(model.labels_, y) == 1.0, linkage


def test_distances_only_when_asked():
    X = _random(30)
    assert not hasattr(AgglomerativeClustering().fit(X), "distances_")
    model = AgglomerativeClustering(compute_distances=True).fit(X)
    assert to_numpy(model.distances_).shape == (29,)


def test_condensed_matrix_over_budget_names_the_bytes():
    X = _random(200)
    with config_context(memory_budget=1000):
        with pytest.raises(MemoryError, match="159200 bytes"):
            AgglomerativeClustering(linkage="average").fit(X)
        # Ward and single need no condensed matrix.
        AgglomerativeClustering(linkage="ward").fit(X)


@pytest.mark.parametrize(
    "params,match",
    [
        (dict(n_clusters=0), "n_clusters must be >= 1"),
        (dict(n_clusters=None), "Exactly one of n_clusters and distance_threshold"),
        (dict(n_clusters=2, distance_threshold=1.0), "Exactly one of n_clusters"),
        (dict(n_clusters=None, distance_threshold=-1.0), "distance_threshold must be >= 0"),
        (dict(linkage="ward", metric="cosine"), "Ward can only work with euclidean"),
        (dict(linkage="median"), "linkage must be one of"),
        (dict(metric="chebyshev", linkage="average"), "metric must be one of"),
        (dict(n_clusters=None, distance_threshold=1.0, compute_full_tree=False),
         "compute_full_tree must be True"),
        (dict(n_clusters=50), "Cannot extract more clusters than samples"),
        (dict(device="tpu"), "device must be one of"),
    ],
)
def test_bad_parameters_raise(params, match):
    model = AgglomerativeClustering(**params)
    with pytest.raises(ValueError, match=match):
        model.fit(_random(20))
    assert not hasattr(model, "labels_")


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="minimum of 2"):
        AgglomerativeClustering().fit(np.ones((1, 3)))
    X = _random(10)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        AgglomerativeClustering().fit(X)
    X = _random(10)
    X[2] = 0.0
    with pytest.raises(ValueError, match="zero vectors"):
        AgglomerativeClustering(linkage="average", metric="cosine").fit(X)
    with pytest.raises(ValueError, match="Wrong shape for connectivity"):
        AgglomerativeClustering(connectivity=np.eye(5)).fit(_random(10))


@pytest.mark.parametrize("linkage", ["ward", "average", "single"])
def test_outputs_mirror_input(xp, dtype, linkage):
    X_np, _ = make_blobs_np(60, 3, centers=3, dtype=dtype)
    X = xp.asarray(X_np)
    model = AgglomerativeClustering(3, linkage=linkage, compute_distances=True).fit(X)
    ref = AgglomerativeClustering(3, linkage=linkage, compute_distances=True).fit(X_np)
    for name, expected in (("labels_", np.int64), ("children_", np.int64),
                           ("distances_", np.float64)):
        out = getattr(model, name)
        assert_same_kind(out, X)
        assert tuple(out.shape) == getattr(ref, name).shape, name
        assert np.dtype(str(out.dtype).split(".")[-1]) == np.dtype(expected), name
    assert labels_agree(model.labels_, ref.labels_) == 1.0
    out = model.fit_predict(X)
    assert_same_kind(out, X)
