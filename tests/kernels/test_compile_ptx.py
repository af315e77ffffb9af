"""Every numba.cuda kernel compiles to PTX for sm_90, in float32 and float64.

Compiling needs libNVVM (from numba-cuda's cu13 extra) but no GPU, so the
main suite catches typing errors that the CUDA simulator, which runs the
kernels as Python, cannot. It says nothing about running on a GPU.
"""

import pytest
from numba import config, cuda
from numba import types as nt

from gpucluster.kernels.cuda import assign as assign_cuda
from gpucluster.kernels.cuda import centroids as centroids_cuda
from gpucluster.kernels.cuda import knn as knn_cuda
from gpucluster.kernels.cuda import knn_graph as knn_graph_cuda
from gpucluster.kernels.cuda import mst as mst_cuda
from gpucluster.kernels.cuda import radius as radius_cuda
from gpucluster.kernels.cuda import seeding as seeding_cuda
from gpucluster.kernels.cuda import union_find as union_find_cuda

pytestmark = pytest.mark.skipif(
    config.ENABLE_CUDASIM, reason="the CUDA simulator cannot compile to PTX"
)

CC = (9, 0)


def _signatures(dtype):
    matrix, vector = dtype[:, ::1], dtype[::1]
    labels, metric = nt.int32[::1], nt.int64
    return [
        (assign_cuda._row_norms_kernel, (matrix, vector, vector)),
        (
            assign_cuda._assign_fused_kernel,
            (matrix, matrix, vector, metric, labels, vector),
        ),
        (
            assign_cuda._argmin_gram_kernel,
            (matrix, vector, vector, vector, vector, metric, labels, vector),
        ),
        (  # with the float64 squared row norms a fit computes once
            assign_cuda._argmin_gram_kernel,
            (matrix, nt.float64[::1], nt.float64[::1], vector, vector, metric, labels, vector),
        ),
    ] + [
        (
            centroids_cuda._item_sums_kernel,
            (matrix, nt.int64[::1], weights, nt.int64[::1], nt.int64[::1], nt.float64[:, ::1]),
        )
        for weights in (vector, nt.float64[::1])  # (0,) stands for all ones
    ] + [
        (
            centroids_cuda._reduce_items_kernel,
            (nt.float64[:, ::1], nt.int64[::1], nt.float64[:, ::1], nt.float64[::1]),
        )
    ]


CASES = [
    pytest.param(kernel, signature, id=f"{kernel.py_func.__name__}-{dtype}-{i}")
    for dtype in (nt.float32, nt.float64)
    for i, (kernel, signature) in enumerate(_signatures(dtype))
]


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


GRAPH_CASES = (
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


def _neighbor_signatures(dtype):
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
             nt.int64[::1], nt.int64[::1], nt.int64[::1]),
        ),
    ]


NEIGHBOR_CASES = [
    pytest.param(kernel, signature, id=f"{kernel.py_func.__name__}-{dtype}")
    for dtype in (nt.float32, nt.float64)
    for kernel, signature in _neighbor_signatures(dtype)
]


SEEDING_CASES = [
    pytest.param(kernel, signature, id=f"{kernel.py_func.__name__}-{dtype}")
    for dtype in (nt.float32, nt.float64)
    for kernel, signature in [
        (
            seeding_cuda._potentials_kernel,
            (dtype[:, ::1], F64, dtype[:, ::1], dtype[::1], dtype[:, ::1], nt.boolean,
             nt.float64[:, ::1]),
        ),
        (seeding_cuda._update_kernel, (dtype[:, ::1], dtype[::1], dtype[::1])),
        (
            seeding_cuda._potentials_gram_kernel,
            (dtype[:, ::1], dtype[::1], dtype[::1], dtype[::1], F64, nt.int64, dtype[:, ::1],
             nt.boolean, nt.float64[:, ::1]),
        ),
    ]
]


@pytest.fixture(scope="module", autouse=True)
def _nvvm():
    """Skip the module, naming the library, when libNVVM cannot be loaded."""
    try:
        from numba.cuda.cudadrv.nvvm import NVVM

        NVVM()
    except Exception as exc:
        pytest.skip(f"libNVVM (numba-cuda[cu13]'s nvidia-nvvm) is missing: {exc}")


@pytest.mark.parametrize(
    "kernel, signature", CASES + GRAPH_CASES + NEIGHBOR_CASES + SEEDING_CASES
)
def test_kernel_compiles_to_ptx(kernel, signature):
    ptx, _ = cuda.compile_ptx(kernel, signature, cc=CC)
    assert ".entry" in ptx
    assert kernel.py_func.__name__ in ptx


KNN_GRAPH_CASES = [
    pytest.param(
        knn_graph_cuda._block_merge_kernel,
        (dtype[:, ::1], nt.int64[::1], nt.float64[::1], nt.int64, nt.int64, nt.float64[:, ::1],
         nt.int64[:, ::1]),
        id=f"_block_merge_kernel-{dtype}",
    )
    for dtype in (nt.float32, nt.float64)
]


@pytest.mark.parametrize("kernel, signature", KNN_GRAPH_CASES)
def test_knn_graph_kernel_compiles_to_ptx(kernel, signature):
    ptx, _ = cuda.compile_ptx(kernel, signature, cc=CC)
    assert ".entry" in ptx
    assert kernel.py_func.__name__ in ptx
