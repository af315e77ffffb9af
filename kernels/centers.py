"""Nearest-centre kernels: ``assign``, ``centroid_update``, ``lloyd_step`` and the k-means++ pair.

Each is declared once with ``@kernel`` (see ``_dispatch.py``): its body
checks the arguments and prepares them for the implementations in
``cpu/assign.py``, ``cpu/centroids.py``, ``cpu/seeding.py`` and their
``cuda/`` namesakes. References: ``tests/kernels/reference.py`` and
``tests/kernels/reference_seeding.py``.
"""

import numpy as np

from ._dispatch import kernel
from .arrays import array_module
from .metric import metric_code

# The distances of the nearest-centre kernels (codes SQEUCLIDEAN, INNER_PRODUCT, COSINE).
METRICS = ("sqeuclidean", "inner_product", "cosine")


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


def _check_labels(labels, n, n_labels, what):
    largest = int(labels.max()) if n else -1
    if largest >= n_labels:
        raise ValueError(f"labels must be < {what}={n_labels}, got {largest}.")


def _check_norms(X, x_sq_norms):
    """``x_sq_norms`` as float64 after checking its shape, or None."""
    if x_sq_norms is None:
        return None
    if tuple(x_sq_norms.shape) != (X.shape[0],):
        raise ValueError(
            f"x_sq_norms must have shape ({X.shape[0]},), got {tuple(x_sq_norms.shape)}."
        )
    return x_sq_norms.astype(np.float64, copy=False)


@kernel(cpu="assign.assign", cuda="assign.assign")
def assign(X, centers, metric="sqeuclidean", *, x_sq_norms=None, with_distances=True):
    """Nearest centre of every row of X, and the distance to it.

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    centers : array (n_clusters, n_features), same kind and device as X (cast to X's dtype)
    metric : {"sqeuclidean", "inner_product", "cosine"}
        The distance is the squared Euclidean distance, the *negated* inner
        product (so smaller is always nearer), or the cosine distance
        ``1 - cos(x, c)`` (1 when either vector is zero).
    x_sq_norms : array (n_samples,) or None
        Squared row norms of X, which the squared Euclidean and cosine
        distances are rebuilt from; a Lloyd loop computes them once per fit
        and passes them every iteration. None computes them here. The CUDA
        kernel's fused path (up to 64 features) computes the differences
        directly and does not read them.
    with_distances : bool
        False: labels alone, for a caller that reads no distances (the CPU
        kernel then writes none and reads no norms; on CUDA they are still
        computed, and not returned).

    Returns
    -------
    labels : array (n_samples,) int32, index of the nearest centre; ties go to the lowest index
    distances : array (n_samples,) in X's dtype, or (0,) without ``with_distances``
        Both in X's namespace and on X's device.
    """
    code = metric_code(metric, METRICS)
    _check_pair(X, centers)
    return (X, centers.astype(X.dtype, copy=False), code, _check_norms(X, x_sq_norms),
            bool(with_distances))


@kernel(cpu="centroids.centroid_update", cuda="centroids.centroid_update")
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
    _check_labels(labels, n, n_clusters, "n_clusters")
    return X, labels, sample_weight, n_clusters


@kernel(cpu="assign.lloyd_step", cuda="assign.lloyd_step")
def lloyd_step(X, centers, sample_weight=None, metric="sqeuclidean", *, x_sq_norms=None,
               with_distances=True):
    """One Lloyd pass: nearest centres, and the weighted sums of the rows each centre gets.

    Equal to ``assign`` followed by ``centroid_update``; on the CPU one pass
    over X does both while each tile of rows is in cache.

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    centers : array (n_clusters, n_features), same kind and device as X
    sample_weight : array (n_samples,) or None (all ones)
    metric : {"sqeuclidean", "inner_product", "cosine"}, as for ``assign``
    x_sq_norms : array (n_samples,) or None, as for ``assign``
    with_distances : bool
        False: the distances are not written (an empty array stands in their
        place), for a Lloyd loop that reads none: a third of a pass at d=5,
        k=8 on the CPU (benchmarks/NOTES.md, "lloyd_step at d=5, k=8, again").

    Returns
    -------
    labels : array (n_samples,) int32
    distances : array (n_samples,) in X's dtype, or (0,) without ``with_distances``
    sums : array (n_clusters, n_features) float64
    weights : array (n_clusters,) float64
        All in X's namespace and on X's device.
    """
    code = metric_code(metric, METRICS)
    _check_pair(X, centers)
    if sample_weight is not None and sample_weight.shape[0] != X.shape[0]:
        raise ValueError(
            f"sample_weight needs {X.shape[0]} entries, got {sample_weight.shape[0]}."
        )
    return (X, centers.astype(X.dtype, copy=False), sample_weight, code,
            _check_norms(X, x_sq_norms), bool(with_distances))


def _check_seeding(X, x_sq_norms, closest_sq, centers, what):
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {tuple(X.shape)}.")
    n, d = X.shape
    for name, a in (("x_sq_norms", x_sq_norms), ("closest_sq", closest_sq)):
        if tuple(a.shape) != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {tuple(a.shape)}.")
    if centers.ndim < 1 or centers.shape[-1] != d:
        raise ValueError(f"X has {d} features but {what} has shape {tuple(centers.shape)}.")


def _as_scalar(value):
    """A Python float from a number or a one-element array view."""
    return float(value.reshape(())) if hasattr(value, "reshape") else float(value)


@kernel(cpu="seeding.potentials", cuda="seeding.potentials", in_place=("out",))
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
        C-contiguous and writable, in X's dtype, namespace and device. When
        given, it receives :math:`\\min(D_i, |x_i - c_j|^2)` row by row, so
        the winner's row is the next ``closest_sq`` without another pass
        over X (``seeding_update``).
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
    n, t = X.shape[0], candidates.shape[0]
    if sample_weight is not None and tuple(sample_weight.shape) != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {tuple(sample_weight.shape)}.")
    if candidate_sq_norms is not None and tuple(candidate_sq_norms.shape) != (t,):
        raise ValueError(
            f"candidate_sq_norms must have shape ({t},), got {tuple(candidate_sq_norms.shape)}."
        )
    if out is not None:
        if tuple(out.shape) != (t, n):
            raise ValueError(f"out must have shape ({t}, {n}), got {tuple(out.shape)}.")
        if out.dtype != X.dtype or not out.flags.c_contiguous:
            raise TypeError(f"out must be writable, C-contiguous, with X's dtype {X.dtype}.")
    lib = array_module(X)
    weights = (
        lib.ones(n, dtype=np.float64) if sample_weight is None
        else sample_weight.astype(np.float64, copy=False)
    )
    candidate_sq_norms = (
        None if candidate_sq_norms is None else candidate_sq_norms.astype(X.dtype, copy=False)
    )
    return (X, x_sq_norms.astype(X.dtype, copy=False), weights,
            candidates.astype(X.dtype, copy=False), closest_sq.astype(X.dtype, copy=False),
            out, candidate_sq_norms)


@kernel(cpu="seeding.update", cuda="seeding.update")
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
    if closest_sq.dtype != X.dtype:
        raise TypeError(f"closest_sq must have X's dtype {X.dtype}, got {closest_sq.dtype}.")
    center_sq_norm = None if center_sq_norm is None else _as_scalar(center_sq_norm)
    return (X, x_sq_norms.astype(X.dtype, copy=False), center.astype(X.dtype, copy=False),
            closest_sq, center_sq_norm)
