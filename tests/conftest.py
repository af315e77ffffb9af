"""Shared fixtures: the array backend (xp), dtype and seed; the gpu and slow marks."""

import os

import numpy as np
import pytest

from gpucluster import backend, set_config

# No test downloads model weights: huggingface_hub reads this once, at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The CUDA-simulator tests run in their own process (NUMBA_ENABLE_CUDASIM must
# be set before numba is imported); tests/test_cuda_sim.py starts it.
collect_ignore = [] if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else ["cuda_sim"]

SEED = int(os.environ.get("GPUCLUSTER_TEST_SEED", "0"))


class Backend:
    """One array backend under test: a name, its namespace, and a converter from NumPy."""

    def __init__(self, name, xp, asarray, device):
        self.name = name
        self.xp = xp
        self._asarray = asarray
        self.device = device

    def asarray(self, a):
        return self._asarray(np.asarray(a))

    def __repr__(self):
        return self.name


def _numpy():
    import array_api_compat.numpy as xp

    return Backend("numpy", xp, lambda a: a, "cpu")


def _torch_cpu():
    torch = pytest.importorskip("torch")
    import array_api_compat.torch as xp

    return Backend("torch-cpu", xp, lambda a: torch.asarray(a), "cpu")


def _strict():
    xp = pytest.importorskip("array_api_strict")
    return Backend("array_api_strict", xp, lambda a: xp.asarray(a), "cpu")


def _cupy():
    if not backend.gpu_available():
        pytest.skip("no CUDA GPU answers")
    import array_api_compat.cupy as xp
    import cupy

    return Backend("cupy", xp, cupy.asarray, "cuda")


def _torch_cuda():
    if not backend.gpu_available():
        pytest.skip("no CUDA GPU answers")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    import array_api_compat.torch as xp

    return Backend("torch-cuda", xp, lambda a: torch.asarray(a, device="cuda"), "cuda")


BACKENDS = {
    "numpy": _numpy,
    "torch-cpu": _torch_cpu,
    "array_api_strict": _strict,
    "cupy": _cupy,
    "torch-cuda": _torch_cuda,
}
GPU_BACKENDS = ("cupy", "torch-cuda")


@pytest.fixture(
    params=[
        pytest.param(name, marks=pytest.mark.gpu) if name in GPU_BACKENDS else name
        for name in BACKENDS
    ]
)
def xp(request):
    """The backend under test (a ``Backend``: ``.xp``, ``.asarray(numpy_array)``, ``.name``)."""
    return BACKENDS[request.param]()


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture
def seed():
    return SEED


@pytest.fixture(autouse=True)
def _reset_config():
    """Each test starts from the default configuration."""
    set_config(device="auto", output_type="input")
    yield
    set_config(device="auto", output_type="input")


def pytest_collection_modifyitems(config, items):
    if backend.gpu_available():
        return
    skip_gpu = pytest.mark.skip(reason="no CUDA GPU answers")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
