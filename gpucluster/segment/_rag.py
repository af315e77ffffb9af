"""Hierarchical merging on a region adjacency graph, by the distance between mean colours.

Two criteria: "ward" weighs the squared distance between two regions' mean
colours by ``n_a n_b / (n_a + n_b)`` (the rise in within-region variance
the merge costs, Ward's criterion), so specks join their surroundings
before large regions merge; "mean" takes the plain distance, so a small
speck of a distinct colour (a highlight) outlives large regions of similar
colours and uses up one of the few regions asked for.

The graph is small (a node per superpixel, about three edges each), so the
merging runs on the host in Python: a heap of candidate pairs, each entry
stamped with the versions of its two regions so that entries made stale by
a merge are skipped when they surface.
"""

import heapq

import numpy as np


LINKAGES = ("ward", "mean")


def merge_closest(means, sizes, edges, n_regions, linkage="ward"):
    """Merge adjacent regions, closest mean colours first, until ``n_regions`` remain.

    Parameters
    ----------
    means : ndarray (n, C) float64, each region's mean colour
    sizes : ndarray (n,), each region's pixel count (the weight of its mean)
    edges : ndarray (m, 2) int64, adjacent pairs (a, b) with a < b
    n_regions : int >= 1
    linkage : {"ward", "mean"}, see the module docstring

    Returns
    -------
    ndarray (n,) int64
        The new label of every old region, consecutive from 0 in the order
        of each new region's smallest old label. The merged region's mean is
        the size-weighted mean of the two, its size the sum; ties between pairs at the same
        distance go to the pair with the smaller labels. Merging stops early
        when no adjacent pair is left (a graph in several pieces).
    """
    means = np.array(means, dtype=np.float64)
    sizes = np.array(sizes, dtype=np.float64)
    n = sizes.shape[0]
    neighbours = [set() for _ in range(n)]
    for a, b in edges.tolist():
        neighbours[a].add(b)
        neighbours[b].add(a)
    version = [0] * n
    parent = np.arange(n, dtype=np.int64)

    def entry(a, b):
        a, b = min(a, b), max(a, b)
        squared = float(np.sum((means[a] - means[b]) ** 2))
        if linkage == "ward":
            squared *= sizes[a] * sizes[b] / (sizes[a] + sizes[b])
        return (squared, a, b, version[a], version[b])

    heap = [entry(a, b) for a, b in edges.tolist()]
    heapq.heapify(heap)
    alive = n
    while alive > n_regions and heap:
        _, a, b, version_a, version_b = heapq.heappop(heap)
        if version[a] != version_a or version[b] != version_b:
            continue
        # b joins a (a < b): a keeps the smaller label, as the numbering wants.
        total = sizes[a] + sizes[b]
        means[a] = (means[a] * sizes[a] + means[b] * sizes[b]) / total
        sizes[a] = total
        parent[b] = a
        version[a] += 1
        version[b] += 1
        alive -= 1
        for c in neighbours[b]:
            neighbours[c].discard(b)
            if c != a:
                neighbours[c].add(a)
                neighbours[a].add(c)
        neighbours[a].discard(b)
        neighbours[b] = set()
        for c in neighbours[a]:
            heapq.heappush(heap, entry(a, c))
    return _number_roots(parent)


def _number_roots(parent):
    """Each node's root (following ``parent``), numbered in the order of the roots' indices."""
    roots = parent.copy()
    while True:
        following = roots[roots]
        if np.array_equal(following, roots):
            break
        roots = following
    _, numbered = np.unique(roots, return_inverse=True)
    return numbered.astype(np.int64)
