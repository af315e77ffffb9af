"""far_centre: the neighbour searches' 'far from the origin' test, and its shortcut by the mean.

``near_by_mean`` must never leave rows as they are where the median test
would centre them, so each case compares ``far_centre`` with that test
written out (``median_test``), on data placed just either side of its
threshold as well as well away from it.
"""

import types

import numpy as np
import pytest

from gpucluster.kernels import pairwise
from gpucluster.kernels.metric import SQEUCLIDEAN


def median_test(X):
    """The median test alone: the sample's median when its squared norm exceeds the mean
    squared distance of the sample's rows to it, else None."""
    sample = X[::max(1, X.shape[0] // pairwise.CENTRE_SAMPLE_ROWS)].astype(np.float64)
    middle = np.median(sample, axis=0)
    spread = float(np.mean(np.sum((sample - middle) ** 2, axis=1)))
    return None if float(np.sum(middle * middle)) <= spread else middle.astype(X.dtype)


def assert_same_as_median_test(X):
    got, want = pairwise.far_centre(np, X, SQEUCLIDEAN), median_test(X)
    assert (got is None) == (want is None), (X.shape, want)
    if want is not None:
        np.testing.assert_array_equal(got, want)


def threshold(X, direction):
    """The offset t (bisected) at which ``X + t * direction`` starts being centred."""
    low, high = 0.0, 1.0
    while median_test(X + high * direction) is None:
        low, high = high, 2 * high
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (low, middle) if median_test(X + middle * direction) is not None else (middle, high)
    return high


def skewed(rng, n, d):
    """Rows whose median sits far from their mean in every feature (a lopsided mixture)."""
    heavy = rng.random((n, d)) < 0.3
    return np.where(heavy, rng.normal(3.0, 0.2, (n, d)), rng.normal(0.0, 0.2, (n, d)))


def two_point(rng, n, d):
    """Each feature 0 in (n + 1) // 2 rows and 1 in the others: the median is almost one
    deviation from the mean (the most a median can be), below it, so moved towards
    negative values the rows meet the bound almost where they meet the median test."""
    return np.stack([rng.permutation(np.arange(n) >= (n + 1) // 2) for _ in range(d)],
                    axis=1).astype(np.float64)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(7, 1), (41, 3), (301, 16), (2501, 8)])
def test_the_decision_is_the_median_tests_either_side_of_its_threshold(seed, shape):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal, lambda shape: skewed(rng, *shape),
         lambda shape: two_point(rng, *shape))[seed % 3](shape)
    direction = -np.ones(shape[1]) if seed % 3 == 2 else rng.standard_normal(shape[1])
    direction /= np.linalg.norm(direction)
    t = threshold(X, direction)
    for scale in (0.0, 0.5, 0.9, 0.999, 1 - 1e-9, 1.0, 1 + 1e-9, 1.001, 1.1, 2.0, 1e3):
        for dtype in (np.float64, np.float32):
            assert_same_as_median_test((X + scale * t * direction).astype(dtype))


@pytest.mark.parametrize("rows", [
    np.zeros((5, 3)), np.ones((5, 3)), np.eye(4), np.array([[0.0, 0.0], [0.0, 1.0]]),
    np.array([[1.0, 1.0], [1.0, 1.0], [-3.0, -3.0]]), np.array([[2.0], [4.0]]),
])
def test_constant_lattice_and_two_point_rows(rows):
    assert_same_as_median_test(rows)


def test_rows_near_the_origin_skip_the_median():
    """Standardised features and unit rows are decided from their mean and deviations (the
    median of 1,024 rows of 512 features took 16 of the check's 16 ms); rows at an offset
    still take it, and are centred by it."""
    taken = []

    def median(a, axis):
        taken.append(a.shape)
        return np.median(a, axis=axis)

    lib = types.SimpleNamespace(**{name: getattr(np, name) for name in (
        "float64", "mean", "sqrt", "abs", "sum")}, median=median)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 32)).astype(np.float32)
    units = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert pairwise.far_centre(lib, X, SQEUCLIDEAN) is None
    assert pairwise.far_centre(lib, units, SQEUCLIDEAN) is None
    assert taken == []
    np.testing.assert_array_equal(pairwise.far_centre(lib, X + 100.0, SQEUCLIDEAN),
                                  median_test(X + 100.0))
    assert taken == [(1500, 32)]
