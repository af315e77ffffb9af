"""KMeans and MiniBatchKMeans on dask arrays equal the single-machine estimators.

From the same initial centres the distributed Lloyd loop is the single-machine
one except for the order in which the float64 per-chunk sums are added, so
centres agree to 1e-6 (float64, they agree to ~1e-14 in practice) and labels
exactly; k-means|| from a seed does not depend on the chunking.
"""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gpucluster import KMeans, MiniBatchKMeans
from gpucluster.distributed import _chunks, is_dask_array, kmeans, minibatch

da = pytest.importorskip("dask.array")

CHUNKINGS = {
    "uneven": (700, 1000, 1300),
    "single": (3000,),
    "with-empty": (1200, 0, 1800),
}


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(3000, centers=6, n_features=5, cluster_std=1.0, random_state=0)
    return X + 50.0, y  # far from the origin: the centred path runs


def _dask(X, chunks):
    return da.from_array(X, chunks=(chunks, X.shape[1]))


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_same_initial_centres_give_the_single_machine_result(dask_client, blobs, metric):
    X, _ = blobs
    init = X[::500][:6]
    ref = KMeans(6, init=init, n_init=1, metric=metric).fit(X)
    est = kmeans.fit(KMeans(6, init=init, n_init=1, metric=metric),
                     _dask(X, CHUNKINGS["uneven"]))
    assert isinstance(est.cluster_centers_, np.ndarray)
    assert is_dask_array(est.labels_)
    np.testing.assert_allclose(est.cluster_centers_, ref.cluster_centers_, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(est.labels_.compute(), ref.labels_)
    assert est.n_iter_ == ref.n_iter_
    assert est.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)


def test_sample_weight_as_dask_or_in_memory(dask_client, blobs):
    X, _ = blobs
    w = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])
    init = X[:6]
    ref = KMeans(6, init=init, n_init=1).fit(X, sample_weight=w)
    dX = _dask(X, CHUNKINGS["uneven"])
    est = kmeans.fit(KMeans(6, init=init, n_init=1), dX,
                     sample_weight=da.from_array(w, chunks=1000))
    np.testing.assert_allclose(est.cluster_centers_, ref.cluster_centers_, atol=1e-6)
    assert est.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_final_labels_ask_for_distances_only_where_they_are_read(monkeypatch, blobs, metric):
    """A chunk's final E-step: the euclidean inertia comes from the differences, so the
    kernel is asked for labels alone; cosine sums its distances."""
    from gpucluster.cluster import kmeans as single

    asked = []
    assign = single.DENSE.assign

    def spy(*args, with_distances=True, **kwargs):
        asked.append(with_distances)
        return assign(*args, with_distances=with_distances, **kwargs)

    monkeypatch.setattr(single.DENSE, "assign", spy)
    X = blobs[0][:300]
    Xm = single.prepare_for_metric(X, metric)
    centers = Xm[[0, 100, 200]]
    w = np.ones(len(X))
    labels, stats = kmeans._labels_block(Xm, w, single.fit_norms(Xm, metric), centers, metric)
    assert asked == [metric != "euclidean"]
    expected, distances = single.labels_and_distances(Xm, centers, metric)
    np.testing.assert_array_equal(labels, expected)
    inertia = (single.inertia_from_differences(Xm, centers, expected, w)
               if metric == "euclidean" else float(distances.astype(np.float64).sum()))
    assert stats[0] == pytest.approx(inertia, rel=1e-12)
    np.testing.assert_array_equal(stats[1:], np.bincount(expected, minlength=3))


def test_kmeans_parallel_inertia_within_two_percent_of_kmeans_plusplus(dask_client, blobs):
    X, _ = blobs
    ref = KMeans(6, random_state=0).fit(X)
    est = kmeans.fit(KMeans(6, init="k-means||", random_state=0), _dask(X, CHUNKINGS["uneven"]))
    assert est.inertia_ <= 1.02 * ref.inertia_


def test_the_chunking_does_not_change_the_result(dask_client, blobs):
    """k-means|| draws against the global cumulative potential, so the seed picks the same
    rows whatever the chunks (different sizes, one chunk, an empty one)."""
    X, _ = blobs
    results = [kmeans.fit(KMeans(6, init="k-means||", random_state=1), _dask(X, chunks))
               for chunks in CHUNKINGS.values()]
    for est in results[1:]:
        np.testing.assert_allclose(est.cluster_centers_, results[0].cluster_centers_, atol=1e-9)
        np.testing.assert_array_equal(est.labels_.compute(), results[0].labels_.compute())


def test_predict_transform_score_are_lazy_and_match(dask_client, blobs):
    X, _ = blobs
    ref = KMeans(6, init=X[:6], n_init=1).fit(X)
    est = kmeans.fit(KMeans(6, init=X[:6], n_init=1), _dask(X, CHUNKINGS["with-empty"]))
    dX = _dask(X, CHUNKINGS["uneven"])
    labels, distances = kmeans.predict(est, dX), kmeans.transform(est, dX)
    assert is_dask_array(labels) and is_dask_array(distances)
    assert labels.dtype == np.int32 and distances.shape == (3000, 6)
    np.testing.assert_array_equal(labels.compute(), ref.predict(X))
    np.testing.assert_allclose(distances.compute(), ref.transform(X), rtol=1e-9)
    assert kmeans.score(est, dX) == pytest.approx(ref.score(X), rel=1e-9)
    # A model fitted on chunks predicts in-memory arrays as the single-machine one.
    np.testing.assert_array_equal(est.predict(X), ref.predict(X))


def test_far_from_the_origin_in_float32_as_on_one_machine(dask_client):
    """float32 rows at 1e6 with spread 0.1: predict, score and inertia_ as the single-machine
    model's (centred rows, inertia from differences), not from the GEMM's rounding."""
    X, _ = make_blobs(600, centers=4, n_features=2, cluster_std=0.1, random_state=0)
    X = (X + 1e6).astype(np.float32)
    init = X[[0, 150, 300, 450]]
    ref = KMeans(4, init=init, n_init=1).fit(X)
    est = kmeans.fit(KMeans(4, init=init, n_init=1), _dask(X, (200, 0, 400)))
    # At convergence the centres are the labels' means (float32 at 1e6 rounds them by 0.03).
    X64, labels = X.astype(np.float64), ref.labels_
    means = np.array([X64[labels == j].mean(axis=0) for j in range(4)])
    exact = float(np.sum((X64 - means[labels]) ** 2))
    assert ref.inertia_ == pytest.approx(exact, rel=1e-5)
    assert est.inertia_ == pytest.approx(exact, rel=1e-5)
    dX = _dask(X, (250, 350))
    np.testing.assert_array_equal(kmeans.predict(est, dX).compute(), ref.predict(X))
    np.testing.assert_array_equal(kmeans.predict(est, dX).compute(), ref.labels_)
    # score measures against cluster_centers_ as stored (float32, rounded at 1e6).
    stored = float(np.sum((X64 - est.cluster_centers_[labels]) ** 2))
    assert ref.score(X) == pytest.approx(-stored, rel=1e-6)
    assert kmeans.score(est, dX) == pytest.approx(-stored, rel=1e-6)


@pytest.mark.parametrize("row, value, message", [(1234, np.nan, "NaN"), (2500, np.inf, "infinity")])
def test_a_non_finite_value_is_refused_in_the_first_pass(dask_client, blobs, row, value, message):
    X, _ = blobs
    bad = X.copy()
    bad[row, row % 3] = value
    with pytest.raises(ValueError, match=message):
        kmeans.fit(KMeans(6), _dask(bad, CHUNKINGS["uneven"]))


def test_bad_input_is_refused(dask_client, blobs):
    X, _ = blobs
    est = kmeans.fit(KMeans(6, init=X[:6], n_init=1), _dask(X, CHUNKINGS["single"]))
    with pytest.raises(ValueError, match="features"):
        kmeans.predict(est, _dask(X[:, :3], CHUNKINGS["single"]))
    with pytest.raises(ValueError, match="n_samples=3 should be >= n_clusters=6"):
        kmeans.fit(KMeans(6), _dask(X[:3], (3,)))


def test_minibatch_partial_fit_over_chunks_equals_the_same_calls_in_memory(dask_client, blobs):
    X, _ = blobs
    chunks = CHUNKINGS["with-empty"]
    est = minibatch.fit(MiniBatchKMeans(6, batch_size=256, random_state=0), _dask(X, chunks))
    ref = MiniBatchKMeans(6, batch_size=256, random_state=0, compute_labels=False)
    start = 0
    for size in chunks:
        for b in range(0, size, 256):
            ref.partial_fit(X[start + b:start + min(size, b + 256)])
        start += size
    np.testing.assert_array_equal(est.cluster_centers_, ref.cluster_centers_)
    assert est.n_steps_ == ref.n_steps_
    assert is_dask_array(est.labels_)
    np.testing.assert_array_equal(est.labels_.compute(), ref.predict(X))


def test_import_gpucluster_without_dask():
    code = (
        "import sys\n"
        "sys.modules['dask'] = None\n"
        "import numpy as np, gpucluster, gpucluster.distributed as d\n"
        "assert not d.is_dask_array(np.zeros(2))\n"
        "km = gpucluster.KMeans(2, random_state=0).fit(np.array([[0.], [0.1], [5.], [5.1]]))\n"
        "try:\n"
        "    d.kmeans.fit(km, None)\n"
        "except ImportError as exc:\n"
        "    print('gpucluster[dask]' in str(exc))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_an_empty_cluster_is_relocated_as_on_one_machine(dask_client, blobs):
    """A centre far from every row gets none: the farthest row takes it, as on one machine."""
    X, _ = blobs
    init = np.vstack([X[::500][:5], np.full((1, X.shape[1]), 1e4)])
    ref = KMeans(6, init=init, n_init=1).fit(X)
    est = kmeans.fit(KMeans(6, init=init, n_init=1), _dask(X, CHUNKINGS["with-empty"]))
    np.testing.assert_allclose(est.cluster_centers_, ref.cluster_centers_, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(est.labels_.compute(), ref.labels_)
    assert est.n_iter_ == ref.n_iter_


def test_local_scheduler_gives_the_single_machine_result(blobs):
    """Without a distributed client (Dask's threads), each chunk is a task of its own."""
    import dask

    X, _ = blobs
    init = X[::500][:6]
    ref = KMeans(6, init=init, n_init=1).fit(X)
    with dask.config.set(scheduler="threads"):
        dX = _dask(X, CHUNKINGS["with-empty"])
        assert _chunks.chunk_groups(dX.persist()) == [[0], [1], [2]]
        est = kmeans.fit(KMeans(6, init=init, n_init=1), dX)
        np.testing.assert_array_equal(est.labels_.compute(), ref.labels_)
    np.testing.assert_allclose(est.cluster_centers_, ref.cluster_centers_, rtol=0, atol=1e-6)
    assert est.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)


def test_a_lloyd_iteration_is_one_task_per_worker_thread(dask_client, blobs):
    """Eight chunks on two one-thread workers: each pass runs two chunk tasks, each on the
    worker holding its chunks, whatever the number of chunks."""
    distributed = pytest.importorskip("distributed")
    X, _ = blobs
    dX = _dask(X, (375,) * 8).persist()
    distributed.wait(dX)
    groups = _chunks.chunk_groups(dX)
    assert sorted(i for g in groups for i in g) == list(range(8))
    holders = dask_client.who_has(dX)
    keys = [(dX.name, i, 0) for i in range(8)]
    for group in groups:
        assert len({holders[keys[i]][0] for i in group}) == 1
    assert len(groups) == len(dask_client.nthreads()) == 2
    with distributed.get_task_stream(dask_client) as stream:
        est = kmeans.fit(KMeans(6, init=X[::500][:6], n_init=1, max_iter=3, tol=0), dX)
    assert est.n_iter_ == 3
    passes = [t for t in stream.data if str(t["key"]).startswith("_sum_group-")]
    assert len(passes) == 3 * 2


def test_split_balanced_keeps_order_and_evens_the_rows():
    assert _chunks._split_balanced([0, 1, 2, 3], [10, 10, 10, 10], 2) == [[0, 1], [2, 3]]
    assert _chunks._split_balanced([4, 6, 9], [30, 5, 5], 2) == [[4], [6, 9]]
    assert _chunks._split_balanced([1, 2], [0, 0], 4) == [[1], [2]]
    assert _chunks._split_balanced([7], [5], 3) == [[7]]
