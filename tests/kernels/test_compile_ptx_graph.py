"""Every numba.cuda kernel of the graph kernels compiles to PTX for sm_90.

As tests/kernels/test_compile_ptx.py: libNVVM but no GPU is needed, and
typing errors that the CUDA simulator cannot see are caught here.
"""

import pytest
from numba import config, cuda
from numba import types as nt

from gpucluster.kernels.cuda import mst as mst_cuda
from gpucluster.kernels.cuda import union_find as union_find_cuda

pytestmark = pytest.mark.skipif(
    config.ENABLE_CUDASIM, reason="the CUDA simulator cannot compile to PTX"
)

CC = (9, 0)
F64, I64 = nt.float64[::1], nt.int64[::1]


def _mst_signatures(dtype):
    matrix = dtype[:, ::1]
    return [
        (mst_cuda._row_norms_kernel, (matrix, F64, F64)),
        (
            mst_cuda._candidate_kernel,
            (matrix, nt.int64, F64, F64, F64, I64, nt.int64, nt.float64, F64, F64, I64),
        ),
        (mst_cuda._edge_weights_kernel, (matrix, F64, I64, I64, nt.int64, nt.float64, F64)),
    ]


CASES = (
    [
        pytest.param(kernel, signature, id=f"{kernel.py_func.__name__}-{dtype}")
        for dtype in (nt.float32, nt.float64)
        for kernel, signature in _mst_signatures(dtype)
    ]
    + [
        pytest.param(kernel, signature, id=kernel.py_func.__name__)
        for kernel, signature in [
            (mst_cuda._component_min_weight_kernel, (I64, F64, I64, F64)),
            (mst_cuda._component_min_dist_kernel, (I64, F64, F64, I64, F64, F64)),
            (mst_cuda._component_min_edge_kernel, (I64, F64, F64, I64, F64, F64, I64)),
            (union_find_cuda._jump_kernel, (I64,)),
        ]
    ]
    + [
        pytest.param(
            union_find_cuda._hook_kernel,
            (I64, index_type[::1], index_type[::1], nt.int32[::1]),
            id=f"_hook_kernel-{index_type}",
        )
        for index_type in (nt.int32, nt.int64)
    ]
)


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
