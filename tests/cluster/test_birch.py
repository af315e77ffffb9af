"""Birch: parity with scikit-learn's tree, labels and partial fits; the global step's
variants; the tree's views; backends; errors; scikit-learn's estimator checks."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import AgglomerativeClustering as SklearnAgglomerative
from sklearn.cluster import Birch as SklearnBirch
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from gpucluster import KMeans
from gpucluster.cluster.birch import Birch

from .._helpers import assert_same_kind, labels_agree, make_blobs_np, to_numpy

# Parity cases: (n_samples, n_features, centers, threshold, branching_factor).
CASES = [
    (600, 4, 5, 0.5, 50),     # the defaults: one or two levels
    (900, 16, 6, 2.5, 8),     # a deeper tree, many splits
    (400, 2, 4, 0.05, 4),     # nearly every sample its own subcluster
]
CASE_IDS = ["defaults", "deep", "tiny-threshold"]


def _pair(n, d, centers, threshold, branching_factor, dtype=np.float64, **params):
    X, _ = make_blobs_np(n, d, centers=centers, dtype=dtype, seed=3)
    ours = Birch(threshold=threshold, branching_factor=branching_factor, **params)
    theirs = SklearnBirch(threshold=threshold, branching_factor=branching_factor, **params)
    return X, ours, theirs


def assert_same_tree(ours, theirs, dtype=np.float64):
    """Same subclusters in the same order: centres to 1e-5 (float64 agrees to the last bit
    since the insertion repeats scikit-learn's arithmetic; 1e-5 for float32 is a few ulps
    of the |centre| ~ 10 of these blobs, the rounding of the float64 labelling step)."""
    ours_centers = to_numpy(ours.subcluster_centers_)
    assert ours_centers.dtype == dtype
    assert ours_centers.shape == theirs.subcluster_centers_.shape
    np.testing.assert_allclose(ours_centers, theirs.subcluster_centers_, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------
# Parity with scikit-learn


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_birch_matches_sklearn_tree_and_labels(case, dtype):
    X, ours, theirs = _pair(*case, dtype=dtype, n_clusters=3)
    ours.fit(X)
    theirs.fit(X)
    assert_same_tree(ours, theirs, dtype)
    np.testing.assert_array_equal(ours.subcluster_labels_, theirs.subcluster_labels_)
    assert labels_agree(ours.labels_, theirs.labels_) == 1.0
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.transform(X[:50]), theirs.transform(X[:50]),
                               rtol=1e-5, atol=1e-5)
    assert ours.labels_.dtype == np.int64


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_partial_fit_batches_match_sklearn_partial_fit(case):
    X, ours, theirs = _pair(*case, n_clusters=None)
    for batch in np.array_split(X, 4):
        ours.partial_fit(batch)
        theirs.partial_fit(batch)
    assert_same_tree(ours, theirs)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)  # the last batch's
    # Batches insert the same samples in the same order as one fit.
    whole = Birch(threshold=case[3], branching_factor=case[4], n_clusters=None).fit(X)
    np.testing.assert_array_equal(ours.subcluster_centers_, whole.subcluster_centers_)


def test_partial_fit_none_runs_only_the_global_step():
    X, ours, theirs = _pair(*CASES[0], n_clusters=None)
    ours.partial_fit(X[:300]).partial_fit(X[300:])
    theirs.fit(X)
    centers = ours.subcluster_centers_.copy()
    labels_before = ours.labels_.copy()
    ours.set_params(n_clusters=4)
    theirs.set_params(n_clusters=4).partial_fit(None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ours.partial_fit(None) is ours
    np.testing.assert_array_equal(ours.subcluster_centers_, centers)
    np.testing.assert_array_equal(ours.labels_, labels_before)  # no X: labels_ unchanged
    np.testing.assert_array_equal(ours.subcluster_labels_, theirs.subcluster_labels_)
    assert np.unique(ours.subcluster_labels_).shape[0] == 4


def test_n_clusters_none_keeps_every_subcluster():
    X, ours, theirs = _pair(*CASES[0], n_clusters=None)
    ours.fit(X)
    theirs.fit(X)
    m = ours.subcluster_centers_.shape[0]
    np.testing.assert_array_equal(ours.subcluster_labels_, np.arange(m))
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_array_equal(ours.labels_, ours.predict(X))


def test_n_clusters_as_an_estimator():
    X, _ = make_blobs_np(500, 3, centers=6, seed=1)
    by_count = Birch(n_clusters=6).fit(X)
    # scikit-learn's own AgglomerativeClustering gives the default's labels.
    by_sklearn = Birch(n_clusters=SklearnAgglomerative(n_clusters=6)).fit(X)
    np.testing.assert_array_equal(by_sklearn.subcluster_labels_, by_count.subcluster_labels_)
    np.testing.assert_array_equal(by_sklearn.labels_, by_count.labels_)
    # Any clusterer: the given object itself is fit on the subcluster centres.
    kmeans = KMeans(n_clusters=6, n_init=2, random_state=0)
    brc = Birch(n_clusters=kmeans).fit(X)
    np.testing.assert_array_equal(brc.subcluster_labels_,
                                  kmeans.predict(brc.subcluster_centers_))
    assert brc.subcluster_labels_.dtype == np.int64
    reference = SklearnBirch(n_clusters=KMeans(n_clusters=6, n_init=2, random_state=0)).fit(X)
    assert labels_agree(brc.labels_, reference.labels_) == 1.0


def test_fewer_subclusters_than_n_clusters_warns():
    X, ours, theirs = _pair(*CASES[0], n_clusters=3)
    ours.set_params(threshold=1000.0)
    with pytest.warns(ConvergenceWarning, match=r"Number of subclusters found \(1\) by BIRCH "
                                                r"is less than \(3\)"):
        ours.fit(X)
    np.testing.assert_array_equal(ours.subcluster_labels_, [0])
    np.testing.assert_array_equal(ours.labels_, np.zeros(X.shape[0]))


@pytest.mark.parametrize("X", [np.ones((10, 3)), np.random.default_rng(0).random((20, 3))])
def test_one_cluster_of_one_subcluster_raises_as_sklearn(X):
    """n_clusters=1 with a single subcluster: scikit-learn's Ward refuses the one centre."""
    message = r"Found array with 1 sample\(s\) \(shape=\(1, 3\)\) while a minimum of 2"
    with pytest.raises(ValueError, match=message):
        SklearnBirch(n_clusters=1, threshold=100.0).fit(X)
    with pytest.raises(ValueError, match=message):
        Birch(n_clusters=1, threshold=100.0).fit(X)
    ours = Birch(n_clusters=None, threshold=100.0).fit(X).set_params(n_clusters=1)
    with pytest.raises(ValueError, match=message):
        ours.partial_fit()
    # Two subclusters or more: one cluster, as scikit-learn's.
    X = np.concatenate([X, X + 10.0])
    ours = Birch(n_clusters=1, threshold=1.0).fit(X)
    theirs = SklearnBirch(n_clusters=1, threshold=1.0).fit(X)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)


def test_compute_labels_false_sets_no_labels():
    X, _ = make_blobs_np(100, 2, seed=0)
    brc = Birch(compute_labels=False).fit(X)
    assert not hasattr(brc, "labels_")
    # predict still labels by the nearest subcluster: the labels a labelled fit stores.
    labelled = Birch().fit(X)
    np.testing.assert_array_equal(to_numpy(brc.predict(X)), to_numpy(labelled.labels_))
    assert len(np.unique(to_numpy(labelled.labels_))) == 3


# --------------------------------------------------------------------------
# The tree's views


def test_tree_views_match_sklearn_tree():
    X, ours, theirs = _pair(*CASES[1], n_clusters=None)
    ours.fit(X)
    theirs.fit(X)

    def shape(node):
        return [(sc.n_samples_, shape(sc.child_) if sc.child_ is not None else None)
                for sc in node.subclusters_]

    assert shape(ours.root_) == shape(theirs.root_)
    leaves = ours._get_leaves()
    assert len(leaves) == len(theirs._get_leaves())
    assert leaves[0].prev_leaf_ == ours.dummy_leaf_
    assert ours.dummy_leaf_.next_leaf_ == leaves[0] and leaves[-1].next_leaf_ is None
    np.testing.assert_array_equal(np.concatenate([leaf.centroids_ for leaf in leaves]),
                                  ours.subcluster_centers_)
    for leaf, their_leaf in zip(leaves, theirs._get_leaves()):
        for sc, their_sc in zip(leaf.subclusters_, their_leaf.subclusters_):
            assert sc.radius <= 2.5
            np.testing.assert_allclose(sc.linear_sum_, their_sc.linear_sum_, rtol=1e-12)
            np.testing.assert_allclose(sc.squared_sum_, their_sc.squared_sum_, rtol=1e-12)
    assert sum(sc.n_samples_ for sc in ours.root_.subclusters_) == X.shape[0]


def test_fitted_birch_pickles_and_keeps_growing():
    X, _ = make_blobs_np(300, 3, seed=2)
    brc = Birch(n_clusters=None).partial_fit(X[:150])
    copy = pickle.loads(pickle.dumps(brc))
    np.testing.assert_array_equal(copy.predict(X), brc.predict(X))
    copy.partial_fit(X[150:])
    brc.partial_fit(X[150:])
    np.testing.assert_array_equal(copy.subcluster_centers_, brc.subcluster_centers_)


# --------------------------------------------------------------------------
# Inputs and backends


def test_backends_give_the_numpy_results(xp, dtype):
    X_np, _ = make_blobs_np(300, 4, centers=4, dtype=dtype, seed=0)
    X = xp.asarray(X_np)
    ref = Birch(n_clusters=4).fit(X_np)
    brc = Birch(n_clusters=4).fit(X)
    for name in ("subcluster_centers_", "subcluster_labels_", "labels_"):
        out = getattr(brc, name)
        assert_same_kind(out, X)
        np.testing.assert_array_equal(to_numpy(out), getattr(ref, name), err_msg=name)
    for method in ("predict", "transform", "fit_predict", "fit_transform"):
        out = getattr(brc, method)(X)
        assert_same_kind(out, X)
        # The distance of a sample to its own singleton subcluster is sqrt of a rounding
        # residue (~1e-7 apart between torch's and NumPy's GEMM): hence atol.
        np.testing.assert_allclose(to_numpy(out), getattr(ref, method)(X_np), rtol=1e-5,
                                   atol=1e-5, err_msg=method)
    brc.partial_fit(X)
    assert_same_kind(brc.labels_, X)


def test_output_type_forces_numpy():
    torch = pytest.importorskip("torch")
    X, _ = make_blobs_np(100, 2, seed=0)
    brc = Birch(output_type="numpy").fit(torch.asarray(X))
    assert isinstance(brc.labels_, np.ndarray) and isinstance(brc.subcluster_centers_, np.ndarray)


def test_integers_sparse_and_lists():
    X, _ = make_blobs_np(200, 3, seed=0)
    X_int = np.round(X * 10).astype(np.int64)
    ours = Birch(threshold=5.0).fit(X_int)
    theirs = SklearnBirch(threshold=5.0).fit(X_int)
    assert ours.subcluster_centers_.dtype == np.float64
    assert_same_tree(ours, theirs)
    dense = Birch(n_clusters=3).fit(X)
    for sparse in (sp.csr_matrix(X), sp.csr_array(X)):
        brc = Birch(n_clusters=3).fit(sparse)
        np.testing.assert_array_equal(brc.labels_, dense.labels_)
        np.testing.assert_array_equal(brc.predict(sparse), dense.predict(X))
    np.testing.assert_array_equal(Birch(n_clusters=3).fit(X.tolist()).labels_, dense.labels_)


# --------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("params, error, match", [
    ({"threshold": 0.0}, ValueError, "threshold"),
    ({"threshold": -1.0}, ValueError, "threshold"),
    ({"threshold": "big"}, TypeError, "threshold"),
    ({"branching_factor": 1}, ValueError, "branching_factor"),
    ({"branching_factor": 2.5}, TypeError, "branching_factor"),
    ({"n_clusters": 0}, ValueError, "n_clusters"),
    ({"n_clusters": "3"}, TypeError, "n_clusters"),
    ({"n_clusters": True}, TypeError, "n_clusters"),
    ({"compute_labels": "yes"}, TypeError, "compute_labels"),
    ({"device": "tpu"}, ValueError, "device"),
], ids=lambda v: str(v) if isinstance(v, dict) else "")
def test_bad_parameters_raise(params, error, match):
    X, _ = make_blobs_np(50, 2, seed=0)
    with pytest.raises(error, match=match):
        Birch(**params).fit(X)


def test_bad_input_raises_and_changes_nothing():
    X, _ = make_blobs_np(60, 2, seed=0)
    with pytest.raises(ValueError, match="NaN"):
        Birch().fit(np.array([[0.0, np.nan], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="2D"):
        Birch().fit(X[:, 0])
    with pytest.raises(ValueError, match="0 sample"):
        Birch().fit(np.empty((0, 2)))
    with pytest.raises(NotFittedError):
        Birch().predict(X)
    with pytest.raises(NotFittedError):
        Birch().partial_fit(None)
    brc = Birch(n_clusters=None).fit(X)
    centers = brc.subcluster_centers_.copy()
    n_subclusters = brc._tree.n_subclusters
    with pytest.raises(ValueError, match="X has 1 features, but Birch is expecting 2"):
        brc.partial_fit(X[:, :1])
    with pytest.raises(ValueError, match="X has 3 features, but Birch is expecting 2"):
        brc.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="infinity"):
        brc.partial_fit(np.array([[0.0, np.inf]]))
    np.testing.assert_array_equal(brc.subcluster_centers_, centers)
    assert brc._tree.n_subclusters == n_subclusters


# --------------------------------------------------------------------------
# scikit-learn's estimator checks


def _expected_failed_checks(estimator):
    """scikit-learn's own Birch(n_clusters=None, threshold=1.0) fails the same check: it sets
    n_clusters=1, and its 10 rows of one feature in [0, 3) make one subcluster, which Ward
    refuses (one sample)."""
    if estimator.threshold == 1.0:
        return {"check_fit2d_1feature": "n_clusters=1 on a single subcluster raises "
                                        "ValueError, as scikit-learn's Birch does"}
    return {}


@parametrize_with_checks([Birch(), Birch(n_clusters=None, threshold=1.0)],
                         expected_failed_checks=_expected_failed_checks, xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)
