"""FINCH: partitions equal a dense NumPy transcription of the published algorithm."""

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.datasets import load_digits

from gpucluster.cluster.finch import FINCH

from .._helpers import assert_same_kind, labels_agree, make_blobs_np, to_numpy


def _distances(M, metric):
    M = np.asarray(M, dtype=np.float64)
    if metric == "cosine":
        U = M / np.linalg.norm(M, axis=1, keepdims=True)
        return 1.0 - U @ U.T
    return np.sqrt(((M[:, None, :] - M[None, :, :]) ** 2).sum(-1))


def _adjacency(M, metric):
    """(A + I)(A + I)^T without its diagonal, A[i, first(i)] = 1, and the distances."""
    D = _distances(M, metric)
    np.fill_diagonal(D, np.inf)
    first = np.argmin(D, axis=1)
    n = len(M)
    A = np.eye(n)
    A[np.arange(n), first] = 1.0
    A = A @ A.T
    np.fill_diagonal(A, 0.0)
    np.fill_diagonal(D, 0.0)
    return A, D


def _components(A):
    return connected_components(csr_matrix(A), directed=False)[1]


def _means(X, labels):
    return np.stack([X[labels == c].mean(0) for c in range(labels.max() + 1)])


def finch_reference(X, metric="euclidean", early_exit=True, n_clusters=None):
    """The published algorithm, dense, following the reference code's control flow."""
    A, D = _adjacency(X, metric)
    labels = _components(A)
    partitions, counts = [labels], [labels.max() + 1]
    bound = np.max(D * A) if early_exit and len(X) > 2 else None
    reduction = 2
    while reduction > 1:
        M = _means(X, partitions[-1])
        if len(M) == 1:
            break
        A, D = _adjacency(M, metric)
        if bound is not None:
            A[D * A > bound] = 0.0
        level = _components(A)
        reduction = counts[-1] - (level.max() + 1)
        if level.max() == 0 or reduction < 1:
            break
        partitions.append(level[partitions[-1]])
        counts.append(level.max() + 1)
    if n_clusters is None or n_clusters in counts:
        return partitions, counts, None
    labels = partitions[max(i for i, c in enumerate(counts) if c > n_clusters)]
    while labels.max() + 1 > n_clusters:
        D = _distances(_means(X, labels), metric)
        np.fill_diagonal(D, np.inf)
        a, b = np.unravel_index(np.argmin(D), D.shape)
        labels = np.unique(np.where(labels == max(a, b), min(a, b), labels), return_inverse=True)[1]
    return partitions, counts, labels


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("early_exit", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_partitions_match_reference(metric, early_exit, seed):
    X = np.random.default_rng(seed).normal(size=(300, 5))
    partitions, counts, _ = finch_reference(X, metric, early_exit)
    model = FINCH(metric=metric, ensure_early_exit=early_exit).fit(X)
    assert model.n_clusters_per_partition_ == counts
    for ours, ref in zip(model.partitions_, partitions):
        assert labels_agree(ours, ref) == 1.0
    assert labels_agree(model.labels_, partitions[-1]) == 1.0


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_n_clusters_refines_exactly_as_reference(metric):
    X = np.random.default_rng(4).normal(size=(250, 4))
    partitions, counts, _ = finch_reference(X, metric)
    for n_clusters in (2, 7, counts[0] - 3, counts[1]):
        _, _, expected = finch_reference(X, metric, n_clusters=n_clusters)
        model = FINCH(n_clusters, metric=metric).fit(X)
        labels = to_numpy(model.labels_)
        assert np.unique(labels).size == n_clusters == model.n_clusters_
        if expected is None:
            expected = partitions[counts.index(n_clusters)]
        assert labels_agree(labels, expected) == 1.0, n_clusters


def test_toy_case_by_hand(xp):
    """Three groups: each point's first neighbour is in its group, and the means are far apart."""
    X = np.array([[0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [11, 10], [30, 0], [30, 1]], dtype=float)
    model = FINCH().fit(xp.asarray(X))
    assert model.n_clusters_per_partition_ == [3]
    assert to_numpy(model.labels_).tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    # Asking for two merges the two closest means, (0.33, 0.33) and (10.33, 10.33).
    two = FINCH(n_clusters=2).fit(xp.asarray(X))
    assert to_numpy(two.labels_).tolist() == [0, 0, 0, 0, 0, 0, 1, 1]
    # Two points are each other's first neighbour: one cluster.
    assert to_numpy(FINCH().fit(xp.asarray(X[:2])).labels_).tolist() == [0, 0]


def test_blobs_recovered():
    X, y = make_blobs_np(2000, 8, centers=10, seed=0)
    model = FINCH(n_clusters=10).fit(X)
    assert labels_agree(model.labels_, y) > 0.99
    assert labels_agree(FINCH().fit(X).labels_, y) > 0.99


@pytest.mark.parametrize("metric,floor", [("euclidean", 0.50), ("cosine", 0.55)])
def test_digits_quality_floor(metric, floor):
    """Measured ARI with n_clusters=10: 0.547 euclidean, 0.601 cosine; the floor leaves a margin."""
    X, y = load_digits(return_X_y=True)
    assert labels_agree(FINCH(10, metric=metric).fit(X).labels_, y) > floor


@pytest.mark.parametrize(
    "params,error,match",
    [
        (dict(n_clusters=0), ValueError, "n_clusters must be >= 1"),
        (dict(n_clusters=2.5), TypeError, "n_clusters must be an instance"),
        (dict(metric="manhattan"), ValueError, "metric must be one of"),
        (dict(ensure_early_exit="yes"), TypeError, "ensure_early_exit must be a bool"),
        (dict(n_clusters=500), ValueError, "must be <= n_samples"),
        (dict(n_clusters=90), ValueError, "more than the finest FINCH partition"),
    ],
)
def test_bad_parameters_raise(params, error, match):
    X = np.random.default_rng(0).normal(size=(100, 3))
    model = FINCH(**params)
    with pytest.raises(error, match=match):
        model.fit(X)
    assert not hasattr(model, "labels_")


def test_a_finest_partition_of_one_cluster_is_named_in_the_singular():
    with pytest.raises(ValueError, match=r"finest FINCH partition has \(1 cluster\);"):
        FINCH(2).fit(np.array([[0.0, 0.0], [1.0, 1.0]]))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="minimum of 2"):
        FINCH().fit(np.ones((1, 3)))
    with pytest.raises(ValueError, match="infinity"):
        FINCH().fit(np.array([[0.0, 1.0], [np.inf, 0.0], [1.0, 1.0]]))


def test_outputs_mirror_input(xp, dtype):
    X_np, _ = make_blobs_np(150, 4, centers=3, dtype=dtype)
    X = xp.asarray(X_np)
    model = FINCH(n_clusters=3).fit(X)
    ref = FINCH(n_clusters=3).fit(X_np)
    for out, expected in [(model.labels_, ref.labels_)] + list(zip(model.partitions_, ref.partitions_)):
        assert_same_kind(out, X)
        assert tuple(out.shape) == expected.shape
        assert np.dtype(str(out.dtype).split(".")[-1]) == np.int64
        assert labels_agree(out, expected) == 1.0
    assert model.n_clusters_per_partition_ == ref.n_clusters_per_partition_
    assert_same_kind(model.fit_predict(X), X)
