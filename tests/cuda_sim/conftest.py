"""The CUDA-simulator tests skip themselves unless NUMBA_ENABLE_CUDASIM=1 was set before numba loaded.

``tests/test_cuda_sim.py`` starts them in a process of their own with the
variable set; run directly (``pytest tests/cuda_sim``) without it, they
would launch real CUDA kernels, so they skip with that explanation instead.
"""

import os

import pytest

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def pytest_collection_modifyitems(config, items):
    if SIMULATED:
        return
    skip = pytest.mark.skip(
        reason="needs Numba's CUDA simulator: NUMBA_ENABLE_CUDASIM=1 "
        "(tests/test_cuda_sim.py sets it)"
    )
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(skip)
