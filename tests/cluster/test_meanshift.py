"""MeanShift and estimate_bandwidth: scikit-learn's centres (to 1e-5) and labels on blobs,
every seeding, cluster_all, backends, warnings and errors, estimator checks."""

import inspect

import numpy as np
import pytest
from sklearn import cluster as sk
from sklearn.utils.estimator_checks import parametrize_with_checks

from gpucluster.cluster.meanshift import (
    MeanShift,
    distinct_centers,
    estimate_bandwidth,
    get_bin_seeds,
    mean_shift,
)

from .._helpers import assert_same_kind, labels_agree, make_blobs_np, to_numpy

HAND_X = np.array([[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]], dtype=np.float64)


@parametrize_with_checks([MeanShift()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _same_centres(ours, theirs):
    ours, theirs = to_numpy(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


@pytest.mark.parametrize("params", [
    {}, dict(bin_seeding=True), dict(bandwidth=1.0, cluster_all=False),
    dict(bandwidth=2.0, bin_seeding=True, min_bin_freq=3), dict(bandwidth=1.5, max_iter=2),
], ids=["estimated", "bins", "orphans", "min_bin_freq", "max_iter"])
@pytest.mark.parametrize("n,d,seed", [(100, 2, 0), pytest.param(120, 5, 1, marks=pytest.mark.slow)])
def test_matches_sklearn_on_blobs(params, n, d, seed):
    """Same centres to 1e-5, the same labels (ARI 1 and equal) and n_iter as scikit-learn."""
    X, _ = make_blobs_np(n, d, centers=4, seed=seed)
    ref = sk.MeanShift(**params).fit(X)
    ms = MeanShift(**params).fit(X)
    _same_centres(ms.cluster_centers_, ref.cluster_centers_)
    assert labels_agree(ms.labels_, ref.labels_) == 1.0
    np.testing.assert_array_equal(ms.labels_, ref.labels_)
    assert ms.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ms.predict(X[:40]), ref.predict(X[:40]))


@pytest.mark.parametrize("cluster_all", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_estimated_bandwidth_of_zero_matches_sklearn(seed, cluster_all):
    """A few rows (the quantile's neighbour is the row itself) or many duplicates estimate a
    bandwidth of 0: every distinct row is its own centre, as scikit-learn's radius search
    finds, where the GEMM's rounding used to drop or merge seeds."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3 + 3 * (seed % 2), 2 + seed % 3)) * 10.0 ** (seed - 3)
    if seed % 2:
        X[3:] = X[:3]
    assert sk.estimate_bandwidth(X) == 0.0
    ref = sk.MeanShift(cluster_all=cluster_all).fit(X)
    ms = MeanShift(cluster_all=cluster_all).fit(X)
    _same_centres(ms.cluster_centers_, ref.cluster_centers_)
    np.testing.assert_array_equal(ms.labels_, ref.labels_)
    assert ms.n_iter_ == ref.n_iter_ == 0


def _sklearn_with_tree_search(monkeypatch):
    """scikit-learn's MeanShift with its radius and nearest-centre searches on a k-d tree
    (exact differences), not the brute GEMM it picks for small inputs, whose rounding
    decides pairs at the radius either way."""
    import functools

    import sklearn.cluster._mean_shift as sk_mean_shift
    from sklearn.neighbors import NearestNeighbors

    monkeypatch.setattr(sk_mean_shift, "NearestNeighbors",
                        functools.partial(NearestNeighbors, algorithm="kd_tree"))


@pytest.mark.parametrize("cluster_all", [True, False])
@pytest.mark.parametrize("seed", range(8))
def test_bandwidth_below_the_gemm_rounding_matches_an_exact_search(seed, cluster_all, monkeypatch):
    """Pairs of rows 1e-7 apart at a scale up to 1e4 and a bandwidth of 1e-8 to 1e-5: the
    GEMM's |x|^2 - 2 x.c + |c|^2 cannot tell which lie within it (a row was not even its
    own neighbour), nor which of two such centres is nearer. Decided from differences,
    the centres and labels are the exact search's (256 of 400 random sets disagreed)."""
    _sklearn_with_tree_search(monkeypatch)
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(6, 40)), int(rng.integers(1, 4))
    base = rng.normal(scale=10 ** rng.uniform(0, 4), size=(n // 2 + 1, d))
    X = np.concatenate([base, base[: n - len(base)] + rng.normal(scale=1e-7, size=(n - len(base), d))])
    bandwidth = float(10 ** rng.uniform(-8, -5))
    ref = sk.MeanShift(bandwidth=bandwidth, cluster_all=cluster_all).fit(X)
    ms = MeanShift(bandwidth=bandwidth, cluster_all=cluster_all).fit(X)
    np.testing.assert_allclose(to_numpy(ms.cluster_centers_), ref.cluster_centers_, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ms.labels_, ref.labels_)


def test_bandwidth_below_the_gemm_rounding_on_every_backend(xp):
    """The rows decided by differences take the array's own namespace (torch, CuPy,
    array_api_strict): the same centres and labels as NumPy's, kept in X's array type."""
    rng = np.random.default_rng(3)
    base = rng.normal(scale=1000, size=(12, 3))
    X = np.concatenate([base, base[:10] + rng.normal(scale=1e-7, size=(10, 3))])
    ref = MeanShift(bandwidth=5e-7, cluster_all=False).fit(X)
    assert len(ref.cluster_centers_) == 12 and (ref.labels_ >= 0).all()
    X_xp = xp.asarray(X)
    ms = MeanShift(bandwidth=5e-7, cluster_all=False).fit(X_xp)
    assert_same_kind(ms.labels_, X_xp)
    np.testing.assert_array_equal(to_numpy(ms.labels_), ref.labels_)
    np.testing.assert_allclose(to_numpy(ms.cluster_centers_), ref.cluster_centers_, rtol=0, atol=1e-12)


def test_rows_on_a_lattice_at_the_radius_match_an_exact_search(monkeypatch):
    """An integer grid with bandwidth 1: every neighbour lies exactly at the radius, which
    the centred GEMM's rounding decides either way; differences decide it as the tree does."""
    _sklearn_with_tree_search(monkeypatch)
    grid = np.stack(np.meshgrid(np.arange(7.0), np.arange(5.0)), axis=-1).reshape(-1, 2)
    X = np.concatenate([grid, grid[::3] + 0.25])
    ref = sk.MeanShift(bandwidth=1.0).fit(X)
    ms = MeanShift(bandwidth=1.0).fit(X)
    _same_centres(ms.cluster_centers_, ref.cluster_centers_)
    # Rows equidistant from two centres may go to either; the others to the same one.
    distances = np.sort(((X[:, None, :] - ref.cluster_centers_[None]) ** 2).sum(-1), axis=1)
    unique_nearest = distances[:, 1] - distances[:, 0] > 1e-9
    assert unique_nearest.sum() > len(X) // 2
    np.testing.assert_array_equal(to_numpy(ms.labels_)[unique_nearest], ref.labels_[unique_nearest])


def test_given_seeds_match_sklearn():
    X, _ = make_blobs_np(200, 3, centers=3, seed=2)
    seeds = X[::20] + 0.5
    ref = sk.MeanShift(bandwidth=2.5, seeds=seeds).fit(X)
    ms = MeanShift(bandwidth=2.5, seeds=seeds).fit(X)
    _same_centres(ms.cluster_centers_, ref.cluster_centers_)
    np.testing.assert_array_equal(ms.labels_, ref.labels_)


def test_hand_computed(xp, dtype):
    X = xp.asarray(HAND_X.astype(dtype))
    ms = MeanShift(bandwidth=2).fit(X)
    assert to_numpy(ms.labels_).tolist() == [1, 1, 1, 0, 0, 0]
    np.testing.assert_allclose(to_numpy(ms.cluster_centers_), [[10 / 3, 6], [4 / 3, 2 / 3]],
                               rtol=1e-6)
    queries = xp.asarray(np.array([[0, 0], [5, 5]], dtype=dtype))
    assert to_numpy(ms.predict(queries)).tolist() == [1, 0]
    for out in (ms.labels_, ms.cluster_centers_):
        assert_same_kind(out, X)
    assert str(ms.cluster_centers_.dtype).endswith(np.dtype(dtype).name)


def test_backends_agree_with_numpy(xp):
    X, _ = make_blobs_np(150, 3, centers=3, seed=5)
    ref = MeanShift(bin_seeding=True).fit(X)
    ms = MeanShift(bin_seeding=True).fit(xp.asarray(X))
    np.testing.assert_allclose(to_numpy(ms.cluster_centers_), ref.cluster_centers_, atol=1e-9)
    assert labels_agree(ms.labels_, ref.labels_) == 1.0


@pytest.mark.parametrize("quantile,n_samples", [(0.3, None), (0.5, 50), (1.0, None), (0.0, None)])
def test_estimate_bandwidth_matches_sklearn(quantile, n_samples):
    X, _ = make_blobs_np(200, 4, centers=3, seed=7)
    ref = sk.estimate_bandwidth(X, quantile=quantile, n_samples=n_samples, random_state=3)
    ours = estimate_bandwidth(X, quantile=quantile, n_samples=n_samples, random_state=3)
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-12)
    assert ours.dtype == np.float64


def test_estimate_bandwidth_on_backends(xp):
    X, _ = make_blobs_np(100, 3, seed=8)
    assert float(estimate_bandwidth(xp.asarray(X))) == pytest.approx(estimate_bandwidth(X))


def test_get_bin_seeds_matches_sklearn():
    X = np.array([[1.0, 1.0], [1.4, 1.4], [1.8, 1.2], [2.0, 1.0], [2.1, 1.1], [0.0, 0.0]])
    for size, freq in ((1.0, 1), (1.0, 2), (0.01, 1)):
        with pytest.warns(UserWarning) if size == 0.01 else _nothing():
            ours = get_bin_seeds(X, size, freq)
        ref = sk._mean_shift.get_bin_seeds(X, size, freq) if size != 0.01 else X
        np.testing.assert_array_equal(ours, ref)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_seeds_of_another_width_are_refused_counting_their_features():
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"^seeds have 1 feature but X has 2\.$"):
        MeanShift(bandwidth=1.0, seeds=np.array([[1.0]])).fit(X)


def test_no_point_near_any_seed_is_an_error():
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        MeanShift(bandwidth=0.1, seeds=np.array([[10.0, 10.0]])).fit(X)
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        distinct_centers(np.zeros((2, 2)), np.zeros(2, dtype=np.int64), 1.0)


def test_distinct_centers_keeps_the_densest_first():
    means = np.array([[0.0, 0.0], [0.5, 0.0], [5.0, 5.0], [0.5, 0.0]])
    counts = np.array([3, 7, 2, 7])
    np.testing.assert_array_equal(distinct_centers(means, counts, 1.0), [[0.5, 0.0], [5.0, 5.0]])


@pytest.mark.parametrize("params,error,match", [
    (dict(bandwidth=0), ValueError, "bandwidth"),
    (dict(bandwidth=-1.0), ValueError, "bandwidth"),
    (dict(min_bin_freq=0), ValueError, "min_bin_freq"),
    (dict(max_iter=-1), ValueError, "max_iter"),
    (dict(bin_seeding="yes"), TypeError, "bin_seeding"),
    (dict(seeds=np.zeros((2, 3)), bandwidth=1.0), ValueError, "features"),
])
def test_bad_parameters_are_refused(params, error, match):
    X, _ = make_blobs_np(20, 2)
    with pytest.raises(error, match=match):
        MeanShift(**params).fit(X)


def test_estimate_bandwidth_rejects_bad_quantile():
    with pytest.raises(ValueError, match="quantile"):
        estimate_bandwidth(HAND_X, quantile=1.5)


def test_mean_shift_function_and_signatures_match_sklearn():
    centers, labels = mean_shift(HAND_X, bandwidth=2)
    assert to_numpy(labels).tolist() == [1, 1, 1, 0, 0, 0]
    for ours, theirs in ((MeanShift, sk.MeanShift), (mean_shift, sk.mean_shift),
                         (estimate_bandwidth, sk.estimate_bandwidth)):
        ours, theirs = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
        assert list(ours)[: len(theirs)] == list(theirs)
        for name, p in theirs.items():
            assert ours[name].default == p.default and ours[name].kind == p.kind, name
