"""CPU knn and radius_neighbors through the KD-tree, against the GEMM tiles and the reference."""

from contextlib import contextmanager

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import kernels
from gpucluster.kernels.cpu import kdtree, knn_direct
from gpucluster.kernels.cpu import knn as cpu_knn
from gpucluster.kernels.cpu import radius as cpu_radius
from gpucluster.kernels.metric import COSINE, SQEUCLIDEAN

from . import reference_neighbors as reference
from .test_knn import problems

METRICS = ["sqeuclidean", "euclidean"]


@contextmanager
def search_path(path, leaf_size=2, buffer_per_query=1):
    """Force the KD-tree ("tree"), the direct search over all rows ("direct") or
    the GEMM tiles ("gemm"), for knn and radius_neighbors alike.

    Small leaves cross many nodes; query blocks of 3 rows with a radius
    buffer of ``buffer_per_query`` neighbours per row make some blocks
    overflow (all of them with 0) and search again; the direct radius search
    goes through X 4 rows at a time.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kdtree, "KDTREE_MAX_FEATURES", 0 if path == "gemm" else 64)
        mp.setattr(cpu_knn, "TREE_MAX_K_PER_ROOT_N", np.inf)
        mp.setattr(cpu_knn, "TREE_MIN_QUERIES", np.inf if path == "direct" else 0)
        mp.setattr(cpu_radius, "TREE_MIN_QUERIES", np.inf if path == "direct" else 0)
        mp.setattr(cpu_radius, "TREE_MAX_REACH", np.inf)
        mp.setattr(kdtree, "LEAF_SIZE", leaf_size)
        mp.setattr(kdtree, "QUERY_BLOCK", 3)
        mp.setattr(knn_direct, "QUERY_BLOCK", 3)
        mp.setattr(knn_direct, "CHUNK_ROWS", 4)
        mp.setattr(kdtree, "BUFFER_PER_QUERY", buffer_per_query)
        yield


def both_paths(call, leaf_size=2):
    with search_path("tree", leaf_size, buffer_per_query=leaf_size - 1):
        tree = call()
    with search_path("gemm"):
        gemm = call()
    return tree, gemm


def assert_direct_is_the_tree(tree, X, k, queries, metric, exclude_self):
    """knn's direct search gives the tree's neighbours and distances, to the last bit."""
    with search_path("direct"):
        direct = kernels.knn(X, k, queries=queries, metric=metric, exclude_self=exclude_self)
    np.testing.assert_array_equal(direct[1], tree[1])
    np.testing.assert_array_equal(direct[0], tree[0])


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=20, deadline=None)
@given(problem=problems(), exclude_self=st.booleans(), leaf_size=st.sampled_from([1, 2, 5]),
       data=st.data())
def test_tree_knn_matches_reference_and_gemm(problem, metric, exclude_self, leaf_size, data):
    X, queries = problem
    excluded = queries is None and exclude_self
    k = data.draw(st.integers(0, len(X) - 1 if excluded else len(X)))
    tree, gemm = both_paths(lambda: kernels.knn(X, k, queries=queries, metric=metric,
                                                exclude_self=exclude_self), leaf_size)
    for distances, indices in (tree, gemm):
        reference.assert_knn_matches(X, k, queries, metric, exclude_self, distances, indices)
    assert_direct_is_the_tree(tree, X, k, queries, metric, exclude_self)


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=20, deadline=None)
@given(problem=problems(integers=True), exclude_self=st.booleans(),
       leaf_size=st.sampled_from([1, 2, 5]), data=st.data())
def test_tree_knn_exact_ties_on_integers(problem, metric, exclude_self, leaf_size, data):
    # Small integers: exact distances and many ties, which must go to the lower index.
    X, queries = problem
    excluded = queries is None and exclude_self
    k = data.draw(st.integers(0, len(X) - 1 if excluded else len(X)))
    tree, gemm = both_paths(lambda: kernels.knn(X, k, queries=queries, metric=metric,
                                                exclude_self=exclude_self), leaf_size)
    for distances, indices in (tree, gemm):
        reference.assert_knn_matches(X, k, queries, metric, exclude_self, distances, indices,
                                     exact=True)
    np.testing.assert_array_equal(tree[1], gemm[1])
    assert_direct_is_the_tree(tree, X, k, queries, metric, exclude_self)


def assert_direct_radius_is_the_tree(tree, X, radius, queries, metric, include_self,
                                     buffer_per_query=1):
    """The direct radius search gives the tree's counts and lists exactly, counting alone too."""
    with search_path("direct", buffer_per_query=buffer_per_query):
        direct = kernels.radius_neighbors(X, radius, queries=queries, metric=metric,
                                          include_self=include_self)
        counts = kernels.radius_neighbors(X, radius, queries=queries, metric=metric,
                                          include_self=include_self, return_lists=False)
    for mine, theirs in zip(direct, tree):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(counts, tree[0])


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=20, deadline=None)
@given(problem=problems(), include_self=st.booleans(), leaf_size=st.sampled_from([1, 2, 5]),
       radius=st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0]),
       buffer_per_query=st.sampled_from([0, 1, 32]))
def test_tree_radius_matches_reference_and_gemm(problem, metric, include_self, leaf_size,
                                                radius, buffer_per_query):
    X, queries = problem
    tree, gemm = both_paths(lambda: kernels.radius_neighbors(
        X, radius, queries=queries, metric=metric, include_self=include_self), leaf_size)
    for result in (tree, gemm):
        reference.assert_radius_matches(X, radius, queries, metric, include_self, result)
    with search_path("tree", leaf_size):
        counts = kernels.radius_neighbors(X, radius, queries=queries, metric=metric,
                                          include_self=include_self, return_lists=False)
    np.testing.assert_array_equal(counts, tree[0])
    assert_direct_radius_is_the_tree(tree, X, radius, queries, metric, include_self,
                                     buffer_per_query)


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=20, deadline=None)
@given(problem=problems(integers=True), include_self=st.booleans(),
       leaf_size=st.sampled_from([1, 2, 5]), radius=st.sampled_from([0.0, 1.0, 2.0, 2.5, 9.0]))
def test_tree_radius_exact_on_integers(problem, metric, include_self, leaf_size, radius):
    X, queries = problem
    tree, gemm = both_paths(lambda: kernels.radius_neighbors(
        X, radius, queries=queries, metric=metric, include_self=include_self), leaf_size)
    for result in (tree, gemm):
        reference.assert_radius_matches(X, radius, queries, metric, include_self, result,
                                        exact=True)
    assert_direct_radius_is_the_tree(tree, X, radius, queries, metric, include_self)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tree_on_blobs_with_duplicates_and_zero_rows(dtype):
    # Clustered data, many exact duplicates and all-zero rows, default leaves.
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=5, size=(4, 3))
    X = (centers[rng.integers(4, size=300)] + rng.normal(size=(300, 3))).astype(dtype)
    X[rng.integers(300, size=40)] = X[:40]
    X[-10:] = 0
    queries = np.concatenate([X[:20], rng.normal(scale=5, size=(20, 3)).astype(dtype)])
    with search_path("tree", kdtree.LEAF_SIZE, kdtree.BUFFER_PER_QUERY):
        for q in (None, queries):
            distances, indices = kernels.knn(X, 12, queries=q, metric="euclidean")
            reference.assert_knn_matches(X, 12, q, "euclidean", True, distances, indices)
            assert_direct_is_the_tree((distances, indices), X, 12, q, "euclidean", True)
            result = kernels.radius_neighbors(X, 1.5, queries=q, include_self=False)
            reference.assert_radius_matches(X, 1.5, q, "euclidean", False, result)
            assert_direct_radius_is_the_tree(result, X, 1.5, q, "euclidean", False,
                                             kdtree.BUFFER_PER_QUERY)


def test_dispatch_follows_features_and_metric():
    X = np.zeros((3, 16))
    assert kdtree.usable(X, False)
    assert not kdtree.usable(X, True)
    assert not kdtree.usable(np.zeros((3, 17)), False)
    assert not kdtree.usable(np.zeros((3, 0)), False)


@pytest.mark.parametrize(
    "n, m, d, k, metric, path",
    [
        (5000, 1000, 16, 1500, SQEUCLIDEAN, "direct"),  # estimate_bandwidth, quantile=0.3
        (2000, 2000, 8, 600, SQEUCLIDEAN, "direct"),  # k / sqrt(n) = 13: tree 2.3-4.2 x slower
        (5000, 5000, 16, 150, SQEUCLIDEAN, "tree"),  # k / sqrt(n) = 2.1
        (5000, 5000, 16, 5, SQEUCLIDEAN, "tree"),  # HDBSCAN's core distances
        (500, 500, 16, 16, SQEUCLIDEAN, "tree"),  # a dask chunk pair of the neighbour graph
        (100_000, 100_000, 5, 49, SQEUCLIDEAN, "tree"),
        (100_000, 10, 8, 15, SQEUCLIDEAN, "direct"),  # few queries: the build would dominate
        (60, 60, 16, 16, SQEUCLIDEAN, "direct"),
        (5000, 1000, 17, 1500, SQEUCLIDEAN, "gemm"),
        (5000, 1000, 16, 1500, COSINE, "gemm"),
    ],
)
def test_search_path_follows_the_measured_rule(n, m, d, k, metric, path):
    assert cpu_knn.search_path(np.empty((n, d), dtype=np.float32), m, k, metric) == path


def test_knn_takes_the_path_the_rule_names(monkeypatch):
    taken = []
    for module, name in ((kdtree, "tree"), (knn_direct, "direct")):
        search = module.knn
        monkeypatch.setattr(module, "knn", lambda *args, search=search, name=name: (
            taken.append(name), search(*args))[1])
    X = np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)
    kernels.knn(X, 5)
    kernels.knn(X, 120)  # above 4 sqrt(400) = 80
    kernels.knn(X, 5, queries=X[:10])
    assert taken == ["tree", "direct", "direct"]


def no_reach():
    raise AssertionError("the tree's reach is estimated only where the tree is in play")


@pytest.mark.parametrize(
    "n, m, d, metric, reach, path",
    [
        (50_000, 50_000, 2, SQEUCLIDEAN, 0.003, "tree"),  # blobs, 50 neighbours a row
        (200_000, 4_000, 16, SQEUCLIDEAN, 0.10, "tree"),  # blobs, a DBSCAN block of queries
        (10_000, 10_000, 16, SQEUCLIDEAN, 0.98, "direct"),  # uniform rows, 50 neighbours
        (2_000, 2_000, 5, SQEUCLIDEAN, 0.49, "direct"),  # blobs, 500 neighbours
        (200_000, 400, 5, SQEUCLIDEAN, None, "direct"),  # few queries: the build would dominate
        (20_000, 512, 5, SQEUCLIDEAN, 0.01, "tree"),
        (5_000, 5_000, 17, SQEUCLIDEAN, None, "gemm"),
        (5_000, 5_000, 16, COSINE, None, "gemm"),
    ],
)
def test_radius_search_path_follows_the_measured_rule(n, m, d, metric, reach, path):
    tree_reach = no_reach if reach is None else lambda: reach
    X = np.empty((n, d), dtype=np.float32)
    assert cpu_radius.search_path(X, m, metric, tree_reach) == path


def test_radius_reach_bounds_the_neighbours():
    # A search measures at least its neighbours; the sample covers every query here.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    tree = kdtree.search_tree(X)
    for queries in (None, rng.normal(size=(200, 3))):
        for radius in (0.0, 0.3, 1.0):
            counts = kernels.radius_neighbors(X, radius, queries=queries, return_lists=False)
            assert counts.mean() / 500 <= kdtree.radius_reach(tree, queries, radius**2) <= 1
        assert kdtree.radius_reach(tree, queries, np.inf) == 1


def test_radius_reach_tells_spread_rows_from_clustered_ones():
    # About 5 neighbours a row each: the tree prunes the blobs, not the uniform rows.
    rng = np.random.default_rng(0)
    uniform = rng.uniform(size=(5000, 16))
    centres = rng.uniform(-10, 10, size=(10, 2))
    blobs = centres[rng.integers(10, size=5000)] + rng.normal(size=(5000, 2))
    assert kdtree.radius_reach(kdtree.search_tree(uniform), None, 0.85**2) > 0.5
    assert kdtree.radius_reach(kdtree.search_tree(blobs), None, 0.1**2) < 0.02


def test_radius_neighbors_takes_the_path_the_rule_names(monkeypatch):
    taken = []
    for module, name in ((kdtree, "tree"), (knn_direct, "direct")):
        search = module.radius_neighbors
        monkeypatch.setattr(module, "radius_neighbors", lambda *args, search=search, name=name,
                            **kwargs: (taken.append(name), search(*args, **kwargs))[1])
    rng = np.random.default_rng(0)
    clustered = rng.normal(size=(2000, 2)).astype(np.float32)
    spread = rng.uniform(size=(2000, 16)).astype(np.float32)
    kernels.radius_neighbors(clustered, 0.05)
    kernels.radius_neighbors(spread, 0.9)
    kernels.radius_neighbors(clustered, 0.05, queries=clustered[:10])
    assert taken == ["tree", "direct", "direct"]


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one Numba thread only")
def test_small_trees_are_built_on_one_thread(monkeypatch):
    threads = []
    build = kdtree._build_tree

    def spy(*args):
        threads.append(numba.get_num_threads())
        return build(*args)

    monkeypatch.setattr(kdtree, "_build_tree", spy)
    monkeypatch.setattr(kdtree, "SERIAL_BUILD_ROWS", 300)
    monkeypatch.setattr(cpu_radius, "TREE_MIN_QUERIES", 0)
    X = np.random.default_rng(0).normal(size=(301, 3))
    for rows in (300, 301):
        kernels.radius_neighbors(X[:rows], 0.5)
    assert threads == [1, numba.get_num_threads()]
