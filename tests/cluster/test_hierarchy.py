"""AgglomerativeClustering: the same trees, distances and labels as scikit-learn's."""

import warnings

import numpy as np
import pytest
import sklearn.cluster
from scipy.cluster import hierarchy as scipy_hierarchy
from scipy.spatial.distance import cdist, pdist
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import kneighbors_graph

from gpucluster import config_context
from gpucluster.cluster.hierarchy import AgglomerativeClustering

from .._helpers import (
    assert_same_kind,
    exact_cosine_distances,
    exact_cosine_rows,
    labels_agree,
    make_blobs_np,
    to_numpy,
)

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


def _fit_both(params, X):
    """Fitted scikit-learn and gpucluster models, with the warnings each raised."""
    with warnings.catch_warnings(record=True) as ref_caught:
        warnings.simplefilter("always")
        ref = sklearn.cluster.AgglomerativeClustering(**params).fit(X)
    with warnings.catch_warnings(record=True) as ours_caught:
        warnings.simplefilter("always")
        ours = AgglomerativeClustering(**params).fit(X)
    return ref, ours, ref_caught, ours_caught


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
    ref, ours, caught, ours_caught = _fit_both(params, X)
    assert len(ours_caught) == len(caught)
    assert ours.n_connected_components_ == ref.n_connected_components_
    _assert_same_tree(ours, ref, linkage)
    np.testing.assert_allclose(to_numpy(ours.distances_), ref.distances_, rtol=1e-10)


@pytest.mark.parametrize("linkage", ["complete", "average"])
@pytest.mark.parametrize("kind", ["lattice", "duplicates"])
def test_connectivity_ties_merge_in_sklearn_order(linkage, kind):
    """Tied distances on the graph (a lattice, repeated rows) merge in scikit-learn's order:
    its heap compares weights alone and takes the merged neighbours in node order."""
    rng = np.random.default_rng(4)
    X = (rng.integers(0, 3, size=(30, 2)).astype(float) if kind == "lattice"
         else np.repeat(rng.normal(size=(10, 2)), 3, axis=0))
    graph = kneighbors_graph(X, 4, include_self=False)
    params = dict(n_clusters=3, linkage=linkage, connectivity=graph, compute_distances=True)
    ref = sklearn.cluster.AgglomerativeClustering(**params).fit(X)
    ours = AgglomerativeClustering(**params).fit(X)
    np.testing.assert_array_equal(to_numpy(ours.children_), ref.children_)
    np.testing.assert_array_equal(to_numpy(ours.labels_), ref.labels_)


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
    ref = sklearn.cluster.AgglomerativeClustering(compute_distances=True).fit(X)
    assert to_numpy(model.distances_).shape == (29,)
    np.testing.assert_allclose(to_numpy(model.distances_), ref.distances_, rtol=1e-10)


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
        (dict(metric="wminkowski", linkage="average"), "metric must be one of"),
        (dict(metric="euclidian", linkage="single"), "metric must be one of"),
        (dict(linkage="ward", metric="precomputed"), "Ward can only work with euclidean"),
        (dict(linkage="ward", metric="chebyshev"), "Ward can only work with euclidean"),
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


# --------------------------------------------------------------------------
# Metrics beyond the kernels': aliases, other named metrics, precomputed, callables

NEW_METRICS = ["cityblock", "l1", "l2", "chebyshev", "minkowski", "canberra", "braycurtis",
               "correlation", "sqeuclidean"]


@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
@pytest.mark.parametrize("metric", NEW_METRICS)
def test_other_metrics_match_sklearn(linkage, metric):
    """The aliases run on the kernels, the other names on the host; every output is sklearn's.

    The data have negative values, where scikit-learn's single linkage measures
    "braycurtis" by its own definition (sum |x - y| / sum (|x| + |y|)) and its
    complete and average linkages by SciPy's (sum |x - y| / sum |x + y|).
    """
    X = _random(90, 4, seed=4)
    params = dict(n_clusters=6, linkage=linkage, metric=metric, compute_distances=True)
    ref, ours, _, _ = _fit_both(params, X)
    _assert_same_tree(ours, ref, linkage)
    np.testing.assert_allclose(to_numpy(ours.distances_), ref.distances_, rtol=1e-10)
    assert ours.n_leaves_ == ref.n_leaves_ == 90
    assert ours.n_connected_components_ == ref.n_connected_components_ == 1


@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
@pytest.mark.parametrize("metric", ["jaccard", "hamming", "dice", "rogerstanimoto"])
def test_boolean_metrics_on_binary_data_match_sklearn(linkage, metric):
    """0/1 data: many tied distances, resolved as scikit-learn resolves them."""
    X = (np.random.default_rng(5).random((60, 12)) < 0.4).astype(np.float64)
    params = dict(n_clusters=4, linkage=linkage, metric=metric, compute_distances=True)
    ref, ours, _, _ = _fit_both(params, X)
    np.testing.assert_allclose(to_numpy(ours.distances_), ref.distances_, rtol=1e-12)
    if linkage != "single":
        _assert_same_tree(ours, ref, linkage)


@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
@pytest.mark.parametrize("kind", ["float", "integer_ties"])
def test_precomputed_matches_sklearn(linkage, kind):
    """A dense distance matrix, also an integer one with many ties: the same children_ (in
    the same orientation, single linkage too, since both go through SciPy's linkage)."""
    X = _random(70, 3, seed=6)
    D = pairwise_distances(X)
    if kind == "integer_ties":
        D = np.round(2 * D).astype(np.int64)
    params = dict(n_clusters=5, linkage=linkage, metric="precomputed", compute_distances=True)
    ref, ours, _, _ = _fit_both(params, D)
    np.testing.assert_array_equal(to_numpy(ours.children_), ref.children_)
    np.testing.assert_array_equal(to_numpy(ours.labels_), ref.labels_)
    np.testing.assert_allclose(to_numpy(ours.distances_), ref.distances_, rtol=1e-12)
    assert ours.n_features_in_ == 70


@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
def test_precomputed_distance_threshold_matches_sklearn(linkage):
    D = pairwise_distances(_random(60, 3, seed=7), metric="manhattan")
    params = dict(n_clusters=None, distance_threshold={"single": 0.8}.get(linkage, 2.5),
                  linkage=linkage, metric="precomputed")
    ref, ours, _, _ = _fit_both(params, D)
    assert ours.n_clusters_ == ref.n_clusters_ > 1
    np.testing.assert_array_equal(to_numpy(ours.labels_), ref.labels_)


@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
def test_precomputed_of_euclidean_equals_metric_euclidean(linkage):
    X = _random(80, 5, seed=8)
    direct = AgglomerativeClustering(5, linkage=linkage, compute_distances=True).fit(X)
    pre = AgglomerativeClustering(5, linkage=linkage, metric="precomputed",
                                  compute_distances=True).fit(pairwise_distances(X))
    assert labels_agree(direct.labels_, pre.labels_) == 1.0
    np.testing.assert_allclose(to_numpy(pre.distances_), to_numpy(direct.distances_),
                               rtol=1e-9)


@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
def test_callable_metric_matches_sklearn(linkage):
    """Without connectivity the callable gets X and returns the whole distance matrix."""
    X = _random(70, 3, seed=9)
    seen = []

    def chebyshev(data):
        seen.append(data.shape)
        return cdist(data, data, "chebyshev")

    params = dict(n_clusters=4, linkage=linkage, metric=chebyshev, compute_distances=True)
    ref, ours, _, _ = _fit_both(params, X)
    assert seen == [(70, 3), (70, 3)]
    np.testing.assert_array_equal(to_numpy(ours.children_), ref.children_)
    np.testing.assert_array_equal(to_numpy(ours.labels_), ref.labels_)
    np.testing.assert_allclose(to_numpy(ours.distances_), ref.distances_, rtol=1e-12)


@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
@pytest.mark.parametrize("metric", ["precomputed", "callable"])
@pytest.mark.parametrize("n_neighbors", [8, 2], ids=["connected", "components"])
def test_precomputed_and_callable_with_connectivity_match_sklearn(linkage, metric,
                                                                  n_neighbors):
    """With connectivity, "precomputed" reads the graph's entries of X and a callable is
    called on each pair of rows; several components are joined with sklearn's UserWarning."""
    X = _random(90, 3, seed=10)
    graph = kneighbors_graph(X, n_neighbors, include_self=False)
    if metric == "precomputed":
        data, chosen = pairwise_distances(X, metric="manhattan"), "precomputed"
    else:
        data, chosen = X, (lambda a, b: float(np.abs(a - b).max()))
    params = dict(n_clusters=5, linkage=linkage, metric=chosen, connectivity=graph,
                  compute_distances=True)
    ref, ours, ref_caught, ours_caught = _fit_both(params, data)
    ref_messages = [str(w.message) for w in ref_caught if w.category is UserWarning]
    ours_messages = [str(w.message) for w in ours_caught if w.category is UserWarning]
    assert ours_messages == ref_messages
    assert ours.n_connected_components_ == ref.n_connected_components_
    if n_neighbors == 2:
        assert ours.n_connected_components_ > 1
        assert "Completing it to avoid stopping the tree early" in ours_messages[0]
    _assert_same_tree(ours, ref, linkage)
    np.testing.assert_allclose(to_numpy(ours.distances_), ref.distances_, rtol=1e-12)


def test_precomputed_connectivity_with_two_components_warns():
    """scikit-learn's #16151 case: graph and metric both precomputed, two components."""
    connectivity = np.array([[0, 1, 1, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0],
                             [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]])
    X = _random(5, 10, seed=11)
    with pytest.warns(UserWarning, match="Completing it to avoid stopping the tree early"):
        pre = AgglomerativeClustering(metric="precomputed", connectivity=connectivity,
                                      linkage="complete").fit(pairwise_distances(X))
    with pytest.warns(UserWarning, match="Completing it"):
        direct = AgglomerativeClustering(connectivity=connectivity, linkage="complete").fit(X)
    assert pre.n_connected_components_ == 2
    np.testing.assert_array_equal(to_numpy(pre.labels_), to_numpy(direct.labels_))
    np.testing.assert_array_equal(to_numpy(pre.children_), to_numpy(direct.children_))


@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
@pytest.mark.parametrize("metric", ["chebyshev", "seuclidean"])
def test_named_metric_with_connectivity_equals_its_callable(linkage, metric):
    """scikit-learn refuses these names with a connectivity graph; gpucluster measures the
    edges with SciPy's definitions (seuclidean's variances from all rows, as pdist's),
    which a callable of two rows reproduces."""
    X = _random(80, 3, seed=12)
    graph = kneighbors_graph(X, 3, include_self=False)
    variances = np.var(X, axis=0, ddof=1)

    def by_pair(a, b):
        return cdist(a[None], b[None], metric, **({"V": variances} if metric == "seuclidean"
                                                  else {}))[0, 0]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        named = AgglomerativeClustering(4, linkage=linkage, metric=metric, connectivity=graph,
                                        compute_distances=True).fit(X)
        called = AgglomerativeClustering(4, linkage=linkage, metric=by_pair,
                                         connectivity=graph, compute_distances=True).fit(X)
    np.testing.assert_array_equal(to_numpy(named.children_), to_numpy(called.children_))
    np.testing.assert_allclose(to_numpy(named.distances_), to_numpy(called.distances_),
                               rtol=1e-12)


@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
@pytest.mark.parametrize("metric", ["haversine", "nan_euclidean", "seuclidean", "mahalanobis"])
def test_metrics_sklearn_cannot_link_match_scipy(linkage, metric):
    """scikit-learn fails on these (SciPy does not know the first two; its single linkage
    lacks seuclidean's and mahalanobis' parameters); gpucluster links them, and the NumPy
    reference is SciPy's linkage of scikit-learn's distances (pdist's for the last two)."""
    X = _random(60, 2, seed=13) * 0.5
    if metric in ("haversine", "nan_euclidean"):
        condensed = pairwise_distances(X, metric=metric)[np.triu_indices(60, 1)]
    else:
        condensed = pdist(X, metric)
    expected = scipy_hierarchy.linkage(condensed, method=linkage)
    ours = AgglomerativeClustering(5, linkage=linkage, metric=metric,
                                   compute_distances=True).fit(X)
    np.testing.assert_allclose(to_numpy(ours.distances_), expected[:, 2], rtol=1e-9)
    np.testing.assert_array_equal(np.sort(to_numpy(ours.children_), axis=1),
                                  np.sort(expected[:, :2].astype(np.int64), axis=1))


def test_host_metric_over_budget_names_the_bytes():
    with config_context(memory_budget=1000):
        with pytest.raises(MemoryError, match="metric='chebyshev' needs .* 159200 bytes"):
            AgglomerativeClustering(linkage="single", metric="chebyshev").fit(_random(200))
        with pytest.raises(MemoryError, match="metric='precomputed' needs .* 159200 bytes"):
            AgglomerativeClustering(linkage="complete", metric="precomputed").fit(
                pairwise_distances(_random(200)))


def test_metrics_from_other_backends(xp):
    """X of any backend: host metrics and precomputed copy it to the host; outputs mirror it."""
    X_np = _random(50, 3, seed=14)
    ref = sklearn.cluster.AgglomerativeClustering(4, linkage="average", metric="chebyshev").fit(
        X_np)
    ours = AgglomerativeClustering(4, linkage="average", metric="chebyshev").fit(xp.asarray(X_np))
    assert_same_kind(ours.labels_, xp.asarray(X_np))
    np.testing.assert_array_equal(to_numpy(ours.labels_), ref.labels_)
    D = xp.asarray(pairwise_distances(X_np, metric="chebyshev"))
    pre = AgglomerativeClustering(4, linkage="average", metric="precomputed").fit(D)
    np.testing.assert_array_equal(to_numpy(pre.labels_), ref.labels_)


@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
def test_precomputed_rejects_a_non_square_matrix(linkage):
    model = AgglomerativeClustering(metric="precomputed", linkage=linkage)
    with pytest.raises(ValueError,
                       match=r"Distance matrix should be square, got matrix of shape \(5, 3\)"):
        model.fit(_random(5, 3))
    with pytest.raises(ValueError, match="Distance matrix should be square"):
        AgglomerativeClustering(metric="precomputed", linkage=linkage,
                                connectivity=np.ones((5, 5))).fit(_random(5, 3))
    assert not hasattr(model, "labels_")


def test_precomputed_rejects_non_finite_entries():
    D = pairwise_distances(_random(10))
    D[2, 5] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        AgglomerativeClustering(metric="precomputed", linkage="average").fit(D)


def test_callable_returning_a_wrong_shape_raises():
    model = AgglomerativeClustering(metric=lambda data: data, linkage="average")
    with pytest.raises(ValueError, match=r"distance matrix of shape \(10, 10\).*\(10, 4\)"):
        model.fit(_random(10))
    assert not hasattr(model, "labels_")


@pytest.mark.parametrize("linkage", ["single", "complete", "average"])
@pytest.mark.parametrize("offset, dtype", [(1e4, np.float32), (1e6, np.float64)],
                         ids=["float32-1e4", "float64-1e6"])
def test_cosine_far_from_the_origin_matches_sklearn_on_exact_distances(linkage, offset, dtype):
    """Rows far from the origin are at small angles, where 1 - u.v cancels (float32 at 1e4:
    single linkage's ARI 0-0.9, merge heights up to 41 times the exact ones; float64 at
    1e6: heights up to 1.0 apart relative for every linkage). The reference is
    scikit-learn on the exact distances, |u - v|^2 / 2 of the float64 unit rows, whose own
    rounding (1e-16 against differences of 1e-8 at 1e6) leaves the smallest heights 2e-8
    apart relative. Single linkage searches float32 rows rounded to float32: heights
    within 1e-4 relative."""
    X, _ = make_blobs_np(200, n_features=3, centers=3, seed=0)
    X = (X + offset).astype(dtype)
    want = sklearn.cluster.AgglomerativeClustering(
        3, linkage=linkage, metric="precomputed", compute_distances=True
    ).fit(exact_cosine_distances(X))
    got = AgglomerativeClustering(3, linkage=linkage, metric="cosine",
                                  compute_distances=True).fit(X)
    np.testing.assert_array_equal(got.labels_, want.labels_)
    rtol = 1e-4 if dtype == np.float32 and linkage == "single" else 1e-6
    np.testing.assert_allclose(got.distances_, want.distances_, rtol=rtol)


def test_cosine_single_linkage_graph_far_from_the_origin_matches_the_exact_tree(monkeypatch):
    """The neighbour-graph tree of float32 rows at 1e4 under the cosine distance is built on
    the cosine rows too: its heights are the exact tree's."""
    from gpucluster.cluster import _graph

    X, _ = make_blobs_np(300, n_features=17, centers=3, seed=0)
    X = (X + 1e4).astype(np.float32)
    want = sklearn.cluster.AgglomerativeClustering(
        3, linkage="single", metric="precomputed", compute_distances=True
    ).fit(exact_cosine_distances(X))
    monkeypatch.setattr(_graph, "GRAPH_MIN_ROWS", 100)
    got = AgglomerativeClustering(3, linkage="single", metric="cosine",
                                  compute_distances=True).fit(X)
    np.testing.assert_array_equal(got.labels_, want.labels_)
    np.testing.assert_allclose(np.sort(got.distances_), np.sort(want.distances_), rtol=1e-4)


@pytest.mark.parametrize("linkage", ["single", "complete", "average"])
@pytest.mark.parametrize("offset, dtype", [(1e4, np.float32), (1e6, np.float64)],
                         ids=["float32-1e4", "float64-1e6"])
def test_cosine_connectivity_far_from_the_origin_matches_sklearn_on_exact_distances(
        linkage, offset, dtype):
    """With a connectivity graph (5 neighbours: three components, joined by their closest
    pairs), the edges are measured on the cosine rows too: 1 - u.v in float64 put merge
    heights 3e-4 (float32 at 1e4) and up to 1.0 (float64 at 1e6) apart relative. The
    reference is scikit-learn's connectivity path with a callable, the squared distance of
    the exact cosine rows (|u - v|^2 / 2 of the float64 unit rows), whose own rounding at
    1e6 leaves the smallest heights 2e-8 apart relative."""
    X, _ = make_blobs_np(200, n_features=3, centers=3, seed=0)
    X = (X + offset).astype(dtype)
    rows, _ = exact_cosine_rows(X)
    graph = kneighbors_graph(rows, 5, include_self=False)
    params = dict(n_clusters=12, linkage=linkage, connectivity=graph, compute_distances=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        want = sklearn.cluster.AgglomerativeClustering(
            metric=lambda a, b: float(np.sum((a - b) ** 2)), **params).fit(rows)
        got = AgglomerativeClustering(metric="cosine", **params).fit(X)
    assert got.n_connected_components_ == want.n_connected_components_ == 3
    sort = (lambda c: np.sort(c, axis=1)) if linkage == "single" else (lambda c: c)
    np.testing.assert_array_equal(sort(got.children_), sort(want.children_))
    # Single linkage's merges are oriented otherwise (scikit-learn's follow SciPy's
    # spanning tree), which may number the clusters of a cut otherwise.
    assert labels_agree(got.labels_, want.labels_) == 1.0
    np.testing.assert_allclose(got.distances_, want.distances_, rtol=1e-7)
