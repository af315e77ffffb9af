"""Array plumbing at the kernel boundary: which library an array belongs to, and views across it.

The kernels take NumPy arrays (the Numba CPU kernels) or CuPy arrays (the
numba.cuda kernels). This module names an array's library and side
(``array_kind``, ``is_cuda_array``), makes the zero-copy views the kernels
read (``host_view``, ``cuda_view``), and puts results back in the caller's
library and device (``wrap_like``). ``gpucluster.backend`` builds on it.

CuPy, torch and array_api_strict are never imported here unless an array
of theirs has already arrived (``sys.modules`` is checked first), so
importing this module needs none of them.
"""

import sys

import array_api_compat
import numpy as np


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
    if isinstance(x, np.ndarray):
        return "numpy"
    if _is_cupy(x):
        return "cupy"
    if _is_torch(x):
        return "torch"
    if _is_strict(x):
        return "array_api_strict"
    return "other"


def is_array(x):
    """True for array objects of any library (NumPy scalars and Python numbers are not)."""
    return isinstance(x, np.ndarray) or (
        hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.generic)
    )


def is_cuda_array(x):
    """True for arrays that live in CUDA device memory (CuPy, torch CUDA, CUDA array interface)."""
    if _is_cupy(x):
        return True
    if _is_torch(x):
        return x.device.type == "cuda"
    return hasattr(x, "__cuda_array_interface__") and not isinstance(x, np.ndarray)


def device_of(x):
    """Return "cuda" when ``x`` lives on a GPU, else "cpu"."""
    return "cuda" if is_cuda_array(x) else "cpu"


def namespace(*arrays):
    """The array-API namespace shared by ``arrays`` (None entries skipped); array_api_compat's."""
    return array_api_compat.array_namespace(*(a for a in arrays if a is not None))


def to_numpy(x):
    """Return ``x`` as a NumPy array (a view where the memory is host memory)."""
    if isinstance(x, np.ndarray):
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


def host_view(x):
    """A C-contiguous NumPy view of a host array of any kind (a copy only if strided)."""
    return np.ascontiguousarray(to_numpy(x))


def cuda_view(x):
    """A CuPy view of CUDA array ``x`` (CuPy, torch CUDA or CUDA array interface), no copy."""
    import cupy

    return x if _is_cupy(x) else cupy.asarray(x)


def wrap_like(arr, like):
    """Put NumPy array ``arr`` in the library and device of host array ``like`` (no copy for torch)."""
    kind = array_kind(like)
    if kind == "torch":
        import torch

        return torch.from_numpy(arr)
    if kind == "array_api_strict":
        import array_api_strict

        return array_api_strict.asarray(arr, device=like.device)
    return arr


def wrap_cuda_like(arr, like):
    """Put ``arr`` (CuPy, or NumPy from a host-only kernel) on the device of CUDA array ``like``.

    A torch CUDA ``like`` gets a torch tensor (no copy from CuPy); anything
    else gets a CuPy array on ``like``'s device.
    """
    if _is_torch(like):
        import torch

        return torch.as_tensor(arr, device=like.device)
    import cupy

    if isinstance(arr, np.ndarray):
        with cupy.cuda.Device(cuda_view(like).device.id):
            return cupy.asarray(arr)
    return arr


def array_module(x):
    """``numpy`` for NumPy arrays and ``cupy`` for CuPy arrays: the module a kernel view belongs to."""
    if _is_cupy(x):
        import cupy

        return cupy
    return np


def unit_rows(X):
    """Rows of X scaled to unit L2 norm; all-zero rows stay zero. Same dtype, namespace and device.

    Works on any array-API array (used by the cosine paths of the kernels and
    by ``gpucluster._distances``).
    """
    xp = namespace(X)
    norms = xp.sqrt(xp.astype(xp.vecdot(X, X), xp.float64))
    norms = xp.where(norms > 0, norms, xp.ones_like(norms))
    return X / xp.astype(norms, X.dtype)[:, None]
