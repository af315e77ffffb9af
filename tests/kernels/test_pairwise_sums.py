"""pairwise_sums (per-label sums of pairwise distances) against its NumPy reference."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import kernels
from gpucluster.kernels.cpu import silhouette as cpu_silhouette

from .._helpers import assert_same_kind, rtol_for, to_numpy
from . import reference

METRICS = ("euclidean", "sqeuclidean", "cosine")


def _tolerances(X, metric, dtype):
    """rtol, atol for sums over the rows of X.

    The kernel takes distances from a GEMM, :math:`|x|^2 - 2x \\cdot y + |y|^2`
    in X's dtype, whose rounding error is absolute: about eps * |x|^2 on a
    squared distance, and up to sqrt(eps) * |x| after the square root when
    two rows (nearly) coincide. So next to the relative tolerance each of
    the n terms of a sum may be off by rtol times the distance scale (the
    largest distance possible for rows of this size).
    """
    X = np.asarray(X, dtype=np.float64)
    radius = float(np.max(np.linalg.norm(X - X.mean(axis=0), axis=1), initial=0.0))
    scale = {"euclidean": 2 * radius, "sqeuclidean": 4 * radius**2, "cosine": 2.0}[metric]
    rtol = rtol_for(dtype)
    return rtol, rtol * scale * max(len(X), 1)


@st.composite
def problems(draw):
    n = draw(st.integers(1, 40))
    d = draw(st.integers(1, 8))
    n_labels = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    offset = draw(st.sampled_from([0.0, 5.0, -100.0]))
    X = rng.normal(size=(n, d)) + offset
    if draw(st.booleans()) and n > 1:  # duplicate rows
        dup = rng.integers(0, n, size=n // 2 + 1)
        X[rng.integers(0, n, size=dup.size)] = X[dup]
    if draw(st.booleans()):  # all-zero rows
        X[rng.integers(0, n, size=max(1, n // 4))] = 0.0
    labels = rng.integers(-1, n_labels, size=n)
    start = draw(st.integers(0, n))
    stop = draw(st.integers(start, n))
    return X, labels, n_labels, start, stop


@settings(max_examples=25, deadline=None)
@given(problem=problems(), metric=st.sampled_from(METRICS),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_pairwise_sums_matches_reference(problem, metric, dtype):
    X, labels, n_labels, start, stop = problem
    X = X.astype(dtype)
    sums = kernels.pairwise_sums(X, labels, n_labels, metric, start=start, stop=stop)
    expected = reference.pairwise_sums(X, labels, n_labels, metric)[start:stop]
    assert sums.shape == (stop - start, n_labels)
    assert sums.dtype == np.float64
    rtol, atol = _tolerances(X, metric, dtype)
    np.testing.assert_allclose(sums, expected, rtol=rtol, atol=atol,
                               err_msg=f"metric={metric} dtype={np.dtype(dtype).name} "
                                       f"block=[{start}, {stop})")


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n", [300, 1000, 1100], ids=lambda n: f"n{n}")
def test_pairwise_sums_many_tiles_and_blocks(metric, n):
    """Several tiles (odd and even counts on a 2-thread machine), full and partial blocks."""
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 6)) + 3.0
    labels = rng.integers(0, 7, size=n)
    expected = reference.pairwise_sums(X, labels, 7, metric)
    rtol, atol = _tolerances(X, metric, np.float64)
    for start, stop in [(0, n), (0, n // 2), (n // 3, n), (n // 4, min(n, n // 4 + 300))]:
        sums = kernels.pairwise_sums(X, labels, 7, metric, start=start, stop=stop)
        np.testing.assert_allclose(sums, expected[start:stop], rtol=rtol, atol=atol,
                                   err_msg=f"block=[{start}, {stop})")


def test_pairwise_sums_follows_input_kind(xp, dtype):
    rng = np.random.default_rng(0)
    X_np = rng.normal(size=(30, 4)).astype(dtype)
    labels_np = rng.integers(0, 3, size=30)
    X = xp.asarray(X_np)
    sums = kernels.pairwise_sums(X, xp.asarray(labels_np), 3, "euclidean")
    assert_same_kind(sums, X)
    assert sums.dtype == xp.xp.float64
    rtol, atol = _tolerances(X_np, "euclidean", dtype)
    np.testing.assert_allclose(to_numpy(sums), reference.pairwise_sums(X_np, labels_np, 3),
                               rtol=rtol, atol=atol)


def test_pairwise_sums_rejects_bad_arguments():
    X = np.zeros((4, 2))
    labels = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="metric must be one of"):
        kernels.pairwise_sums(X, labels, 2, "manhattan")
    with pytest.raises(ValueError, match="start <= stop"):
        kernels.pairwise_sums(X, labels, 2, start=3, stop=2)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        kernels.pairwise_sums(X, labels[:3], 2)
    with pytest.raises(ValueError, match="n_labels=2"):
        kernels.pairwise_sums(X, np.array([0, 1, 2, 0]), 2)


@pytest.mark.parametrize("n_tiles", range(0, 10))
def test_tournament_rounds_cover_every_pair_once_without_clashes(n_tiles):
    rounds = cpu_silhouette.tournament_rounds(n_tiles)
    pairs = [tuple(p) for r in rounds for p in r if p[0] >= 0]
    assert sorted(pairs) == [(a, b) for a in range(n_tiles) for b in range(a, n_tiles)]
    for r in rounds:
        tiles = [t for p in r if p[0] >= 0 for t in set(p)]
        assert len(tiles) == len(set(tiles)), f"a tile appears twice in round {r.tolist()}"


@pytest.mark.parametrize("kernel_name", ["_pairwise_sums_shared_kernel",
                                         "_pairwise_sums_global_kernel"])
@pytest.mark.parametrize("gram_dtype", [numba.float32, numba.float64], ids=["float32", "float64"])
def test_cuda_kernels_compile_to_ptx(kernel_name, gram_dtype):
    """The CUDA kernels compile for sm_90 through NVVM; no GPU is needed."""
    cuda = pytest.importorskip("numba.cuda")
    from gpucluster.kernels.cuda import silhouette as cuda_silhouette

    kernel = getattr(cuda_silhouette, kernel_name)
    signature = (gram_dtype[:, ::1], gram_dtype[:, ::1], numba.float64[::1],
                 numba.int64[::1], numba.int64, numba.int64, numba.boolean, numba.float64,
                 numba.float64[:, ::1])
    try:
        ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(9, 0))
    except Exception as exc:  # NVVM missing is an environment problem, not a kernel bug
        if "NVVM" in str(exc) or "libnvvm" in str(exc):
            pytest.skip(f"NVVM is not available: {exc}")
        raise
    assert ".entry" in ptx
    assert "atom" in ptx
