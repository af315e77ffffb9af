"""centroid_update (CPU kernel) against the NumPy reference on random inputs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import kernels

from .._helpers import assert_same_kind, to_numpy
from . import reference


@st.composite
def problems(draw):
    n = draw(st.integers(1, 3000))
    d = draw(st.integers(1, 16))
    k = draw(st.integers(1, 10))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    X = rng.normal(size=(n, d)).astype(dtype)
    X[rng.random(n) < 0.1] = 0  # all-zero rows
    labels = rng.integers(-1 if draw(st.booleans()) else 0, k, n).astype(
        draw(st.sampled_from([np.int32, np.int64]))
    )
    weights = None if draw(st.booleans()) else rng.uniform(0, 3, n).astype(dtype)
    return X, labels, k, weights


@settings(max_examples=40, deadline=None)
@given(problem=problems())
def test_centroid_update_matches_reference(problem):
    X, labels, k, weights = problem
    sums, counts = kernels.centroid_update(X, labels, k, weights)
    ref_sums, ref_counts = reference.centroid_update(X, labels, k, weights)
    assert sums.dtype == np.float64 and counts.dtype == np.float64
    # float64 accumulation of float32 products: only the summation order differs.
    np.testing.assert_allclose(sums, ref_sums, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(counts, ref_counts, rtol=1e-12, atol=1e-9)


def test_centroid_update_on_every_backend(xp, dtype):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 6)).astype(dtype)
    labels = rng.integers(0, 4, 500).astype(np.int32)
    weights = rng.uniform(0, 2, 500).astype(dtype)
    Xx = xp.asarray(X)
    sums, counts = kernels.centroid_update(Xx, xp.asarray(labels), 4, xp.asarray(weights))
    assert_same_kind(sums, Xx)
    ref_sums, ref_counts = reference.centroid_update(X, labels, 4, weights)
    np.testing.assert_allclose(to_numpy(sums), ref_sums, rtol=1e-10)
    np.testing.assert_allclose(to_numpy(counts), ref_counts, rtol=1e-12)


def test_centroid_update_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match="labels must be < n_clusters=2, got 5"):
        kernels.centroid_update(np.ones((3, 2)), np.array([0, 1, 5]), 2)
