"""The dispatch table: each public kernel declared once, with its CPU and CUDA implementations.

A public kernel is a function decorated with ``@kernel(cpu=..., cuda=...)``.
Its body holds only the argument checks and the preparation of the
implementation's arguments; it receives every array argument already as a
kernel view (NumPy for host arrays, CuPy for CUDA arrays, whose methods
``astype``, ``shape``, ``max`` and ``flags`` agree) and returns the
arguments of the implementation as a tuple. The decorator does the rest, in
this one place:

1. it checks that every array argument lives on the same side (host or
   CUDA) as the first one, the *reference* array;
2. it makes the views (zero-copy where the memory allows; torch tensors
   detached from autograd, and for torch CUDA tensors CuPy's current stream
   made to wait on torch's: ``arrays.cuda_view``);
3. it runs the body, then the implementation named for that side:
   ``cpu="assign.assign"`` is ``kernels/cpu/assign.py: assign``;
   ``cuda=None`` marks a host-only kernel, whose CUDA inputs are copied to
   the host and whose results go back to the reference array's device;
4. it returns every result array in the reference array's library and on
   its device (torch in, torch out; array_api_strict in, array_api_strict
   out).

Out-of-memory chunk halving lives in ``memory.for_each_chunk``, which every
chunked implementation walks its chunks with. ``KERNELS`` lists every
declaration, so tests can check each has a reference and compiles.
"""

import functools
import importlib
import inspect
from dataclasses import dataclass

from .arrays import (
    cuda_view,
    device_of,
    host_view,
    is_array,
    is_cuda_array,
    to_numpy,
    wrap_cuda_like,
    wrap_like,
)


@dataclass(frozen=True)
class Kernel:
    """One declared kernel: its public name and where its implementations live."""

    name: str
    cpu: str
    cuda: str | None
    in_place: tuple = ()

    def implementation(self, side):
        """The implementation function for ``side`` ("cpu" or "cuda"), imported on first use."""
        module_name, function = getattr(self, side).rsplit(".", 1)
        module = importlib.import_module(f"{__package__}.{side}.{module_name}")
        return getattr(module, function)


KERNELS = {}


def _reference(bound):
    for value in bound.arguments.values():
        if is_array(value):
            return value
    raise TypeError("a kernel needs at least one array argument.")


def _check_sides(bound, reference, reference_name):
    for name, value in bound.arguments.items():
        if is_array(value) and is_cuda_array(value) != is_cuda_array(reference):
            raise ValueError(
                f"{name} ({device_of(value)}) and {reference_name} ({device_of(reference)}) "
                "must be on the same device."
            )


def _in_place_view(value, name):
    """A host view that writes through to ``value``: no copy, so it must be C-contiguous and writable."""
    view = to_numpy(value)
    if not (view.flags.c_contiguous and view.flags.writeable):
        raise TypeError(f"{name} must be writable and C-contiguous.")
    return view


def _views(bound, spec, on_cuda):
    for name, value in bound.arguments.items():
        if not is_array(value):
            continue
        if on_cuda and spec.cuda is not None:
            view = cuda_view(value)
        elif name in spec.in_place:
            view = _in_place_view(value, name)
        else:
            view = host_view(value)
        bound.arguments[name] = view


def _wrap(result, reference, on_cuda):
    if isinstance(result, tuple):
        return tuple(_wrap(r, reference, on_cuda) for r in result)
    if on_cuda:
        return wrap_cuda_like(result, reference)
    return wrap_like(result, reference)


def kernel(*, cpu, cuda, in_place=()):
    """Declare the decorated function as a public kernel (see the module docstring).

    Parameters
    ----------
    cpu : str
        "module.function" under ``kernels/cpu``.
    cuda : str or None
        "module.function" under ``kernels/cuda``; None for a host-only kernel.
    in_place : tuple of str
        Arguments the implementation writes into: their host views are never
        copies (TypeError unless C-contiguous and writable).
    """

    def declare(prepare):
        spec = Kernel(prepare.__name__, cpu, cuda, tuple(in_place))
        KERNELS[spec.name] = spec
        signature = inspect.signature(prepare)

        @functools.wraps(prepare)
        def run(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            reference = _reference(bound)
            reference_name = next(n for n, v in bound.arguments.items() if v is reference)
            _check_sides(bound, reference, reference_name)
            on_cuda = is_cuda_array(reference)
            _views(bound, spec, on_cuda)
            call = prepare(*bound.args, **bound.kwargs)
            side = "cuda" if on_cuda and spec.cuda is not None else "cpu"
            result = spec.implementation(side)(*call)
            return _wrap(result, reference, on_cuda)

        run.kernel = spec
        return run

    return declare
