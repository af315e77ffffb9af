"""The one place above the kernels that knows array libraries.

Algorithms obtain ``xp = namespace(X)`` and use only the array API; the rest
of this module places data (``resolve_device``, ``to_device``), converts
results for the caller (``to_output``, ``asarray_like``) and fills the gaps
of the standard (``bincount``, ``scatter_add_rows``, ``top_k``,
``unique_counts``). It builds on the bottom layer: array kinds and views
come from ``gpucluster.kernels.arrays``, free memory and chunking
(``row_chunk_size``, ``for_each_chunk``) from ``gpucluster.kernels.memory``,
re-exported here so the layers above need one module.

CuPy, torch and numba.cuda are imported lazily, so importing this module
never needs them.
"""

import functools
from dataclasses import dataclass

import array_api_compat
import numpy as np

from ._config import AUTO_GPU_MIN_WORK, DEVICES, OUTPUT_TYPES, get_config
from .kernels.arrays import (  # noqa: F401  (re-exported for the layers above)
    _is_cupy,
    _is_strict,
    _is_torch,
    array_kind,
    cuda_view,
    detached,
    device_of,
    host_view,
    is_cuda_array,
    namespace,
    to_numpy,
    wrap_cuda_like,
    torch_waits_for_cupy,
    wrap_like,
)
from .kernels.memory import (  # noqa: F401  (re-exported for the layers above)
    HOST_CHUNK_TARGET_BYTES,
    for_each_chunk,
    free_memory,
    is_out_of_memory,
    row_chunk_size,
)


# --------------------------------------------------------------------------
# Namespaces and kinds


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
        raise TypeError("np.matrix is not supported. Please convert to a numpy array with "
                        "np.asarray(X).")
    if isinstance(X, (list, tuple)):
        return np.asarray(X)
    if isinstance(X, np.ndarray) or _is_cupy(X) or _is_torch(X) or _is_strict(X):
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
    ``__cuda_array_interface__`` objects are wrapped without a copy. Torch
    tensors lose their autograd graph on every path (``requires_grad`` is
    read like any tensor), and a torch CUDA tensor is ordered after torch's
    current stream (``kernels.arrays.cuda_view``).
    """
    X = detached(X)
    if device == "cpu":
        if not is_cuda_array(X):
            return X
        return to_numpy(X)
    import cupy

    if is_cuda_array(X):
        return cuda_view(X)
    return cupy.asarray(to_numpy(X))


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

    Copies only when the library or the device changes. Torch tensors come
    back detached; a CuPy result handed over as a torch CUDA tensor is
    ordered before torch's current stream.
    """
    if not isinstance(like, InputLike):
        like = describe_input(like)
    arr = detached(arr)
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
            if _is_cupy(arr):
                torch_waits_for_cupy(torch.device(device))
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


def host_scalar(value, like):
    """``value`` as a NumPy scalar of the floating dtype of ``like`` (np.float32 for float32,
    else np.float64), any namespace: how scikit-learn's attributes reduced from an X of
    that dtype come out (``PCA.noise_variance_``, ``GaussianMixture.lower_bound_``)."""
    return (np.float32 if like.dtype == namespace(like).float32 else np.float64)(value)


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


def column_mean(X):
    """Mean of every column of X (n, d): (d,) in X's namespace, device and dtype, summed in
    float64.

    NumPy's float32 mean down the rows accumulates in float32 (6e-4 relative
    error at 12M rows) and takes 177 ms at 12M x 5, where an einsum into
    float64 takes 81 ms and is exact to the float64 rounding; CuPy sums in
    float64 on the device.
    """
    lib, view, back = _native(X)
    if lib is np:
        sums = np.einsum("ij->j", view, dtype=np.float64)
    else:
        sums = view.sum(axis=0, dtype=lib.float64)
    return back((sums / max(view.shape[0], 1)).astype(view.dtype))


def median(x):
    """NumPy's median of every entry of ``x`` (the mean of the two middle values for an even
    count) as a 0-d array in x's namespace and dtype: a partial sort (NumPy's or CuPy's
    ``median``), not a full one."""
    lib, view, back = _native(x)
    return back(lib.asarray(lib.median(view), dtype=view.dtype))


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
