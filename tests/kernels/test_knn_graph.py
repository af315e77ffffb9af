"""knn_graph (exact and approximate) and knn_recall against tests/kernels/reference_neighbors.py."""

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs

from gpucluster import kernels
from gpucluster.kernels.cpu import knn_graph as cpu_graph

from .._helpers import assert_same_kind, to_numpy
from . import reference_neighbors as reference
from .test_knn import problems, small_tiles

METRICS = ["sqeuclidean", "euclidean", "cosine"]
# The declaring module (``kernels.knn_graph`` is the function).
knn_graph_module = importlib.import_module("gpucluster.kernels.knn_graph")


def embeddings(n, d, centers, seed=0, dtype=np.float32):
    """Unit-length clustered rows, like normalised image embeddings."""
    X, _ = make_blobs(n, d, centers=centers, random_state=seed)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(dtype)


def exact_recall(indices, X, k, metric):
    """Recall of a whole graph against the exact graph (itself checked against the reference)."""
    _, want = kernels.knn_graph(X, k, metric=metric, method="exact")
    got = np.asarray(indices)
    return np.mean([len(np.intersect1d(a, b)) for a, b in zip(got, want)]) / k


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=25, deadline=None)
@given(problem=problems(), data=st.data())
def test_exact_graph_matches_reference(problem, metric, data):
    X, _ = problem
    k = data.draw(st.integers(0, len(X) - 1))
    with small_tiles():
        distances, indices = kernels.knn_graph(X, k, metric=metric, method="exact")
    reference.assert_knn_matches(X, k, None, metric, True, distances, indices)


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
@settings(max_examples=25, deadline=None)
@given(problem=problems(integers=True), data=st.data())
def test_exact_graph_ties_go_to_lower_index(problem, metric, data):
    X, _ = problem
    k = data.draw(st.integers(0, len(X) - 1))
    distances, indices = kernels.knn_graph(X, k, metric=metric, method="exact")
    reference.assert_knn_matches(X, k, None, metric, True, distances, indices, exact=True)


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=20, deadline=None)
@given(problem=problems(), data=st.data())
def test_approximate_graph_probing_every_list_is_exact(problem, metric, data):
    """With every list probed, the IVF search compares every pair: the exact neighbours."""
    X, _ = problem
    k = data.draw(st.integers(0, len(X) - 1))
    n_lists = data.draw(st.integers(1, len(X)))
    distances, indices = kernels.knn_graph(X, k, metric=metric, method="approximate",
                                           n_lists=n_lists, n_probe=n_lists)
    reference.assert_knn_matches(X, k, None, metric, True, distances, indices)


@pytest.mark.parametrize("metric", METRICS)
def test_approximate_graph_with_few_probes_is_valid(metric):
    """One probe of many small lists: rows whose lists are too small get the exact search."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    distances, indices = kernels.knn_graph(X, 12, metric=metric, method="approximate",
                                           n_lists=60, n_probe=1)
    assert np.all(indices >= 0) and not np.any(indices == np.arange(200)[:, None])
    assert all(len(set(row)) == 12 for row in indices.tolist())
    assert np.all(np.diff(distances, axis=1) >= 0)
    D = reference.pairwise(X, X, metric)
    np.testing.assert_allclose(distances, np.take_along_axis(D, indices, axis=1),
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("metric", ["sqeuclidean", "cosine"])
def test_approximate_recall_on_clustered_embeddings(metric):
    X = embeddings(20_000, 256, centers=50)
    distances, indices = kernels.knn_graph(X, 15, metric=metric, method="approximate")
    assert distances.dtype == np.float32 and indices.dtype == np.int64
    recall = float(kernels.knn_recall(X, indices, metric=metric, n_queries=500))
    assert recall >= 0.95


def test_approximate_recall_on_overlapping_clusters():
    """Heavily overlapping clusters (neighbours cross list borders): the defaults still reach 0.95."""
    X, _ = make_blobs(6000, 64, centers=8, cluster_std=6.0, random_state=1)
    X = X.astype(np.float32)
    _, indices = kernels.knn_graph(X, 15, method="approximate")
    assert exact_recall(indices, X, 15, "sqeuclidean") >= 0.95


def test_approximate_is_deterministic_for_a_seed():
    X = embeddings(3000, 32, centers=10, seed=3)
    a = kernels.knn_graph(X, 10, method="approximate", n_lists=40, n_probe=2, random_state=7)
    b = kernels.knn_graph(X, 10, method="approximate", n_lists=40, n_probe=2, random_state=7)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    c = kernels.knn_graph(X, 10, method="approximate", n_lists=40, n_probe=2, random_state=8)
    assert not np.array_equal(a[1], c[1])


def test_auto_is_exact_below_the_threshold(monkeypatch):
    X = embeddings(400, 16, centers=5)
    exact = kernels.knn_graph(X, 8, method="exact")
    np.testing.assert_array_equal(kernels.knn_graph(X, 8)[1], exact[1])
    calls = []
    monkeypatch.setattr(knn_graph_module, "AUTO_EXACT_MAX_ROWS", 100)
    monkeypatch.setattr(cpu_graph, "approximate",
                        lambda *args: calls.append(args) or exact)
    kernels.knn_graph(X, 8)
    assert len(calls) == 1


def test_knn_recall_counts_shared_neighbours():
    X = np.array([[0.0], [1.0], [3.0], [7.0], [15.0]])
    _, exact = reference.knn(X, 2)
    assert float(kernels.knn_recall(X, exact, n_queries=5)) == 1.0
    wrong = exact.copy()
    wrong[:, 1] = [4, 4, 4, 0, 0]  # the second neighbour wrong in every row
    assert float(kernels.knn_recall(X, wrong, n_queries=5)) == pytest.approx(0.5)
    # A sample of 2 rows sees only those rows.
    recall = float(kernels.knn_recall(X, wrong, n_queries=2, random_state=0))
    assert recall == pytest.approx(0.5)
    assert float(kernels.knn_recall(X, np.zeros((5, 0), dtype=np.int64))) == 1.0


def test_outputs_follow_the_input(xp, dtype):
    Xn = embeddings(300, 8, centers=4, dtype=dtype)
    X = xp.asarray(Xn)
    for method in ("exact", "approximate"):
        distances, indices = kernels.knn_graph(X, 5, method=method, n_lists=10, n_probe=10)
        assert_same_kind(distances, X)
        assert_same_kind(indices, X)
        assert to_numpy(distances).dtype == dtype and to_numpy(indices).dtype == np.int64
        reference.assert_knn_matches(Xn, 5, None, "sqeuclidean", True, to_numpy(distances),
                                     to_numpy(indices))
        recall = kernels.knn_recall(X, indices, n_queries=50)
        assert_same_kind(recall, X)
        assert float(to_numpy(recall)) == 1.0


def test_empty_and_zero_k():
    X = np.zeros((0, 3), dtype=np.float32)
    d, i = kernels.knn_graph(X, 0)
    assert d.shape == (0, 0) and i.shape == (0, 0)
    Y = np.ones((4, 3))
    for method in ("exact", "approximate"):
        d, i = kernels.knn_graph(Y, 0, method=method)
        assert d.shape == (4, 0) and i.dtype == np.int64


@pytest.mark.parametrize("kwargs, error, match", [
    ({"k": 5}, ValueError, r"k must be in \[0, 4\]"),
    ({"k": -1}, ValueError, "k must be in"),
    ({"k": 2.0}, TypeError, "k must be an integer"),
    ({"k": 2, "metric": "manhattan"}, ValueError, "metric must be one of"),
    ({"k": 2, "method": "fast"}, ValueError, "method must be one of"),
    ({"k": 2, "n_lists": 0}, ValueError, "n_lists must be a positive integer"),
    ({"k": 2, "n_probe": 1.5}, ValueError, "n_probe must be a positive integer"),
    ({"k": 2, "random_state": "seed"}, TypeError, "random_state must be"),
])
def test_knn_graph_rejects_bad_arguments(kwargs, error, match):
    X = np.zeros((5, 2))
    with pytest.raises(error, match=match):
        kernels.knn_graph(X, **kwargs)


def test_knn_graph_rejects_bad_data():
    with pytest.raises(ValueError, match="X must be 2-D"):
        kernels.knn_graph(np.zeros(5), 1)
    with pytest.raises(TypeError, match="X must be float32 or float64"):
        kernels.knn_graph(np.zeros((5, 2), dtype=np.int64), 1)


def test_knn_recall_rejects_bad_arguments():
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"indices must have shape \(5, k\)"):
        kernels.knn_recall(X, np.zeros((4, 2), dtype=np.int64))
    with pytest.raises(TypeError, match="indices must be integers"):
        kernels.knn_recall(X, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="n_queries must be a positive integer"):
        kernels.knn_recall(X, np.zeros((5, 2), dtype=np.int64), n_queries=0)


def test_probes_for_recall_counts_covered_neighbours():
    order = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])  # each query's lists, nearest first
    lists = np.array([[0, 1], [1, 0]])  # lists of each query's exact neighbours: ranks 0, 1, 2, 3
    assert cpu_graph.probes_for_recall(lists, order, 0.25) == 1
    assert cpu_graph.probes_for_recall(lists, order, 0.5) == 2
    assert cpu_graph.probes_for_recall(lists, order, 0.75) == 3
    assert cpu_graph.probes_for_recall(lists, order, 1.0) == 4


def test_tuned_probes_follow_the_data():
    """Isotropic clusters spread every neighbourhood over many lists: few probes miss, the
    tuned count does not."""
    X, _ = make_blobs(8000, 64, centers=4, cluster_std=4.0, random_state=2)
    X = X.astype(np.float32)
    _, few = kernels.knn_graph(X, 15, method="approximate", n_probe=2)
    assert float(kernels.knn_recall(X, few, n_queries=400)) < 0.8
    _, tuned = kernels.knn_graph(X, 15, method="approximate")
    assert float(kernels.knn_recall(X, tuned, n_queries=400)) >= 0.95


def far_blobs(n=120, d=20, offset=1e4):
    """float32 blobs of spread 0.1 far from the origin, where the Gram tiles' rounding
    (about eps32 * |x|^2 = 1e1 at 1e4) exceeds every distance among the rows."""
    X, _ = make_blobs(n, d, centers=3, cluster_std=0.1, random_state=0)
    return (X + offset).astype(np.float32)


def assert_true_neighbours(X, k, metric, distances, indices):
    """Each row's found neighbours are its k nearest, measured in float64 from differences,
    within a tolerance of the rows' own spread (not of their distance to the origin)."""
    X64 = np.asarray(X, dtype=np.float64)
    D = ((X64[:, None, :] - X64[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(D, np.inf)
    want = np.sort(D, axis=1)[:, :k]
    got = np.take_along_axis(D, np.asarray(indices), axis=1)
    np.testing.assert_allclose(np.sort(got, axis=1), want, rtol=1e-3, atol=1e-4)
    # The distances themselves carry float32 rounding of the blobs' spread (|x - c|^2 ~ 1e2).
    found = np.asarray(distances, dtype=np.float64)
    np.testing.assert_allclose(found if metric == "sqeuclidean" else found ** 2, want,
                               rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("offset", [1e4, 1e6])
@pytest.mark.parametrize("method", ["exact", "approximate"])
@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
def test_rows_far_from_the_origin_get_their_true_neighbours(metric, method, offset):
    """float32 rows at 1e4 got neighbours at random (DBSCAN's knn_graph path then disagreed
    with scikit-learn on every label); the graph now searches rows moved near the origin."""
    X = far_blobs(offset=offset)
    kwargs = {"n_lists": 4, "n_probe": 4} if method == "approximate" else {}
    distances, indices = kernels.knn_graph(X, 6, metric=metric, method=method, **kwargs)
    assert_true_neighbours(X, 6, metric, distances, indices)
    assert float(kernels.knn_recall(X, indices, metric=metric, n_queries=50)) == 1.0


def test_rows_near_the_origin_are_searched_as_they_are():
    """Unit-length embeddings are not copied to be centred (no cost where nothing is lost)."""
    from gpucluster.kernels.metric import SQEUCLIDEAN
    from gpucluster.kernels.pairwise import near_origin

    X = embeddings(500, 16, centers=5)
    assert near_origin(np, X, None, SQEUCLIDEAN)[0] is X
    far = X + 100.0
    moved, queries = near_origin(np, far, far[:3], SQEUCLIDEAN)
    np.testing.assert_array_equal(queries, moved[:3])
    assert moved.dtype == np.float32 and np.abs(moved).max() < 3.0
