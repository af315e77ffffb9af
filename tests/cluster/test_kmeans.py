"""KMeans: a hand-computed case, parity with scikit-learn, metrics, weights and errors."""

import warnings

import numpy as np
import pytest
import sklearn.cluster
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import pairwise_distances as sklearn_pairwise_distances

from gpucluster import KMeans, config_context, k_means, kmeans_plusplus

from .._helpers import assert_same_kind, labels_agree, make_blobs_np, rtol_for, to_numpy


def test_kmeans_results_hand_computed(xp, dtype):
    """scikit-learn's four-point toy case: labels, inertia 0.375, centres and n_iter by hand."""
    X = xp.asarray(np.array([[0, 0], [0.5, 0], [0.5, 1], [1, 1]], dtype=dtype))
    sample_weight = xp.asarray(np.array([3, 1, 1, 3], dtype=dtype))
    init = xp.asarray(np.array([[0, 0], [1, 1]], dtype=dtype))
    km = KMeans(n_clusters=2, n_init=1, init=init).fit(X, sample_weight=sample_weight)
    np.testing.assert_array_equal(to_numpy(km.labels_), [0, 0, 1, 1])
    np.testing.assert_allclose(km.inertia_, 0.375, rtol=rtol_for(dtype))
    np.testing.assert_allclose(to_numpy(km.cluster_centers_), [[0.125, 0], [0.875, 1]],
                               rtol=rtol_for(dtype), atol=rtol_for(dtype))
    assert km.n_iter_ == 2
    assert_same_kind(km.cluster_centers_, X)


def test_kmeans_matches_sklearn_with_same_init(xp):
    """With the same initial centres, labels equal scikit-learn's and inertia agrees to 1e-5."""
    X, _ = make_blobs_np(3000, 6, centers=8, seed=3, cluster_std=2.0)
    init = X[:8]
    ref = sklearn.cluster.KMeans(8, init=init, n_init=1).fit(X)
    km = KMeans(8, init=xp.asarray(init), n_init=1).fit(xp.asarray(X))
    np.testing.assert_array_equal(to_numpy(km.labels_), ref.labels_)
    np.testing.assert_allclose(km.inertia_, ref.inertia_, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(km.cluster_centers_), ref.cluster_centers_, rtol=1e-5, atol=1e-8)
    assert km.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("loader", [load_iris, load_digits], ids=["iris", "digits"])
@pytest.mark.parametrize("seed", [0, 1])
def test_kmeans_ari_close_to_sklearn(loader, seed):
    """Same seed, real data: ARI against the true labels within 0.02 of scikit-learn's."""
    X, y = loader(return_X_y=True)
    k = len(np.unique(y))
    ref = sklearn.cluster.KMeans(k, random_state=seed).fit(X)
    km = KMeans(k, random_state=seed).fit(X)
    assert abs(labels_agree(km.labels_, y) - labels_agree(ref.labels_, y)) <= 0.02


def test_kmeans_plusplus_matches_sklearn(xp):
    """Host-side draws make the seeding identical to scikit-learn's for the same seed."""
    X, _ = make_blobs_np(500, 3, centers=5, seed=1)
    ref_centers, ref_idx = sklearn.cluster.kmeans_plusplus(X, 5, random_state=7)
    centers, idx = kmeans_plusplus(xp.asarray(X), 5, random_state=7)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(to_numpy(centers), ref_centers)


def test_float32_and_float64_agree(xp):
    X, y = make_blobs_np(1000, 5, centers=4, seed=2)
    a = KMeans(4, random_state=0).fit(xp.asarray(X))
    b = KMeans(4, random_state=0).fit(xp.asarray(X.astype(np.float32)))
    assert labels_agree(a.labels_, b.labels_) == 1.0
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=rtol_for(np.float32))


def test_empty_cluster_is_reseeded_not_nan(xp):
    """A centre that attracts no point moves to the farthest point, as in scikit-learn."""
    X = np.array([[0, 0], [0.1, 0], [10, 10], [10.1, 10], [5, 5.2]], dtype=np.float64)
    init = np.array([[0, 0], [10, 10], [100, 100]], dtype=np.float64)
    km = KMeans(3, init=xp.asarray(init), n_init=1).fit(xp.asarray(X))
    ref = sklearn.cluster.KMeans(3, init=init, n_init=1).fit(X)
    centers = to_numpy(km.cluster_centers_)
    assert np.isfinite(centers).all()
    assert len(np.unique(to_numpy(km.labels_))) == 3
    np.testing.assert_allclose(centers, ref.cluster_centers_)


def test_sample_weight_equals_repetition_with_fixed_init():
    X, _ = make_blobs_np(200, 3, centers=3, seed=4)
    weights = np.random.default_rng(0).integers(1, 4, size=len(X))
    init = X[:3]
    weighted = KMeans(3, init=init).fit(X, sample_weight=weights)
    repeated = KMeans(3, init=init).fit(np.repeat(X, weights, axis=0))
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-10)
    np.testing.assert_allclose(weighted.inertia_, repeated.inertia_, rtol=1e-10)


def test_cosine_kmeans_clusters_directions(xp):
    """Spherical k-means groups rows by direction whatever their length; centres are unit vectors."""
    rng = np.random.default_rng(0)
    directions = np.eye(3)
    y = rng.integers(0, 3, 300)
    X = directions[y] * rng.uniform(0.1, 100, (300, 1)) + rng.normal(0, 0.02, (300, 3))
    km = KMeans(3, metric="cosine", random_state=0).fit(xp.asarray(X))
    assert labels_agree(km.labels_, y) == 1.0
    np.testing.assert_allclose(np.linalg.norm(to_numpy(km.cluster_centers_), axis=1), 1.0)
    distances = to_numpy(km.transform(xp.asarray(X)))
    np.testing.assert_array_equal(distances.argmin(1), to_numpy(km.labels_))
    assert distances.min() >= -1e-12 and distances.max() <= 2 + 1e-12


def test_predict_transform_score_consistent(xp, dtype):
    X, _ = make_blobs_np(400, 4, centers=5, dtype=dtype, seed=5)
    Xx = xp.asarray(X)
    km = KMeans(5, random_state=0).fit(Xx)
    np.testing.assert_array_equal(to_numpy(km.predict(Xx)), to_numpy(km.labels_))
    distances = to_numpy(km.transform(Xx))
    np.testing.assert_array_equal(distances.argmin(1), to_numpy(km.labels_))
    np.testing.assert_allclose(-km.score(Xx), km.inertia_, rtol=rtol_for(dtype))
    np.testing.assert_allclose((distances.min(1) ** 2).sum(), km.inertia_, rtol=10 * rtol_for(dtype))
    np.testing.assert_array_equal(to_numpy(KMeans(5, random_state=0).fit_predict(Xx)), to_numpy(km.labels_))


def test_k_means_function_matches_estimator():
    X, _ = make_blobs_np(300, 2, centers=3)
    centers, labels, inertia, n_iter = k_means(X, 3, random_state=0, return_n_iter=True)
    km = KMeans(3, random_state=0).fit(X)
    np.testing.assert_array_equal(labels, km.labels_)
    np.testing.assert_allclose(centers, km.cluster_centers_)
    assert inertia == km.inertia_ and n_iter == km.n_iter_


class _WatchedKMeans(KMeans):
    """KMeans recording every call of its iteration callback."""

    def _iteration_callback(self):
        self.calls_ = []

        def record(iteration, labels, centers, inertia):
            self.calls_.append((iteration, to_numpy(labels).copy(), to_numpy(centers).copy(),
                                inertia))

        return record


def test_iteration_callback_sees_every_lloyd_iteration(xp):
    X, _ = make_blobs_np(400, 3, centers=4, seed=5, cluster_std=2.0)
    X = X + 500.0  # a mean far from the spread: fit centres X, the callback must not see it
    km = _WatchedKMeans(4, init=xp.asarray(X[:4]), n_init=1).fit(xp.asarray(X))
    assert [call[0] for call in km.calls_] == list(range(km.n_iter_)) and km.n_iter_ >= 2
    np.testing.assert_array_equal(km.calls_[-1][2], to_numpy(km.cluster_centers_))
    np.testing.assert_array_equal(km.calls_[-1][1], to_numpy(km.labels_))
    for _, labels, centers, inertia in km.calls_:
        np.testing.assert_allclose(centers, [X[labels == k].mean(axis=0) for k in range(4)],
                                   rtol=1e-6)
    # Each call's inertia is that of its assignment to the centres the iteration started from.
    starts = [X[:4]] + [call[2] for call in km.calls_[:-1]]
    for (_, labels, _, inertia), start in zip(km.calls_, starts):
        expected = ((X - start[labels]) ** 2).sum()
        np.testing.assert_allclose(inertia, expected, rtol=1e-6)


def test_iteration_callback_restarts_with_each_init():
    X, _ = make_blobs_np(200, 2, centers=3, seed=1)
    km = _WatchedKMeans(3, init="random", n_init=3, random_state=0).fit(X)
    assert [call[0] for call in km.calls_].count(0) == 3
    assert KMeans(3, init="random", n_init=3, random_state=0).fit(X).inertia_ == km.inertia_


def test_explicit_init_with_several_n_init_warns():
    X, _ = make_blobs_np(100, 2, centers=2)
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        KMeans(2, init=X[:2], n_init=3).fit(X)


def test_fewer_distinct_points_than_clusters_warns():
    X = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5)
    with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(2\)"):
        KMeans(3, random_state=0).fit(X)


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_more_centres_than_distinct_points_matches_sklearn(xp, init, seed):
    """3 distinct points repeated, 5 clusters: duplicate initial centres leave clusters
    empty, and the farthest-point relocation (all distances 0) must pick sklearn's
    points for n_iter_ and labels to agree; the warning carries the same counts."""
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0]]), 10, axis=0)
    with pytest.warns(ConvergenceWarning) as ref_record:
        ref = sklearn.cluster.KMeans(5, init=init, n_init=1, random_state=seed).fit(X)
    with pytest.warns(ConvergenceWarning) as record:
        km = KMeans(5, init=init, n_init=1, random_state=seed).fit(xp.asarray(X))
    message = "Number of distinct clusters (3) found smaller than n_clusters (5)"
    # On a GPU, Numba may add a performance warning (a launch of one block) beside it.
    ours = [str(w.message) for w in record if issubclass(w.category, ConvergenceWarning)]
    assert message in str(ref_record[0].message) and message in ours[0]
    assert km.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(to_numpy(km.labels_), ref.labels_)


@pytest.mark.parametrize("kind", ["int64", "int32", "bool", "list"])
def test_integer_input_gives_float64_centres_as_sklearn(xp, kind):
    X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0], [5, 7], [6, 8]])
    X = {"int64": X, "int32": X.astype(np.int32), "bool": X > 3, "list": X}[kind]
    ref = sklearn.cluster.KMeans(3, n_init=1, random_state=0).fit(np.asarray(X))
    Xin = X.tolist() if kind == "list" else xp.asarray(X)
    km = KMeans(3, n_init=1, random_state=0).fit(Xin)
    assert ref.cluster_centers_.dtype == np.float64
    assert to_numpy(km.cluster_centers_).dtype == np.float64
    assert to_numpy(km.transform(Xin)).dtype == np.float64
    np.testing.assert_allclose(to_numpy(km.cluster_centers_), ref.cluster_centers_, rtol=1e-12)
    np.testing.assert_allclose(km.inertia_, ref.inertia_, rtol=1e-12)


def test_get_feature_names_out_matches_sklearn():
    X, _ = make_blobs_np(60, 4, centers=3, seed=0)
    ref = sklearn.cluster.KMeans(3, n_init=1, random_state=0).fit(X)
    km = KMeans(3, n_init=1, random_state=0).fit(X)
    names = km.get_feature_names_out()
    np.testing.assert_array_equal(names, ref.get_feature_names_out())
    np.testing.assert_array_equal(names, ["kmeans0", "kmeans1", "kmeans2"])
    assert names.dtype == object
    assert km.transform(X).shape[1] == names.shape[0]
    with pytest.raises(ValueError, match="input_features should have length equal"):
        km.get_feature_names_out(["a"])


def test_get_feature_names_out_before_fit_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        KMeans(3).get_feature_names_out()


def test_kmeans_plusplus_rejects_x_squared_norms_of_wrong_length():
    X, _ = make_blobs_np(50, 3, centers=2, seed=0)
    message = "The length of x_squared_norms 49 should be equal to the length of n_samples 50."
    with pytest.raises(ValueError, match=message):
        sklearn.cluster.kmeans_plusplus(X, 2, x_squared_norms=np.ones(49))
    with pytest.raises(ValueError, match=message):
        kmeans_plusplus(X, 2, x_squared_norms=np.ones(49))


@pytest.mark.parametrize("bad, match", [
    (np.ones((50, 2)), "x_squared_norms must be 1D"),
    (np.r_[np.nan, np.ones(49)], "x_squared_norms contains NaN"),
], ids=["2d", "nan"])
def test_kmeans_plusplus_rejects_bad_x_squared_norms(bad, match):
    X, _ = make_blobs_np(50, 3, centers=2, seed=0)
    with pytest.raises(ValueError, match=match):
        kmeans_plusplus(X, 2, x_squared_norms=bad)


def test_kmeans_plusplus_uses_given_x_squared_norms_as_sklearn(xp):
    X, _ = make_blobs_np(200, 3, centers=4, seed=5)
    norms = (X ** 2).sum(axis=1)
    ref_centers, ref_idx = sklearn.cluster.kmeans_plusplus(X, 4, x_squared_norms=norms,
                                                           random_state=3)
    centers, idx = kmeans_plusplus(xp.asarray(X), 4, x_squared_norms=xp.asarray(norms),
                                   random_state=3)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(to_numpy(centers), ref_centers)


def test_output_type_forces_numpy_and_config_context_applies():
    torch = pytest.importorskip("torch")
    X, _ = make_blobs_np(100, 2, centers=2)
    Xt = torch.asarray(X)
    km = KMeans(2, random_state=0, output_type="numpy").fit(Xt)
    assert isinstance(km.cluster_centers_, np.ndarray)
    with config_context(output_type="numpy"):
        km = KMeans(2, random_state=0).fit(Xt)
    assert isinstance(km.labels_, np.ndarray)
    km = KMeans(2, random_state=0).fit(X)
    assert isinstance(km.predict(Xt), torch.Tensor)


BAD_INPUTS = [
    ("nan", np.array([[0.0, np.nan], [1.0, 1.0], [2.0, 2.0]]), ValueError, "NaN"),
    ("inf", np.array([[0.0, np.inf], [1.0, 1.0], [2.0, 2.0]]), ValueError, "infinity"),
    ("empty", np.empty((0, 3)), ValueError, r"0 sample\(s\)"),
    ("no features", np.empty((5, 0)), ValueError, r"0 feature\(s\)"),
    ("1-D", np.arange(5.0), ValueError, "Expected 2D array, got 1D"),
    ("3-D", np.zeros((4, 2, 2)), ValueError, "Expected 2D array, got 3D"),
    ("complex", np.ones((4, 2), dtype=complex), ValueError, "Complex data not supported"),
    ("strings", np.array([["a", "b"], ["c", "d"]]), ValueError, "non-numeric dtype"),
    ("too few samples", np.ones((2, 2)), ValueError, "n_samples=2 should be >= n_clusters=3"),
]


@pytest.mark.parametrize("name, X, error, match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_fit_rejects_bad_input_and_keeps_state(name, X, error, match):
    X_good, _ = make_blobs_np(50, 2, centers=3)
    km = KMeans(3, random_state=0).fit(X_good)
    centers = km.cluster_centers_.copy()
    with pytest.raises(error, match=match):
        km.fit(X)
    np.testing.assert_array_equal(km.cluster_centers_, centers)
    assert km.n_features_in_ == 2


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_clusters": 0}, "n_clusters must be >= 1, got 0"),
        ({"n_clusters": -2}, "n_clusters must be >= 1, got -2"),
        ({"metric": "manhattan"}, "metric must be one of .*'manhattan'"),
        ({"device": "tpu"}, "device must be one of .*'tpu'"),
        ({"output_type": "jax"}, "output_type must be one of .*'jax'"),
        ({"init": "kmeans+++"}, "init must be one of .*'kmeans\\+\\+\\+'"),
        ({"max_iter": 0}, "max_iter must be >= 1, got 0"),
        ({"tol": -1.0}, "tol must be >= 0, got -1.0"),
        ({"n_init": 0}, "n_init must be >= 1, got 0"),
        ({"init": np.zeros((2, 2))}, r"shape of the initial centers \(2, 2\) does not match the number of clusters 3"),
        ({"init": np.zeros((3, 5))}, "does not match the number of features of the data 2"),
    ],
)
def test_fit_rejects_bad_parameters(params, match):
    X, _ = make_blobs_np(50, 2, centers=3)
    with pytest.raises(ValueError, match=match):
        KMeans(**{"n_clusters": 3, **params}).fit(X)


def test_predict_rejects_wrong_n_features():
    X, _ = make_blobs_np(50, 3, centers=3)
    km = KMeans(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 3 features"):
        km.predict(X[:, :2])




def test_device_cuda_without_gpu_raises_and_auto_falls_back(monkeypatch):
    from gpucluster import backend

    monkeypatch.setattr(backend, "gpu_available", lambda: False)
    X, _ = make_blobs_np(50, 2, centers=2)
    with pytest.raises(RuntimeError, match="device='cuda' was requested but no CUDA GPU is usable"):
        KMeans(2, device="cuda").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        km = KMeans(2, device="auto", random_state=0).fit(X)
    assert isinstance(km.labels_, np.ndarray)
    on_cpu = KMeans(2, device="cpu", random_state=0).fit(X)
    np.testing.assert_array_equal(km.labels_, on_cpu.labels_)
    np.testing.assert_array_equal(km.cluster_centers_, on_cpu.cluster_centers_)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_transform_in_small_chunks_equals_one_block(xp, dtype, metric):
    """transform gives X's dtype and the values of one float64 block, whatever the chunking."""
    from gpucluster._distances import pairwise_distances

    X, _ = make_blobs_np(203, 4, centers=5, dtype=dtype, seed=6)
    Xx = xp.asarray(X)
    km = KMeans(5, random_state=0, metric=metric).fit(Xx)
    # About three rows per chunk, so many chunks and a short last one.
    with config_context(memory_budget=3 * (3 * 8 * 5 + 8 * 4)):
        got = km.transform(Xx)
    assert got.dtype == Xx.dtype
    want = pairwise_distances(X, to_numpy(km.cluster_centers_).astype(dtype), metric)
    np.testing.assert_allclose(to_numpy(got), want, rtol=rtol_for(dtype), atol=rtol_for(dtype))


def _same_clustering_by_loop(a, b, n_clusters):
    """The Python loop is_same_clustering used to be."""
    mapping = np.full(n_clusters, -1)
    for i, j in zip(a.tolist(), b.tolist()):
        if mapping[i] == -1:
            mapping[i] = j
        elif mapping[i] != j:
            return False
    return True


def test_is_same_clustering_agrees_with_the_loop(xp):
    from gpucluster.cluster.kmeans import is_same_clustering

    rng = np.random.default_rng(0)
    seen = set()
    for trial in range(60):
        k = int(rng.integers(1, 6))
        a = rng.integers(0, k, int(rng.integers(1, 30))).astype(np.int32)
        b = rng.permutation(k)[a].astype(np.int32)  # the same partition, renamed
        if trial % 2:
            b[rng.integers(0, len(b))] = rng.integers(0, k)  # perhaps not any more
        want = _same_clustering_by_loop(a, b, k)
        seen.add(want)
        assert is_same_clustering(xp.asarray(a), xp.asarray(b), k) is want, (a, b)
    assert seen == {True, False}


@pytest.mark.parametrize("seed", [0, 1])
def test_seeded_fit_gives_the_centres_of_its_seeding_within_1e5(xp, seed):
    """float64: a seeded fit equals Lloyd (scikit-learn's) from the rows its k-means++ draws pick.

    The reference seeding is the NumPy one of tests/kernels/reference_seeding.py,
    so the seeding, the norms computed once per fit and the sums of every
    iteration are all checked against code that has none of them.
    """
    from ..kernels import reference_seeding

    X, _ = make_blobs_np(2500, 20, centers=12, seed=seed, cluster_std=3.0)
    X = X + 50.0  # a mean large against the spread: the fit centres X
    km = KMeans(12, random_state=seed).fit(xp.asarray(X))
    mean = X.mean(0)
    rows = reference_seeding.kmeans_plusplus(X - mean, 12, random_state=seed)
    ref = sklearn.cluster.KMeans(12, init=X[rows], n_init=1).fit(X)
    np.testing.assert_allclose(to_numpy(km.cluster_centers_), ref.cluster_centers_, rtol=1e-5,
                               atol=1e-8)
    np.testing.assert_allclose(km.inertia_, ref.inertia_, rtol=1e-5)
    assert km.n_iter_ == ref.n_iter_


def test_kmeans_parallel_init_reaches_the_inertia_of_kmeans_plusplus(xp):
    """init="k-means||": seeded, and its fits end within 1 % of k-means++'s inertia on blobs."""
    X, _ = make_blobs_np(4000, 16, centers=25, seed=2, cluster_std=1.5)
    Xx = xp.asarray(X)
    plusplus = [KMeans(25, random_state=s).fit(X).inertia_ for s in range(3)]
    parallel = [KMeans(25, init="k-means||", random_state=s).fit(Xx) for s in range(3)]
    assert np.median([km.inertia_ for km in parallel]) <= 1.01 * np.median(plusplus)
    again = KMeans(25, init="k-means||", random_state=0).fit(Xx)
    np.testing.assert_array_equal(to_numpy(again.cluster_centers_),
                                  to_numpy(parallel[0].cluster_centers_))


def test_kmeans_parallel_seeding_spreads_over_the_clusters():
    """The k-means|| centres alone (no Lloyd) hit nearly every blob, as k-means++'s do; a random pick does not."""
    from gpucluster.cluster.kmeans import kmeans_parallel

    X, y = make_blobs_np(5000, 8, centers=30, seed=4, cluster_std=0.5)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    centers, rows = kmeans_parallel(X, 30, sample_weight=w, random_state=1)
    np.testing.assert_array_equal(centers, X[rows])
    assert len(np.unique(rows)) == 30
    assert len(np.unique(y[rows])) >= 28
    random_rows = np.random.default_rng(1).choice(len(X), 30, replace=False)
    assert len(np.unique(y[random_rows])) < 28


def test_kmeans_parallel_falls_back_with_few_distinct_rows():
    """Fewer distinct rows than clusters x rounds of draws: still n_clusters rows, k-means++ fills in."""
    from gpucluster.cluster.kmeans import kmeans_parallel

    X = np.repeat(np.arange(6.0)[:, None], 10, axis=0)  # 6 distinct points, 60 rows
    centers, rows = kmeans_parallel(X, 8, random_state=0)
    assert centers.shape == (8, 1) and rows.shape == (8,)
    np.testing.assert_array_equal(centers, X[rows])
    # k-means++ picks every distinct row before it repeats one.
    assert sorted(set(centers[:, 0].tolist())) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    with pytest.warns(ConvergenceWarning, match="Number of distinct clusters"):
        KMeans(8, init="k-means||", random_state=0).fit(X)


def test_n_init_auto_runs_several_callable_inits_as_sklearn():
    """n_init="auto": a callable init (which may draw) runs 10 times, as in scikit-learn."""
    X, _ = make_blobs_np(100, 3, centers=3, seed=0)
    calls = []

    def init(X, n_clusters, random_state):
        calls.append(1)
        return X[random_state.choice(X.shape[0], n_clusters, replace=False)]

    KMeans(3, init=init, random_state=0).fit(X)
    assert len(calls) == 10
    assert KMeans(3, init="k-means++").fit(X)._n_init == 1


def test_elkan_with_one_cluster_warns_as_sklearn():
    X, _ = make_blobs_np(50, 2, centers=2)
    with pytest.warns(RuntimeWarning, match="algorithm='elkan' doesn't make sense for a single"):
        KMeans(1, algorithm="elkan").fit(X)


def test_transform_of_the_fitted_centres_has_a_zero_diagonal():
    """As scikit-learn's euclidean_distances(X, X): exactly 0 from a centre to itself."""
    X, _ = make_blobs_np(300, 5, centers=6, seed=1)
    km = KMeans(6, random_state=0).fit(X)
    D = km.transform(km.cluster_centers_)
    np.testing.assert_array_equal(np.diag(D), np.zeros(6))
    np.testing.assert_allclose(D, sklearn_pairwise_distances(km.cluster_centers_), atol=1e-12)


# --------------------------------------------------------------------------
# Sparse input (SciPy CSR and CSC): X stays sparse and gives the dense results

SPARSE_FORMATS = ["csr_matrix", "csc_matrix", "csr_array"]


def _sparse_blobs(n_samples=600, n_features=12, centers=5, seed=0, dtype=np.float64):
    """Blobs with about half the entries zero, so the sparse structure is real."""
    X, y = make_blobs_np(n_samples, n_features, centers=centers, seed=seed, cluster_std=1.5)
    X[X < 0] = 0
    return X.astype(dtype), y


def _as_sparse(X, fmt):
    import scipy.sparse

    return getattr(scipy.sparse, fmt)(X)


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64],
                         ids=["float32", "float64", "int64"])
@pytest.mark.parametrize("init", ["k-means++", "array"])
def test_sparse_fit_equals_dense_fit(fmt, dtype, init):
    """Same weights and init: labels, n_iter_ and centres equal the dense fit's, inertia to 1e-6
    (float64; float32 to its default tolerance, as the two sum in a different order)."""
    X, _ = _sparse_blobs(dtype=dtype)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    start = X[[0, 100, 200, 300, 400]].astype(np.float64) if init == "array" else init
    dense = KMeans(5, init=start, n_init=1, random_state=0).fit(X, sample_weight=w)
    km = KMeans(5, init=start, n_init=1, random_state=0).fit(_as_sparse(X, fmt), sample_weight=w)
    rtol = 1e-6 if dtype != np.float32 else rtol_for(np.float32)
    np.testing.assert_array_equal(km.labels_, dense.labels_)
    assert km.n_iter_ == dense.n_iter_
    np.testing.assert_allclose(km.inertia_, dense.inertia_, rtol=rtol)
    np.testing.assert_allclose(km.cluster_centers_, dense.cluster_centers_, rtol=rtol, atol=rtol)
    assert isinstance(km.cluster_centers_, np.ndarray)
    assert km.cluster_centers_.dtype == dense.cluster_centers_.dtype  # float64 for integers


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_sparse_predict_transform_score_equal_dense(fmt):
    """Every method takes sparse X, after a sparse or a dense fit, and gives the dense answers."""
    X, _ = _sparse_blobs(seed=3)
    Xs = _as_sparse(X, fmt)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    dense = KMeans(5, random_state=0).fit(X)
    for km in (KMeans(5, random_state=0).fit(Xs), dense):
        np.testing.assert_array_equal(km.predict(Xs), dense.predict(X))
        np.testing.assert_allclose(km.transform(Xs), dense.transform(X), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(km.score(Xs, sample_weight=w), dense.score(X, sample_weight=w),
                                   rtol=1e-6)
    np.testing.assert_array_equal(KMeans(5, random_state=0).fit_predict(Xs), dense.labels_)
    np.testing.assert_allclose(KMeans(5, random_state=0).fit_transform(Xs), dense.transform(X),
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("init", ["k-means++", "random", "k-means||"])
def test_sparse_fit_matches_dense_for_every_init_and_cosine(init):
    X, _ = _sparse_blobs(seed=4)
    for metric in ("euclidean", "cosine"):
        dense = KMeans(5, init=init, random_state=2, metric=metric).fit(X)
        km = KMeans(5, init=init, random_state=2, metric=metric).fit(_as_sparse(X, "csr_matrix"))
        np.testing.assert_array_equal(km.labels_, dense.labels_, err_msg=metric)
        np.testing.assert_allclose(km.inertia_, dense.inertia_, rtol=1e-6, err_msg=metric)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_fit_matches_sklearn_on_sparse_blobs(seed):
    """scikit-learn on the same CSR matrix: with its centres as init, the same labels and
    inertia to 1e-6; from each one's own k-means++, the same ARI against the truth."""
    X, y = _sparse_blobs(1500, 40, centers=6, seed=seed)
    Xs = _as_sparse(X, "csr_matrix")
    ref = sklearn.cluster.KMeans(6, random_state=seed).fit(Xs)
    km = KMeans(6, random_state=seed).fit(Xs)
    assert abs(labels_agree(km.labels_, y) - labels_agree(ref.labels_, y)) <= 0.02
    np.testing.assert_allclose(km.inertia_, ref.inertia_, rtol=1e-3)
    init = X[np.random.default_rng(seed).choice(len(X), 6, replace=False)]
    ref = sklearn.cluster.KMeans(6, init=init, n_init=1).fit(Xs)
    km = KMeans(6, init=init, n_init=1).fit(Xs)
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_allclose(km.inertia_, ref.inertia_, rtol=1e-6)
    assert km.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix"])
def test_kmeans_plusplus_on_sparse_picks_sklearns_rows(fmt):
    """The same rows as scikit-learn's seeding and as the dense one; centres come back dense."""
    X, _ = _sparse_blobs(400, 10, centers=5, seed=2)
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(X))
    Xs = _as_sparse(X, fmt)
    ref_centers, ref_rows = sklearn.cluster.kmeans_plusplus(Xs, 5, sample_weight=w,
                                                            random_state=5)
    centers, rows = kmeans_plusplus(Xs, 5, sample_weight=w, random_state=5)
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(rows, kmeans_plusplus(X, 5, sample_weight=w, random_state=5)[1])
    assert isinstance(centers, np.ndarray)
    np.testing.assert_array_equal(centers, X[rows])


def test_sparse_seeding_never_picks_zero_weight_rows():
    X, _ = _sparse_blobs(300, 8, centers=6, seed=5)
    w = np.random.default_rng(5).uniform(0.5, 2.0, len(X))
    w[::2] = 0
    for seed in range(5):
        _, rows = kmeans_plusplus(_as_sparse(X, "csr_matrix"), 10, sample_weight=w,
                                  random_state=seed)
        assert (rows % 2 == 1).all()


def test_sparse_empty_cluster_is_relocated_as_dense():
    """A centre far from every point is re-seeded from the farthest point, as on dense X."""
    X = np.array([[0, 0], [0.1, 0], [10, 10], [10.1, 10], [5, 5.2]], dtype=np.float64)
    init = np.array([[0, 0], [10, 10], [100, 100]], dtype=np.float64)
    dense = KMeans(3, init=init, n_init=1).fit(X)
    km = KMeans(3, init=init, n_init=1).fit(_as_sparse(X, "csr_matrix"))
    np.testing.assert_array_equal(km.labels_, dense.labels_)
    np.testing.assert_allclose(km.cluster_centers_, dense.cluster_centers_)
    assert km.n_iter_ == dense.n_iter_


def test_sparse_duplicates_are_summed_and_the_callers_matrix_is_kept():
    """A non-canonical CSR (a duplicate entry) counts as its sum, and is left as given."""
    import scipy.sparse

    X, _ = _sparse_blobs(200, 6, centers=3, seed=6)
    csr = scipy.sparse.csr_matrix(X)
    # Every row's first stored value split into two halves, stored twice.
    data, indices, indptr = [], [], [0]
    for i in range(X.shape[0]):
        values = csr.data[csr.indptr[i]:csr.indptr[i + 1]]
        columns = csr.indices[csr.indptr[i]:csr.indptr[i + 1]]
        data.append(np.r_[values[:1] / 2, values[:1] / 2, values[1:]])
        indices.append(np.r_[columns[:1], columns])
        indptr.append(indptr[-1] + len(data[-1]))
    split = scipy.sparse.csr_matrix((np.concatenate(data), np.concatenate(indices), indptr),
                                    shape=X.shape)
    assert not split.has_canonical_format
    stored = split.data.copy()
    dense = KMeans(3, random_state=0).fit(X)
    km = KMeans(3, random_state=0).fit(split)
    np.testing.assert_array_equal(km.labels_, dense.labels_)
    np.testing.assert_allclose(km.inertia_, dense.inertia_, rtol=1e-6)
    np.testing.assert_array_equal(split.data, stored)


@pytest.mark.parametrize("bad, match", [(np.nan, "NaN"), (np.inf, "infinity")],
                         ids=["nan", "inf"])
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix"])
def test_sparse_nan_or_inf_stored_values_are_rejected(bad, match, fmt):
    X, _ = _sparse_blobs(60, 4, centers=3)
    km = KMeans(3, random_state=0).fit(_as_sparse(X, fmt))
    centers = km.cluster_centers_.copy()
    X_bad = X.copy()
    X_bad[5, 2] = bad
    with pytest.raises(ValueError, match=match):
        km.fit(_as_sparse(X_bad, fmt))
    with pytest.raises(ValueError, match=match):
        km.predict(_as_sparse(X_bad, fmt))
    with pytest.raises(ValueError, match=match):
        kmeans_plusplus(_as_sparse(X_bad, fmt), 3)
    np.testing.assert_array_equal(km.cluster_centers_, centers)


def test_sparse_predict_rejects_wrong_n_features_and_too_few_samples():
    X, _ = _sparse_blobs(60, 4, centers=3)
    km = KMeans(3, random_state=0).fit(_as_sparse(X, "csr_matrix"))
    with pytest.raises(ValueError, match="X has 3 features, but KMeans is expecting 4 features"):
        km.predict(_as_sparse(X[:, :3], "csr_matrix"))
    with pytest.raises(ValueError, match="n_samples=2 should be >= n_clusters=3"):
        KMeans(3).fit(_as_sparse(X[:2], "csr_matrix"))


def test_sparse_lloyd_in_small_chunks_equals_one_block():
    """Chunked sparse-dense products (a few rows per chunk) give the one-block results."""
    X, _ = _sparse_blobs(203, 6, centers=4, seed=7)
    Xs = _as_sparse(X, "csr_matrix")
    whole = KMeans(4, random_state=0).fit(Xs)
    with config_context(memory_budget=3 * (4 * 8 * 4 + 16 * 7)):
        chunked = KMeans(4, random_state=0).fit(Xs)
        D = chunked.transform(Xs)
    np.testing.assert_array_equal(chunked.labels_, whole.labels_)
    np.testing.assert_allclose(chunked.inertia_, whole.inertia_, rtol=1e-12)
    np.testing.assert_allclose(D, whole.transform(Xs), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_operations_match_the_dense_kernels(dtype):
    """_sparse_kmeans's assign, lloyd_step and k-means++ pair against gpucluster.kernels."""
    from gpucluster import kernels
    from gpucluster._distances import row_norms_sq
    from gpucluster.cluster import _sparse_kmeans

    X, _ = _sparse_blobs(300, 9, centers=4, seed=8, dtype=dtype)
    Xs = _as_sparse(X, "csr_matrix")
    centers = X[[3, 70, 150, 220]]
    w = np.random.default_rng(8).uniform(0.5, 2.0, len(X)).astype(dtype)
    rtol = rtol_for(dtype)
    got, want = _sparse_kmeans.lloyd_step(Xs, centers, w), kernels.lloyd_step(X, centers, w)
    np.testing.assert_array_equal(got[0], want[0])
    for g, r in zip(got[1:], want[1:]):
        np.testing.assert_allclose(g, r, rtol=rtol, atol=rtol)
    bare = _sparse_kmeans.lloyd_step(Xs, centers, w, with_distances=False)
    assert bare[1].shape == (0,)
    np.testing.assert_array_equal(bare[0], want[0])
    np.testing.assert_allclose(bare[2], want[2], rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(_sparse_kmeans.assign(Xs, centers)[0], want[0])
    x_sq = row_norms_sq(X).astype(dtype)
    np.testing.assert_allclose(_sparse_kmeans.row_norms_sq(Xs), x_sq, rtol=rtol)
    closest = np.full(len(X), np.inf, dtype=dtype)
    closest = kernels.seeding_update(X, x_sq, centers[0], closest)
    np.testing.assert_allclose(
        _sparse_kmeans.seeding_update(Xs, x_sq, centers[0], np.full(len(X), np.inf, dtype=dtype)),
        closest, rtol=rtol, atol=rtol)
    out = np.empty((3, len(X)), dtype=dtype)
    pot = _sparse_kmeans.seeding_potentials(Xs, x_sq, centers[1:], closest, w, out=out)
    ref_out = np.empty_like(out)
    np.testing.assert_allclose(pot, kernels.seeding_potentials(X, x_sq, centers[1:], closest, w,
                                                               out=ref_out), rtol=rtol)
    np.testing.assert_allclose(out, ref_out, rtol=rtol, atol=rtol)


def test_sparse_is_kept_sparse_never_densified(monkeypatch):
    """The whole X is never made dense: toarray only ever sees a few rows."""
    import scipy.sparse

    X, _ = _sparse_blobs(400, 8, centers=4, seed=9)
    Xs = scipy.sparse.csr_matrix(X)
    largest = []
    toarray = scipy.sparse.csr_matrix.toarray

    def watched(self, *args, **kwargs):
        largest.append(self.shape[0])
        return toarray(self, *args, **kwargs)

    monkeypatch.setattr(scipy.sparse.csr_matrix, "toarray", watched)
    with config_context(memory_budget=20_000):
        KMeans(4, random_state=0).fit(Xs).transform(Xs)
    assert largest and max(largest) < 100


def test_float32_rows_at_a_large_offset_converge_as_sklearn():
    """The tolerance is tol times the data's variance; from E|x|^2 - |m|^2 it cancelled to
    157,286 for a true 0.447 (rows at 1e6 + 0.1 noise), and the fit stopped after one
    iteration with 3.4x scikit-learn's inertia. Taken from the differences, it matches."""
    from gpucluster.cluster.kmeans import tolerance

    rs = np.random.RandomState(0)
    centres = rs.randn(3, 3) * 5
    X = (1e6 + 0.1 * np.vstack([c + rs.randn(20, 3) for c in centres])).astype(np.float32)
    np.testing.assert_allclose(tolerance(X, 1.0) * 3, X.astype(np.float64).var(axis=0).sum(),
                               rtol=1e-2)
    init = X[[0, 1, 2]]
    ours = KMeans(3, init=init, n_init=1).fit(X)
    ref = sklearn.cluster.KMeans(3, init=init, n_init=1).fit(X)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.labels_, ref.labels_)


def test_score_and_inertia_at_a_large_offset_and_mixed_scales_are_exact():
    """score (and predict) centre rows far from the origin as fit does, and the inertias come
    from the differences: at a 1e6 offset in float32 score was -76,654 for a true -1.77, and
    with one cluster per row of columns scaled 1e4 / 1 / 1e-4 inertia_ was 5.0, not 0."""
    rs = np.random.RandomState(0)
    centres = rs.randn(3, 3) * 5
    X = (1e6 + 0.1 * np.vstack([c + rs.randn(20, 3) for c in centres])).astype(np.float32)
    model = KMeans(3, init=X[[0, 1, 2]], n_init=1).fit(X)
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    exact = ((X.astype(np.float64) - np.asarray(model.cluster_centers_, np.float64)[model.labels_])
             ** 2).sum()
    assert model.score(X) == pytest.approx(-exact, rel=1e-6)
    Y = (np.random.RandomState(0).randn(30, 3) * [1e4, 1, 1e-4]).astype(np.float32)
    assert KMeans(30, init=Y, n_init=1).fit(Y).inertia_ == 0.0


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_score_and_predict_ask_for_distances_only_where_they_are_read(monkeypatch, metric):
    """score's euclidean inertia comes from the differences and predict reads labels alone,
    so the assign kernel is asked for labels alone there; cosine's score sums its
    distances. Labels and score are those of the kernel's distances."""
    from gpucluster.cluster import kmeans as module

    X, _ = make_blobs_np(300, 4, centers=3, seed=0)
    km = KMeans(3, metric=metric, n_init=1, random_state=0).fit(X)
    labels, distances = module.labels_and_distances(
        module.prepare_for_metric(X, metric), km._centers_for(X), metric)
    asked = []
    assign = module.DENSE.assign

    def spy(*args, with_distances=True, **kwargs):
        asked.append(with_distances)
        return assign(*args, with_distances=with_distances, **kwargs)

    monkeypatch.setattr(module.DENSE, "assign", spy)
    score = km.score(X)
    assert asked == [metric != "euclidean"]
    np.testing.assert_array_equal(km.predict(X), labels)
    assert asked[1:] == [False]
    expected = (module.inertia_from_differences(X, km._centers_for(X), labels, None)
                if metric == "euclidean" else float(distances.astype(np.float64).sum()))
    assert score == pytest.approx(-expected, rel=1e-12)
