"""kernels.cuda.centroids under the CUDA simulator, against reference.py::centroid_update.

Two launch shapes run: the production one, and a small one (work items of
three rows, two feature lanes by two row lanes, reductions of four threads)
under which large clusters span several items, columns span several lane
groups and the outputs span several blocks.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster.kernels.cuda import centroids as centroids_cuda
from tests._helpers import rtol_for
from tests.kernels import reference

DTYPES = (np.float32, np.float64)
PATHS = ("small", "production")


def run_centroid_update(X, labels, weights, n_clusters, path):
    with pytest.MonkeyPatch.context() as mp:
        if path == "small":
            mp.setattr(centroids_cuda, "ITEM_ROWS", 3)
            mp.setattr(centroids_cuda, "FEATURE_LANES", 2)
            mp.setattr(centroids_cuda, "ROW_LANES", 2)
            mp.setattr(centroids_cuda, "REDUCE_THREADS", 4)
        return centroids_cuda.centroid_update(X, labels, weights, n_clusters)


def assert_matches_reference(X, labels, weights, n_clusters, sums, counts):
    """float64 sums and counts equal the reference's up to float64 rounding.

    The kernel adds in its own (fixed) order, so each entry may differ by
    float64 rounding of its terms: the tolerance is rtol_for(float64) times
    the sum of the terms' magnitudes.
    """
    k, d = n_clusters, X.shape[1]
    assert sums.dtype == np.float64 and sums.shape == (k, d)
    assert counts.dtype == np.float64 and counts.shape == (k,)
    ref_sums, ref_counts = reference.centroid_update(X, labels, k, weights)
    abs_weights = None if weights is None else np.abs(weights)
    magnitude_sums, magnitude_counts = reference.centroid_update(np.abs(X), labels, k, abs_weights)
    rtol = rtol_for(np.float64)
    context = f"dtype={X.dtype} n={X.shape[0]} d={d} k={k}"
    assert np.all(np.abs(sums - ref_sums) <= rtol * magnitude_sums), context
    assert np.all(np.abs(counts - ref_counts) <= rtol * magnitude_counts), context


@st.composite
def problems(draw):
    """Random X (1-40 rows, 1-6 features), labels in [-1, k) and optional weights."""
    n = draw(st.integers(1, 40))
    d = draw(st.integers(1, 6))
    k = draw(st.integers(1, 5))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, d)).astype(dtype)
    labels = rng.integers(-1, k, n).astype(draw(st.sampled_from([np.int32, np.int64])))
    weights = draw(st.sampled_from([None, np.float32, np.float64]))
    if weights is not None:
        weights = rng.random(n).astype(weights)
    return X, labels, weights, k


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=8, deadline=None, database=None)
@given(problem=problems())
def test_centroid_update_matches_reference_on_random_inputs(problem, path):
    X, labels, weights, k = problem
    sums, counts = run_centroid_update(X, labels, weights, k, path)
    assert_matches_reference(X, labels, weights, k, sums, counts)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_centroid_update_skips_noise_and_keeps_empty_clusters_zero(dtype, path):
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [0.0, 0.0], [7.0, 8.0]], dtype=dtype)
    labels = np.array([0, 2, 0, 2, -1], dtype=np.int32)
    weights = np.array([1.0, 0.5, 2.0, 3.0, 10.0], dtype=dtype)
    sums, counts = run_centroid_update(X, labels, weights, 4, path)
    np.testing.assert_array_equal(sums, [[11.0, 14.0], [0.0, 0.0], [1.5, 2.0], [0.0, 0.0]])
    np.testing.assert_array_equal(counts, [3.0, 0.0, 3.5, 0.0])


@pytest.mark.parametrize("path", PATHS)
def test_centroid_update_counts_rows_without_weights(path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((37, 3))
    labels = rng.integers(-1, 5, 37)
    sums, counts = run_centroid_update(X, labels, None, 5, path)
    assert_matches_reference(X, labels, None, 5, sums, counts)
    np.testing.assert_array_equal(counts, np.bincount(labels[labels >= 0], minlength=5))


def test_centroid_update_returns_zeros_for_no_rows():
    sums, counts = centroids_cuda.centroid_update(
        np.zeros((0, 3)), np.zeros(0, dtype=np.int32), None, 2
    )
    np.testing.assert_array_equal(sums, np.zeros((2, 3)))
    np.testing.assert_array_equal(counts, np.zeros(2))


def test_centroid_update_with_one_large_cluster():
    """A skewed labelling (most rows in one cluster, split over many items) under both launches."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 5)) * 1e3
    labels = np.where(rng.random(60) < 0.8, 1, rng.integers(-1, 4, 60))  # one big cluster
    weights = rng.random(60)
    small = run_centroid_update(X, labels, weights, 4, "small")
    production = run_centroid_update(X, labels, weights, 4, "production")
    assert_matches_reference(X, labels, weights, 4, *small)
    assert_matches_reference(X, labels, weights, 4, *production)


def test_centroid_update_skips_labels_past_n_clusters():
    X = np.arange(12.0).reshape(6, 2)
    labels = np.array([0, 3, 1, 5, 0, -2])
    sums, counts = run_centroid_update(X, labels, None, 2, "small")
    np.testing.assert_array_equal(sums, [[8.0, 10.0], [4.0, 5.0]])
    np.testing.assert_array_equal(counts, [2.0, 1.0])
