"""Array plumbing at the kernel boundary: which library an array belongs to, and views across it.

The kernels take NumPy arrays (the Numba CPU kernels) or CuPy arrays (the
numba.cuda kernels). This module names an array's library and side
(``array_kind``, ``is_cuda_array``), makes the zero-copy views the kernels
read (``host_view``, ``cuda_view``), and puts results back in the caller's
library and device (``wrap_like``). ``gpucluster.backend`` builds on it.

Torch tensors are viewed without their autograd graph (``detached``): a
tensor with ``requires_grad`` is read like any other (no gradient flows
through clustering), on the CPU and on CUDA alike. A torch CUDA tensor is
also ordered across streams, in both directions, without blocking the host:
before CuPy or Numba work reads it, CuPy's current stream waits on an event
recorded on torch's current stream (``cupy_waits_for_torch``, called by
``cuda_view``), so whatever torch queued to produce it is done first; before
a result computed on CuPy's stream is handed back as a torch tensor, torch's
current stream waits on CuPy's (``torch_waits_for_cupy``). An event wait
rather than a stream synchronisation, because it keeps the GPU queue full;
nothing is recorded when the two libraries already share a stream.

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


def detached(x):
    """``x`` without torch's autograd graph (``detach()``: the same memory, no copy).

    Tensors that need no gradient and arrays of other libraries come back
    as they are (the same object).
    """
    return x.detach() if _is_torch(x) and x.requires_grad else x


def _torch_device_index(device):
    import torch

    return device.index if device.index is not None else torch.cuda.current_device()


def cupy_waits_for_torch(device):
    """Make CuPy's current stream wait for the work queued so far on torch's current stream.

    ``device`` is the torch CUDA device of the tensor about to be read. An
    event is recorded on torch's stream and waited on by CuPy's (the host
    does not block); nothing happens when both are the same stream.
    """
    import cupy
    import torch

    index = _torch_device_index(device)
    torch_ptr = torch.cuda.current_stream(index).cuda_stream
    cupy_stream = cupy.cuda.get_current_stream()
    if cupy_stream.ptr == torch_ptr:
        return
    with cupy.cuda.Device(index):
        event = cupy.cuda.Event(block=False, disable_timing=True)
        source = cupy.cuda.Stream.null if torch_ptr == 0 else cupy.cuda.ExternalStream(torch_ptr)
        event.record(source)
    cupy_stream.wait_event(event)


def torch_waits_for_cupy(device):
    """Make torch's current stream wait for the work queued so far on CuPy's current stream.

    ``device`` is the torch CUDA device the result is handed over on; the
    converse of ``cupy_waits_for_torch``.
    """
    import cupy
    import torch

    index = _torch_device_index(device)
    torch_stream = torch.cuda.current_stream(index)
    cupy_ptr = cupy.cuda.get_current_stream().ptr
    if cupy_ptr == torch_stream.cuda_stream:
        return
    if cupy_ptr == 0:
        source = torch.cuda.default_stream(index)
    else:
        source = torch.cuda.ExternalStream(cupy_ptr, device=index)
    event = torch.cuda.Event()
    event.record(source)
    torch_stream.wait_event(event)


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
    """A CuPy view of CUDA array ``x`` (CuPy, torch CUDA or CUDA array interface), no copy.

    A torch tensor is detached first and CuPy's current stream is made to
    wait for torch's (see the module docstring).
    """
    import cupy

    if _is_cupy(x):
        return x
    if _is_torch(x):
        x = detached(x)
        cupy_waits_for_torch(x.device)
    return cupy.asarray(x)


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

        if _is_cupy(arr):
            torch_waits_for_cupy(like.device)
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
