"""assign (CPU kernel) against the NumPy reference on random inputs, on every host backend."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import kernels

from .._helpers import assert_same_kind, rtol_for, to_numpy
from . import reference

METRICS = ["sqeuclidean", "inner_product", "cosine"]


@st.composite
def problems(draw):
    n = draw(st.integers(1, 60))
    d = draw(st.integers(1, 40))
    k = draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    centers = rng.normal(size=(k, d)).astype(dtype)
    if draw(st.booleans()):  # duplicate centres: ties must go to the lowest index
        centers[-1] = centers[0]
    if draw(st.booleans()):  # all-zero rows in both
        X[0] = 0
        centers[rng.integers(k)] = 0
    if draw(st.booleans()):  # rows that are exactly centres
        X[-1] = centers[-1]
    return X, centers


def check_against_reference(X, centers, metric, labels, distances):
    labels = to_numpy(labels)
    distances = to_numpy(distances)
    D = reference.pairwise(X, centers, metric)
    best = D.min(axis=1)
    scale = np.abs(D).max(axis=1) + 1.0
    tol = 8 * rtol_for(X.dtype) * scale
    assert labels.dtype == np.int32
    assert distances.dtype == X.dtype
    # The chosen centre is (within rounding) a nearest one.
    np.testing.assert_array_less(D[np.arange(len(X)), labels] - best, tol + 1e-300)
    np.testing.assert_allclose(distances, best, rtol=0, atol=tol.max())
    # Where the nearest centre is unambiguous, or exactly tied, labels agree
    # with the reference, which takes the lowest index.
    ref_labels = np.argmin(D, axis=1)
    second = np.sort(D, axis=1)[:, 1] if D.shape[1] > 1 else np.full(len(X), np.inf)
    clear = (second - best) > tol
    np.testing.assert_array_equal(labels[clear], ref_labels[clear])


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=40, deadline=None)
@given(problem=problems())
def test_assign_matches_reference(problem, metric):
    X, centers = problem
    labels, distances = kernels.assign(X, centers, metric)
    check_against_reference(X, centers, metric, labels, distances)


@pytest.mark.parametrize("metric", METRICS)
def test_assign_on_every_backend(xp, dtype, metric):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20)).astype(dtype)
    centers = rng.normal(size=(7, 20)).astype(dtype)
    labels, distances = kernels.assign(xp.asarray(X), xp.asarray(centers), metric)
    assert_same_kind(labels, xp.asarray(X))
    assert_same_kind(distances, xp.asarray(X))
    check_against_reference(X, centers, metric, labels, distances)


def test_exact_ties_go_to_lowest_index():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    centers = np.array([[1.0, 1.0], [-5.0, -5.0], [1.0, 1.0], [1.0, 1.0]])
    for metric in METRICS:
        labels, _ = kernels.assign(X, centers, metric)
        assert to_numpy(labels).tolist() == [0, 0, 0], metric


def test_zero_vectors_have_cosine_distance_one():
    X = np.array([[0.0, 0.0], [1.0, 0.0]])
    centers = np.array([[0.0, 0.0], [0.0, 0.0]])
    labels, distances = kernels.assign(X, centers, "cosine")
    np.testing.assert_array_equal(distances, [1.0, 1.0])
    np.testing.assert_array_equal(labels, [0, 0])


def test_assign_rejects_unknown_metric_and_shape_mismatch():
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match="metric must be one of .*'hamming'"):
        kernels.assign(X, X, "hamming")
    with pytest.raises(ValueError, match="X has 3 features but centers have 2"):
        kernels.assign(X, np.ones((2, 2)))


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=30, deadline=None)
@given(problem=problems(), weighted=st.booleans())
def test_lloyd_step_equals_assign_then_centroid_update(problem, metric, weighted):
    """The fused pass gives assign's labels and distances and the reference sums for them."""
    X, centers = problem
    weights = np.random.default_rng(0).uniform(0, 2, len(X)).astype(X.dtype) if weighted else None
    labels, distances, sums, counts = kernels.lloyd_step(X, centers, weights, metric)
    check_against_reference(X, centers, metric, labels, distances)
    assigned, assigned_distances = kernels.assign(X, centers, metric)
    np.testing.assert_array_equal(to_numpy(labels), to_numpy(assigned))
    np.testing.assert_array_equal(to_numpy(distances), to_numpy(assigned_distances))
    ref_sums, ref_counts = reference.centroid_update(X, to_numpy(labels), len(centers), weights)
    np.testing.assert_allclose(to_numpy(sums), ref_sums, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(to_numpy(counts), ref_counts, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n_features", [2, 5, 12, 40])
def test_lloyd_step_without_distances_gives_the_same_labels_and_sums(xp, metric, n_features):
    """with_distances=False: an empty distances array, and the labels and sums of the full pass
    (direct products up to 16 features, GEMM tiles above)."""
    rng = np.random.default_rng(n_features)
    X = rng.normal(size=(3000, n_features))
    centers = X[:7].copy()
    weights = rng.uniform(0.5, 2.0, 3000)
    full = kernels.lloyd_step(xp.asarray(X), xp.asarray(centers), xp.asarray(weights), metric)
    bare = kernels.lloyd_step(xp.asarray(X), xp.asarray(centers), xp.asarray(weights), metric,
                              with_distances=False)
    assert tuple(bare[1].shape) == (0,) and tuple(full[1].shape) == (3000,)
    assert_same_kind(bare[1], xp.asarray(X))
    np.testing.assert_array_equal(to_numpy(bare[0]), to_numpy(full[0]))
    for got, want in zip(bare[2:], full[2:]):
        np.testing.assert_array_equal(to_numpy(got), to_numpy(want))


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n_features", [2, 5, 40])
def test_assign_without_distances_gives_the_same_labels(xp, metric, n_features):
    """assign(with_distances=False): the labels of the full call and an empty distances array
    (direct products up to 16 features, GEMM tiles above)."""
    rng = np.random.default_rng(n_features)
    X = xp.asarray(rng.normal(size=(1500, n_features)))
    centers = X[:7, :]
    full = kernels.assign(X, centers, metric)
    bare = kernels.assign(X, centers, metric, with_distances=False)
    assert tuple(bare[1].shape) == (0,) and tuple(full[1].shape) == (1500,)
    assert_same_kind(bare[0], X)
    assert_same_kind(bare[1], X)
    np.testing.assert_array_equal(to_numpy(bare[0]), to_numpy(full[0]))


def test_lloyd_step_spans_many_tiles_and_blocks(xp):
    """Enough rows for several tiles per thread block: sums still equal the reference."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5000, 3))
    centers = X[:5].copy()
    labels, _, sums, counts = kernels.lloyd_step(xp.asarray(X), xp.asarray(centers))
    assert_same_kind(sums, xp.asarray(X))
    ref_sums, ref_counts = reference.centroid_update(X, to_numpy(labels), 5)
    np.testing.assert_allclose(to_numpy(sums), ref_sums, rtol=1e-10)
    np.testing.assert_array_equal(to_numpy(counts), ref_counts)


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=20, deadline=None)
@given(problem=problems())
def test_given_row_norms_are_the_norms_computed_inside(problem, metric):
    """Norms passed once per fit give the labels and distances the kernel gets alone."""
    X, centers = problem
    x_sq = np.einsum("ij,ij->i", X.astype(np.float64), X.astype(np.float64))
    for step in (kernels.assign, kernels.lloyd_step):
        plain = step(X, centers, metric=metric)
        given_norms = step(X, centers, metric=metric, x_sq_norms=x_sq)
        np.testing.assert_array_equal(given_norms[0], plain[0])
        np.testing.assert_allclose(given_norms[1], plain[1], rtol=rtol_for(X.dtype),
                                   atol=rtol_for(X.dtype))


def test_given_row_norms_are_used_and_checked(xp):
    """The squared distances are rebuilt from the norms given (shifted norms, shifted distances).

    80 features: past the CPU's direct products and the GPU's fused kernel
    (64), which computes differences directly and reads no norms."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 80))
    centers = rng.normal(size=(4, 80))
    x_sq = (X * X).sum(1)
    labels, distances = kernels.assign(xp.asarray(X), xp.asarray(centers),
                                       x_sq_norms=xp.asarray(x_sq + 10.0))
    plain_labels, plain = kernels.assign(X, centers)
    np.testing.assert_array_equal(to_numpy(labels), plain_labels)
    np.testing.assert_allclose(to_numpy(distances), plain + 10.0, rtol=1e-12)
    with pytest.raises(ValueError, match="x_sq_norms must have shape"):
        kernels.assign(X, centers, x_sq_norms=x_sq[:-1])


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 2, 3, 5, 16, 17])
def test_direct_products_and_gemm_tiles_agree(metric, dtype, d):
    """The CPU kernel's two ways to the nearest centre: same labels and sums, distances to rounding.

    1,000 rows make several tiles of either kind and a short last one, with
    uneven weights. With a centre repeated, direct products give the tie to
    the lower index (GEMM tiles need not: OpenBLAS may round the two
    centres' products differently).
    """
    from gpucluster.kernels.cpu import assign as cpu_assign
    from gpucluster.kernels.metric import METRIC_CODES

    code = METRIC_CODES[metric]
    rng = np.random.default_rng(d)
    X = rng.normal(size=(1000, d)).astype(dtype)
    centers = rng.normal(size=(9, d)).astype(dtype)
    weights = rng.uniform(0, 2, len(X))
    direct = cpu_assign.lloyd_step(X, centers, weights, code, direct=True)
    gemm = cpu_assign.lloyd_step(X, centers, weights, code, direct=False)
    check_against_reference(X, centers, metric, direct[0], direct[1])
    np.testing.assert_array_equal(direct[0], gemm[0])
    np.testing.assert_allclose(direct[1], gemm[1], rtol=0, atol=8 * rtol_for(dtype) * (4 * d + 1))
    np.testing.assert_allclose(direct[2], gemm[2], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(direct[3], gemm[3], rtol=1e-12)
    assigned = cpu_assign.assign(X, centers, code, direct=True)
    np.testing.assert_array_equal(assigned[0], direct[0])
    np.testing.assert_array_equal(assigned[1], direct[1])
    repeated = int(np.bincount(direct[0], minlength=9)[:8].argmax())
    centers[8] = centers[repeated]
    labels, distances = cpu_assign.assign(X, centers, code, direct=True)
    check_against_reference(X, centers, metric, labels, distances)
    assert np.any(labels == repeated) and not np.any(labels == 8)


def test_direct_products_are_chosen_up_to_the_measured_width():
    """Direct products up to DIRECT_MAX_FEATURES features (benchmarks/NOTES.md, lloyd_step at low d)."""
    from gpucluster.kernels.cpu import assign as cpu_assign

    limit = cpu_assign.DIRECT_MAX_FEATURES
    assert cpu_assign.use_direct(limit) and cpu_assign.use_direct(1)
    assert not cpu_assign.use_direct(limit + 1)
