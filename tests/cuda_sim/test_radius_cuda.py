"""kernels.cuda.radius under the CUDA simulator, against reference_neighbors.radius_neighbors.

Launches are shrunk as in test_knn_cuda.py so that tiny inputs cross the
query-chunk, block and matmul-chunk boundaries.
"""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import config_context
from gpucluster.kernels.cuda import radius as radius_cuda
from gpucluster.kernels.metric import METRIC_CODES, squared_form
from gpucluster.kernels.neighbors import METRICS
from tests.kernels import reference_neighbors as reference
from tests.kernels.test_knn import problems



@contextmanager
def small_launch():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(radius_cuda, "QUERY_CHUNK_ROWS", 5)
        mp.setattr(radius_cuda, "MERGE_BLOCK_ROWS", 4)
        with config_context(memory_budget=3 * 5 * 8):
            yield


def run_radius(X, radius, queries, metric, include_self, return_lists=True):
    code, root = squared_form(METRIC_CODES[metric])
    threshold = radius * radius if root else radius
    include = include_self or queries is not None
    with small_launch():
        return radius_cuda.radius_neighbors(X, queries, threshold, code, include, return_lists)


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=6, deadline=None)
@given(problem=problems(), include_self=st.booleans(),
       radius=st.floats(0.0, 3.0, allow_nan=False))
def test_radius_cuda_matches_reference(problem, metric, include_self, radius):
    X, queries = problem
    X, queries = X[:12], None if queries is None else queries[:6]
    result = run_radius(X, radius, queries, metric, include_self)
    reference.assert_radius_matches(X, radius, queries, metric, include_self, result)
    counts = run_radius(X, radius, queries, metric, include_self, return_lists=False)
    np.testing.assert_array_equal(counts, result[0])


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean"])
@settings(max_examples=6, deadline=None)
@given(problem=problems(integers=True), include_self=st.booleans(),
       radius=st.sampled_from([0.0, 1.0, 2.0, 4.0]))
def test_radius_cuda_exact_on_integers(problem, metric, include_self, radius):
    X, queries = problem
    X, queries = X[:12], None if queries is None else queries[:6]
    result = run_radius(X, radius, queries, metric, include_self)
    reference.assert_radius_matches(X, radius, queries, metric, include_self, result,
                                    exact=True)


def test_radius_cuda_hand_computed():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    counts, indptr, indices = run_radius(X, 1.0, None, "euclidean", True)
    np.testing.assert_array_equal(counts, [3, 3, 1, 3])
    np.testing.assert_array_equal(indptr, [0, 3, 6, 7, 10])
    np.testing.assert_array_equal(indices, [0, 1, 3, 0, 1, 3, 2, 0, 1, 3])
    counts, indptr, indices = run_radius(X, 1.0, None, "euclidean", False)
    np.testing.assert_array_equal(indices, [1, 3, 0, 3, 0, 1])
