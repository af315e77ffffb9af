"""KMedoids: a hand-computed case, NumPy references of both methods and of every init,
FasterPAM's loss against the kmedoids package, blobs, backends, memory bounds and errors."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import pairwise_distances
from sklearn.metrics.pairwise import cosine_distances

from gpucluster import KMedoids, config_context
from gpucluster.cluster import _medoid_distances
from gpucluster.cluster._medoid_distances import SampleDistances

from .._helpers import assert_same_kind, labels_agree, make_blobs_np, rtol_for, to_numpy
from ..kernels import reference_medoids

METRICS = ("euclidean", "cosine", "manhattan")
HAND_X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 4], [4, 0]], dtype=np.float64)


# --------------------------------------------------------------------------
# NumPy references (on the full float64 distance matrix)


def alternate_reference(D, medoids, max_iter=300):
    """scikit-learn-extra's alternating k-medoids, from ``medoids``: (medoids, labels, n_iter)."""
    medoids = np.array(medoids, dtype=np.int64)
    n_iter = max_iter
    for iteration in range(max_iter):
        old = medoids.copy()
        labels = np.argmin(D[:, medoids], axis=1)
        for j in range(len(medoids)):
            members = np.flatnonzero(labels == j)
            if members.size == 0:
                continue
            costs = D[np.ix_(members, members)].sum(axis=1)
            current = np.flatnonzero(members == medoids[j])
            current = current[0] if current.size else 0
            if costs.min() < costs[current]:
                medoids[j] = members[np.argmin(costs)]
        if np.array_equal(old, medoids):
            n_iter = iteration + 1
            break
    return medoids, np.argmin(D[:, medoids], axis=1), n_iter


def build_reference(D, k):
    """PAM's BUILD (the ``kmedoids`` package's ``pam_build``), ties to the lowest index."""
    medoids = [int(np.argmin(D.sum(axis=1)))]
    nearest = D[medoids[0]].copy()
    for _ in range(1, k):
        gains = np.maximum(nearest[None, :] - D, 0.0).sum(axis=1)
        gains[medoids] = -np.inf
        medoids.append(int(np.argmax(gains)))
        nearest = np.minimum(nearest, D[medoids[-1]])
    return np.asarray(medoids)


def kpp_reference(D, k, seed):
    """scikit-learn-extra's ``_kpp_init`` (k-means++ on squared distances)."""
    rng = np.random.RandomState(seed)
    n = D.shape[0]
    trials = 2 + int(np.log(k))
    centers = [rng.randint(n)]
    closest = D[centers[0]] ** 2
    potential = closest.sum()
    for _ in range(1, k):
        draws = rng.random_sample(trials) * potential
        candidates = np.minimum(np.searchsorted(np.cumsum(closest), draws), n - 1)
        trial = np.minimum(closest[None, :], D[candidates] ** 2)
        best = int(np.argmin(trial.sum(axis=1)))
        centers.append(int(candidates[best]))
        potential = trial[best].sum()
        closest = trial[best]
    return np.asarray(centers)


def _data(n=240, d=4, centers=5, seed=0, std=2.5):
    X, y = make_blobs_np(n, d, centers=centers, seed=seed, cluster_std=std)
    return X, y


# --------------------------------------------------------------------------
# Hand-computed


@pytest.mark.parametrize("method", ["alternate", "pam"])
def test_hand_computed(xp, dtype, method):
    """Two columns of three points: medoids (1, 2) and (4, 2), each other point at 2."""
    X = xp.asarray(HAND_X.astype(dtype))
    km = KMedoids(2, method=method).fit(X)
    assert sorted(to_numpy(km.medoid_indices_).tolist()) == [0, 3]
    assert km.inertia_ == pytest.approx(8.0, rel=rtol_for(dtype))
    labels = to_numpy(km.labels_)
    assert labels_agree(labels, [0, 0, 0, 1, 1, 1]) == 1.0
    np.testing.assert_array_equal(to_numpy(km.cluster_centers_),
                                  HAND_X[to_numpy(km.medoid_indices_)])
    for out in (km.labels_, km.medoid_indices_, km.cluster_centers_):
        assert_same_kind(out, X)


# --------------------------------------------------------------------------
# The alternate method against its reference


@pytest.mark.parametrize("metric", METRICS + ("precomputed",))
@pytest.mark.parametrize("budget", [None, 2**16], ids=["matrix", "blocks"])
def test_alternate_equals_numpy_reference(metric, budget):
    """Same medoids, labels and n_iter as the reference from the same initial medoids;
    with a budget too small for the matrix, the distances come in blocks and agree."""
    X, _ = _data(seed=1)
    D = pairwise_distances(X, metric="euclidean" if metric == "precomputed" else metric)
    init = np.random.default_rng(0).choice(len(X), 5, replace=False)
    medoids, labels, n_iter = alternate_reference(D, init)
    data = D if metric == "precomputed" else X
    with config_context(memory_budget=budget):
        km = KMedoids(5, metric=metric, init=init).fit(data)
    np.testing.assert_array_equal(km.medoid_indices_, medoids)
    np.testing.assert_array_equal(km.labels_, labels)
    assert km.n_iter_ == n_iter
    np.testing.assert_allclose(km.inertia_, D[np.arange(len(X)), medoids[labels]].sum(),
                               rtol=1e-9)


@pytest.mark.parametrize("init", ["build", "heuristic", "k-medoids++"])
def test_alternate_with_each_init_equals_reference(init):
    X, _ = _data(seed=2)
    D = pairwise_distances(X)
    start = {"build": build_reference(D, 5),
             "heuristic": np.argsort(D.sum(axis=1), kind="stable")[:5],
             "k-medoids++": kpp_reference(D, 5, seed=3)}[init]
    medoids, labels, _ = alternate_reference(D, start)
    km = KMedoids(5, init=init, random_state=3).fit(X)
    np.testing.assert_array_equal(km.medoid_indices_, medoids)
    np.testing.assert_array_equal(km.labels_, labels)


# --------------------------------------------------------------------------
# Initialisations


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("budget", [None, 2**16], ids=["matrix", "blocks"])
def test_build_equals_reference(metric, budget):
    X, _ = _data(seed=4)
    D = pairwise_distances(X, metric=metric)
    with config_context(memory_budget=budget):
        km = KMedoids(6, metric=metric, init="build", max_iter=0).fit(X)
    np.testing.assert_array_equal(km.medoid_indices_, build_reference(D, 6))


def test_kmedoids_plusplus_equals_scikit_learn_extra():
    X, _ = _data(seed=5)
    D = pairwise_distances(X, metric="manhattan")
    km = KMedoids(6, metric="manhattan", init="k-medoids++", max_iter=0, random_state=11).fit(X)
    np.testing.assert_array_equal(km.medoid_indices_, kpp_reference(D, 6, seed=11))


def test_random_init_draws_distinct_samples_from_the_seed():
    X, _ = _data(seed=6)
    a = KMedoids(7, init="random", max_iter=0, random_state=4).fit(X)
    expected = np.random.RandomState(4).choice(len(X), 7, replace=False)
    np.testing.assert_array_equal(a.medoid_indices_, expected)


def test_init_rows_as_scikit_learn_extra():
    """An (n_clusters, n_features) init names the samples with those rows."""
    X, _ = _data(seed=7)
    by_rows = KMedoids(3, init=X[[10, 20, 30]], max_iter=0).fit(X)
    np.testing.assert_array_equal(by_rows.medoid_indices_, [10, 20, 30])


# --------------------------------------------------------------------------
# PAM (FasterPAM)


@pytest.mark.parametrize("metric", METRICS + ("precomputed",))
def test_pam_equals_fasterpam_reference(metric):
    """Same swaps as the reference transcription of the kmedoids package's fasterpam."""
    X, _ = _data(n=200, seed=8, std=4.0)
    D = pairwise_distances(X, metric="cosine" if metric == "precomputed" else metric)
    init = np.random.default_rng(1).choice(len(X), 6, replace=False)
    ref_medoids, ref_loss, ref_iter, _ = reference_medoids.fasterpam(D, init, max_iter=300)
    km = KMedoids(6, metric=metric, method="pam", init=init).fit(
        D if metric == "precomputed" else X)
    np.testing.assert_array_equal(km.medoid_indices_, ref_medoids)
    assert km.n_iter_ == ref_iter
    np.testing.assert_allclose(km.inertia_, ref_loss, rtol=1e-9)


def test_pam_reaches_a_local_optimum_and_the_exhaustive_optimum_on_tiny_data():
    """No single swap lowers FasterPAM's loss; on small separated data it is the optimum
    of an exhaustive search over all C(24, 3) medoid sets."""
    X, _ = _data(n=24, d=2, centers=3, seed=9, std=1.0)
    D = pairwise_distances(X)
    for init in ("random", "build", "k-medoids++"):
        km = KMedoids(3, method="pam", init=init, random_state=0).fit(X)
        medoids = np.asarray(km.medoid_indices_)
        loss = reference_medoids.loss(D, medoids)
        assert reference_medoids.best_single_swap(D, medoids) >= loss * (1 - 1e-12)
        _, best = reference_medoids.exhaustive_medoids(D, 3)
        assert loss <= best * (1 + 1e-6)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_pam_loss_no_worse_than_kmedoids_package(metric, dtype):
    """The issue's bar: from the same initial medoids, FasterPAM's loss is no worse than the
    ``kmedoids`` package's (1e-6 relative), on its own distance matrix."""
    kmedoids = pytest.importorskip("kmedoids")
    X, _ = _data(n=600, d=8, centers=6, seed=10, std=5.0)
    X = X.astype(dtype)
    D = pairwise_distances(X, metric=metric).astype(dtype)
    init = np.random.default_rng(2).choice(len(X), 12, replace=False)
    ref = kmedoids.fasterpam(D, init.copy(), max_iter=300, n_cpu=1)
    for data, used in ((D, "precomputed"), (X, metric)):
        km = KMedoids(12, metric=used, method="pam", init=init).fit(data)
        loss = reference_medoids.loss(D, np.asarray(km.medoid_indices_))
        assert loss <= float(ref.loss) * (1 + 1e-6), used
    np.testing.assert_array_equal(
        KMedoids(12, metric="precomputed", method="pam", init=init).fit(D).medoid_indices_,
        ref.medoids.astype(np.int64))


def test_pam_in_blocks_equals_pam_on_the_matrix():
    """Without room for the n x n matrix the swap passes read blocks of rows: same result."""
    X, _ = _data(n=300, seed=11, std=4.0)
    whole = KMedoids(8, method="pam", init="k-medoids++", random_state=0).fit(X)
    with config_context(memory_budget=2**15):
        blocks = KMedoids(8, method="pam", init="k-medoids++", random_state=0).fit(X)
    np.testing.assert_array_equal(whole.medoid_indices_, blocks.medoid_indices_)
    assert whole.n_iter_ == blocks.n_iter_
    np.testing.assert_allclose(whole.inertia_, blocks.inertia_, rtol=1e-12)


def test_pam_improves_on_alternate():
    X, _ = _data(n=400, d=3, centers=12, seed=12, std=3.0)
    pam = KMedoids(12, method="pam", init="random", random_state=0).fit(X)
    alt = KMedoids(12, method="alternate", init="random", random_state=0).fit(X)
    assert pam.inertia_ <= alt.inertia_


@pytest.mark.parametrize("method", ["alternate", "pam"])
def test_single_cluster_is_the_sample_of_smallest_total_distance(method):
    X, _ = _data(seed=13)
    D = pairwise_distances(X, metric="manhattan")
    km = KMedoids(1, metric="manhattan", method=method, init="random", random_state=0).fit(X)
    assert int(km.medoid_indices_[0]) == int(np.argmin(D.sum(axis=1)))
    np.testing.assert_allclose(km.inertia_, D.sum(axis=1).min(), rtol=1e-12)


# --------------------------------------------------------------------------
# Clustering quality, backends, methods' outputs


@pytest.mark.parametrize("method", ["alternate", "pam"])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_recovers_well_separated_blobs(method, metric):
    X, y = make_blobs_np(600, 8, centers=6, seed=14, cluster_std=0.5)
    km = KMedoids(6, metric=metric, method=method, init="k-medoids++", random_state=0).fit(X)
    assert labels_agree(km.labels_, y) == 1.0


@pytest.mark.parametrize("method", ["alternate", "pam"])
def test_cosine_groups_directions(method):
    rng = np.random.default_rng(15)
    directions = np.eye(4)
    y = np.repeat(np.arange(4), 50)
    X = directions[y] * rng.uniform(0.5, 20.0, size=(200, 1)) + rng.normal(0, 0.05, (200, 4))
    km = KMedoids(4, metric="cosine", method=method).fit(X)
    assert labels_agree(km.labels_, y) == 1.0


@pytest.mark.parametrize("method", ["alternate", "pam"])
def test_backends_agree_with_numpy(xp, method):
    X, _ = _data(n=180, seed=16)
    ref = KMedoids(5, method=method, init="k-medoids++", random_state=1).fit(X)
    km = KMedoids(5, method=method, init="k-medoids++", random_state=1).fit(xp.asarray(X))
    np.testing.assert_array_equal(to_numpy(km.medoid_indices_), ref.medoid_indices_)
    np.testing.assert_array_equal(to_numpy(km.labels_), ref.labels_)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e-12)
    Xx = xp.asarray(X)
    for out in (km.labels_, km.medoid_indices_, km.cluster_centers_, km.predict(Xx),
                km.transform(Xx)):
        assert_same_kind(out, Xx)


@pytest.mark.parametrize("metric", METRICS + ("precomputed",))
def test_predict_transform_and_inertia_agree(xp, metric):
    X, _ = _data(n=150, seed=17)
    fit_X = pairwise_distances(X) if metric == "precomputed" else X
    km = KMedoids(4, metric=metric).fit(xp.asarray(fit_X))
    labels = to_numpy(km.labels_)
    np.testing.assert_array_equal(to_numpy(km.predict(xp.asarray(fit_X))), labels)
    distances = to_numpy(km.transform(xp.asarray(fit_X)))
    assert distances.shape == (150, 4)
    np.testing.assert_array_equal(np.argmin(distances, axis=1), labels)
    np.testing.assert_allclose(distances.min(axis=1).sum(), km.inertia_, rtol=1e-9)
    if metric == "precomputed":
        assert km.cluster_centers_ is None
    else:
        # Both sides expand |x|^2 - 2 x.m + |m|^2 (scikit-learn as well): a medoid's distance
        # to itself is the square root of a rounding error, ~sqrt(eps) * |x| ~ 1e-7.
        expected = pairwise_distances(X, X[to_numpy(km.medoid_indices_)], metric=metric)
        np.testing.assert_allclose(distances, expected, rtol=1e-9, atol=1e-6)


def test_float32_and_float64_agree():
    X, _ = _data(seed=18)
    a = KMedoids(5, method="pam").fit(X)
    b = KMedoids(5, method="pam").fit(X.astype(np.float32))
    np.testing.assert_array_equal(a.medoid_indices_, b.medoid_indices_)
    assert b.cluster_centers_.dtype == np.float32
    assert b.transform(X.astype(np.float32)).dtype == np.float32
    assert b.inertia_ == pytest.approx(a.inertia_, rel=rtol_for(np.float32))


def test_alternate_warns_when_max_iter_is_reached():
    X, _ = _data(n=300, d=2, centers=10, seed=19, std=3.0)
    with pytest.warns(ConvergenceWarning, match="Maximum number of iteration"):
        km = KMedoids(10, init="random", max_iter=1, random_state=0).fit(X)
    assert km.n_iter_ == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        KMedoids(10, init="random", random_state=0).fit(X)


# --------------------------------------------------------------------------
# Memory: no n x n matrix unless it is given or fits


def test_no_square_matrix_beyond_the_budget(monkeypatch):
    """With a budget below n^2 values the distances come in blocks; within it, BUILD and
    PAM share one matrix."""
    calls = []
    full = SampleDistances._full_matrix

    def spy(self, host):
        calls.append(self.n)
        return full(self, host)

    monkeypatch.setattr(SampleDistances, "_full_matrix", spy)
    X, _ = _data(n=400, seed=20)
    with config_context(memory_budget=400 * 400 * 8 - 1):
        for method in ("alternate", "pam"):
            KMedoids(4, method=method, init="build").fit(X)
    assert calls == []
    assert _medoid_distances.matrix_fits(400, 8, "cpu")  # the default budget: free memory
    KMedoids(4, method="pam", init="build").fit(X)
    KMedoids(4, method="alternate", init="k-medoids++", random_state=0).fit(X)
    assert calls == [400]  # alternate without BUILD never needs it


# --------------------------------------------------------------------------
# Errors


def test_more_clusters_than_samples():
    with pytest.raises(ValueError, match=r"n_samples=6 should be >= n_clusters=7"):
        KMedoids(7).fit(HAND_X)


@pytest.mark.parametrize("params, error, match", [
    ({"metric": "chebyshev"}, ValueError, r"metric must be one of \('euclidean', 'cosine', "
                                          r"'manhattan', 'precomputed'\), got 'chebyshev'"),
    ({"method": "fasterpam"}, ValueError, r"method must be one of \('alternate', 'pam'\)"),
    ({"init": "kmeans"}, ValueError, r"init must be one of \('build', 'heuristic', "
                                     r"'k-medoids\+\+', 'random'\) or an array"),
    ({"init": np.array([0, 1, 2])}, ValueError, r"init has 3 medoids but n_clusters=2"),
    ({"init": np.array([0, 9])}, ValueError, r"must lie in \[0, 6\), got \[0, 9\]"),
    ({"init": np.array([1, 1])}, ValueError, r"must be distinct, got \[1, 1\]"),
    ({"init": np.array([0.5, 1.5])}, ValueError, r"integer medoid indices"),
    ({"init": np.array([[1.0, 2.0], [9.0, 9.0]])}, ValueError, r"Row 1 of init is not a row of X"),
    ({"init": np.array([[1.0], [4.0]])}, ValueError, r"init has 1 feature but X has 2\."),
    ({"n_clusters": 0}, ValueError, r"n_clusters must be >= 1, got 0"),
    ({"n_clusters": 2.5}, TypeError, r"n_clusters must be an instance of Integral"),
    ({"max_iter": -1}, ValueError, r"max_iter must be >= 0, got -1"),
])
def test_bad_parameters(params, error, match):
    km = KMedoids(**{"n_clusters": 2, **params})
    with pytest.raises(error, match=match):
        km.fit(HAND_X)
    assert not hasattr(km, "labels_")


def test_precomputed_must_be_square_and_non_negative():
    with pytest.raises(ValueError, match=r"square distance matrix, got shape \(6, 2\)"):
        KMedoids(2, metric="precomputed").fit(HAND_X)
    D = pairwise_distances(HAND_X)
    D[0, 1] = -1.0
    with pytest.raises(ValueError, match="Negative values in data passed to precomputed"):
        KMedoids(2, metric="precomputed").fit(D)


def test_predict_checks_the_features_and_a_failed_fit_changes_nothing():
    km = KMedoids(2).fit(HAND_X)
    with pytest.raises(ValueError, match="X has 3 features, but KMedoids is expecting 2"):
        km.predict(np.zeros((2, 3)))
    medoids = np.asarray(km.medoid_indices_).copy()
    with pytest.raises(ValueError, match="contains NaN"):
        km.fit(np.full((6, 2), np.nan))
    np.testing.assert_array_equal(km.medoid_indices_, medoids)


def test_integer_input_is_measured_in_float64():
    km = KMedoids(2).fit(np.array([[0, 0], [1, 1], [2, 2], [10, 10]]))
    assert km.cluster_centers_.dtype == np.float64
    assert km.inertia_ == pytest.approx(2 * np.sqrt(2), rel=1e-15)


def test_metric_aliases():
    a = KMedoids(2, metric="l1").fit(HAND_X)
    b = KMedoids(2, metric="manhattan").fit(HAND_X)
    np.testing.assert_array_equal(a.medoid_indices_, b.medoid_indices_)
    assert a.inertia_ == b.inertia_


# --------------------------------------------------------------------------
# The automatic search


def test_search_tries_kmedoids_in_thorough_mode():
    from gpucluster.auto import search

    X, y = make_blobs_np(300, 6, centers=4, seed=21, cluster_std=0.6)
    result = search(X, algorithms=["kmedoids"], mode="thorough", labels=y, random_state=0,
                    progress=False)
    ran = [c for c in result.candidates if c["status"] == "ok"]
    assert ran and all(c["params"]["method"] == "pam" for c in ran)
    best = result.candidates[result.ranking[0]]
    assert best["n_clusters"] == 4
    np.testing.assert_equal(labels_agree(result.labels(1), y), 1.0)
    # O(n^2) per pass: only the thorough mode tries it.
    assert search(X, algorithms=["kmedoids"], mode="balanced", progress=False).candidates == []


@pytest.mark.parametrize("method", ["alternate", "pam"])
@pytest.mark.parametrize("offset", [1e4, 1e6])
def test_cosine_far_from_the_origin_keeps_the_small_angles(method, offset):
    """Rows far from the origin are at small angles: 1 - u.v cancelled (float32 blobs + 1e4:
    inertia_ 3e7 times the loss of its own medoids, "alternate" stopped at worse medoids);
    from the unit rows' differences, 1 - cos = |u - v|^2 / 2, it keeps its digits. The
    medoids, labels and inertia are those of the exact float64 distances."""
    X, _ = make_blobs_np(60, 3, centers=3, seed=0, cluster_std=0.5)
    X = (X + offset).astype(np.float32)
    U = X.astype(np.float64) / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
    U -= U.mean(axis=0)
    D = pairwise_distances(U, metric="sqeuclidean") / 2.0
    init = np.random.default_rng(3).choice(len(X), 4, replace=False)
    km = KMedoids(4, metric="cosine", method=method, init=init).fit(X)
    medoids = np.asarray(km.medoid_indices_)
    if method == "pam":
        ref_medoids, ref_loss, _, _ = reference_medoids.fasterpam(D, init, max_iter=300)
    else:
        ref_medoids = alternate_reference(D, init)[0]
        ref_loss = reference_medoids.loss(D, ref_medoids)
    np.testing.assert_array_equal(np.sort(medoids), np.sort(ref_medoids))
    np.testing.assert_allclose(km.inertia_, ref_loss, rtol=1e-4)
    np.testing.assert_array_equal(km.labels_, np.argmin(D[:, medoids], axis=1))
    np.testing.assert_allclose(km.transform(X), D[:, medoids], rtol=1e-3, atol=1e-12)


@pytest.mark.parametrize("method", ["alternate", "pam"])
def test_cosine_with_zero_rows_far_from_the_origin(method):
    """A zero row is 1 from every other row (scikit-learn's cosine distance) and 0 from
    itself. The other rows, at 1e6, keep their small angles (|u - v|^2 / 2 of the centred
    unit rows) where 1 - u.v cancelled ("alternate" stopped at other medoids); a zero row
    that is a medoid is its own cluster, at 0 (it was 1 from itself, in cluster 0: pam's
    inertia_ was 1.9999995 for an exact 6.1e-11). Reference: the exact float64 distances
    and scikit-learn-extra's loops on them."""
    X, _ = make_blobs_np(60, 3, centers=3, seed=0, cluster_std=0.5)
    X = (X + 1e6).astype(np.float32)
    X[[7, 40]] = 0.0
    X64 = X.astype(np.float64)
    norms = np.linalg.norm(X64, axis=1)
    U = np.where(norms[:, None] > 0, X64 / np.where(norms > 0, norms, 1.0)[:, None], 0.0)
    D = pairwise_distances(U, metric="sqeuclidean") / 2.0
    D[norms == 0, :] = 1.0
    D[:, norms == 0] = 1.0
    np.fill_diagonal(D, 0.0)
    init = np.array([7, 12, 22, 50])
    km = KMedoids(4, metric="cosine", method=method, init=init).fit(X)
    medoids = np.asarray(km.medoid_indices_)
    if method == "pam":
        ref_medoids = reference_medoids.fasterpam(D, init, max_iter=300)[0]
    else:
        ref_medoids = alternate_reference(D, init)[0]
    np.testing.assert_array_equal(np.sort(medoids), np.sort(ref_medoids))
    labels = np.argmin(D[:, medoids], axis=1)
    np.testing.assert_array_equal(km.labels_, labels)
    np.testing.assert_allclose(km.inertia_, D[np.arange(60), medoids[labels]].sum(), rtol=1e-6)


@pytest.mark.parametrize("fit_zero_rows", [False, True])
def test_cosine_predict_and_transform_on_rows_with_a_zero_row(fit_zero_rows):
    """predict and transform measure an X with a zero row as the fit does: the other rows
    from their centred unit rows, a zero row at 1 from every medoid (a zero medoid too, X
    not being the fitted samples), as scikit-learn's cosine_distances in float64. They took
    1 - u.v in X's dtype when the fitted X had no zero row: at 1e4, distances 5e-3 off
    relative, two negative, and predict's labels other than the nearest medoids'."""
    X, _ = make_blobs_np(60, 3, centers=3, seed=0, cluster_std=0.5)
    X = (X + 1e4).astype(np.float32)
    if fit_zero_rows:
        X[7] = 0.0
    init = np.array([7, 12, 22, 50])
    km = KMedoids(4, metric="cosine", init=init).fit(X)
    Q = X[::3].copy()
    Q[[1, 4]] = 0.0
    expected = cosine_distances(Q.astype(np.float64),
                                np.asarray(km.cluster_centers_, dtype=np.float64))
    D = km.transform(Q)
    assert D.dtype == np.float32
    np.testing.assert_array_equal(D[[1, 4]], 1.0)
    np.testing.assert_allclose(D, expected, rtol=1e-4, atol=1e-12)
    np.testing.assert_array_equal(km.predict(Q), np.argmin(expected, axis=1))
