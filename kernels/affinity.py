"""Affinity propagation's message passing: ``affinity_step``, one iteration in place.

Declared once with ``@kernel`` (see ``_dispatch.py``). The CPU implementation
(``cpu/affinity.py``) is one fused Numba pass per message over the (n, n)
arrays, with no temporaries; the CUDA one (``cuda/affinity.py``) is the same
iteration as whole-array operations in the CuPy namespace. Both make
scikit-learn's floating-point operations in its order, so from the same S
they reach the same exemplars. Reference: ``tests/kernels/test_affinity_step.py``.
"""

import numpy as np

from ._dispatch import kernel


@kernel(cpu="affinity.affinity_step", cuda="affinity.affinity_step", in_place=("A", "R"))
def affinity_step(S, A, R, damping):
    """One iteration of affinity propagation: responsibilities R, then availabilities A.

    .. math::
        r_{ik} &\\leftarrow \\lambda r_{ik} + (1 - \\lambda)
                 \\big(s_{ik} - \\max_{k' \\ne k} (a_{ik'} + s_{ik'})\\big) \\\\
        a_{ik} &\\leftarrow \\lambda a_{ik} + (1 - \\lambda)
                 \\min\\big(0,\\; r_{kk} + \\textstyle\\sum_{i' \\notin \\{i, k\\}}
                 \\max(0, r_{i'k})\\big) \\quad (i \\ne k) \\\\
        a_{kk} &\\leftarrow \\lambda a_{kk} + (1 - \\lambda)
                 \\textstyle\\sum_{i' \\ne k} \\max(0, r_{i'k})

    Parameters
    ----------
    S : array (n, n) float64, similarities with the preferences on the diagonal;
        NumPy, torch, CuPy or array-API
    A, R : arrays (n, n) float64, C-contiguous and writable, the availabilities
        and responsibilities, same kind and device as S; updated in place
    damping : float in [0.5, 1)

    Returns
    -------
    exemplars : array (n,) bool, ``diag(A) + diag(R) > 0`` after the step, in
        S's namespace and on its device
    """
    n = S.shape[0]
    for name, M in (("S", S), ("A", A), ("R", R)):
        if tuple(M.shape) != (n, n):
            raise ValueError(f"{name} must have shape ({n}, {n}), got {tuple(M.shape)}.")
        if M.dtype != np.float64:
            raise TypeError(f"{name} must be float64, got {M.dtype}.")
    return S, A, R, float(damping)
