"""MiniBatchKMeans: parity with scikit-learn, streaming with partial_fit, reassignment, early stopping."""

import numpy as np
import pytest
import sklearn.cluster
from sklearn.datasets import load_iris

from gpucluster import KMeans, MiniBatchKMeans

from .._helpers import labels_agree, make_blobs_np, rtol_for, to_numpy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_step_for_step(xp, seed):
    """Batches, seeding and updates follow scikit-learn's: same centres, inertia and steps."""
    X, _ = make_blobs_np(2000, 5, centers=6, seed=seed)
    params = dict(n_clusters=6, batch_size=128, random_state=seed)
    ref = sklearn.cluster.MiniBatchKMeans(**params).fit(X)
    km = MiniBatchKMeans(**params).fit(xp.asarray(X))
    assert km.n_steps_ == ref.n_steps_ and km.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(to_numpy(km.cluster_centers_), ref.cluster_centers_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(km.inertia_, ref.inertia_, rtol=1e-7)
    np.testing.assert_array_equal(to_numpy(km.labels_), ref.labels_)


def test_iris_with_sample_weight_matches_sklearn():
    X, _ = load_iris(return_X_y=True)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    params = dict(n_clusters=3, batch_size=32, random_state=0, tol=1e-3)
    ref = sklearn.cluster.MiniBatchKMeans(**params).fit(X, sample_weight=w)
    km = MiniBatchKMeans(**params).fit(X, sample_weight=w)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-7)
    assert km.n_steps_ == ref.n_steps_


def test_partial_fit_streams_to_a_good_solution(xp, dtype):
    """Chunks seen once each, in order: the centres end close to full-batch KMeans."""
    X, y = make_blobs_np(6000, 4, centers=5, dtype=dtype, seed=1, cluster_std=0.5)
    km = MiniBatchKMeans(5, random_state=0)
    for start in range(0, len(X), 500):
        km.partial_fit(xp.asarray(X[start:start + 500]))
    assert km.n_steps_ == 12
    labels = to_numpy(km.predict(xp.asarray(X)))
    assert labels_agree(labels, y) > 0.99
    full = KMeans(5, random_state=0).fit(X)
    assert km.score(xp.asarray(X)) >= 1.01 * full.score(X)  # scores are negative inertias


def test_partial_fit_rejects_changed_feature_count():
    X, _ = make_blobs_np(100, 3, centers=3)
    km = MiniBatchKMeans(3, random_state=0).partial_fit(X)
    centers = km.cluster_centers_.copy()
    with pytest.raises(ValueError, match="X has 2 features, but MiniBatchKMeans is expecting 3"):
        km.partial_fit(X[:, :2])
    np.testing.assert_array_equal(km.cluster_centers_, centers)


def test_small_clusters_are_reassigned():
    """A centre placed far from all data receives no weight and is moved onto the data."""
    X, _ = make_blobs_np(1000, 2, centers=3, seed=0)
    init = np.vstack([X[:3], [[1e3, 1e3]]])
    km = MiniBatchKMeans(4, init=init, batch_size=100, random_state=0, max_iter=5).fit(X)
    centers = km.cluster_centers_
    assert np.abs(centers).max() < 100
    assert len(np.unique(km.labels_)) == 4


def test_no_improvement_stops_early():
    X, _ = make_blobs_np(5000, 2, centers=3, seed=0)
    patient = MiniBatchKMeans(3, batch_size=100, max_iter=10, random_state=0, max_no_improvement=None).fit(X)
    hasty = MiniBatchKMeans(3, batch_size=100, max_iter=10, random_state=0, max_no_improvement=2).fit(X)
    assert patient.n_steps_ == (10 * 5000) // 100
    assert hasty.n_steps_ < patient.n_steps_


def test_cosine_minibatch_centres_are_unit_vectors(xp):
    X, y = make_blobs_np(1000, 8, centers=4, seed=3)
    km = MiniBatchKMeans(4, metric="cosine", random_state=0, batch_size=200).fit(xp.asarray(X))
    np.testing.assert_allclose(np.linalg.norm(to_numpy(km.cluster_centers_), axis=1), 1.0,
                               rtol=rtol_for(np.float64))
    assert labels_agree(km.labels_, y) > 0.9


@pytest.mark.parametrize(
    "params, match",
    [
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
        ({"reassignment_ratio": -0.5}, "reassignment_ratio must be >= 0, got -0.5"),
        ({"n_clusters": 0}, "n_clusters must be >= 1, got 0"),
    ],
)
def test_rejects_bad_parameters(params, match):
    X, _ = make_blobs_np(50, 2, centers=3)
    with pytest.raises(ValueError, match=match):
        MiniBatchKMeans(**{"n_clusters": 3, **params}).fit(X)


def test_small_init_size_warns():
    X, _ = make_blobs_np(100, 2, centers=3)
    with pytest.warns(RuntimeWarning, match="init_size=2 should be larger than n_clusters=3"):
        MiniBatchKMeans(3, init_size=2, random_state=0).fit(X)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_batches_from_the_cdf_are_the_draws_of_choice(weighted):
    """The CDF made once per fit draws the rows RandomState.choice(p=...) drew, step after step.

    Other draws (reassignment) are interleaved, as in fit, so the random
    stream must be consumed exactly as choice consumed it.
    """
    from gpucluster.cluster.minibatch_kmeans import batch_cdf, draw_batch

    rng = np.random.default_rng(0)
    n = 5000
    w = rng.uniform(0.0, 3.0, n) if weighted else np.ones(n)
    if weighted:
        w[rng.integers(0, n, 50)] = 0.0  # rows that must never be drawn
    old, new = np.random.RandomState(7), np.random.RandomState(7)
    p = w / w.sum()
    cdf = batch_cdf(w)
    for step in range(30):
        want = old.choice(n, 256, p=p, replace=True)
        got = draw_batch(cdf, new, 256)
        np.testing.assert_array_equal(got, want, err_msg=f"step {step}")
        np.testing.assert_array_equal(new.choice(n, 3, replace=False), old.choice(n, 3, replace=False))
    assert not np.isin(got, np.flatnonzero(w == 0)).any()


def test_fit_draws_the_batches_of_choice(monkeypatch):
    """A whole fit gives the centres it gave when every batch was drawn with choice(p=...)."""
    from gpucluster.cluster import minibatch_kmeans as module

    X, _ = make_blobs_np(3000, 4, centers=5, seed=3)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    params = dict(n_clusters=5, batch_size=64, random_state=4, max_no_improvement=None, max_iter=3)
    got = MiniBatchKMeans(**params).fit(X, sample_weight=w)

    def draw_with_choice(cdf, random_state, size):
        p = np.diff(cdf, prepend=0.0)
        return random_state.choice(len(cdf), size, p=p / p.sum(), replace=True)

    monkeypatch.setattr(module, "draw_batch", draw_with_choice)
    want = MiniBatchKMeans(**params).fit(X, sample_weight=w)
    assert got.n_steps_ == want.n_steps_
    np.testing.assert_array_equal(got.cluster_centers_, want.cluster_centers_)


@pytest.mark.parametrize("kind", ["int64", "bool"])
def test_integer_input_gives_float64_centres_as_sklearn(kind):
    X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0], [5, 7], [6, 8]])
    X = X if kind == "int64" else X > 3
    params = dict(n_clusters=3, batch_size=4, random_state=0, n_init=1)
    ref = sklearn.cluster.MiniBatchKMeans(**params).fit(X)
    km = MiniBatchKMeans(**params).fit(X)
    assert ref.cluster_centers_.dtype == km.cluster_centers_.dtype == np.float64
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-7, atol=1e-9)
    km.partial_fit(X)
    assert km.cluster_centers_.dtype == np.float64


def test_get_feature_names_out_matches_sklearn():
    X, _ = make_blobs_np(60, 4, centers=3, seed=0)
    ref = sklearn.cluster.MiniBatchKMeans(3, random_state=0).fit(X)
    km = MiniBatchKMeans(3, random_state=0).fit(X)
    np.testing.assert_array_equal(km.get_feature_names_out(), ref.get_feature_names_out())
    np.testing.assert_array_equal(km.get_feature_names_out(),
                                  ["minibatchkmeans0", "minibatchkmeans1", "minibatchkmeans2"])
    # partial_fit alone fits too.
    streamed = MiniBatchKMeans(3, random_state=0).partial_fit(X)
    np.testing.assert_array_equal(streamed.get_feature_names_out(), km.get_feature_names_out())


# --------------------------------------------------------------------------
# Sparse input (SciPy CSR and CSC): batches are rows of the sparse matrix


def _sparse_blobs(n_samples=2000, n_features=10, centers=6, seed=0, dtype=np.float64):
    """Blobs with about half the entries zero, so the sparse structure is real."""
    X, y = make_blobs_np(n_samples, n_features, centers=centers, seed=seed, cluster_std=1.5)
    X[X < 0] = 0
    return X.astype(dtype), y


def _as_sparse(X, fmt):
    import scipy.sparse

    return getattr(scipy.sparse, fmt)(X)


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "csr_array"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64],
                         ids=["float32", "float64", "int64"])
@pytest.mark.parametrize("init", ["k-means++", "array"])
def test_sparse_fit_equals_dense_fit(fmt, dtype, init):
    """Same seed, weights and init: the same batches, steps and labels as the dense fit, centres
    and inertia to 1e-6 (float64; float32 to its default tolerance: other summation orders)."""
    X, _ = _sparse_blobs(dtype=dtype)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    start = X[[0, 300, 600, 900, 1200, 1500]].astype(np.float64) if init == "array" else init
    params = dict(n_clusters=6, init=start, batch_size=128, random_state=0, n_init=1)
    dense = MiniBatchKMeans(**params).fit(X, sample_weight=w)
    km = MiniBatchKMeans(**params).fit(_as_sparse(X, fmt), sample_weight=w)
    rtol = 1e-6 if dtype != np.float32 else rtol_for(np.float32)
    assert km.n_steps_ == dense.n_steps_ and km.n_iter_ == dense.n_iter_
    np.testing.assert_array_equal(km.labels_, dense.labels_)
    np.testing.assert_allclose(km.cluster_centers_, dense.cluster_centers_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(km.inertia_, dense.inertia_, rtol=rtol)
    assert km.cluster_centers_.dtype == dense.cluster_centers_.dtype
    Xs = _as_sparse(X, fmt)
    np.testing.assert_array_equal(km.predict(Xs), dense.predict(X))
    np.testing.assert_allclose(km.transform(Xs), dense.transform(X), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(km.score(Xs), dense.score(X), rtol=rtol)


@pytest.mark.parametrize("seed", [0, 1])
def test_sparse_fit_matches_sklearn_step_for_step(seed):
    """scikit-learn on the same CSR matrix: same steps, labels and centres (to 1e-6)."""
    X, _ = _sparse_blobs(seed=seed)
    Xs = _as_sparse(X, "csr_matrix")
    w = np.random.default_rng(seed).uniform(0.5, 2.0, len(X))
    params = dict(n_clusters=6, batch_size=128, random_state=seed)
    ref = sklearn.cluster.MiniBatchKMeans(**params).fit(Xs, sample_weight=w)
    km = MiniBatchKMeans(**params).fit(Xs, sample_weight=w)
    assert km.n_steps_ == ref.n_steps_
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(km.inertia_, ref.inertia_, rtol=1e-6)


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix"])
def test_sparse_partial_fit_equals_dense_partial_fit(fmt):
    """Chunks streamed through partial_fit, sparse or dense, with weights: the same centres."""
    X, _ = _sparse_blobs(1800, seed=2)
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(X))
    dense, km = MiniBatchKMeans(6, random_state=0), MiniBatchKMeans(6, random_state=0)
    for start in range(0, len(X), 300):
        part = slice(start, start + 300)
        dense.partial_fit(X[part], sample_weight=w[part])
        km.partial_fit(_as_sparse(X[part], fmt), sample_weight=w[part])
        np.testing.assert_allclose(km.cluster_centers_, dense.cluster_centers_, rtol=1e-6,
                                   atol=1e-9)
        np.testing.assert_array_equal(km.labels_, dense.labels_)
    assert km.n_steps_ == dense.n_steps_ == 6


def test_sparse_reassignment_moves_centres_onto_rows():
    """A centre far from all data is moved onto a sparse row, as on dense X."""
    X, _ = _sparse_blobs(1000, 4, centers=3, seed=0)
    init = np.vstack([X[:3], np.full((1, 4), 1e3)])
    params = dict(n_clusters=4, init=init, batch_size=100, random_state=0, max_iter=5)
    dense = MiniBatchKMeans(**params).fit(X)
    km = MiniBatchKMeans(**params).fit(_as_sparse(X, "csr_matrix"))
    assert np.abs(km.cluster_centers_).max() < 100
    np.testing.assert_allclose(km.cluster_centers_, dense.cluster_centers_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("bad, match", [(np.nan, "NaN"), (np.inf, "infinity")],
                         ids=["nan", "inf"])
def test_sparse_nan_or_inf_stored_values_are_rejected(bad, match):
    X, _ = _sparse_blobs(200, 4, centers=3)
    km = MiniBatchKMeans(3, random_state=0).partial_fit(_as_sparse(X, "csr_matrix"))
    centers = km.cluster_centers_.copy()
    X_bad = X.copy()
    X_bad[7, 1] = bad
    for method in (km.fit, km.partial_fit, km.predict):
        with pytest.raises(ValueError, match=match):
            method(_as_sparse(X_bad, "csc_matrix"))
    np.testing.assert_array_equal(km.cluster_centers_, centers)


def _rows_at_a_large_offset():
    """60 float32 rows in 3 tight groups (spread 0.1) at an offset of 1e6."""
    rs = np.random.RandomState(0)
    centres = rs.randn(3, 3) * 5
    return (1e6 + 0.1 * np.vstack([c + rs.randn(20, 3) for c in centres])).astype(np.float32)


def _exact_inertia_and_nearest(X, centers, labels):
    """The inertia of ``labels`` in float64 from the differences, and the nearest centres."""
    X, centers = X.astype(np.float64), np.asarray(centers, np.float64)
    inertia = ((X - centers[labels]) ** 2).sum()
    return inertia, ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)


def test_labels_and_inertia_at_a_large_offset_are_exact():
    """labels_ and inertia_ (fit and partial_fit) come from KMeans's centred nearest-centre
    search and the differences to the assigned centre, as scikit-learn's inertia does: at a
    1e6 offset in float32 fit gave inertia_ 2,357,788 for 26.2 on its labels_ (24 of 60
    rows not nearest), partial_fit 0.0 for 13.7 (15 of 30)."""
    X = _rows_at_a_large_offset()
    init = X[[0, 20, 40]]
    km = MiniBatchKMeans(3, init=init, n_init=1, batch_size=20, random_state=0).fit(X)
    exact, nearest = _exact_inertia_and_nearest(X, km.cluster_centers_, km.labels_)
    np.testing.assert_array_equal(km.labels_, nearest)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    assert km.inertia_ == pytest.approx(exact, rel=1e-6)
    assert km.score(X) == pytest.approx(-exact, rel=1e-6)
    km = MiniBatchKMeans(3, init=init, n_init=1, random_state=0)
    km.partial_fit(X[:30]).partial_fit(X[30:])
    exact, nearest = _exact_inertia_and_nearest(X[30:], km.cluster_centers_, km.labels_)
    np.testing.assert_array_equal(km.labels_, nearest)
    assert km.inertia_ == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("init", ["k-means++", "callable"])
def test_fit_and_partial_fit_at_a_large_offset_match_the_fit_at_the_origin(init):
    """Rows far from the origin are shifted (by the validation rows' mean in fit, by the
    batch's in partial_fit) before distances are taken, so float32 rows at an offset of 1e6
    cluster as the same rows at 0: unshifted (and in scikit-learn) inertia_ was 60.6 for
    1.70 and the centres ended 0.98 apart. A callable init still sees X's coordinates."""
    X = _rows_at_a_large_offset()
    Y = (X.astype(np.float64) - 1e6).astype(np.float32)
    seen = []

    def one_row_per_group(X, n_clusters, random_state):
        seen.append(float(np.min(X)))
        return X[[0, len(X) // 3, 2 * len(X) // 3]]

    params = dict(n_clusters=3, batch_size=20, random_state=0,
                  init=one_row_per_group if init == "callable" else init)
    far = MiniBatchKMeans(**params).fit(X)
    assert all(lowest > 9e5 for lowest in seen)
    near = MiniBatchKMeans(**params).fit(Y)
    np.testing.assert_array_equal(far.labels_, near.labels_)
    np.testing.assert_allclose(far.cluster_centers_ - 1e6, near.cluster_centers_, atol=0.05)
    assert far.inertia_ == pytest.approx(near.inertia_, rel=0.1)
    far, near = MiniBatchKMeans(**params), MiniBatchKMeans(**params)
    for part in (slice(0, 60, 2), slice(1, 60, 2)):
        far.partial_fit(X[part])
        near.partial_fit(Y[part])
    assert far.score(X) == pytest.approx(near.score(Y), rel=0.1)
