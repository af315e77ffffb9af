"""kernels.cuda.silhouette under the CUDA simulator, against reference.py::pairwise_sums.

Both kernels run: the shared-memory per-label accumulator (the default for
few labels) and global atomics (forced by a shared capacity of 0). Blocks of
four threads make every row cross several column strides; a small memory
budget splits the query rows into several Gram chunks.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import config_context
from gpucluster.kernels.cuda import silhouette as silhouette_cuda
from gpucluster.kernels.metric import METRIC_CODES, squared_form
from gpucluster.kernels.pairwise import METRICS
from tests.kernels import reference
from tests.kernels.test_pairwise_sums import _tolerances

PATHS = ("shared", "global")


def run_pairwise_sums(X, labels, n_labels, metric, start, stop, path):
    code, root = squared_form(METRIC_CODES[metric])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(silhouette_cuda, "THREADS_PER_BLOCK", 4)
        if path == "global":
            mp.setattr(silhouette_cuda, "SHARED_LABELS", 0)
        # About three query rows per Gram chunk, so several chunks run.
        with config_context(memory_budget=3 * max(X.shape[0], 1) * X.itemsize):
            return silhouette_cuda.pairwise_sums(X, labels, n_labels, code, root, start, stop)


@st.composite
def problems(draw):
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 4))
    n_labels = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    X = rng.normal(size=(n, d)) + draw(st.sampled_from([0.0, 5.0]))
    if draw(st.booleans()):  # all-zero rows: cosine distance 1
        X[rng.integers(0, n, size=max(1, n // 3))] = 0.0
    labels = rng.integers(-1, n_labels, size=n)
    start = draw(st.integers(0, n))
    stop = draw(st.integers(start, n))
    return X, labels, n_labels, start, stop


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=8, deadline=None)
@given(problem=problems(), metric=st.sampled_from(METRICS),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_pairwise_sums_matches_reference(path, problem, metric, dtype):
    X, labels, n_labels, start, stop = problem
    X = X.astype(dtype)
    sums = run_pairwise_sums(X, labels, n_labels, metric, start, stop, path)
    expected = reference.pairwise_sums(X, labels, n_labels, metric)[start:stop]
    assert sums.dtype == np.float64 and sums.shape == (stop - start, n_labels)
    rtol, atol = _tolerances(X, metric, dtype)
    np.testing.assert_allclose(sums, expected, rtol=rtol, atol=atol,
                               err_msg=f"path={path} metric={metric} dtype={np.dtype(dtype).name} "
                                       f"block=[{start}, {stop})")


@pytest.mark.parametrize("path", PATHS)
def test_self_distance_is_exactly_zero(path):
    """One row per label: each row's own column sums only its zero self-distance."""
    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    sums = run_pairwise_sums(X, np.arange(3), 3, "euclidean", 0, 3, path)
    np.testing.assert_array_equal(np.diag(sums), np.zeros(3))
    np.testing.assert_allclose(sums[0, 1], np.hypot(2.0, 3.0), rtol=1e-12)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("offset", [1e3, 1e4, 1e5])
def test_identical_float32_rows_far_from_the_origin_are_zero_apart(path, offset):
    """Rows about ``offset`` from the origin and a tenth of it apart, each twice: the
    Gram tile put twins sqrt(eps32) |x| apart; the sums of twins alone must be 0."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(4, 3)) * (offset / 10) + offset
    X = np.repeat(points, 2, axis=0).astype(np.float32)
    labels = np.arange(8) // 2  # one label per pair of twins
    sums = run_pairwise_sums(X, labels, 4, "euclidean", 0, 8, path)
    expected = reference.pairwise_sums(X, labels, 4, "euclidean")
    np.testing.assert_array_equal(sums[expected == 0.0], 0.0)
    np.testing.assert_allclose(sums, expected, rtol=1e-6)
