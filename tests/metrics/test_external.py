"""Contingency-based metrics against scikit-learn, and cluster_balance by hand."""

import inspect
import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_iris
from sklearn.metrics.cluster._expected_mutual_info_fast import (
    expected_mutual_information as sklearn_emi,
)

from gpucluster import metrics

SCORES = ["adjusted_rand_score", "adjusted_mutual_info_score", "normalized_mutual_info_score",
          "homogeneity_score", "completeness_score", "v_measure_score", "mutual_info_score"]
# sklearn's own tests hold AMI to this; the other scores agree to rounding.
RTOL = 1e-6


def _pair(name):
    rng = np.random.default_rng(0)
    if name == "iris_vs_coarse":
        y = load_iris(return_X_y=True)[1]
        X = load_iris(return_X_y=True)[0]
        return y, (X[:, 2] > 2.5).astype(int) + (X[:, 3] > 1.7).astype(int)
    if name == "random":
        return rng.integers(0, 5, 400), rng.integers(0, 7, 400)
    if name == "noise_and_singleton":
        pred = rng.integers(-1, 4, 200)
        pred[11] = 42
        return rng.integers(0, 3, 200), pred
    if name == "identical_permuted":
        y = rng.integers(0, 6, 150)
        return y, (y + 2) % 6
    if name == "one_cluster_pred":
        return rng.integers(0, 4, 50), np.zeros(50, dtype=int)
    if name == "both_one_cluster":
        return np.zeros(30, dtype=int), np.full(30, 3)
    if name == "all_singletons":
        return rng.integers(0, 3, 40), np.arange(40)
    if name == "tiny":
        return np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    raise KeyError(name)


PAIRS = ["iris_vs_coarse", "random", "noise_and_singleton", "identical_permuted",
         "one_cluster_pred", "both_one_cluster", "all_singletons", "tiny"]


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("name", SCORES)
def test_scores_match_sklearn(xp, name, pair):
    labels_true, labels_pred = _pair(pair)
    expected = getattr(skm, name)(labels_true, labels_pred)
    value = getattr(metrics, name)(xp.asarray(labels_true), xp.asarray(labels_pred))
    assert isinstance(value, float)
    np.testing.assert_allclose(value, expected, rtol=RTOL, atol=1e-12, err_msg=f"{name} {pair}")


@pytest.mark.parametrize("average_method", ["arithmetic", "geometric", "min", "max"])
@pytest.mark.parametrize("name", ["adjusted_mutual_info_score", "normalized_mutual_info_score"])
def test_average_methods_match_sklearn(name, average_method):
    for pair in ("random", "noise_and_singleton", "iris_vs_coarse"):
        labels_true, labels_pred = _pair(pair)
        expected = getattr(skm, name)(labels_true, labels_pred, average_method=average_method)
        value = getattr(metrics, name)(labels_true, labels_pred, average_method=average_method)
        np.testing.assert_allclose(value, expected, rtol=RTOL, atol=1e-12, err_msg=pair)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 3.0])
def test_homogeneity_completeness_v_measure_match_sklearn(beta):
    labels_true, labels_pred = _pair("noise_and_singleton")
    expected = skm.homogeneity_completeness_v_measure(labels_true, labels_pred, beta=beta)
    value = metrics.homogeneity_completeness_v_measure(labels_true, labels_pred, beta=beta)
    np.testing.assert_allclose(value, expected, rtol=RTOL)
    assert metrics.v_measure_score(labels_true, labels_pred, beta=beta) == pytest.approx(
        expected[2], rel=RTOL)


@pytest.mark.parametrize("beta", [np.int64(2), np.float32(0.5), 2])
def test_v_measure_takes_numpy_scalar_beta(beta):
    labels_true, labels_pred = _pair("random")
    expected = skm.v_measure_score(labels_true, labels_pred, beta=beta)
    assert metrics.v_measure_score(labels_true, labels_pred, beta=beta) == pytest.approx(
        expected, rel=RTOL)


@pytest.mark.parametrize("beta", [float("inf"), float("nan"), -1.0])
def test_v_measure_rejects_beta_outside_0_to_inf_as_sklearn(beta):
    labels_true, labels_pred = _pair("random")
    with pytest.raises(ValueError):
        skm.v_measure_score(labels_true, labels_pred, beta=beta)
    with pytest.raises(ValueError, match="The 'beta' parameter of v_measure_score must be"):
        metrics.v_measure_score(labels_true, labels_pred, beta=beta)


def test_empty_labelings_follow_sklearn():
    for name in SCORES[:-1]:
        assert getattr(metrics, name)([], []) == getattr(skm, name)([], []) == 1.0, name
    assert metrics.homogeneity_completeness_v_measure([], []) == (1.0, 1.0, 1.0)


def test_string_labels_work():
    a = ["cat", "cat", "dog", "dog", "eel"]
    b = [1, 1, 2, 3, 3]
    assert metrics.adjusted_rand_score(a, b) == pytest.approx(skm.adjusted_rand_score(a, b))


@st.composite
def labelings(draw):
    """Two random labelings: up to 300 samples, 1 to 60 labels a side, sizes repeated or not."""
    n = draw(st.integers(2, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    k_true = draw(st.integers(1, 60))
    k_pred = draw(st.integers(1, 60))
    rng = np.random.default_rng(seed)
    labels_true = rng.integers(0, k_true, n)
    # Half the time, a skewed labeling so that the cluster sizes differ widely.
    if draw(st.booleans()):
        labels_pred = np.minimum(rng.geometric(0.2, n), k_pred)
    else:
        labels_pred = rng.integers(0, k_pred, n)
    return labels_true, labels_pred


@settings(max_examples=60, deadline=None)
@given(labelings(), st.booleans())
def test_expected_mutual_information_matches_sklearn(pair, sparse):
    """Same signature and value as sklearn's Cython loop, for dense and sparse tables.

    rtol 1e-10: each term is computed as sklearn computes it; only the order
    of summation differs (terms grouped by distinct marginal sizes).
    """
    labels_true, labels_pred = pair
    contingency = skm.cluster.contingency_matrix(labels_true, labels_pred, sparse=sparse)
    n = labels_true.shape[0]
    expected = sklearn_emi(contingency, n)
    assert metrics.expected_mutual_information(contingency, n) == pytest.approx(
        expected, rel=1e-10, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(labelings())
def test_ami_matches_sklearn_on_random_labelings(pair):
    """atol 1e-10, not rtol: AMI of random labelings is MI - E[MI], a difference
    of two O(1) numbers, so its relative error is the EMI's magnified."""
    labels_true, labels_pred = pair
    value = metrics.adjusted_mutual_info_score(labels_true, labels_pred)
    expected = skm.adjusted_mutual_info_score(labels_true, labels_pred)
    assert value == pytest.approx(expected, rel=0, abs=1e-10)


def test_expected_mutual_information_signature_is_sklearns():
    assert list(inspect.signature(metrics.expected_mutual_information).parameters) == [
        "contingency", "n_samples"]


def test_ami_with_many_clusters_matches_sklearn():
    """1000 clusters a side: the grouping by distinct sizes carries most weight here."""
    rng = np.random.default_rng(0)
    labels_true = rng.integers(0, 1000, 20000)
    labels_pred = rng.integers(0, 1000, 20000)
    contingency = skm.cluster.contingency_matrix(labels_true, labels_pred, sparse=True)
    assert metrics.expected_mutual_information(contingency, 20000) == pytest.approx(
        sklearn_emi(contingency, 20000), rel=1e-10)
    assert metrics.adjusted_mutual_info_score(labels_true, labels_pred) == pytest.approx(
        skm.adjusted_mutual_info_score(labels_true, labels_pred), rel=0, abs=1e-10)


@pytest.mark.parametrize("kind", ["dense", "csr", "coo", "float", "list", "empty_row"])
def test_mutual_info_score_accepts_contingency(kind):
    """As sklearn: the table is used and the labels are ignored (here None)."""
    rng = np.random.default_rng(3)
    table = skm.cluster.contingency_matrix(rng.integers(0, 5, 300), rng.integers(0, 7, 300))
    contingency = {
        "dense": table, "csr": sp.csr_matrix(table), "coo": sp.coo_matrix(table),
        "float": table.astype(np.float64), "list": table.tolist(),
        "empty_row": np.vstack([table, np.zeros((1, 7), dtype=table.dtype)]),
    }[kind]
    value = metrics.mutual_info_score(None, None, contingency=contingency)
    expected = skm.mutual_info_score(None, None, contingency=contingency)
    assert value > 0
    assert value == pytest.approx(expected, rel=1e-12)


def test_mutual_info_score_contingency_overrides_labels():
    table = np.array([[5, 0], [0, 5]])
    value = metrics.mutual_info_score([0, 1, 0], [0, 0, 0], contingency=table)
    assert value == pytest.approx(math.log(2))
    assert metrics.mutual_info_score(None, None, contingency=np.array([[3, 4, 5]])) == 0.0


@pytest.mark.parametrize("name", SCORES)
def test_rejects_mismatched_lengths(name):
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[4, 3\]"):
        getattr(metrics, name)([0, 0, 1, 1], [0, 1, 1])


@pytest.mark.parametrize("name", SCORES)
def test_rejects_two_dimensional_labels(name):
    with pytest.raises(ValueError, match="labels_true must be 1D"):
        getattr(metrics, name)(np.zeros((4, 2)), [0, 0, 1, 1])


def test_rejects_unknown_average_method():
    with pytest.raises(ValueError, match="'average_method' parameter of adjusted_mutual_info"):
        metrics.adjusted_mutual_info_score([0, 1], [0, 1], average_method="median")


# --------------------------------------------------------------------------
# cluster_balance


def test_cluster_balance_equal_sizes_is_one(xp):
    assert metrics.cluster_balance(xp.asarray(np.array([0, 0, 1, 1]))) == 1.0


def test_cluster_balance_sizes_3_and_1_by_hand():
    # p = (3/4, 1/4): H = -(3/4 ln 3/4 + 1/4 ln 1/4) = 0.5623351446..., over ln 2.
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    expected = entropy / math.log(2)
    assert expected == pytest.approx(0.8112781244591328, rel=1e-15)
    assert metrics.cluster_balance([0, 0, 0, 1]) == pytest.approx(expected, rel=1e-15)


def test_cluster_balance_excludes_noise():
    labels = [0, 0, 1, 1, -1, -1, -1, -1, -1]
    assert metrics.cluster_balance(labels) == 1.0
    # Counted as a cluster, the noise makes the sizes (5, 2, 2).
    p = np.array([5, 2, 2]) / 9
    expected = float(-np.sum(p * np.log(p)) / math.log(3))
    assert metrics.cluster_balance(labels, noise_label=None) == pytest.approx(expected)
    assert metrics.cluster_balance([7, 7, 3, 3, 3, 3], noise_label=3) == 1.0


def test_cluster_balance_one_cluster_is_one():
    assert metrics.cluster_balance([4, 4, 4, -1]) == 1.0


def test_cluster_balance_three_clusters_skewed_by_hand():
    # sizes (2, 1, 1): H = -(1/2 ln 1/2 + 2 * 1/4 ln 1/4) = 1.5 ln 2; over ln 3.
    expected = 1.5 * math.log(2) / math.log(3)
    assert metrics.cluster_balance([0, 0, 1, 2]) == pytest.approx(expected, rel=1e-15)


def test_cluster_balance_rejects_empty_and_all_noise():
    with pytest.raises(ValueError, match="empty"):
        metrics.cluster_balance([])
    with pytest.raises(ValueError, match="Every point is noise"):
        metrics.cluster_balance([-1, -1, -1])


# --------------------------------------------------------------------------
# Pair counting: rand_score, fowlkes_mallows_score, pair_confusion_matrix; contingency_matrix

PAIR_SCORES = ["rand_score", "fowlkes_mallows_score"]


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("name", PAIR_SCORES + ["pair_confusion_matrix"])
def test_pair_counting_matches_sklearn(xp, name, pair):
    labels_true, labels_pred = _pair(pair)
    expected = getattr(skm, name)(labels_true, labels_pred)
    value = getattr(metrics, name)(xp.asarray(labels_true), xp.asarray(labels_pred))
    if name == "pair_confusion_matrix":
        assert value.dtype == np.int64
        np.testing.assert_array_equal(value, expected)
    else:
        assert type(value) is float
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-15, err_msg=pair)


def test_pair_confusion_matrix_by_hand():
    """[0, 0, 1, 1] against [0, 0, 0, 1]: of the 12 ordered pairs, 2 together in both
    ((0, 1) both ways), 2 together only in the truth ((2, 3)), 4 only in the prediction
    ((0, 2), (1, 2) both ways), 4 apart in both."""
    C = metrics.pair_confusion_matrix([0, 0, 1, 1], [0, 0, 0, 1])
    assert C.tolist() == [[4, 4], [2, 2]]
    assert metrics.rand_score([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(6 / 12)
    # FMI = TP / sqrt((TP + FP)(TP + FN)) over unordered pairs: 1 / sqrt(3 * 2).
    assert metrics.fowlkes_mallows_score([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(
        1 / math.sqrt(6))


def test_pair_counting_with_int8_labels_and_many_samples_matches_sklearn():
    """120,000 int8 labels: pair counts near 1.4e10, far beyond the labels' dtype."""
    labels = np.zeros(120_000, dtype=np.int8)
    other = labels.copy()
    other[:10] = 1
    C = metrics.pair_confusion_matrix(labels, other)
    np.testing.assert_array_equal(C, skm.pair_confusion_matrix(labels, other))
    assert metrics.fowlkes_mallows_score(labels, other) == pytest.approx(
        skm.fowlkes_mallows_score(labels, other), rel=1e-12)


def test_empty_pair_scores_follow_sklearn():
    assert metrics.rand_score([], []) == skm.rand_score([], []) == 1.0
    assert metrics.fowlkes_mallows_score([], []) == skm.fowlkes_mallows_score([], []) == 0.0
    np.testing.assert_array_equal(metrics.pair_confusion_matrix([], []),
                                  skm.pair_confusion_matrix([], []))


@pytest.mark.parametrize("options", [{}, {"sparse": True}, {"eps": 0.5},
                                     {"dtype": np.float32}])
def test_contingency_matrix_matches_sklearn(options):
    labels_true, labels_pred = _pair("noise_and_singleton")
    expected = skm.cluster.contingency_matrix(labels_true, labels_pred, **options)
    table = metrics.contingency_matrix(labels_true, labels_pred, **options)
    assert sp.issparse(table) == sp.issparse(expected)
    if sp.issparse(table):
        table, expected = table.toarray(), expected.toarray()
    assert table.dtype == expected.dtype
    np.testing.assert_array_equal(table, expected)


def test_contingency_matrix_rejects_eps_with_sparse():
    with pytest.raises(ValueError, match="Cannot set 'eps' when sparse=True"):
        metrics.contingency_matrix([0, 1], [0, 1], eps=1e-10, sparse=True)


@pytest.mark.parametrize("name", SCORES + PAIR_SCORES)
def test_continuous_labels_warn_as_sklearn(name):
    rng = np.random.default_rng(7)
    labels_true, labels_pred = rng.random(50), rng.integers(0, 3, 50)
    with pytest.warns(UserWarning) as expected:
        getattr(skm, name)(labels_true, labels_pred)
    with pytest.warns(UserWarning, match="Clustering metrics expects discrete values") as ours:
        getattr(metrics, name)(labels_true, labels_pred)
    assert [str(w.message) for w in ours] == [str(w.message) for w in expected]


def test_whole_float_labels_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.adjusted_rand_score([0.0, 0.0, 1.0], [1, 1, 0]) == 1.0


# --------------------------------------------------------------------------
# Bad labels raise what scikit-learn's raise

EXTERNAL = SCORES + PAIR_SCORES + ["homogeneity_completeness_v_measure", "pair_confusion_matrix",
                                   "contingency_matrix"]
BAD_LABELS = {
    "None": (None, None),
    "None-true": (None, [0, 1]),
    "None-pred": ([0, 1], None),
    "list-of-None": ([None, None], [None, None]),
    "None-among-ints": ([0, None], [0, 1]),
    "string": ("ab", "ab"),
    "bytes": (b"ab", [0, 1]),
    "number": (3, 3),
    "0-d-array": (np.array(1), [0]),
    "0-d-pred": ([0, 1], np.array(1)),
    "dict": ({0: 1}, [0]),
    "set": ({0, 1}, [0, 1]),
    "2-D": ([[0, 1], [1, 0]], [[0, 1], [1, 0]]),
    "column": ([[0], [1]], [0, 1]),
    "3-D": (np.zeros((2, 2, 2)), np.zeros((2, 2, 2))),
    "lengths": ([0, 1, 1], [0, 1]),
    "complex": ([1j, 2j], [0, 1]),
    "nan": ([0.0, np.nan], [0, 1]),
    "inf": ([0.0, np.inf], [0, 1]),
}
# Where scikit-learn's message names the problem, gpucluster's starts the same way; its
# other messages come from deeper down (an IndexError "tuple index out of range" of
# contingency_matrix) and gpucluster's name the problem instead.
MESSAGE_STARTS = ("The '", "labels_true must be 1D", "labels_pred must be 1D",
                  "Found input variables", "Complex data not supported", "'<' not supported")


def _outcome(function, labels_true, labels_pred):
    try:
        return function(labels_true, labels_pred), None
    except Exception as exc:  # noqa: BLE001 - the exception is what is compared
        return None, exc


@pytest.mark.parametrize("bad", list(BAD_LABELS))
@pytest.mark.parametrize("name", EXTERNAL)
def test_bad_labels_raise_what_sklearn_raises(name, bad):
    """For each bad input, gpucluster's error is an instance of scikit-learn's exception type
    (code that catches scikit-learn's catches it), and where scikit-learn computes a result
    (contingency_matrix of complex or NaN labels) gpucluster computes the same."""
    labels_true, labels_pred = BAD_LABELS[bad]
    expected, theirs = _outcome(getattr(skm.cluster, name), labels_true, labels_pred)
    value, ours = _outcome(getattr(metrics, name), labels_true, labels_pred)
    if theirs is None:
        assert ours is None, f"scikit-learn computes {expected!r}, gpucluster raises {ours!r}"
        np.testing.assert_array_equal(value, expected)
        return
    assert isinstance(ours, type(theirs)), f"scikit-learn: {theirs!r}, gpucluster: {ours!r}"
    start = next((s for s in MESSAGE_STARTS if str(theirs).startswith(s)), None)
    if start is not None:
        assert str(ours).startswith(start), f"scikit-learn: {theirs}, gpucluster: {ours}"


@pytest.mark.parametrize("name", ["contingency_matrix", "mutual_info_score"])
def test_a_single_value_as_labels_is_named(name):
    with pytest.raises(ValueError, match=r"^labels_true must be 1D: shape is \(\); got a single "
                                         r"value, None, not a sequence of labels$"):
        getattr(metrics, name)(None, None)


@pytest.mark.parametrize("name", EXTERNAL)
def test_range_labels_work_as_sklearn(name):
    """A range is array-like to scikit-learn (np.asarray makes it a vector): same values,
    to RTOL and, for AMI's 0 here, to rounding (6.4e-16 on both sides)."""
    expected = getattr(skm.cluster, name)(range(6), [0, 0, 1, 1, 2, 2])
    np.testing.assert_allclose(getattr(metrics, name)(range(6), [0, 0, 1, 1, 2, 2]), expected,
                               rtol=RTOL, atol=1e-12)
