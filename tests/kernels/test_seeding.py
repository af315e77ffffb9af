"""seeding_potentials / seeding_update (CPU kernels) and the k-means++ seeding built on them."""

import numpy as np
import pytest
import sklearn.cluster
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import kernels, kmeans_plusplus
from gpucluster.kernels.cpu import seeding as cpu_seeding

from .._helpers import assert_same_kind, make_blobs_np, rtol_for, to_numpy
from . import reference_seeding as reference


def sq_norms(X):
    return np.einsum("ij,ij->i", X, X).astype(X.dtype)


@st.composite
def problems(draw):
    n = draw(st.integers(1, 80))
    d = draw(st.integers(1, 40))
    t = draw(st.integers(1, 8))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    X = (rng.normal(size=(n, d)) * draw(st.sampled_from([1e-3, 1.0, 30.0]))).astype(dtype)
    candidates = X[rng.integers(0, n, t)].copy()  # k-means++ candidates are rows of X
    if draw(st.booleans()):
        candidates[0] = rng.normal(size=d)  # and one that is not
    closest = rng.uniform(0, 2 * d, size=n).astype(dtype)
    if draw(st.booleans()):
        closest[rng.integers(0, n)] = np.inf  # no centre chosen yet
    if draw(st.booleans()):
        closest[rng.integers(0, n)] = 0  # a chosen centre
    weights = rng.uniform(0.1, 3.0, size=n) if draw(st.booleans()) else None
    return X, candidates, closest, weights


def bound(X, candidates):
    """(t, n) rounding bound of each |x|^2 - 2 x.c + |c|^2 rebuilt in X's dtype."""
    x_norm = np.sqrt((X.astype(np.float64) ** 2).sum(1))
    c_norm = np.sqrt((candidates.astype(np.float64) ** 2).sum(1))
    return 8 * rtol_for(X.dtype) * ((x_norm[None, :] + c_norm[:, None]) ** 2 + 1.0)


def tolerance(X, candidates, weights):
    """(t,) rounding bound of each potential: the rows' bounds, weighted and summed."""
    return bound(X, candidates) @ (np.ones(len(X)) if weights is None else weights)


@settings(max_examples=60, deadline=None)
@given(problem=problems())
def test_potentials_match_reference(problem):
    X, candidates, closest, weights = problem
    got = kernels.seeding_potentials(X, sq_norms(X), candidates, closest, weights)
    want = reference.potentials(X, candidates, closest, weights)
    assert got.dtype == np.float64 and got.shape == (len(candidates),)
    np.testing.assert_array_less(np.abs(got - want), tolerance(X, candidates, weights) + 1e-300)


@settings(max_examples=30, deadline=None)
@given(problem=problems())
def test_out_receives_each_candidates_min_distances(problem):
    X, candidates, closest, weights = problem
    out = np.full((len(candidates), len(X)), -1.0, dtype=X.dtype)
    got = kernels.seeding_potentials(X, sq_norms(X), candidates, closest, weights, out=out)
    want = np.minimum(closest.astype(np.float64)[None, :],
                      reference.sq_distances(X, candidates))
    assert np.all(np.abs(out - want) <= bound(X, candidates)), np.abs(out - want).max()
    w = np.ones(len(X)) if weights is None else weights
    np.testing.assert_allclose(got, out.astype(np.float64) @ w, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(problem=problems())
def test_update_matches_reference_in_place(problem):
    X, candidates, closest, _ = problem
    before = closest.copy()
    out = kernels.seeding_update(X, sq_norms(X), candidates[0], closest)
    assert out is closest  # NumPy input is updated in place
    want = reference.update(X, candidates[0], before)
    assert np.all(np.abs(out - want) <= bound(X, candidates[:1])[0]), np.abs(out - want).max()
    assert np.all(out <= before)  # never raises a distance


def test_update_of_a_row_by_itself_is_zero():
    X = np.random.default_rng(0).normal(size=(50, 7))
    closest = np.full(50, np.inf)
    kernels.seeding_update(X, sq_norms(X), X[13], closest)
    assert closest[13] == 0.0
    assert np.all(np.isfinite(closest)) and np.all(closest >= 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_many_tiles_and_blocks(monkeypatch, dtype):
    """Tiles of 64 rows split over several thread blocks, with a ragged last tile."""
    monkeypatch.setattr(cpu_seeding, "TILE_BYTES", 1)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1000, 5)).astype(dtype)
    assert cpu_seeding._layout(X)[0] == 64
    candidates = X[[3, 500, 999]]
    closest = rng.uniform(0, 10, size=1000).astype(dtype)
    weights = rng.uniform(0, 2, size=1000)
    x_sq = sq_norms(X)
    want = reference.potentials(X, candidates, closest, weights)
    got = kernels.seeding_potentials(X, x_sq, candidates, closest, weights)
    np.testing.assert_allclose(got, want, rtol=rtol_for(dtype))
    # Norms given by the caller (the rows' own) are used as they are.
    given_norms = kernels.seeding_potentials(X, x_sq, candidates, closest, weights,
                                             candidate_sq_norms=x_sq[[3, 500, 999]])
    np.testing.assert_allclose(given_norms, want, rtol=rtol_for(dtype))
    want = reference.update(X, X[500], closest)
    kernels.seeding_update(X, x_sq, X[500], closest, center_sq_norm=x_sq[500])
    np.testing.assert_allclose(closest, want, rtol=rtol_for(dtype), atol=rtol_for(dtype))


def test_every_backend(xp, dtype):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 6)).astype(dtype)
    candidates = X[[1, 2, 3]]
    closest = rng.uniform(0, 5, size=200).astype(dtype)
    weights = rng.uniform(0, 2, size=200)
    Xb = xp.asarray(X)
    pots = kernels.seeding_potentials(Xb, xp.asarray(sq_norms(X)), xp.asarray(candidates),
                                      xp.asarray(closest), xp.asarray(weights))
    assert_same_kind(pots, Xb)
    want = reference.potentials(X, candidates, closest, weights)
    np.testing.assert_allclose(to_numpy(pots), want, rtol=rtol_for(dtype))
    out = kernels.seeding_update(Xb, xp.asarray(sq_norms(X)), xp.asarray(X[7]), xp.asarray(closest))
    assert_same_kind(out, Xb)
    np.testing.assert_allclose(to_numpy(out), reference.update(X, X[7], closest),
                               rtol=rtol_for(dtype), atol=rtol_for(dtype))


def test_bad_shapes_and_dtypes_are_rejected():
    X = np.zeros((10, 3))
    x_sq = np.zeros(10)
    with pytest.raises(ValueError, match="features"):
        kernels.seeding_potentials(X, x_sq, np.zeros((2, 4)), np.zeros(10))
    with pytest.raises(ValueError, match="closest_sq"):
        kernels.seeding_potentials(X, x_sq, np.zeros((2, 3)), np.zeros(9))
    with pytest.raises(ValueError, match="sample_weight"):
        kernels.seeding_potentials(X, x_sq, np.zeros((2, 3)), np.zeros(10), np.ones(3))
    with pytest.raises(ValueError, match="1-D"):
        kernels.seeding_update(X, x_sq, np.zeros((1, 3)), np.zeros(10))
    with pytest.raises(TypeError, match="dtype"):
        kernels.seeding_update(X, x_sq, np.zeros(3), np.zeros(10, dtype=np.float32))
    with pytest.raises(ValueError, match="candidate_sq_norms"):
        kernels.seeding_potentials(X, x_sq, np.zeros((2, 3)), np.zeros(10),
                                   candidate_sq_norms=np.zeros(3))
    with pytest.raises(ValueError, match="out must have shape"):
        kernels.seeding_potentials(X, x_sq, np.zeros((2, 3)), np.zeros(10), out=np.zeros((10, 2)))
    with pytest.raises(TypeError, match="out must be"):
        kernels.seeding_potentials(X, x_sq, np.zeros((2, 3)), np.zeros(10),
                                   out=np.zeros((2, 10), dtype=np.float32))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("trials", [None, 6], ids=["kept-distances", "update-pass"])
def test_kmeans_plusplus_picks_the_rows_the_unfused_seeding_picks(xp, seed, weighted, trials):
    """Same seed, same draws, same choice rule: the same rows as the (trials, n) reference.

    4 features: the default 4 trials keep their distances, 6 trials take the
    seeding_update pass.
    """
    X, _ = make_blobs_np(400, 4, centers=6, seed=seed, cluster_std=2.0)
    w = np.random.default_rng(seed).uniform(0.5, 2.0, size=len(X)) if weighted else None
    want = reference.kmeans_plusplus(X, 9, sample_weight=w, random_state=seed,
                                     n_local_trials=trials)
    centers, idx = kmeans_plusplus(xp.asarray(X), 9, random_state=seed, n_local_trials=trials,
                                   sample_weight=None if w is None else xp.asarray(w))
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(to_numpy(centers), X[want])


def test_kmeans_plusplus_inertia_close_to_sklearn():
    """float32 blobs: the mean seeding inertia over seeds is within 5% of scikit-learn's."""
    X, _ = make_blobs_np(3000, 8, centers=12, seed=5, cluster_std=1.5, dtype=np.float32)

    def inertia(centers):
        return reference.sq_distances(X, to_numpy(centers)).min(axis=0).sum()

    ours = np.mean([inertia(kmeans_plusplus(X, 12, random_state=s)[0]) for s in range(5)])
    ref = np.mean([inertia(sklearn.cluster.kmeans_plusplus(X, 12, random_state=s)[0])
                   for s in range(5)])
    assert abs(ours - ref) <= 0.05 * ref
