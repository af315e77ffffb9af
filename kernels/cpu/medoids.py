"""k-medoids on the CPU: the BUILD gains, the nearest two medoids, and the FasterPAM sweep.

``build_gains`` is PAM's BUILD step for a block of candidate rows:

.. math:: g_i = \\sum_j \\max(0, D_j - d(x_i, x_j))

where :math:`D_j` is the distance of sample j to its nearest medoid so far
(rows in parallel).

``medoid_assignment`` and ``fasterpam_sweep`` are FasterPAM (Schubert and
Rousseeuw, "Fast and eager k-medoids clustering: O(k) runtime improvement of
the PAM, CLARA, and CLARANS algorithms", Information Systems 101, 2021),
step for step as the ``kmedoids`` package's Rust code (``fasterpam.rs``):
every sample keeps its nearest and second-nearest medoid and their
distances; the loss of removing each medoid is kept in O(k) memory; each
candidate costs one O(n) pass over its row of distances, and a swap that
lowers the loss is made at once (eagerly), not after a search over all
swaps. The sweep is sequential by nature (each swap changes what the next
candidate sees), so it runs on the host, one candidate row after another.
Reference: ``tests/kernels/reference_medoids.py``.
"""

import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE


@njit(parallel=True, cache=NUMBA_CACHE)
def build_gains(rows, nearest):
    """g_i = sum_j max(0, nearest_j - rows[i, j]) for each row of ``rows`` (b, n); float64 (b,)."""
    b, n = rows.shape
    out = np.empty(b, dtype=np.float64)
    for i in prange(b):
        total = 0.0
        for j in range(n):
            gap = nearest[j] - rows[i, j]
            if gap > 0.0:
                total += gap
        out[i] = total
    return out


@njit(parallel=True, cache=NUMBA_CACHE)
def medoid_assignment(medoid_distances, medoids):
    """Nearest and second-nearest medoid of every sample, from its distances to the medoids.

    Parameters
    ----------
    medoid_distances : ndarray (n, k) float64, distance of sample o to medoid m
    medoids : ndarray (k,) int64, the samples that are medoids

    Returns
    -------
    nearest : ndarray (n, 2) int64, positions in ``medoids`` of the nearest and
        second-nearest medoid (-1 for the second when k = 1)
    nearest_distances : ndarray (n, 2) float64, their distances (inf for a missing second)

    A medoid is always its own nearest; otherwise ties go to the earlier
    medoid, as in the ``kmedoids`` package.
    """
    n, k = medoid_distances.shape
    nearest = np.empty((n, 2), dtype=np.int64)
    nearest_distances = np.empty((n, 2), dtype=np.float64)
    for o in prange(n):
        near, near_d = 0, medoid_distances[o, 0]
        second, second_d = -1, np.inf
        for m in range(1, k):
            d = medoid_distances[o, m]
            if d < near_d or o == medoids[m]:
                second, second_d = near, near_d
                near, near_d = m, d
            elif second == -1 or d < second_d:
                second, second_d = m, d
        nearest[o, 0] = near
        nearest[o, 1] = second
        nearest_distances[o, 0] = near_d
        nearest_distances[o, 1] = second_d
    return nearest, nearest_distances


@njit(cache=NUMBA_CACHE)
def _removal_loss(nearest, nearest_distances, out):
    """out[m] = sum over the samples nearest to medoid m of (second distance - nearest distance)."""
    out[:] = 0.0
    for o in range(nearest.shape[0]):
        out[nearest[o, 0]] += nearest_distances[o, 1] - nearest_distances[o, 0]


@njit(cache=NUMBA_CACHE)
def _best_swap(row, removal, nearest, nearest_distances, change):
    """The medoid whose swap with the candidate (distances ``row``) lowers the loss most.

    Returns ``(position, loss change)``; ``change`` is scratch space of k values.
    """
    change[:] = removal
    shared = 0.0
    for o in range(row.shape[0]):
        d = row[o]
        near_d = nearest_distances[o, 0]
        second_d = nearest_distances[o, 1]
        if d < near_d:
            # o moves to the candidate whatever medoid goes: a gain shared by all,
            # and o no longer counts in its nearest medoid's removal loss.
            shared += d - near_d
            change[nearest[o, 0]] += near_d - second_d
        elif d < second_d:
            # Removing o's nearest now sends it to the candidate, not to its second.
            change[nearest[o, 0]] += d - second_d
    best = 0
    for m in range(1, change.shape[0]):
        if change[m] < change[best]:
            best = m
    return best, change[best] + shared


@njit(cache=NUMBA_CACHE)
def _second_nearest(o, near, b, d_ob, medoid_distances, nearest, nearest_distances):
    """Find o's second-nearest medoid again, knowing it is ``b`` at ``d_ob`` or another one."""
    second, second_d = b, d_ob
    for m in range(medoid_distances.shape[1]):
        if m == near or m == b:
            continue
        d = medoid_distances[o, m]
        if d < second_d:
            second, second_d = m, d
    nearest[o, 1] = second
    nearest_distances[o, 1] = second_d


@njit(cache=NUMBA_CACHE)
def _swap(row, j, b, medoids, medoid_distances, nearest, nearest_distances):
    """Make sample j (distances ``row``) medoid number b; update every sample's two nearest."""
    medoids[b] = j
    n = row.shape[0]
    for o in range(n):
        medoid_distances[o, b] = row[o]
    for o in range(n):
        if o == j:
            if nearest[o, 0] != b:
                nearest[o, 1] = nearest[o, 0]
                nearest_distances[o, 1] = nearest_distances[o, 0]
            nearest[o, 0] = b
            nearest_distances[o, 0] = 0.0
            continue
        d = np.float64(row[o])
        if nearest[o, 0] == b:  # o's nearest medoid is gone
            if d < nearest_distances[o, 1]:
                nearest_distances[o, 0] = d
            else:
                nearest[o, 0] = nearest[o, 1]
                nearest_distances[o, 0] = nearest_distances[o, 1]
                _second_nearest(o, nearest[o, 0], b, d, medoid_distances, nearest,
                                nearest_distances)
        elif d < nearest_distances[o, 0]:
            nearest[o, 1] = nearest[o, 0]
            nearest_distances[o, 1] = nearest_distances[o, 0]
            nearest[o, 0] = b
            nearest_distances[o, 0] = d
        elif d < nearest_distances[o, 1]:
            nearest[o, 1] = b
            nearest_distances[o, 1] = d
        elif nearest[o, 1] == b:  # o's second nearest is gone
            _second_nearest(o, nearest[o, 0], b, d, medoid_distances, nearest,
                            nearest_distances)


@njit(cache=NUMBA_CACHE)
def fasterpam_sweep(rows, start, medoids, medoid_distances, nearest, nearest_distances):
    """Try samples ``start, start + 1, ...`` in turn as medoids; make every improving swap at once.

    Parameters
    ----------
    rows : ndarray (b, n), float32 or float64; row r holds the distances of
        sample ``start + r`` to every sample (symmetric distances)
    start : int
    medoids : ndarray (k,) int64, updated in place
    medoid_distances : ndarray (n, k) float64, distance of each sample to each
        medoid, updated in place
    nearest, nearest_distances : ndarray (n, 2) int64 and float64, from
        ``medoid_assignment``, updated in place

    Returns
    -------
    swapped : ndarray (n_swaps,) int64, the samples made medoids, in order
    """
    b = rows.shape[0]
    k = medoids.shape[0]
    removal = np.empty(k, dtype=np.float64)
    change = np.empty(k, dtype=np.float64)
    _removal_loss(nearest, nearest_distances, removal)
    swapped = np.empty(b, dtype=np.int64)
    n_swapped = 0
    for r in range(b):
        j = start + r
        if medoids[nearest[j, 0]] == j:
            continue  # already a medoid
        best, delta = _best_swap(rows[r], removal, nearest, nearest_distances, change)
        if delta >= 0.0:
            continue
        _swap(rows[r], j, best, medoids, medoid_distances, nearest, nearest_distances)
        _removal_loss(nearest, nearest_distances, removal)
        swapped[n_swapped] = j
        n_swapped += 1
    return swapped[:n_swapped].copy()
