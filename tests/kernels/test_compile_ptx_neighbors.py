"""The neighbour-search numba.cuda kernels compile to PTX for sm_90, in float32 and float64.

As tests/kernels/test_compile_ptx.py: needs libNVVM but no GPU, and catches
typing errors that the CUDA simulator cannot.
"""

import pytest
from numba import config, cuda
from numba import types as nt

from gpucluster.kernels.cuda import knn as knn_cuda
from gpucluster.kernels.cuda import radius as radius_cuda

pytestmark = pytest.mark.skipif(
    config.ENABLE_CUDASIM, reason="the CUDA simulator cannot compile to PTX"
)

CC = (9, 0)


def _signatures(dtype):
    gram = dtype[:, ::1]
    terms = nt.float64[::1]
    index = nt.int64
    flag = nt.boolean
    return [
        (
            knn_cuda._knn_merge_kernel,
            (gram, terms, terms, index, index, nt.int64, flag, flag,
             nt.float64[:, ::1], nt.int64[:, ::1]),
        ),
        (
            radius_cuda._radius_count_kernel,
            (gram, terms, terms, index, index, nt.int64, nt.float64, flag, flag,
             nt.int64[::1]),
        ),
        (
            radius_cuda._radius_fill_kernel,
            (gram, terms, terms, index, index, nt.int64, nt.float64, flag, flag,
             nt.int64[::1], nt.int64[::1]),
        ),
    ]


CASES = [
    pytest.param(kernel, signature, id=f"{kernel.py_func.__name__}-{dtype}")
    for dtype in (nt.float32, nt.float64)
    for kernel, signature in _signatures(dtype)
]


@pytest.fixture(scope="module", autouse=True)
def _nvvm():
    """Skip the module, naming the library, when libNVVM cannot be loaded."""
    try:
        from numba.cuda.cudadrv.nvvm import NVVM

        NVVM()
    except Exception as exc:
        pytest.skip(f"libNVVM (numba-cuda[cu13]'s nvidia-nvvm) is missing: {exc}")


@pytest.mark.parametrize("kernel, signature", CASES)
def test_kernel_compiles_to_ptx(kernel, signature):
    ptx, _ = cuda.compile_ptx(kernel, signature, cc=CC)
    assert ".entry" in ptx
    assert kernel.py_func.__name__ in ptx
