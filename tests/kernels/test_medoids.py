"""The k-medoids kernels (BUILD gains, medoid assignment, FasterPAM sweep) against references."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from gpucluster import kernels
from gpucluster.kernels.cuda import medoids as cuda_medoids

from .._helpers import assert_same_kind, rtol_for, to_numpy
from . import reference_medoids as reference


def _distances(rng, n, d=3, duplicates=False):
    X = rng.normal(size=(n, d))
    if duplicates and n > 2:
        X[rng.integers(0, n, size=n // 3)] = X[0]
    return cdist(X, X)


def _state(D, medoids):
    md = np.ascontiguousarray(D[:, medoids], dtype=np.float64)
    nearest, nearest_d = kernels.medoid_assignment(md, medoids)
    return np.array(medoids, dtype=np.int64), md, nearest, nearest_d


@st.composite
def problems(draw):
    n = draw(st.integers(2, 30))
    k = draw(st.integers(1, min(n, 5)))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    D = _distances(rng, n, duplicates=draw(st.booleans()))
    medoids = rng.choice(n, size=k, replace=False).astype(np.int64)
    return D, medoids


@settings(max_examples=30, deadline=None)
@given(problem=problems(), dtype=st.sampled_from([np.float32, np.float64]))
def test_build_gains_matches_reference(problem, dtype):
    D, medoids = problem
    rows = D.astype(dtype)
    nearest = rows[:, medoids].min(axis=1)
    gains = kernels.build_gains(rows, nearest)
    expected = reference.build_gains(rows, nearest)
    np.testing.assert_allclose(gains, expected, rtol=rtol_for(np.float64), atol=1e-12)
    # The CUDA implementation is array-API code: on NumPy it is the same formula.
    np.testing.assert_allclose(cuda_medoids.build_gains(rows, nearest.astype(np.float64)),
                               expected, rtol=rtol_for(np.float64), atol=1e-12)


def test_build_gains_follows_the_rows(xp):
    D = _distances(np.random.default_rng(0), 12)
    nearest = D[:, [0, 5]].min(axis=1)
    gains = kernels.build_gains(xp.asarray(D[2:7]), xp.asarray(nearest))
    assert_same_kind(gains, xp.asarray(D))
    np.testing.assert_allclose(to_numpy(gains), reference.build_gains(D[2:7], nearest))


def test_build_gains_hand_computed():
    # Samples at 0, 1 and 10 on a line; the only medoid so far is 0 (D = 0, 1, 10).
    D = np.abs(np.subtract.outer([0.0, 1.0, 10.0], [0.0, 1.0, 10.0]))
    gains = kernels.build_gains(D, D[:, 0])
    # Sample 0 is the medoid: no gain. Sample 1 gains its own 1, and 1 from sample 2
    # (10 -> 9); sample 2 gains its own 10 and nothing from the others.
    np.testing.assert_allclose(gains, [0.0, 2.0, 10.0])


@settings(max_examples=30, deadline=None)
@given(problem=problems())
def test_medoid_assignment_matches_reference(problem):
    D, medoids = problem
    md = D[:, medoids]
    nearest, nearest_d = kernels.medoid_assignment(md, medoids)
    ref_nearest, ref_d = reference.medoid_assignment(md, medoids)
    np.testing.assert_array_equal(nearest_d, ref_d)
    # Positions agree except between medoids at exactly the same distance.
    first_ok = np.isclose(md[np.arange(len(D)), nearest[:, 0]], ref_d[:, 0])
    assert first_ok.all()
    assert (nearest[medoids, 0] == np.arange(len(medoids))).all(), "a medoid is its own nearest"


def test_medoid_assignment_single_medoid_has_no_second():
    D = _distances(np.random.default_rng(1), 6)
    nearest, nearest_d = kernels.medoid_assignment(D[:, [3]], np.array([3]))
    assert (nearest[:, 0] == 0).all() and (nearest[:, 1] == -1).all()
    assert np.isinf(nearest_d[:, 1]).all()


@settings(max_examples=40, deadline=None)
@given(problem=problems(), dtype=st.sampled_from([np.float32, np.float64]))
def test_fasterpam_sweep_matches_reference(problem, dtype):
    D, medoids = problem
    if len(medoids) < 2:
        return
    rows = D.astype(dtype)
    med, md, nearest, nearest_d = _state(rows.astype(np.float64), medoids)
    swapped = kernels.fasterpam_sweep(rows, 0, med, md, nearest, nearest_d)
    ref_med, ref_swapped = reference.fasterpam_one_sweep(rows, medoids, 0, len(D))
    np.testing.assert_array_equal(med, ref_med)
    np.testing.assert_array_equal(swapped, ref_swapped)
    # The state kept up to date swap by swap equals the state computed afresh.
    np.testing.assert_array_equal(md, rows[:, med].astype(np.float64))
    _, fresh_d = kernels.medoid_assignment(md, med)
    np.testing.assert_array_equal(nearest_d, fresh_d)
    assert np.isclose(nearest_d[:, 0].sum(), reference.loss(rows, med), rtol=1e-12)


def test_fasterpam_sweep_in_blocks_equals_one_sweep():
    """Rows handed over in blocks give the same swaps as all rows at once (state carries over)."""
    D = _distances(np.random.default_rng(3), 40, d=2)
    start_medoids = np.array([0, 1, 2, 3], dtype=np.int64)
    whole = _state(D, start_medoids)
    swapped_whole = kernels.fasterpam_sweep(D, 0, *whole)
    blocks = _state(D, start_medoids)
    swapped_blocks = []
    for start in range(0, 40, 7):
        stop = min(40, start + 7)
        swapped_blocks += kernels.fasterpam_sweep(D[start:stop], start, *blocks).tolist()
    assert swapped_blocks == swapped_whole.tolist() and len(swapped_blocks) > 0
    for a, b in zip(whole, blocks):
        np.testing.assert_array_equal(a, b)


def test_fasterpam_sweeps_reach_the_reference_result():
    """Sweeps repeated until none swaps: FasterPAM's result and loss, a local optimum."""
    rng = np.random.default_rng(4)
    D = _distances(rng, 60, d=4)
    start_medoids = rng.choice(60, size=5, replace=False)
    state = _state(D, start_medoids)
    while kernels.fasterpam_sweep(D, 0, *state).shape[0]:
        pass
    ref_med, ref_loss, _, _ = reference.fasterpam(D, start_medoids)
    np.testing.assert_array_equal(state[0], ref_med)
    assert np.isclose(reference.loss(D, state[0]), ref_loss, rtol=1e-12)
    assert reference.best_single_swap(D, state[0]) >= ref_loss * (1 - 1e-12)


def test_fasterpam_sweep_state_must_be_writable_and_typed():
    D = _distances(np.random.default_rng(5), 8)
    med, md, nearest, nearest_d = _state(D, np.array([0, 1]))
    with pytest.raises(TypeError, match="must be writable and C-contiguous"):
        kernels.fasterpam_sweep(D, 0, med, np.asfortranarray(md), nearest, nearest_d)
    with pytest.raises(TypeError, match="medoids must be int64"):
        kernels.fasterpam_sweep(D, 0, med.astype(np.int32), md, nearest, nearest_d)
    with pytest.raises(ValueError, match="at least two medoids"):
        one = _state(D, np.array([0]))
        kernels.fasterpam_sweep(D, 0, *one)
    with pytest.raises(ValueError, match="outside"):
        kernels.fasterpam_sweep(D[:4], 6, med, md, nearest, nearest_d)
    with pytest.raises(ValueError, match="columns"):
        kernels.fasterpam_sweep(D[:, :5], 0, med, md, nearest, nearest_d)
