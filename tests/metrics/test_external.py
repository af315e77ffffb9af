"""Contingency-based metrics against scikit-learn, and cluster_balance by hand."""

import math

import numpy as np
import pytest
import sklearn.metrics as skm
from sklearn.datasets import load_iris
from sklearn.metrics.cluster._expected_mutual_info_fast import (
    expected_mutual_information as sklearn_emi,
)

from gpucluster import metrics
from gpucluster.metrics import _external

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


def test_empty_labelings_follow_sklearn():
    for name in SCORES[:-1]:
        assert getattr(metrics, name)([], []) == getattr(skm, name)([], []) == 1.0, name
    assert metrics.homogeneity_completeness_v_measure([], []) == (1.0, 1.0, 1.0)


def test_string_labels_work():
    a = ["cat", "cat", "dog", "dog", "eel"]
    b = [1, 1, 2, 3, 3]
    assert metrics.adjusted_rand_score(a, b) == pytest.approx(skm.adjusted_rand_score(a, b))


@pytest.mark.parametrize("seed", [0, 1])
def test_expected_mutual_information_matches_sklearn(monkeypatch, seed):
    """Several batches (a small batch size forced) sum to sklearn's Cython loop."""
    rng = np.random.default_rng(seed)
    labels_true = rng.integers(0, 30, 3000)
    labels_pred = rng.integers(0, 40, 3000) * (rng.random(3000) < 0.8)
    contingency = skm.cluster.contingency_matrix(labels_true, labels_pred, sparse=True)
    expected = sklearn_emi(contingency, 3000)
    class_sizes = np.bincount(np.unique(labels_true, return_inverse=True)[1])
    cluster_sizes = np.bincount(np.unique(labels_pred, return_inverse=True)[1])
    whole = metrics.expected_mutual_information(class_sizes, cluster_sizes, 3000)
    monkeypatch.setattr(_external, "EMI_BATCH_TERMS", 1000)
    batched = metrics.expected_mutual_information(class_sizes, cluster_sizes, 3000)
    assert whole == pytest.approx(expected, rel=1e-9)
    assert batched == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("name", SCORES)
def test_rejects_mismatched_lengths(name):
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[4, 3\]"):
        getattr(metrics, name)([0, 0, 1, 1], [0, 1, 1])


@pytest.mark.parametrize("name", SCORES)
def test_rejects_two_dimensional_labels(name):
    with pytest.raises(ValueError, match="labels_true must be 1D"):
        getattr(metrics, name)(np.zeros((4, 2)), [0, 0, 1, 1])


def test_rejects_unknown_average_method():
    with pytest.raises(ValueError, match="average_method must be one of"):
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
