"""The k-nearest-neighbour graph on the CPU: exact GEMM tiles, or an inverted-file search.

The exact method is ``knn.knn`` with X as its own queries. The approximate
method is an inverted file (IVF):

1. the coarse quantiser: ``n_lists`` centres from ``TRAIN_PASSES`` Lloyd
   passes (``assign.lloyd_step``) over a seeded sample of
   ``TRAIN_ROWS_PER_LIST * n_lists`` rows, started from sampled rows (a
   centre that loses all its rows keeps its place);
2. ``n_probe``, when not given, from the data: the exact neighbours of
   ``TUNE_QUERIES`` seeded rows, and the rank of each neighbour's list among
   its query's lists by centre distance, give the recall of every probe
   count at once (an IVF search finds exactly the neighbours in the lists it
   probes); the smallest count reaching ``TARGET_RECALL`` is taken;
3. every row's ``n_probe`` nearest centres (``knn.knn`` against the centres);
   the first is its own list;
4. the rows, sorted by list so that every list's members are contiguous;
   ``_probe_groups`` then takes the lists in parallel (``prange``): the
   members of list g are the queries of task g, which gathers, for each
   list l that some of them probe, those queries into one tile and merges
   the GEMM tile (queries x members of l) into their running top-k with the
   merge of the exact search. Each task owns its queries' rows of the
   output, so no two threads write the same row.

Distances are those of the exact search (``kernels/cpu/knn.py``): the
expanded form from float64 norms, clipped at 0, a square root at the end
for euclidean, on rows moved near the origin first where they lie far from it
(``pairwise.near_origin``). A row whose probed lists hold fewer than k other rows
gets the exact search. Reference: ``tests/kernels/reference_neighbors.py::knn``.
"""

import numba
import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE, single_threaded_blas
from ..metric import COSINE
from ..pairwise import near_origin
from . import knn as knn_cpu
from .assign import lloyd_step

# Quantiser training: sample rows per list and Lloyd passes. FAISS warns
# below 39 training rows per centre; a few passes from sampled rows already
# give lists as good for probing as a converged k-means (NOTES.md, "knn_graph").
TRAIN_ROWS_PER_LIST = 40
TRAIN_PASSES = 6
# Probe tuning: sampled query rows, and the recall their exact neighbours must
# reach. 0.97 was not enough for the estimators on the graph: on the auto
# search's 32-d PCA of 50,000 x 512 embeddings (benchmarks/auto_search.py),
# HDBSCAN(158, min_samples=10) on a graph of recall 0.976 agreed with the
# exact tree at ARI 0.91 (54 clusters against 59); at recall 0.996 (twice
# the probes, 1.5x the time) at 0.999 (NOTES.md, "Recall the graph needs").
TUNE_QUERIES = 256
TARGET_RECALL = 0.99


def train_rows(n, n_lists, seed):
    """Sorted row indices of the quantiser's training sample, and the first n_lists of a permutation."""
    rng = np.random.default_rng(seed)
    size = min(n, TRAIN_ROWS_PER_LIST * n_lists)
    sample = rng.choice(n, size=size, replace=False)
    return np.sort(sample).astype(np.int64), sample[:n_lists].astype(np.int64)


def train_quantiser(X, n_lists, metric, seed):
    """Centres (n_lists, d) in X's dtype from a few Lloyd passes over a seeded sample."""
    sample, initial = train_rows(X.shape[0], n_lists, seed)
    Xs = np.ascontiguousarray(X[sample])
    centers = np.ascontiguousarray(X[initial])
    for _ in range(TRAIN_PASSES):
        _labels, _dist, sums, weights = lloyd_step(Xs, centers, None, metric)
        filled = weights > 0
        centers = centers.copy()
        centers[filled] = (sums[filled] / weights[filled, None]).astype(X.dtype)
    return centers


def tune_rows(n, seed):
    """Sorted row indices of the probe-tuning sample (a stream of its own, from ``seed``)."""
    rng = np.random.default_rng([seed, 1])
    return np.sort(rng.choice(n, size=min(n, TUNE_QUERIES), replace=False)).astype(np.int64)


def probes_for_recall(neighbour_lists, list_order, target):
    """Fewest probes whose lists hold ``target`` of the sampled queries' exact neighbours.

    neighbour_lists (s, k): the list of each exact neighbour; list_order
    (s, n_lists): each query's lists, nearest centre first.
    """
    s, n_lists = list_order.shape
    if neighbour_lists.size == 0:
        return 1
    rank = np.empty_like(list_order)
    rank[np.arange(s)[:, None], list_order] = np.arange(n_lists)[None, :]
    needed = np.take_along_axis(rank, neighbour_lists, axis=1)
    covered = np.cumsum(np.bincount(needed.ravel(), minlength=n_lists)) / needed.size
    return int(min(n_lists, np.searchsorted(covered, target - 1e-12) + 1))


def without_self(j, rows, k):
    """Per query row of ``j`` (m, k + 1) its first k entries other than the row itself."""
    out = np.empty((len(rows), k), dtype=np.int64)
    for row, i in enumerate(rows):
        keep = j[row] != i
        if keep.all():
            keep[-1] = False
        out[row] = j[row][keep]
    return out


def tune_probes(X, centers, k, metric, seed):
    """``n_probe`` for ``TARGET_RECALL`` on a seeded sample of rows (see the module docstring)."""
    sample = tune_rows(X.shape[0], seed)
    Q = np.ascontiguousarray(X[sample])
    _, j = knn_cpu.knn(X, Q, k + 1, metric, False, False)
    neighbours = without_self(j, sample, k)
    _, own = knn_cpu.knn(centers, np.ascontiguousarray(X[neighbours.ravel()]), 1, metric, False,
                         False)
    _, order = knn_cpu.knn(centers, Q, centers.shape[0], metric, False, False)
    return probes_for_recall(own.reshape(neighbours.shape), order, TARGET_RECALL)


def plan(X, k, metric, n_lists, n_probe, seed):
    """The quantiser's centres and the probe count (``n_probe``, or tuned when 0)."""
    centers = train_quantiser(X, n_lists, metric, seed)
    return centers, n_probe or tune_probes(X, centers, k, metric, seed)


def list_layout(lists, n_lists):
    """order (rows sorted by list, stable), and starts (n_lists + 1) of each list's run in it."""
    order = np.argsort(lists, kind="stable").astype(np.int64)
    counts = np.bincount(lists, minlength=n_lists)
    starts = np.zeros(n_lists + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return order, starts


@njit(parallel=True, cache=NUMBA_CACHE)
def _probe_groups(Xs, terms, probes, starts, k, metric, root, distances, indices, order):
    """The IVF search over rows sorted by list; writes the rows' top-k in original row order.

    Xs (n, d): the rows sorted by list (C-contiguous); terms (n,): their
    float64 norm terms; probes (n, n_probe) int64: each sorted row's lists,
    nearest first; starts (n_lists + 1,): list runs in Xs. ``indices`` get
    original row numbers through ``order`` (sorted position -> row).
    """
    n_lists = starts.shape[0] - 1
    n_probe = probes.shape[1]
    d = Xs.shape[1]
    for g in prange(n_lists):
        g0 = starts[g]
        rows = starts[g + 1] - g0
        if rows == 0:
            continue
        best = np.full((rows, k), np.inf)
        best_j = np.full((rows, k), -1, dtype=np.int64)
        # (list, query) pairs of the task, sorted by list.
        keys = np.empty(rows * n_probe, dtype=np.int64)
        for r in range(rows):
            for p in range(n_probe):
                keys[r * n_probe + p] = probes[g0 + r, p] * rows + r
        keys.sort()
        tile = np.empty((rows, d), dtype=Xs.dtype)
        local = np.empty(rows, dtype=np.int64)
        a = 0
        total = rows * n_probe
        while a < total:
            lst = keys[a] // rows
            b = a
            while b < total and keys[b] // rows == lst:
                r = keys[b] % rows
                local[b - a] = r
                tile[b - a] = Xs[g0 + r]
                b += 1
            x0 = starts[lst]
            x1 = starts[lst + 1]
            if x1 > x0:
                gram = np.dot(tile[:b - a], Xs[x0:x1].T)
                for t in range(b - a):
                    r = local[t]
                    q_term = terms[g0 + r]
                    if lst == g:
                        # The query's own list: skip its own column, r.
                        knn_cpu._merge_range(gram[t], 0, r, x0, q_term, terms, metric,
                                             best[r], best_j[r])
                        knn_cpu._merge_range(gram[t], r + 1, x1 - x0, x0, q_term, terms, metric,
                                             best[r], best_j[r])
                    else:
                        knn_cpu._merge_range(gram[t], 0, x1 - x0, x0, q_term, terms, metric,
                                             best[r], best_j[r])
            a = b
        for r in range(rows):
            i = order[g0 + r]
            for c in range(k):
                v = best[r, c]
                distances[i, c] = np.sqrt(v) if root else v
                j = best_j[r, c]
                indices[i, c] = order[j] if j >= 0 else -1


def _fill_short_rows(X, k, metric, root, distances, indices):
    """The exact search for rows whose probed lists held fewer than k other rows."""
    short = np.flatnonzero(indices[:, -1] < 0) if k else np.empty(0, dtype=np.int64)
    if len(short) == 0:
        return
    d, j = knn_cpu.knn(X, np.ascontiguousarray(X[short]), k + 1, metric, root, False)
    for row, i in enumerate(short):
        keep = j[row] != i
        if keep.all():
            keep[-1] = False
        distances[i] = d[row][keep]
        indices[i] = j[row][keep]


def approximate(X, k, metric, root, n_lists, n_probe, seed):
    """The IVF graph (see the module docstring): distances (n, k) in X's dtype, indices int64."""
    n = X.shape[0]
    centers, n_probe = plan(X, k, metric, n_lists, n_probe, seed)
    _, probes = knn_cpu.knn(centers, X, n_probe, metric, False, False)
    order, starts = list_layout(probes[:, 0], n_lists)
    Xs = np.ascontiguousarray(X[order])
    terms = knn_cpu.norm_terms(Xs, metric)
    distances = np.empty((n, k), dtype=X.dtype)
    indices = np.empty((n, k), dtype=np.int64)
    with single_threaded_blas(), numba.parallel_chunksize(1):
        _probe_groups(Xs, terms, np.ascontiguousarray(probes[order]), starts, k, metric, root,
                      distances, indices, order)
    _fill_short_rows(X, k, metric, root, distances, indices)
    return distances, indices


def knn_graph(X, k, metric, root, exact, n_lists, n_probe, seed):
    """The k nearest other rows of every row of X.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64
    k : int, 0 <= k <= n - 1; validated by the caller
    metric : int
        ``SQEUCLIDEAN`` or ``COSINE`` from ``kernels.metric``.
    root : bool
        Return square roots (euclidean).
    exact : bool
        The exact search; otherwise the IVF search with ``n_lists`` lists,
        ``n_probe`` probes (0: tuned to ``TARGET_RECALL``), seeded by ``seed``.

    Returns
    -------
    distances : ndarray (n, k) in X's dtype, ascending per row
    indices : ndarray (n, k) int64, never the row itself
    """
    X = np.ascontiguousarray(X)
    n = X.shape[0]
    if exact or n == 0 or k == 0:
        return knn_cpu.knn(X, None, k, metric, root, True)
    # Its Gram tiles see rows far from the origin moved near it, as the exact search's do.
    X = np.ascontiguousarray(near_origin(np, X, None, metric)[0])
    return approximate(X, k, metric, root, n_lists, n_probe, seed)


def recall_of(found, exact_indices, sample):
    """Mean share of each sampled row's exact neighbours that ``found`` (its graph rows) holds."""
    k = found.shape[1]
    if k == 0 or len(sample) == 0:
        return 1.0
    hits = 0
    for got, want in zip(found, exact_indices):
        hits += len(np.intersect1d(got, want, assume_unique=False))
    return hits / (k * len(sample))


def knn_recall(X, indices, metric, sample):
    """Estimated recall of ``indices`` (n, k) over the rows ``sample``: a 0-d float64 array."""
    X = np.ascontiguousarray(X)
    k = indices.shape[1]
    if k == 0 or len(sample) == 0:
        return np.asarray(1.0)
    _, j = knn_cpu.knn(X, np.ascontiguousarray(X[sample]), k + 1, metric, False, False)
    exact = without_self(j, sample, k)
    return np.asarray(recall_of(np.asarray(indices)[sample], exact, sample))
