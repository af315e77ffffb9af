"""HDBSCAN: parity with the hdbscan library and scikit-learn, a hand-worked case, errors, mirroring.

Parameter mapping: gpucluster (like scikit-learn) counts the point itself in
``min_samples``; the hdbscan library does not, so its ``min_samples=m`` is
ours ``m + 1``.

Why two parity levels: with ``min_samples > 2`` many mutual-reachability
edges tie (every neighbour within a point's core distance gives an edge of
weight exactly that core distance), so several spanning trees are minimal and
the condensed tree depends on which one an implementation picks. The hdbscan
library's own Boruvka and Prim algorithms disagree there (probabilities up to
0.9 apart on the blobs below). With ``min_samples=2`` (hdbscan's 1) continuous
data has no such ties and the results are identical, so that is where
probabilities and outlier scores are compared to 1e-3; with ties, labels are
compared by ARI and the noise set.
"""

import importlib
import warnings

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import adjusted_rand_score

from gpucluster.cluster import _graph
from gpucluster.cluster import hdbscan as gh
from gpucluster.cluster.hdbscan import HDBSCAN

from .._helpers import (
    assert_same_kind,
    exact_cosine_distances,
    exact_cosine_rows,
    rtol_for,
    to_numpy,
)

hdbscan = pytest.importorskip("hdbscan")


def _blobs():
    X, _ = make_blobs(600, centers=4, cluster_std=[0.5, 1.0, 1.5, 0.8], random_state=0)
    return X


def _moons():
    X, _ = make_moons(500, noise=0.08, random_state=0)
    return X


def _embeddings():
    # Embedding-like: six directions in d=128, points on the unit sphere.
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(6, 128))
    X = np.repeat(centers, 80, axis=0) + 0.35 * rng.normal(size=(480, 128))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


DATASETS = {"blobs": _blobs, "moons": _moons, "embeddings": _embeddings}


def _reference(X, min_samples, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hdbscan.HDBSCAN(min_samples=min_samples - 1, algorithm="generic", **params).fit(X)


def _label_map(ours, theirs):
    """Our label -> their label, by majority (labels agree up to numbering)."""
    mapping = {}
    for label in np.unique(ours[ours >= 0]):
        values, counts = np.unique(theirs[ours == label], return_counts=True)
        mapping[int(label)] = int(values[np.argmax(counts)])
    return mapping


def _assert_labels_match(ours, theirs, context):
    ours, theirs = to_numpy(ours), np.asarray(theirs)
    ari = adjusted_rand_score(ours, theirs)
    noise_diff = np.mean((ours == -1) != (theirs == -1))
    assert ari >= 0.99, f"ARI {ari:.4f} against hdbscan ({context})"
    assert noise_diff <= 0.01, f"noise sets differ on {noise_diff:.2%} of points ({context})"


@pytest.mark.parametrize("method", ["eom", "leaf"])
@pytest.mark.parametrize("name", list(DATASETS))
def test_matches_hdbscan_exactly_without_ties(name, method):
    """min_samples=2: same labels, probabilities and GLOSH scores (to 1e-3) as hdbscan."""
    X = DATASETS[name]()
    ours = HDBSCAN(10, min_samples=2, cluster_selection_method=method).fit(X)
    ref = _reference(X, 2, min_cluster_size=10, cluster_selection_method=method)
    _assert_labels_match(ours.labels_, ref.labels_, f"{name}, {method}")
    np.testing.assert_allclose(ours.probabilities_, ref.probabilities_, atol=1e-3)
    np.testing.assert_allclose(ours.outlier_scores_, ref.outlier_scores_, atol=1e-3)


@pytest.mark.parametrize("min_samples", [5, 10])
@pytest.mark.parametrize("name", list(DATASETS))
def test_matches_hdbscan_labels_with_ties(name, min_samples):
    X = DATASETS[name]()
    ours = HDBSCAN(15, min_samples=min_samples).fit(X)
    ref = _reference(X, min_samples, min_cluster_size=15)
    _assert_labels_match(ours.labels_, ref.labels_, f"{name}, min_samples={min_samples}")
    # Scores differ only where tied spanning trees differ: a few points.
    assert np.mean(np.abs(ours.probabilities_ - ref.probabilities_) > 1e-3) < 0.1
    assert np.mean(np.abs(ours.outlier_scores_ - ref.outlier_scores_) > 1e-3) < 0.1


def test_cosine_metric_matches_euclidean_on_unit_vectors():
    """On unit rows, cosine distance is a monotone map of euclidean: same clusters."""
    X = _embeddings()
    cos = HDBSCAN(10, min_samples=2, metric="cosine").fit(X)
    ref = _reference(X, 2, min_cluster_size=10)
    _assert_labels_match(cos.labels_, ref.labels_, "cosine vs euclidean on the sphere")


@pytest.mark.parametrize(
    "params",
    [
        {"cluster_selection_epsilon": 0.6},
        {"cluster_selection_epsilon": 0.6, "cluster_selection_method": "leaf"},
        {"max_cluster_size": 60},
        {"allow_single_cluster": True},
        {"allow_single_cluster": True, "cluster_selection_epsilon": 0.3},
    ],
    ids=["epsilon", "epsilon-leaf", "max_cluster_size", "single", "single-epsilon"],
)
def test_selection_options_match_hdbscan(params):
    X = _blobs() if "allow_single_cluster" not in params else _blobs()[:150]
    ours = HDBSCAN(10, min_samples=2, **params).fit(X)
    ref = _reference(X, 2, min_cluster_size=10, **params)
    _assert_labels_match(ours.labels_, ref.labels_, str(params))
    np.testing.assert_allclose(ours.probabilities_, ref.probabilities_, atol=1e-3)


def test_allow_single_cluster_finds_one_cluster():
    X, _ = make_blobs(200, centers=1, random_state=3)
    ours = HDBSCAN(20, allow_single_cluster=True).fit(X)
    ref = _reference(X, 20, min_cluster_size=20, allow_single_cluster=True)
    assert set(np.unique(ours.labels_)) <= {-1, 0}
    _assert_labels_match(ours.labels_, ref.labels_, "single cluster")


@pytest.mark.parametrize("min_samples", [1, 7])
def test_matches_sklearn_hdbscan(min_samples):
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    X = _moons()
    ours = HDBSCAN(12, min_samples=min_samples).fit(X)
    ref = SkHDBSCAN(12, min_samples=min_samples, copy=False).fit(X)
    assert adjusted_rand_score(ours.labels_, ref.labels_) >= 0.99
    assert ours.labels_.dtype == ref.labels_.dtype == np.intp
    if min_samples == 1:  # no ties: identical
        np.testing.assert_allclose(ours.probabilities_, ref.probabilities_, atol=1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_numbers_clusters_as_sklearn_on_blobs(seed):
    """Same labels as scikit-learn, ids included, on 20 blob seeds.

    min_samples=2: no tied mutual-reachability edges, so the spanning tree is
    unique and only the numbering could differ: sklearn's single-linkage
    left/right come from Prim's algorithm grown from point 0."""
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    X, _ = make_blobs(300, n_features=2, centers=4, random_state=seed)
    ref = SkHDBSCAN(min_samples=2, copy=True).fit(X)
    ours = HDBSCAN(min_samples=2).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.probabilities_, ref.probabilities_, atol=1e-12)
    np.testing.assert_array_equal(ours.single_linkage_tree_[:, :2],
                                  np.stack([ref._single_linkage_tree_["left_node"],
                                            ref._single_linkage_tree_["right_node"]], axis=1))


def test_same_partition_as_sklearn_has_the_same_ids():
    """Default parameters (ties possible: the partition itself may then differ,
    see the module docstring); wherever the partition is sklearn's, so are the ids.
    Ties are the exception: most seeds (19 of 20 when measured) give sklearn's partition."""
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    same_partition = 0
    for seed in range(20):
        X, _ = make_blobs(300, n_features=2, centers=4, random_state=seed)
        ref = SkHDBSCAN(copy=True).fit(X)
        ours = HDBSCAN().fit(X)
        if adjusted_rand_score(ours.labels_, ref.labels_) == 1.0:
            np.testing.assert_array_equal(ours.labels_, ref.labels_, err_msg=f"seed {seed}")
            same_partition += 1
    assert same_partition >= 16


def _blobs_with_non_finite_rows():
    X, _ = make_blobs(200, centers=3, random_state=1)
    X[5, 0] = np.inf
    X[17, 1] = -np.inf
    X[40, 0] = np.nan
    X[41] = [np.inf, -np.inf]  # sums to NaN: "missing", as sklearn counts it
    X[120, 1] = np.nan
    return X, [5, 17], [40, 41, 120]


def test_non_finite_rows_are_labelled_apart_as_sklearn():
    """-2 for rows with infinity, -3 for rows with NaN (probabilities 0 and NaN), the
    rest clustered as without them; trees renumbered to all rows as sklearn's."""
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    X, infinite, missing = _blobs_with_non_finite_rows()
    with np.errstate(invalid="ignore"):  # sklearn's own inf - inf row sums
        ref = SkHDBSCAN(min_samples=2, copy=True).fit(X)
    ours = HDBSCAN(min_samples=2).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_array_equal(ours.labels_[infinite], -2)
    np.testing.assert_array_equal(ours.labels_[missing], -3)
    np.testing.assert_allclose(ours.probabilities_, ref.probabilities_, atol=1e-12)
    assert np.isnan(ours.probabilities_[missing]).all()
    assert (ours.probabilities_[infinite] == 0).all()
    np.testing.assert_array_equal(ours.outlier_scores_[infinite + missing], 1.0)
    slt = ref._single_linkage_tree_
    np.testing.assert_array_equal(
        ours.single_linkage_tree_,
        np.stack([slt["left_node"], slt["right_node"], slt["value"], slt["cluster_size"]], 1))
    finite = np.setdiff1d(np.arange(200), infinite + missing)
    alone = HDBSCAN(min_samples=2).fit(X[finite])
    np.testing.assert_array_equal(ours.labels_[finite], alone.labels_)
    tree = ours.condensed_tree_
    points = tree["child"][tree["child"] < 200]
    np.testing.assert_array_equal(np.sort(points), np.arange(200))
    assert set(tree["child"][:5]) == set(infinite + missing) and (tree["parent"][:5] == 200).all()
    np.testing.assert_array_equal(ours.dbscan_clustering(0.5), ref.dbscan_clustering(0.5))


def test_non_finite_rows_keep_the_input_kind(xp):
    X, infinite, missing = _blobs_with_non_finite_rows()
    ours = HDBSCAN(min_samples=2, prediction_data=True).fit(xp.asarray(X))
    assert_same_kind(ours.labels_, xp.asarray(X))
    labels = to_numpy(ours.labels_)
    np.testing.assert_array_equal(labels[infinite], -2)
    np.testing.assert_array_equal(labels[missing], -3)
    vectors = to_numpy(ours.all_points_membership_vectors())
    assert vectors.shape[0] == 200
    assert (vectors[infinite] == 0).all() and np.isnan(vectors[missing]).all()
    finite = np.setdiff1d(np.arange(200), infinite + missing)
    np.testing.assert_allclose(vectors[finite].sum(axis=1), 1.0)


@pytest.mark.parametrize("seed", range(5))
def test_dbscan_clustering_numbers_as_sklearn(seed):
    """Components are numbered by their union-find representative: sklearn's TreeUnionFind."""
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    X, _ = make_blobs(200, centers=3, random_state=seed)
    ref = SkHDBSCAN(min_samples=2, copy=True).fit(X)
    ours = HDBSCAN(min_samples=2).fit(X)
    for cut in (0.3, 0.5, 1.0):
        for min_cluster_size in (2, 5):
            np.testing.assert_array_equal(ours.dbscan_clustering(cut, min_cluster_size),
                                          ref.dbscan_clustering(cut, min_cluster_size),
                                          err_msg=f"cut={cut}, min_cluster_size={min_cluster_size}")


def _canonical_condensed(tree, n_samples):
    """Condensed tree rows, keyed by point sets instead of cluster ids (which depend on edge order)."""
    members = {}
    children = {}
    for parent, child in zip(tree["parent"], tree["child"]):
        children.setdefault(int(parent), []).append(int(child))

    def points_of(node):
        if node < n_samples:
            return frozenset([node])
        if node not in members:
            members[node] = frozenset().union(*(points_of(c) for c in children[node]))
        return members[node]

    return sorted(
        (sorted(points_of(int(p))), sorted(points_of(int(c))), round(float(lam), 9), int(size))
        for p, c, lam, size in zip(tree["parent"], tree["child"], tree["lambda_val"],
                                   tree["child_size"])
    )


def test_condensed_tree_matches_hdbscan():
    X, _ = make_blobs(80, centers=3, random_state=1)
    ours = HDBSCAN(8, min_samples=2).fit(X)
    ref = _reference(X, 2, min_cluster_size=8)
    theirs = ref.condensed_tree_.to_numpy()
    assert ours.condensed_tree_.dtype.names == ("parent", "child", "lambda_val", "child_size")
    assert _canonical_condensed(ours.condensed_tree_, 80) == _canonical_condensed(theirs, 80)
    ours_slt = ours.single_linkage_tree_
    assert ours_slt.shape == (79, 4)
    np.testing.assert_allclose(ours_slt[:, 2], np.sort(ref.single_linkage_tree_.to_numpy()[:, 2]))
    np.testing.assert_array_equal(ours_slt[:, 3], ref.single_linkage_tree_.to_numpy()[:, 3])


def test_hand_computed_two_pairs_and_an_outlier(xp):
    """Points 0,1,2 at 0,1,2 on a line; 10,11,12; and 30. min_samples=2, min_cluster_size=3.

    Core distances are 1 (nearest other point) except 30's, which is 18.
    Mutual reachability MST: four edges of weight 1 inside the groups, 8
    between 2 and 10, and 18 to the outlier. The root (lambda 0) loses the
    outlier at lambda 1/18, then splits at 1/8 into the two groups, each
    living until lambda 1 where all its points leave. So the labels are
    [0,0,0,1,1,1,-1], every clustered point has probability 1, and the
    outlier's GLOSH score is (1 - 1/18) / 1.
    """
    X_np = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0], [30.0]])
    est = HDBSCAN(3, min_samples=2).fit(xp.asarray(X_np))
    np.testing.assert_array_equal(to_numpy(est.labels_), [0, 0, 0, 1, 1, 1, -1])
    np.testing.assert_allclose(to_numpy(est.probabilities_), [1, 1, 1, 1, 1, 1, 0])
    np.testing.assert_allclose(to_numpy(est.outlier_scores_), [0, 0, 0, 0, 0, 0, 1 - 1 / 18])
    tree = est.condensed_tree_
    outlier_row = tree[tree["child"] == 6][0]
    assert outlier_row["parent"] == 7 and outlier_row["lambda_val"] == pytest.approx(1 / 18)
    clusters = tree[tree["child"] >= 7]
    np.testing.assert_allclose(clusters["lambda_val"], [1 / 8, 1 / 8])
    np.testing.assert_array_equal(clusters["child_size"], [3, 3])
    np.testing.assert_allclose(np.sort(est.single_linkage_tree_[:, 2]), [1, 1, 1, 1, 8, 18])


def test_approximate_predict_matches_hdbscan():
    X = _blobs()
    rng = np.random.default_rng(1)
    new = X[rng.choice(len(X), 200, replace=False)] + 0.05 * rng.normal(size=(200, 2))
    ours = HDBSCAN(10, min_samples=2, prediction_data=True).fit(X)
    ref = _reference(X, 2, min_cluster_size=10, prediction_data=True)
    labels, probs = gh.approximate_predict(ours, new)
    ref_labels, ref_probs = hdbscan.approximate_predict(ref, new)
    assert adjusted_rand_score(labels, ref_labels) >= 0.99
    assert labels.dtype == np.int64 and probs.dtype == np.float64
    # Training points predict as themselves.
    self_labels, _ = ours.approximate_predict(X)
    assert np.mean(self_labels == ours.labels_) > 0.97


def _aligned(ours_vectors, our_labels, their_labels):
    mapping = _label_map(to_numpy(our_labels), np.asarray(their_labels))
    order = np.argsort([mapping[j] for j in range(ours_vectors.shape[1])])
    return ours_vectors[:, order]


def test_membership_vectors_are_distributions_and_match_hdbscan():
    X = _blobs()
    ours = HDBSCAN(10, min_samples=2, prediction_data=True).fit(X)
    ref = _reference(X, 2, min_cluster_size=10, prediction_data=True)
    n_clusters = int(ours.labels_.max()) + 1
    all_vectors = gh.all_points_membership_vectors(ours)
    assert all_vectors.shape == (len(X), n_clusters)
    assert np.isfinite(all_vectors).all()
    np.testing.assert_allclose(all_vectors.sum(axis=1), 1.0, rtol=1e-12)
    vectors, in_cluster = ours._membership(ours._raw_data, training=True, with_probability=True)
    theirs = hdbscan.all_points_membership_vectors(ref)
    ours_scaled = _aligned(vectors * in_cluster[:, None], ours.labels_, ref.labels_)
    # hdbscan breaks ties between equal merge heights by cluster order, which
    # depends on numbering: compare where the heights single out one cluster.
    close = np.all(np.abs(ours_scaled - theirs) < 1e-6, axis=1)
    assert close.mean() > 0.95
    rng = np.random.default_rng(2)
    new = X[:50] + 0.1 * rng.normal(size=(50, 2))
    soft = gh.membership_vector(ours, new)
    assert soft.shape == (50, n_clusters) and np.isfinite(soft).all()
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-12)
    # The soft argmax agrees with hdbscan's on nearly all points.
    their_soft = hdbscan.membership_vector(ref, new)
    ours_soft = _aligned(soft, ours.labels_, ref.labels_)
    assert np.mean(ours_soft.argmax(1) == their_soft.argmax(1)) > 0.95


def test_membership_vectors_without_clusters_are_empty_not_nan():
    X = np.random.default_rng(0).uniform(size=(30, 2))
    est = HDBSCAN(25, prediction_data=True).fit(X)
    assert (est.labels_ == -1).all()
    with pytest.warns(UserWarning, match="no clusters"):
        vectors = est.all_points_membership_vectors()
    assert vectors.shape == (30, 0)
    labels, probs = est.approximate_predict(X[:5])
    np.testing.assert_array_equal(labels, -1)
    np.testing.assert_array_equal(probs, 0.0)


def test_duplicates_give_finite_scores():
    X = np.repeat(_blobs()[:100], 3, axis=0)
    est = HDBSCAN(10, prediction_data=True).fit(X)
    assert np.isfinite(est.probabilities_).all() and np.isfinite(est.outlier_scores_).all()
    vectors = est.all_points_membership_vectors()
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(vectors.sum(axis=1), 1.0)


def test_generate_prediction_data_after_fit_and_missing_data_error():
    X = _blobs()
    est = HDBSCAN(10).fit(X)
    with pytest.raises(ValueError, match="prediction data"):
        est.approximate_predict(X[:3])
    est.generate_prediction_data()
    labels, probabilities = est.approximate_predict(X[:40])
    # The data generated after the fit predicts as the data stored during it.
    stored = HDBSCAN(10, prediction_data=True).fit(X)
    ref_labels, ref_probabilities = stored.approximate_predict(X[:40])
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(probabilities, ref_probabilities, rtol=1e-12)
    assert len(np.unique(labels[labels >= 0])) >= 2
    with pytest.raises(ValueError, match="features"):
        est.approximate_predict(X[:3, :1])


def test_store_centers_and_dbscan_clustering():
    X = _blobs()
    est = HDBSCAN(10, store_centers="both").fit(X)
    n_clusters = int(est.labels_.max()) + 1
    assert n_clusters >= 2  # the loop below checks every cluster's centres
    assert est.centroids_.shape == est.medoids_.shape == (n_clusters, 2)
    for k in range(n_clusters):
        members = est.labels_ == k
        np.testing.assert_allclose(est.centroids_[k],
                                   np.average(X[members], axis=0, weights=est.probabilities_[members]))
        assert any(np.array_equal(est.medoids_[k], row) for row in X[members])
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    ref = SkHDBSCAN(10, copy=False).fit(X)
    ours_cut, ref_cut = est.dbscan_clustering(0.5, 5), ref.dbscan_clustering(0.5, 5)
    np.testing.assert_array_equal(ours_cut == -1, ref_cut == -1)
    assert adjusted_rand_score(ours_cut, ref_cut) == 1.0


def test_plot_condensed_tree():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    out = HDBSCAN(10).fit(_blobs()).plot_condensed_tree(ax=ax)
    assert out is ax and len(ax.patches) > 0
    plt.close(fig)


@pytest.mark.parametrize(
    "params, X, error, match",
    [
        ({"min_cluster_size": 1}, None, ValueError, "min_cluster_size"),
        ({"min_samples": 0}, None, ValueError, "min_samples"),
        ({"min_samples": 1000}, None, ValueError, r"min_samples \(1000\)"),
        # Only min_cluster_size was set: the message names it, not the min_samples it fills.
        ({"min_cluster_size": 1000}, None, ValueError, r"^min_cluster_size \(1000\) must be"),
        ({"metric": "no-such-metric"}, None, ValueError, "metric"),
        ({"metric": "cosine", "algorithm": "kd_tree"}, None, ValueError,
         "cosine is not a valid metric for a KDTree-based algorithm"),
        ({"metric": "manhattan", "algorithm": "knn_graph"}, None, ValueError, "knn_graph"),
        ({"cluster_selection_method": "best"}, None, ValueError, "cluster_selection_method"),
        ({"cluster_selection_epsilon": -1.0}, None, ValueError, "cluster_selection_epsilon"),
        ({"alpha": 0.0}, None, ValueError, "alpha"),
        ({"store_centers": "mean"}, None, ValueError, "store_centers"),
        # Rows with NaN or infinity are left out; what remains must still be enough.
        ({}, np.array([[0.0, np.nan], [1.0, 1.0], [2.0, 2.0]]), ValueError,
         r"min_cluster_size \(5\) must be at most the number of samples in X \(2\)"),
        ({}, np.array([[0.0, np.nan], [np.inf, 1.0]]), ValueError, "0 sample"),
        ({}, np.zeros((1, 2)), ValueError, "n_samples=1"),
        ({}, np.zeros((0, 2)), ValueError, "0 sample"),
    ],
)
def test_errors_leave_estimator_unchanged(params, X, error, match):
    est = HDBSCAN(**params)
    with pytest.raises(error, match=match):
        est.fit(_blobs() if X is None else X)
    assert not hasattr(est, "labels_")


def test_outputs_mirror_input(xp, dtype):
    X_np = _blobs()[:150].astype(dtype)
    X = xp.asarray(X_np)
    est = HDBSCAN(10, prediction_data=True, store_centers="centroid").fit(X)
    ref = HDBSCAN(10, prediction_data=True, store_centers="centroid").fit(X_np)
    for name, expected in (("labels_", np.int64), ("probabilities_", np.float64),
                           ("outlier_scores_", np.float64), ("centroids_", dtype)):
        out = getattr(est, name)
        assert_same_kind(out, X)
        assert tuple(out.shape) == getattr(ref, name).shape, name
        assert np.dtype(str(out.dtype).split(".")[-1]) == np.dtype(expected), name
    np.testing.assert_array_equal(to_numpy(est.labels_), ref.labels_)
    assert isinstance(est.condensed_tree_, np.ndarray)
    for out in (*est.approximate_predict(X), est.membership_vector(X),
                est.all_points_membership_vectors(), est.fit_predict(X)):
        assert_same_kind(out, X)


# ----------------------------------------------------------------------
# The tree on a neighbour graph (algorithm="knn_graph")


@pytest.mark.parametrize("name", ["blobs", "moons"])
def test_graph_path_with_the_complete_graph_gives_the_exact_labels(name, monkeypatch):
    # k = n - 1 from the exact search: the graph holds every pair, nothing is
    # left to join, and the tree (hence every label and score) is the exact one.
    X = DATASETS[name]()
    monkeypatch.setattr(_graph, "GRAPH_NEIGHBORS", X.shape[0])
    exact = HDBSCAN(15, algorithm="brute").fit(X)
    graph = HDBSCAN(15, algorithm="knn_graph").fit(X)
    np.testing.assert_array_equal(graph.labels_, exact.labels_)
    np.testing.assert_allclose(graph.probabilities_, exact.probabilities_, rtol=1e-12)
    np.testing.assert_allclose(graph.single_linkage_tree_, exact.single_linkage_tree_, rtol=1e-12)


def _approximate_graphs(monkeypatch):
    """Make knn_graph's "auto" take the inverted-file search at any size."""
    module = importlib.import_module("gpucluster.kernels.knn_graph")
    monkeypatch.setattr(module, "AUTO_EXACT_MAX_ROWS", 0)


@pytest.mark.parametrize("graph", ["exact", "approximate"])
@pytest.mark.parametrize("n_samples", [800, 3000, 8000])
def test_graph_path_agrees_with_the_exact_path_on_blobs(n_samples, graph, monkeypatch):
    # Clustered data: the default graph leaves the blobs apart and the join
    # puts them back; labels agree with the exact tree's (ARI >= 0.99).
    if graph == "approximate":
        _approximate_graphs(monkeypatch)
    X, _ = make_blobs(n_samples, 32, centers=10, cluster_std=2.0, random_state=1)
    X = X.astype(np.float32)
    exact = HDBSCAN(25, algorithm="brute").fit(X).labels_
    ours = HDBSCAN(25, algorithm="knn_graph").fit(X).labels_
    ari = adjusted_rand_score(exact, ours)
    assert ari >= 0.99, f"n={n_samples} graph={graph}: ARI {ari:.4f}"
    assert ours.max() == exact.max()


def test_graph_path_cosine_agrees_with_the_exact_path():
    X = _embeddings()
    exact = HDBSCAN(10, metric="cosine", algorithm="brute").fit(X).labels_
    ours = HDBSCAN(10, metric="cosine", algorithm="knn_graph").fit(X).labels_
    assert adjusted_rand_score(exact, ours) >= 0.99


@pytest.mark.parametrize(
    "algorithm, n_samples, n_features, expected",
    [
        ("auto", 400, 20, "graph_mst"),
        ("auto", 399, 20, "mst"),
        ("auto", 400, 16, "mst"),
        ("knn_graph", 50, 2, "graph_mst"),
        ("brute", 400, 20, "mst"),
        ("kd_tree", 400, 20, "mst"),
    ],
)
def test_auto_takes_the_graph_above_its_size(algorithm, n_samples, n_features, expected,
                                             monkeypatch):
    monkeypatch.setattr(_graph, "GRAPH_MIN_ROWS", 400)
    calls = []
    for kernel in ("mst", "graph_mst"):
        original = getattr(gh.kernels, kernel)

        def spy(*args, _kernel=kernel, _original=original, **kwargs):
            calls.append(_kernel)
            return _original(*args, **kwargs)

        monkeypatch.setattr(gh.kernels, kernel, spy)
    X, _ = make_blobs(n_samples, n_features, centers=3, random_state=0)
    HDBSCAN(10, algorithm=algorithm).fit(X)
    assert calls == [expected]


def test_graph_path_outputs_mirror_input(xp):
    X_np = _blobs()[:200]
    X = xp.asarray(X_np)
    est = HDBSCAN(10, algorithm="knn_graph").fit(X)
    ref = HDBSCAN(10, algorithm="knn_graph").fit(X_np)
    assert_same_kind(est.labels_, X)
    assert_same_kind(est.probabilities_, X)
    np.testing.assert_array_equal(to_numpy(est.labels_), ref.labels_)


@pytest.mark.parametrize("metric, params", [("l2", None), ("minkowski", None),
                                            ("minkowski", {"p": 2})])
def test_hdbscan_euclidean_aliases_give_euclidean_labels(metric, params):
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    X = make_blobs(300, centers=4, cluster_std=0.7, random_state=6)[0]
    got = HDBSCAN(min_cluster_size=10, metric=metric, metric_params=params).fit(X)
    euclidean = HDBSCAN(min_cluster_size=10).fit(X)
    np.testing.assert_array_equal(got.labels_, euclidean.labels_)
    if metric == "minkowski" and params is None:
        return  # scikit-learn's HDBSCAN needs p for minkowski; here it defaults to 2
    expected = SkHDBSCAN(min_cluster_size=10, metric=metric, metric_params=params).fit(X)
    assert adjusted_rand_score(expected.labels_, got.labels_) == 1.0


# ----------------------------------------------------------------------
# Metrics the kernels do not compute, precomputed and sparse input, extreme values
#
# These paths build the tree on the host as scikit-learn does (its Prim's
# algorithms, its edge order and sort, SciPy's tree of a sparse graph), so
# they match it exactly, ties included: labels with their ids, probabilities
# and the single-linkage tree.


def _sk_hdbscan(X, **params):
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SkHDBSCAN(copy=True, **params).fit(X)


def _assert_same_as_sklearn(ours, ref, context="", merge_order=True):
    """Same labels, probabilities and merge heights as scikit-learn; with ``merge_order``, the
    same merges in the same order too."""
    np.testing.assert_array_equal(to_numpy(ours.labels_), ref.labels_, err_msg=context)
    np.testing.assert_allclose(to_numpy(ours.probabilities_), ref.probabilities_, atol=1e-12,
                               err_msg=context)
    tree = ref._single_linkage_tree_
    if merge_order:
        np.testing.assert_array_equal(ours.single_linkage_tree_[:, :2],
                                      np.stack([tree["left_node"], tree["right_node"]], axis=1),
                                      err_msg=context)
    np.testing.assert_allclose(np.sort(ours.single_linkage_tree_[:, 2]), np.sort(tree["value"]),
                               rtol=1e-12, err_msg=context)


def _host_blobs(seed=3):
    X, _ = make_blobs(250, centers=4, cluster_std=[0.4, 1.0, 1.6, 0.7], random_state=seed)
    return X


def _chebyshev(a, b):
    return float(np.max(np.abs(a - b)))


HOST_METRICS = [
    ("manhattan", None),
    ("l1", None),
    ("cityblock", None),
    ("minkowski", {"p": 1.5}),
    ("minkowski", {"p": 3}),
    ("chebyshev", None),
    ("infinity", None),
    ("canberra", None),
    ("braycurtis", None),
    ("correlation", None),
    ("seuclidean", {"V": np.array([1.0, 4.0])}),
    ("mahalanobis", {"VI": np.array([[2.0, 0.5], [0.5, 1.0]])}),
    (_chebyshev, None),
]


@pytest.mark.parametrize("min_samples", [2, None], ids=["min_samples=2", "default"])
@pytest.mark.parametrize("metric, params", HOST_METRICS,
                         ids=lambda v: getattr(v, "__name__", str(v)) if not isinstance(v, dict)
                         else ",".join(map(str, v)))
def test_host_metrics_match_sklearn_exactly(metric, params, min_samples):
    # braycurtis: DistanceMetric and SciPy use different formulas on negative data.
    X = _host_blobs() + (20.0 if metric == "braycurtis" else 0.0)
    kwargs = {"metric": metric, "metric_params": params, "min_samples": min_samples}
    # Minkowski with p=3: SciPy's and scikit-learn's powers differ in the last bit, which
    # reorders merges of equal height on some machines (4 of 249 merges seen): heights only.
    exact_order = not (metric == "minkowski" and params["p"] == 3)
    _assert_same_as_sklearn(HDBSCAN(**kwargs).fit(X), _sk_hdbscan(X, **kwargs), str(metric),
                            merge_order=exact_order)


@pytest.mark.parametrize("alpha", [0.7, 1.5])
@pytest.mark.parametrize("metric", ["manhattan", "correlation"])
def test_alpha_divides_as_sklearn_on_the_host(metric, alpha):
    """Its tree-based path (manhattan) divides the distances by alpha, its brute path
    (correlation, precomputed) the core distances too; ties then abound."""
    X = _host_blobs()
    kwargs = {"metric": metric, "alpha": alpha}
    _assert_same_as_sklearn(HDBSCAN(**kwargs).fit(X), _sk_hdbscan(X, **kwargs), metric)


def test_boolean_metric_reads_nonzero_as_true_without_warnings():
    rng = np.random.default_rng(0)
    X = (rng.uniform(size=(120, 12)) < np.repeat(rng.uniform(0.1, 0.9, (3, 12)), 40, axis=0))
    X = X.astype(np.float64) * 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = HDBSCAN(min_cluster_size=8, metric="jaccard").fit(X)
    _assert_same_as_sklearn(ours, _sk_hdbscan(X, min_cluster_size=8, metric="jaccard"))
    np.testing.assert_array_equal(
        HDBSCAN(min_cluster_size=8, metric="jaccard").fit(X > 0).labels_, ours.labels_)


@pytest.mark.parametrize("min_samples", [2, None], ids=["min_samples=2", "default"])
def test_precomputed_dense_equals_features_and_sklearn(min_samples):
    from sklearn.metrics import pairwise_distances

    X = _host_blobs()
    D = pairwise_distances(X, metric="manhattan")
    ours = HDBSCAN(metric="precomputed", min_samples=min_samples).fit(D)
    _assert_same_as_sklearn(ours, _sk_hdbscan(D, metric="precomputed", min_samples=min_samples))
    features = HDBSCAN(metric="manhattan", min_samples=min_samples).fit(X)
    np.testing.assert_array_equal(ours.labels_, features.labels_)
    np.testing.assert_allclose(ours.probabilities_, features.probabilities_, atol=1e-12)
    np.testing.assert_array_equal(ours.dbscan_clustering(1.0, 5),
                                  _sk_hdbscan(D, metric="precomputed", min_samples=min_samples)
                                  .dbscan_clustering(1.0, 5))


def test_precomputed_euclidean_equals_the_kernel_path():
    """Without ties (min_samples=2) the host tree and the kernels' tree are one tree,
    numbered alike."""
    from sklearn.metrics import euclidean_distances

    X = _host_blobs()
    ours = HDBSCAN(min_samples=2, metric="precomputed").fit(euclidean_distances(X))
    kernel = HDBSCAN(min_samples=2).fit(X)
    np.testing.assert_array_equal(ours.labels_, kernel.labels_)
    np.testing.assert_allclose(ours.probabilities_, kernel.probabilities_, atol=1e-9)


def test_precomputed_missing_distances_warn_as_sklearn():
    D = np.array([[0.0, 1.0, np.inf, np.inf], [1.0, 0.0, np.inf, np.inf],
                  [np.inf, np.inf, 0.0, 1.0], [np.inf, np.inf, 1.0, 0.0]])
    with pytest.warns(UserWarning, match="edge weights with value infinity"):
        ours = HDBSCAN(min_cluster_size=2, min_samples=1, metric="precomputed").fit(D)
    ref = _sk_hdbscan(D, min_cluster_size=2, min_samples=1, metric="precomputed")
    _assert_same_as_sklearn(ours, ref)
    np.testing.assert_array_equal(ours.labels_, [0, 0, 1, 1])


def _sparse_graph(X, fraction=0.4):
    from scipy.spatial.distance import cdist

    D = cdist(X, X)
    D[D >= np.quantile(D, fraction)] = 0.0
    return csr_matrix(D)


@pytest.mark.parametrize("fmt", ["csr", "csc", "lil", "coo"])
@pytest.mark.parametrize("min_samples", [2, None], ids=["min_samples=2", "default"])
def test_sparse_precomputed_matches_sklearn(min_samples, fmt):
    """Only stored entries are edges, the diagonal counts only when stored."""
    G = _sparse_graph(_host_blobs()).asformat(fmt)
    ours = HDBSCAN(metric="precomputed", min_samples=min_samples).fit(G)
    _assert_same_as_sklearn(ours, _sk_hdbscan(G.tocsr(), metric="precomputed",
                                              min_samples=min_samples), fmt)


def test_sparse_knn_graph_with_max_distance_matches_sklearn():
    from sklearn.neighbors import kneighbors_graph

    X = _host_blobs()
    G = kneighbors_graph(X, 60, mode="distance")  # 60: one connected component
    G = G.maximum(G.T).tocsr()
    params = {"metric": "precomputed", "metric_params": {"max_distance": 50.0}}
    _assert_same_as_sklearn(HDBSCAN(**params).fit(G), _sk_hdbscan(G, **params))


def _two_components():
    D = np.kron(np.eye(2), np.ones((10, 10)))
    np.fill_diagonal(D, 2.0)
    return csr_matrix(D)


@pytest.mark.parametrize(
    "D, min_samples, match",
    [
        (csr_matrix(np.zeros((10, 10))), 5, "There exists points with fewer than 5 neighbors"),
        (_two_components(), 1, "HDBSCAN cannot be performed on a disconnected graph"),
        (np.ones((6, 5)), 1, r"expected to be symmetric, however it has shape \(6, 5\)"),
        (np.array([[0.0, 1, 2], [1, 0, 3], [9, 3, 0]]), 1, "values appear to be asymmetric"),
        (np.array([[0.0, -1, 2], [-1, 0, 3], [2, 3, 0]]), 1, "Negative values"),
        (np.array([[0.0, np.nan], [np.nan, 0.0]]), 1, "np.nan values found"),
    ],
    ids=["too-few-neighbours", "disconnected", "not-square", "asymmetric", "negative", "nan"],
)
def test_precomputed_errors(D, min_samples, match):
    """scikit-learn's errors (a negative distance is refused here; scikit-learn lets it in)."""
    est = HDBSCAN(min_cluster_size=2, min_samples=min_samples, metric="precomputed")
    with pytest.raises(ValueError, match=match):
        est.fit(D)
    assert not hasattr(est, "labels_")


@pytest.mark.parametrize("params, match", [
    ({"store_centers": "medoid"}, "Cannot store centers when using a precomputed"),
    ({"prediction_data": True}, "prediction_data needs feature rows"),
    ({"algorithm": "kd_tree"}, "precomputed is not a valid metric for a KDTree"),
    ({"algorithm": "ball_tree"}, "precomputed is not a valid metric for a BallTree"),
])
def test_precomputed_refuses_what_needs_features(params, match):
    with pytest.raises(ValueError, match=match):
        HDBSCAN(metric="precomputed", **params).fit(np.zeros((10, 10)))


def test_callables_run_on_the_host_and_only_with_brute_or_auto():
    X = _host_blobs()[:80]
    ours = HDBSCAN(metric=_chebyshev).fit(X)
    np.testing.assert_array_equal(ours.labels_, HDBSCAN(metric="chebyshev").fit(X).labels_)
    for algorithm in ("kd_tree", "ball_tree"):
        with pytest.raises(ValueError, match="is not a valid metric for a"):
            HDBSCAN(metric=_chebyshev, algorithm=algorithm).fit(X)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
def test_sparse_features_equal_dense_and_sklearn(metric):
    X = _host_blobs()
    X[:, 0] += 10.0  # away from the origin, for the cosine distance
    ours = HDBSCAN(metric=metric, min_samples=2).fit(csr_matrix(X))
    _assert_same_as_sklearn(ours, _sk_hdbscan(csr_matrix(X), metric=metric, min_samples=2))
    np.testing.assert_array_equal(ours.labels_, HDBSCAN(metric=metric, min_samples=2)
                                  .fit(X).labels_)


def test_sparse_features_non_finite_rows_and_errors():
    X = _host_blobs()
    X[3, 0], X[8, 1] = np.inf, np.nan
    dense = HDBSCAN().fit(X)
    sparse = HDBSCAN().fit(csr_matrix(X))
    np.testing.assert_array_equal(sparse.labels_, dense.labels_)
    assert sparse.labels_[3] == -2 and sparse.labels_[8] == -3
    with pytest.raises(ValueError, match="Sparse data matrices only support algorithm `brute`"):
        HDBSCAN(algorithm="ball_tree").fit(csr_matrix(X))
    with pytest.raises(ValueError, match="not valid for sparse input"):
        HDBSCAN(metric="chebyshev").fit(csr_matrix(X))
    with pytest.raises(ValueError, match="dense feature rows"):
        HDBSCAN(prediction_data=True).fit(csr_matrix(X))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_host_metric_centers_match_sklearn(sparse):
    X = _host_blobs()
    ours = HDBSCAN(metric="manhattan", store_centers="both").fit(
        csr_matrix(X) if sparse else X)
    ref = _sk_hdbscan(X, metric="manhattan", store_centers="both")
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.centroids_, ref.centroids_, rtol=1e-12)
    np.testing.assert_array_equal(ours.medoids_, ref.medoids_)
    assert isinstance(ours.medoids_, np.ndarray) and ours.medoids_.dtype == np.float64


def test_host_rows_one_at_a_time_equal_the_whole_matrix():
    """Over the memory budget, Prim's algorithm computes one row of distances per step."""
    from gpucluster import config_context

    X = _host_blobs()
    params = {"metric": "minkowski", "metric_params": {"p": 3}, "prediction_data": True}
    whole = HDBSCAN(**params).fit(X)
    with config_context(memory_budget=64 * 1024):
        rows = HDBSCAN(**params).fit(X)
    np.testing.assert_array_equal(rows.single_linkage_tree_, whole.single_linkage_tree_)
    np.testing.assert_array_equal(rows.labels_, whole.labels_)
    new = X[:40] + 0.1
    for ours, ref in zip(rows.approximate_predict(new), whole.approximate_predict(new)):
        np.testing.assert_array_equal(ours, ref)


def test_host_metric_prediction_matches_hdbscan():
    """The hdbscan library's approximate_predict under the same metric (no ties:
    min_samples=2, its 1)."""
    X = _blobs()
    rng = np.random.default_rng(1)
    new = X[rng.choice(len(X), 100, replace=False)] + 0.05 * rng.normal(size=(100, 2))
    ours = HDBSCAN(10, min_samples=2, metric="manhattan", prediction_data=True).fit(X)
    ref = _reference(X, 2, min_cluster_size=10, metric="manhattan", prediction_data=True)
    assert adjusted_rand_score(ours.labels_, ref.labels_) == 1.0
    labels, probs = ours.approximate_predict(new)
    ref_labels, ref_probs = hdbscan.approximate_predict(ref, new)
    assert adjusted_rand_score(labels, ref_labels) == 1.0
    np.testing.assert_allclose(probs, ref_probs, atol=1e-9)
    vectors = ours.membership_vector(new)
    np.testing.assert_allclose(vectors.sum(axis=1), 1.0)


def test_host_metric_outputs_mirror_input(xp):
    X_np = _host_blobs()
    X = xp.asarray(X_np)
    est = HDBSCAN(metric="manhattan", store_centers="both", prediction_data=True).fit(X)
    ref = HDBSCAN(metric="manhattan").fit(X_np)
    for out in (est.labels_, est.probabilities_, est.centroids_, est.medoids_,
                *est.approximate_predict(X), est.dbscan_clustering(1.0)):
        assert_same_kind(out, X)
    np.testing.assert_array_equal(to_numpy(est.labels_), ref.labels_)


@pytest.mark.parametrize("extreme", [[1e308, -3.0], [-1e308, 1e308], [1e200, 0.0]],
                         ids=["1e308", "opposite", "1e200"])
@pytest.mark.parametrize("params", [{}, {"min_samples": 2}, {"algorithm": "knn_graph"}],
                         ids=["default", "min_samples=2", "knn_graph"])
def test_one_finite_extreme_row_is_clustered_as_noise(extreme, params):
    """Squared distances of 1e308 overflow: the kernels then measure a scaled copy. The
    other rows get the labels scikit-learn gives them without that row (its brute path
    takes NaN distances to it), and the row is noise. (On the neighbour graph the far
    row is every blob's neighbour and joins them at 1e308, so it may stay with one.)"""
    X, _ = make_blobs(200, centers=3, random_state=4)
    X_extreme = X.copy()
    X_extreme[7] = extreme
    ours = HDBSCAN(prediction_data=True, store_centers="both", **params).fit(X_extreme)
    others = np.arange(200) != 7
    ref = HDBSCAN(**params).fit(X_extreme[others])
    np.testing.assert_array_equal(ours.labels_[others], ref.labels_)
    np.testing.assert_allclose(ours.probabilities_[others], ref.probabilities_, atol=1e-12)
    if "algorithm" not in params:
        assert ours.labels_[7] == -1 and ours.probabilities_[7] == 0.0
        np.testing.assert_array_equal(ref.labels_, _sk_hdbscan(X_extreme[others], **params).labels_)
    assert np.isfinite(ours.medoids_).all() and np.isfinite(ours.centroids_).all()
    labels, _ = ours.approximate_predict(X_extreme[:20])
    np.testing.assert_array_equal(labels[others[:20]], ours.labels_[:20][others[:20]])


def test_extreme_rows_float32_and_cosine():
    X, _ = make_blobs(200, centers=3, random_state=4)
    X32 = X.astype(np.float32)
    X32[7] = [3e38, 0.0]
    ours = HDBSCAN().fit(X32)
    np.testing.assert_array_equal(np.delete(ours.labels_, 7),
                                  HDBSCAN().fit(np.delete(X32, 7, axis=0)).labels_)
    # The cosine distance ignores each row's scale: 1e308 * (1, 0) is (1, 0).
    X_cos = X + np.array([12.0, 0.0])
    scaled = X_cos.copy()
    scaled[7] *= 1e306
    np.testing.assert_array_equal(HDBSCAN(metric="cosine").fit(scaled).labels_,
                                  HDBSCAN(metric="cosine").fit(X_cos).labels_)


def test_exemplars_without_prediction_data_leave_hasattr_and_dir_working():
    model = HDBSCAN().fit(np.random.default_rng(0).random((30, 2)))
    assert not hasattr(model, "exemplars_")
    assert "labels_" in dir(model)
    with pytest.raises(ValueError, match="no prediction data"):
        model.exemplars_


@pytest.mark.parametrize("offset", [1e4, 1e6])
def test_float32_far_from_the_origin_matches_scikit_learn(offset):
    """float32 blobs at 1e4 and 1e6, 20 features (the exact GEMM path): labels and
    probabilities as scikit-learn's on the same values (ARI 0.24 and probabilities off
    by 1.0 at 1e6 when the core distances and the tree came from the expanded form there)."""
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    X, _ = make_blobs(300, n_features=20, centers=4, cluster_std=0.3, random_state=0)
    X = (X + offset).astype(np.float32)
    want = SkHDBSCAN(min_cluster_size=10).fit(X.astype(np.float64))
    got = HDBSCAN(min_cluster_size=10).fit(X)
    np.testing.assert_array_equal(got.labels_, want.labels_)
    np.testing.assert_allclose(got.probabilities_, want.probabilities_, atol=1e-3)


def _tied_rows(kind, seed):
    """Rows whose mutual-reachability edges mostly tie: a 4 x 4 integer lattice, or 12
    integer rows repeated; each with two constant columns."""
    rng = np.random.default_rng(seed)
    if kind == "lattice":
        X = rng.integers(0, 4, size=(50, 2)).astype(np.float64)
    else:
        X = rng.integers(0, 6, size=(12, 3)).astype(np.float64)[rng.integers(0, 12, 60)]
    return np.hstack([X, np.full((X.shape[0], 2), 3.0)])


# Sets where gpucluster and scikit-learn differ: ARI 0.56 with probabilities 1.0 apart,
# ARI 0.72 and 0.82.
@pytest.mark.parametrize("kind, seed", [("lattice", 0), ("repeats", 5), ("repeats", 6)])
def test_ties_differ_from_sklearn_only_in_the_merge_order(kind, seed):
    """On tied data labels differ from scikit-learn's (185 of 300 lattice sets, NOTES) only
    because several spanning trees are minimal: gpucluster's tree code on scikit-learn's
    tree gives scikit-learn's labels and probabilities, scikit-learn's on gpucluster's tree
    gives gpucluster's, and the trees' weights are equal. Core distances, lambdas at zero
    distance, condensing and the probabilities' normalisation are therefore the same."""
    from sklearn.cluster import HDBSCAN as SkHDBSCAN
    from sklearn.metrics import DistanceMetric
    from sklearn.neighbors import NearestNeighbors

    linkage = pytest.importorskip("sklearn.cluster._hdbscan._linkage")
    sk_tree = pytest.importorskip("sklearn.cluster._hdbscan._tree")
    from gpucluster.cluster import _hdbscan_tree

    X = _tied_rows(kind, seed)
    params = {"min_samples": 3, "min_cluster_size": 5}
    theirs = SkHDBSCAN(**params, copy=True).fit(X)
    ours = HDBSCAN(**params).fit(X)
    core = NearestNeighbors(n_neighbors=3).fit(X).kneighbors(X, 3)[0][:, -1]
    mst = linkage.mst_from_data_matrix(X, np.ascontiguousarray(core),
                                       DistanceMetric.get_metric("euclidean"), 1.0)
    result = _hdbscan_tree.process_tree(
        np.stack([mst["current_node"], mst["next_node"]], axis=1), mst["distance"], len(X),
        min_cluster_size=5, method="eom", allow_single_cluster=False, epsilon=0.0,
        max_cluster_size=None, sklearn_order=True)
    np.testing.assert_array_equal(result["labels"], theirs.labels_)
    np.testing.assert_allclose(result["probabilities"], theirs.probabilities_, rtol=1e-12)
    ours_tree = ours.single_linkage_tree_
    hierarchy = np.empty(len(ours_tree), dtype=sk_tree.HIERARCHY_dtype)
    for i, name in enumerate(("left_node", "right_node", "value", "cluster_size")):
        hierarchy[name] = ours_tree[:, i]
    labels, probabilities = sk_tree.tree_to_labels(hierarchy, 5, "eom", False, 0.0, None)
    np.testing.assert_array_equal(labels, ours.labels_)
    np.testing.assert_allclose(probabilities, ours.probabilities_, rtol=1e-12)
    np.testing.assert_array_equal(np.sort(ours_tree[:, 2]), np.sort(mst["distance"]))


FAR_COSINE = [(1e4, np.float32), (1e6, np.float64)]
FAR_COSINE_IDS = ["float32-1e4", "float64-1e6"]


def _far_cosine_blobs(offset, dtype):
    X, _ = make_blobs(200, n_features=3, centers=3, random_state=0)
    return (X + offset).astype(dtype)


@pytest.mark.parametrize("offset, dtype", FAR_COSINE, ids=FAR_COSINE_IDS)
def test_cosine_far_from_the_origin_matches_sklearn_on_exact_distances(offset, dtype):
    """Rows far from the origin are at small angles, where 1 - u.v cancels (float32 at 1e4:
    ARI 0.65 and probabilities 1.0 apart; float64 at 1e6: probabilities 7e-3 apart). The
    reference is scikit-learn on the exact distances, |u - v|^2 / 2 of the float64 unit
    rows. float32 rows are searched rounded to float32 (distances within about 1e-6
    relative): probabilities within 1e-4."""
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    X = _far_cosine_blobs(offset, dtype)
    want = SkHDBSCAN(min_cluster_size=10, metric="precomputed", copy=True).fit(
        exact_cosine_distances(X))
    got = HDBSCAN(min_cluster_size=10, metric="cosine", algorithm="brute").fit(X)
    np.testing.assert_array_equal(got.labels_, want.labels_)
    atol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(got.probabilities_, want.probabilities_, atol=atol)


@pytest.mark.parametrize("offset, dtype", FAR_COSINE, ids=FAR_COSINE_IDS)
def test_cosine_graph_far_from_the_origin_is_the_graph_of_the_exact_rows(offset, dtype):
    """The graph path under the cosine distance far from the origin builds what "sqeuclidean"
    builds on the exact rows, |u - v|^2 / 2 being the cosine distance (float32 at 1e4: ARI
    0.83 and probabilities 0.79 apart before). Both differ from scikit-learn's exact tree
    on 2 of these 200 rows, under the Euclidean distance too: the graph's own
    approximation."""
    X = _far_cosine_blobs(offset, dtype)
    rows, _ = exact_cosine_rows(X)
    want = HDBSCAN(min_cluster_size=10, metric="sqeuclidean", algorithm="knn_graph").fit(rows)
    got = HDBSCAN(min_cluster_size=10, metric="cosine", algorithm="knn_graph").fit(X)
    np.testing.assert_array_equal(got.labels_, want.labels_)
    atol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(got.probabilities_, want.probabilities_, atol=atol)


@pytest.mark.parametrize("offset, dtype", FAR_COSINE, ids=FAR_COSINE_IDS)
def test_cosine_prediction_far_from_the_origin_measures_the_fitted_rows(offset, dtype):
    """Prediction, membership vectors and medoids of a cosine fit far from the origin are
    those of a "sqeuclidean" fit on the exact rows (|u - v|^2 / 2 is the cosine distance),
    new points centred on the fitted rows' mean; medoids_ and centroids_ are X's own rows
    and means, in X's dtype."""
    X = _far_cosine_blobs(offset, dtype)
    new = (X[::4] + np.random.default_rng(0).normal(0.0, 0.5, X[::4].shape)).astype(dtype)
    rows, centre = exact_cosine_rows(X)
    new_rows, _ = exact_cosine_rows(new, centre)
    params = {"min_cluster_size": 10, "prediction_data": True, "store_centers": "both"}
    got = HDBSCAN(metric="cosine", **params).fit(X)
    want = HDBSCAN(metric="sqeuclidean", **params).fit(rows)
    np.testing.assert_array_equal(got.labels_, want.labels_)
    atol = 1e-4 if dtype == np.float32 else 1e-9
    labels, probabilities = got.approximate_predict(new)
    want_labels, want_probabilities = want.approximate_predict(new_rows)
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_allclose(probabilities, want_probabilities, atol=atol)
    np.testing.assert_allclose(got.membership_vector(new), want.membership_vector(new_rows),
                               atol=atol)
    np.testing.assert_allclose(got.all_points_membership_vectors(),
                               want.all_points_membership_vectors(), atol=atol)
    medoid_rows = [np.flatnonzero((rows == m).all(axis=1))[0] for m in want.medoids_]
    assert got.medoids_.dtype == X.dtype
    np.testing.assert_array_equal(got.medoids_, X[medoid_rows])
    weights = got.probabilities_
    centroids = [np.average(X[got.labels_ == c].astype(np.float64), axis=0,
                            weights=weights[got.labels_ == c]) for c in range(3)]
    np.testing.assert_allclose(got.centroids_, centroids, rtol=rtol_for(dtype))


def test_cosine_prediction_of_a_zero_row_is_noise():
    """A zero row among new points (cosine distance 1 from every row) is noise, and the
    others keep their predictions: the points are measured by 1 - u.v then, at 10 from the
    origin exact enough."""
    X = _far_cosine_blobs(10.0, np.float64)
    model = HDBSCAN(min_cluster_size=10, metric="cosine", prediction_data=True).fit(X)
    labels, probabilities = model.approximate_predict(np.vstack([np.zeros((1, 3)), X[:5]]))
    want_labels, want_probabilities = model.approximate_predict(X[:5])
    assert labels[0] == -1 and probabilities[0] == 0.0
    np.testing.assert_array_equal(labels[1:], want_labels)
    np.testing.assert_allclose(probabilities[1:], want_probabilities, rtol=1e-6)
    assert np.isfinite(model.membership_vector(np.zeros((1, 3)))).all()


def test_cosine_medoid_of_a_cluster_with_a_zero_row_is_sklearns():
    """A zero row is at cosine distance 1 from every other row and 0 from itself in
    scikit-learn's medoid sums. 40 rows evenly around the origin are 40 from the circle in
    sum, as is the zero row; the zero row's weight (its probability, 0.05) on its distance
    to itself made its sum the circle rows' (40.05, plus rounding): the medoid was row 0
    where scikit-learn's is the zero row."""
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    m = 40
    angles = np.arange(m) * 2 * np.pi / m
    radii = 1 + 0.5 * np.random.default_rng(0).random(m)
    X = np.vstack([np.c_[np.cos(angles), np.sin(angles)] * radii[:, None], np.zeros((1, 2))])
    params = dict(metric="cosine", min_cluster_size=5, allow_single_cluster=True,
                  cluster_selection_epsilon=1.0, store_centers="medoid")
    want = SkHDBSCAN(**params, copy=True).fit(X)
    got = HDBSCAN(**params).fit(X)
    np.testing.assert_array_equal(got.labels_, want.labels_)
    np.testing.assert_array_equal(got.medoids_, want.medoids_)
    np.testing.assert_array_equal(got.medoids_, np.zeros((1, 2)))


@pytest.mark.parametrize("seed, params", [(0, {"min_cluster_size": 10}),
                                          (8, {"min_samples": 3})])
def test_cosine_with_a_zero_row_differs_from_sklearn_only_in_the_merge_order(seed, params):
    """make_blobs 100 x 3 near the origin plus a zero row (ARI 0.976 and 0.865 against
    scikit-learn; the same sets without the zero row differ alike): the zero row is at 1
    from every row in both, so each side's tree code on the other's spanning tree gives the
    other's labels and probabilities, and the trees' weights agree to rounding (1 - u.v
    against the centred rows' squared distances): equal-weight merges (core distances
    shared by several edges) taken in another order."""
    from sklearn.cluster import HDBSCAN as SkHDBSCAN
    from sklearn.metrics.pairwise import cosine_distances

    linkage = pytest.importorskip("sklearn.cluster._hdbscan._linkage")
    reachability = pytest.importorskip("sklearn.cluster._hdbscan._reachability")
    sk_tree = pytest.importorskip("sklearn.cluster._hdbscan._tree")
    from gpucluster.cluster import _hdbscan_tree

    X, _ = make_blobs(100, n_features=3, centers=3, random_state=seed)
    X = np.vstack([X, np.zeros((1, 3))])
    size = params.get("min_cluster_size", 5)
    theirs = SkHDBSCAN(metric="cosine", **params, copy=True).fit(X)
    ours = HDBSCAN(metric="cosine", **params).fit(X)
    mst = linkage.mst_from_mutual_reachability(reachability.mutual_reachability_graph(
        cosine_distances(X), min_samples=params.get("min_samples", size)))
    result = _hdbscan_tree.process_tree(
        np.stack([mst["current_node"], mst["next_node"]], axis=1), mst["distance"], len(X),
        min_cluster_size=size, method="eom", allow_single_cluster=False, epsilon=0.0,
        max_cluster_size=None, sklearn_order=True)
    np.testing.assert_array_equal(result["labels"], theirs.labels_)
    np.testing.assert_allclose(result["probabilities"], theirs.probabilities_, rtol=1e-9)
    ours_tree = ours.single_linkage_tree_
    hierarchy = np.empty(len(ours_tree), dtype=sk_tree.HIERARCHY_dtype)
    for i, name in enumerate(("left_node", "right_node", "value", "cluster_size")):
        hierarchy[name] = ours_tree[:, i]
    labels, probabilities = sk_tree.tree_to_labels(hierarchy, size, "eom", False, 0.0, None)
    np.testing.assert_array_equal(labels, ours.labels_)
    np.testing.assert_allclose(probabilities, ours.probabilities_, rtol=1e-9)
    np.testing.assert_allclose(np.sort(ours_tree[:, 2]), np.sort(mst["distance"]),
                               rtol=1e-12, atol=1e-15)
