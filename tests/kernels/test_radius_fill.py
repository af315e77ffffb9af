"""The CPU radius search's fill pass stays inside its rows when it sees other distances than the count.

The count and fill passes run the same tiles through the same code, so on
one machine they agree; these tests make the fill compare its distances one
ulp off (its threshold nudged by one ulp, which flips exactly the pairs at
the threshold, as a one-ulp change of their distances would) and check the
result is consistent and correct, or a clear error, and that nothing is
written past the lists.
"""

import numpy as np
import pytest

from gpucluster.kernels.cpu import radius as radius_cpu
from gpucluster.kernels.cpu.kdtree import KDTREE_MAX_FEATURES
from gpucluster.kernels.metric import SQEUCLIDEAN

from . import reference_neighbors as reference

SENTINEL = -7
PAD = 64

# Collinear integer points, padded past the KD-tree's feature limit so the
# GEMM-tile path runs; pairs one apart (squared distance exactly 1).
LINE = np.array([1.0, 2.0, 5.0, 9.0, 10.0, 14.0, 18.0, 19.0])
X = np.zeros((len(LINE), KDTREE_MAX_FEATURES + 1))
X[:, 0] = LINE
# Reversed as queries, so the last query row (at 1) has a pair at the threshold.
QUERIES = np.ascontiguousarray(X[::-1])


class PerturbedFill:
    """Stands in for ``_radius_tiles``: nudges the fill's threshold and guards past the lists."""

    def __init__(self, direction, perturb):
        self.real = radius_cpu._radius_tiles
        self.direction = direction
        self.perturb = perturb
        self.fills = 0
        self.written_past_end = 0

    def __call__(self, Q, X, q_terms, x_terms, metric, threshold, self_query, include_self,
                 tile_q, tile_x, fill, counts, indptr, indices):
        args = [Q, X, q_terms, x_terms, metric, threshold, self_query, include_self,
                tile_q, tile_x, fill, counts, indptr]
        if not fill:
            return self.real(*args, indices)
        if self.perturb(self.fills):
            # A higher threshold (distances one ulp lower): direction 1 finds more.
            args[5] = float(np.nextafter(threshold, self.direction * np.inf))
        self.fills += 1
        padded = np.full(len(indices) + PAD, SENTINEL, dtype=np.int64)
        view = padded[:len(indices)]
        self.real(*args, view)
        self.written_past_end += int(np.count_nonzero(padded[len(indices):] != SENTINEL))
        indices[:] = view


def run_perturbed(threshold, direction, perturb, monkeypatch):
    fill = PerturbedFill(direction, perturb)
    monkeypatch.setattr(radius_cpu, "_radius_tiles", fill)
    try:
        result = radius_cpu.radius_neighbors(X, QUERIES, threshold, SQEUCLIDEAN, True, True)
    finally:
        assert fill.written_past_end == 0, "the fill wrote past the lists"
    return fill, result


@pytest.mark.parametrize("direction", [1, -1], ids=["fill-finds-more", "fill-finds-fewer"])
def test_radius_fill_off_by_one_ulp_stays_in_its_rows(direction, monkeypatch):
    # Up: the count sees the one-apart pairs just outside the threshold and the
    # fill just inside; down: the count sees them at it, the fill beyond.
    threshold = np.nextafter(1.0, 0.0) if direction == 1 else 1.0
    fill, result = run_perturbed(threshold, direction, lambda fill: True, monkeypatch)
    assert fill.fills >= 2, "the fill's disagreement went unnoticed"
    # Every fill sees the same nudged distances, so the result follows the fill's view.
    fill_threshold = 1.0 if direction == 1 else np.nextafter(1.0, 0.0)
    want = reference.radius_neighbors(X, fill_threshold, QUERIES, "sqeuclidean")
    for got, expected in zip(result, want):
        np.testing.assert_array_equal(got, expected)


def test_radius_fill_disagreeing_once_is_filled_again(monkeypatch):
    threshold = np.nextafter(1.0, 0.0)
    fill, result = run_perturbed(threshold, 1, lambda fill: fill == 0, monkeypatch)
    assert fill.fills == 3
    want = reference.radius_neighbors(X, threshold, QUERIES, "sqeuclidean")
    for got, expected in zip(result, want):
        np.testing.assert_array_equal(got, expected)


def test_radius_fills_that_never_agree_raise(monkeypatch):
    with pytest.raises(RuntimeError, match="fill passes in a row found other neighbours"):
        run_perturbed(np.nextafter(1.0, 0.0), 1, lambda fill: fill % 2 == 0, monkeypatch)


def test_fill_range_never_writes_past_the_row_end():
    g = np.array([2.0, 0.0, 2.0, 2.0])
    x_terms = np.array([4.0, 100.0, 4.0, 4.0])
    indices = np.full(6, SENTINEL, dtype=np.int64)
    # Three columns within, room for two from position 1 (end 3).
    pos = radius_cpu._fill_range(g, 0, 4, 0, 1.0, x_terms, SQEUCLIDEAN, 1.0, indices, 1, 3)
    assert pos == 4
    np.testing.assert_array_equal(indices, [SENTINEL, 0, 2, SENTINEL, SENTINEL, SENTINEL])
