"""The shared pieces: PCA reduction, the fixed silhouette sample, the neighbour distances."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from gpucluster.auto.candidates import dbscan_eps, k_grid, min_cluster_sizes
from gpucluster.auto.shared import SharedData, pca_reduce


def test_pca_reduce_matches_sklearn_up_to_sign():
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((500, 12)) * np.linspace(5, 0.5, 12)).astype(np.float32)
    ours = pca_reduce(X, 4, np.random.RandomState(0))
    theirs = PCA(n_components=4).fit_transform(X)
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours * signs, theirs, rtol=1e-3, atol=1e-3)


def test_sample_is_fixed_by_the_seed_and_shared_distances_are_euclidean():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 5)).astype(np.float32)
    a = SharedData(X, metric="euclidean", random_state=7)
    b = SharedData(X, metric="euclidean", random_state=7)
    np.testing.assert_array_equal(a.sample_index, b.sample_index)
    i, j = a.sample_index[3], a.sample_index[10]
    assert a.sample_distances[3, 10] == pytest.approx(np.linalg.norm(X[i] - X[j]), rel=1e-6)


def test_knn_distances_exclude_the_row_itself():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((200, 3)).astype(np.float32)
    context = SharedData(X, metric="euclidean", random_state=0)
    distances = context.knn_distances
    full = np.linalg.norm(X[context.sample_index][:, None, :] - X[None, :, :], axis=2)
    expected = np.sort(full, axis=1)[:, 1:distances.shape[1] + 1]
    np.testing.assert_allclose(distances, expected, rtol=1e-4, atol=1e-5)
    # eps at the median distance to the 4th other neighbour (min_samples=5 counts the row).
    assert dbscan_eps(context, 5, 0.5) == pytest.approx(np.median(expected[:, 3]), rel=1e-4)


def test_grids_follow_the_wanted_cluster_size_and_bounds():
    X = np.random.default_rng(3).standard_normal((4000, 4)).astype(np.float32)
    context = SharedData(X, metric="euclidean", mode="fast", random_state=0,
                         target_cluster_size=100, max_clusters=60)
    ks = k_grid(context)
    assert ks[0] == 40 and max(ks) <= 60
    sizes = min_cluster_sizes(context)
    assert min(sizes) >= 4000 // 60 and max(sizes) == 100


def test_pca_reduce_keeps_at_most_one_axis_per_row():
    """A dozen rows of 64 features asked for 32 axes: the rows span at most 12 of them."""
    X = np.random.default_rng(0).normal(size=(12, 64)).astype(np.float32)
    reduced = pca_reduce(X, 32, np.random.RandomState(0))
    assert reduced.shape == (12, 12) and reduced.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(reduced - reduced.mean(0)),
                               np.linalg.norm(X - X.mean(0)), rtol=1e-4)


def _far_unit_rows(offset):
    """float32 blobs at ``offset`` and their unit rows in float64, less their mean."""
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(300, n_features=3, centers=3, random_state=0)
    X = (X + offset).astype(np.float32)
    unit = X.astype(np.float64) / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
    return X, unit - unit.mean(axis=0)


@pytest.mark.parametrize("offset", [1e4, 1e6])
def test_cosine_working_rows_keep_the_small_angles_far_from_the_origin(offset):
    """The cosine geometry's working rows have the unit rows' distances, centred before they
    are rounded to float32 (rounded first, the distances were 6 % off at 1e4 and 100 % at
    1e6 for rows at small angles)."""
    from scipy.spatial.distance import pdist

    X, unit = _far_unit_rows(offset)
    context = SharedData(X, metric="cosine", random_state=0)
    want = pdist(unit)
    np.testing.assert_allclose(pdist(context.working.astype(np.float64)), want, rtol=1e-5,
                               atol=1e-6 * want.max())


def test_cosine_hdbscan_candidates_far_from_the_origin_match_the_exact_rows():
    """HDBSCAN candidates of a cosine search on float32 blobs at 1e5 cluster as scikit-learn
    on the exact unit rows (probabilities were 0.38 apart). (At 1e6 both sides differ from
    scikit-learn's order of equal-weight merges on these rows, as gpucluster's HDBSCAN on the
    exact rows does: NOTES.)"""
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    from gpucluster.auto.candidates import HDBSCANShared, _hdbscan_candidates

    X, unit = _far_unit_rows(1e5)
    context = SharedData(X, metric="cosine", mode="balanced", random_state=0)
    for params in _hdbscan_candidates(context)[:2]:
        got = HDBSCANShared(**params, context=context).fit(context.data_for("reduced"))
        want = SkHDBSCAN(**params, copy=True).fit(unit)
        np.testing.assert_array_equal(got.labels_, want.labels_, err_msg=str(params))
        np.testing.assert_allclose(got.probabilities_, want.probabilities_, atol=1e-4,
                                   err_msg=str(params))


@pytest.mark.parametrize("offset", [1e5, 1e6])
def test_cosine_dbscan_candidates_far_from_the_origin_match_the_exact_rows(offset):
    """DBSCAN candidates of a cosine search on float32 blobs far from the origin cluster as
    scikit-learn on the exact unit rows, their eps kept to 6 significant digits (at 1e6 eps,
    3e-7, was rounded to 6 decimals: 0, which DBSCAN refuses)."""
    from sklearn.cluster import DBSCAN as SkDBSCAN

    from gpucluster.auto.candidates import DBSCAN_GRIDS, DBSCANShared, _dbscan_candidates

    X, unit = _far_unit_rows(offset)
    context = SharedData(X, metric="cosine", mode="balanced", random_state=0)
    candidates = _dbscan_candidates(context)
    quantiles = [dbscan_eps(context, m, q) for m, qs in DBSCAN_GRIDS["balanced"] for q in qs]
    np.testing.assert_allclose([params["eps"] for params in candidates], quantiles, rtol=1e-5)
    for params in candidates:
        got = DBSCANShared(**params, context=context).fit(context.data_for("reduced"))
        want = SkDBSCAN(**params).fit(unit)
        np.testing.assert_array_equal(got.labels_, want.labels_, err_msg=str(params))
