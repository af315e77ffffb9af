"""Affinity propagation's iteration on the host: fused Numba passes, no (n, n) temporaries.

scikit-learn's iteration allocates nothing either (it reuses one temporary)
but reads and writes the (n, n) arrays about ten times; these passes read S,
A and R twice and write each message once. The arithmetic is scikit-learn's,
operation by operation (products and sums in its order, no fused
multiply-add), so the messages are equal to the bit.
"""

import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE

# Columns per task of the column sums: each task walks every row over this many
# contiguous columns.
COLUMN_BLOCK = 256


@njit(parallel=True, cache=NUMBA_CACHE)
def _responsibilities(S, A, R, damping):
    n = S.shape[0]
    keep = 1.0 - damping
    for i in prange(n):
        best = -np.inf
        second = -np.inf
        best_at = 0
        for j in range(n):
            total = A[i, j] + S[i, j]
            if total > best:  # the first of equal maxima stays best, as argmax
                second = best
                best = total
                best_at = j
            elif total > second:
                second = total
        for j in range(n):
            largest_other = second if j == best_at else best
            R[i, j] = R[i, j] * damping + (S[i, j] - largest_other) * keep


@njit(parallel=True, cache=NUMBA_CACHE)
def _column_sums(R, sums):
    """sums[k] = R[k, k] + sum over i != k of max(R[i, k], 0), rows added in order.

    Each row's columns are walked in three runs (before the diagonal, the
    diagonal, after it) so the inner loops have no branch and vectorise."""
    n = R.shape[0]
    for block in prange((n + COLUMN_BLOCK - 1) // COLUMN_BLOCK):
        lo = block * COLUMN_BLOCK
        hi = min(n, lo + COLUMN_BLOCK)
        acc = np.zeros(hi - lo)
        for i in range(n):
            row = R[i, lo:hi]
            diagonal = min(max(i, lo), hi) - lo  # where row i's diagonal splits the block
            for k in range(diagonal):
                acc[k] += max(row[k], 0.0)
            if lo <= i < hi:
                acc[diagonal] += row[diagonal]
            for k in range(max(diagonal, i + 1 - lo), hi - lo):
                acc[k] += max(row[k], 0.0)
        sums[lo:hi] = acc


@njit(parallel=True, cache=NUMBA_CACHE)
def _availabilities(A, R, sums, damping, exemplars):
    n = A.shape[0]
    keep = 1.0 - damping
    for i in prange(n):
        for k in range(i):
            A[i, k] = A[i, k] * damping - max(max(R[i, k], 0.0) - sums[k], 0.0) * keep
        A[i, i] = A[i, i] * damping - (R[i, i] - sums[i]) * keep
        for k in range(i + 1, n):
            A[i, k] = A[i, k] * damping - max(max(R[i, k], 0.0) - sums[k], 0.0) * keep
    for i in range(n):
        exemplars[i] = A[i, i] + R[i, i] > 0.0


def affinity_step(S, A, R, damping):
    """One iteration in place on NumPy arrays (n, n) float64; returns the exemplar mask (n,) bool."""
    n = S.shape[0]
    sums = np.empty(n, dtype=np.float64)
    exemplars = np.empty(n, dtype=np.bool_)
    _responsibilities(S, A, R, damping)
    _column_sums(R, sums)
    _availabilities(A, R, sums, damping, exemplars)
    return exemplars
