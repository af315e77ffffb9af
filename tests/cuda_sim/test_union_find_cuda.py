"""kernels.cuda.union_find under the CUDA simulator, against reference_graph.connected_components.

Blocks of four threads make every graph span several blocks.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster.kernels.cuda import union_find as union_find_cuda
from tests.kernels import reference_graph as reference


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(union_find_cuda, "BLOCK_THREADS", 4)


@settings(max_examples=10, deadline=None, database=None)
@given(
    n=st.integers(1, 20),
    m=st.integers(0, 25),
    seed=st.integers(0, 2**31 - 1),
    index_type=st.sampled_from([np.int32, np.int64]),
)
def test_connected_components_matches_reference(n, m, seed, index_type):
    rng = np.random.default_rng(seed)
    sources = rng.integers(0, n, size=m).astype(index_type)
    targets = rng.integers(0, n, size=m).astype(index_type)
    targets[: m // 4] = sources[: m // 4]  # self-loops
    labels = union_find_cuda.connected_components(n, sources, targets)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, reference.connected_components(n, sources, targets))


def test_connected_components_of_a_long_chain_numbers_by_smallest_node():
    # Edges listed from the far end, so roots must travel the whole chain.
    order = np.arange(9, 0, -1)
    labels = union_find_cuda.connected_components(12, order, order - 1)
    np.testing.assert_array_equal(labels, [0] * 10 + [1, 2])


def test_connected_components_without_edges_or_nodes():
    empty = np.zeros(0, dtype=np.int64)
    np.testing.assert_array_equal(union_find_cuda.connected_components(3, empty, empty), [0, 1, 2])
    assert union_find_cuda.connected_components(0, empty, empty).shape == (0,)
