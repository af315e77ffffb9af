"""Disjoint sets on the CPU: find with path halving, union by size, connected components.

A forest is a ``parent`` array (a root is its own parent) and a ``size``
array (meaningful at roots). ``find`` halves paths as it walks, so a sequence
of m operations on n nodes costs O(m alpha(n)). Used by
``connected_components`` and by the Boruvka merge step of ``kernels/cpu/mst.py``.
Reference: ``tests/kernels/reference_graph.py::connected_components``.
"""

import numpy as np
from numba import njit

from .._numba import NUMBA_CACHE


@njit(cache=NUMBA_CACHE)
def new_forest(n):
    """``(parent, size)`` of n singleton sets."""
    return np.arange(n, dtype=np.int64), np.ones(n, dtype=np.int64)


@njit(cache=NUMBA_CACHE)
def find(parent, i):
    """Root of i's set; every node on the path is re-pointed to its grandparent."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=NUMBA_CACHE)
def union(parent, size, a, b):
    """Merge the sets of a and b, the smaller under the larger; False if already one set.

    On equal sizes the root with the smaller index stays the root, so the
    result does not depend on the order of the arguments.
    """
    ra = find(parent, a)
    rb = find(parent, b)
    if ra == rb:
        return False
    if size[ra] < size[rb] or (size[ra] == size[rb] and rb < ra):
        ra, rb = rb, ra
    parent[rb] = ra
    size[ra] += size[rb]
    return True


@njit(cache=NUMBA_CACHE)
def number_by_smallest(parent):
    """Component labels 0, 1, ... in the order of each component's smallest node.

    Walking the nodes upwards, a component is first met at its smallest node,
    which is when it gets the next free label.
    """
    n = parent.shape[0]
    label_of_root = np.full(n, -1, dtype=np.int64)
    labels = np.empty(n, dtype=np.int64)
    next_label = 0
    for i in range(n):
        r = find(parent, i)
        if label_of_root[r] < 0:
            label_of_root[r] = next_label
            next_label += 1
        labels[i] = label_of_root[r]
    return labels


@njit(cache=NUMBA_CACHE)
def connected_components(n_nodes, sources, targets):
    """Labels (n_nodes,) int64 of the undirected graph with edges (sources[e], targets[e]).

    Endpoints must lie in [0, n_nodes) (the dispatcher checks); self-loops
    and repeated edges are harmless.
    """
    parent, size = new_forest(n_nodes)
    for e in range(sources.shape[0]):
        union(parent, size, sources[e], targets[e])
    return number_by_smallest(parent)
