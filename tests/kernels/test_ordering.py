"""The ordering kernels: OPTICS core distances and order, NN-chain, dendrogram bookkeeping."""

import numpy as np
import pytest
from scipy.cluster.hierarchy import linkage as scipy_linkage

from gpucluster import kernels

from .._helpers import assert_same_kind, to_numpy

# scikit-learn's OPTICS docstring example, worked by hand in tests/cluster/test_optics.py.
HAND_X = np.array([[1, 2], [2, 5], [3, 6], [8, 7], [8, 8], [7, 3]], dtype=np.float64)
HAND_CORE = np.sqrt([10, 2, 2, 1, 1, 17])


def _hand_core(X, max_eps=np.inf):
    _, indices = kernels.knn(X, 1, metric="sqeuclidean")
    return kernels.optics_core_distances(X, indices, max_eps, metric="euclidean")


def test_optics_hand_computed(xp):
    X = xp.asarray(HAND_X)
    core = _hand_core(X)
    ordering, reach, pred = kernels.optics_ordering(X, core, np.inf, metric="euclidean")
    for out in (core, ordering, reach, pred):
        assert_same_kind(out, X)
    np.testing.assert_allclose(to_numpy(core), HAND_CORE, rtol=1e-14)
    np.testing.assert_array_equal(to_numpy(ordering), [0, 1, 2, 5, 3, 4])
    np.testing.assert_allclose(
        to_numpy(reach), [np.inf, np.sqrt(10), np.sqrt(2), np.sqrt(17), 1.0, 5.0], rtol=1e-14)
    np.testing.assert_array_equal(to_numpy(pred), [-1, 0, 1, 5, 3, 2])


def test_optics_max_eps_caps_core_and_reach(xp):
    X = xp.asarray(HAND_X)
    core = _hand_core(X, max_eps=1.5)
    expected = np.where(HAND_CORE > 1.5, np.inf, HAND_CORE)
    np.testing.assert_allclose(to_numpy(core), expected, rtol=1e-14)
    ordering, reach, pred = kernels.optics_ordering(X, core, 1.5, metric="euclidean")
    # Only 1 <-> 2 (sqrt 2) and 3 <-> 4 (1) are within 1.5, and 0 and 5 are
    # not core: after 0 and 1 (both unreached) 2 is reached from 1, then 3
    # starts anew and reaches 4, and 5 comes last, unreached.
    np.testing.assert_array_equal(to_numpy(ordering), [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(to_numpy(pred), [-1, -1, 1, -1, 3, -1])
    np.testing.assert_allclose(to_numpy(reach), [np.inf, np.inf, np.sqrt(2), np.inf, 1.0, np.inf])


def test_optics_float32_and_float64_agree():
    X32 = HAND_X.astype(np.float32)
    a = kernels.optics_ordering(HAND_X, _hand_core(HAND_X), metric="sqeuclidean")
    b = kernels.optics_ordering(X32, _hand_core(HAND_X), metric="sqeuclidean")
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda X, i, c: kernels.optics_ordering(X, c, metric="manhattan"), "metric must be"),
        (lambda X, i, c: kernels.optics_ordering(X, c[:3]), "core_distances must have shape"),
        (lambda X, i, c: kernels.optics_ordering(X, c, -1.0), "max_eps"),
        (lambda X, i, c: kernels.optics_ordering(X[0], c), "2-D"),
        (lambda X, i, c: kernels.optics_core_distances(X, i[:2]), "indices must have shape"),
        (lambda X, i, c: kernels.optics_core_distances(X, i, float("nan")), "max_eps"),
    ],
)
def test_optics_rejects_bad_arguments(call, match):
    _, indices = kernels.knn(HAND_X, 1)
    with pytest.raises(ValueError, match=match):
        call(HAND_X, indices, HAND_CORE)


SCIPY_METRIC = {"euclidean": "euclidean", "sqeuclidean": "sqeuclidean",
                "manhattan": "cityblock", "cosine": "cosine"}
CASES = [("ward", "euclidean"), ("complete", "euclidean"), ("complete", "manhattan"),
         ("average", "cosine"), ("average", "euclidean"), ("single", "manhattan"),
         ("average", "sqeuclidean")]


@pytest.mark.parametrize("linkage,metric", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_nn_chain_matches_scipy(xp, linkage, metric):
    """Sorted and numbered, the chain's merges are SciPy's linkage matrix (distinct distances)."""
    X_np = np.random.default_rng(3).normal(size=(60, 5))
    X = xp.asarray(X_np)
    merges, distances = kernels.nn_chain(X, linkage, metric)
    assert_same_kind(merges, X)
    assert_same_kind(distances, X)
    merges, distances = to_numpy(merges), to_numpy(distances)
    assert merges.shape == (59, 2) and merges.dtype == np.int64
    assert np.all(merges[:, 0] < merges[:, 1])
    order = np.argsort(distances, kind="stable")
    children = to_numpy(kernels.label_merges(merges[order], 60))
    Z = scipy_linkage(X_np, method=linkage, metric=SCIPY_METRIC[metric])
    np.testing.assert_array_equal(children, Z[:, :2].astype(np.int64))
    np.testing.assert_allclose(distances[order], Z[:, 2], rtol=1e-10)


def test_nn_chain_two_points_and_bad_arguments():
    merges, distances = kernels.nn_chain(np.array([[0.0, 0.0], [3.0, 4.0]]), "ward")
    np.testing.assert_array_equal(merges, [[0, 1]])
    np.testing.assert_allclose(distances, [5.0])
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="takes only metric='euclidean'"):
        kernels.nn_chain(X, "ward", "manhattan")
    with pytest.raises(ValueError, match="linkage must be one of"):
        kernels.nn_chain(X, "centroid")
    with pytest.raises(ValueError, match="metric must be one of"):
        kernels.nn_chain(X, "average", "chebyshev")


def test_dendrogram_bookkeeping_by_hand():
    # Leaves 0..3; merges (0, 1) -> 4, (2, 3) -> 5, then 1 with 3 -> 6.
    children = kernels.label_merges(np.array([[0, 1], [2, 3], [1, 3]]), 4)
    np.testing.assert_array_equal(children, [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(kernels.leaf_labels(children, 4, np.array([4, 5])), [0, 0, 1, 1])
    np.testing.assert_array_equal(kernels.leaf_labels(children, 4, np.array([5, 0, 1])),
                                  [1, 2, 0, 0])
    np.testing.assert_array_equal(kernels.forest_roots(np.array([4, 4, 5, 5, 4, 5]), 4),
                                  [4, 4, 5, 5])
    keep = kernels.spanning_forest(np.array([[0, 1], [1, 2], [0, 2], [3, 4], [2, 3]]), 5)
    np.testing.assert_array_equal(keep, [True, True, False, True, True])


def test_bookkeeping_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"merges must have shape \(m, 2\)"):
        kernels.label_merges(np.array([0, 1]), 2)
    with pytest.raises(TypeError, match="integer"):
        kernels.label_merges(np.array([[0.0, 1.0]]), 2)
    with pytest.raises(ValueError, match=r"edges must lie in \[0, 3\)"):
        kernels.spanning_forest(np.array([[0, 3]]), 3)


# --------------------------------------------------------------------------
# OPTICS on a neighbour graph


def _complete_graph(n):
    """Every other row of each row: (n, n - 1) int64."""
    full = np.tile(np.arange(n), (n, 1))
    return full[~np.eye(n, dtype=bool)].reshape(n, n - 1)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
@pytest.mark.parametrize("max_eps", [np.inf, 1.2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optics_graph_ordering_on_the_complete_graph_is_the_full_loop(metric, max_eps, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 3))
    X[:20] += 4.0
    _, indices = kernels.knn(X, 4, metric="cosine" if metric == "cosine" else "sqeuclidean")
    core = kernels.optics_core_distances(X, indices, max_eps, metric=metric)
    full = kernels.optics_ordering(X, core, max_eps, metric=metric)
    graph = kernels.optics_graph_ordering(X, core, _complete_graph(60), max_eps, metric=metric)
    for a, b in zip(graph, full):
        np.testing.assert_array_equal(a, b)


def test_optics_graph_ordering_reaches_only_graph_neighbours(xp):
    # A path graph 0 - 1 - 2 and a lone point 3: the order follows the edges,
    # point 3 is never reached (inf, no predecessor) although it is close.
    X = np.array([[0.0], [1.0], [3.0], [0.5]])
    indices = np.array([[1], [2], [1], [-1]])
    core = np.zeros(4)
    ordering, reach, pred = kernels.optics_graph_ordering(
        xp.asarray(X), xp.asarray(core), xp.asarray(indices), metric="euclidean")
    assert_same_kind(ordering, xp.asarray(X))
    np.testing.assert_array_equal(to_numpy(ordering), [0, 1, 2, 3])
    np.testing.assert_allclose(to_numpy(reach), [np.inf, 1.0, 2.0, np.inf])
    np.testing.assert_array_equal(to_numpy(pred), [-1, 0, 1, -1])


@pytest.mark.parametrize(
    "indices, core, error, match",
    [
        (np.zeros((4, 2), dtype=np.int64), np.zeros(3), ValueError, "core_distances"),
        (np.zeros((4, 2)), np.zeros(4), TypeError, "integer"),
        (np.full((4, 2), 4), np.zeros(4), ValueError, "lie in"),
        (np.zeros(4, dtype=np.int64), np.zeros(4), ValueError, "shape"),
    ],
)
def test_optics_graph_ordering_rejects_bad_graphs(indices, core, error, match):
    X = np.zeros((4, 2))
    with pytest.raises(error, match=match):
        kernels.optics_graph_ordering(X, core, indices)
