"""Options shared by every Numba kernel.

``NUMBA_CACHE`` turns on Numba's on-disk cache of compiled kernels (on unless
``GPUCLUSTER_NUMBA_CACHE=0``), so a second process does not recompile.
"""

import os

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
