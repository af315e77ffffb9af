"""Affinity propagation's iteration for CUDA arrays, as whole-array operations.

Written against the array API and run in the CuPy view's namespace: CuPy
turns each operation into an elementwise or reduction kernel on the device.
The operations are scikit-learn's, in its order. Nothing here needs a GPU: on
a host namespace it is the same iteration on NumPy arrays.
"""

from ..arrays import namespace


def affinity_step(S, A, R, damping):
    """One iteration in place on (n, n) float64 device arrays; returns the exemplar mask (n,) bool."""
    xp = namespace(S)
    n = S.shape[0]
    keep = 1.0 - damping
    ids = xp.arange(n)
    on_diagonal = ids[:, None] == ids[None, :]
    total = A + S
    best_at = xp.argmax(total, axis=1)
    is_best = ids[None, :] == best_at[:, None]
    best = xp.max(total, axis=1)
    second = xp.max(xp.where(is_best, -xp.inf, total), axis=1)
    del total
    update = S - xp.where(is_best, second[:, None], best[:, None])
    del is_best
    update *= keep
    R *= damping
    R += update
    del update
    update = xp.where(on_diagonal, R, xp.maximum(R, 0.0))
    update -= xp.sum(update, axis=0)
    update = xp.where(on_diagonal, update, xp.maximum(update, 0.0))
    update *= keep
    A *= damping
    A -= update
    diagonal = xp.reshape(A, (-1,))[:: n + 1] + xp.reshape(R, (-1,))[:: n + 1]
    return diagonal > 0
