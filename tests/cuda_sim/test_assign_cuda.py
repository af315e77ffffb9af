"""kernels.cuda.assign under the CUDA simulator, against tests/kernels/reference.py::assign.

The simulator runs one Python thread per CUDA thread and reads module
constants at run time, so most tests shrink the launch shape: tiles of two
centres and four lanes per row make five centres cross tile and lane
boundaries, and a fused threshold of 0 sends tiny inputs down the GEMM path.
"""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import config_context
from gpucluster.kernels.centers import METRICS
from gpucluster.kernels.metric import METRIC_CODES
from gpucluster.kernels.cuda import assign as assign_cuda
from tests._helpers import rtol_for
from tests.kernels import reference

DTYPES = (np.float32, np.float64)
PATHS = ("fused", "gemm")


@contextmanager
def launch_shape(path, small=True):
    """Run ``path`` ("fused" or "gemm"), with the small launch shape unless ``small`` is False."""
    with pytest.MonkeyPatch.context() as mp:
        if path == "gemm":
            mp.setattr(assign_cuda, "FUSED_MAX_FEATURES", 0)
        if small:
            mp.setattr(assign_cuda, "FUSED_TILE_CENTERS", 2)
            mp.setattr(assign_cuda, "ARGMIN_LANES", 4)
            mp.setattr(assign_cuda, "ARGMIN_BLOCK_ROWS", 2)
        yield


def run_assign(X, centers, metric, path, small=True):
    with launch_shape(path, small):
        # A budget of about 7 rows per GEMM chunk, so several chunks run.
        budget = 7 * (centers.shape[0] + 2) * X.itemsize
        with config_context(memory_budget=budget):
            return assign_cuda.assign(X, centers, METRIC_CODES[metric])


def assert_matches_reference(X, centers, metric, labels, distances):
    """Labels and distances agree with the reference up to the dtype's tolerance.

    The tolerance is ``rtol_for(dtype)`` times a per-row scale
    ``1 + (|x| + max_j |c_j|)^2``, which bounds every distance of the three
    metrics and the rounding of ``|x|^2 - 2 x.c + |c|^2`` on the GEMM path.
    Labels must equal the reference's where the best and second-best
    reference distances differ by more than the tolerance; elsewhere the
    chosen centre must be within the tolerance of the nearest.
    """
    n = X.shape[0]
    assert labels.dtype == np.int32 and labels.shape == (n,)
    assert distances.dtype == X.dtype and distances.shape == (n,)
    D = reference.pairwise(X, centers, metric)
    ref_labels, ref_distances = reference.assign(X, centers, metric)
    x_norms = np.linalg.norm(X.astype(np.float64), axis=1)
    c_norm = np.linalg.norm(centers.astype(np.float64), axis=1).max()
    tol = rtol_for(X.dtype) * (1 + (x_norms + c_norm) ** 2)
    rows = np.arange(n)
    context = f"metric={metric} dtype={X.dtype} n={n} k={centers.shape[0]} d={X.shape[1]}"
    np.testing.assert_array_less(D[rows, labels] - ref_distances, tol, err_msg=context)
    np.testing.assert_array_less(np.abs(distances - ref_distances), tol, err_msg=context)
    second = np.sort(D, axis=1)[:, 1] if D.shape[1] > 1 else np.full(n, np.inf)
    clear = second - ref_distances > tol
    np.testing.assert_array_equal(labels[clear], ref_labels[clear], err_msg=context)


@st.composite
def problems(draw):
    """Random (X, centers) with 1-40 rows, 1-6 features, 1-5 centres, some rows zero.

    Half the draws are small integers, which make exact ties between centres.
    """
    n = draw(st.integers(1, 40))
    d = draw(st.integers(1, 6))
    k = draw(st.integers(1, 5))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        X, centers = rng.integers(-2, 3, (n, d)), rng.integers(-2, 3, (k, d))
    else:
        X, centers = rng.standard_normal((n, d)), rng.standard_normal((k, d))
    X[rng.random(n) < 0.1] = 0
    return X.astype(dtype), centers.astype(dtype)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=5, deadline=None, database=None)
@given(problem=problems())
def test_assign_matches_reference_on_random_inputs(problem, metric, path):
    X, centers = problem
    labels, distances = run_assign(X, centers, metric, path)
    assert_matches_reference(X, centers, metric, labels, distances)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_assign_sends_ties_to_lowest_index(dtype, metric, path):
    # Small integers keep every sum exact, so duplicated centres tie exactly
    # on both paths and the labels must equal the reference's argmin.
    rng = np.random.default_rng(0)
    X = rng.integers(-3, 4, (23, 4)).astype(dtype)
    X[[0, 5]] = 0
    distinct = rng.integers(-3, 4, (3, 4))
    centers = distinct[[0, 1, 1, 2, 0]].astype(dtype)
    labels, distances = run_assign(X, centers, metric, path)
    ref_labels, ref_distances = reference.assign(X, centers, metric)
    np.testing.assert_array_equal(labels, ref_labels)
    assert not np.isin(labels, [2, 4]).any()
    np.testing.assert_allclose(distances, ref_distances, rtol=rtol_for(dtype), atol=rtol_for(dtype))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_cosine_distance_is_one_for_zero_vectors(dtype, path):
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]], dtype=dtype)
    centers = np.array([[0.0, 0.0], [1.0, 1.0]], dtype=dtype)
    labels, distances = run_assign(X, centers, "cosine", path)
    np.testing.assert_array_equal(labels, [0, 1, 0])
    np.testing.assert_allclose(distances, [1.0, 1 - np.sqrt(0.5), 1.0], rtol=rtol_for(dtype))


@pytest.mark.parametrize("path", PATHS)
def test_assign_with_production_launch_shape(path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((17, 3)).astype(np.float32)
    centers = rng.standard_normal((5, 3)).astype(np.float32)
    labels, distances = run_assign(X, centers, "sqeuclidean", path, small=False)
    assert_matches_reference(X, centers, "sqeuclidean", labels, distances)


@pytest.mark.parametrize("path", PATHS)
def test_assign_without_distances_returns_the_labels_alone(path):
    """with_distances=False: the labels of the full call and an empty distances array."""
    X = np.random.default_rng(6).standard_normal((19, 3))
    centers = X[[0, 5, 11]].copy()
    with launch_shape(path):
        full = assign_cuda.assign(X, centers, METRIC_CODES["sqeuclidean"])
        bare = assign_cuda.assign(X, centers, METRIC_CODES["sqeuclidean"], None, False)
    np.testing.assert_array_equal(bare[0], full[0])
    assert bare[1].shape == (0,) and bare[1].dtype == X.dtype


def test_assign_returns_empty_outputs_for_no_rows():
    X = np.zeros((0, 3), dtype=np.float32)
    labels, distances = assign_cuda.assign(X, np.ones((2, 3), dtype=np.float32), 0)
    assert labels.shape == (0,) and labels.dtype == np.int32
    assert distances.shape == (0,) and distances.dtype == np.float32


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_gemm_path_uses_the_row_norms_given(dtype, metric):
    """Given squared norms (float64) replace the per-tile norm pass for squared Euclidean.

    Norms shifted by 10 shift those distances by 10 and leave the labels,
    so the test fails if they are ignored; the other metrics do not read them.
    """
    rng = np.random.default_rng(4)
    X = rng.standard_normal((29, 3)).astype(dtype)
    centers = rng.standard_normal((5, 3)).astype(dtype)
    x_sq = (X.astype(np.float64) ** 2).sum(1)
    with launch_shape("gemm"), config_context(memory_budget=7 * 7 * X.itemsize):
        code = METRIC_CODES[metric]
        plain = assign_cuda.assign(X, centers, code)
        shifted = assign_cuda.assign(X, centers, code, x_sq + 10.0)
    assert_matches_reference(X, centers, metric, *plain)
    np.testing.assert_array_equal(shifted[0], plain[0])
    offset = 10.0 if metric == "sqeuclidean" else 0.0
    np.testing.assert_allclose(shifted[1], plain[1] + offset, rtol=rtol_for(dtype))


def test_gemm_tiles_never_exceed_the_fixed_tile(monkeypatch):
    """Tiles hold at most GRAM_TILE_BYTES of inner products, whatever memory is free."""
    rows = []
    monkeypatch.setattr(assign_cuda, "GRAM_TILE_BYTES", 4 * (5 + 2) * 8)  # 4 rows of k=5
    real = assign_cuda._argmin_gram

    def spy(gram, *args):
        rows.append(gram.shape[0])
        return real(gram, *args)

    monkeypatch.setattr(assign_cuda, "_argmin_gram", spy)
    X = np.random.default_rng(5).standard_normal((18, 3))
    centers = X[:5].copy()
    with launch_shape("gemm"):
        labels, distances = assign_cuda.assign(X, centers, METRIC_CODES["sqeuclidean"])
    assert rows == [4, 4, 4, 4, 2]
    assert_matches_reference(X, centers, "sqeuclidean", labels, distances)


@pytest.mark.parametrize("path", PATHS)
def test_lloyd_step_equals_the_cpu_kernel(path):
    """The CUDA Lloyd pass (assign with the norms given, then the segmented sums) against the CPU one."""
    from gpucluster.kernels.cpu import assign as assign_cpu

    rng = np.random.default_rng(8)
    X = rng.standard_normal((31, 3))
    centers = X[[0, 7, 19]].copy()
    weights = rng.random(31)
    x_sq = (X * X).sum(1)
    code = METRIC_CODES["sqeuclidean"]
    with launch_shape(path), config_context(memory_budget=6 * 5 * X.itemsize):
        got = assign_cuda.lloyd_step(X, centers, weights, code, x_sq)
    want = assign_cpu.lloyd_step(X, centers, weights, code, x_sq)
    np.testing.assert_array_equal(got[0], want[0])
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    with launch_shape(path):
        bare = assign_cuda.lloyd_step(X, centers, weights, code, x_sq, False)
    assert bare[1].shape == (0,)
    np.testing.assert_array_equal(bare[0], want[0])
    np.testing.assert_allclose(bare[2], want[2], rtol=1e-12, atol=1e-12)
