"""kernels.cuda.slic under the CUDA simulator, against reference_slic.slic_step, on tiny images.

Besides the production launch shape, a small one (sum blocks of four
threads, bands of a few pixels, assignment blocks of 4 x 2) makes every
window span several bands and every band several passes of the threads.
"""

import numpy as np
import pytest

from gpucluster.kernels.cuda import slic as slic_cuda
from tests.kernels import reference_slic as reference


def run_slic_step(image, centers, n_cells, weight, path):
    with pytest.MonkeyPatch.context() as mp:
        if path == "small":
            mp.setattr(slic_cuda, "SUM_THREADS", 4)
            mp.setattr(slic_cuda, "BAND_PIXELS", 8)
            mp.setattr(slic_cuda, "ASSIGN_LANES", 4)
            mp.setattr(slic_cuda, "ASSIGN_ROWS", 2)
        return slic_cuda.slic_step(image, centers, *n_cells, weight)


def grid_centers(rng, H, W, C, ny, nx):
    cy, cx = np.divmod(np.arange(ny * nx), nx)
    return np.column_stack([rng.random((ny * nx, C)), (cy + rng.random(ny * nx)) * H / ny,
                            (cx + rng.random(ny * nx)) * W / nx])


@pytest.mark.parametrize("shape, n_cells, dtype, path", [
    ((6, 4, 3), (2, 2), np.float32, "small"),
    ((4, 9, 1), (2, 3), np.float64, "small"),
    ((5, 5, 2), (1, 1), np.float64, "small"),
    # The production shape simulates 128 threads a block: one block is enough.
    ((5, 5, 2), (1, 1), np.float32, "production"),
])
def test_slic_step_matches_reference(shape, n_cells, dtype, path):
    rng = np.random.default_rng(sum(shape))
    image = rng.random(shape).astype(dtype)
    centers = grid_centers(rng, *shape, *n_cells)
    labels, sums, counts = run_slic_step(image, centers, n_cells, 0.05, path)
    ref_labels, ref_sums, ref_counts = reference.slic_step(image, centers, n_cells, 0.05)
    assert labels.dtype == np.int32 and sums.dtype == np.float64 and counts.dtype == np.int64
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_allclose(sums, ref_sums, rtol=1e-12, atol=1e-12)


def test_colourless_centres_give_the_grid():
    H, W, ny, nx = 4, 6, 2, 3
    image = np.random.default_rng(3).random((H, W, 3))
    cy, cx = np.divmod(np.arange(ny * nx), nx)
    centers = np.column_stack([np.zeros((ny * nx, 3)), (cy + 0.5) * H / ny - 0.5,
                               (cx + 0.5) * W / nx - 0.5])
    labels, _, counts = run_slic_step(image, centers, (ny, nx), 1.0, "small")
    cells = reference.cell_of(H, ny)[:, None] * nx + reference.cell_of(W, nx)[None, :]
    np.testing.assert_array_equal(labels, cells)
    assert counts.tolist() == [4] * 6
