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
