"""radius_neighbors (CPU kernel and dispatcher) against tests/kernels/reference_neighbors.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import kernels

from .._helpers import assert_same_kind, to_numpy
from . import reference_neighbors as reference
from .test_knn import problems, small_tiles

METRICS = ["euclidean", "sqeuclidean", "cosine"]


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=25, deadline=None)
@given(problem=problems(), include_self=st.booleans(),
       radius=st.floats(0.0, 3.0, allow_nan=False))
def test_radius_neighbors_matches_reference(problem, metric, include_self, radius):
    X, queries = problem
    with small_tiles():
        result = kernels.radius_neighbors(X, radius, queries=queries, metric=metric,
                                          include_self=include_self)
        counts = kernels.radius_neighbors(X, radius, queries=queries, metric=metric,
                                          include_self=include_self, return_lists=False)
    reference.assert_radius_matches(X, radius, queries, metric, include_self, result)
    np.testing.assert_array_equal(counts, result[0])


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean"])
@settings(max_examples=25, deadline=None)
@given(problem=problems(integers=True), include_self=st.booleans(),
       radius=st.sampled_from([0.0, 1.0, 2.0, 2.5, 4.0, 9.0]))
def test_radius_neighbors_exact_on_integers(problem, metric, include_self, radius):
    """Small integers make distances exact, so points exactly at the radius are listed."""
    X, queries = problem
    with small_tiles():
        result = kernels.radius_neighbors(X, radius, queries=queries, metric=metric,
                                          include_self=include_self)
    reference.assert_radius_matches(X, radius, queries, metric, include_self, result,
                                    exact=True)


@pytest.mark.parametrize("offset", [0.0, 1e3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_radius_neighbors_exact_on_an_integer_lattice_far_from_the_origin(dtype, offset):
    """Integer rows of 17 features, radius 3: pairs exactly at the radius are listed (ties
    at eps in DBSCAN, which centred rows by their mean, no float, and lost them)."""
    X = (np.random.RandomState(0).randint(0, 3, size=(80, 17)) + offset).astype(dtype)
    result = kernels.radius_neighbors(X, 3.0, metric="euclidean")
    reference.assert_radius_matches(X - offset, 3.0, None, "euclidean", True, result, exact=True)


@pytest.mark.parametrize("queries", [False, True])
def test_radius_neighbors_far_blobs_in_float32(queries):
    """float32 blobs at 1e4 (rounding of the Gram tiles about 1e1, far above eps^2): the
    search moves them near the origin, queries by the same centre."""
    rng = np.random.default_rng(1)
    X = (rng.normal(scale=0.3, size=(60, 20)) + 1e4).astype(np.float32)
    Q = X[10:30] if queries else None
    result = kernels.radius_neighbors(X, 1.2, queries=Q, metric="euclidean")
    X64 = X.astype(np.float64)
    Q64 = X64 if Q is None else Q.astype(np.float64)
    D = np.sqrt(((Q64[:, None, :] - X64[None, :, :]) ** 2).sum(axis=2))
    np.testing.assert_array_equal(result[0], (D <= 1.2).sum(axis=1))


def test_radius_neighbors_default_tiles_match_reference(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 4)).astype(dtype)
    X[10] = X[20]
    for metric, radius in (("euclidean", 0.8), ("sqeuclidean", 0.5), ("cosine", 0.05)):
        result = kernels.radius_neighbors(X, radius, metric=metric)
        reference.assert_radius_matches(X, radius, None, metric, True, result)


def test_radius_neighbors_hand_computed():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    counts, indptr, indices = kernels.radius_neighbors(X, 1.0)
    np.testing.assert_array_equal(counts, [3, 3, 1, 3])
    np.testing.assert_array_equal(indptr, [0, 3, 6, 7, 10])
    np.testing.assert_array_equal(indices, [0, 1, 3, 0, 1, 3, 2, 0, 1, 3])
    counts, indptr, indices = kernels.radius_neighbors(X, 1.0, include_self=False)
    np.testing.assert_array_equal(indices, [1, 3, 0, 3, 0, 1])
    # Radius 0 still finds a row itself and its exact duplicates.
    counts = kernels.radius_neighbors(X, 0.0, return_lists=False)
    np.testing.assert_array_equal(counts, [1, 2, 1, 2])


def test_radius_neighbors_cosine_zero_rows():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    counts, indptr, indices = kernels.radius_neighbors(X, 0.5, metric="cosine")
    # The zero row is at distance 1 from everything, itself included.
    np.testing.assert_array_equal(counts, [0, 2, 1, 2])
    np.testing.assert_array_equal(indices, [1, 3, 2, 1, 3])
    counts = kernels.radius_neighbors(X, 1.0, metric="cosine", return_lists=False)
    np.testing.assert_array_equal(counts, [4, 4, 4, 4])


def test_radius_neighbors_output_follows_input(xp, dtype):
    rng = np.random.default_rng(1)
    Xn = rng.normal(size=(40, 3)).astype(dtype)
    X = xp.asarray(Xn)
    result = kernels.radius_neighbors(X, 1.0, queries=X[:7, :])
    for a in result:
        assert_same_kind(a, X)
        assert to_numpy(a).dtype == np.int64
    assert tuple(result[0].shape) == (7,) and tuple(result[1].shape) == (8,)
    reference.assert_radius_matches(Xn, 1.0, Xn[:7], "euclidean", True,
                                    [to_numpy(a) for a in result])
    counts = kernels.radius_neighbors(X, 1.0, return_lists=False)
    assert_same_kind(counts, X)


def test_radius_neighbors_empty():
    X = np.ones((0, 2))
    counts, indptr, indices = kernels.radius_neighbors(X, 1.0)
    assert counts.shape == (0,) and indptr.tolist() == [0] and indices.shape == (0,)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"radius": -1.0}, ValueError, "radius must be >= 0, got -1.0"),
        ({"radius": float("nan")}, ValueError, "radius must be >= 0, got nan"),
        ({"radius": "1"}, TypeError, "radius must be a real number"),
        ({"radius": 1.0, "metric": "chebyshev"}, ValueError, "chebyshev"),
        ({"radius": 1.0, "queries": np.ones((3, 1))}, ValueError, "features"),
    ],
)
def test_radius_neighbors_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        kernels.radius_neighbors(np.ones((5, 2)), **kwargs)
