"""PAM's BUILD gains for CUDA arrays: :math:`g_i = \\sum_j \\max(0, D_j - d(x_i, x_j))`.

Written against the array API only and run in the CuPy view's own namespace:
one subtraction, one clip and one row sum over the (b, n) block, which
CuPy runs as elementwise and reduction kernels on the device. The block
itself is the caller's, sized from the free device memory, so the
temporary is no larger. Nothing here needs a GPU: on a host namespace this
is the NumPy formula of ``tests/kernels/reference_medoids.py``.
The FasterPAM sweep has no CUDA version: it is sequential (``cpu/medoids.py``).
"""

from ..arrays import namespace


def build_gains(rows, nearest):
    """g_i = sum_j max(0, nearest_j - rows[i, j]), float64 (b,), in the namespace of ``rows``."""
    xp = namespace(rows)
    gaps = nearest[None, :] - xp.astype(rows, xp.float64)
    return xp.sum(xp.clip(gaps, 0.0, None), axis=1)
