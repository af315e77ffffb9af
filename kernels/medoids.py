"""k-medoids kernels: ``build_gains`` (PAM's BUILD) and the FasterPAM pair.

Declared once with ``@kernel`` (see ``_dispatch.py``); implementations in
``cpu/medoids.py`` and, for ``build_gains``, ``cuda/medoids.py``.
``medoid_assignment`` and ``fasterpam_sweep`` are host-only (``cuda=None``):
the FasterPAM sweep is a sequential loop whose every swap changes what the
next candidate sees, over O(n k) state; the caller hands it host blocks of
distance rows. Reference: ``tests/kernels/reference_medoids.py``.
"""

import numpy as np

from ._dispatch import kernel


def _check_rows(rows, n_columns=None):
    if rows.ndim != 2:
        raise ValueError(f"rows must be 2-D, got shape {tuple(rows.shape)}.")
    if rows.dtype not in (np.float32, np.float64):
        raise TypeError(f"rows must be float32 or float64, got {rows.dtype}.")
    if n_columns is not None and rows.shape[1] != n_columns:
        raise ValueError(f"rows must have {n_columns} columns, got shape {tuple(rows.shape)}.")


@kernel(cpu="medoids.build_gains", cuda="medoids.build_gains")
def build_gains(rows, nearest):
    """PAM BUILD's gain of each candidate: how much it would lower the loss as a new medoid.

    .. math:: g_i = \\sum_j \\max(0, D_j - d(x_i, x_j))

    Parameters
    ----------
    rows : array (b, n_samples), float32 or float64; NumPy, torch, CuPy or array-API.
        Row i holds the distances of candidate i to every sample.
    nearest : array (n_samples,), the distance :math:`D_j` of each sample to
        its nearest medoid so far (cast to float64); same kind and device as rows

    Returns
    -------
    gains : array (b,) float64, in the namespace and on the device of ``rows``
    """
    _check_rows(rows)
    if tuple(nearest.shape) != (rows.shape[1],):
        raise ValueError(
            f"nearest must have shape ({rows.shape[1]},), got {tuple(nearest.shape)}."
        )
    return rows, nearest.astype(np.float64, copy=False)


@kernel(cpu="medoids.medoid_assignment", cuda=None)
def medoid_assignment(medoid_distances, medoids):
    """Nearest and second-nearest medoid of every sample (host-only), FasterPAM's starting state.

    Parameters
    ----------
    medoid_distances : array (n_samples, k), real (computed in float64): the
        distance of sample o to medoid m
    medoids : array (k,), integer: the sample index of each medoid

    Returns
    -------
    nearest : array (n_samples, 2) int64, positions in ``medoids`` of the
        nearest and second-nearest medoid (-1 for the second when k = 1)
    nearest_distances : array (n_samples, 2) float64, their distances (inf
        for a missing second)
        Both in the kind and on the device of ``medoid_distances``. A medoid
        is its own nearest; otherwise ties go to the earlier medoid.
    """
    if medoid_distances.ndim != 2 or medoids.ndim != 1 or (
        medoids.shape[0] != medoid_distances.shape[1]
    ):
        raise ValueError(
            f"medoid_distances must be (n_samples, k) and medoids (k,), got shapes "
            f"{tuple(medoid_distances.shape)} and {tuple(medoids.shape)}."
        )
    if medoids.shape[0] < 1:
        raise ValueError("medoid_assignment needs at least one medoid.")
    return (np.ascontiguousarray(medoid_distances, dtype=np.float64),
            medoids.astype(np.int64, copy=False))


def _check_state(name, array, shape, dtype):
    if tuple(array.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(array.shape)}.")
    if array.dtype != dtype:
        raise TypeError(f"{name} must be {np.dtype(dtype).name}, got {array.dtype}.")


@kernel(cpu="medoids.fasterpam_sweep", cuda=None,
        in_place=("medoids", "medoid_distances", "nearest", "nearest_distances"))
def fasterpam_sweep(rows, start, medoids, medoid_distances, nearest, nearest_distances):
    """One FasterPAM pass over the candidates ``start, ..., start + b - 1`` (host-only).

    Each candidate j that is not a medoid is scored against every medoid in
    one pass over its distances (the O(k) bookkeeping of Schubert and
    Rousseeuw); the best swap is made at once when it lowers the loss
    :math:`\\sum_o d(o, \\text{nearest medoid})`. Same swaps, in the same
    order, as the ``kmedoids`` package's ``fasterpam`` over these rows.

    Parameters
    ----------
    rows : array (b, n_samples), float32 or float64: the distances of
        samples ``start .. start + b - 1`` to every sample (a symmetric distance)
    start : int
    medoids : array (k,) int64, updated in place
    medoid_distances : array (n_samples, k) float64, updated in place
    nearest : array (n_samples, 2) int64, updated in place
    nearest_distances : array (n_samples, 2) float64, updated in place
        The state of ``medoid_assignment``; every state array must be
        C-contiguous and writable on the host (TypeError otherwise).

    Returns
    -------
    swapped : array (n_swaps,) int64, the samples made medoids, in order;
        the loss after the sweep is ``nearest_distances[:, 0].sum()``
    """
    n = medoid_distances.shape[0]
    k = medoids.shape[0]
    _check_rows(rows, n)
    start = int(start)
    if not 0 <= start <= n - rows.shape[0]:
        raise ValueError(f"rows {start}..{start + rows.shape[0]} lie outside [0, {n}).")
    if k < 2:
        raise ValueError("fasterpam_sweep needs at least two medoids.")
    _check_state("medoids", medoids, (k,), np.int64)
    _check_state("medoid_distances", medoid_distances, (n, k), np.float64)
    _check_state("nearest", nearest, (n, 2), np.int64)
    _check_state("nearest_distances", nearest_distances, (n, 2), np.float64)
    return rows, start, medoids, medoid_distances, nearest, nearest_distances
