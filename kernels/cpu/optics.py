"""The OPTICS ordering loop on the CPU, in one compiled function.

scikit-learn's ``compute_optics_graph`` loop, step for step: take the
unprocessed point with the smallest reachability (ties to the lowest index, as
``np.argmin`` over the unprocessed points), and when it is a core point lower
the reachability of every unprocessed point within ``max_eps`` to
:math:`\\max(\\mathrm{core}(p), \\delta(p, q))`, rounded to 15 decimals as
scikit-learn rounds it, recording ``p`` as the predecessor.

The unprocessed rows are kept packed at the front of a float64 copy of X (a
processed row is swapped out with the last one), so each step is one
contiguous pass over the remaining rows that updates their reachability and
finds the next point at once: O(m d) for m unprocessed rows, O(n^2 d) in all,
with no Python between steps. Long scans are split into blocks that run in
parallel, each returning its best row; the blocks' bests are merged with the
same tie rule, so the result does not depend on the number of threads. Distances are summed directly in float64 (no
:math:`|x|^2 - 2 x \\cdot y + |y|^2` cancellation), as SciPy's ``cdist``,
which scikit-learn's OPTICS calls for its default ``"minkowski"`` metric.
Reference: ``kernels/cuda/optics.py`` (the same loop in array-API code,
used for CUDA arrays). Called through ``gpucluster.kernels.optics_ordering``
and ``gpucluster.kernels.optics_core_distances``.
"""

import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE
from ..metric import COSINE

# scikit-learn rounds core distances and reachabilities to the decimal
# precision of float64 (np.finfo(np.float64).precision) so that ties do not
# depend on the last bits; np.around does it as rint(x * 10**15) / 10**15.
ROUND_SCALE = 1e15

# A step's scan runs in parallel blocks of at least this many multiply-adds
# (and MAX_BLOCKS at most). Every step ends at a barrier: at n=20,000 d=8 on
# 2 idle cores the loop took 0.64 s in blocks of 32k and 0.97 s on one
# thread, but 55 s in blocks of 32k while another process used a core
# (benchmarks/NOTES.md). Blocks of 1M multiply-adds keep the barrier cost
# small against each block's work, so contention costs little; below that
# the scan runs on one thread. (scikit-learn's OPTICS: 21 s.)
PARALLEL_MIN_BLOCK_WORK = 1 << 20
MAX_BLOCKS = 64


@njit(cache=NUMBA_CACHE)
def round_like_numpy(x):
    """``np.around(x, 15)`` for one float64, with NumPy's exact operations."""
    return np.rint(x * ROUND_SCALE) / ROUND_SCALE


@njit(cache=NUMBA_CACHE)
def _scan(packed, packed_reach, ids, predecessor, current, lo, hi, point, core, update,
          max_eps, cosine, root, n):
    """Update the reachability of packed rows lo:hi from ``point``; return the row of the smallest.

    Ties go to the lowest point id; -1 when lo == hi.
    """
    d = packed.shape[1]
    best = -1
    best_value = np.inf
    best_id = n
    for j in range(lo, hi):
        if update:
            s = 0.0
            if cosine:
                for t in range(d):
                    s += current[t] * packed[j, t]
                dist = min(max(1.0 - s, 0.0), 2.0)
            else:
                for t in range(d):
                    diff = current[t] - packed[j, t]
                    s += diff * diff
                dist = np.sqrt(s) if root else s
            if dist <= max_eps:
                reach = round_like_numpy(max(dist, core))
                if reach < packed_reach[j]:
                    packed_reach[j] = reach
                    predecessor[ids[j]] = point
        value = packed_reach[j]
        if value < best_value or (value == best_value and ids[j] < best_id):
            best = j
            best_value = value
            best_id = ids[j]
    return best


@njit(parallel=True, cache=NUMBA_CACHE)
def _scan_blocks(packed, packed_reach, ids, predecessor, current, m, point, core, update,
                 max_eps, cosine, root, n_blocks, block_value, block_pos):
    """``_scan`` over ``n_blocks`` blocks of rows 0:m in parallel; each block's best row and value."""
    size = (m + n_blocks - 1) // n_blocks
    n = predecessor.shape[0]
    for b in prange(n_blocks):
        lo = b * size
        hi = min(m, lo + size)
        j = _scan(packed, packed_reach, ids, predecessor, current, lo, hi, point, core, update,
                  max_eps, cosine, root, n)
        block_pos[b] = j
        block_value[b] = packed_reach[j] if j >= 0 else np.inf


@njit(cache=NUMBA_CACHE)
def optics_ordering(X, core_distances, max_eps, metric_code, root):
    """OPTICS cluster order, reachability and predecessors of the rows of X.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous
        Unit rows for the cosine metric (the caller normalises them).
    core_distances : ndarray (n,), float64
        Already rounded, and inf for points that are never core.
    max_eps : float
        Only points within this distance are reached.
    metric_code : int
        ``SQEUCLIDEAN`` (with ``root`` for the Euclidean distance) or
        ``COSINE`` (:math:`1 - x \\cdot y`, clipped to [0, 2] as
        scikit-learn's ``cosine_distances``).
    root : bool
        Take the square root of the squared Euclidean distance.

    Returns
    -------
    ordering : ndarray (n,), int64
    reachability : ndarray (n,), float64, inf where never reached
    predecessor : ndarray (n,), int64, -1 where never reached
    """
    n, d = X.shape
    packed = np.empty((n, d), dtype=np.float64)
    for i in range(n):
        for t in range(d):
            packed[i, t] = X[i, t]
    ids = np.arange(n)
    packed_reach = np.full(n, np.inf)
    reachability = np.full(n, np.inf)
    predecessor = np.full(n, -1, dtype=np.int64)
    ordering = np.empty(n, dtype=np.int64)
    current = np.empty(d, dtype=np.float64)
    cosine = metric_code == COSINE
    block_value = np.empty(MAX_BLOCKS, dtype=np.float64)
    block_pos = np.empty(MAX_BLOCKS, dtype=np.int64)
    block_rows = max(256, PARALLEL_MIN_BLOCK_WORK // max(d, 1))

    m = n
    pos = 0  # every reachability starts at inf, so the first point is row 0
    for step in range(n):
        point = ids[pos]
        ordering[step] = point
        reachability[point] = packed_reach[pos]
        for t in range(d):
            current[t] = packed[pos, t]
        m -= 1
        ids[pos] = ids[m]
        packed_reach[pos] = packed_reach[m]
        for t in range(d):
            packed[pos, t] = packed[m, t]

        core = core_distances[point]
        update = core != np.inf
        if m >= 2 * block_rows:
            n_blocks = min(MAX_BLOCKS, m // block_rows)
            _scan_blocks(packed, packed_reach, ids, predecessor, current, m, point, core,
                         update, max_eps, cosine, root, n_blocks, block_value, block_pos)
            best = -1
            best_value = np.inf
            best_id = n
            for b in range(n_blocks):
                j = block_pos[b]
                if j >= 0 and (block_value[b] < best_value
                               or (block_value[b] == best_value and ids[j] < best_id)):
                    best = j
                    best_value = block_value[b]
                    best_id = ids[j]
        else:
            best = _scan(packed, packed_reach, ids, predecessor, current, 0, m, point, core,
                         update, max_eps, cosine, root, n)
        pos = best
    return ordering, reachability, predecessor


@njit(cache=NUMBA_CACHE)
def _pair_distance(X, i, j, cosine, root):
    """The distance between rows i and j of X, summed in float64 as ``_scan`` sums it."""
    s = 0.0
    if cosine:
        for t in range(X.shape[1]):
            s += np.float64(X[i, t]) * np.float64(X[j, t])
        return min(max(1.0 - s, 0.0), 2.0)
    for t in range(X.shape[1]):
        diff = np.float64(X[i, t]) - np.float64(X[j, t])
        s += diff * diff
    return np.sqrt(s) if root else s


@njit(cache=NUMBA_CACHE)
def core_distances(X, indices, max_eps, metric_code, root):
    """Distance from each row of X to the farthest of its listed neighbours, rounded and capped.

    With the k nearest neighbours of each row (from the kNN kernel), this is
    the OPTICS core distance, recomputed with exactly the operations of
    ``optics_ordering`` so that a point's core distance and its distance to
    its own k-th neighbour are the same number, as they are in
    scikit-learn, and ties in the reachability stay exact ties. As
    scikit-learn does, it is inf above ``max_eps`` and otherwise rounded to
    15 decimals.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64 (unit rows for the cosine metric)
    indices : ndarray (n, k), int64, k >= 1
    max_eps : float
    metric_code, root : as for ``optics_ordering``

    Returns
    -------
    ndarray (n,), float64
    """
    n = X.shape[0]
    cosine = metric_code == COSINE
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        farthest = 0.0
        for c in range(indices.shape[1]):
            farthest = max(farthest, _pair_distance(X, i, indices[i, c], cosine, root))
        out[i] = np.inf if farthest > max_eps else round_like_numpy(farthest)
    return out


# --------------------------------------------------------------------------
# The same loop restricted to a neighbour graph


@njit(cache=NUMBA_CACHE)
def _heap_push(keys, ids, size, key, i):
    """Push (key, i) on the binary min-heap held in keys[:size], ids[:size]; the new size."""
    pos = size
    keys[pos] = key
    ids[pos] = i
    while pos > 0:
        parent = (pos - 1) // 2
        if keys[parent] < keys[pos] or (keys[parent] == keys[pos] and ids[parent] <= ids[pos]):
            break
        keys[parent], keys[pos] = keys[pos], keys[parent]
        ids[parent], ids[pos] = ids[pos], ids[parent]
        pos = parent
    return size + 1


@njit(cache=NUMBA_CACHE)
def _heap_pop(keys, ids, size):
    """Drop the heap's top (the caller has read keys[0], ids[0]); the new size."""
    size -= 1
    keys[0] = keys[size]
    ids[0] = ids[size]
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        right = child + 1
        if right < size and (keys[right] < keys[child]
                             or (keys[right] == keys[child] and ids[right] < ids[child])):
            child = right
        if keys[pos] < keys[child] or (keys[pos] == keys[child] and ids[pos] <= ids[child]):
            break
        keys[pos], keys[child] = keys[child], keys[pos]
        ids[pos], ids[child] = ids[child], ids[pos]
        pos = child
    return size


@njit(cache=NUMBA_CACHE)
def _graph_ordering_loop(X, core_distances, indptr, neighbours, max_eps, cosine, root):
    n = X.shape[0]
    reachability = np.full(n, np.inf)
    predecessor = np.full(n, -1, dtype=np.int64)
    ordering = np.empty(n, dtype=np.int64)
    processed = np.zeros(n, dtype=np.bool_)
    # Every push lowers one point's reachability: at most one per listed edge.
    keys = np.empty(neighbours.shape[0] + 1, dtype=np.float64)
    heap_ids = np.empty(neighbours.shape[0] + 1, dtype=np.int64)
    size = 0
    next_unreached = 0
    for step in range(n):
        point = -1
        while size > 0:
            key = keys[0]
            i = heap_ids[0]
            size = _heap_pop(keys, heap_ids, size)
            if not processed[i] and key == reachability[i]:
                point = i
                break
        if point < 0:
            # Everything left is unreached (inf): the lowest index, as argmin does.
            while processed[next_unreached]:
                next_unreached += 1
            point = next_unreached
        processed[point] = True
        ordering[step] = point
        core = core_distances[point]
        if core == np.inf:
            continue
        for e in range(indptr[point], indptr[point + 1]):
            q = neighbours[e]
            if processed[q]:
                continue
            dist = _pair_distance(X, point, q, cosine, root)
            if dist <= max_eps:
                reach = round_like_numpy(max(dist, core))
                if reach < reachability[q]:
                    reachability[q] = reach
                    predecessor[q] = point
                    size = _heap_push(keys, heap_ids, size, reach, q)
    return ordering, reachability, predecessor


def graph_ordering(X, core_distances, indices, max_eps, metric_code, root):
    """``optics_ordering`` with each point reaching only its neighbours in a graph.

    The graph's edges (row i to every ``indices[i, c] >= 0``) are taken in both
    directions. The unprocessed point of smallest reachability comes from a
    binary heap (ties to the lowest index, as in the full loop), so the loop
    costs O(n k (d + log n)) instead of O(n^2 d); with every pair in the
    graph it gives the full loop's result. Arguments and results as
    ``optics_ordering``'s, plus ``indices`` (n, k) int64.
    """
    n = X.shape[0]
    k = indices.shape[1]
    sources = np.repeat(np.arange(n, dtype=np.int64), k)
    targets = indices.reshape(-1)
    keep = (targets >= 0) & (targets != sources)
    sources, targets = sources[keep], targets[keep]
    both_from = np.concatenate([sources, targets])
    both_to = np.concatenate([targets, sources])
    order = np.argsort(both_from, kind="stable")
    neighbours = np.ascontiguousarray(both_to[order])
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(both_from, minlength=n), out=indptr[1:])
    return _graph_ordering_loop(X, core_distances, indptr, neighbours, float(max_eps),
                                metric_code == COSINE, root)
