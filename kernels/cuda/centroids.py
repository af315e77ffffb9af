"""Weighted per-cluster sums and counts on the GPU with numba.cuda, by a sort-by-label segmented sum.

.. math:: S_j = \\sum_{i: l_i = j} w_i x_i, \\qquad W_j = \\sum_{i: l_i = j} w_i

Rows with a label outside [0, n_clusters) (noise) are skipped. The rows are
ordered by label (the array library's argsort: CUB's radix sort on
CuPy), so each cluster's rows form one run of the order. Each run is cut
into work items of at most ``ITEM_ROWS`` rows; one block sums one item into
a float64 partial row, and a second kernel adds each cluster's partial rows
in item order. No atomics at all: float64 atomics on a few hot addresses
serialise (k-means with few clusters sends millions of rows to each), and
without them the order of the additions, so the result, is the same in
every run.
The alternative, a one-hot GEMM, costs as many multiply-adds as the
assignment itself (2 n k d) to save a sort of n labels. cuML's
``update_centroids`` also reduces rows by key (``reduce_rows_by_key``)
rather than by contended atomics. Unmeasured on a GPU (benchmarks/NOTES.md,
"KMeans at scale").
Reference: ``tests/kernels/reference.py::centroid_update``.
"""

import numpy as np
from numba import cuda, float64

from .._numba import NUMBA_CACHE
from ._launch import launch_for, n_blocks

# Rows of one work item. Small enough that a large cluster is shared by many
# blocks, large enough that the partial rows (n / ITEM_ROWS + k of them) and
# the second pass over them stay small next to X.
ITEM_ROWS = 2048
# Block shape of the item kernel: FEATURE_LANES threads (a warp) read
# consecutive features of one row (coalesced), ROW_LANES rows at a time.
FEATURE_LANES = 32
ROW_LANES = 8
# Threads per block of the kernel adding up partial rows, one per output entry.
REDUCE_THREADS = 256


@cuda.jit(cache=NUMBA_CACHE)
def _item_sums_kernel(X, order, weights, run_starts, item_offsets, partial):
    """partial[b, :d] = sum of w_i X[i] and partial[b, d] = sum of w_i over item b's rows.

    X (n, d) C-contiguous float32 or float64; ``order`` (n,) int64, the row
    indices sorted by label; weights (n,) float, or (0,) for all ones;
    ``run_starts`` (k + 1,) int64, where cluster j's run of ``order``
    starts (``run_starts[k]`` is its end); ``item_offsets`` (k + 1,) int64,
    the first item of each cluster. One block per item, of shape
    (``FEATURE_LANES``, ``ROW_LANES``): the block finds its cluster by a
    binary search of ``item_offsets``, then for each group of
    ``FEATURE_LANES`` columns (column d standing for the weight) every
    thread sums its column over every ``ROW_LANES``-th row in float64, and
    the ``ROW_LANES`` sums are added in shared memory in a fixed order.
    """
    shared = cuda.shared.array((ROW_LANES, FEATURE_LANES), float64)
    item = cuda.blockIdx.x
    lane = cuda.threadIdx.x
    row_lane = cuda.threadIdx.y
    d = X.shape[1]
    # The cluster j with item_offsets[j] <= item < item_offsets[j + 1]
    # (empty clusters have no items, so the last such j).
    lo = 0
    hi = item_offsets.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if item_offsets[mid] <= item:
            lo = mid
        else:
            hi = mid
    start = run_starts[lo] + (item - item_offsets[lo]) * ITEM_ROWS
    stop = min(run_starts[lo + 1], start + ITEM_ROWS)
    for first in range(0, d + 1, FEATURE_LANES):
        f = first + lane
        acc = 0.0
        for p in range(start + row_lane, stop, ROW_LANES):
            i = order[p]
            w = 1.0 if weights.shape[0] == 0 else float64(weights[i])
            if f < d:
                acc += w * X[i, f]
            elif f == d:
                acc += w
        shared[row_lane, lane] = acc
        cuda.syncthreads()
        if row_lane == 0 and f <= d:
            s = 0.0
            for r in range(ROW_LANES):
                s += shared[r, lane]
            partial[item, f] = s
        cuda.syncthreads()  # shared is read before the next columns overwrite it


@cuda.jit(cache=NUMBA_CACHE)
def _reduce_items_kernel(partial, item_offsets, sums, counts):
    """sums[j, f] (and counts[j] for f = d) = the sum of cluster j's partial rows, in item order.

    partial (items, d + 1) float64; item_offsets (k + 1,) int64; sums (k, d)
    and counts (k,) float64. One thread per output entry; a cluster with no
    items gets 0.
    """
    e = cuda.grid(1)
    width = partial.shape[1]
    k = counts.shape[0]
    if e >= k * width:
        return
    j = e // width
    f = e - j * width
    s = 0.0
    for item in range(item_offsets[j], item_offsets[j + 1]):
        s += partial[item, f]
    if f < width - 1:
        sums[j, f] = s
    else:
        counts[j] = s


def _runs(labels, n_clusters, lib):
    """(order, run_starts, item_offsets, n_items) of the segmented sum: one sort of the labels."""
    order = lib.argsort(labels)
    run_starts = lib.searchsorted(
        labels[order], lib.arange(n_clusters + 1, dtype=labels.dtype)
    ).astype(lib.int64)
    items = (run_starts[1:] - run_starts[:-1] + ITEM_ROWS - 1) // ITEM_ROWS
    item_offsets = lib.zeros(n_clusters + 1, dtype=lib.int64)
    item_offsets[1:] = lib.cumsum(items)
    return order.astype(lib.int64, copy=False), run_starts, item_offsets, int(item_offsets[-1])


def centroid_update(X, labels, weights, n_clusters):
    """Per-cluster weighted sums and total weights, on the GPU.

    Parameters
    ----------
    X : CuPy array (n, d), float32 or float64 (NumPy under the CUDA simulator);
        made C-contiguous by a copy if it is not
    labels : array (n,), integer; entries < 0 (and >= n_clusters) are skipped
    weights : array (n,), float, or None for all ones
    n_clusters : int

    Returns
    -------
    sums : array (n_clusters, d) float64
    counts : array (n_clusters,) float64
        Both in X's array library, computed on CuPy's current stream; the
        same in every run (no atomics).
    """
    launch = launch_for(X)
    lib = launch.lib
    X = lib.ascontiguousarray(X)
    d = X.shape[1]
    sums = lib.zeros((n_clusters, d), dtype=np.float64)
    counts = lib.zeros(n_clusters, dtype=np.float64)
    if X.shape[0] == 0 or n_clusters == 0:
        return sums, counts
    order, run_starts, item_offsets, n_items = _runs(lib.asarray(labels), n_clusters, lib)
    if n_items == 0:
        return sums, counts
    partial = lib.empty((n_items, d + 1), dtype=np.float64)
    if weights is None:  # an empty array stands for all ones (None cannot be a kernel argument)
        weights = lib.empty(0, dtype=np.float64)
    _item_sums_kernel[n_items, (FEATURE_LANES, ROW_LANES), launch.stream](
        X, order, weights, run_starts, item_offsets, partial
    )
    entries = n_clusters * (d + 1)
    _reduce_items_kernel[n_blocks(entries, REDUCE_THREADS), REDUCE_THREADS, launch.stream](
        partial, item_offsets, sums, counts
    )
    return sums, counts
