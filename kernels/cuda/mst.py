"""Exact minimum spanning tree over mutual-reachability distances on the GPU (Boruvka).

Weights are :math:`w(i, j) = \\max(c_i, c_j, \\delta(x_i, x_j) / \\alpha)` as in
``kernels/cpu/mst.py``, and edges are ordered by the same key
(w, d / alpha, min(i, j), max(i, j)), so both backends build the same tree up
to rounding. Each Boruvka round:

1. the inner products of a chunk of rows with all of X come from the array
   library's matmul (cuBLAS for CuPy), chunks sized from free memory, and
   ``_candidate_kernel`` takes every row's cheapest edge into another
   component;
2. three atomic passes reduce them per component, which no single atomic
   can do for a (float, float, index) key: the minimum weight, then the
   minimum distance among rows at that weight, then the smallest pair
   index ``a * n + b`` among rows at both;
3. the chosen edges (duplicates removed) join components through the GPU
   connected components of ``cuda/union_find.py`` run on the component
   graph. With consistent weights the chosen edges form a forest; should
   rounding make them close a cycle, the component count shows it and the
   round's edges are filtered on the host in key order instead.

The returned weights are recomputed for the tree's edges from the
coordinates in float64. Unlike the CPU version there is no candidate cache:
every round scans all pairs (to be revisited with a GPU benchmark).
Reference: ``tests/kernels/reference_graph.py::mst``.
"""

import math

import numpy as np
from numba import cuda

from .. import memory
from ..arrays import to_numpy
from .._numba import NUMBA_CACHE
from ..metric import COSINE, EUCLIDEAN
from ..pairwise import near_origin
from ..cpu.union_find import new_forest, union
from ._launch import launch_for, n_blocks
from .union_find import connected_components

# Candidate kernel: a block of CAND_BLOCK_ROWS rows, each scanned by
# CAND_LANES threads (one warp) reading consecutive columns (coalesced).
# CAND_LANES must be a power of two for the tree reduction.
CAND_LANES = 32
CAND_BLOCK_ROWS = 8
# Threads per block of the one-thread-per-item kernels.
BLOCK_THREADS = 256


@cuda.jit(cache=NUMBA_CACHE)
def _row_norms_kernel(X, sq, inv):
    """Squared norm and inverse norm (0 for a zero row) of each row in float64; a thread per row."""
    i = cuda.grid(1)
    if i >= X.shape[0]:
        return
    s = 0.0
    for t in range(X.shape[1]):
        x = np.float64(X[i, t])
        s += x * x
    sq[i] = s
    inv[i] = 1.0 / math.sqrt(s) if s > 0.0 else 0.0


@cuda.jit(cache=NUMBA_CACHE)
def _candidate_kernel(gram, row_start, sq, inv, core, comp, metric, alpha, cand_w, cand_d, cand_j):
    """Cheapest edge from each row of a chunk into another component.

    ``gram`` (m, n) holds the inner products of rows ``row_start ...
    row_start + m`` with all of X. Block shape (``CAND_LANES``,
    ``CAND_BLOCK_ROWS``): threadIdx.y picks the row, its lanes stride over
    the columns keeping the smallest (w, d, j) (columns ascend, so a strict
    test keeps the first j on ties), then the lanes' keys are reduced in
    shared memory (the simulator has no warp shuffles). Writes ``cand_j =
    -1`` when every point is in the row's component.
    """
    s_w = cuda.shared.array((CAND_BLOCK_ROWS, CAND_LANES), np.float64)
    s_d = cuda.shared.array((CAND_BLOCK_ROWS, CAND_LANES), np.float64)
    s_j = cuda.shared.array((CAND_BLOCK_ROWS, CAND_LANES), np.int64)
    lane = cuda.threadIdx.x
    r = cuda.threadIdx.y
    local = cuda.blockIdx.x * CAND_BLOCK_ROWS + r
    m, n = gram.shape
    best_w = np.inf
    best_d = np.inf
    best_j = n
    if local < m:
        i = row_start + local
        ci = comp[i]
        core_i = core[i]
        sq_i = sq[i]
        inv_i = inv[i]
        for j in range(lane, n, CAND_LANES):
            if j == i or comp[j] == ci:
                continue
            g = np.float64(gram[local, j])
            if metric == COSINE:
                dist = (1.0 - g * inv_i * inv[j]) / alpha
            else:
                dist = max(sq_i + sq[j] - 2.0 * g, 0.0)
                if metric == EUCLIDEAN:
                    dist = math.sqrt(dist)
                dist = dist / alpha
            w = max(max(core_i, core[j]), dist)
            if w < best_w or (w == best_w and dist < best_d):
                best_w = w
                best_d = dist
                best_j = j
    s_w[r, lane] = best_w
    s_d[r, lane] = best_d
    s_j[r, lane] = best_j
    cuda.syncthreads()
    step = CAND_LANES // 2
    while step > 0:
        if lane < step:
            ow = s_w[r, lane + step]
            od = s_d[r, lane + step]
            oj = s_j[r, lane + step]
            mw = s_w[r, lane]
            md = s_d[r, lane]
            if ow < mw or (ow == mw and (od < md or (od == md and oj < s_j[r, lane]))):
                s_w[r, lane] = ow
                s_d[r, lane] = od
                s_j[r, lane] = oj
        cuda.syncthreads()
        step //= 2
    if lane == 0 and local < m:
        i = row_start + local
        cand_w[i] = s_w[r, 0]
        cand_d[i] = s_d[r, 0]
        cand_j[i] = s_j[r, 0] if s_j[r, 0] < n else -1


@cuda.jit(cache=NUMBA_CACHE)
def _component_min_weight_kernel(comp, cand_w, cand_j, best_w):
    """Pass 1, one thread per point: atomic min of its candidate's weight into its component."""
    i = cuda.grid(1)
    if i < comp.shape[0] and cand_j[i] >= 0:
        cuda.atomic.min(best_w, comp[i], cand_w[i])


@cuda.jit(cache=NUMBA_CACHE)
def _component_min_dist_kernel(comp, cand_w, cand_d, cand_j, best_w, best_d):
    """Pass 2: among points at their component's best weight, atomic min of the distance."""
    i = cuda.grid(1)
    if i < comp.shape[0] and cand_j[i] >= 0 and cand_w[i] == best_w[comp[i]]:
        cuda.atomic.min(best_d, comp[i], cand_d[i])


@cuda.jit(cache=NUMBA_CACHE)
def _component_min_edge_kernel(comp, cand_w, cand_d, cand_j, best_w, best_d, best_key):
    """Pass 3: among points at the best (weight, distance), atomic min of ``a * n + b``."""
    i = cuda.grid(1)
    n = comp.shape[0]
    if i >= n:
        return
    j = cand_j[i]
    c = comp[i]
    if j >= 0 and cand_w[i] == best_w[c] and cand_d[i] == best_d[c]:
        cuda.atomic.min(best_key, c, min(i, j) * n + max(i, j))


@cuda.jit(cache=NUMBA_CACHE)
def _edge_weights_kernel(X, core, a, b, metric, alpha, weights):
    """Weight of each edge (a[e], b[e]) from the coordinates in float64; one thread per edge."""
    e = cuda.grid(1)
    if e >= a.shape[0]:
        return
    i = a[e]
    j = b[e]
    s = 0.0
    if metric == COSINE:
        ni = 0.0
        nj = 0.0
        for t in range(X.shape[1]):
            xi = np.float64(X[i, t])
            xj = np.float64(X[j, t])
            s += xi * xj
            ni += xi * xi
            nj += xj * xj
        # One norm at a time: the product of two squared norms of small rows
        # underflows to 0 (as in kernels/cpu/mst.py's pair_distance).
        dist = 1.0 - s / math.sqrt(ni) / math.sqrt(nj) if ni > 0.0 and nj > 0.0 else 1.0
    else:
        for t in range(X.shape[1]):
            diff = np.float64(X[i, t]) - np.float64(X[j, t])
            s += diff * diff
        dist = math.sqrt(s) if metric == EUCLIDEAN else s
    weights[e] = max(max(core[i], core[j]), dist / alpha)


def _edge_weights(X, core, a, b, metric, alpha, launch):
    weights = launch.lib.empty(a.shape[0], dtype=launch.lib.float64)
    if a.shape[0]:
        _edge_weights_kernel[n_blocks(a.shape[0], BLOCK_THREADS), BLOCK_THREADS, launch.stream](
            X, core, a, b, metric, alpha, weights
        )
    return weights


def _candidates(X, sq, inv, core, comp, metric, alpha, cand_w, cand_d, cand_j, launch):
    """Every point's cheapest edge into another component, by row chunks of Gram matrix."""
    n = X.shape[0]
    # A chunk row holds n inner products.
    chunk_rows = memory.row_chunk_size(n, n * X.itemsize, device=launch.device)

    def step(start, stop):
        gram = launch.lib.matmul(X[start:stop], X.T)
        _candidate_kernel[
            n_blocks(stop - start, CAND_BLOCK_ROWS), (CAND_LANES, CAND_BLOCK_ROWS), launch.stream
        ](gram, start, sq, inv, core, comp, metric, alpha, cand_w, cand_d, cand_j)

    memory.for_each_chunk(n, chunk_rows, step)


def _component_best_keys(comp, n_components, cand_w, cand_d, cand_j, launch):
    """Per component, ``a * n + b`` of its cheapest outgoing edge (n * n where it has none)."""
    lib = launch.lib
    n = comp.shape[0]
    best_w = lib.full(n_components, np.inf, dtype=lib.float64)
    best_d = lib.full(n_components, np.inf, dtype=lib.float64)
    best_key = lib.full(n_components, n * n, dtype=lib.int64)
    grid = (n_blocks(n, BLOCK_THREADS), BLOCK_THREADS, launch.stream)
    _component_min_weight_kernel[grid](comp, cand_w, cand_j, best_w)
    _component_min_dist_kernel[grid](comp, cand_w, cand_d, cand_j, best_w, best_d)
    _component_min_edge_kernel[grid](comp, cand_w, cand_d, cand_j, best_w, best_d, best_key)
    return best_key


def _acyclic(X, core, comp, n_components, a, b, metric, alpha, launch):
    """Mask of the edges kept by Kruskal on the component graph, in (weight, a, b) order.

    Only reached when rounding made the chosen edges close a cycle.
    """
    lib = launch.lib
    weights = to_numpy(_edge_weights(X, core, a, b, metric, alpha, launch))
    ca = to_numpy(comp[a])
    cb = to_numpy(comp[b])
    order = np.lexsort((to_numpy(b), to_numpy(a), weights))
    parent, size = new_forest(n_components)
    keep = np.zeros(a.shape[0], dtype=bool)
    for e in order:
        keep[e] = union(parent, size, ca[e], cb[e])
    return lib.asarray(keep)


def mst(X, core, metric, alpha):
    """Minimum spanning tree of the mutual-reachability graph of X's rows, on the GPU.

    Parameters
    ----------
    X : CuPy array (n, d), float32 or float64, finite (NumPy under the CUDA
        simulator); made C-contiguous by a copy if it is not
    core : array (n,), floating, or None (plain distances)
    metric : int, a code from ``kernels.metric`` (EUCLIDEAN, SQEUCLIDEAN or COSINE)
    alpha : float > 0

    Returns
    -------
    edges : array (n - 1, 2) int64, i < j in each row
    weights : array (n - 1,) float64
        Sorted by (weight, i, j); in X's array library, computed on CuPy's
        current stream.
    """
    launch = launch_for(X)
    lib = launch.lib
    X = lib.ascontiguousarray(X)
    # The scan's Gram tiles see rows far from the origin moved near it; the weights
    # come from X itself.
    scanned = lib.ascontiguousarray(near_origin(lib, X, None, metric)[0])
    n = X.shape[0]
    if n <= 1:
        return lib.empty((0, 2), dtype=lib.int64), lib.empty(0, dtype=lib.float64)
    core = (
        lib.zeros(n, dtype=lib.float64) if core is None
        else lib.ascontiguousarray(core, dtype=lib.float64)
    )
    alpha = float(alpha)
    sq = lib.empty(n, dtype=lib.float64)
    inv = lib.empty(n, dtype=lib.float64)
    _row_norms_kernel[n_blocks(n, BLOCK_THREADS), BLOCK_THREADS, launch.stream](scanned, sq, inv)
    comp = lib.arange(n, dtype=lib.int64)
    n_components = n
    cand_w = lib.empty(n, dtype=lib.float64)
    cand_d = lib.empty(n, dtype=lib.float64)
    cand_j = lib.empty(n, dtype=lib.int64)
    sources, targets = [], []
    while n_components > 1:
        _candidates(scanned, sq, inv, core, comp, metric, alpha, cand_w, cand_d, cand_j,
                    launch)
        keys = _component_best_keys(comp, n_components, cand_w, cand_d, cand_j, launch)
        # Two components choosing the same edge give one key.
        keys = lib.unique(keys[keys < n * n])
        a, b = keys // n, keys % n
        labels = connected_components(n_components, comp[a], comp[b])
        merged = int(labels.max()) + 1
        if merged != n_components - keys.shape[0]:
            keep = _acyclic(X, core, comp, n_components, a, b, metric, alpha, launch)
            a, b = a[keep], b[keep]
            labels = connected_components(n_components, comp[a], comp[b])
            merged = int(labels.max()) + 1
        if merged == n_components:
            raise RuntimeError("Boruvka made no progress; the input must be finite.")
        sources.append(a)
        targets.append(b)
        comp = labels[comp]
        n_components = merged
    a = lib.concatenate(sources)
    b = lib.concatenate(targets)
    weights = _edge_weights(X, core, a, b, metric, alpha, launch)
    order = lib.lexsort(lib.stack([b.astype(lib.float64), a.astype(lib.float64), weights]))
    edges = lib.stack([a[order], b[order]], axis=1)
    return edges, weights[order]
