"""DBSCAN: scikit-learn's checks, output mirroring, parity with scikit-learn, toy cases, errors."""

import importlib

import numpy as np
import pytest
from sklearn import cluster as sk_cluster
from sklearn import datasets
from sklearn.metrics import pairwise_distances

from gpucluster.cluster.dbscan import DBSCAN

from .._helpers import assert_same_kind, exact_cosine_distances, labels_agree, to_numpy


def test_dbscan_hand_computed(xp, dtype):
    # Three points spaced 1 apart, a gap of 2, three more, and a far point.
    X = xp.asarray(np.array([[0.0], [1.0], [2.0], [4.0], [6.0], [7.0], [8.0], [20.0]],
                            dtype=dtype))
    est = DBSCAN(eps=1.5, min_samples=3).fit(X)
    # Neighbourhoods within 1.5 (self included): only rows 1 ({0, 1, 2}) and
    # 5 ({4, 5, 6}) reach 3, so they are the core points; rows 0, 2 and 4, 6
    # are their borders; rows 3 and 7 have no core neighbour.
    assert to_numpy(est.labels_).tolist() == [0, 0, 0, -1, 1, 1, 1, -1]
    assert to_numpy(est.core_sample_indices_).tolist() == [1, 5]
    np.testing.assert_array_equal(to_numpy(est.components_), [[1.0], [7.0]])


def test_dbscan_border_point_joins_lowest_numbered_cluster(xp):
    # Row 0 at the origin is a border point (3 neighbours < 4) of two
    # clusters: its lower-index core neighbour, row 2 at (-1, 0), is in the
    # left cluster, but the right cluster has the lower core index (row 1),
    # is numbered 0 and reaches row 0 first in scikit-learn's expansion.
    X = np.array([[0, 0], [2, 0], [-1, 0], [1.5, 0.5], [1.5, -0.5], [1, 0],
                  [-2, 0], [-1.5, 0.5], [-1.5, -0.5], [0, 5]], dtype=np.float64)
    est = DBSCAN(eps=1.2, min_samples=4).fit(xp.asarray(X))
    assert to_numpy(est.labels_).tolist() == [0, 0, 1, 0, 0, 0, 1, 1, 1, -1]
    assert to_numpy(est.core_sample_indices_).tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    expected = sk_cluster.DBSCAN(eps=1.2, min_samples=4).fit(X)
    np.testing.assert_array_equal(to_numpy(est.labels_), expected.labels_)


def test_dbscan_output_follows_input(xp, dtype):
    Xn = datasets.make_blobs(60, centers=3, cluster_std=0.5, random_state=0)[0].astype(dtype)
    X = xp.asarray(Xn)
    est = DBSCAN(eps=0.6, min_samples=4).fit(X)
    reference = DBSCAN(eps=0.6, min_samples=4).fit(Xn)
    n_core = reference.core_sample_indices_.shape[0]
    assert n_core > 0
    for name, shape, kind in (("labels_", (60,), np.int64),
                              ("core_sample_indices_", (n_core,), np.int64),
                              ("components_", (n_core, 2), dtype)):
        value = getattr(est, name)
        assert_same_kind(value, X)
        assert tuple(value.shape) == shape, name
        assert to_numpy(value).dtype == kind, name
        np.testing.assert_array_equal(to_numpy(value), getattr(reference, name), err_msg=name)
    labels = DBSCAN(eps=0.6, min_samples=4).fit_predict(X)
    assert_same_kind(labels, X)
    np.testing.assert_array_equal(to_numpy(labels), reference.labels_)


DATASETS = {
    # Cosine needs clusters that differ in direction: blobs in 5-D.
    "blobs-5d": (lambda: datasets.make_blobs(1500, n_features=5, centers=4, cluster_std=0.5,
                                             random_state=0)[0], 0.7, 5),
    "blobs": (lambda: datasets.make_blobs(1500, centers=4, cluster_std=0.6, random_state=0)[0],
              0.3, 10),
    "moons": (lambda: datasets.make_moons(1500, noise=0.05, random_state=0)[0], 0.1, 5),
    "circles": (lambda: datasets.make_circles(1500, noise=0.05, factor=0.5,
                                              random_state=0)[0], 0.08, 5),
}


CASES = [(name, metric) for name in DATASETS for metric in ("euclidean", "sqeuclidean")]
CASES.append(("blobs-5d", "cosine"))


@pytest.mark.parametrize("name, metric", CASES)
def test_dbscan_matches_sklearn(name, metric, dtype):
    """Same core samples and ARI >= 0.999; the labels are in fact identical here."""
    make, eps, min_samples = DATASETS[name]
    X = make().astype(dtype)
    if metric == "sqeuclidean":
        eps = eps * eps
    elif metric == "cosine":
        eps = 0.01
    expected = sk_cluster.DBSCAN(eps=eps, min_samples=min_samples, metric=metric).fit(X)
    got = DBSCAN(eps=eps, min_samples=min_samples, metric=metric).fit(X)
    context = f"{name} {metric} {np.dtype(dtype).name}"
    np.testing.assert_array_equal(got.core_sample_indices_, expected.core_sample_indices_,
                                  err_msg=context)
    assert labels_agree(got.labels_, expected.labels_) >= 0.999, context
    assert len(set(expected.labels_.tolist())) > 1, context


def test_dbscan_precomputed_matches_sklearn():
    X = datasets.make_moons(300, noise=0.05, random_state=1)[0]
    D = pairwise_distances(X)
    expected = sk_cluster.DBSCAN(eps=0.15, min_samples=5, metric="precomputed").fit(D)
    got = DBSCAN(eps=0.15, min_samples=5, metric="precomputed").fit(D)
    np.testing.assert_array_equal(got.core_sample_indices_, expected.core_sample_indices_)
    np.testing.assert_array_equal(got.labels_, expected.labels_)
    direct = DBSCAN(eps=0.15, min_samples=5).fit(X)
    np.testing.assert_array_equal(direct.labels_, expected.labels_)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dbscan_sample_weight_matches_sklearn(seed):
    """Integer weights, zeros and negatives included, give scikit-learn's core samples and labels."""
    rng = np.random.default_rng(seed)
    X = datasets.make_blobs(400, centers=3, cluster_std=0.8, random_state=seed)[0]
    weights = rng.integers(-1, 4, size=len(X)).astype(np.float64)
    expected = sk_cluster.DBSCAN(eps=0.4, min_samples=8).fit(X, sample_weight=weights)
    got = DBSCAN(eps=0.4, min_samples=8).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(got.core_sample_indices_, expected.core_sample_indices_)
    np.testing.assert_array_equal(got.labels_, expected.labels_)


def test_dbscan_sample_weight_semantics():
    X = np.array([[0.0], [0.5], [10.0]])
    # A weight of min_samples makes a point core on its own.
    labels = DBSCAN(eps=1.0, min_samples=3).fit_predict(X, sample_weight=[1, 1, 3])
    assert labels.tolist() == [-1, -1, 0]
    # Integer weights act like repeated points.
    weighted = DBSCAN(eps=1.0, min_samples=3).fit(X, sample_weight=[2, 1, 1])
    repeated = DBSCAN(eps=1.0, min_samples=3).fit(np.array([[0.0], [0.0], [0.5], [10.0]]))
    assert weighted.labels_.tolist() == [0, 0, -1]
    assert repeated.labels_.tolist() == [0, 0, 0, -1]
    # A negative weight holds a neighbour back from being core.
    labels = DBSCAN(eps=1.0, min_samples=2).fit_predict(X, sample_weight=[1, -1, 5])
    assert labels.tolist() == [-1, -1, 0]


def test_dbscan_all_noise_and_single_point():
    X = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 10.0]], dtype=np.float32)
    est = DBSCAN(eps=1.0, min_samples=2).fit(X)
    assert est.labels_.tolist() == [-1, -1, -1]
    assert est.core_sample_indices_.shape == (0,) and est.core_sample_indices_.dtype == np.int64
    # scikit-learn's np.empty((0, n_features)): float64 whatever X's dtype.
    expected = sk_cluster.DBSCAN(eps=1.0, min_samples=2).fit(X).components_
    assert expected.shape == (0, 2) and expected.dtype == np.float64
    assert est.components_.shape == (0, 2) and est.components_.dtype == np.float64
    assert DBSCAN(min_samples=1).fit_predict(X[:1]).tolist() == [0]


def test_dbscan_no_core_point_components_as_sklearn(xp, dtype):
    """No core point: components_ is float64 (0, n_features) in X's array kind, as
    scikit-learn's; with core points it keeps X's dtype."""
    Xn = np.random.default_rng(0).random((20, 3)).astype(dtype)
    expected = sk_cluster.DBSCAN(eps=1e-3).fit(Xn).components_
    got = DBSCAN(eps=1e-3).fit(xp.asarray(Xn)).components_
    assert_same_kind(got, xp.asarray(Xn))
    assert tuple(got.shape) == expected.shape == (0, 3)
    assert to_numpy(got).dtype == expected.dtype == np.float64
    core = DBSCAN(eps=0.5, min_samples=3).fit(xp.asarray(Xn)).components_
    assert to_numpy(core).dtype == dtype and core.shape[0] > 0


def test_dbscan_sparse_no_core_point_components_dense_as_sklearn():
    from scipy import sparse

    X = sparse.csr_matrix(np.random.default_rng(0).random((20, 3)).astype(np.float32))
    expected = sk_cluster.DBSCAN(eps=1e-3).fit(X).components_
    got = DBSCAN(eps=1e-3).fit(X).components_
    assert type(got) is type(expected) is np.ndarray
    assert got.shape == expected.shape == (0, 3) and got.dtype == expected.dtype == np.float64


@pytest.mark.parametrize(
    "params, X, error, match",
    [
        ({"eps": 0.0}, None, ValueError, "eps must be > 0.0, got 0.0"),
        ({"eps": -1.0}, None, ValueError, "eps must be > 0.0, got -1.0"),
        ({"eps": float("nan")}, None, ValueError, "eps must be > 0.0, got nan"),
        ({"min_samples": 0}, None, ValueError, "min_samples must be >= 1, got 0"),
        ({"min_samples": 2.5}, None, TypeError, "min_samples"),
        ({"metric": "manhatan"}, None, ValueError, "metric"),
        ({"metric": "minkowski", "p": 0}, None, ValueError, "p must be > 0"),
        ({"metric_params": "w"}, None, ValueError, "metric_params"),
        ({"metric": "manhattan", "algorithm": "knn_graph"}, None, ValueError, "knn_graph"),
        ({"algorithm": "fast"}, None, ValueError, "algorithm"),
        ({}, [[0.0, np.nan]], ValueError, "NaN"),
        ({}, [[0.0, np.inf]], ValueError, "infinity"),
        ({}, np.empty((0, 2)), ValueError, "0 sample"),
        ({"metric": "precomputed"}, np.ones((3, 2)), ValueError, "square"),
    ],
)
def test_dbscan_rejects_bad_input(params, X, error, match):
    X = np.ones((4, 2)) if X is None else X
    est = DBSCAN(**params)
    with pytest.raises(error, match=match):
        est.fit(X)
    assert not hasattr(est, "labels_")


def test_dbscan_rejects_bad_sample_weight():
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="sample_weight.shape"):
        DBSCAN().fit(X, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        DBSCAN().fit(X, sample_weight=[1, 1, np.nan, 1])


@pytest.mark.parametrize("name, metric, weighted", [
    ("moons", "euclidean", False), ("circles", "sqeuclidean", False),
    ("blobs-5d", "cosine", False), ("blobs", "euclidean", True)])
def test_dbscan_in_blocks_of_rows_equals_sklearn(monkeypatch, name, metric, weighted):
    """Neighbour lists read block by block (a budget of 500 pairs: dozens of blocks)
    give scikit-learn's core samples and labels, numbering included."""
    dbscan_module = importlib.import_module("gpucluster.cluster.dbscan")

    make, eps, min_samples = DATASETS[name]
    X = make()
    eps = {"sqeuclidean": eps * eps, "cosine": 0.01}.get(metric, eps)
    weights = (np.random.default_rng(0).integers(-1, 4, size=len(X)).astype(np.float64)
               if weighted else None)
    expected = sk_cluster.DBSCAN(eps=eps, min_samples=min_samples, metric=metric).fit(
        X, sample_weight=weights)
    seen = []
    block_pairs = dbscan_module._block_pairs

    def spy(*args):
        seen.append(args[-2:])
        return block_pairs(*args)

    monkeypatch.setattr(dbscan_module, "BLOCK_PAIRS", 500)
    monkeypatch.setattr(dbscan_module, "_block_pairs", spy)
    got = DBSCAN(eps=eps, min_samples=min_samples, metric=metric).fit(X, sample_weight=weights)
    assert len(set(seen)) > 10
    np.testing.assert_array_equal(got.core_sample_indices_, expected.core_sample_indices_)
    np.testing.assert_array_equal(got.labels_, expected.labels_)


def test_dbscan_in_blocks_follows_the_input_namespace(xp, monkeypatch):
    dbscan_module = importlib.import_module("gpucluster.cluster.dbscan")

    Xn = datasets.make_blobs(300, centers=3, cluster_std=0.5, random_state=1)[0]
    expected = sk_cluster.DBSCAN(eps=0.5, min_samples=5).fit(Xn)
    monkeypatch.setattr(dbscan_module, "BLOCK_PAIRS", 200)
    got = DBSCAN(eps=0.5, min_samples=5).fit(xp.asarray(Xn))
    assert_same_kind(got.labels_, xp.asarray(Xn))
    np.testing.assert_array_equal(to_numpy(got.labels_), expected.labels_)


def test_row_blocks_cover_the_rows_within_the_budget():
    from gpucluster.cluster.dbscan import _row_blocks

    counts = np.array([3, 0, 5, 9, 1, 1, 2, 0, 4])
    blocks = _row_blocks(counts, 6)
    assert blocks[0][0] == 0 and blocks[-1][1] == len(counts)
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    # Every block within the budget, except a single row that alone exceeds it.
    assert all(counts[a:b].sum() <= 6 or b - a == 1 for a, b in blocks)
    assert blocks == [(0, 2), (2, 3), (3, 4), (4, 8), (8, 9)]


def _chebyshev(a, b):
    return float(np.max(np.abs(a - b)))


@pytest.mark.parametrize("metric, p, algorithm", [
    ("manhattan", None, "auto"), ("cityblock", None, "ball_tree"), ("l1", None, "brute"),
    ("chebyshev", None, "auto"), ("minkowski", 3, "auto"), ("minkowski", 1.5, "brute"),
    ("l2", None, "auto"), ("minkowski", 2, "kd_tree"), (_chebyshev, None, "auto")])
def test_dbscan_metrics_match_sklearn(metric, p, algorithm):
    """Every metric scikit-learn's DBSCAN takes gives its core samples and labels: the
    kernel metrics by any of their names, the others through its neighbour search."""
    X = datasets.make_blobs(300, n_features=3, centers=4, cluster_std=0.6, random_state=2)[0]
    eps, min_samples = 0.9, 6
    expected = sk_cluster.DBSCAN(eps=eps, min_samples=min_samples, metric=metric, p=p,
                                 algorithm=algorithm).fit(X)
    got = DBSCAN(eps=eps, min_samples=min_samples, metric=metric, p=p,
                 algorithm=algorithm).fit(X)
    assert len(set(expected.labels_.tolist()) - {-1}) > 1
    np.testing.assert_array_equal(got.core_sample_indices_, expected.core_sample_indices_)
    np.testing.assert_array_equal(got.labels_, expected.labels_)


def test_dbscan_host_metric_takes_weights_params_and_any_namespace(xp):
    Xn = datasets.make_blobs(200, n_features=3, centers=3, cluster_std=0.5, random_state=5)[0]
    weights = np.random.default_rng(1).integers(0, 3, size=len(Xn)).astype(np.float64)
    params = {"eps": 1.0, "min_samples": 5, "metric": "minkowski",
              "p": 1, "metric_params": {"w": np.array([1.0, 2.0, 0.5])}}
    expected = sk_cluster.DBSCAN(**params).fit(Xn, sample_weight=weights)
    got = DBSCAN(**params).fit(xp.asarray(Xn), sample_weight=weights)
    assert_same_kind(got.labels_, xp.asarray(Xn))
    np.testing.assert_array_equal(to_numpy(got.labels_), expected.labels_)
    np.testing.assert_array_equal(to_numpy(got.core_sample_indices_),
                                  expected.core_sample_indices_)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_dbscan_sparse_features_match_sklearn(fmt):
    from scipy import sparse

    X = datasets.make_blobs(300, n_features=5, centers=3, cluster_std=0.6, random_state=3)[0]
    X[np.abs(X) < 1.0] = 0.0  # a real share of zeros
    Xs = {"csr": sparse.csr_matrix, "csc": sparse.csc_matrix, "coo": sparse.coo_matrix}[fmt](X)
    weights = np.random.default_rng(2).integers(0, 3, size=len(X)).astype(np.float64)
    expected = sk_cluster.DBSCAN(eps=1.2, min_samples=6).fit(Xs, sample_weight=weights)
    got = DBSCAN(eps=1.2, min_samples=6).fit(Xs, sample_weight=weights)
    assert len(set(expected.labels_.tolist()) - {-1}) > 1
    np.testing.assert_array_equal(got.labels_, expected.labels_)
    np.testing.assert_array_equal(got.core_sample_indices_, expected.core_sample_indices_)
    assert sparse.issparse(got.components_)
    np.testing.assert_array_equal(got.components_.toarray(), expected.components_.toarray())
    # The dense path agrees with the sparse one.
    np.testing.assert_array_equal(DBSCAN(eps=1.2, min_samples=6).fit(
        X, sample_weight=weights).labels_, got.labels_)


@pytest.mark.parametrize("diagonal", ["missing", "explicit-far"])
def test_dbscan_sparse_precomputed_radius_graph_matches_sklearn(diagonal):
    """The usual way to feed a radius graph: scikit-learn's own radius_neighbors_graph
    (mode="distance"), with the diagonal absent (a row counts itself) or stored
    beyond eps (it does not)."""
    from sklearn.neighbors import radius_neighbors_graph

    X = datasets.make_moons(400, noise=0.06, random_state=4)[0]
    graph = radius_neighbors_graph(X, 0.2, mode="distance")
    if diagonal == "explicit-far":
        graph = graph.tolil()
        graph.setdiag(5.0)
        graph = graph.tocsr()
    expected = sk_cluster.DBSCAN(eps=0.15, min_samples=6, metric="precomputed").fit(graph)
    got = DBSCAN(eps=0.15, min_samples=6, metric="precomputed").fit(graph)
    assert len(set(expected.labels_.tolist()) - {-1}) > 1
    np.testing.assert_array_equal(got.labels_, expected.labels_)
    np.testing.assert_array_equal(got.core_sample_indices_, expected.core_sample_indices_)


@pytest.mark.parametrize("X, params, match", [
    ("nan", {}, "NaN"), ("nonsquare", {"metric": "precomputed"}, "square"),
    ("ok", {"algorithm": "knn_graph"}, "dense")])
def test_dbscan_sparse_bad_input(X, params, match):
    from scipy import sparse

    data = {"nan": sparse.csr_matrix(np.array([[0.0, np.nan], [1.0, 0.0]])),
            "nonsquare": sparse.csr_matrix(np.ones((3, 2))),
            "ok": sparse.csr_matrix(np.eye(4))}[X]
    with pytest.raises(ValueError, match=match):
        DBSCAN(**params).fit(data)


@pytest.mark.parametrize("offset", [1e4, 1e6])
def test_knn_graph_far_from_the_origin_equals_scikit_learn(offset):
    """float32 blobs far from the origin: the graph path's labels are scikit-learn's (every
    label disagreed at 1e4 when the graph searched the rows where they lay)."""
    X, _ = datasets.make_blobs(80, n_features=20, centers=3, cluster_std=0.1, random_state=0)
    X = (X + offset).astype(np.float32)
    want = sk_cluster.DBSCAN(eps=1.0, min_samples=3).fit(X).labels_
    got = DBSCAN(eps=1.0, min_samples=3, algorithm="knn_graph").fit(X).labels_
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_an_integer_lattice_with_ties_at_eps_equals_scikit_learn(offset):
    """17 integer features, eps 3: distances exactly at eps count, as scikit-learn's (the
    exact path centred rows by a mean that is no float and lost them: 12 labels differed)."""
    X = (np.random.RandomState(0).randint(0, 3, size=(80, 17)) + offset).astype(np.float32)
    want = sk_cluster.DBSCAN(eps=3.0, min_samples=3).fit(X).labels_
    for algorithm in ("auto", "brute", "knn_graph"):
        got = DBSCAN(eps=3.0, min_samples=3, algorithm=algorithm).fit(X).labels_
        np.testing.assert_array_equal(got, want, err_msg=algorithm)


@pytest.mark.parametrize("algorithm", ["auto", "knn_graph"])
@pytest.mark.parametrize("offset, dtype", [(1e4, np.float32), (1e6, np.float64)],
                         ids=["float32-1e4", "float64-1e6"])
def test_cosine_far_from_the_origin_equals_sklearn_on_exact_distances(offset, dtype, algorithm):
    """Rows far from the origin are at small angles, where 1 - u.v cancels (float32 at 1e4:
    every row core and one cluster, ARI 0; float64 at 1e6: 122 core rows for 121). The
    reference is scikit-learn on the exact distances, |u - v|^2 / 2 of the float64 unit
    rows. components_ are X's own rows."""
    X, _ = datasets.make_blobs(200, n_features=3, centers=3, random_state=1)
    X = (X + offset).astype(dtype)
    D = exact_cosine_distances(X)
    eps = float(np.median(np.sort(D, axis=1)[:, 5]))
    want = sk_cluster.DBSCAN(eps=eps, min_samples=5, metric="precomputed").fit(D)
    got = DBSCAN(eps=eps, min_samples=5, metric="cosine", algorithm=algorithm).fit(X)
    np.testing.assert_array_equal(got.labels_, want.labels_)
    np.testing.assert_array_equal(got.core_sample_indices_, want.core_sample_indices_)
    assert got.components_.dtype == X.dtype
    np.testing.assert_array_equal(got.components_, X[want.core_sample_indices_])
