"""The OPTICS core distances and ordering loop for CUDA arrays.

The same steps as ``kernels/cpu/optics.py``, written against the array API
only and run in the array's own namespace (CuPy, or torch for torch CUDA
tensors), so no view or copy is needed. Each ordering step computes one row
of distances on the device, O(n d): coordinate differences, then ``vecdot``
(no :math:`|x|^2 - 2 x \\cdot y + |y|^2` cancellation), the operations the
core distances use too, so a point's core distance and its distance to its
k-th neighbour are one number and ties stay exact. A step costs a few kernel
launches and two host synchronisations whatever its size.

Nothing here needs a GPU: on host namespaces these functions are the
reference the compiled CPU loop is tested against.
"""

import array_api_compat
import numpy as np

from ..arrays import namespace, to_numpy
from ..cpu.optics import ROUND_SCALE
from ..metric import COSINE


def _round(values):
    """``np.around(values, 15)`` in any namespace: rint(x * 1e15) / 1e15, as NumPy does it."""
    xp = namespace(values)
    return xp.round(values * ROUND_SCALE) / ROUND_SCALE


def _distances(X, others, cosine, root):
    """Distance of each row of X to the matching row of ``others`` (or to its one row), float64."""
    xp = namespace(X)
    if cosine:
        return xp.clip(1.0 - xp.vecdot(X, others), 0.0, 2.0)
    diff = X - others
    dist = xp.vecdot(diff, diff)
    return xp.sqrt(dist) if root else dist


def core_distances(X, indices, max_eps, metric_code, root):
    """Distance from each row to the farthest of its listed neighbours, rounded and capped.

    Parameters
    ----------
    X : array (n, d), float32 or float64 (computed in float64); unit rows for the cosine metric
    indices : array (n, k), integer, k >= 1, same namespace and device as X
    max_eps : float
    metric_code, root : as for ``kernels/cpu/optics.optics_ordering``

    Returns
    -------
    array (n,), float64, in X's namespace: rounded to 15 decimals, inf above ``max_eps``
    """
    xp = namespace(X)
    device = array_api_compat.device(X)
    X = xp.astype(X, xp.float64, copy=False)
    cosine = metric_code == COSINE
    farthest = xp.zeros(X.shape[0], dtype=xp.float64, device=device)
    for c in range(indices.shape[1]):
        neighbors = xp.take(X, indices[:, c], axis=0)
        farthest = xp.maximum(farthest, _distances(X, neighbors, cosine, root))
    inf = xp.asarray(xp.inf, dtype=xp.float64, device=device)
    return _round(xp.where(farthest > max_eps, inf, farthest))


def optics_ordering(X, core, max_eps, metric_code, root):
    """OPTICS cluster order, reachability and predecessors, one distance row per step on X's device.

    Parameters
    ----------
    X : array (n, d), float32 or float64 (computed in float64); unit rows for the cosine metric
    core : array (n,), float64, same namespace and device as X; rounded, inf for non-core points
    max_eps : float
    metric_code, root : as for ``kernels/cpu/optics.optics_ordering``

    Returns
    -------
    ordering : array (n,), int64
    reachability : array (n,), float64, inf where never reached
    predecessor : array (n,), int64, -1 where never reached
        All in X's namespace and on X's device.
    """
    xp = namespace(X)
    device = array_api_compat.device(X)
    X = xp.astype(X, xp.float64, copy=False)
    n_samples = X.shape[0]
    cosine = metric_code == COSINE
    # One transfer: each step needs its point's core distance as a Python float.
    core_host = to_numpy(core).astype(np.float64)
    inf = xp.asarray(xp.inf, dtype=xp.float64, device=device)
    reachability = xp.full(n_samples, xp.inf, dtype=xp.float64, device=device)
    predecessor = xp.full(n_samples, -1, dtype=xp.int64, device=device)
    unprocessed = xp.ones(n_samples, dtype=xp.bool, device=device)
    ordering = np.empty(n_samples, dtype=np.int64)
    point = 0
    for step in range(n_samples):
        ordering[step] = point
        unprocessed[point] = False
        if step == n_samples - 1:
            break
        core_point = float(core_host[point])
        if core_point != np.inf:
            dist = _distances(X, X[point:point + 1, :], cosine, root)
            reach = _round(xp.maximum(dist, xp.full_like(dist, core_point)))
            better = unprocessed & (dist <= max_eps) & (reach < reachability)
            reachability = xp.where(better, reach, reachability)
            predecessor = xp.where(better, xp.full_like(predecessor, point), predecessor)
        key = xp.where(unprocessed, reachability, inf)
        point = int(xp.argmin(key))
        if not bool(unprocessed[point]):
            # Every unprocessed point is at inf: scikit-learn takes the lowest index.
            point = int(xp.argmax(xp.astype(unprocessed, xp.int8)))
    return xp.asarray(ordering, device=device), reachability, predecessor
