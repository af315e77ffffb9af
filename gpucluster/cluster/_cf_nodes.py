"""Read-only views of a CF-tree's nodes and subclusters, with scikit-learn's attribute names.

``Birch.root_`` and ``Birch.dummy_leaf_`` are ``CFNode`` views of the
host arrays of ``gpucluster.kernels.cftree.CFTree`` (the tree itself is
stored once, in those arrays). They answer what scikit-learn's ``_CFNode``
and ``_CFSubcluster`` objects answer (``subclusters_``, ``is_leaf``,
``next_leaf_``, ``n_samples_``, ``linear_sum_``, ``child_``, ``radius``,
...), read from the arrays when asked, as NumPy arrays. A view describes
the tree as it is when read: a later ``partial_fit`` may split the node it
points at.
"""

from math import sqrt

import numpy as np

from ..kernels.cftree import CFTree

# The row of the dummy leaf: before the first leaf, holding no subclusters.
DUMMY = -1


class CFNode:
    """One node of a fitted CF-tree (scikit-learn's ``_CFNode``), read from the tree's arrays.

    Parameters
    ----------
    tree : CFTree
    row : int
        The node's row in the tree's ``node_*`` arrays, or ``DUMMY`` for the
        dummy leaf whose ``next_leaf_`` is the first leaf.
    """

    def __init__(self, tree, row):
        if not isinstance(tree, CFTree):
            raise TypeError(f"tree must be a CFTree, got {type(tree).__name__}.")
        self._tree = tree
        self._row = int(row)

    def __eq__(self, other):
        return isinstance(other, CFNode) and other._tree is self._tree and other._row == self._row

    def __hash__(self):
        return hash((id(self._tree), self._row))

    def __repr__(self):
        return f"CFNode(row={self._row}, n_subclusters={len(self._rows())}, is_leaf={self.is_leaf})"

    def _rows(self):
        if self._row == DUMMY:
            return np.empty(0, dtype=np.int64)
        return self._tree.node_subs[self._row, : self._tree.node_size[self._row]]

    @property
    def is_leaf(self):
        """True for a leaf node (and for the dummy leaf)."""
        return self._row == DUMMY or bool(self._tree.node_leaf[self._row])

    @property
    def n_features(self):
        return self._tree.n_features

    @property
    def branching_factor(self):
        return self._tree.branching_factor

    @property
    def subclusters_(self):
        """The node's subclusters, in order (a list of ``CFSubcluster``)."""
        return [CFSubcluster(self._tree, s) for s in self._rows()]

    @property
    def centroids_(self):
        """Centroids of the node's subclusters, (n_subclusters, n_features), the data's dtype."""
        return self._tree.sub_c[self._rows()]

    @property
    def squared_norm_(self):
        """Squared norms of those centroids, (n_subclusters,)."""
        return self._tree.sub_sqn[self._rows()]

    def _leaf(self, row):
        return None if row < 0 else CFNode(self._tree, row)

    @property
    def next_leaf_(self):
        """The next leaf along the leaf list, or None after the last."""
        if self._row == DUMMY:
            return CFNode(self._tree, self._tree.first_leaf)
        return self._leaf(self._tree.node_next[self._row]) if self.is_leaf else None

    @property
    def prev_leaf_(self):
        """The previous leaf (the dummy leaf before the first), or None."""
        if self._row == DUMMY or not self.is_leaf:
            return None
        previous = self._tree.node_prev[self._row]
        if previous < 0 and self._row == self._tree.first_leaf:
            return CFNode(self._tree, DUMMY)
        return self._leaf(previous)


class CFSubcluster:
    """One subcluster of a fitted CF-tree (scikit-learn's ``_CFSubcluster``), read from its tree."""

    def __init__(self, tree, row):
        self._tree = tree
        self._row = int(row)

    def __eq__(self, other):
        return (isinstance(other, CFSubcluster) and other._tree is self._tree
                and other._row == self._row)

    def __hash__(self):
        return hash((id(self._tree), self._row, "subcluster"))

    def __repr__(self):
        return f"CFSubcluster(n_samples_={self.n_samples_}, radius={self.radius:.4g})"

    @property
    def n_samples_(self):
        """Samples in the subcluster (int)."""
        return int(self._tree.sub_n[self._row])

    @property
    def linear_sum_(self):
        """Sum of its samples, (n_features,)."""
        return self._tree.sub_ls[self._row].copy()

    @property
    def squared_sum_(self):
        """Sum of its samples' squared norms."""
        return self._tree.sub_ss[self._row]

    @property
    def centroid_(self):
        """Its centroid ``linear_sum_ / n_samples_``, (n_features,)."""
        return self._tree.sub_c[self._row].copy()

    @property
    def sq_norm_(self):
        """The squared norm of the centroid."""
        return self._tree.sub_sqn[self._row]

    @property
    def child_(self):
        """The node below it, or None for a leaf subcluster."""
        child = self._tree.sub_child[self._row]
        return None if child < 0 else CFNode(self._tree, child)

    @property
    def radius(self):
        """Root mean squared distance of its samples to the centroid (as scikit-learn's)."""
        squared = self.squared_sum_ / self.n_samples_ - self.sq_norm_
        return sqrt(max(0, squared))
