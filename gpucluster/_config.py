"""Global defaults for device placement and output types, kept in contextvars.

``set_config`` changes the defaults of the current context; ``config_context``
changes them inside a ``with`` block only. Estimators whose ``device`` is
``"auto"`` or whose ``output_type`` is ``"input"`` fall back to these values.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from .kernels.memory import host_memory_budget

DEVICES = ("auto", "cpu", "cuda")
OUTPUT_TYPES = ("input", "numpy", "cupy", "torch")

# device="auto" moves host data to the GPU only when an estimator's work, in
# floating-point operations, is above this many. The estimate: copying
# n*d float32 values over PCIe (~20 GB/s) must cost less than the CPU time
# saved (~50 GFLOP/s on a 2-core host against >10 TFLOP/s on the GPU). For a
# KMeans with k centres and a few iterations that break-even sits near
# n*d*k*iters = 2e8. It has not been measured on a GPU yet: see
# benchmarks/NOTES.md ("device=auto threshold").
AUTO_GPU_MIN_WORK = 2e8

_DEFAULTS = {
    "device": "auto",
    "output_type": "input",
}

_config = ContextVar("gpucluster_config", default=dict(_DEFAULTS))


def get_config():
    """Return a copy of the current configuration as a dict.

    ``memory_budget`` (bytes of host memory one chunked step may allocate;
    None derives it from the memory available when the step runs) is kept
    by the kernels, which size their chunks with it.
    """
    return dict(_config.get(), memory_budget=host_memory_budget.get())


def _checked(device, output_type, memory_budget):
    config = get_config()
    if device is not None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}.")
        config["device"] = device
    if output_type is not None:
        if output_type not in OUTPUT_TYPES:
            raise ValueError(
                f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}."
            )
        config["output_type"] = output_type
    if memory_budget is not None:
        if not isinstance(memory_budget, int) or memory_budget <= 0:
            raise ValueError(
                f"memory_budget must be a positive number of bytes, got {memory_budget!r}."
            )
        config["memory_budget"] = memory_budget
    return config


def _set(config):
    """Set ``config`` in the current context; returns the tokens that undo it."""
    budget = config.pop("memory_budget")
    return _config.set(config), host_memory_budget.set(budget)


def set_config(device=None, output_type=None, memory_budget=None):
    """Set gpucluster's defaults for the current context.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}, optional
        Where estimators with ``device="auto"`` compute.
    output_type : {"input", "numpy", "cupy", "torch"}, optional
        The array type estimators with ``output_type="input"`` return.
    memory_budget : int, optional
        Bytes of host memory one chunked step may use.
    """
    _set(_checked(device, output_type, memory_budget))


@contextmanager
def config_context(*, device=None, output_type=None, memory_budget=None):
    """Temporarily change gpucluster's defaults inside a ``with`` block.

    Takes the same arguments as :func:`set_config`; the previous values come
    back when the block exits, even on an exception.
    """
    config_token, budget_token = _set(_checked(device, output_type, memory_budget))
    try:
        yield
    finally:
        host_memory_budget.reset(budget_token)
        _config.reset(config_token)
