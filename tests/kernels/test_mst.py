"""mst (CPU kernel) against the SciPy reference in reference_graph.py, on every host backend."""

from contextlib import contextmanager

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import kernels
from gpucluster.kernels.cpu import kdtree as cpu_kdtree
from gpucluster.kernels.cpu import mst as cpu_mst

from .._helpers import assert_same_kind, rtol_for, to_numpy
from . import reference_graph as reference

METRICS = ["euclidean", "sqeuclidean", "cosine"]
PATHS = ["tree", "gemm"]


@contextmanager
def search_path(path, cache_size=None):
    """Force the KD-tree ("tree", Euclidean metrics only) or the GEMM scan ("gemm").

    Leaves of two points and Gram tiles of a few columns make small inputs
    cross many nodes and tiles.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cpu_mst, "KDTREE_MAX_FEATURES", 64 if path == "tree" else 0)
        mp.setattr(cpu_mst, "LEAF_SIZE", 2)
        mp.setattr(cpu_mst, "GRAM_TILE_BYTES", 8 * 8 * 8)
        mp.setattr(cpu_mst, "MIN_TILE_COLS", 1)
        if cache_size is not None:
            mp.setattr(cpu_mst, "CACHE_SIZE", cache_size)
        yield


@st.composite
def problems(draw):
    """Random points, some duplicated, with or without reference core distances."""
    n = draw(st.integers(2, 40))
    d = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    X = rng.normal(size=(n, d))
    if draw(st.booleans()):  # duplicate points: zero distances
        X[rng.integers(n, size=3)] = X[0]
    if draw(st.booleans()):  # a zero row (cosine distance 1 to everything)
        X[-1] = 0
    X = X.astype(dtype)
    k = draw(st.one_of(st.none(), st.integers(1, min(5, n - 1))))
    alpha = draw(st.sampled_from([1.0, 0.6, 1.7]))
    return X, k, alpha


def tolerances(X):
    """rtol and atol for a total or a single weight.

    Float64 gets ``rtol_for``. Float32 inputs are compared with a reference
    computed in float64 from the same float32 values: the returned weights
    are themselves recomputed in float64, but the edges are chosen with
    float32 GEMM distances :math:`|x|^2 + |y|^2 - 2x \\cdot y`, whose error
    is about eps * |x|^2, so two edges closer than that may be swapped; the
    atol is that error per edge (its square root near zero distance), summed
    over the n - 1 edges.
    """
    rtol = rtol_for(X.dtype)
    scale = 1.0 + float(np.max(np.sum(X.astype(np.float64) ** 2, axis=1)))
    return rtol, rtol * scale * X.shape[0]


def check_tree(X, core, metric, alpha, edges, weights):
    edges, weights = to_numpy(edges), to_numpy(weights)
    n = X.shape[0]
    context = f"metric={metric} dtype={X.dtype} n={n} alpha={alpha} core={core is not None}"
    assert edges.dtype == np.int64 and edges.shape == (n - 1, 2), context
    assert weights.dtype == np.float64 and weights.shape == (n - 1,), context
    assert np.all(edges[:, 0] < edges[:, 1]), context
    labels = reference.connected_components(n, edges[:, 0], edges[:, 1])
    assert labels.max() == 0, f"not spanning: {context}"
    # Ascending by weight, ties by (i, j).
    np.testing.assert_array_equal(np.lexsort((edges[:, 1], edges[:, 0], weights)), np.arange(n - 1))
    W = reference.mutual_reachability(X, core, metric, alpha)
    rtol, atol = tolerances(X)
    np.testing.assert_allclose(weights, W[edges[:, 0], edges[:, 1]], rtol=rtol, atol=rtol,
                               err_msg=context)
    ref_edges, ref_weights = reference.mst(X, core, metric, alpha)
    np.testing.assert_allclose(weights.sum(), ref_weights.sum(), rtol=rtol, atol=atol,
                               err_msg=context)
    return W, ref_edges


def distinct_weights(W, gap):
    values = np.sort(W[np.triu_indices(W.shape[0], 1)])
    return values.size < 2 or np.min(np.diff(values)) > gap


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=15, deadline=None)
@given(problem=problems())
def test_mst_matches_reference(problem, metric, path):
    X, k, alpha = problem
    core = None if k is None else reference.core_distances(X, k, metric)
    with search_path(path):
        edges, weights = kernels.mst(X, core, metric=metric, alpha=alpha)
    W, ref_edges = check_tree(X, core, metric, alpha, edges, weights)
    if X.dtype == np.float64 and distinct_weights(W, 1e-9 * (1 + W.max())):
        assert set(map(tuple, to_numpy(edges))) == set(map(tuple, ref_edges))


@pytest.mark.parametrize("cache_size", [1, 2, 16])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("metric", METRICS)
def test_mst_with_rescans_matches_reference(metric, path, cache_size):
    # A tiny cache runs out at once, so most points are rescanned, several
    # times; blobs with core distances put many edges of one weight into play.
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(loc, 1.0, size=(60, 8)) for loc in (0.0, 5.0, 9.0)])
    for core in (None, reference.core_distances(X, 4, metric)):
        with search_path(path, cache_size):
            edges, weights = kernels.mst(X, core, metric=metric, alpha=1.0)
        W, ref_edges = check_tree(X, core, metric, 1.0, edges, weights)
        if core is None:
            assert set(map(tuple, to_numpy(edges))) == set(map(tuple, ref_edges))


def test_mst_of_a_hand_computed_line():
    # Points 0, 1, 3, 7 with core distances 2, 1, 2, 4: the mutual
    # reachability weights along the line are max(2,1,1)=2, max(1,2,2)=2 and
    # max(2,4,4)=4; every other pair is heavier (w(0,2)=3, w(1,3)=6, w(0,3)=7).
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    core = np.array([2.0, 1.0, 2.0, 4.0])
    edges, weights = kernels.mst(X, core)
    np.testing.assert_array_equal(edges, [[0, 1], [1, 2], [2, 3]])
    np.testing.assert_array_equal(weights, [2.0, 2.0, 4.0])
    edges, weights = kernels.mst(X, alpha=2.0, metric="sqeuclidean")
    np.testing.assert_array_equal(edges, [[0, 1], [1, 2], [2, 3]])
    np.testing.assert_array_equal(weights, [0.5, 2.0, 8.0])


def test_mst_among_equal_weights_joins_the_nearer_pairs():
    # Core distances of 10 make every weight 10; the distances 1 and 2 then
    # pick (0, 1) and (1, 2) over (0, 2), at distance 3.
    X = np.array([[0.0], [1.0], [3.0]])
    for path in PATHS:
        with search_path(path):
            edges, weights = kernels.mst(X, np.full(3, 10.0))
        np.testing.assert_array_equal(edges, [[0, 1], [1, 2]])
        np.testing.assert_array_equal(weights, [10.0, 10.0])


def test_mst_ties_go_to_the_smallest_pairs():
    # Five copies of one point: every weight is 0, and the tree is the star
    # of the smallest pairs (0, j).
    X = np.ones((5, 3), dtype=np.float32)
    edges, weights = kernels.mst(X)
    np.testing.assert_array_equal(edges, [[0, 1], [0, 2], [0, 3], [0, 4]])
    np.testing.assert_array_equal(weights, np.zeros(4))


@pytest.mark.parametrize("n", [0, 1])
def test_mst_of_fewer_than_two_points_is_empty(n):
    edges, weights = kernels.mst(np.zeros((n, 3)))
    assert edges.shape == (0, 2) and edges.dtype == np.int64
    assert weights.shape == (0,) and weights.dtype == np.float64


@pytest.mark.parametrize("d", [4, 40], ids=["few-features", "many-features"])
def test_mst_cosine_of_tiny_rows_equals_the_unscaled_tree(d):
    # Squared norms near 2**-800 multiply to 0 in float64: the edge weights
    # divided by that product (ZeroDivisionError). The cosine distance does not
    # see a power-of-two scale, and every product here stays a normal float,
    # so the tree and its weights must be the unscaled ones bit for bit.
    rng = np.random.default_rng(0)
    X = rng.random((50, d))
    core = reference.core_distances(X, 3, "cosine")
    for core_distances in (None, core):
        expected = kernels.mst(X, core_distances, metric="cosine")
        got = kernels.mst(X * 2.0**-400, core_distances, metric="cosine")
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_mst_cosine_of_subnormal_products_is_a_tree():
    # Rows of 1e-160: squared norms are subnormal and their products 0. The
    # weights are the rows' cosine distances to the precision of subnormal
    # products (about 5e-324 against squares near 1e-320: 1e-3 here).
    X = np.random.default_rng(0).random((50, 4))
    edges, weights = kernels.mst(X * 1e-160, None, metric="cosine")
    assert reference.connected_components(50, edges[:, 0], edges[:, 1]).max() == 0
    W = reference.mutual_reachability(X, None, "cosine", 1.0)
    np.testing.assert_allclose(weights, W[edges[:, 0], edges[:, 1]], rtol=0, atol=1e-2)


@pytest.mark.parametrize("metric", METRICS)
def test_mst_on_every_backend(xp, dtype, metric):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)).astype(dtype)
    core = reference.core_distances(X, 3, metric).astype(dtype)
    Xx = xp.asarray(X)
    edges, weights = kernels.mst(Xx, xp.asarray(core), metric=metric)
    assert_same_kind(edges, Xx)
    assert_same_kind(weights, Xx)
    check_tree(X, core, metric, 1.0, edges, weights)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"metric": "manhattan"}, ValueError, "metric must be one of"),
        ({"alpha": 0.0}, ValueError, "alpha must be a finite number > 0, got 0.0"),
        ({"alpha": float("nan")}, ValueError, "alpha must be"),
        ({"alpha": "one"}, TypeError, "alpha must be a real number"),
        ({"core_distances": np.ones(3)}, ValueError, r"core_distances must have shape \(4,\)"),
        ({"core_distances": np.array([1.0, np.nan, 1.0, 1.0])}, ValueError, "NaN"),
        ({"core_distances": np.ones(4, dtype=np.int64)}, TypeError, "floating"),
    ],
    ids=["metric", "alpha-zero", "alpha-nan", "alpha-str", "core-shape", "core-nan", "core-int"],
)
def test_mst_rejects_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        kernels.mst(np.zeros((4, 2)), **kwargs)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros(4), ValueError, "X must be 2-D"),
        (np.array([[0.0, 1.0], [np.inf, 0.0]]), ValueError, "NaN or infinity"),
        (np.array([[0.0, 1.0], [np.nan, 0.0]]), ValueError, "NaN or infinity"),
        (np.zeros((3, 2), dtype=np.int32), TypeError, "float32 or float64"),
        (np.zeros((3, 2), dtype=np.float16), TypeError, "float32 or float64, got float16"),
    ],
    ids=["1-d", "inf", "nan", "int", "float16"],
)
def test_mst_rejects_bad_points(X, error, match):
    with pytest.raises(error, match=match):
        kernels.mst(X)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one Numba thread only")
def test_small_trees_are_built_on_one_thread(monkeypatch):
    # kdtree.SERIAL_BUILD_ROWS, as for knn: on busy cores a 2,000-row parallel build took
    # 92 ms against 0.7 ms on one thread (load 3).
    threads = []
    build = cpu_kdtree._build_tree

    def spy(*args):
        threads.append(numba.get_num_threads())
        return build(*args)

    monkeypatch.setattr(cpu_kdtree, "_build_tree", spy)
    X = np.random.default_rng(0).normal(size=(60, 3))
    core = np.sort(np.random.default_rng(1).random(60))
    results = []
    for limit in (60, 59):
        monkeypatch.setattr(cpu_kdtree, "SERIAL_BUILD_ROWS", limit)
        results.append(kernels.mst(X, core))
    assert threads == [1, numba.get_num_threads()]
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
