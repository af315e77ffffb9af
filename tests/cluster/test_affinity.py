"""AffinityPropagation: scikit-learn's exemplars, labels, n_iter and affinity_matrix_ to the bit
on float64 blobs; its warnings and errors; backends; the memory check; estimator checks."""

import warnings

import numpy as np
import pytest
from sklearn import cluster as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from gpucluster import config_context
from gpucluster.cluster.affinity import (
    AffinityMemoryError,
    AffinityPropagation,
    affinity_propagation,
    member_sums_float32,
    refine_exemplars,
)
from gpucluster.backend import median

from .._helpers import assert_same_kind, labels_agree, make_blobs_np, to_numpy

HAND_X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 4], [4, 0]], dtype=np.float64)


@parametrize_with_checks([AffinityPropagation(random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("n,d,seed", [(150, 2, 0), (200, 5, 1), (240, 8, 3)])
def test_matches_sklearn_exactly_on_blobs(n, d, seed):
    """Same exemplars, labels and n_iter as scikit-learn with the same random_state."""
    X, y = make_blobs_np(n, d, centers=4, seed=seed)
    ref = sk.AffinityPropagation(random_state=seed).fit(X)
    ap = AffinityPropagation(random_state=seed).fit(X)
    np.testing.assert_array_equal(ap.cluster_centers_indices_, ref.cluster_centers_indices_)
    np.testing.assert_array_equal(ap.labels_, ref.labels_)
    assert ap.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ap.cluster_centers_, ref.cluster_centers_)
    # The noisy similarities agree to rounding (row norms are summed in another order).
    np.testing.assert_allclose(ap.affinity_matrix_, ref.affinity_matrix_, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ap.predict(X[:50]), ref.predict(X[:50]))


def test_precomputed_with_preference_and_damping_matches_sklearn():
    X, _ = make_blobs_np(180, 3, centers=5, seed=2)
    S = -((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    pref = np.linspace(-60, -20, len(X))
    ref = sk.AffinityPropagation(affinity="precomputed", preference=pref, damping=0.7,
                                 random_state=1).fit(S)
    centers, labels, n_iter = affinity_propagation(S, preference=pref, damping=0.7,
                                                   random_state=1, return_n_iter=True)
    np.testing.assert_array_equal(centers, ref.cluster_centers_indices_)
    np.testing.assert_array_equal(labels, ref.labels_)
    assert n_iter == ref.n_iter_


def test_hand_computed(xp, dtype):
    """Two columns of three points: exemplars (1, 2) and (4, 2)."""
    X = xp.asarray(HAND_X.astype(dtype))
    ap = AffinityPropagation(random_state=5).fit(X)
    assert to_numpy(ap.cluster_centers_indices_).tolist() == [0, 3]
    assert to_numpy(ap.labels_).tolist() == [0, 0, 0, 1, 1, 1]
    assert to_numpy(ap.predict(xp.asarray(np.array([[0, 0], [4, 4]], dtype=dtype)))).tolist() == [0, 1]
    for out in (ap.labels_, ap.cluster_centers_, ap.cluster_centers_indices_, ap.affinity_matrix_):
        assert_same_kind(out, X)
    assert str(ap.cluster_centers_.dtype).endswith(np.dtype(dtype).name)


def test_backends_agree_with_numpy(xp):
    X, y = make_blobs_np(120, 4, centers=3, seed=4)
    ref = AffinityPropagation(random_state=0).fit(X)
    ap = AffinityPropagation(random_state=0).fit(xp.asarray(X))
    assert labels_agree(ap.labels_, ref.labels_) == 1.0
    np.testing.assert_array_equal(to_numpy(ap.cluster_centers_indices_), ref.cluster_centers_indices_)
    assert_same_kind(ap.labels_, xp.asarray(X))


def test_float32_agrees_with_sklearn():
    X, _ = make_blobs_np(150, 4, centers=3, seed=6, dtype=np.float32)
    ref = sk.AffinityPropagation(random_state=0).fit(X)
    ap = AffinityPropagation(random_state=0).fit(X)
    assert labels_agree(ap.labels_, ref.labels_) == 1.0
    assert ap.affinity_matrix_.dtype == np.float32


@pytest.mark.parametrize("seed,damping", [(0, 0.9), (1, 0.5), (3, 0.5), (13, 0.9)])
def test_float32_lattice_picks_sklearns_exemplars(seed, damping):
    """float32 rows on a lattice: each cluster's exemplar is refined by sums of S that tie
    but for their float32 rounding, which scikit-learn adds in float32 row by row."""
    X = np.random.default_rng(seed).integers(0, 4, size=(40, 3)).astype(np.float32)
    ref = sk.AffinityPropagation(damping=damping, random_state=0).fit(X)
    ours = AffinityPropagation(damping=damping, random_state=0).fit(X)
    np.testing.assert_array_equal(to_numpy(ours.cluster_centers_indices_),
                                  ref.cluster_centers_indices_)
    np.testing.assert_array_equal(to_numpy(ours.labels_), ref.labels_)


def row_order_member_sums(S, clusters):
    """The float32 sums the exemplars were refined from before: one pass per row of S,
    each adding the row where its cluster is the column's (scikit-learn's row order)."""
    total = np.zeros(S.shape[1], dtype=S.dtype)
    for i in range(S.shape[0]):
        total = total + np.where(clusters == clusters[i], S[i, :], np.float32(0))
    return total


def refined_before(S, clusters, k):
    """``refine_exemplars`` as it was: float32 scores from the row-by-row sums, float64
    scores from the per-cluster float64 sums; each cluster's first member of largest score."""
    n = S.shape[0]
    if S.dtype == np.float32:
        score = row_order_member_sums(S, clusters)
    else:
        sums = np.zeros((k, n))
        np.add.at(sums, clusters, S)
        score = sums[clusters, np.arange(n)]
    return np.array([np.flatnonzero(clusters == c)[np.argmax(score[clusters == c])]
                     for c in range(k)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(4))
def test_refined_exemplars_are_those_of_the_row_by_row_sums(xp, dtype, seed):
    """Each cluster's exemplar from sums of S over its members (float32: added member by
    member, all columns at once, to the same bits as a pass per row; float64: the
    kernel's sums), on every backend. The float32 similarities of lattice rows tie
    but for their rounding: sums added in another order (float64, or torch's sum)
    pick another exemplar for one of these 22 clusters."""
    rng = np.random.default_rng(seed)
    n, k = 60, int(rng.integers(1, 8))
    rows = rng.integers(0, 4, size=(n, 3)).astype(dtype) * dtype(0.1)
    S = -((rows[:, None, :] - rows[None, :, :]) ** 2).sum(axis=2).astype(dtype)
    if dtype == np.float64:  # no ties there: the kernel adds in its own order
        S += rng.standard_normal((n, n)) * 1e-6
    clusters = rng.permutation(np.arange(n) % k).astype(np.int64)
    expected = refined_before(S, clusters, k)
    got = refine_exemplars(xp.asarray(S), xp.asarray(clusters), k)
    np.testing.assert_array_equal(to_numpy(got), expected)
    if dtype == np.float32:
        sums = member_sums_float32(xp.asarray(S), xp.asarray(clusters),
                                   xp.asarray(np.bincount(clusters, minlength=k)))
        np.testing.assert_array_equal(to_numpy(sums), row_order_member_sums(S, clusters))


def test_float32_exemplars_take_no_float64_sums(monkeypatch):
    """The float32 refinement adds S in float32 alone: the kernel's float64 per-cluster
    sums (an (k, n) array, O(n^2) work) were computed beside it and thrown away."""
    from gpucluster import kernels

    def refuse(*args, **kwargs):
        raise AssertionError("centroid_update called for a float32 S")

    monkeypatch.setattr(kernels, "centroid_update", refuse)
    X = np.random.default_rng(0).integers(0, 4, size=(40, 3)).astype(np.float32)
    ref = sk.AffinityPropagation(random_state=0).fit(X)
    ours = AffinityPropagation(random_state=0).fit(X)
    np.testing.assert_array_equal(to_numpy(ours.cluster_centers_indices_),
                                  ref.cluster_centers_indices_)


def test_median_is_numpys(xp):
    rng = np.random.default_rng(0)
    for shape in ((5, 5), (4, 4), (1, 1)):
        S = rng.normal(size=shape)
        value = median(xp.asarray(S))
        assert float(to_numpy(value)) == float(np.median(S)) and value.dtype == xp.asarray(S).dtype


def test_not_converged_warns_as_sklearn():
    X, _ = make_blobs_np(100, 2, centers=3, seed=0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        ap = AffinityPropagation(max_iter=2, random_state=0).fit(X)
    assert ap.n_iter_ == 2
    with pytest.warns(ConvergenceWarning):
        ref = sk.AffinityPropagation(max_iter=2, random_state=0).fit(X)
    np.testing.assert_array_equal(ap.labels_, ref.labels_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("converged", [True, False])
def test_label_dtypes_are_sklearns(dtype, converged):
    """labels_, predict, fit_predict and the function's labels are int64, as scikit-learn's,
    with exemplars and without (every label -1)."""
    X = make_blobs_np(30, 2, centers=3, seed=1)[0].astype(dtype)
    params = dict(random_state=0) if converged else dict(preference=-1e6, max_iter=1,
                                                         random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = sk.AffinityPropagation(**params).fit(X)
        ours = AffinityPropagation(**params).fit(X)
        outputs = [(ours.labels_, ref.labels_), (ours.predict(X), ref.predict(X)),
                   (ours.fit_predict(X), ref.fit_predict(X))]
        S = -((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
        outputs.append((affinity_propagation(S, random_state=0)[1],
                        sk.affinity_propagation(S, random_state=0)[1]))
    for out, expected in outputs:
        assert to_numpy(out).dtype == expected.dtype == np.int64
        np.testing.assert_array_equal(to_numpy(out), expected)


def test_no_exemplar_labels_minus_one_and_predict_warns():
    X = np.array([[0, 0], [1, 1], [-2, -2]], dtype=np.float64)
    with pytest.warns(ConvergenceWarning, match="will not have any cluster centers"):
        ap = AffinityPropagation(preference=-10, max_iter=1, random_state=0).fit(X)
    assert to_numpy(ap.labels_).tolist() == [-1, -1, -1]
    assert ap.cluster_centers_.shape == (0, 2)
    with pytest.warns(ConvergenceWarning, match="Labeling every sample as '-1'"):
        assert ap.predict(X).tolist() == [-1, -1, -1]


@pytest.mark.parametrize("preference,expected", [(-10, [0]), (10, [0, 1, 2])])
def test_equal_similarities_warn_and_follow_the_preference(preference, expected):
    X = np.zeros((3, 2))
    with pytest.warns(UserWarning, match="mutually equal similarities"):
        ap = AffinityPropagation(preference=preference, random_state=0).fit(X)
    assert ap.cluster_centers_indices_.tolist() == expected
    assert ap.n_iter_ == 0


def test_one_sample_is_one_cluster():
    with pytest.warns(UserWarning, match="mutually equal similarities"):
        ap = AffinityPropagation().fit(np.array([[1.0, 2.0]]))
    assert ap.labels_.tolist() == [0]


def test_memory_budget_refuses_with_memory_and_value_error():
    X, _ = make_blobs_np(200, 2)
    with config_context(memory_budget=2**20):
        with pytest.raises(AffinityMemoryError, match="memory_budget"):
            AffinityPropagation().fit(X)
    assert issubclass(AffinityMemoryError, MemoryError)
    assert issubclass(AffinityMemoryError, ValueError)


@pytest.mark.parametrize("params,error,match", [
    (dict(damping=0.4), ValueError, "damping"),
    (dict(damping=1.0), ValueError, "damping"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(convergence_iter=0), ValueError, "convergence_iter"),
    (dict(affinity="cosine"), ValueError, "affinity"),
    (dict(preference=[1.0, 2.0]), ValueError, "preference"),
])
def test_bad_parameters_are_refused(params, error, match):
    X, _ = make_blobs_np(20, 2)
    with pytest.raises(error, match=match):
        AffinityPropagation(**params).fit(X)


def test_precomputed_errors():
    with pytest.raises(ValueError, match="square"):
        AffinityPropagation(affinity="precomputed").fit(np.zeros((3, 4)))
    with pytest.warns(UserWarning, match="mutually equal similarities"):
        ap = AffinityPropagation(affinity="precomputed", random_state=0).fit(-np.eye(4))
    assert not hasattr(ap, "cluster_centers_")
    with pytest.raises(ValueError, match="not supported when affinity='precomputed'"):
        ap.predict(np.zeros((2, 4)))


def test_copy_false_overwrites_precomputed_as_sklearn():
    X, _ = make_blobs_np(60, 2, seed=3)
    S = -((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    original = S.copy()
    ap = AffinityPropagation(affinity="precomputed", copy=False, random_state=0).fit(S)
    assert ap.affinity_matrix_ is S or np.shares_memory(ap.affinity_matrix_, S)
    assert not np.array_equal(S, original)
    kept = original.copy()
    AffinityPropagation(affinity="precomputed", random_state=0).fit(kept)
    np.testing.assert_array_equal(kept, original)


def test_predict_rejects_wrong_n_features():
    ap = AffinityPropagation(random_state=0).fit(HAND_X)
    with pytest.raises(ValueError, match="features"):
        ap.predict(np.zeros((2, 3)))


def test_signature_matches_sklearn():
    import inspect

    ours = inspect.signature(AffinityPropagation).parameters
    theirs = inspect.signature(sk.AffinityPropagation).parameters
    assert list(ours)[: len(theirs)] == list(theirs)
    for name, p in theirs.items():
        assert ours[name].default == p.default and ours[name].kind == p.kind, name
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert set(inspect.signature(affinity_propagation).parameters) == set(
            inspect.signature(sk.affinity_propagation).parameters)
