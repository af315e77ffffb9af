"""kernels.cuda.seeding under the CUDA simulator, against tests/kernels/reference_seeding.py.

The simulator runs one Python thread per CUDA thread and reads module
constants at run time, so the tests shrink the launch: blocks of four threads
and at most two blocks make rows stride over the grid and the shared-memory
reduction take several steps.
"""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster.kernels.cuda import seeding as seeding_cuda
from tests._helpers import rtol_for
from tests.kernels import reference_seeding as reference

DTYPES = (np.float32, np.float64)


@contextmanager
def small_launch(block_rows=4, max_blocks=2):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(seeding_cuda, "BLOCK_ROWS", block_rows)
        mp.setattr(seeding_cuda, "MAX_BLOCKS", max_blocks)
        yield


def make_problem(rng, n, d, t, dtype):
    X = rng.normal(size=(n, d)).astype(dtype)
    candidates = X[rng.integers(0, n, t)].copy()
    closest = rng.uniform(0, 2 * d, size=n).astype(dtype)
    closest[rng.integers(0, n)] = np.inf
    weights = rng.uniform(0.1, 3.0, size=n)
    return X, candidates, closest, weights


@settings(max_examples=12, deadline=None)
@given(
    n=st.integers(1, 21),
    d=st.integers(1, 4),
    t=st.integers(1, 3),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**31 - 1),
)
def test_potentials_match_reference(n, d, t, dtype, seed):
    X, candidates, closest, weights = make_problem(np.random.default_rng(seed), n, d, t, dtype)
    with small_launch():
        got = seeding_cuda.potentials(X, None, weights, candidates, closest)
    want = reference.potentials(X, candidates, closest, weights)
    assert got.dtype == np.float64 and got.shape == (t,)
    np.testing.assert_allclose(got, want, rtol=rtol_for(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_update_matches_reference_in_place(dtype):
    rng = np.random.default_rng(3)
    X, candidates, closest, _ = make_problem(rng, 13, 3, 1, dtype)
    want = reference.update(X, candidates[0], closest)
    with small_launch():
        seeding_cuda.update(X, None, candidates[0], closest)
    assert closest.dtype == dtype
    np.testing.assert_allclose(closest, want, rtol=rtol_for(dtype))


def test_one_block_holds_every_row():
    """The default-sized reduction with fewer rows than threads: idle threads add nothing."""
    X, candidates, closest, weights = make_problem(np.random.default_rng(4), 5, 2, 2, np.float64)
    with small_launch(block_rows=8, max_blocks=1024):
        got = seeding_cuda.potentials(X, None, weights, candidates, closest)
    np.testing.assert_allclose(got, reference.potentials(X, candidates, closest, weights),
                               rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_receives_each_candidates_min_distances(dtype):
    X, candidates, closest, weights = make_problem(np.random.default_rng(5), 11, 3, 3, dtype)
    out = np.full((3, 11), -1, dtype=dtype)
    with small_launch():
        got = seeding_cuda.potentials(X, None, weights, candidates, closest, out)
    want = np.minimum(closest.astype(np.float64)[None, :], reference.sq_distances(X, candidates))
    np.testing.assert_allclose(out, want, rtol=rtol_for(dtype))
    np.testing.assert_allclose(got, out.astype(np.float64) @ weights, rtol=rtol_for(dtype))


def gemm_bound(X, candidates, weights=None):
    """(t, n) rounding bound of |x|^2 - 2 x.c + |c|^2 rebuilt in X's dtype (as for the CPU kernel)."""
    x_norm = np.sqrt((X.astype(np.float64) ** 2).sum(1))
    c_norm = np.sqrt((candidates.astype(np.float64) ** 2).sum(1))
    return 8 * rtol_for(X.dtype) * ((x_norm[None, :] + c_norm[:, None]) ** 2 + 1.0)


@pytest.mark.parametrize("given_norms", [True, False], ids=["norms", "no-norms"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_potentials_match_reference_over_many_tiles(dtype, given_norms):
    """The GEMM path (forced by a threshold of 0) over tiles of about 5 rows, with and without out."""
    from gpucluster import config_context

    X, candidates, closest, weights = make_problem(np.random.default_rng(6), 23, 4, 3, dtype)
    x_sq = (X * X).sum(1) if given_norms else None
    out = np.full((3, 23), -1, dtype=dtype)
    with small_launch(), pytest.MonkeyPatch.context() as mp:
        mp.setattr(seeding_cuda, "DIRECT_MAX_FEATURES", 0)
        with config_context(memory_budget=5 * (3 + 4) * X.itemsize):
            got = seeding_cuda.potentials(X, x_sq, weights, candidates, closest, out)
            no_out = seeding_cuda.potentials(X, x_sq, weights, candidates, closest)
    want = np.minimum(closest.astype(np.float64)[None, :], reference.sq_distances(X, candidates))
    bound = gemm_bound(X, candidates)
    assert np.all(np.abs(out - want) <= bound), np.abs(out - want).max()
    assert got.dtype == np.float64 and got.shape == (3,)
    np.testing.assert_array_less(np.abs(got - want @ weights), bound @ weights)
    np.testing.assert_allclose(got, out.astype(np.float64) @ weights, rtol=1e-12)
    np.testing.assert_allclose(no_out, got, rtol=1e-12)


def test_gemm_path_rebuilds_distances_from_the_norms_given():
    """Norms shifted by 1 shift each unclipped distance by 1: the GEMM path reads them."""
    X, candidates, _, weights = make_problem(np.random.default_rng(7), 9, 3, 2, np.float64)
    closest = np.full(9, np.inf)
    x_sq = (X * X).sum(1)
    with small_launch(), pytest.MonkeyPatch.context() as mp:
        mp.setattr(seeding_cuda, "DIRECT_MAX_FEATURES", 0)
        plain = seeding_cuda.potentials(X, x_sq, weights, candidates, closest)
        shifted = seeding_cuda.potentials(X, x_sq + 1.0, weights, candidates, closest)
    np.testing.assert_allclose(shifted, plain + weights.sum(), rtol=1e-12)
