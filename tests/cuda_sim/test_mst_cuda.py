"""kernels.cuda.mst under the CUDA simulator, against reference_graph.mst.

The simulator runs one Python thread per CUDA thread, so the launch shape
shrinks: four lanes and two rows per candidate block, four threads per
block elsewhere, and a memory budget of a few rows per Gram chunk, so that
inputs of a dozen points cross lane, block and chunk boundaries.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import config_context
from gpucluster.kernels.graph import MST_METRICS as METRICS
from gpucluster.kernels.metric import METRIC_CODES
from gpucluster.kernels.cuda import mst as mst_cuda
from gpucluster.kernels.cuda import union_find as union_find_cuda
from tests._helpers import rtol_for
from tests.kernels import reference_graph as reference



@pytest.fixture(autouse=True)
def small_launch(monkeypatch):
    monkeypatch.setattr(mst_cuda, "CAND_LANES", 4)
    monkeypatch.setattr(mst_cuda, "CAND_BLOCK_ROWS", 2)
    monkeypatch.setattr(mst_cuda, "BLOCK_THREADS", 4)
    monkeypatch.setattr(union_find_cuda, "BLOCK_THREADS", 4)


def run_mst(X, core, metric, alpha):
    with config_context(memory_budget=5 * X.shape[0] * X.itemsize):
        return mst_cuda.mst(X, core, METRIC_CODES[metric], alpha)


def check_tree(X, core, metric, alpha, edges, weights):
    """A spanning tree, sorted, with the reference's weights and total.

    Float32 edges are chosen with float32 GEMM distances (error about
    eps * |x|^2), so the total may differ by that much per edge.
    """
    n = X.shape[0]
    context = f"metric={metric} dtype={X.dtype} n={n} alpha={alpha}"
    assert edges.shape == (n - 1, 2) and edges.dtype == np.int64, context
    assert weights.shape == (n - 1,) and weights.dtype == np.float64, context
    assert np.all(edges[:, 0] < edges[:, 1]), context
    assert reference.connected_components(n, edges[:, 0], edges[:, 1]).max() == 0, context
    np.testing.assert_array_equal(np.lexsort((edges[:, 1], edges[:, 0], weights)), np.arange(n - 1))
    W = reference.mutual_reachability(X, core, metric, alpha)
    rtol = rtol_for(X.dtype)
    np.testing.assert_allclose(weights, W[edges[:, 0], edges[:, 1]], rtol=rtol, atol=rtol)
    ref_edges, ref_weights = reference.mst(X, core, metric, alpha)
    scale = 1.0 + float(np.max(np.sum(X.astype(np.float64) ** 2, axis=1)))
    np.testing.assert_allclose(weights.sum(), ref_weights.sum(), rtol=rtol,
                               atol=rtol * scale * n, err_msg=context)
    return ref_edges


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=4, deadline=None, database=None)
@given(
    n=st.integers(2, 12),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
    dtype=st.sampled_from([np.float32, np.float64]),
    with_core=st.booleans(),
    alpha=st.sampled_from([1.0, 0.6]),
)
def test_mst_matches_reference(metric, n, d, seed, dtype, with_core, alpha):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.integers(n)] = X[0]  # a duplicate point: a zero distance
    X = X.astype(dtype)
    core = reference.core_distances(X, min(3, n - 1), metric) if with_core else None
    edges, weights = run_mst(X, core, metric, alpha)
    check_tree(X, core, metric, alpha, edges, weights)


@pytest.mark.parametrize("metric", METRICS)
def test_mst_edges_equal_reference_when_weights_are_distinct(metric):
    X = np.random.default_rng(7).normal(size=(11, 3))
    edges, weights = run_mst(X, None, metric, 1.0)
    ref_edges = check_tree(X, None, metric, 1.0, edges, weights)
    assert set(map(tuple, edges)) == set(map(tuple, ref_edges))


def test_mst_cosine_of_tiny_rows_equals_the_unscaled_tree():
    # Squared norms near 2**-800 multiply to 0 in float64 (the edge weights
    # came out -inf); a power-of-two scale leaves every cosine distance as it was.
    X = np.random.default_rng(7).random((11, 3))
    expected = run_mst(X, None, "cosine", 1.0)
    got = run_mst(X * 2.0**-400, None, "cosine", 1.0)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_mst_ties_go_to_the_smallest_pairs():
    X = np.ones((5, 2), dtype=np.float32)
    edges, weights = run_mst(X, None, "euclidean", 1.0)
    np.testing.assert_array_equal(edges, [[0, 1], [0, 2], [0, 3], [0, 4]])
    np.testing.assert_array_equal(weights, np.zeros(4))


def test_mst_among_equal_weights_joins_the_nearer_pairs():
    # As on the CPU: all weights are the core distance 10, distances decide.
    X = np.array([[0.0], [1.0], [3.0]])
    edges, weights = run_mst(X, np.full(3, 10.0), "euclidean", 1.0)
    np.testing.assert_array_equal(edges, [[0, 1], [1, 2]])
    np.testing.assert_array_equal(weights, [10.0, 10.0])


def test_mst_of_a_hand_computed_line():
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    edges, weights = run_mst(X, np.array([2.0, 1.0, 2.0, 4.0]), "euclidean", 1.0)
    np.testing.assert_array_equal(edges, [[0, 1], [1, 2], [2, 3]])
    np.testing.assert_array_equal(weights, [2.0, 2.0, 4.0])


def test_mst_of_one_point_is_empty():
    edges, weights = mst_cuda.mst(np.zeros((1, 2)), None, 0, 1.0)
    assert edges.shape == (0, 2) and weights.shape == (0,)


def test_cycle_from_rounding_is_cut_at_its_heaviest_edge():
    # Three components (one point each) whose chosen edges close a triangle:
    # the host fallback keeps the two lightest, in (weight, a, b) order.
    X = np.array([[0.0], [1.0], [3.0]])
    comp = np.arange(3, dtype=np.int64)
    a = np.array([0, 1, 0], dtype=np.int64)
    b = np.array([1, 2, 2], dtype=np.int64)
    launch = mst_cuda.launch_for(X)
    keep = mst_cuda._acyclic(X, np.zeros(3), comp, 3, a, b, METRIC_CODES["euclidean"], 1.0, launch)
    np.testing.assert_array_equal(keep, [True, True, False])
