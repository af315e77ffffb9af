"""knn (CPU kernel and dispatcher) against tests/kernels/reference_neighbors.py."""

from contextlib import contextmanager

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import kernels
from gpucluster.kernels.cpu import kdtree as cpu_kdtree
from gpucluster.kernels.cpu import knn as cpu_knn
from gpucluster.kernels.cpu import radius as cpu_radius

from .._helpers import assert_same_kind, to_numpy
from . import reference_neighbors as reference

METRICS = ["sqeuclidean", "euclidean", "cosine"]


@contextmanager
def small_tiles():
    """Tiles of 3 query rows and 4 data rows, so tiny inputs cross tile boundaries."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cpu_knn, "QUERY_TILE_ROWS", 3)
        mp.setattr(cpu_knn, "MIN_TILE_ROWS", 1)
        mp.setattr(cpu_knn, "DATA_TILE_ROWS", 4)
        mp.setattr(cpu_radius, "DATA_TILE_ROWS", 4)
        yield


@st.composite
def problems(draw, integers=False):
    """(X, queries or None, dtype): 1-30 rows, 1-8 features, duplicate and all-zero rows.

    ``integers`` draws small integers, for which the expanded Euclidean
    distances are exact, so exact ties must go to the lower index.
    """
    n = draw(st.integers(1, 30))
    d = draw(st.integers(1, 8))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    X = rng.integers(-3, 4, size=(n, d)) if integers else rng.normal(size=(n, d))
    X = X.astype(dtype)
    if n > 2 and draw(st.booleans()):
        X[rng.integers(n)] = X[rng.integers(n)]
    if draw(st.booleans()):
        X[rng.integers(n)] = 0
    queries = None
    if draw(st.booleans()):
        m = draw(st.integers(1, 12))
        queries = (rng.integers(-3, 4, size=(m, d)) if integers else rng.normal(size=(m, d)))
        queries = queries.astype(dtype)
        queries[0] = X[-1]
    return X, queries


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=25, deadline=None)
@given(problem=problems(), exclude_self=st.booleans(), data=st.data())
def test_knn_matches_reference(problem, metric, exclude_self, data):
    X, queries = problem
    excluded = queries is None and exclude_self
    k = data.draw(st.integers(0, len(X) - 1 if excluded else len(X)))
    with small_tiles():
        distances, indices = kernels.knn(X, k, queries=queries, metric=metric,
                                         exclude_self=exclude_self)
    reference.assert_knn_matches(X, k, queries, metric, exclude_self, distances, indices)


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
@settings(max_examples=25, deadline=None)
@given(problem=problems(integers=True), exclude_self=st.booleans(), data=st.data())
def test_knn_ties_go_to_lower_index(problem, metric, exclude_self, data):
    X, queries = problem
    excluded = queries is None and exclude_self
    k = data.draw(st.integers(0, len(X) - 1 if excluded else len(X)))
    with small_tiles():
        distances, indices = kernels.knn(X, k, queries=queries, metric=metric,
                                         exclude_self=exclude_self)
    reference.assert_knn_matches(X, k, queries, metric, exclude_self, distances, indices,
                                 exact=True)


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=25, deadline=None)
@given(problem=st.one_of(problems(), problems(integers=True)), exclude_self=st.booleans(),
       data=st.data())
def test_knn_heap_keeps_what_the_sorted_buffer_keeps(problem, metric, exclude_self, data):
    # The GEMM tiles at any width, each row's k best in a heap or in a sorted buffer:
    # the same neighbours and distances, ties (integer rows) to the lower index.
    X, queries = problem
    excluded = queries is None and exclude_self
    k = data.draw(st.integers(0, len(X) - 1 if excluded else len(X)))
    results = []
    for heap_min_k in (len(X) + 1, 1):
        with small_tiles(), pytest.MonkeyPatch.context() as mp:
            mp.setattr(cpu_kdtree, "KDTREE_MAX_FEATURES", 0)
            mp.setattr(cpu_knn, "HEAP_MIN_K", heap_min_k)
            results.append(kernels.knn(X, k, queries=queries, metric=metric,
                                       exclude_self=exclude_self))
    np.testing.assert_array_equal(results[0][1], results[1][1])
    np.testing.assert_array_equal(results[0][0], results[1][0])


@pytest.mark.parametrize("k, heap", [(5, False), (127, False), (128, True), (299, True)])
def test_knn_keeps_many_neighbours_in_a_heap(monkeypatch, k, heap):
    # From HEAP_MIN_K = 128 neighbours a row (measured: sorted buffer / heap time 1.00-1.06
    # at k=128, 4.9-5.5 at estimate_bandwidth's k=1,500).
    taken = []
    tiles = cpu_knn._knn_tiles

    def spy(*args):
        taken.append(args[-3])
        return tiles(*args)

    monkeypatch.setattr(cpu_knn, "_knn_tiles", spy)
    X = np.random.default_rng(0).normal(size=(300, 20)).astype(np.float32)
    distances, indices = kernels.knn(X, k)
    assert taken == [heap]
    reference.assert_knn_matches(X, k, None, "sqeuclidean", True, distances, indices)


@pytest.mark.parametrize("n, m, serial", [
    (500, 500, True),  # a dask chunk pair: one thread 1.3 x slower at load 2.2, 10 x faster at 3
    (512, 512, True),
    (513, 512, False),
    (1000, 1000, False),  # one thread 1.7 x slower at load 2.2, 1.0-2.5 x faster at 3
])
def test_gemm_tiles_on_one_thread_follow_the_measured_rule(n, m, serial):
    assert cpu_knn.gemm_on_one_thread(n, m) == serial


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one Numba thread only")
def test_small_gemm_searches_run_on_one_thread_with_the_same_tiles(monkeypatch):
    calls = []
    tiles = cpu_knn._knn_tiles

    def spy(*args):
        calls.append((numba.get_num_threads(), args[-5]))
        return tiles(*args)

    monkeypatch.setattr(cpu_knn, "_knn_tiles", spy)
    monkeypatch.setattr(cpu_knn, "SERIAL_MAX_PAIRS", 40 * 40)
    X = np.random.default_rng(0).normal(size=(41, 20)).astype(np.float32)
    for metric in ("sqeuclidean", "cosine"):
        results = [kernels.knn(X[:rows], 5, metric=metric) for rows in (40, 41)]
        monkeypatch.setattr(cpu_knn, "SERIAL_MAX_PAIRS", 0)
        parallel = kernels.knn(X[:40], 5, metric=metric)
        monkeypatch.setattr(cpu_knn, "SERIAL_MAX_PAIRS", 40 * 40)
        np.testing.assert_array_equal(results[0][1], parallel[1])
        np.testing.assert_array_equal(results[0][0], parallel[0])
    threads = numba.get_num_threads()
    tile = cpu_knn.query_tile_rows(40)
    assert calls == [(1, tile), (threads, cpu_knn.query_tile_rows(41)), (threads, tile)] * 2


def test_knn_default_tiles_match_reference(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 6)).astype(dtype)
    X[10] = X[20]
    for metric in METRICS:
        distances, indices = kernels.knn(X, 5, metric=metric)
        reference.assert_knn_matches(X, 5, None, metric, True, distances, indices)


def test_knn_hand_computed():
    X = np.array([[0.0], [1.0], [3.0], [1.0]])
    distances, indices = kernels.knn(X, 2, metric="euclidean")
    np.testing.assert_array_equal(indices, [[1, 3], [3, 0], [1, 3], [1, 0]])
    np.testing.assert_array_equal(distances, [[1, 1], [0, 1], [2, 2], [0, 1]])
    # Self included: a row is its own nearest neighbour at exactly 0, before its duplicate.
    distances, indices = kernels.knn(X, 2, metric="sqeuclidean", exclude_self=False)
    np.testing.assert_array_equal(indices, [[0, 1], [1, 3], [2, 1], [1, 3]])
    np.testing.assert_array_equal(distances[:, 0], 0)


def test_knn_cosine_zero_rows():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    distances, indices = kernels.knn(X, 2, metric="cosine", exclude_self=False)
    np.testing.assert_allclose(distances, [[1, 1], [0, 1], [0, 1]])
    np.testing.assert_array_equal(indices, [[0, 1], [1, 0], [2, 0]])


def test_knn_output_follows_input(xp, dtype):
    rng = np.random.default_rng(1)
    Xn = rng.normal(size=(40, 3)).astype(dtype)
    X = xp.asarray(Xn)
    distances, indices = kernels.knn(X, 4, queries=X[:7, :], metric="euclidean")
    for a in (distances, indices):
        assert_same_kind(a, X)
    assert to_numpy(distances).dtype == dtype and to_numpy(indices).dtype == np.int64
    assert tuple(distances.shape) == (7, 4) and tuple(indices.shape) == (7, 4)
    reference.assert_knn_matches(Xn, 4, Xn[:7], "euclidean", True, to_numpy(distances),
                                 to_numpy(indices))


def test_knn_empty_and_zero_k():
    X = np.ones((5, 2), dtype=np.float32)
    distances, indices = kernels.knn(X, 0)
    assert distances.shape == (5, 0) and indices.shape == (5, 0)
    distances, indices = kernels.knn(X, 2, queries=np.ones((0, 2)))
    assert distances.shape == (0, 2) and indices.dtype == np.int64


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"k": 5}, ValueError, "k must be in \\[0, 4\\]"),
        ({"k": 6, "exclude_self": False}, ValueError, "k must be in \\[0, 5\\]"),
        ({"k": -1}, ValueError, "got -1"),
        ({"k": 2.0}, TypeError, "k must be an integer"),
        ({"k": 2, "metric": "manhattan"}, ValueError, "manhattan"),
        ({"k": 2, "queries": np.ones((3, 4))}, ValueError, "features"),
    ],
)
def test_knn_rejects_bad_arguments(kwargs, error, match):
    X = np.ones((5, 2))
    with pytest.raises(error, match=match):
        kernels.knn(X, **kwargs)


def test_knn_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        kernels.knn(np.ones(5), 1)
