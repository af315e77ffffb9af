"""The k-nearest-neighbour graph on the GPU: exact tiles, or the inverted-file search of the CPU.

The exact method is ``knn.knn`` with X as its own queries. The approximate
method takes the steps of ``kernels/cpu/knn_graph.py`` with the same seeded
sample (so the same quantiser up to rounding): Lloyd passes of
``assign.lloyd_step``, the probe count tuned on the CPU's sample rows (when
not given), every row's ``n_probe`` nearest centres by
``knn.knn``, the rows sorted by list (so each list's members are a
contiguous run of ``Xs``). Then, for each list, the rows that probe it are
gathered into query chunks and one matmul (cuBLAS) gives the tile
(queries x members), which ``_block_merge_kernel`` merges into the running
top-k of those rows.

The merge works per block, not per thread: one block of ``MERGE_THREADS``
threads per query row keeps the row's top-k (k <= ``MERGE_THREADS``) in
shared memory; the threads read ``MERGE_THREADS`` consecutive columns at a
time (coalesced), count with ``syncthreads_count`` the candidates nearer
than the current k-th, and insert those one at a time, each thread moving
its own slot (a candidate goes after equal distances, columns in ascending
order). Above ``MERGE_THREADS`` neighbours the merge is a stable sort of the
running top-k and the tile with array operations. Rows of one list are
distinct, so no two blocks write the same row; lists go one after another
on the stream.

Distances as in ``kernels/cuda/knn.py``. A row whose probed lists hold
fewer than k other rows gets the exact search.
Reference: ``tests/kernels/reference_neighbors.py::knn``.
"""

import math

import numpy as np
from numba import cuda
from numba import types as nt

from .. import memory
from .._numba import NUMBA_CACHE
from ..cpu.knn_graph import (
    TARGET_RECALL,
    TRAIN_PASSES,
    probes_for_recall,
    recall_of,
    train_rows,
    tune_rows,
)
from ..metric import COSINE
from ..pairwise import near_origin
from . import knn as knn_cuda
from ._launch import launch_for
from .assign import lloyd_step

# Threads per merge block (one query row each block), and so the largest k
# of the kernel: one warp, whose columns are one 128-byte float32 load.
MERGE_THREADS = 32


@cuda.jit(cache=NUMBA_CACHE)
def _block_merge_kernel(gram, q_pos, terms, x0, metric, best, best_j):
    """Merge tile ``gram`` (rows, cols) into the running top-k of rows ``q_pos``.

    gram[r, c] is :math:`x_{q\\_pos[r]} \\cdot x_{x0+c}` (C-contiguous, float32 or
    float64), positions in the list-sorted order; terms (n,) float64 are the
    norm terms of ``knn.norm_terms`` in that order. best (n, k) float64 and
    best_j (n, k) int64 hold each row's sorted top-k (inf and -1 where empty),
    k <= ``MERGE_THREADS``. One block per tile row; a row's own column is skipped.
    """
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    rows = gram.shape[0]
    cols = gram.shape[1]
    if r >= rows:
        return
    k = best.shape[1]
    top_d = cuda.shared.array(MERGE_THREADS, nt.float64)
    top_j = cuda.shared.array(MERGE_THREADS, nt.int64)
    cand_d = cuda.shared.array(MERGE_THREADS, nt.float64)
    i = q_pos[r]
    if t < k:
        top_d[t] = best[i, t]
        top_j[t] = best_j[i, t]
    cuda.syncthreads()
    q_term = terms[i]
    for c0 in range(0, cols, MERGE_THREADS):
        c = c0 + t
        dist = math.inf
        if c < cols:
            j = x0 + c
            g = gram[r, c]
            if metric == COSINE:
                dist = 1.0 - g * q_term * terms[j]
            else:
                dist = q_term + terms[j] - 2.0 * g
            dist = max(dist, 0.0)
            if j == i:
                dist = math.inf
        cand_d[t] = dist
        n_candidates = cuda.syncthreads_count(1 if dist < top_d[k - 1] else 0)
        if n_candidates > 0:
            for s in range(MERGE_THREADS):
                d_s = cand_d[s]
                # Every thread reads the same shared values: a uniform branch.
                if d_s < top_d[k - 1]:
                    new_d = 0.0
                    new_j = -1
                    moved = False
                    if t < k and top_d[t] > d_s:
                        moved = True
                        if t == 0 or top_d[t - 1] <= d_s:
                            new_d = d_s
                            new_j = x0 + c0 + s
                        else:
                            new_d = top_d[t - 1]
                            new_j = top_j[t - 1]
                    cuda.syncthreads()
                    if moved:
                        top_d[t] = new_d
                        top_j[t] = new_j
                    cuda.syncthreads()
        cuda.syncthreads()
    if t < k:
        best[i, t] = top_d[t]
        best_j[i, t] = top_j[t]


def _stable_argsort(a, lib, axis=-1):
    # CuPy's argsort is always stable; NumPy's (the simulator) must be asked.
    return np.argsort(a, axis=axis, kind="stable") if lib is np else lib.argsort(a, axis=axis)


def _merge_by_sort(gram, q_pos, terms, x0, metric, best, best_j, lib):
    """The large-k path: the merge of ``_block_merge_kernel`` with array operations."""
    rows, cols = gram.shape
    g = gram.astype(lib.float64)
    q = terms[q_pos][:, None]
    columns = lib.arange(x0, x0 + cols, dtype=lib.int64)
    x = terms[x0:x0 + cols][None, :]
    dist = 1.0 - g * q * x if metric == COSINE else q + x - 2.0 * g
    dist = lib.maximum(dist, 0.0)
    dist = lib.where(q_pos[:, None] == columns[None, :], lib.inf, dist)
    all_dist = lib.concatenate([best[q_pos], dist], axis=1)
    all_index = lib.concatenate([best_j[q_pos], lib.broadcast_to(columns, (rows, cols))], axis=1)
    order = _stable_argsort(all_dist, lib, axis=1)[:, :best.shape[1]]
    best[q_pos] = lib.take_along_axis(all_dist, order, axis=1)
    best_j[q_pos] = lib.take_along_axis(all_index, order, axis=1)


def train_quantiser(X, n_lists, metric, seed, lib):
    """Centres (n_lists, d) in X's dtype: Lloyd passes over the CPU's seeded sample."""
    sample, initial = train_rows(X.shape[0], n_lists, seed)
    Xt = lib.ascontiguousarray(X[lib.asarray(sample)])
    centers = lib.ascontiguousarray(X[lib.asarray(initial)])
    for _ in range(TRAIN_PASSES):
        _labels, _dist, sums, weights = lloyd_step(Xt, centers, None, metric)
        filled = weights > 0
        means = (sums / lib.where(filled, weights, 1.0)[:, None]).astype(X.dtype)
        centers = lib.ascontiguousarray(lib.where(filled[:, None], means, centers))
    return centers


def _host(a, lib):
    return np.asarray(a) if lib is np else a.get()


def tune_probes(X, centers, k, metric, seed, lib):
    """The CPU's ``tune_probes`` with the CUDA searches: probes for ``TARGET_RECALL``."""
    sample = tune_rows(X.shape[0], seed)
    rows = lib.asarray(sample)
    Q = lib.ascontiguousarray(X[rows])
    _, j = knn_cuda.knn(X, Q, k + 1, metric, False, False)
    neighbours = j[_without_self(j, rows, k, lib)].reshape(-1, k)
    _, own = knn_cuda.knn(centers, lib.ascontiguousarray(X[neighbours.ravel()]), 1, metric,
                          False, False)
    _, order = knn_cuda.knn(centers, Q, centers.shape[0], metric, False, False)
    return probes_for_recall(_host(own, lib).reshape(-1, k), _host(order, lib), TARGET_RECALL)


def _runs(keys, n_lists, lib):
    """Stable order of ``keys`` and the (n_lists + 1) starts of each key's run in it."""
    order = _stable_argsort(keys, lib)
    starts = lib.zeros(n_lists + 1, dtype=lib.int64)
    starts[1:] = lib.cumsum(lib.bincount(keys, minlength=n_lists))
    return order.astype(lib.int64), starts


def approximate(X, k, metric, root, n_lists, n_probe, seed):
    """The IVF graph on the GPU: distances (n, k) in X's dtype, indices int64."""
    launch = launch_for(X)
    lib = launch.lib
    n = X.shape[0]
    centers = train_quantiser(X, n_lists, metric, seed, lib)
    n_probe = n_probe or tune_probes(X, centers, k, metric, seed, lib)
    _, probes = knn_cuda.knn(centers, X, n_probe, metric, False, False)
    order, starts = _runs(lib.ascontiguousarray(probes[:, 0]), n_lists, lib)
    Xs = lib.ascontiguousarray(X[order])
    terms = knn_cuda.norm_terms(Xs, metric, launch)
    # The (list, row) pairs: rows in list-sorted positions, grouped by the list they probe.
    pair_order, pair_starts = _runs(lib.ascontiguousarray(probes[order].ravel()), n_lists, lib)
    probers = lib.ascontiguousarray(pair_order // n_probe)
    starts_h = _host(starts, lib)
    pair_starts_h = _host(pair_starts, lib)
    best = lib.full((n, k), lib.inf, dtype=lib.float64)
    best_j = lib.full((n, k), -1, dtype=lib.int64)
    use_kernel = k <= MERGE_THREADS
    for lst in range(n_lists):
        x0, x1 = int(starts_h[lst]), int(starts_h[lst + 1])
        p0, p1 = int(pair_starts_h[lst]), int(pair_starts_h[lst + 1])
        if x1 == x0 or p1 == p0:
            continue
        members = Xs[x0:x1]
        per_row = (x1 - x0) * (X.itemsize if use_kernel else X.itemsize + 24) + X.shape[1] * X.itemsize
        chunk = memory.row_chunk_size(p1 - p0, per_row, device=launch.device)

        def step(a, b, p0=p0, x0=x0, members=members):
            q_pos = probers[p0 + a:p0 + b]
            gram = lib.matmul(Xs[q_pos], members.T)
            if use_kernel:
                _block_merge_kernel[b - a, MERGE_THREADS, launch.stream](
                    gram, q_pos, terms, x0, metric, best, best_j
                )
            else:
                _merge_by_sort(gram, q_pos, terms, x0, metric, best, best_j, lib)

        memory.for_each_chunk(p1 - p0, chunk, step)
    distances = lib.empty((n, k), dtype=X.dtype)
    indices = lib.empty((n, k), dtype=lib.int64)
    distances[order] = (lib.sqrt(best) if root else best).astype(X.dtype)
    indices[order] = lib.where(best_j >= 0, order[lib.maximum(best_j, 0)], -1)
    _fill_short_rows(X, k, metric, root, distances, indices, lib)
    return distances, indices


def _without_self(j, rows, k, lib):
    """Per query row of ``j`` (m, k + 1), its first k entries other than the row itself."""
    is_self = j == rows[:, None]
    # Drop the self entry, or the last one where the row is absent (duplicates filled the k + 1).
    drop = lib.where(is_self.any(axis=1), lib.argmax(is_self, axis=1), k)
    keep = lib.arange(k + 1)[None, :] != drop[:, None]
    return keep


def _fill_short_rows(X, k, metric, root, distances, indices, lib):
    """The exact search for rows whose probed lists held fewer than k other rows."""
    short = lib.flatnonzero(indices[:, -1] < 0)
    if int(short.shape[0]) == 0:
        return
    d, j = knn_cuda.knn(X, lib.ascontiguousarray(X[short]), k + 1, metric, root, False)
    keep = _without_self(j, short, k, lib)
    distances[short] = d[keep].reshape(-1, k)
    indices[short] = j[keep].reshape(-1, k)


def knn_graph(X, k, metric, root, exact, n_lists, n_probe, seed):
    """The k nearest other rows of every row of X, on the GPU.

    Parameters
    ----------
    X : CuPy array (n, d), float32 or float64 (NumPy under the CUDA simulator)
    k, metric, root, exact, n_lists, n_probe, seed : as for ``kernels/cpu/knn_graph.knn_graph``

    Returns
    -------
    distances : array (n, k) in X's dtype, ascending per row
    indices : array (n, k) int64, never the row itself
        Both in X's array library, computed on CuPy's current stream.
    """
    lib = launch_for(X).lib
    X = lib.ascontiguousarray(X)
    if exact or X.shape[0] == 0 or k == 0:
        return knn_cuda.knn(X, None, k, metric, root, True)
    # Its Gram tiles see rows far from the origin moved near it, as the exact search's do.
    X = lib.ascontiguousarray(near_origin(lib, X, None, metric)[0])
    return approximate(X, k, metric, root, n_lists, n_probe, seed)


def knn_recall(X, indices, metric, sample):
    """Estimated recall of ``indices`` (n, k) over the rows ``sample``: a 0-d float64 array."""
    lib = launch_for(X).lib
    X = lib.ascontiguousarray(X)
    k = indices.shape[1]
    if k == 0 or len(sample) == 0:
        return lib.asarray(1.0)
    rows = lib.asarray(sample)
    _, j = knn_cuda.knn(X, lib.ascontiguousarray(X[rows]), k + 1, metric, False, False)
    keep = _without_self(j, rows, k, lib)
    exact = j[keep].reshape(-1, k)
    return lib.asarray(recall_of(_host(indices[rows], lib), _host(exact, lib), sample))
