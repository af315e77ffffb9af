"""kernels.cuda.knn under the CUDA simulator, against tests/kernels/reference_neighbors.py::knn.

The simulator runs one Python thread per CUDA thread and reads module
constants at run time, so the tests shrink the launch: query chunks of 5
rows, merge blocks of 4 threads (k up to 4 takes the block merge) and a
memory budget of a few data rows per matmul make tiny inputs cross every
chunk boundary. ``KNN_MAX_K`` set low
sends larger k down the sort path.
"""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import config_context
from gpucluster.kernels.cuda import knn as knn_cuda
from gpucluster.kernels.metric import METRIC_CODES, squared_form
from gpucluster.kernels.neighbors import METRICS
from tests.kernels import reference_neighbors as reference
from tests.kernels.test_knn import problems



@contextmanager
def small_launch(max_k=64):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(knn_cuda, "QUERY_CHUNK_ROWS", 5)
        mp.setattr(knn_cuda, "MERGE_THREADS", 4)
        mp.setattr(knn_cuda, "KNN_MAX_K", max_k)
        # About 3 data rows of a 5-row query chunk per matmul.
        with config_context(memory_budget=3 * 5 * 8):
            yield


def run_knn(X, k, queries, metric, exclude_self, max_k=64):
    code, root = squared_form(METRIC_CODES[metric])
    excluded = queries is None and exclude_self
    with small_launch(max_k):
        return knn_cuda.knn(X, queries, k, code, root, excluded)


@pytest.mark.parametrize("path", ["kernel", "sort"])
@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=6, deadline=None)
@given(problem=problems(), exclude_self=st.booleans(), data=st.data())
def test_knn_cuda_matches_reference(problem, metric, path, exclude_self, data):
    X, queries = problem
    X, queries = X[:12], None if queries is None else queries[:6]
    excluded = queries is None and exclude_self
    k = data.draw(st.integers(0, min(4, len(X) - 1 if excluded else len(X))))
    max_k = 64 if path == "kernel" else 1
    distances, indices = run_knn(X, k, queries, metric, exclude_self, max_k)
    reference.assert_knn_matches(X, k, queries, metric, exclude_self, distances, indices)


@pytest.mark.parametrize("path", ["kernel", "sort"])
@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
@settings(max_examples=6, deadline=None)
@given(problem=problems(integers=True), exclude_self=st.booleans(), data=st.data())
def test_knn_cuda_ties_go_to_lower_index(problem, metric, path, exclude_self, data):
    X, queries = problem
    X, queries = X[:12], None if queries is None else queries[:6]
    excluded = queries is None and exclude_self
    k = data.draw(st.integers(0, min(4, len(X) - 1 if excluded else len(X))))
    max_k = 64 if path == "kernel" else 1
    distances, indices = run_knn(X, k, queries, metric, exclude_self, max_k)
    reference.assert_knn_matches(X, k, queries, metric, exclude_self, distances, indices,
                                 exact=True)


def test_knn_cuda_hand_computed():
    X = np.array([[0.0], [1.0], [3.0], [1.0]], dtype=np.float32)
    distances, indices = run_knn(X, 2, None, "euclidean", True)
    np.testing.assert_array_equal(indices, [[1, 3], [3, 0], [1, 3], [1, 0]])
    np.testing.assert_array_equal(distances, [[1, 1], [0, 1], [2, 2], [0, 1]])
    assert distances.dtype == np.float32 and indices.dtype == np.int64
    distances, indices = run_knn(X, 2, None, "sqeuclidean", False)
    np.testing.assert_array_equal(indices, [[0, 1], [1, 3], [2, 1], [1, 3]])
