"""BIRCH's CF-tree kernel: ``cftree_insert``, host-only.

Declared once with ``@kernel`` (see ``_dispatch.py``); the implementation,
the tree's arrays (``CFTree``) and the rules it follows are in
``cpu/cftree.py``. Inserting a sample reads the tree every sample before it
built, so the loop is sequential and runs on the host (``cuda=None``: CUDA
input is copied to the host, the centroids go back to its device). Reference:
scikit-learn's ``Birch`` itself (``tests/kernels/test_cftree.py``).
"""

import numpy as np

from ._dispatch import kernel
from .cpu.cftree import CFTree

__all__ = ["CFTree", "cftree_insert"]


@kernel(cpu="cftree.insert_rows", cuda=None)
def cftree_insert(X, tree, threshold):
    """Insert the rows of X, in order, into the CF-tree ``tree``; return its leaf centroids.

    Each row descends to the nearest subcluster at every level, joins the
    nearest leaf subcluster when the merged radius stays within
    ``threshold`` or starts a new one, and overfull nodes split on the way
    back up: scikit-learn's ``Birch`` insertion, decision for decision.

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy
        or array-API (cast to ``tree.dtype``, copied to the host when on a GPU)
    tree : CFTree
        The tree to grow, in place (a new ``CFTree(n_features, dtype,
        branching_factor)`` for a fresh fit).
    threshold : float > 0
        Largest radius of a leaf subcluster a sample may join.

    Returns
    -------
    centers : array (n_subclusters, n_features) in ``tree.dtype``: the
        centroids of all the leaf subclusters, leaf by leaf along the leaf
        list (scikit-learn's ``subcluster_centers_``); in X's namespace and
        on X's device.
    """
    if not isinstance(tree, CFTree):
        raise TypeError(f"tree must be a CFTree, got {type(tree).__name__}.")
    if X.ndim != 2 or X.shape[1] != tree.n_features:
        raise ValueError(
            f"X must be (n_samples, {tree.n_features}) for this tree, got shape {tuple(X.shape)}."
        )
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"X must be float32 or float64, got {X.dtype}.")
    threshold = float(threshold)
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}.")
    return np.ascontiguousarray(X, dtype=tree.dtype), tree, threshold
