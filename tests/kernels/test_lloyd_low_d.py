"""The CPU lloyd_step's low-width paths: widths compiled as constants, and sums added by label runs."""

import numpy as np
import pytest

from gpucluster import kernels
from gpucluster.kernels.cpu import assign as cpu_assign

from .._helpers import to_numpy
from . import reference
from .test_assign import check_against_reference


def rows_in_label_runs(n, d, n_centers, dtype, seed):
    """Rows whose nearest centres come in long runs for the first half, shuffled for the second.

    The first half is sorted by nearest centre, as neighbouring pixels of an
    image are, so its tiles take the runs path; the shuffled half's tiles
    take the row-by-row sums.
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_centers, d)).astype(dtype) * 4
    X = (centers[rng.integers(n_centers, size=n)] + rng.normal(size=(n, d))).astype(dtype)
    nearest = np.argmin(reference.pairwise(X, centers, "sqeuclidean"), axis=1)
    half = n // 2
    X[:half] = X[:half][np.argsort(nearest[:half], kind="stable")]
    return X, centers


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 2, 3, 5, 8, 9, 16])
def test_lloyd_step_sums_by_runs_and_by_rows_match_the_reference(d, dtype):
    """Every width (constants up to 8, then the general loops), both ways to the sums, uneven weights.

    3,001 rows make tiles of both kinds, a short last tile and several
    blocks. The runs add in another order than the reference, so the sums
    agree to float64 rounding.
    """
    X, centers = rows_in_label_runs(3001, d, 6, dtype, seed=d)
    weights = np.random.default_rng(0).uniform(0, 2, len(X)).astype(dtype)
    labels, distances, sums, counts = kernels.lloyd_step(X, centers, weights)
    check_against_reference(X, centers, "sqeuclidean", labels, distances)
    ref_sums, ref_counts = reference.centroid_update(X, to_numpy(labels), len(centers), weights)
    np.testing.assert_allclose(to_numpy(sums), ref_sums, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(to_numpy(counts), ref_counts, rtol=1e-12)


def test_tiles_in_runs_and_scattered_tiles_both_occur():
    """The data above does exercise both paths: some tiles have long runs, some do not."""
    X, centers = rows_in_label_runs(3001, 5, 6, np.float32, seed=5)
    labels = to_numpy(kernels.assign(X, centers)[0])
    tile = cpu_assign.DIRECT_TILE_ROWS
    changes = [np.count_nonzero(np.diff(labels[s:s + tile])) for s in range(0, len(X), tile)]
    long_runs = [(c + 1) * cpu_assign.MIN_MEAN_RUN <= tile for c in changes]
    assert any(long_runs) and not all(long_runs)
