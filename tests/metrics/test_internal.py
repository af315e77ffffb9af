"""Silhouette, Calinski-Harabasz and Davies-Bouldin against scikit-learn, on every backend."""

import doctest
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.exceptions as skl_exceptions
import sklearn.metrics as skm
from sklearn.datasets import load_iris
from sklearn.utils._param_validation import InvalidParameterError

from gpucluster import config_context, metrics
from gpucluster.metrics import _internal

from .._helpers import assert_same_kind, make_blobs_np, rtol_for, to_numpy

SILHOUETTE_METRICS = ("euclidean", "sqeuclidean", "cosine", "precomputed")


def _blobs():
    X, y = make_blobs_np(n_samples=200, n_features=5, centers=4, seed=0)
    return X, y


def _iris():
    return load_iris(return_X_y=True)


def _random_with_singleton():
    """Random labels, a singleton cluster, and a noise label -1 (an ordinary label to sklearn)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3))
    y = rng.integers(-1, 4, size=120)
    y[17] = 9
    return X, y


DATASETS = {"blobs": _blobs, "iris": _iris, "random_singleton_noise": _random_with_singleton}


def _tolerance(dtype):
    """(rtol, atol) against sklearn run in float64 on the same values.

    In float32 our distances come from float32 GEMM tiles (sklearn upcasts
    to float64), so values carry float32 rounding: rtol_for(float32). The
    silhouette lies in [-1, 1], so the same amount is allowed as an absolute
    error for coefficients near 0.
    """
    rtol = rtol_for(dtype)
    return rtol, rtol


def _as_precomputed(X, metric):
    if metric != "precomputed":
        return X
    return skm.pairwise_distances(X)


@pytest.mark.parametrize("metric", SILHOUETTE_METRICS)
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_silhouette_matches_sklearn(xp, dtype, dataset, metric):
    X, y = DATASETS[dataset]()
    D = _as_precomputed(X, metric).astype(dtype)
    expected_score = skm.silhouette_score(D.astype(np.float64), y, metric=metric)
    expected_samples = skm.silhouette_samples(D.astype(np.float64), y, metric=metric)
    rtol, atol = _tolerance(dtype)

    score = metrics.silhouette_score(xp.asarray(D), xp.asarray(y), metric=metric)
    assert isinstance(score, float)
    np.testing.assert_allclose(score, expected_score, rtol=rtol, atol=atol)

    samples = metrics.silhouette_samples(xp.asarray(D), xp.asarray(y), metric=metric)
    assert_same_kind(samples, xp.asarray(D))
    assert samples.shape == (len(y),)
    assert to_numpy(samples).dtype == np.dtype(dtype)
    np.testing.assert_allclose(to_numpy(samples), expected_samples, rtol=rtol, atol=atol,
                               err_msg=f"{dataset} {metric} {xp}")


@pytest.mark.parametrize("offset", [1e4, 1e5])
def test_silhouette_cosine_float32_far_from_the_origin(xp, offset):
    # Rows at small angles: 1 - cos in float32 cancels (0.68 for 0.998 at 1e4).
    X, y = make_blobs_np(n_samples=200, n_features=3, centers=4, cluster_std=0.1, seed=0)
    X = (X + offset).astype(np.float32)
    expected = skm.silhouette_samples(X.astype(np.float64), y, metric="cosine")
    samples = metrics.silhouette_samples(xp.asarray(X), xp.asarray(y), metric="cosine")
    np.testing.assert_allclose(to_numpy(samples), expected, atol=1e-5)


def _triples_far_from_the_origin(offset):
    """Float32 rows about ``offset`` from the origin and a tenth of it apart, each one
    three times, one cluster per triple; the last row joins cluster 0, so its two twins
    have a = 0 (coefficient 1) and it has b = 0 (coefficient -1)."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(8, 4)) * (offset / 10) + offset
    y = np.repeat(np.arange(8), 3)
    y[23] = 0
    return np.repeat(points, 3, axis=0).astype(np.float32), y


@pytest.mark.parametrize("offset", [1e3, 1e4, 1e5])
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
def test_silhouette_float32_identical_rows_far_from_the_origin(xp, offset, metric):
    """Identical rows are 0 apart, not the Gram tile's sqrt(eps32) |x| (which gave
    -0.99975 for -1). Tolerance 1e-6 absolute against scikit-learn in float64: the
    coefficients are rounded to float32 (6e-8), and the distances kept from the Gram
    tiles, above 2^12 eps32 of the squared norms, err by under 1e-6 in the coefficient."""
    X, y = _triples_far_from_the_origin(offset)
    expected = skm.silhouette_samples(X.astype(np.float64), y, metric=metric)
    samples = to_numpy(metrics.silhouette_samples(xp.asarray(X), xp.asarray(y), metric=metric))
    np.testing.assert_allclose(samples, expected, rtol=0, atol=1e-6)
    assert samples[21] == samples[22] == 1.0 and samples[23] == -1.0
    score = metrics.silhouette_score(xp.asarray(X), xp.asarray(y), metric=metric)
    np.testing.assert_allclose(score, expected.mean(), rtol=0, atol=1e-6)


def test_silhouette_cosine_with_a_zero_row_matches_sklearn():
    X, y = _random_with_singleton()
    X[[3, 40]] = 0.0
    np.testing.assert_allclose(metrics.silhouette_samples(X, y, metric="cosine"),
                               skm.silhouette_samples(X, y, metric="cosine"), rtol=1e-9)


def test_silhouette_singleton_gets_zero():
    X, y = _random_with_singleton()
    samples = metrics.silhouette_samples(X, y)
    assert samples[17] == 0.0


def test_silhouette_identical_points_in_a_cluster():
    """a = 0 inside a cluster of duplicates: coefficient 1, as sklearn."""
    X = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0], [3.0, 4.0], [6.0, 8.0]])
    y = [0, 0, 1, 1, 2]
    np.testing.assert_allclose(metrics.silhouette_samples(X, y),
                               skm.silhouette_samples(X, y), rtol=1e-12)


def test_silhouette_labels_of_another_kind_than_X(xp):
    """X in one backend, labels as a list or a NumPy array: the labels follow X."""
    X, y = _blobs()
    expected = skm.silhouette_score(X, y)
    assert metrics.silhouette_score(xp.asarray(X), y.tolist()) == pytest.approx(expected, rel=1e-9)
    assert metrics.silhouette_score(X, xp.asarray(y)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("metric", ["euclidean", "precomputed"])
@pytest.mark.parametrize("random_state", [0, 7, "instance"])
def test_silhouette_sample_size_picks_the_same_sample_as_sklearn(xp, metric, random_state):
    X, y = _iris()
    D = _as_precomputed(X, metric)
    make_state = (lambda: np.random.RandomState(3)) if random_state == "instance" else (
        lambda: random_state)
    expected = skm.silhouette_score(D, y, metric=metric, sample_size=60,
                                    random_state=make_state())
    score = metrics.silhouette_score(xp.asarray(D), xp.asarray(y), metric=metric,
                                     sample_size=60, random_state=make_state())
    assert score == pytest.approx(expected, rel=1e-9)


def test_silhouette_moderate_n_in_many_chunks(monkeypatch):
    """n=3000 over several row chunks (forced by a tiny memory budget) equals sklearn."""
    X, y = make_blobs_np(n_samples=3000, n_features=16, centers=8, seed=3)
    expected = skm.silhouette_samples(X, y)
    whole = metrics.silhouette_samples(X, y)
    monkeypatch.setattr(_internal, "MIN_SILHOUETTE_CHUNK_ROWS", 1)
    with config_context(memory_budget=700 * 4 * 8 * 8):  # about 700 rows per chunk
        chunked = metrics.silhouette_samples(X, y)
    np.testing.assert_allclose(whole, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(chunked, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("name", ["calinski_harabasz_score", "davies_bouldin_score"])
def test_ch_and_db_match_sklearn(xp, dtype, dataset, name):
    X, y = DATASETS[dataset]()
    X = X.astype(dtype)
    expected = getattr(skm, name)(X.astype(np.float64), y)
    value = getattr(metrics, name)(xp.asarray(X), xp.asarray(y))
    assert isinstance(value, float)
    # Both accumulate in float64; in float32 only the inputs' rounding differs.
    np.testing.assert_allclose(value, expected, rtol=rtol_for(dtype))


def test_ch_and_db_degenerate_clusters_follow_sklearn():
    """Zero within-cluster spread: CH is 1.0 and DB 0.0, as sklearn defines them."""
    X = np.array([[0.0], [0.0], [1.0], [1.0]])
    y = [0, 0, 1, 1]
    assert metrics.calinski_harabasz_score(X, y) == skm.calinski_harabasz_score(X, y) == 1.0
    assert metrics.davies_bouldin_score(X, y) == skm.davies_bouldin_score(X, y) == 0.0


def test_ch_and_db_hand_computed():
    """Two clusters {0, 2} and {10, 12} on a line.

    Centres 1 and 11, overall mean 6: between = 2*25 + 2*25 = 100, within =
    4 * 1 = 4, CH = 100 * (4 - 2) / (4 * (2 - 1)) = 50. Spreads 1 and 1,
    centre distance 10: DB = (1 + 1) / 10 = 0.2.
    """
    X = np.array([[0.0], [2.0], [10.0], [12.0]])
    y = [0, 0, 1, 1]
    assert metrics.calinski_harabasz_score(X, y) == pytest.approx(50.0, rel=1e-12)
    assert metrics.davies_bouldin_score(X, y) == pytest.approx(0.2, rel=1e-12)


INTERNAL = ["silhouette_score", "silhouette_samples", "calinski_harabasz_score",
            "davies_bouldin_score"]


@pytest.mark.parametrize("name", INTERNAL)
@pytest.mark.parametrize("labels", [[0] * 6, list(range(6))], ids=["one_label", "n_labels"])
def test_rejects_label_counts_outside_2_to_n_minus_1(name, labels):
    X = np.arange(12.0).reshape(6, 2)
    with pytest.raises(ValueError, match="Valid values are 2 to n_samples - 1") as info:
        getattr(skm, name)(X, labels)
    with pytest.raises(ValueError) as ours:
        getattr(metrics, name)(X, labels)
    assert str(ours.value) == str(info.value)


@pytest.mark.parametrize("name", INTERNAL)
def test_rejects_mismatched_lengths(name):
    X = np.arange(12.0).reshape(6, 2)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[6, 5\]"):
        getattr(metrics, name)(X, [0, 0, 1, 1, 2])


@pytest.mark.parametrize("name", INTERNAL)
@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_rejects_non_finite_X(xp, name, bad):
    X = np.arange(12.0).reshape(6, 2)
    X[2, 1] = bad
    with pytest.raises(ValueError, match="NaN" if np.isnan(bad) else "infinity"):
        getattr(metrics, name)(xp.asarray(X), [0, 0, 1, 1, 2, 2])


def test_rejects_two_dimensional_labels():
    X = np.arange(12.0).reshape(6, 2)
    with pytest.raises(ValueError, match="1D"):
        metrics.silhouette_score(X, np.zeros((6, 2), dtype=int))


@pytest.mark.parametrize("name", ["silhouette_score", "silhouette_samples",
                                  "calinski_harabasz_score", "davies_bouldin_score"])
def test_column_vector_labels_are_raveled_with_sklearns_warning(name):
    X, y = _random_with_singleton()
    column = y.reshape(-1, 1)
    with pytest.warns(skl_exceptions.DataConversionWarning, match="column-vector"):
        expected = getattr(skm, name)(X, column)
    with pytest.warns(skl_exceptions.DataConversionWarning, match="column-vector"):
        got = getattr(metrics, name)(X, column)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_silhouette_score_column_vector_labels_with_sample_size():
    X, y = _random_with_singleton()
    expected = skm.silhouette_score(X, y, sample_size=50, random_state=0)
    with pytest.warns(skl_exceptions.DataConversionWarning, match="column-vector"):
        got = metrics.silhouette_score(X, y.reshape(-1, 1), sample_size=50, random_state=0)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_silhouette_rejects_bad_parameters():
    X = np.arange(12.0).reshape(6, 2)
    y = [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="'metric' parameter of silhouette_score must be"):
        metrics.silhouette_score(X, y, metric="wminkowski")
    with pytest.raises(ValueError, match=r"'sample_size' parameter .* range \[1, inf\)"):
        metrics.silhouette_score(X, y, sample_size=0)
    with pytest.raises(ValueError, match="non-zero elements on the diagonal"):
        metrics.silhouette_score(np.ones((6, 6)), y, metric="precomputed")
    with pytest.raises(ValueError, match="requires shape"):
        metrics.silhouette_score(X, y, metric="precomputed")


@pytest.mark.parametrize("sparse", [False, True])
def test_silhouette_precomputed_negative_distance_raises_as_sklearn(sparse):
    X = np.arange(12.0).reshape(6, 2)
    y = [0, 0, 1, 1, 2, 2]
    D = skm.pairwise_distances(X)
    D[0, 3] = -1.0
    D = sp.csr_matrix(D) if sparse else D
    with pytest.raises(ValueError) as expected:
        skm.silhouette_samples(D, y, metric="precomputed")
    with pytest.raises(ValueError) as got:
        metrics.silhouette_samples(D, y, metric="precomputed")
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("n_columns", [4, 9])
def test_silhouette_precomputed_not_square_raises_as_sklearn(n_columns):
    X = np.arange(16.0).reshape(8, 2)
    y = [0, 0, 1, 1, 2, 2, 3, 3]
    D = skm.pairwise_distances(X, np.vstack([X, X]))[:, :n_columns]
    with pytest.raises(ValueError) as expected:
        skm.silhouette_samples(D, y, metric="precomputed")
    with pytest.raises(ValueError) as got:
        metrics.silhouette_samples(D, y, metric="precomputed")
    assert str(got.value) == str(expected.value)


def test_docstring_examples_run():
    from gpucluster.metrics import _balance, _external

    for module in (_internal, _external, _balance):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, f"doctest failures in {module.__name__}"
        assert result.attempted > 0, f"no docstring example found in {module.__name__}"


# One finite outlier far beyond the other rows. The distance kernel's
# |x|^2 - 2 x.y + |y|^2 used to centre the rows on their mean, which the outlier
# drags as far as itself, wiping out every small distance; and near the dtype's
# largest value the squares overflow to inf and the silhouette to NaN.

def _with_outlier(value, dtype):
    X = np.random.default_rng(0).normal(size=(20, 3))
    X[0, 0] = value
    return X.astype(dtype), np.arange(20) % 3


def _exact_silhouette_samples(X, labels, metric):
    """Silhouette in 50-digit decimals: no overflow, no cancellation (small X only)."""
    from decimal import Decimal, localcontext

    with localcontext() as context:
        context.prec = 50
        rows = [[Decimal(float(v)) for v in row] for row in X]

        def distance(p, q):
            if metric == "cosine":
                dot = sum(a * b for a, b in zip(p, q))
                return 1 - dot / (sum(a * a for a in p).sqrt() * sum(b * b for b in q).sqrt())
            return sum((a - b) ** 2 for a, b in zip(p, q)).sqrt()

        D = [[distance(p, q) for q in rows] for p in rows]
        values = []
        for i, own in enumerate(labels):
            means = {t: sum(D[i][j] for j in np.flatnonzero(labels == t) if j != i)
                     / max(1, int(np.sum(labels == t)) - (t == own)) for t in set(labels)}
            a = means.pop(own)
            b = min(means.values())
            values.append(float((b - a) / max(a, b)))
    return np.array(values)


@pytest.mark.parametrize("value, dtype", [(1e150, np.float64), (1e12, np.float64),
                                          (1e4, np.float32)],
                         ids=["1e150-float64", "1e12-float64", "1e4-float32"])
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
def test_silhouette_matches_sklearn_with_one_far_outlier(xp, value, dtype, metric):
    X, y = _with_outlier(value, dtype)
    expected = skm.silhouette_samples(X.astype(np.float64), y, metric=metric)
    rtol = rtol_for(dtype)
    samples = to_numpy(metrics.silhouette_samples(xp.asarray(X), xp.asarray(y), metric=metric))
    np.testing.assert_allclose(samples, expected, rtol=rtol, atol=rtol)
    score = metrics.silhouette_score(xp.asarray(X), xp.asarray(y), metric=metric)
    np.testing.assert_allclose(score, skm.silhouette_score(X.astype(np.float64), y,
                                                           metric=metric), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("value, dtype", [(1e308, np.float64), (3e38, np.float32)],
                         ids=["1e308-float64", "3e38-float32"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_silhouette_with_an_outlier_near_the_largest_float(xp, value, dtype, metric):
    """scikit-learn's own squared norms overflow here (it returns NaN distances and maps
    them to 0), so the reference is exact decimal arithmetic, and sklearn on the same rows
    with the outlier at 1e150, which no float64 step of its overflows and which is, to
    1e-100, the same silhouette."""
    X, y = _with_outlier(value, dtype)
    expected = _exact_silhouette_samples(X, y, metric)
    far = X.astype(np.float64)
    far[0, 0] = 1e150
    np.testing.assert_allclose(expected.mean(), skm.silhouette_score(far, y, metric=metric),
                               rtol=1e-12)
    rtol = rtol_for(dtype)
    samples = to_numpy(metrics.silhouette_samples(xp.asarray(X), xp.asarray(y), metric=metric))
    np.testing.assert_allclose(samples, expected, rtol=rtol, atol=rtol)
    score = metrics.silhouette_score(xp.asarray(X), xp.asarray(y), metric=metric)
    np.testing.assert_allclose(score, expected.mean(), rtol=rtol, atol=rtol)


# --------------------------------------------------------------------------
# What the kernel does not compute: sparse X, other metrics, callables, keyword arguments

SPARSE_FORMATS = ["csr", "csc", "coo", "lil", "dok"]


def _sparse_blobs(fmt):
    """Blobs with about half the entries zeroed, as a SciPy sparse matrix of ``fmt``."""
    X, y = make_blobs_np(n_samples=120, n_features=6, centers=3, seed=2)
    X[np.random.default_rng(2).random(X.shape) < 0.5] = 0.0
    return sp.random(1, 1).asformat(fmt).__class__(X), X, y


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine", "sqeuclidean"])
@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_silhouette_sparse_X_matches_sklearn(fmt, metric):
    X_sparse, X, y = _sparse_blobs(fmt)
    # scikit-learn refuses sparse rows with "sqeuclidean"; its dense value is the reference.
    expected = skm.silhouette_samples(X, y, metric=metric)
    samples = metrics.silhouette_samples(X_sparse, y, metric=metric)
    assert isinstance(samples, np.ndarray) and samples.dtype == np.float64
    np.testing.assert_allclose(samples, expected, rtol=1e-9, atol=1e-12)
    score = metrics.silhouette_score(X_sparse, y, metric=metric)
    assert isinstance(score, float)
    assert score == pytest.approx(skm.silhouette_score(X, y, metric=metric), rel=1e-9)


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_silhouette_sparse_precomputed_matches_dense(fmt):
    """A sparse distance matrix: its missing entries are zero distances, as in sklearn."""
    X, y = make_blobs_np(n_samples=80, n_features=3, centers=3, seed=4)
    D = skm.pairwise_distances(X)
    D[D > 4.0] = 0.0  # sparsify, as scikit-learn reads it
    D_sparse = sp.csr_matrix(D).asformat(fmt)
    expected = skm.silhouette_samples(sp.csr_matrix(D), y, metric="precomputed")
    np.testing.assert_allclose(metrics.silhouette_samples(D_sparse, y, metric="precomputed"),
                               expected, rtol=1e-12)
    np.testing.assert_allclose(metrics.silhouette_samples(D, y, metric="precomputed"),
                               expected, rtol=1e-12)


@pytest.mark.parametrize("metric", ["euclidean", "precomputed"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "lil"])
def test_silhouette_sparse_sample_size_picks_sklearns_sample(fmt, metric):
    X_sparse, X, y = _sparse_blobs(fmt)
    if metric == "precomputed":
        X_sparse = sp.csr_matrix(skm.pairwise_distances(X)).asformat(fmt)
    expected = skm.silhouette_score(X_sparse, y, metric=metric, sample_size=50, random_state=3)
    score = metrics.silhouette_score(X_sparse, y, metric=metric, sample_size=50,
                                     random_state=3)
    assert score == pytest.approx(expected, rel=1e-9)


def test_silhouette_sparse_float32_as_accurate_as_dense():
    """scikit-learn's own sparse test data: float32 features, one coefficient near 0.
    The sparse path measures in float64, so it agrees with the dense kernel path and with
    the float64 value to float32 rounding."""
    X = np.array([[0.2, 0.1, 0.1, 0.2, 0.1, 1.6, 0.2, 0.1]], dtype=np.float32).T
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    features = skm.pairwise_distances(X)
    exact = skm.silhouette_samples(features.astype(np.float64), y)
    sparse_out = metrics.silhouette_samples(sp.csr_matrix(features), y)
    dense_out = metrics.silhouette_samples(features, y)
    assert sparse_out.dtype == dense_out.dtype == np.float32
    np.testing.assert_allclose(sparse_out, exact, rtol=1e-6)
    np.testing.assert_allclose(dense_out, exact, rtol=1e-6)
    np.testing.assert_allclose(sparse_out, dense_out, rtol=1e-7)


HOST_METRICS = [
    ("manhattan", {}), ("cityblock", {}), ("l1", {}), ("l2", {}), ("chebyshev", {}),
    ("minkowski", {"p": 3}), ("canberra", {}), ("correlation", {}), ("seuclidean", {}),
]


@pytest.mark.parametrize("metric,kwds", HOST_METRICS, ids=[m for m, _ in HOST_METRICS])
def test_silhouette_other_metrics_match_sklearn(xp, metric, kwds):
    """Host metrics (and "l2" on the kernel) with keyword arguments; outputs mirror X."""
    X, y = _random_with_singleton()
    expected = skm.silhouette_samples(X, y, metric=metric, **kwds)
    samples = metrics.silhouette_samples(xp.asarray(X), xp.asarray(y), metric=metric, **kwds)
    assert_same_kind(samples, xp.asarray(X))
    np.testing.assert_allclose(to_numpy(samples), expected, rtol=1e-9, atol=1e-12)
    assert metrics.silhouette_score(xp.asarray(X), y, metric=metric, **kwds) == pytest.approx(
        skm.silhouette_score(X, y, metric=metric, **kwds), rel=1e-9)


def test_silhouette_keyword_arguments_take_the_host_path():
    """metric="euclidean" with a keyword argument of pairwise_distances (n_jobs) is
    accepted and gives the kernel's values."""
    X, y = _blobs()
    np.testing.assert_allclose(metrics.silhouette_samples(X, y, n_jobs=1),
                               metrics.silhouette_samples(X, y), rtol=1e-9)


def test_silhouette_boolean_metric_matches_sklearn():
    X = (np.random.default_rng(6).random((90, 10)) < 0.3)
    y = np.arange(90) % 3
    with pytest.warns(skl_exceptions.DataConversionWarning):
        expected = skm.silhouette_samples(X.astype(np.float64), y, metric="jaccard")
    # Bool X becomes float32 (gpucluster's rule), so the coefficients are float32; the
    # metric still reads it as bool, without scikit-learn's conversion warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        samples = metrics.silhouette_samples(X, y, metric="jaccard")
        metrics.silhouette_score(X, y, metric="jaccard", sample_size=60, random_state=0)
    assert samples.dtype == np.float32
    np.testing.assert_allclose(samples, expected, rtol=rtol_for(np.float32), atol=1e-7)
    with pytest.warns(skl_exceptions.DataConversionWarning):
        value = metrics.silhouette_score(X.astype(np.float64), y, metric="jaccard")
    assert value == pytest.approx(skm.silhouette_score(X, y, metric="jaccard"), rel=1e-12)


def test_silhouette_callable_metric_is_called_on_pairs_of_rows():
    X, y = _iris()
    calls = []

    def chebyshev(a, b):
        calls.append(a.shape)
        return float(np.max(np.abs(a - b)))

    expected = skm.silhouette_samples(X, y, metric="chebyshev")
    np.testing.assert_allclose(metrics.silhouette_samples(X, y, metric=chebyshev), expected,
                               rtol=1e-12)
    assert calls and set(calls) == {(4,)}


def test_silhouette_host_path_in_many_chunks_equals_one_chunk():
    """A tiny memory budget splits the host distances into row blocks; nothing changes."""
    X, y = make_blobs_np(n_samples=400, n_features=4, centers=5, seed=5)
    whole = metrics.silhouette_samples(X, y, metric="manhattan")
    with config_context(memory_budget=40 * 8 * 400):  # about 40 rows per block
        chunked = metrics.silhouette_samples(X, y, metric="manhattan")
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)
    np.testing.assert_allclose(whole, skm.silhouette_samples(X, y, metric="manhattan"),
                               rtol=1e-9)


def test_silhouette_sparse_rejects_bad_input():
    y = [0, 0, 0, 1, 1, 1]
    D = sp.csr_matrix(skm.pairwise_distances(np.arange(6.0)[:, None]))
    bad = D.tolil()
    bad[2, 2] = 1.0
    with pytest.raises(ValueError, match="non-zero elements on the diagonal"):
        metrics.silhouette_samples(bad, y, metric="precomputed")
    with pytest.raises(ValueError, match="requires shape"):
        metrics.silhouette_samples(D[:, :4], y, metric="precomputed")
    nan = sp.csr_matrix(np.arange(12.0).reshape(6, 2))
    nan.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.silhouette_score(nan, y)
    with pytest.raises(ValueError, match="Valid values are 2 to n_samples - 1"):
        metrics.silhouette_score(D, [0] * 6)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[6, 5\]"):
        metrics.silhouette_samples(D, y[:5])


@pytest.mark.parametrize("name", ["calinski_harabasz_score", "davies_bouldin_score"])
def test_ch_and_db_refuse_sparse_X_as_sklearn(name):
    """scikit-learn refuses sparse X here with InvalidParameterError, a TypeError."""
    X = sp.csr_matrix(np.arange(12.0).reshape(6, 2))
    y = [0, 0, 0, 1, 1, 1]
    with pytest.raises(InvalidParameterError):
        getattr(skm, name)(X, y)
    with pytest.raises(InvalidParameterError, match=f"Sparse input is not supported by {name}"):
        getattr(metrics, name)(X, y)
