"""Memory at the kernel boundary: free memory, chunk sizes, and halving a chunk on out-of-memory.

Every chunked kernel sizes its chunks with ``row_chunk_size`` (a share of
the free GPU memory, or the host budget) and walks them with
``for_each_chunk``, which retries a chunk at half the size when an
allocation fails. The host budget is a context variable set through
``gpucluster.set_config(memory_budget=...)`` / ``config_context``.
"""

import os
import sys
from contextvars import ContextVar

# A chunked host step aims at this many bytes when no budget is configured:
# big enough that BLAS runs near its peak, small enough to stay in cache-ish
# memory and never to compete with the data for RAM.
HOST_CHUNK_TARGET_BYTES = 64 * 2**20
# Share of the free device memory one chunked GPU step may take.
CUDA_FREE_MEMORY_SHARE = 0.5

# Bytes of host memory one chunked step may allocate; None derives it from
# the memory available when the step runs.
host_memory_budget = ContextVar("gpucluster_host_memory_budget", default=None)


def free_memory(device):
    """Bytes free now on ``device``: the GPU's free memory, or the host's available memory."""
    if device == "cuda":
        import cupy

        free, _total = cupy.cuda.runtime.memGetInfo()
        pool = cupy.get_default_memory_pool()
        return free + pool.free_bytes()
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def row_chunk_size(n_rows, bytes_per_row, device="cpu", target_bytes=None):
    """How many rows one chunked step should take.

    On "cuda" it is a share of the free device memory; on "cpu" the
    configured host budget or ``HOST_CHUNK_TARGET_BYTES``, never more than a
    quarter of the available memory. At least 1, at most ``n_rows``.
    """
    if target_bytes is None:
        if device == "cuda":
            target_bytes = int(free_memory("cuda") * CUDA_FREE_MEMORY_SHARE)
        else:
            budget = host_memory_budget.get()
            target_bytes = budget or min(HOST_CHUNK_TARGET_BYTES, free_memory("cpu") // 4)
    rows = int(target_bytes // max(1, int(bytes_per_row)))
    return max(1, min(int(n_rows), rows))


def is_out_of_memory(exc):
    """True for allocation failures a smaller chunk can avoid (host, CuPy, torch, Numba)."""
    if isinstance(exc, MemoryError):  # includes cupy.cuda.memory.OutOfMemoryError
        return True
    name = type(exc).__name__
    return name == "OutOfMemoryError" or "CUDA_ERROR_OUT_OF_MEMORY" in str(exc)


def for_each_chunk(n_rows, chunk_rows, step):
    """Call ``step(start, stop)`` over ``range(n_rows)`` in chunks; halve the chunk on out-of-memory.

    A chunk that fails with an out-of-memory error is retried at half the
    size, down to one row, after which the error propagates. Returns the
    chunk size that last succeeded.
    """
    start = 0
    chunk_rows = max(1, int(chunk_rows))
    while start < n_rows:
        stop = min(n_rows, start + chunk_rows)
        try:
            step(start, stop)
        except Exception as exc:
            if not is_out_of_memory(exc) or chunk_rows == 1:
                raise
            chunk_rows = max(1, chunk_rows // 2)
            release_cached_memory()
            continue
        start = stop
    return chunk_rows


def release_cached_memory():
    """Return CuPy's cached blocks to the device (nothing when CuPy is not loaded)."""
    if "cupy" in sys.modules:
        sys.modules["cupy"].get_default_memory_pool().free_all_blocks()


def current_cuda_stream():
    """Numba's handle on CuPy's current stream, so kernels run where CuPy work runs."""
    import cupy
    from numba import cuda

    return cuda.external_stream(cupy.cuda.get_current_stream().ptr)
