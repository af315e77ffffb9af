"""The CF-tree kernel against its reference, scikit-learn's Birch tree (NumPy code), and by hand."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import Birch as SklearnBirch

from gpucluster import kernels
from gpucluster.kernels.cftree import CFTree

from .._helpers import assert_same_kind, to_numpy


def reference_centers(X, threshold, branching_factor, batches=1):
    """scikit-learn's subcluster_centers_ after inserting X in ``batches`` partial fits."""
    brc = SklearnBirch(threshold=threshold, branching_factor=branching_factor, n_clusters=None)
    for batch in np.array_split(X, batches):
        brc.partial_fit(batch)
    return brc.subcluster_centers_


def insert(X, threshold, branching_factor, batches=1, capacity=16):
    tree = CFTree(X.shape[1], X.dtype, branching_factor, capacity=capacity)
    for batch in np.array_split(X, batches):
        centers = kernels.cftree_insert(batch, tree, threshold)
    return centers, tree


@st.composite
def problems(draw):
    n = draw(st.integers(1, 120))
    d = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    X = rng.normal(size=(n, d)) * draw(st.sampled_from([0.3, 1.0, 4.0]))
    if draw(st.booleans()) and n > 3:
        X[rng.integers(0, n, size=n // 3)] = X[0]  # duplicates: all-zero split distances
    return X


@settings(max_examples=40, deadline=None)
@given(X=problems(), dtype=st.sampled_from([np.float32, np.float64]),
       threshold=st.sampled_from([0.05, 0.5, 2.0]), branching_factor=st.integers(2, 6),
       batches=st.integers(1, 3))
def test_cftree_insert_matches_sklearn_tree(X, dtype, threshold, branching_factor, batches):
    """Same subclusters, in the same order, to the last bit: the insertion makes
    scikit-learn's decisions with its arithmetic (capacity 16 makes it grow too)."""
    X = X.astype(dtype)
    batches = min(batches, X.shape[0])
    centers, tree = insert(X, threshold, branching_factor, batches)
    expected = reference_centers(X, threshold, branching_factor, batches)
    assert centers.dtype == dtype
    assert centers.shape == expected.shape
    np.testing.assert_array_equal(centers, expected)
    leaves = tree.leaf_subclusters()
    assert int(tree.sub_n[leaves].sum()) == X.shape[0]


def test_cftree_insert_by_hand():
    """Four points, branching factor 3: the leaf overflows and splits around the
    farthest pair (rows 1 and 3), the root gets two subclusters of two samples."""
    X = np.array([[0.0, 0.0], [0.0, -1.0], [10.0, 0.0], [11.0, 0.0]])
    centers, tree = insert(X, threshold=0.1, branching_factor=3)
    np.testing.assert_array_equal(centers, X)
    root = tree.root
    assert tree.node_size[root] == 2 and not tree.node_leaf[root]
    firsts = tree.node_subs[root, :2]
    assert tree.sub_n[firsts].tolist() == [2, 2]
    np.testing.assert_array_equal(tree.sub_c[firsts], [[0.0, -0.5], [10.5, 0.0]])
    # A fifth point near the first pair merges into its leaf subcluster (radius 0.05 <= 0.1).
    centers = kernels.cftree_insert(np.array([[0.0, 0.1]]), tree, 0.1)
    np.testing.assert_allclose(centers[0], [0.0, 0.05])
    assert tree.sub_n[firsts].tolist() == [3, 2]


def test_cftree_insert_follows_its_input(xp):
    X = np.random.default_rng(0).normal(size=(40, 3))
    tree = CFTree(3, np.float64, 5)
    centers = kernels.cftree_insert(xp.asarray(X), tree, 0.5)
    assert_same_kind(centers, xp.asarray(X))
    np.testing.assert_array_equal(to_numpy(centers), reference_centers(X, 0.5, 5))


def test_cftree_insert_rejects_bad_arguments():
    tree = CFTree(3, np.float64, 5)
    with pytest.raises(ValueError, match=r"X must be \(n_samples, 3\)"):
        kernels.cftree_insert(np.zeros((4, 2)), tree, 0.5)
    with pytest.raises(ValueError, match="threshold must be > 0"):
        kernels.cftree_insert(np.zeros((4, 3)), tree, 0.0)
    with pytest.raises(TypeError, match="tree must be a CFTree"):
        kernels.cftree_insert(np.zeros((4, 3)), object(), 0.5)
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.cftree_insert(np.zeros((4, 3), dtype=np.int64), tree, 0.5)
    assert tree.n_subclusters == 0
