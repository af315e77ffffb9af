"""OPTICS: parity with scikit-learn, a hand-worked case, the array-API loop, errors, mirroring.

Why exact parity: scikit-learn's default metric ("minkowski", p=2) computes
core distances (KD-tree) and reachabilities (SciPy's cdist) by summing
squared differences, as our Numba loop does, and rounds both to 15 decimals;
so ``ordering_``, ``predecessor_`` and ``labels_`` are equal and distances
agree to rounding. float32 data is the same: scikit-learn casts it to
float64, and so does our loop. For "euclidean", "sqeuclidean" and "cosine"
scikit-learn mixes a GEMM-based distance with a direct one, so a point's
distance to its own k-th neighbour can differ from its core distance in the
last bit and exact ties break by rounding noise; there the reference is
scikit-learn on a precomputed distance matrix of directly summed distances.
"""

import warnings

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.cluster import OPTICS as SkOPTICS
from sklearn.cluster import cluster_optics_xi as sk_cluster_optics_xi
from sklearn.datasets import make_blobs

from gpucluster import backend, kernels
from gpucluster._distances import normalize_rows
from gpucluster.cluster import optics as go
from gpucluster.cluster.optics import OPTICS
from gpucluster.kernels.metric import COSINE, SQEUCLIDEAN
from gpucluster.kernels.cuda import optics as cuda_optics

from .._helpers import assert_same_kind, rtol_for, to_numpy


def _blobs(n_features=2, dtype=np.float64):
    X, _ = make_blobs(400, n_features=n_features, centers=4,
                      cluster_std=[0.3, 1.0, 2.0, 0.5], random_state=1)
    return X.astype(dtype)


def _densities():
    """Like scikit-learn's test_extract_xi data: blobs of very different densities, a sparse background."""
    rng = np.random.RandomState(0)
    n = 40
    C1 = [-5, -2] + 0.8 * rng.randn(n, 2)
    C2 = [4, -1] + 0.1 * rng.randn(n, 2)
    C3 = [1, -2] + 0.2 * rng.randn(n, 2)
    C4 = [-2, 3] + 0.3 * rng.randn(n, 2)
    C5 = [3, -2] + 1.6 * rng.randn(n, 2)
    C6 = [5, 6] + 2 * rng.randn(n, 2)
    return np.vstack((C1, C2, C3, C4, C5, C6))


DATASETS = {
    "blobs-2d": lambda: _blobs(2),
    "blobs-8d": lambda: _blobs(8),
    "densities": _densities,
}

PARAMS = [
    {},
    {"max_eps": 2.0},
    {"min_samples": 10, "xi": 0.1, "predecessor_correction": False},
    {"min_samples": 0.02, "min_cluster_size": 0.05},
    {"cluster_method": "dbscan", "eps": 0.8},
    {"cluster_method": "dbscan", "eps": 0.5, "max_eps": 1.5},
]


def _sklearn(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SkOPTICS(**params).fit(X)


def _assert_same_graph(ours, theirs, context, rtol=1e-12, atol=0.0):
    np.testing.assert_array_equal(to_numpy(ours.ordering_), theirs.ordering_, err_msg=context)
    np.testing.assert_array_equal(to_numpy(ours.predecessor_), theirs.predecessor_,
                                  err_msg=context)
    for name in ("reachability_", "core_distances_"):
        mine, ref = to_numpy(getattr(ours, name)), getattr(theirs, name)
        np.testing.assert_array_equal(np.isinf(mine), np.isinf(ref), err_msg=f"{name} {context}")
        finite = np.isfinite(ref)
        np.testing.assert_allclose(mine[finite], ref[finite], rtol=rtol, atol=atol,
                                   err_msg=f"{name} {context}")
    np.testing.assert_array_equal(to_numpy(ours.labels_), theirs.labels_, err_msg=context)


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items())
                         or "defaults")
@pytest.mark.parametrize("name", list(DATASETS))
def test_matches_sklearn(name, params):
    X = DATASETS[name]()
    ours = OPTICS(**params).fit(X)
    theirs = _sklearn(X, **params)
    _assert_same_graph(ours, theirs, f"{name} {params}")
    if params.get("cluster_method", "xi") == "xi":
        hierarchy = to_numpy(ours.cluster_hierarchy_)
        assert hierarchy.dtype == theirs.cluster_hierarchy_.dtype
        np.testing.assert_array_equal(hierarchy, theirs.cluster_hierarchy_, strict=True)
    else:
        assert not hasattr(ours, "cluster_hierarchy_")


@pytest.mark.parametrize("params", [{}, {"max_eps": 2.0}, {"cluster_method": "dbscan", "eps": 0.8}],
                         ids=["defaults", "max_eps", "dbscan"])
def test_float32_matches_sklearn(params):
    X = _blobs(3, np.float32)
    ours = OPTICS(**params).fit(X)
    theirs = _sklearn(X, **params)
    assert ours.reachability_.dtype == np.float32
    assert ours.core_distances_.dtype == np.float32
    np.testing.assert_array_equal(ours.ordering_, theirs.ordering_)
    _assert_same_graph(ours, theirs, f"float32 {params}", rtol=rtol_for(np.float32))


def test_parallel_scan_matches_sklearn():
    """At d=128 the compiled loop scans in parallel blocks (256 rows each) from n=512 rows on.

    scikit-learn's KD-tree gives way to brute force (GEMM) core distances at
    this dimension, so the reference is its run on SciPy's direct distances.
    """
    X, _ = make_blobs(700, n_features=128, centers=5, cluster_std=[2.0, 3.0, 4.0, 2.5, 5.0],
                      random_state=0)
    D = cdist(X, X)
    for params in ({}, {"cluster_method": "dbscan", "eps": 30.0}):
        _assert_same_graph(OPTICS(**params).fit(X),
                           _sklearn(D, metric="precomputed", **params), f"d=128 {params}",
                           rtol=1e-10)


def _array_api_graph(X, min_samples, metric, max_eps):
    """The CUDA path (``kernels/cuda/optics.py``, array-API code) run in X's own host namespace."""
    xp = backend.namespace(X)
    _, indices = kernels.knn(X, min_samples - 1,
                             metric="cosine" if metric == "cosine" else "sqeuclidean",
                             exclude_self=True)
    X64 = xp.astype(X, xp.float64)
    if metric == "cosine":
        X64 = normalize_rows(X64)
    code = COSINE if metric == "cosine" else SQEUCLIDEAN
    root = metric == "euclidean"
    core = cuda_optics.core_distances(X64, indices, max_eps, code, root)
    ordering, reachability, predecessor = cuda_optics.optics_ordering(X64, core, max_eps, code,
                                                                      root)
    return ordering, core, reachability, predecessor


def test_parallel_scan_matches_array_api_loop():
    X, _ = make_blobs(700, n_features=128, centers=5, random_state=1)
    ordering, core, reach, pred = go.optics_graph(X, 5, "euclidean", np.inf)
    o2, c2, r2, p2 = _array_api_graph(X, 5, "euclidean", np.inf)
    np.testing.assert_array_equal(o2, ordering)
    # vecdot may sum the 128 squares in another order than the compiled loop.
    np.testing.assert_allclose(c2, core, rtol=1e-12)
    np.testing.assert_array_equal(p2, pred)
    np.testing.assert_allclose(r2, reach, rtol=1e-12)


def _direct_distances(X, metric):
    """Pairwise distances summed directly (no GEMM), as our loop computes them."""
    if metric == "cosine":
        U = X / np.linalg.norm(X, axis=1, keepdims=True)
        D = np.clip(1.0 - (U[:, None, :] * U[None, :, :]).sum(-1), 0.0, 2.0)
    else:
        D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        if metric == "euclidean":
            D = np.sqrt(D)
    np.fill_diagonal(D, 0.0)
    return D


@pytest.mark.parametrize("params", [{}, {"max_eps": 1.5}, {"cluster_method": "dbscan", "eps": 0.5}],
                         ids=["defaults", "max_eps", "dbscan"])
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
def test_other_metrics_match_sklearn_precomputed(metric, params):
    X = _blobs(2)
    if metric == "cosine":
        X = X + np.array([20.0, 0.0])  # away from the origin, so directions differ
        params = {k: v / 100 for k, v in params.items() if k != "cluster_method"} | (
            {"cluster_method": params["cluster_method"]} if "cluster_method" in params else {})
    ours = OPTICS(metric=metric, **params).fit(X)
    theirs = _sklearn(_direct_distances(X, metric), metric="precomputed", **params)
    # Cosine rows are normalised in another order of operations, and 1 - cos
    # keeps an absolute error of a few ulps of 1 (then rounded to 15
    # decimals): 1e-14 absolute, however small the distance.
    _assert_same_graph(ours, theirs, f"{metric} {params}",
                       atol=1e-14 if metric == "cosine" else 0.0)


def test_minkowski_with_p2_in_metric_params():
    X = _blobs(2)
    a = OPTICS(metric="minkowski", metric_params={"p": 2}, p=3).fit(X)
    b = OPTICS().fit(X)
    np.testing.assert_array_equal(a.ordering_, b.ordering_)


def test_hand_computed():
    """scikit-learn's docstring example, worked by hand.

    Core distances (2 samples, counting the point): sqrt(10), sqrt(2),
    sqrt(2), 1, 1, sqrt(17). From point 0 everyone is reached at
    max(d, sqrt(10)); 1 is nearest (sqrt(10)); from 1, point 2 at sqrt(2);
    from 2, points 3, 4 and 5 at sqrt(26), sqrt(29) and 5; 5 is next and
    reaches 3 at sqrt(17); 4 comes last, from 3 at 1.
    """
    X = np.array([[1, 2], [2, 5], [3, 6], [8, 7], [8, 8], [7, 3]], dtype=np.float64)
    est = OPTICS(min_samples=2).fit(X)
    np.testing.assert_array_equal(est.ordering_, [0, 1, 2, 5, 3, 4])
    np.testing.assert_allclose(
        est.core_distances_, np.sqrt([10, 2, 2, 1, 1, 17]), rtol=1e-14)
    np.testing.assert_allclose(
        est.reachability_, [np.inf, np.sqrt(10), np.sqrt(2), np.sqrt(17), 1.0, 5.0], rtol=1e-14)
    np.testing.assert_array_equal(est.predecessor_, [-1, 0, 1, 5, 3, 2])
    np.testing.assert_array_equal(est.labels_, [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(est.cluster_hierarchy_, [[0, 2], [3, 5], [0, 5]])
    dbscan = OPTICS(min_samples=2, cluster_method="dbscan", eps=4.5).fit(X)
    np.testing.assert_array_equal(dbscan.labels_, [0, 0, 0, 1, 1, 1])


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
def test_array_api_loop_matches_numba_loop(xp, metric):
    """The CUDA path's array-API loop, run on host namespaces, against the compiled loop."""
    X_np = _densities() + (np.array([10.0, 10.0]) if metric == "cosine" else 0.0)
    max_eps = 0.05 if metric == "cosine" else 3.0
    ordering, core, reach, pred = go.optics_graph(X_np, 5, metric, max_eps)
    X = xp.asarray(X_np)
    o2, c2, r2, p2 = _array_api_graph(X, 5, metric, max_eps)
    for out in (o2, c2, r2, p2):
        assert_same_kind(out, X)
    np.testing.assert_array_equal(to_numpy(o2), ordering)
    np.testing.assert_array_equal(to_numpy(p2), pred)
    # vecdot and the compiled loop may sum the cosine products in another
    # order: a few ulps of 1 in 1 - cos (see the precomputed-metric test).
    atol = 1e-14 if metric == "cosine" else 0.0
    np.testing.assert_allclose(to_numpy(c2), core, rtol=1e-12, atol=atol)
    np.testing.assert_allclose(to_numpy(r2), reach, rtol=1e-12, atol=atol)


def test_all_inf_reachability_warns():
    X = _blobs(2)
    with pytest.warns(UserWarning, match="All reachability values are inf"):
        est = OPTICS(max_eps=1e-6).fit(X)
    assert np.all(est.labels_ == -1)
    assert np.all(np.isinf(est.core_distances_))
    np.testing.assert_array_equal(est.ordering_, np.arange(X.shape[0]))


def test_duplicates_and_min_samples_equal_n():
    X = np.array([[0.0, 0.0]] * 3 + [[1.0, 1.0]] * 3)
    ours = OPTICS(min_samples=6, cluster_method="dbscan", eps=2.0).fit(X)
    _assert_same_graph(ours, _sklearn(X, min_samples=6, cluster_method="dbscan", eps=2.0),
                       "duplicates")


@pytest.mark.parametrize(
    "params, match",
    [
        ({"min_samples": 1}, "min_samples"),
        ({"min_samples": -0.5}, "min_samples"),
        ({"min_samples": 500}, r"min_samples must be no greater than the number of samples "
                               r"\(n_samples=400\)\. Got 500"),
        ({"min_cluster_size": 500}, "min_cluster_size must be no greater"),
        ({"min_cluster_size": 0.0}, "min_cluster_size"),
        ({"xi": -0.1}, "xi"),
        ({"xi": 1.5}, "xi"),
        ({"xi": 1.0}, "xi"),
        ({"max_eps": -1.0}, "max_eps"),
        ({"cluster_method": "hdbscan"}, "cluster_method"),
        ({"cluster_method": "dbscan", "eps": 3.0, "max_eps": 2.0}, "epsilon smaller"),
        ({"metric": "no-such-metric"}, "metric must be"),
        ({"metric": "cosine", "algorithm": "kd_tree"}, r"Metric 'cosine' not valid\. Use sorted"),
        ({"metric": "manhattan", "algorithm": "knn_graph"}, "knn_graph"),
        ({"algorithm": "fast"}, "algorithm"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_invalid_parameters(params, match):
    X = _blobs(2)
    est = OPTICS(**params)
    with pytest.raises(ValueError, match=match):
        est.fit(X)
    assert not hasattr(est, "labels_")


@pytest.mark.parametrize("bad, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_rejects_non_finite(bad, match):
    X = _blobs(2)
    X[3, 1] = bad
    with pytest.raises(ValueError, match=match):
        OPTICS().fit(X)


def test_failed_fit_keeps_previous_state():
    X = _blobs(2)
    est = OPTICS().fit(X)
    labels = est.labels_.copy()
    est.set_params(min_samples=10_000)
    with pytest.raises(ValueError, match="min_samples must be no greater than the number of"):
        est.fit(X)
    np.testing.assert_array_equal(est.labels_, labels)


def test_no_xi_cluster_gives_sklearn_empty_hierarchy(xp):
    """No Xi cluster: cluster_hierarchy_ is scikit-learn's np.array([]), float64 (0,), in
    X's array kind; cluster_optics_xi returns the same."""
    X_np = np.random.default_rng(0).random((20, 3))
    theirs = SkOPTICS(min_samples=20, max_eps=0.01).fit(X_np)
    ours = OPTICS(min_samples=20, max_eps=0.01).fit(xp.asarray(X_np))
    assert_same_kind(ours.cluster_hierarchy_, xp.asarray(X_np))
    hierarchy = to_numpy(ours.cluster_hierarchy_)
    assert hierarchy.shape == theirs.cluster_hierarchy_.shape == (0,)
    assert hierarchy.dtype == theirs.cluster_hierarchy_.dtype == np.float64
    np.testing.assert_array_equal(to_numpy(ours.labels_), theirs.labels_)
    arrays = {"reachability": theirs.reachability_, "predecessor": theirs.predecessor_,
              "ordering": theirs.ordering_, "min_samples": 20}
    _, expected = sk_cluster_optics_xi(**arrays)
    _, got = go.cluster_optics_xi(**arrays)
    assert got.shape == expected.shape == (0,) and got.dtype == expected.dtype


def test_outputs_mirror_input(xp, dtype):
    X_np = _densities().astype(dtype)
    X = xp.asarray(X_np)
    est = OPTICS(min_samples=6).fit(X)
    ref = OPTICS(min_samples=6).fit(X_np)
    expected = {"labels_": np.int64, "ordering_": np.int64, "predecessor_": np.int64,
                "reachability_": dtype, "core_distances_": dtype,
                "cluster_hierarchy_": np.int64}
    for name, expected_dtype in expected.items():
        out = getattr(est, name)
        assert_same_kind(out, X)
        assert tuple(out.shape) == getattr(ref, name).shape, name
        assert np.dtype(str(out.dtype).split(".")[-1]) == np.dtype(expected_dtype), name
        np.testing.assert_array_equal(to_numpy(out), getattr(ref, name), err_msg=name)
    out = est.fit_predict(X)
    assert_same_kind(out, X)
    numpy_out = OPTICS(min_samples=6, output_type="numpy").fit(X).labels_
    assert isinstance(numpy_out, np.ndarray)


# ----------------------------------------------------------------------
# Metrics the kernels do not compute, precomputed and sparse input
#
# These run scikit-learn's loop on the host with scikit-learn's distances;
# scikit-learn takes its core distances from a tree (DistanceMetric) and its
# reachabilities from pairwise_distances, which agree to rounding, so the
# distances are compared to 1e-6 and the ordering, predecessors and labels
# exactly.


def _positive_densities():
    return _densities() + 20.0  # braycurtis: SciPy's and DistanceMetric's formulas agree here


def _chebyshev(a, b):
    return float(np.max(np.abs(a - b)))


HOST_METRICS = [
    ({"metric": "manhattan"}),
    ({"metric": "l1"}),
    ({"metric": "minkowski", "p": 1}),
    ({"metric": "minkowski", "p": 3}),
    ({"metric": "minkowski", "p": 3, "metric_params": {"p": 1.5}}),
    ({"metric": "chebyshev", "max_eps": 2.0}),
    ({"metric": "canberra"}),
    ({"metric": "braycurtis", "cluster_method": "dbscan", "eps": 0.02}),
    ({"metric": "correlation"}),
    ({"metric": "seuclidean", "metric_params": {"V": np.array([1.0, 4.0])}}),
    ({"metric": "mahalanobis", "metric_params": {"VI": np.array([[2.0, 0.5], [0.5, 1.0]])}}),
    ({"metric": _chebyshev}),
]


@pytest.mark.parametrize("params", HOST_METRICS, ids=lambda p: "-".join(
    f"{k}={getattr(v, '__name__', v)}" for k, v in p.items() if k != "metric_params")
    + ("-params" if "metric_params" in p else ""))
def test_host_metrics_match_sklearn(params):
    X = _positive_densities()
    _assert_same_graph(OPTICS(**params).fit(X), _sklearn(X, **params), str(params), atol=1e-6)


@pytest.mark.parametrize("metric", ["jaccard", "rogerstanimoto", "dice", "russellrao",
                                    "sokalsneath", "yule", "hamming"])
def test_boolean_metrics_match_sklearn(metric):
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(150, 10)) < np.repeat(rng.uniform(0.1, 0.9, (3, 10)), 50, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # bool data: no conversion warning
        ours = OPTICS(metric=metric, min_samples=8).fit(X)
    _assert_same_graph(ours, _sklearn(X, metric=metric, min_samples=8), metric, atol=1e-6)


def test_boolean_metric_warns_once_for_other_data():
    from sklearn.exceptions import DataConversionWarning

    X = (np.random.default_rng(1).uniform(size=(40, 6)) < 0.5).astype(np.int32)
    with pytest.warns(DataConversionWarning,
                      match="Data will be converted to boolean for metric rogerstanimoto") as rec:
        ours = OPTICS(metric="rogerstanimoto").fit(X)
    assert len([w for w in rec if w.category is DataConversionWarning]) == 1
    _assert_same_graph(ours, _sklearn(X, metric="rogerstanimoto"), "int data", atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not a boolean metric: never
        OPTICS(metric="manhattan").fit(X)


@pytest.mark.parametrize("params", [{}, {"max_eps": 3.0},
                                    {"cluster_method": "dbscan", "eps": 1.5}],
                         ids=["defaults", "max_eps", "dbscan"])
def test_precomputed_dense_equals_features_and_sklearn(params):
    X = _densities()
    D = cdist(X, X, "cityblock")
    ours = OPTICS(metric="precomputed", **params).fit(D)
    _assert_same_graph(ours, _sklearn(D, metric="precomputed", **params), "precomputed")
    _assert_same_graph(ours, _sklearn(X, metric="manhattan", **params), "features", atol=1e-6)
    features = OPTICS(metric="manhattan", **params).fit(X)
    np.testing.assert_array_equal(ours.ordering_, features.ordering_)
    np.testing.assert_allclose(ours.reachability_, features.reachability_, rtol=1e-12)


def test_precomputed_dense_diagonal_counts_as_a_neighbour():
    """A nonzero diagonal is a point's distance to itself: scikit-learn counts it."""
    X = _densities()[:80]
    D = cdist(X, X)
    np.fill_diagonal(D, 0.3)
    _assert_same_graph(OPTICS(metric="precomputed", min_samples=4).fit(D),
                       _sklearn(D, metric="precomputed", min_samples=4), "diagonal")


def _graph(X, quantile, fmt="csr"):
    from scipy.sparse import csr_matrix

    D = cdist(X, X)
    D[D > np.quantile(D, quantile)] = 0.0
    return csr_matrix(D).asformat(fmt)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil"])
@pytest.mark.parametrize("params", [{}, {"max_eps": 2.0}, {"cluster_method": "dbscan", "eps": 1.0}],
                         ids=["defaults", "max_eps", "dbscan"])
def test_sparse_precomputed_matches_sklearn(params, fmt):
    """Only stored entries are neighbours; the diagonal is stored (0 where absent)."""
    G = _graph(_densities(), 0.4, fmt)
    before = G.copy()
    ours = OPTICS(metric="precomputed", **params).fit(G)
    _assert_same_graph(ours, _sklearn(G.tocsr(), metric="precomputed", **params), fmt)
    assert G.nnz == before.nnz and (G != before).nnz == 0  # the input is not modified


def test_sparse_knn_graph_matches_sklearn_without_warnings():
    from sklearn.neighbors import kneighbors_graph

    X = _densities()
    G = kneighbors_graph(X, 12, mode="distance")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = OPTICS(metric="precomputed").fit(G)
    _assert_same_graph(ours, _sklearn(G, metric="precomputed"), "knn graph")


@pytest.mark.parametrize("make, match", [
    (lambda: np.ones((6, 5)), "Precomputed matrix must be square. Input is a 6x5 matrix"),
    (lambda: _graph(_densities()[:6], 1.0)[:, :5], "must be square. Input is a 6x5 matrix"),
    (lambda: -np.eye(6) + 1.0 - 1.5 * np.eye(6)[::-1], "Negative values in data passed to X"),
    (lambda: _graph(_densities()[:6], 1.0) * -1.0,
     "Negative values in data passed to precomputed distance matrix"),
    (lambda: _graph(_densities()[:20], 0.05),
     "2 neighbors per samples are required, but some samples have only 1 neighbors"),
    (lambda: np.where(np.eye(6) > 0, 0.0, np.inf), "infinity"),
], ids=["not-square", "sparse-not-square", "negative", "sparse-negative", "too-few-stored",
        "infinity"])
def test_precomputed_errors_as_sklearn(make, match):
    est = OPTICS(metric="precomputed", min_samples=2)
    with pytest.raises(ValueError, match=match):
        est.fit(make())
    with pytest.raises(ValueError, match=match):
        SkOPTICS(metric="precomputed", min_samples=2).fit(make())
    assert not hasattr(est, "labels_")


def test_callables_and_tree_algorithms_as_sklearn():
    X = _densities()
    ours = OPTICS(metric=_chebyshev, algorithm="ball_tree").fit(X)
    _assert_same_graph(ours, OPTICS(metric="chebyshev").fit(X), "callable")
    with pytest.raises(ValueError, match="kd_tree does not support callable metric"):
        OPTICS(metric=_chebyshev, algorithm="kd_tree").fit(X)
    with pytest.raises(ValueError, match=r"Metric 'jaccard' not valid\. Use sorted"):
        OPTICS(metric="jaccard", algorithm="kd_tree").fit(X > 0)
    # "precomputed" takes any algorithm, as scikit-learn's neighbour search.
    OPTICS(metric="precomputed", algorithm="kd_tree").fit(cdist(X, X))


@pytest.mark.parametrize("metric", ["euclidean", "minkowski", "manhattan", "cosine"])
def test_sparse_features_match_dense(metric):
    from scipy.sparse import csr_matrix

    X = _densities() + 10.0
    ours = OPTICS(metric=metric).fit(csr_matrix(X))
    dense = OPTICS(metric=metric).fit(X)
    atol = 1e-14 if metric == "cosine" else 1e-9  # GEMM against summed differences
    _assert_same_graph(ours, _sklearn(csr_matrix(X), metric=metric if metric != "minkowski"
                                      else "euclidean"), metric, atol=atol)
    np.testing.assert_array_equal(ours.ordering_, dense.ordering_)
    assert ours.reachability_.dtype == np.float64


def test_sparse_features_refuse_what_sklearn_refuses():
    from scipy.sparse import csr_matrix

    X = csr_matrix(_densities())
    with pytest.raises(ValueError, match="Metric 'chebyshev' not valid for sparse input"):
        OPTICS(metric="chebyshev").fit(X)
    with pytest.warns(UserWarning, match="cannot use tree with sparse input"):
        OPTICS(algorithm="kd_tree").fit(X)
    with pytest.raises(ValueError, match="min_cluster_size must be no greater than the "):
        OPTICS(min_cluster_size=X.shape[0] + 1, metric="euclidean").fit(X)


def test_host_rows_one_at_a_time_equal_the_whole_matrix():
    """Over the memory budget, the loop computes one row of distances per step."""
    from gpucluster import config_context

    X = _densities()
    whole = OPTICS(metric="manhattan", max_eps=3.0).fit(X)
    with config_context(memory_budget=32 * 1024):
        rows = OPTICS(metric="manhattan", max_eps=3.0).fit(X)
    for name in ("ordering_", "reachability_", "core_distances_", "predecessor_", "labels_"):
        np.testing.assert_array_equal(getattr(rows, name), getattr(whole, name), err_msg=name)


def test_host_metric_outputs_mirror_input(xp):
    X_np = _densities()
    X = xp.asarray(X_np)
    est = OPTICS(metric="manhattan").fit(X)
    ref = OPTICS(metric="manhattan").fit(X_np)
    for name in ("labels_", "ordering_", "reachability_", "core_distances_", "predecessor_"):
        out = getattr(est, name)
        assert_same_kind(out, X)
        np.testing.assert_array_equal(to_numpy(out), getattr(ref, name), err_msg=name)
    assert np.dtype(str(est.reachability_.dtype).split(".")[-1]) == np.float64


@pytest.mark.parametrize("offset", [1e4, 1e6])
def test_float32_far_from_the_origin_matches_sklearn(offset):
    """float32 blobs at 1e4 and 1e6, 20 features: core distances and labels as scikit-learn's
    on the same values (core distances off by 48 and ARI 0.24 at 1e6 when the neighbour
    search took the expanded form there)."""
    X, _ = make_blobs(300, n_features=20, centers=4, cluster_std=0.3, random_state=0)
    X = (X + offset).astype(np.float32)
    want = SkOPTICS(min_samples=5).fit(X.astype(np.float64))
    got = OPTICS(min_samples=5).fit(X)
    np.testing.assert_allclose(got.core_distances_, want.core_distances_, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(got.labels_, want.labels_)


@pytest.mark.parametrize("offset, dtype", [(1e3, np.float32), (1e6, np.float64)],
                         ids=["float32-1e3", "float64-1e6"])
def test_cosine_far_from_the_origin_keeps_the_small_angles(offset, dtype):
    """Rows far from the origin are at small angles, where 1 - u.v cancels (float32 at 1e3:
    core distances 3 to 7 times the exact ones, ARI 0.39-0.60; float64 at 1e6: up to 2e-1
    off relative, as scikit-learn's own). The reference is scikit-learn on the exact
    distances, |u - v|^2 / 2 of the float64 unit rows."""
    X, _ = make_blobs(150, n_features=3, centers=3, random_state=0)
    X = (X + offset).astype(dtype)
    U = X.astype(np.float64) / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
    D = 0.5 * ((U[:, None, :] - U[None, :, :]) ** 2).sum(-1)
    want = _sklearn(D, min_samples=5, metric="precomputed")
    got = OPTICS(min_samples=5, metric="cosine").fit(X)
    # Distances below 1e-12 are rounded to 15 decimals (scikit-learn's rounding): 1e-15.
    _assert_same_graph(got, want, f"{offset} {dtype.__name__}", rtol=rtol_for(dtype),
                       atol=1e-15)


def test_cosine_graph_far_from_the_origin_finds_the_nearest_rows():
    """The neighbour graph of float32 rows at 1e3 under the cosine distance is searched
    among the centred unit rows too (core distances were up to 8.6 times the exact ones)."""
    X, _ = make_blobs(150, n_features=3, centers=3, random_state=0)
    X = (X + 1e3).astype(np.float32)
    U = X.astype(np.float64) / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
    D = 0.5 * ((U[:, None, :] - U[None, :, :]) ** 2).sum(-1)
    want = np.sort(D, axis=1)[:, 4]
    got = OPTICS(min_samples=5, metric="cosine", algorithm="knn_graph").fit(X)
    np.testing.assert_allclose(got.core_distances_, want, rtol=rtol_for(np.float32))
