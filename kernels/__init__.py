"""gpucluster's custom kernels, installed as ``gpucluster.kernels``.

Each public function takes arrays of any supported kind and returns arrays of
the same namespace and device: host arrays (NumPy, torch CPU,
array_api_strict) go to the Numba CPU kernels through zero-copy NumPy views;
CUDA arrays (CuPy, torch CUDA) go to the numba.cuda kernels, launched on
CuPy's current stream. ``.cuda`` is imported only in the CUDA branch.
"""

import numpy as np

from .. import backend
from ._numba import METRIC_CODES
from .graph import connected_components, mst
from .neighbors import knn, radius_neighbors
from .ordering import (
    forest_roots,
    label_merges,
    leaf_labels,
    nn_chain,
    optics_core_distances,
    optics_ordering,
    spanning_forest,
)

__all__ = [
    "METRICS",
    "assign",
    "centroid_update",
    "connected_components",
    "forest_roots",
    "knn",
    "label_merges",
    "leaf_labels",
    "lloyd_step",
    "mst",
    "nn_chain",
    "optics_core_distances",
    "optics_ordering",
    "pairwise_sums",
    "radius_neighbors",
    "seeding_potentials",
    "seeding_update",
    "spanning_forest",
]

METRICS = tuple(METRIC_CODES)


def _metric_code(metric):
    try:
        return METRIC_CODES[metric]
    except KeyError:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.") from None


def _check_pair(X, centers):
    if X.ndim != 2 or centers.ndim != 2:
        raise ValueError(
            f"X and centers must be 2-D, got shapes {tuple(X.shape)} and {tuple(centers.shape)}."
        )
    if X.shape[1] != centers.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but centers have {centers.shape[1]}."
        )
    if centers.shape[0] < 1:
        raise ValueError("assign needs at least one centre.")


def assign(X, centers, metric="sqeuclidean"):
    """Nearest centre of every row of X, and the distance to it.

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    centers : array (n_clusters, n_features), same kind and device as X (cast to X's dtype)
    metric : {"sqeuclidean", "inner_product", "cosine"}
        The distance is the squared Euclidean distance, the *negated* inner
        product (so smaller is always nearer), or the cosine distance
        ``1 - cos(x, c)`` (1 when either vector is zero).

    Returns
    -------
    labels : array (n_samples,) int32, index of the nearest centre; ties go to the lowest index
    distances : array (n_samples,) in X's dtype
        Both in X's namespace and on X's device.
    """
    code = _metric_code(metric)
    _check_pair(X, centers)
    if backend.is_cuda_array(X):
        from .cuda import assign as cuda_assign

        Xc = backend.cuda_view(X)
        labels, distances = cuda_assign.assign(
            Xc, backend.cuda_view(centers).astype(Xc.dtype, copy=False), code
        )
        return backend.wrap_cuda_like(labels, X), backend.wrap_cuda_like(distances, X)
    from .cpu import assign as cpu_assign

    Xh = backend.host_view(X)
    Ch = np.ascontiguousarray(backend.host_view(centers), dtype=Xh.dtype)
    labels, distances = cpu_assign.assign(Xh, Ch, code)
    return backend.wrap_like(labels, X), backend.wrap_like(distances, X)


def centroid_update(X, labels, n_clusters, sample_weight=None):
    """Weighted per-cluster sums and total weights.

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64
    labels : array (n_samples,), integer, values in [0, n_clusters); negative values are skipped
    n_clusters : int
    sample_weight : array (n_samples,) or None (all ones)

    Returns
    -------
    sums : array (n_clusters, n_features) float64, :math:`\\sum_{l_i=j} w_i x_i`
    weights : array (n_clusters,) float64, :math:`\\sum_{l_i=j} w_i`
        Both in X's namespace and on X's device.
    """
    n_clusters = int(n_clusters)
    n = X.shape[0]
    if labels.shape[0] != n or (sample_weight is not None and sample_weight.shape[0] != n):
        raise ValueError(
            f"labels and sample_weight need {n} entries, got {labels.shape[0]} and "
            f"{n if sample_weight is None else sample_weight.shape[0]}."
        )
    largest = int(backend.namespace(labels).max(labels)) if n else -1
    if largest >= n_clusters:
        raise ValueError(f"labels must be < n_clusters={n_clusters}, got {largest}.")
    if backend.is_cuda_array(X):
        from .cuda import centroids as cuda_centroids

        weights = None if sample_weight is None else backend.cuda_view(sample_weight)
        sums, counts = cuda_centroids.centroid_update(
            backend.cuda_view(X), backend.cuda_view(labels), weights, n_clusters
        )
        return backend.wrap_cuda_like(sums, X), backend.wrap_cuda_like(counts, X)
    from .cpu import centroids as cpu_centroids

    Xh = backend.host_view(X)
    weights = (
        np.ones(n, dtype=np.float64) if sample_weight is None else backend.host_view(sample_weight)
    )
    sums, counts = cpu_centroids.centroid_update(Xh, backend.host_view(labels), weights, n_clusters)
    return backend.wrap_like(sums, X), backend.wrap_like(counts, X)


def lloyd_step(X, centers, sample_weight=None, metric="sqeuclidean"):
    """One Lloyd pass: nearest centres, and the weighted sums of the rows each centre gets.

    Equal to ``assign`` followed by ``centroid_update``; on the CPU one pass
    over X does both while each tile of rows is in cache.

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    centers : array (n_clusters, n_features), same kind and device as X
    sample_weight : array (n_samples,) or None (all ones)
    metric : {"sqeuclidean", "inner_product", "cosine"}, as for ``assign``

    Returns
    -------
    labels : array (n_samples,) int32
    distances : array (n_samples,) in X's dtype
    sums : array (n_clusters, n_features) float64
    weights : array (n_clusters,) float64
        All in X's namespace and on X's device.
    """
    code = _metric_code(metric)
    _check_pair(X, centers)
    if backend.is_cuda_array(X):
        labels, distances = assign(X, centers, metric)
        sums, weights = centroid_update(X, labels, centers.shape[0], sample_weight)
        return labels, distances, sums, weights
    from .cpu import assign as cpu_assign

    Xh = backend.host_view(X)
    Ch = np.ascontiguousarray(backend.host_view(centers), dtype=Xh.dtype)
    weights = (
        np.ones(Xh.shape[0], dtype=Xh.dtype) if sample_weight is None
        else backend.host_view(sample_weight)
    )
    if weights.shape[0] != Xh.shape[0]:
        raise ValueError(f"sample_weight needs {Xh.shape[0]} entries, got {weights.shape[0]}.")
    results = cpu_assign.lloyd_step(Xh, Ch, weights, code)
    return tuple(backend.wrap_like(r, X) for r in results)


_PAIRWISE_SUMS_METRICS = {
    "euclidean": (METRIC_CODES["sqeuclidean"], True),
    "sqeuclidean": (METRIC_CODES["sqeuclidean"], False),
    "cosine": (METRIC_CODES["cosine"], False),
}


def pairwise_sums(X, labels, n_labels, metric="euclidean", *, start=0, stop=None):
    """Per-label sums of the distances from rows ``start:stop`` of X to every row of X.

    .. math:: S_{it} = \\sum_{j:\\, l_j = t} \\delta(x_i, x_j),
              \\qquad start \\le i < stop,\\; 0 \\le t < n\\_labels

    The O(n^2) hot step of the silhouette. :math:`\\delta(x_i, x_i)` is exactly
    0; rows with a negative label add to no column (they still get their own
    sums).

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    labels : array (n_samples,), integer, values in [-1, n_labels); same kind and device as X
    n_labels : int
    metric : {"euclidean", "sqeuclidean", "cosine"}
        The cosine distance is ``1 - cos(x, y)``, 1 when either row is zero.
    start, stop : int
        The block of query rows (default: all rows). Memory is
        O((stop - start) * n_labels) on the CPU; on CUDA each chunk of query
        rows also holds its (chunk, n_samples) Gram tile, chunks sized from
        the free device memory.

    Returns
    -------
    sums : array (stop - start, n_labels) float64, in X's namespace and on X's device
    """
    try:
        code, root = _PAIRWISE_SUMS_METRICS[metric]
    except (KeyError, TypeError):
        raise ValueError(
            f"metric must be one of {tuple(_PAIRWISE_SUMS_METRICS)}, got {metric!r}."
        ) from None
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {tuple(X.shape)}.")
    n = X.shape[0]
    stop = n if stop is None else int(stop)
    start = int(start)
    if not 0 <= start <= stop <= n:
        raise ValueError(f"Need 0 <= start <= stop <= {n}, got start={start}, stop={stop}.")
    n_labels = int(n_labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}.")
    largest = int(backend.namespace(labels).max(labels)) if n else -1
    if largest >= n_labels:
        raise ValueError(f"labels must be < n_labels={n_labels}, got {largest}.")
    if backend.is_cuda_array(X):
        from .cuda import silhouette as cuda_silhouette

        sums = cuda_silhouette.pairwise_sums(
            backend.cuda_view(X), backend.cuda_view(labels), n_labels, code, root, start, stop
        )
        return backend.wrap_cuda_like(sums, X)
    from .cpu import silhouette as cpu_silhouette

    Xh = backend.host_view(X)
    lab = backend.host_view(labels)
    sums = cpu_silhouette.pairwise_sums(Xh, lab, n_labels, code, root, start, stop)
    return backend.wrap_like(sums, X)


def _check_seeding(X, x_sq_norms, closest_sq, centers, what):
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {tuple(X.shape)}.")
    n, d = X.shape
    for name, a in (("x_sq_norms", x_sq_norms), ("closest_sq", closest_sq)):
        if tuple(a.shape) != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {tuple(a.shape)}.")
    if centers.ndim < 1 or centers.shape[-1] != d:
        raise ValueError(f"X has {d} features but {what} has shape {tuple(centers.shape)}.")


def seeding_potentials(X, x_sq_norms, candidates, closest_sq, sample_weight=None, *, out=None,
                       candidate_sq_norms=None):
    """k-means++ potential of each candidate centre, in one pass over X.

    .. math:: \\phi_j = \\sum_i w_i \\min(D_i, |x_i - c_j|^2)

    where :math:`D_i` (``closest_sq``) is the squared distance of row i to
    its closest centre so far. No (n_samples, n_candidates) array is made.

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    x_sq_norms : array (n_samples,), squared row norms of X (the CPU kernel
        rebuilds distances from them; the CUDA kernel sums squared differences)
    candidates : array (n_candidates, n_features), cast to X's dtype
    closest_sq : array (n_samples,), cast to X's dtype
    sample_weight : array (n_samples,) or None (all ones)
    out : array (n_candidates, n_samples) or None
        C-contiguous, in X's dtype, namespace and device. When given, it
        receives :math:`\\min(D_i, |x_i - c_j|^2)` row by row, so the
        winner's row is the next ``closest_sq`` without another pass over X
        (``seeding_update``).
    candidate_sq_norms : array (n_candidates,) or None
        Squared norms of the candidates, computed when None. Passing
        ``x_sq_norms`` at the candidates' rows gives the CPU kernel norms of
        one rounding (k-means++ does, so its choices match the unfused
        computation).

    Returns
    -------
    potentials : array (n_candidates,) float64, in X's namespace and on X's device
    """
    _check_seeding(X, x_sq_norms, closest_sq, candidates, "candidates")
    if candidates.ndim != 2:
        raise ValueError(f"candidates must be 2-D, got shape {tuple(candidates.shape)}.")
    n = X.shape[0]
    if sample_weight is not None and tuple(sample_weight.shape) != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {tuple(sample_weight.shape)}.")
    t = candidates.shape[0]
    if candidate_sq_norms is not None and tuple(candidate_sq_norms.shape) != (t,):
        raise ValueError(
            f"candidate_sq_norms must have shape ({t},), got {tuple(candidate_sq_norms.shape)}."
        )
    if out is not None and tuple(out.shape) != (candidates.shape[0], n):
        raise ValueError(
            f"out must have shape ({candidates.shape[0]}, {n}), got {tuple(out.shape)}."
        )
    if backend.is_cuda_array(X):
        from .cuda import seeding as cuda_seeding

        Xc = backend.cuda_view(X)
        lib = backend.namespace(Xc)
        weights = (
            lib.ones(n, dtype=lib.float64) if sample_weight is None
            else backend.cuda_view(sample_weight).astype(lib.float64, copy=False)
        )
        out_c = None if out is None else backend.cuda_view(out)
        if out_c is not None and (out_c.dtype != Xc.dtype or not out_c.flags.c_contiguous):
            raise TypeError(f"out must be C-contiguous with X's dtype {Xc.dtype}.")
        potentials = cuda_seeding.potentials(
            Xc, weights, backend.cuda_view(candidates).astype(Xc.dtype, copy=False),
            backend.cuda_view(closest_sq).astype(Xc.dtype, copy=False), out_c,
        )
        return backend.wrap_cuda_like(potentials, X)
    from .cpu import seeding as cpu_seeding

    Xh = backend.host_view(X)
    weights = (
        np.ones(n, dtype=np.float64) if sample_weight is None
        else np.ascontiguousarray(backend.host_view(sample_weight), dtype=np.float64)
    )
    out_h = None if out is None else backend.to_numpy(out)
    if out_h is not None and (
        out_h.dtype != Xh.dtype or not out_h.flags.c_contiguous or not out_h.flags.writeable
    ):
        raise TypeError(f"out must be writable, C-contiguous, with X's dtype {Xh.dtype}.")
    potentials = cpu_seeding.potentials(
        Xh,
        np.ascontiguousarray(backend.host_view(x_sq_norms), dtype=Xh.dtype),
        weights,
        np.ascontiguousarray(backend.host_view(candidates), dtype=Xh.dtype),
        np.ascontiguousarray(backend.host_view(closest_sq), dtype=Xh.dtype),
        out_h,
        None if candidate_sq_norms is None
        else np.ascontiguousarray(backend.host_view(candidate_sq_norms), dtype=Xh.dtype),
    )
    return backend.wrap_like(potentials, X)


def seeding_update(X, x_sq_norms, center, closest_sq, *, center_sq_norm=None):
    """Lower each row's closest squared distance to a new centre: min(D_i, |x_i - c|^2).

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    x_sq_norms : array (n_samples,), squared row norms of X (used on the CPU)
    center : array (n_features,), cast to X's dtype
    closest_sq : array (n_samples,) in X's dtype; ``inf`` where no centre is chosen yet
    center_sq_norm : float, 0-d array or None
        The centre's squared norm (used on the CPU), computed when None.

    Returns
    -------
    closest_sq : array (n_samples,) in X's dtype, namespace and device.
        Updated in place (the same memory is returned) unless the host
        view of an array-API array is read-only; always use the returned one.
    """
    _check_seeding(X, x_sq_norms, closest_sq, center, "center")
    if center.ndim != 1:
        raise ValueError(f"center must be 1-D, got shape {tuple(center.shape)}.")
    if backend.is_cuda_array(X):
        from .cuda import seeding as cuda_seeding

        Xc = backend.cuda_view(X)
        closest = backend.cuda_view(closest_sq)
        if closest.dtype != Xc.dtype:
            raise TypeError(f"closest_sq must have X's dtype {Xc.dtype}, got {closest.dtype}.")
        cuda_seeding.update(Xc, backend.cuda_view(center).astype(Xc.dtype, copy=False), closest)
        return backend.wrap_cuda_like(closest, closest_sq)
    from .cpu import seeding as cpu_seeding

    Xh = backend.host_view(X)
    closest = backend.host_view(closest_sq)
    if closest.dtype != Xh.dtype:
        raise TypeError(f"closest_sq must have X's dtype {Xh.dtype}, got {closest.dtype}.")
    if not closest.flags.writeable:  # a read-only DLPack view of an array-API array
        closest = closest.copy()
    cpu_seeding.update(
        Xh,
        np.ascontiguousarray(backend.host_view(x_sq_norms), dtype=Xh.dtype),
        np.ascontiguousarray(backend.host_view(center), dtype=Xh.dtype),
        closest,
        None if center_sq_norm is None else float(backend.to_numpy(center_sq_norm)),
    )
    return backend.wrap_like(closest, closest_sq)
