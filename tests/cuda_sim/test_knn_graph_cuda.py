"""kernels.cuda.knn_graph under the CUDA simulator, against tests/kernels/reference_neighbors.py::knn.

The launch is shrunk so tiny inputs cross every boundary: merge blocks of 4
threads (so k up to 4 takes the block-merge kernel, k above it the sort
path), a memory budget of a couple of query rows per list matmul, and
lists of two or three rows.
"""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import config_context
from gpucluster.kernels.cpu import knn_graph as graph_cpu
from gpucluster.kernels.cuda import knn as knn_cuda
from gpucluster.kernels.cuda import knn_graph as graph_cuda
from gpucluster.kernels.metric import METRIC_CODES, squared_form
from gpucluster.kernels.neighbors import METRICS
from tests.kernels import reference_neighbors as reference
from tests.kernels.test_knn import problems


@contextmanager
def small_launch(threads=4):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(graph_cuda, "MERGE_THREADS", threads)
        mp.setattr(knn_cuda, "QUERY_CHUNK_ROWS", 5)
        mp.setattr(knn_cuda, "MERGE_THREADS", 4)
        # About two query rows of a few-member list per matmul.
        with config_context(memory_budget=2 * 4 * 8):
            yield


def run_graph(X, k, metric, exact, n_lists=1, n_probe=1, seed=0, threads=4):
    code, root = squared_form(METRIC_CODES[metric])
    with small_launch(threads):
        return graph_cuda.knn_graph(X, k, code, root, exact, n_lists, n_probe, seed)


@pytest.mark.parametrize("path", ["kernel", "sort"])
@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=2, deadline=None)
@given(problem=problems(), data=st.data())
def test_graph_cuda_probing_every_list_matches_reference(problem, metric, path, data):
    X, _ = problem
    X = X[:8]
    k = data.draw(st.integers(0, min(5, len(X) - 1)))
    n_lists = data.draw(st.integers(1, max(1, len(X) // 2)))
    threads = 4 if path == "kernel" else 1
    if path == "kernel":
        k = min(k, threads)
    distances, indices = run_graph(X, k, metric, False, n_lists, n_lists, threads=threads)
    reference.assert_knn_matches(X, k, None, metric, True, distances, indices)


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
@settings(max_examples=3, deadline=None)
@given(problem=problems(integers=True), data=st.data())
def test_graph_cuda_exact_ties_go_to_lower_index(problem, metric, data):
    X, _ = problem
    X = X[:8]
    k = data.draw(st.integers(0, min(4, len(X) - 1)))
    distances, indices = run_graph(X, k, metric, True)
    reference.assert_knn_matches(X, k, None, metric, True, distances, indices, exact=True)


def test_graph_cuda_block_merge_keeps_ties_in_column_order():
    """One list holding every row: the block merge sees columns in ascending order."""
    X = np.array([[0.0], [1.0], [-1.0], [1.0], [2.0], [-1.0], [0.0]], dtype=np.float32)
    distances, indices = run_graph(X, 4, "sqeuclidean", False, 1, 1)
    ref_d, ref_i = reference.knn(X, 4)
    np.testing.assert_array_equal(indices, ref_i)
    np.testing.assert_array_equal(distances, ref_d)


def test_graph_cuda_few_probes_fall_back_to_exact_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    distances, indices = run_graph(X, 4, "sqeuclidean", False, 6, 1)
    assert np.all(indices >= 0) and not np.any(indices == np.arange(12)[:, None])
    assert all(len(set(row)) == 4 for row in indices.tolist())
    D = reference.pairwise(X, X, "sqeuclidean")
    np.testing.assert_allclose(distances, np.take_along_axis(D, indices, axis=1), atol=1e-9)


def test_graph_cuda_equals_the_cpu_graph():
    """The same seeded quantiser and probes: the CUDA and CPU graphs agree."""
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(18, 4)) + rng.integers(0, 3, size=(18, 1)) * 5).astype(np.float64)
    code, root = squared_form(METRIC_CODES["euclidean"])
    want_d, want_i = graph_cpu.knn_graph(X, 3, code, root, False, 4, 2, 5)
    got_d, got_i = run_graph(X, 3, "euclidean", False, 4, 2, seed=5)
    np.testing.assert_array_equal(got_i, want_i)
    np.testing.assert_allclose(got_d, want_d, rtol=1e-12)


def test_recall_cuda_matches_cpu():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 3))
    _, exact = reference.knn(X, 3)
    wrong = exact.copy()
    wrong[:, 0] = (np.arange(20) + 7) % 20
    sample = np.arange(0, 20, 2)
    code = METRIC_CODES["sqeuclidean"]
    got = graph_cuda.knn_recall(X, wrong, code, sample)
    assert float(got) == pytest.approx(float(graph_cpu.knn_recall(X, wrong, code, sample)))
    assert float(graph_cuda.knn_recall(X, exact, code, sample)) == 1.0


def test_graph_cuda_tunes_the_probes_like_the_cpu():
    """n_probe=0: both sides tune the probe count on the same sample rows, to the same graph."""
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(14, 3)) + rng.integers(0, 3, size=(14, 1)) * 4).astype(np.float64)
    code, root = squared_form(METRIC_CODES["sqeuclidean"])
    want_d, want_i = graph_cpu.knn_graph(X, 2, code, root, False, 3, 0, 11)
    got_d, got_i = run_graph(X, 2, "sqeuclidean", False, 3, 0, seed=11)
    np.testing.assert_array_equal(got_i, want_i)
    np.testing.assert_allclose(got_d, want_d, rtol=1e-12)
    centers = graph_cpu.train_quantiser(X, 3, code, 11)
    with small_launch():
        tuned = graph_cuda.tune_probes(X, centers, 2, code, 11, np)
    assert graph_cpu.tune_probes(X, centers, 2, code, 11) == tuned


@pytest.mark.parametrize("exact", [True, False])
def test_graph_cuda_rows_far_from_the_origin(exact):
    """float32 rows at 1e4: the CUDA graph searches them moved near the origin, as the CPU one."""
    from tests.kernels.test_knn_graph import assert_true_neighbours, far_blobs

    X = far_blobs(n=24, d=4)
    distances, indices = run_graph(X, 3, "sqeuclidean", exact, n_lists=2, n_probe=2)
    assert_true_neighbours(X, 3, "sqeuclidean", distances, indices)
