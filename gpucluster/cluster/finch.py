"""FINCH: parameter-free hierarchical clustering from first-neighbour relations.

Sarfraz, Sharma and Stiefelhagen, "Efficient Parameter-free Clustering Using
First Neighbor Relations", CVPR 2019. Link i and j when j is i's first
neighbour, i is j's, or both share the same first neighbour; the connected
components of that graph are the first partition. The same step on the
cluster means (means of the original points) gives the next, coarser
partition, until one cluster remains or nothing changes.

The first-neighbour searches (``kernels.knn``, or the neighbour graph of
``_graph`` for large inputs) and the means (``kernels.centroid_update``)
run in X's namespace and on its device; the graph of each level, one first
neighbour per point or cluster, is small bookkeeping done on the host with
NumPy (``kernels.connected_components`` on host arrays).

``ensure_early_exit`` follows the reference implementation
(github.com/ssarfraz/FINCH-Clustering): the largest weighted link of the
first partition becomes a bound, and links between means above it are
dropped at every later level. A link's weight is its distance times the
number of first-neighbour relations behind it, so a mutual pair counts twice,
as the reference's ``(A + I)(A + I)^T`` adjacency has it.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from .. import _format as fmt
from .. import backend, kernels
from .._validation import check_option, check_scalar
from ._base import DeviceEstimatorMixin
from ._graph import NeighbourGraphMixin, takes_graph

METRICS = ("euclidean", "cosine")
ALGORITHMS = ("auto", "brute", "knn_graph")


def shared_neighbour_pairs(first):
    """Pairs (p, q), p < q, of rows whose first neighbours are the same, as two int64 arrays.

    Rows are grouped by their first neighbour; pairs ``t`` places apart in a
    group are collected for t = 1, 2, ... (as many passes as the largest group).
    """
    order = np.argsort(first, kind="stable")
    grouped = first[order]
    rows, cols = [], []
    t = 1
    while t < grouped.shape[0]:
        same = grouped[t:] == grouped[:-t]
        if not same.any():
            break
        rows.append(order[:-t][same])
        cols.append(order[t:][same])
        t += 1
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    p = np.concatenate(rows).astype(np.int64)
    q = np.concatenate(cols).astype(np.int64)
    return np.minimum(p, q), np.maximum(p, q)


def paired_distances(X, p, q, metric):
    """Distances between rows ``p[s]`` and ``q[s]`` of X (host int arrays); float64 NumPy.

    Computed in X's namespace, in chunks sized from the memory budget.
    """
    xp = backend.namespace(X)
    out = np.empty(p.shape[0], dtype=np.float64)
    if p.shape[0] == 0:
        return out
    device = backend.device_of(X)
    chunk = backend.row_chunk_size(p.shape[0], 3 * X.shape[1] * 8, device)

    def step(start, stop):
        a = xp.astype(xp.take(X, backend.asarray_like(p[start:stop], X), axis=0), xp.float64)
        b = xp.astype(xp.take(X, backend.asarray_like(q[start:stop], X), axis=0), xp.float64)
        if metric == "euclidean":
            d = xp.sqrt(xp.sum((a - b) ** 2, axis=1))
        else:
            norms = xp.sqrt(xp.sum(a * a, axis=1) * xp.sum(b * b, axis=1))
            cos = xp.where(norms > 0, xp.sum(a * b, axis=1) / xp.where(norms > 0, norms, 1.0), 0.0)
            d = 1.0 - cos
        out[start:stop] = backend.to_numpy(d)

    backend.for_each_chunk(p.shape[0], chunk, step)
    return out


def first_neighbour_partition(points, neighbours, metric, bound=None, measure=False):
    """One FINCH step on the rows of ``points`` (data or cluster means, in their namespace).

    ``neighbours(points)`` gives each row's first neighbour, as ``(distances,
    indices)`` of shape (m, 1).

    Returns ``(labels, n_clusters, largest_link)``: host int64 labels numbered
    by each component's smallest row, and the largest weighted link of the
    graph when ``measure`` is set (what the first level turns into the
    early-exit bound; 0.0 otherwise). With ``bound``, links whose weight
    exceeds it are dropped.
    """
    m = points.shape[0]
    if m < 2:
        return np.zeros(m, dtype=np.int64), m, 0.0
    distances, indices = neighbours(points)
    first = backend.to_numpy(indices)[:, 0].astype(np.int64)
    first_dist = backend.to_numpy(distances)[:, 0].astype(np.float64)
    rows = np.arange(m, dtype=np.int64)
    mutual = first[first] == rows
    link = first_dist * np.where(mutual, 2.0, 1.0)
    p, q = shared_neighbour_pairs(first)
    need_pairs = bound is not None or measure
    pair_dist = paired_distances(points, p, q, metric) if need_pairs else np.zeros(0)
    largest = 0.0
    if measure:
        largest = max(float(link.max()), float(pair_dist.max()) if pair_dist.size else 0.0)
    if bound is None:
        # Shared-neighbour links join rows already joined through their
        # common neighbour; only the first-neighbour edges are needed.
        sources, targets = rows, first
    else:
        keep = link <= bound
        keep_pairs = pair_dist <= bound
        sources = np.concatenate([rows[keep], p[keep_pairs]])
        targets = np.concatenate([first[keep], q[keep_pairs]])
    labels = backend.to_numpy(kernels.connected_components(m, sources, targets)).astype(np.int64)
    n_clusters = int(labels.max()) + 1
    return labels, n_clusters, largest


def cluster_means(X, labels, n_clusters):
    """Means (n_clusters, n_features) of X's rows per host label, in X's namespace and dtype."""
    xp = backend.namespace(X)
    sums, weights = kernels.centroid_update(X, backend.asarray_like(labels, X), n_clusters)
    return xp.astype(sums / weights[:, None], X.dtype)


def _distances_to(means, i, active, metric):
    diff = means[active]
    if metric == "euclidean":
        return np.sqrt(np.sum((diff - means[i]) ** 2, axis=1))
    norms = np.linalg.norm(diff, axis=1) * np.linalg.norm(means[i])
    dots = diff @ means[i]
    return 1.0 - np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)


def merge_to(X, labels, n_clusters, metric):
    """Merge the two closest cluster means, one pair per step, until ``n_clusters`` remain.

    The reference's ``req_numclust``: means are means of the original points,
    recomputed after each merge. Each cluster keeps its nearest neighbour, so
    a step rescans only the merged cluster and those whose neighbour it
    absorbed. Host NumPy on the (n_clusters, n_features) means. Returns new
    host labels numbered 0..n_clusters-1 by first appearance order of ids.
    """
    m = int(labels.max()) + 1
    sums, weights = (backend.to_numpy(a) for a in kernels.centroid_update(
        X, backend.asarray_like(labels, X), m))
    sums = np.asarray(sums, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    means = sums / weights[:, None]
    alive = np.ones(m, dtype=bool)
    nearest = np.zeros(m, dtype=np.int64)
    nearest_dist = np.full(m, np.inf)

    def rescan(i):
        active = np.flatnonzero(alive)
        d = _distances_to(means, i, active, metric)
        d[active == i] = np.inf
        best = int(np.argmin(d))
        nearest[i] = active[best]
        nearest_dist[i] = d[best]

    for i in range(m):
        rescan(i)
    owner = np.arange(m)
    for _ in range(m - n_clusters):
        candidates = np.where(alive, nearest_dist, np.inf)
        a = int(np.argmin(candidates))
        b = int(nearest[a])
        a, b = min(a, b), max(a, b)
        sums[a] += sums[b]
        weights[a] += weights[b]
        means[a] = sums[a] / weights[a]
        alive[b] = False
        owner[owner == b] = a
        nearest_dist[b] = np.inf
        active = np.flatnonzero(alive)
        d = _distances_to(means, a, active, metric)
        d[active == a] = np.inf
        best = int(np.argmin(d))
        nearest[a], nearest_dist[a] = active[best], d[best]
        for c, dc in zip(active.tolist(), d.tolist()):
            if c == a:
                continue
            if nearest[c] in (a, b):
                rescan(c)
            elif dc < nearest_dist[c]:
                nearest[c], nearest_dist[c] = a, dc
    merged = owner[labels]
    return np.unique(merged, return_inverse=True)[1].astype(np.int64)


class FINCH(NeighbourGraphMixin, DeviceEstimatorMixin, ClusterMixin, BaseEstimator):
    """FINCH: parameter-free hierarchical clustering from first-neighbour relations.

    Each level links every point (then every cluster mean) to its first
    neighbour and takes the connected components; the levels form a
    hierarchy of partitions from fine to coarse, found without any parameter.

    Parameters
    ----------
    n_clusters : int or None, default=None
        The number of clusters of ``labels_``. When it is not a level of the
        hierarchy, the first level with more clusters is refined by merging
        the two closest cluster means, one pair at a time (the reference's
        ``req_clust``). None takes the coarsest level (see ``labels_``).
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance for first neighbours and merges ("cosine" is the paper's
        choice for deep features).
    ensure_early_exit : bool, default=True
        As the reference implementation: links between cluster means longer
        than the longest link of the first partition are dropped, which
        keeps merges pure and ends the recursion earlier.
    algorithm : {"auto", "brute", "knn_graph"}, default="auto"
        How first neighbours are found. "brute" is the exact search over all
        pairs (``kernels.knn``, a KD-tree up to 16 features); "knn_graph" is
        ``kernels.knn_graph`` with k = 1 (an inverted-file search above its
        size limit, about 99 % of first neighbours exact, the others among the
        nearest few). "auto" takes the graph for a level with at least
        ``GRAPH_MIN_ROWS`` rows (or means) and ``GRAPH_MIN_FEATURES``
        features on the host, the exact search otherwise, like the reference
        implementation's approximate search above 70,000 rows.
    device : {"auto", "cpu", "cuda"}, default="auto"
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"

    Attributes
    ----------
    partitions_ : list of arrays of shape (n_samples,), int64
        Labels of each level, finest first; each array has X's type and device.
        As in the reference, a level that leaves a single cluster or changes
        nothing ends the recursion and is not kept.
    n_clusters_per_partition_ : list of int
        Number of clusters of each level.
    labels_ : array of shape (n_samples,), int64
        The partition with ``n_clusters`` clusters, or without ``n_clusters``
        the coarsest level (the last of ``partitions_``: the fewest clusters,
        at least two unless the first level is already a single cluster).
    n_clusters_ : int
    n_features_in_ : int

    Notes
    -----
    Each level costs one first-neighbour search for m points or means:
    O(m^2 d) exact (on the GPU for CUDA data), near-linear in m on the
    neighbour graph; there are typically fewer than ten levels and m shrinks
    several-fold at each.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster import FINCH
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [11, 10], [30, 0], [30, 1]])
    >>> model = FINCH().fit(X)
    >>> model.n_clusters_per_partition_
    [3]
    >>> model.labels_.tolist()
    [0, 0, 0, 1, 1, 1, 2, 2]
    >>> FINCH(n_clusters=2).fit(X).labels_.tolist()
    [0, 0, 0, 0, 0, 0, 1, 1]
    """

    def __init__(self, n_clusters=None, *, metric="euclidean", ensure_early_exit=True,
                 algorithm="auto", device="auto", output_type="input"):
        self.n_clusters = n_clusters
        self.metric = metric
        self.ensure_early_exit = ensure_early_exit
        self.algorithm = algorithm
        self.device = device
        self.output_type = output_type

    def _work(self, n_samples, n_features):
        return 2.0 * n_samples * n_samples * n_features

    def _first_neighbours(self, points):
        """(distances, indices), (m, 1): each row's nearest other row (see ``algorithm``)."""
        if takes_graph(self.algorithm, points):
            return self._neighbour_graph(points, 1, self.metric)
        return kernels.knn(points, 1, metric=self.metric, exclude_self=True)

    def fit(self, X, y=None):
        """Compute the FINCH hierarchy and pick ``labels_``.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            NumPy, CuPy, torch (CPU or CUDA), any array-API array or a list;
            at least 2 samples.
        y : ignored

        Returns
        -------
        self : FINCH
        """
        if self.n_clusters is not None:
            check_scalar(self.n_clusters, "n_clusters", min_value=1)
        check_option(self.metric, "metric", METRICS)
        check_option(self.algorithm, "algorithm", ALGORITHMS)
        if not isinstance(self.ensure_early_exit, (bool, np.bool_)):
            raise TypeError(f"ensure_early_exit must be a bool, got {self.ensure_early_exit!r}.")
        self._check_device_params()
        X, _, like = self._prepare_input(X, reset=True, work=self._work)
        n_samples = X.shape[0]
        if n_samples < 2:
            raise ValueError(
                f"Found array with {n_samples} sample(s) (shape={tuple(X.shape)}) while a "
                "minimum of 2 is required by FINCH."
            )
        if self.n_clusters is not None and self.n_clusters > n_samples:
            raise ValueError(
                f"n_clusters={self.n_clusters} must be <= n_samples={n_samples}."
            )

        # The reference sets the bound only when there are more than two points.
        early_exit = bool(self.ensure_early_exit) and n_samples > 2
        labels, n_first, largest = first_neighbour_partition(
            X, self._first_neighbours, self.metric, measure=early_exit)
        partitions = [labels]
        counts = [n_first]
        bound = largest if early_exit else None
        reduction = 2
        while reduction > 1 and counts[-1] > 1:
            means = cluster_means(X, partitions[-1], counts[-1])
            level, n_level, _ = first_neighbour_partition(
                means, self._first_neighbours, self.metric, bound)
            reduction = counts[-1] - n_level
            if n_level == 1 or reduction < 1:
                break
            partitions.append(level[partitions[-1]])
            counts.append(n_level)

        if self.n_clusters is None:
            chosen = partitions[-1]
        elif self.n_clusters in counts:
            chosen = partitions[counts.index(self.n_clusters)]
        elif self.n_clusters > counts[0]:
            raise ValueError(
                f"n_clusters={self.n_clusters} is more than the finest FINCH partition "
                f"has ({fmt.counted(counts[0], 'cluster')}); FINCH can only merge clusters."
            )
        else:
            start = max(i for i, c in enumerate(counts) if c > self.n_clusters)
            chosen = merge_to(X, partitions[start], self.n_clusters, self.metric)

        self.partitions_ = [self._to_output(p, like) for p in partitions]
        self.n_clusters_per_partition_ = [int(c) for c in counts]
        self.labels_ = self._to_output(np.asarray(chosen, dtype=np.int64), like)
        self.n_clusters_ = int(chosen.max()) + 1
        self.n_features_in_ = int(X.shape[1])
        return self

    def fit_predict(self, X, y=None):
        """Fit and return ``labels_``."""
        return self.fit(X).labels_
