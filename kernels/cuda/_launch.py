"""What a CUDA launcher allocates with and launches on, chosen from its input.

In production the launchers receive CuPy arrays: outputs and GEMM tiles are
CuPy, kernels run on CuPy's current stream (so they are ordered with the
caller's CuPy work) and chunks are sized from free GPU memory. Under Numba's
CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the same launchers receive NumPy
arrays and CuPy may not be installed at all: NumPy allocates, kernels take
the default stream and chunks follow the host memory budget.
"""

from typing import NamedTuple

import numpy as np

from ..arrays import array_kind
from ..memory import current_cuda_stream


class Launch(NamedTuple):
    """Array module (``cupy`` or ``numpy``), stream, and device name for ``row_chunk_size``."""

    lib: object
    stream: object
    device: str


def launch_for(X):
    """The ``Launch`` for kernels working on ``X``'s data."""
    if array_kind(X) == "cupy":
        import cupy

        return Launch(cupy, current_cuda_stream(), "cuda")
    return Launch(np, 0, "cpu")


def n_blocks(n_items, threads_per_block):
    """Blocks needed to give each of ``n_items`` its own thread."""
    return (n_items + threads_per_block - 1) // threads_per_block
