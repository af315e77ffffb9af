"""connected_components (CPU kernel) against SciPy's, renumbered, on every host backend."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import kernels

from .._helpers import assert_same_kind, to_numpy
from . import reference_graph as reference


@st.composite
def graphs(draw):
    """Random edge lists: isolated nodes, self-loops and repeated edges all occur."""
    n = draw(st.integers(0, 50))
    m = draw(st.integers(0, 60)) if n else 0
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    sources = rng.integers(0, max(n, 1), size=m)
    targets = rng.integers(0, max(n, 1), size=m)
    if m and draw(st.booleans()):
        targets[: m // 3] = sources[: m // 3]
    return n, sources.astype(np.int64), targets.astype(np.int64)


@settings(max_examples=60, deadline=None)
@given(graph=graphs())
def test_connected_components_matches_reference(graph):
    n, sources, targets = graph
    labels = kernels.connected_components(n, sources, targets)
    assert labels.dtype == np.int64 and labels.shape == (n,)
    np.testing.assert_array_equal(labels, reference.connected_components(n, sources, targets))


def test_connected_components_numbers_by_smallest_node():
    # Components {0, 4}, {1}, {2, 3, 5}: labelled in the order of nodes 0, 1, 2.
    labels = kernels.connected_components(6, np.array([4, 5, 3, 1]), np.array([0, 3, 2, 1]))
    np.testing.assert_array_equal(labels, [0, 1, 2, 2, 0, 2])


def test_connected_components_on_every_backend(xp):
    sources = xp.asarray(np.array([0, 2, 7], dtype=np.int64))
    targets = xp.asarray(np.array([3, 2, 8], dtype=np.int32))
    labels = kernels.connected_components(9, sources, targets)
    assert_same_kind(labels, sources)
    np.testing.assert_array_equal(to_numpy(labels), [0, 1, 2, 0, 3, 4, 5, 6, 6])


@pytest.mark.parametrize(
    "n_nodes, sources, targets, error, match",
    [
        (3, [0, 3], [1, 1], ValueError, r"sources must lie in \[0, 3\), got values from 0 to 3"),
        (3, [0, 1], [-1, 1], ValueError, r"targets must lie in \[0, 3\)"),
        (3, [0, 1], [1], ValueError, "equal length"),
        (-1, [], [], ValueError, "n_nodes must be >= 0"),
        (2.0, [0], [1], TypeError, "n_nodes must be an integer"),
        (3, [0.0], [1.0], TypeError, "integer array"),
    ],
    ids=["source-range", "target-negative", "lengths", "n-negative", "n-float", "float-edges"],
)
def test_connected_components_rejects_bad_input(n_nodes, sources, targets, error, match):
    dtype = np.float64 if isinstance(sources[0] if sources else 0, float) else np.int64
    with pytest.raises(error, match=match):
        kernels.connected_components(
            n_nodes, np.asarray(sources, dtype=dtype), np.asarray(targets, dtype=dtype)
        )
