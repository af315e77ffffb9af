"""graph_mst (CPU kernel) against the references in reference_graph.py, on every host backend."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import kernels
from gpucluster.kernels.cpu import graph_mst as cpu_graph_mst

from .._helpers import assert_same_kind, rtol_for, to_numpy
from . import reference_graph as reference

METRICS = ["euclidean", "sqeuclidean", "cosine"]


@pytest.fixture(autouse=True)
def small_tiles(monkeypatch):
    """Tiles of three rows and two columns, and batches of one pair per thread, so
    that a few dozen points cross every tile and batch boundary of the join."""
    monkeypatch.setattr(cpu_graph_mst, "PAIR_TILE_ROWS", 3)
    monkeypatch.setattr(cpu_graph_mst, "PAIR_TILE_COLS", 2)
    monkeypatch.setattr(cpu_graph_mst, "PAIR_BATCH", 1)


@st.composite
def problems(draw):
    """Random points (some duplicated, maybe a zero row), core distances, and a graph:
    the k nearest neighbours, or random neighbours with -1 and self entries."""
    n = draw(st.integers(2, 40))
    d = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    X = rng.normal(size=(n, d))
    if draw(st.booleans()):
        X[rng.integers(n, size=3)] = X[0]
    if draw(st.booleans()):
        X[-1] = 0
    X = X.astype(dtype)
    core_k = draw(st.one_of(st.none(), st.integers(1, min(5, n - 1))))
    k = draw(st.integers(0, min(6, n - 1)))
    if draw(st.booleans()):
        D = reference.distances(X, "euclidean")
        np.fill_diagonal(D, np.inf)
        indices = np.argsort(D, axis=1, kind="stable")[:, :k]
    else:
        indices = rng.integers(-1, n, size=(n, k))
    alpha = draw(st.sampled_from([1.0, 0.6, 1.7]))
    return X, core_k, indices.astype(np.int64), alpha


def check_against_reference(X, core, indices, metric, alpha, edges, weights):
    """The reference's tree: same edges (Euclidean metrics), same weights.

    Both choose every edge by float64 keys from the coordinates, so the
    Euclidean trees are identical, ties included. The cosine reference
    divides by the product of norms where the kernel divides by the root of
    the product of squared norms: keys one ulp apart may swap tied edges, so
    cosine compares the weights and their total.
    """
    edges, weights = to_numpy(edges), to_numpy(weights)
    n = X.shape[0]
    context = f"metric={metric} dtype={X.dtype} n={n} k={indices.shape[1]} alpha={alpha}"
    assert edges.dtype == np.int64 and edges.shape == (n - 1, 2), context
    assert weights.dtype == np.float64 and weights.shape == (n - 1,), context
    assert np.all(edges[:, 0] < edges[:, 1]), context
    assert reference.connected_components(n, edges[:, 0], edges[:, 1]).max() == 0, context
    np.testing.assert_array_equal(np.lexsort((edges[:, 1], edges[:, 0], weights)), np.arange(n - 1))
    ref_edges, ref_weights = reference.graph_mst(X, core, indices, metric, alpha)
    rtol = rtol_for(np.float64)
    np.testing.assert_allclose(weights, ref_weights, rtol=rtol, atol=rtol, err_msg=context)
    if metric != "cosine":
        np.testing.assert_array_equal(edges, ref_edges, err_msg=context)
    return ref_edges, ref_weights


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=25, deadline=None)
@given(problem=problems())
def test_graph_mst_matches_reference(problem, metric):
    X, core_k, indices, alpha = problem
    core = None if core_k is None else reference.core_distances(X, core_k, metric)
    edges, weights = kernels.graph_mst(X, core, indices, metric=metric, alpha=alpha)
    check_against_reference(X, core, indices, metric, alpha, edges, weights)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_complete_graph_gives_the_exact_tree(metric, dtype):
    # With every other row as a neighbour there is nothing to join: the tree
    # is the exact minimum spanning tree of all pairs.
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(loc, 1.0, size=(25, 5)) for loc in (0.0, 4.0)]).astype(dtype)
    n = X.shape[0]
    core = reference.core_distances(X, 4, metric)
    indices = np.array([[j for j in range(n) if j != i] for i in range(n)], dtype=np.int64)
    edges, weights = kernels.graph_mst(X, core, indices, metric=metric)
    _, ref_weights = reference.mst(X, core, metric)
    rtol = rtol_for(np.float64)
    np.testing.assert_allclose(weights, ref_weights, rtol=rtol, atol=rtol)
    # Core distances repeat, so mutual reachability has tied weights and the
    # tree is not unique: the edges must span the points and carry their own
    # weights, which with the weights above makes them a minimum spanning tree.
    W = reference.mutual_reachability(X, core, metric)
    assert edges.shape == (n - 1, 2) and np.all(edges[:, 0] < edges[:, 1])
    assert reference.connected_components(n, edges[:, 0], edges[:, 1]).max() == 0
    np.testing.assert_allclose(weights, W[edges[:, 0], edges[:, 1]], rtol=rtol, atol=rtol)


@pytest.mark.parametrize("metric", METRICS)
def test_empty_graph_is_joined_into_the_exact_tree(metric):
    # No edges at all: every point is a component and the join alone must
    # build the exact tree (pairs of single points, bounds all tight).
    rng = np.random.default_rng(11)
    X = np.concatenate([rng.normal(loc, 0.5, size=(15, 3)) for loc in (0.0, 3.0, 6.0)])
    core = reference.core_distances(X, 3, metric)
    indices = np.full((X.shape[0], 2), -1, dtype=np.int64)
    edges, weights = kernels.graph_mst(X, core, indices, metric=metric, alpha=0.8)
    ref_edges, ref_weights = check_against_reference(X, core, indices, metric, 0.8, edges, weights)
    _, exact_weights = reference.mst(X, core, metric, 0.8)
    np.testing.assert_allclose(ref_weights.sum(), exact_weights.sum(), rtol=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_blobs_graph_joins_its_components(metric):
    # Four separated blobs and a 3-NN graph: the graph leaves the blobs apart
    # (several components each), and the join must pick the reference's pairs.
    rng = np.random.default_rng(2)
    centers = rng.normal(0.0, 8.0, size=(4, 6))
    X = np.concatenate([rng.normal(c, 1.0, size=(30, 6)) for c in centers])
    core = reference.core_distances(X, 5, metric)
    D = reference.distances(X, metric)
    np.fill_diagonal(D, np.inf)
    indices = np.argsort(D, axis=1, kind="stable")[:, :3]
    n_graph = reference.connected_components(
        X.shape[0], np.repeat(np.arange(X.shape[0]), 3), indices.ravel()).max() + 1
    assert n_graph >= 4
    edges, weights = kernels.graph_mst(X, core, indices, metric=metric)
    check_against_reference(X, core, indices, metric, 1.0, edges, weights)


def test_graph_mst_of_a_hand_computed_line():
    # Points 0, 1, 3, 7 (core distances 2, 1, 2, 4) and a graph with the edges
    # 0-1 and 2-3 only: the forest holds w(0,1)=2 and w(2,3)=4; the join takes
    # the cheapest pair across, w(1,2)=max(1,2,2)=2 (w(0,2)=3, w(1,3)=6, w(0,3)=7).
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    core = np.array([2.0, 1.0, 2.0, 4.0])
    indices = np.array([[1], [0], [3], [-1]])
    edges, weights = kernels.graph_mst(X, core, indices)
    np.testing.assert_array_equal(edges, [[0, 1], [1, 2], [2, 3]])
    np.testing.assert_array_equal(weights, [2.0, 2.0, 4.0])


def test_outputs_mirror_input(xp):
    rng = np.random.default_rng(0)
    X_np = rng.normal(size=(30, 4))
    indices_np = rng.integers(-1, 30, size=(30, 3))
    X, indices = xp.asarray(X_np), xp.asarray(indices_np)
    edges, weights = kernels.graph_mst(X, None, indices)
    assert_same_kind(edges, X)
    assert_same_kind(weights, X)
    ref_edges, ref_weights = reference.graph_mst(X_np, None, indices_np)
    np.testing.assert_array_equal(to_numpy(edges), ref_edges)
    np.testing.assert_allclose(to_numpy(weights), ref_weights, rtol=rtol_for(np.float64))


def test_single_point_and_two_points():
    edges, weights = kernels.graph_mst(np.zeros((1, 3)), None, np.zeros((1, 0), dtype=np.int64))
    assert edges.shape == (0, 2) and weights.shape == (0,)
    edges, weights = kernels.graph_mst(np.array([[0.0], [2.0]]), None, np.array([[-1], [-1]]))
    np.testing.assert_array_equal(edges, [[0, 1]])
    np.testing.assert_array_equal(weights, [2.0])


@pytest.mark.parametrize(
    "indices, error, match",
    [
        (np.zeros((5, 2), dtype=np.int64), ValueError, r"shape \(6, k\)"),
        (np.zeros(6, dtype=np.int64), ValueError, r"shape \(6, k\)"),
        (np.zeros((6, 2)), TypeError, "integer"),
        (np.full((6, 2), 6), ValueError, r"\[-1, 6\)"),
        (np.full((6, 2), -2), ValueError, r"\[-1, 6\)"),
    ],
)
def test_rejects_bad_graphs(indices, error, match):
    with pytest.raises(error, match=match):
        kernels.graph_mst(np.zeros((6, 2)), None, indices)


def test_rejects_bad_points_like_mst():
    indices = np.zeros((3, 1), dtype=np.int64)
    with pytest.raises(ValueError, match="metric"):
        kernels.graph_mst(np.zeros((3, 2)), None, indices, metric="manhattan")
    with pytest.raises(ValueError, match="alpha"):
        kernels.graph_mst(np.zeros((3, 2)), None, indices, alpha=0.0)
    with pytest.raises(ValueError, match="core_distances"):
        kernels.graph_mst(np.zeros((3, 2)), np.zeros(2), indices)
    with pytest.raises(ValueError, match="NaN"):
        kernels.graph_mst(np.full((3, 2), np.nan), None, indices)
