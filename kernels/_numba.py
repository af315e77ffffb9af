"""Options shared by every Numba kernel.

``NUMBA_CACHE`` turns on Numba's on-disk cache of compiled kernels (on unless
``GPUCLUSTER_NUMBA_CACHE=0``), so a second process does not recompile.
"""

import contextlib
import os

import numba
import numpy as np

# numba-cuda 0.2x still registers ``np.row_stack`` for device code, and NumPy 2.5
# removed that alias of ``np.vstack``: without it, numba.cuda fails before any
# kernel runs. Restored here, once, before anything imports numba.cuda.
if not hasattr(np, "row_stack"):
    np.row_stack = np.vstack

NUMBA_CACHE = os.environ.get("GPUCLUSTER_NUMBA_CACHE", "1") != "0"

_blas_controller = None


def single_threaded_blas():
    """Context manager limiting BLAS to one thread while Numba threads call it.

    Kernels that call GEMM from inside a ``prange`` need it: each Numba thread
    runs its own GEMM, and BLAS threads on top would oversubscribe the cores.
    """
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


@contextlib.contextmanager
def one_thread():
    """Context manager running Numba's parallel loops on the calling thread alone.

    Numba's thread count is per calling thread, so other threads keep theirs.
    For work too small to repay the barrier that ends every parallel loop:
    on a busy machine a barrier waits for a thread the system has not
    scheduled, up to milliseconds.
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
