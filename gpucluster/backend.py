"""The one place that knows array libraries.

Algorithms obtain ``xp = namespace(X)`` and use only the array API; the rest
of this module places data (``resolve_device``, ``to_device``), converts
results for the caller (``to_output``), gives kernels their views
(``host_view``, ``cuda_view``, ``wrap_like``), sizes chunks from free memory
(``row_chunk_size``, ``for_each_chunk``) and fills the gaps of the standard
(``bincount``, ``scatter_add_rows``, ``top_k``, ``unique_counts``).

CuPy, torch and numba.cuda are imported lazily, so importing this module
never needs them.
"""

import functools
import os
import sys
from dataclasses import dataclass

import array_api_compat
import numpy as np

from ._config import AUTO_GPU_MIN_WORK, DEVICES, OUTPUT_TYPES, get_config

# A chunked host step aims at this many bytes when no budget is configured:
# big enough that BLAS runs near its peak, small enough to stay in cache-ish
# memory and never to compete with the data for RAM.
HOST_CHUNK_TARGET_BYTES = 64 * 2**20
# Share of the free device memory one chunked GPU step may take.
CUDA_FREE_MEMORY_SHARE = 0.5


# --------------------------------------------------------------------------
# Namespaces and kinds


def _is_numpy(x):
    return isinstance(x, np.ndarray)


def _is_cupy(x):
    return "cupy" in sys.modules and array_api_compat.is_cupy_array(x)


def _is_torch(x):
    return "torch" in sys.modules and array_api_compat.is_torch_array(x)


def _is_strict(x):
    return "array_api_strict" in sys.modules and type(x).__module__.startswith(
        "array_api_strict"
    )


def array_kind(x):
    """Name the library of array ``x``: "numpy", "cupy", "torch", "array_api_strict" or "other"."""
    if _is_numpy(x):
        return "numpy"
    if _is_cupy(x):
        return "cupy"
    if _is_torch(x):
        return "torch"
    if _is_strict(x):
        return "array_api_strict"
    return "other"


def is_cuda_array(x):
    """True for arrays that live in CUDA device memory (CuPy, torch CUDA, CUDA array interface)."""
    if _is_cupy(x):
        return True
    if _is_torch(x):
        return x.device.type == "cuda"
    return hasattr(x, "__cuda_array_interface__") and not _is_numpy(x)


def device_of(x):
    """Return "cuda" when ``x`` lives on a GPU, else "cpu"."""
    return "cuda" if is_cuda_array(x) else "cpu"


def coerce_array(X):
    """Turn lists, tuples, CUDA-interface and DLPack objects into arrays; keep array-API arrays.

    Raises
    ------
    TypeError
        For np.matrix, masked arrays and objects that are not arrays at all.
    """
    if isinstance(X, np.ma.MaskedArray):
        raise TypeError("Masked arrays are not supported; fill or drop the masked values.")
    if isinstance(X, np.matrix):
        raise TypeError("np.matrix is not supported; use np.asarray(X).")
    if isinstance(X, (list, tuple)):
        return np.asarray(X)
    if _is_numpy(X) or _is_cupy(X) or _is_torch(X) or _is_strict(X):
        return X
    if hasattr(X, "__cuda_array_interface__"):
        import cupy

        return cupy.asarray(X)
    if hasattr(X, "__array_namespace__"):
        return X
    if hasattr(X, "__dlpack__"):
        return np.from_dlpack(X)
    if hasattr(X, "__array__"):
        return np.asarray(X)
    raise TypeError(
        f"Expected an array (NumPy, CuPy, torch, any array-API or DLPack array, "
        f"or a list), got {type(X).__name__}."
    )


def namespace(*arrays):
    """Return the array-API namespace shared by ``arrays`` (None entries are skipped).

    NumPy, CuPy and torch get array_api_compat's wrapped namespaces.
    """
    arrays = [a for a in arrays if a is not None]
    return array_api_compat.array_namespace(*arrays)


@dataclass(frozen=True)
class InputLike:
    """What ``to_output`` needs to mirror an input: its kind and its device object."""

    kind: str
    device: object = None


def describe_input(X):
    """Record the kind and device of the caller's array for ``to_output``."""
    kind = array_kind(X)
    if kind == "other":
        return InputLike("numpy")
    return InputLike(kind, array_api_compat.device(X) if kind != "numpy" else None)


# --------------------------------------------------------------------------
# Devices


@functools.lru_cache(maxsize=1)
def gpu_available():
    """True when CuPy imports and a CUDA device answers; never raises."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def resolve_device(device, X, work=0.0):
    """Decide where to compute: return "cpu" or "cuda".

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} or None
        The estimator's choice; "auto" and None take the configured default.
    X : array
        The data; arrays already on a GPU stay there under "auto".
    work : float
        Estimated floating-point operations; "auto" moves host data to the GPU
        only above ``AUTO_GPU_MIN_WORK``.

    Raises
    ------
    ValueError
        For an unknown device name.
    RuntimeError
        For ``device="cuda"`` when no GPU is usable.
    """
    if device is None:
        device = "auto"
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}.")
    if device == "auto":
        device = get_config()["device"]
    if device == "cuda":
        if not gpu_available():
            raise RuntimeError(
                "device='cuda' was requested but no CUDA GPU is usable: CuPy is "
                "not installed or no device answers. Install gpucluster[cuda12] or "
                "gpucluster[cuda13], or use device='cpu' or 'auto'."
            )
        return "cuda"
    if device == "cpu":
        return "cpu"
    if is_cuda_array(X):
        if not gpu_available():
            raise RuntimeError(
                "X lives on a CUDA device but CuPy is not installed or cannot use the "
                "device; install gpucluster[cuda12] or gpucluster[cuda13], or pass "
                "device='cpu' to copy X to the host."
            )
        return "cuda"
    if work >= AUTO_GPU_MIN_WORK and gpu_available():
        return "cuda"
    return "cpu"


def to_device(X, device):
    """Move ``X`` to ``device`` ("cpu" or "cuda"), copying only when it must.

    Host arrays stay in their own namespace on "cpu"; CUDA data becomes a
    NumPy array. On "cuda" everything becomes CuPy: torch CUDA tensors and
    ``__cuda_array_interface__`` objects are wrapped without a copy.
    """
    if device == "cpu":
        if not is_cuda_array(X):
            return X
        return to_numpy(X)
    import cupy

    if _is_cupy(X):
        return X
    if is_cuda_array(X):
        return cupy.asarray(X)
    return cupy.asarray(to_numpy(X))


def to_numpy(x):
    """Return ``x`` as a NumPy array (a view where the memory is host memory)."""
    if _is_numpy(x):
        return x
    if _is_cupy(x):
        return x.get()
    if _is_torch(x):
        return x.detach().cpu().numpy()
    if hasattr(x, "__cuda_array_interface__"):
        import cupy

        return cupy.asarray(x).get()
    if hasattr(x, "__dlpack__"):
        return np.from_dlpack(x)
    return np.asarray(x)


def to_output(arr, like, output_type="input"):
    """Convert a result array for the caller.

    Parameters
    ----------
    arr : array
        A computed result (NumPy, CuPy, torch or array_api_strict).
    like : InputLike
        The caller's input, from :func:`describe_input`.
    output_type : {"input", "numpy", "cupy", "torch"}
        "input" mirrors ``like`` (falling back to the configured default when
        that is not "input"); the others force a type.
    """
    if output_type is None or output_type == "input":
        output_type = get_config()["output_type"]
    if output_type not in OUTPUT_TYPES:
        raise ValueError(f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}.")
    if output_type == "input":
        return asarray_like(arr, like)
    return asarray_like(arr, InputLike(output_type))


def asarray_like(arr, like):
    """Convert ``arr`` to the kind and device recorded in ``like`` (an InputLike or an array).

    Copies only when the library or the device changes.
    """
    if not isinstance(like, InputLike):
        like = describe_input(like)
    kind, device = like.kind, like.device
    if kind == "numpy":
        return to_numpy(arr)
    if kind == "cupy":
        import cupy

        if device is None:
            return cuda_view(arr) if is_cuda_array(arr) else cupy.asarray(to_numpy(arr))
        with cupy.cuda.Device(getattr(device, "id", device)):
            return cupy.asarray(cuda_view(arr) if is_cuda_array(arr) else to_numpy(arr))
    if kind == "torch":
        import torch

        if device is None:
            device = "cuda" if is_cuda_array(arr) else "cpu"
        if _is_torch(arr):
            return arr.to(device)
        if is_cuda_array(arr):
            return torch.as_tensor(arr, device=device)
        return torch.from_numpy(np.ascontiguousarray(to_numpy(arr))).to(device)
    if kind == "array_api_strict":
        import array_api_strict

        if _is_strict(arr) and (device is None or arr.device == device):
            return arr
        return array_api_strict.asarray(to_numpy(arr), device=device)
    return to_numpy(arr)


def device(x):
    """The array-API device object of ``x`` (for ``device=`` arguments of creation functions)."""
    return array_api_compat.device(x)


# --------------------------------------------------------------------------
# Kernel-boundary views


def host_view(x):
    """A C-contiguous NumPy view of a host array of any kind (copy only if strided)."""
    return np.ascontiguousarray(to_numpy(x))


def wrap_like(arr, like):
    """Return NumPy array ``arr`` in the namespace and device of host array ``like`` (no copy for torch)."""
    kind = array_kind(like)
    if kind == "torch":
        import torch

        return torch.from_numpy(arr)
    if kind == "array_api_strict":
        import array_api_strict

        return array_api_strict.asarray(arr, device=like.device)
    return arr


def cuda_view(x):
    """A CuPy view of CUDA array ``x`` (CuPy, torch CUDA or CUDA array interface), no copy."""
    import cupy

    return x if _is_cupy(x) else cupy.asarray(x)


def wrap_cuda_like(arr, like):
    """Return CuPy array ``arr`` as a torch CUDA tensor when ``like`` is one (no copy), else as is."""
    if _is_torch(like):
        import torch

        return torch.as_tensor(arr, device=like.device)
    return arr


def current_cuda_stream():
    """Numba's handle on CuPy's current stream, so kernels run where CuPy work runs."""
    import cupy
    from numba import cuda

    return cuda.external_stream(cupy.cuda.get_current_stream().ptr)


# --------------------------------------------------------------------------
# Memory and chunking


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
    configured ``memory_budget`` or ``HOST_CHUNK_TARGET_BYTES``, never more
    than a quarter of the available memory. At least 1, at most ``n_rows``.
    """
    if target_bytes is None:
        if device == "cuda":
            target_bytes = int(free_memory("cuda") * CUDA_FREE_MEMORY_SHARE)
        else:
            budget = get_config()["memory_budget"]
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
            _release_cached_memory()
            continue
        start = stop
    return chunk_rows


def _release_cached_memory():
    if "cupy" in sys.modules:
        sys.modules["cupy"].get_default_memory_pool().free_all_blocks()


# --------------------------------------------------------------------------
# Gaps in the array API standard


def _native(x):
    """NumPy or CuPy view of ``x`` for the gap fillers, and a function to convert back."""
    if is_cuda_array(x):
        import cupy

        return cupy, cuda_view(x), lambda r: wrap_cuda_like(r, x)
    return np, host_view(x), lambda r: wrap_like(np.ascontiguousarray(r), x)


def bincount(labels, weights=None, minlength=0):
    """Weighted counts of non-negative integer ``labels``; repeated labels add up.

    Returns an array of length ``max(minlength, labels.max() + 1)`` in the
    namespace of ``labels``; float64 when weighted, int64 otherwise.
    """
    lib, lab, back = _native(labels)
    w = None
    if weights is not None:
        w = _native(weights)[1].astype(lib.float64, copy=False)
    return back(lib.bincount(lab.astype(lib.int64, copy=False), weights=w, minlength=minlength))


def scatter_add_rows(target, index, values):
    """``target[index[i]] += values[i]`` for every i, repeated indices adding up. Returns target.

    ``target`` has shape (m, d) or (m,); ``values`` (n, d) or (n,); ``index`` (n,).
    The update is in place for NumPy, CuPy and torch, and a new array for
    other namespaces.
    """
    lib, tgt, back = _native(target)
    idx = _native(index)[1]
    vals = _native(values)[1].astype(tgt.dtype, copy=False)
    if lib is np:
        np.add.at(tgt, idx, vals)
    else:
        import cupyx

        cupyx.scatter_add(tgt, idx, vals)
    if array_kind(target) in ("numpy", "cupy", "torch"):
        return target
    return back(tgt)


def top_k(x, k, *, largest=False):
    """Indices of the ``k`` smallest (or largest) entries of 1-D ``x``, ties to the lowest index.

    The indices come sorted by value, in the namespace of ``x``.
    """
    xp = namespace(x)
    k = min(int(k), x.shape[0])
    key = -x if largest else x
    order = xp.argsort(key, stable=True)
    return order[:k]


def unique_counts(x):
    """Sorted unique values of 1-D ``x`` and how often each occurs."""
    xp = namespace(x)
    result = xp.unique_counts(x)
    order = xp.argsort(result.values)
    return xp.take(result.values, order), xp.take(result.counts, order)
