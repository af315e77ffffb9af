"""slic_step and enforce_connectivity (CPU kernels) against reference_slic.py, on every
host backend; the CUDA kernels compile to PTX (their results: tests/cuda_sim)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import config

from gpucluster import kernels

from .._helpers import assert_same_kind, rtol_for, to_numpy
from . import reference_slic as reference


@st.composite
def slic_problems(draw):
    """A small image, a grid on it, centres near their home cells, a spatial weight."""
    H = draw(st.integers(1, 24))
    W = draw(st.integers(1, 24))
    C = draw(st.integers(1, 4))
    ny = draw(st.integers(1, min(H, 6)))
    nx = draw(st.integers(1, min(W, 6)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    image = (rng.random((H, W, C)) * 100).astype(dtype)
    cy, cx = np.divmod(np.arange(ny * nx), nx)
    centers = np.column_stack([
        rng.random((ny * nx, C)) * 100,
        (cy + rng.random(ny * nx)) * H / ny,
        (cx + rng.random(ny * nx)) * W / nx,
    ])
    weight = draw(st.sampled_from([0.0, 0.1, 2.0, 50.0]))
    return image, centers, (ny, nx), weight


def assert_nearest_among_candidates(image, centers, n_cells, weight, labels):
    """Every label is one of its pixel's candidate centres, at the smallest distance.

    The kernel and the reference both sum the same float64 terms in the same
    order, but a compiler may fuse a multiply-add; a label is accepted when
    its distance is within float64 rounding of the minimum.
    """
    candidates, distances = reference.candidate_distances(image, centers, n_cells, weight)
    chosen = candidates == labels[None].astype(np.int64)
    assert chosen.any(axis=0).all()
    d_chosen = np.where(chosen, distances, np.inf).min(axis=0)
    d_best = distances.min(axis=0)
    assert np.all(d_chosen <= d_best + rtol_for(np.float64) * (1 + d_best))


@settings(max_examples=60, deadline=None)
@given(problem=slic_problems())
def test_slic_step_matches_reference(problem):
    image, centers, n_cells, weight = problem
    labels, sums, counts = kernels.slic_step(image, centers, n_cells, weight)
    assert labels.dtype == np.int32 and labels.shape == image.shape[:2]
    assert sums.dtype == np.float64 and counts.dtype == np.int64
    assert_nearest_among_candidates(image, centers, n_cells, weight, labels)
    ref_labels, _, _ = reference.slic_step(image, centers, n_cells, weight)
    # Exact ties (or near-ties within rounding) are measure-zero with random data.
    assert np.mean(labels == ref_labels) >= 0.99
    ref_sums, ref_counts = reference.per_centre_sums(image, labels, centers.shape[0])
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_allclose(sums, ref_sums, rtol=rtol_for(np.float64), atol=1e-9)


def test_slic_step_on_every_host_backend(xp):
    rng = np.random.default_rng(0)
    image = rng.random((12, 10, 3)).astype(np.float32)
    centers = np.array([[0.5, 0.5, 0.5, 2.5, 2.0], [0.5, 0.5, 0.5, 2.5, 7.0],
                        [0.5, 0.5, 0.5, 8.5, 2.0], [0.5, 0.5, 0.5, 8.5, 7.0]])
    labels, sums, counts = kernels.slic_step(xp.asarray(image), xp.asarray(centers), (2, 2), 1.0)
    for out in (labels, sums, counts):
        assert_same_kind(out, xp.asarray(image))
    ref_labels, ref_sums, ref_counts = reference.slic_step(image, centers, (2, 2), 1.0)
    np.testing.assert_array_equal(to_numpy(labels), ref_labels)
    np.testing.assert_array_equal(to_numpy(counts), ref_counts)
    np.testing.assert_allclose(to_numpy(sums), ref_sums, rtol=1e-12)


def test_slic_step_with_colourless_centres_is_the_grid():
    """Centres of zero colour at the cell middles: a purely spatial pass gives each pixel
    its own cell (how SLIC starts)."""
    H, W, ny, nx = 20, 30, 4, 5
    image = np.random.default_rng(1).random((H, W, 3))
    cy, cx = np.divmod(np.arange(ny * nx), nx)
    centers = np.column_stack([np.zeros((ny * nx, 3)), (cy + 0.5) * H / ny - 0.5,
                               (cx + 0.5) * W / nx - 0.5])
    labels, _, counts = kernels.slic_step(image, centers, (ny, nx), 1.0)
    cells = reference.cell_of(H, ny)[:, None] * nx + reference.cell_of(W, nx)[None, :]
    np.testing.assert_array_equal(labels, cells)
    assert counts.tolist() == [H * W // (ny * nx)] * (ny * nx)


def test_slic_step_sums_do_not_depend_on_the_thread_count():
    import numba

    rng = np.random.default_rng(2)
    image = rng.random((70, 33, 3))
    cy, cx = np.divmod(np.arange(12), 4)
    centers = np.column_stack([rng.random((12, 3)), (cy + 0.5) * 70 / 3, (cx + 0.5) * 33 / 4])
    first = kernels.slic_step(image, centers, (3, 4), 0.3)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        second = kernels.slic_step(image, centers, (3, 4), 0.3)
    finally:
        numba.set_num_threads(threads)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad, error, match", [
    (dict(image=np.zeros((4, 4))), ValueError, r"shape \(H, W, C\)"),
    (dict(image=np.zeros((4, 4, 3), dtype=np.uint8)), TypeError, "float32 or float64"),
    (dict(n_cells=(5, 1)), ValueError, "1 <= ny <= 4"),
    (dict(n_cells="ab"), TypeError, "two integers"),
    (dict(centers=np.zeros((3, 5))), ValueError, r"centers must have shape \(4, 5\)"),
    (dict(spatial_weight=-1.0), ValueError, "spatial_weight"),
])
def test_slic_step_rejects_bad_arguments(bad, error, match):
    args = dict(image=np.zeros((4, 4, 3)), centers=np.zeros((4, 5)), n_cells=(2, 2),
                spatial_weight=1.0)
    args.update(bad)
    with pytest.raises(error, match=match):
        kernels.slic_step(**args)


@st.composite
def label_maps(draw):
    H = draw(st.integers(1, 16))
    W = draw(st.integers(1, 16))
    n_values = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    labels = rng.integers(0, n_values, size=(H, W))
    if draw(st.booleans()):  # blocky maps: large pieces beside small ones
        labels = np.kron(labels[: (H + 2) // 3, : (W + 2) // 3], np.ones((3, 3), int))[:H, :W]
    return labels, draw(st.integers(1, 12))


@settings(max_examples=80, deadline=None)
@given(problem=label_maps())
def test_enforce_connectivity_matches_reference(problem):
    labels, min_size = problem
    out = kernels.enforce_connectivity(labels, min_size)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, reference.enforce_connectivity(labels, min_size))


def test_enforce_connectivity_splits_pieces_and_absorbs_fragments(xp):
    labels = np.array([
        [0, 0, 1, 1, 0, 0],
        [0, 0, 1, 1, 0, 0],
        [0, 0, 1, 2, 0, 0],
        [0, 0, 1, 1, 0, 0],
    ])
    out = kernels.enforce_connectivity(xp.asarray(labels), 3)
    assert_same_kind(out, xp.asarray(labels))
    # The two pieces of label 0 become labels 0 and 2; the single pixel of
    # label 2 shares three edges with piece 1 and one with piece 2.
    expected = np.array([
        [0, 0, 1, 1, 2, 2],
        [0, 0, 1, 1, 2, 2],
        [0, 0, 1, 1, 2, 2],
        [0, 0, 1, 1, 2, 2],
    ])
    np.testing.assert_array_equal(to_numpy(out), expected)


def test_enforce_connectivity_rejects_bad_arguments():
    with pytest.raises(ValueError, match="2-D"):
        kernels.enforce_connectivity(np.zeros(4, dtype=int), 1)
    with pytest.raises(TypeError, match="integers"):
        kernels.enforce_connectivity(np.zeros((2, 2)), 1)
    with pytest.raises(ValueError, match="min_size"):
        kernels.enforce_connectivity(np.zeros((2, 2), dtype=int), 0)


@pytest.mark.skipif(config.ENABLE_CUDASIM, reason="the CUDA simulator cannot compile to PTX")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_kernels_compile_to_ptx(dtype):
    from numba import cuda
    from numba import types as nt

    from gpucluster.kernels.cuda import slic as slic_cuda

    image = getattr(nt, dtype)[:, :, ::1]
    f64, i64 = nt.float64, nt.int64
    labels = nt.int32[:, ::1]
    for fn, signature in (
        (slic_cuda._assign_kernel, (image, f64[:, ::1], i64, i64, f64, labels)),
        (slic_cuda._window_sums_kernel,
         (image, labels, i64[::1], i64[::1], i64, i64, f64[:, :, ::1])),
    ):
        ptx, _ = cuda.compile_ptx(fn.py_func, signature, cc=(9, 0))
        assert ".entry" in ptx or ".visible .entry" in ptx
