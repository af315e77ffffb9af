"""kernels.cuda.radius under the CUDA simulator, against reference_neighbors.radius_neighbors.

Launches are shrunk as in test_knn_cuda.py so that tiny inputs cross the
query-chunk, block and matmul-chunk boundaries.
"""

import inspect
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import config_context
from gpucluster.kernels import memory
from gpucluster.kernels.cuda import radius as radius_cuda
from gpucluster.kernels.metric import METRIC_CODES, SQEUCLIDEAN, squared_form
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


# The fill sweep seeing other distances than the count sweep: its Gram tiles
# one ulp off, so pairs exactly at the threshold flip between the sweeps.

SENTINEL = -7


class PerturbedFill:
    """Stands in for ``_radius_fill_kernel``: nudges the Gram tile of chosen fills by one ulp.

    ``perturb(fill_number)`` says whether the n-th fill sweep (counted from 0,
    a new one starting at each launch whose query chunk begins at row 0 and
    data tile at column 0) is nudged. Every launch also checks that nothing
    outside its query rows' CSR range changes: the rest of ``indices`` is set
    to a sentinel around the launch and must still hold it after.
    """

    def __init__(self, real, direction, perturb):
        self.real = real
        self.direction = direction
        self.perturb = perturb
        self.fills = -1
        self.writes_outside = 0
        self.signature = inspect.signature(real.fn)

    def __getitem__(self, config):
        launch = self.real[config]

        def call(*args):
            bound = self.signature.bind(*args).arguments
            gram_t, q0, x0 = bound["gram_t"], bound["q0"], bound["x0"]
            indices = bound["indices"]
            if q0 == 0 and x0 == 0:
                self.fills += 1
            if self.perturb(self.fills):
                gram_t = np.nextafter(gram_t, self.direction * np.inf).astype(gram_t.dtype)
            indptr = bound.get("indptr", np.zeros(q0 + gram_t.shape[1] + 1, dtype=np.int64))
            lo, hi = int(indptr[q0]), int(indptr[q0 + gram_t.shape[1]]) or len(indices)
            saved = indices.copy()
            indices[:lo] = SENTINEL
            indices[hi:] = SENTINEL
            try:
                launch(gram_t, *args[1:])
            finally:
                outside = np.concatenate([indices[:lo], indices[hi:]])
                self.writes_outside += int(np.count_nonzero(outside != SENTINEL))
                indices[:lo] = saved[:lo]
                indices[hi:] = saved[hi:]

        return call


# Collinear integer points: pairs one apart (squared distance exactly 1) in a
# middle query chunk and in the last row, everything else 3 or more apart. Their
# median lies nearer the origin than they lie from it, so the search does not
# move them (``far_centre``) and compares the nudged Gram tiles themselves.
BORDER_X = np.array([[-19, 0], [-18, 0], [-14, 0], [-10, 0], [-9, 0], [5, 0], [13, 0], [14, 0]])


def run_perturbed(dtype, threshold, direction, perturb):
    X = BORDER_X.astype(dtype)
    fill = PerturbedFill(radius_cuda._radius_fill_kernel, direction, perturb)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(radius_cuda, "_radius_fill_kernel", fill)
        mp.setattr(radius_cuda, "QUERY_CHUNK_ROWS", 1)
        mp.setattr(radius_cuda, "MERGE_BLOCK_ROWS", 4)
        with config_context(memory_budget=3 * 8):
            try:
                result = radius_cuda.radius_neighbors(X, None, threshold, SQEUCLIDEAN, True, True)
            finally:
                assert fill.writes_outside == 0, "the fill wrote outside its rows"
    return X, fill, result


def assert_consistent(result, X, radius):
    """Counts, indptr and indices agree with each other and with the reference at ``radius``."""
    counts, indptr, indices = result
    np.testing.assert_array_equal(indptr, np.concatenate([[0], np.cumsum(counts)]))
    want = reference.radius_neighbors(X, radius, None, "sqeuclidean", True)
    for got, expected in zip(result, want):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("direction", [1, -1], ids=["fill-finds-more", "fill-finds-fewer"])
def test_radius_fill_off_by_one_ulp_stays_in_its_rows(dtype, direction):
    # Up: the count sees the one-apart pairs just outside the threshold and the
    # fill just inside; down: the count sees them exactly at it, the fill beyond.
    threshold = np.nextafter(1.0, 0.0) if direction == 1 else 1.0
    X, fill, result = run_perturbed(dtype, threshold, direction, lambda fill: True)
    assert fill.fills >= 1
    # Every fill sees the same nudged tiles, so the result follows the fill's view.
    fill_radius = 1.0 if direction == 1 else np.nextafter(1.0, 0.0)
    assert_consistent(result, X, fill_radius)


@pytest.mark.parametrize("direction", [1, -1], ids=["fill-finds-more", "fill-finds-fewer"])
def test_radius_fill_disagreeing_once_is_filled_again(direction):
    threshold = np.nextafter(1.0, 0.0) if direction == 1 else 1.0
    X, fill, result = run_perturbed(np.float32, threshold, direction, lambda fill: fill == 0)
    # The second fill follows the first's counts and disagrees (it is not
    # nudged); the third follows the second's, agrees, and is the count's view.
    assert fill.fills == 2
    assert_consistent(result, X, threshold)


def test_radius_fills_that_never_agree_raise():
    with pytest.raises(RuntimeError, match="fill sweeps in a row found other neighbours"):
        run_perturbed(np.float32, np.nextafter(1.0, 0.0), 1, lambda fill: fill % 2 == 0)


def test_radius_sweeps_share_one_chunking(monkeypatch):
    # Free memory falling between the sweeps (the output's allocation) must not
    # change the fill's tiles: both sweeps run the same GEMM shapes.
    shapes = {"count": [], "fill": []}
    budgets = iter([3 * 5 * 8])

    def shrinking_chunk_size(n_rows, bytes_per_row, device="cpu", target_bytes=None):
        return memory.row_chunk_size(n_rows, bytes_per_row, device, next(budgets, 8))

    for name, kernel in [("count", "_radius_count_kernel"), ("fill", "_radius_fill_kernel")]:
        real = getattr(radius_cuda, kernel)

        class Recording:
            def __getitem__(self, config, real=real, name=name):
                launch = real[config]

                def call(gram_t, *args):
                    shapes[name].append(gram_t.shape)
                    launch(gram_t, *args)

                return call

        monkeypatch.setattr(radius_cuda, kernel, Recording())
    monkeypatch.setattr(radius_cuda, "memory", SimpleNamespace(
        row_chunk_size=shrinking_chunk_size, for_each_chunk=memory.for_each_chunk))
    X = BORDER_X.astype(np.float32)
    monkeypatch.setattr(radius_cuda, "QUERY_CHUNK_ROWS", 5)
    result = radius_cuda.radius_neighbors(X, None, 1.0, SQEUCLIDEAN, True, True)
    assert len(shapes["count"]) > 2 and shapes["fill"] == shapes["count"]
    assert_consistent(result, X, 1.0)


def test_radius_cuda_integer_lattice_far_from_the_origin():
    """Integer rows at 1e3, radius 3: ties at the radius are listed, as on the CPU."""
    rng = np.random.default_rng(0)
    X = (rng.integers(0, 3, size=(12, 20)) + 1e3).astype(np.float32)
    result = run_radius(X, 3.0, None, "euclidean", True)
    reference.assert_radius_matches(X - 1e3, 3.0, None, "euclidean", True, result, exact=True)
