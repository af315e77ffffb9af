"""Per-label sums of pairwise distances on the CPU, the hot step of the silhouette.

For the rows :math:`i` of a block ``[start, stop)`` of X and every label
:math:`t`,

.. math:: S_{it} = \\sum_{j:\\, l_j = t} \\delta(x_i, x_j)

where :math:`\\delta` is the Euclidean distance, its square, or the cosine
distance :math:`1 - \\cos(x_i, x_j)` (1 when either row is zero), and
:math:`\\delta(x_i, x_i) = 0` exactly. Rows with a negative label contribute
to no column.

Distances come from BLAS GEMM tiles, :math:`|x|^2 - 2 x \\cdot y + |y|^2`
(on rows centred first, which keeps the cancellation small), and the
per-label scatter-sum runs in the same Numba pass while the tile is in
cache. The tile's rounding is absolute, about eps :math:`(|x|^2 + |y|^2)`, so
a squared distance below ``exact_below(dtype)`` times that sum (identical
and nearly identical rows) is recomputed from the rows' differences in
float64 instead. The matrix is symmetric, so inside the block each pair of
tiles is computed once and scattered both ways; the tile pairs are scheduled in
rounds of a round-robin tournament, in which no tile appears twice, so the
threads of one round never write the same output rows. That halves the GEMM
work: n=20,000 d=512 float32, 20 labels, took 1.00 s against 1.62-1.68 s with
every tile pair computed both ways (2 cores, 512-row tiles).
Reference: ``tests/kernels/reference.py::pairwise_sums``.
"""

import numba
import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE, single_threaded_blas
from ..metric import COSINE, SQEUCLIDEAN
from ..pairwise import centre
from .assign import row_sq_norms

# Rows (and columns) of one GEMM tile. At n=20,000 d=512 float32 on 2 cores
# 512-row tiles took 0.94-1.00 s against 1.00-1.05 s for 256-row ones.
# Smaller blocks get smaller tiles, down to MIN_TILE_ROWS, so that each
# round has a few tile pairs per thread.
TILE_ROWS = 512
MIN_TILE_ROWS = 64
PAIRS_PER_THREAD = 2
# A squared distance of the Gram tile below this many eps of X's dtype times
# |x|^2 + |y|^2, the scale of its rounding, is recomputed from the differences.
EXACT_BELOW_EPS = 2.0**12


@njit(fastmath={"reassoc", "contract"}, cache=NUMBA_CACHE)
def _sq_difference(X, i, j):
    """|x_i - x_j|^2 from the differences, in float64 (exact differences for float32 X)."""
    # Reassociation lets LLVM vectorise the sum; only the summation order changes.
    s = 0.0
    for t in range(X.shape[1]):
        v = np.float64(X[i, t]) - np.float64(X[j, t])
        s += v * v
    return s


@njit(cache=NUMBA_CACHE)
def _is_near(sq_dist, x_sq, y_sq, near):
    """Whether a squared distance of the Gram tile is too small to keep: below ``near``
    times :math:`|x|^2 + |y|^2`, the scale of its rounding (negative ones included)."""
    return sq_dist < near * (x_sq + y_sq)


@njit(cache=NUMBA_CACHE)
def _add(out, i, j, dist, label_i, label_j, start, both_ways):
    """Add one distance to row i's sum for label_j (and row j's for label_i both ways)."""
    if label_j >= 0:
        out[i - start, label_j] += dist
    if both_ways and label_i >= 0:
        out[j - start, label_i] += dist


@njit(cache=NUMBA_CACHE)
def _tile_sums(X, Xp, sq_norms, labels, metric, root, near, i0, i1, j0, j1, start, both_ways,
               out):
    """Scatter one tile of distances, rows [i0, i1) x columns [j0, j1), into ``out``.

    Row i adds to ``out[i - start, l_j]``; with ``both_ways`` column j also
    adds to ``out[j - start, l_i]`` (the tile mirrored across the diagonal).
    The sums go straight into ``out``, whose rows the caller's schedule
    gives to this thread alone: per-tile accumulators would cost
    O(tile * n_labels) to clear for every tile, ruinous with many labels.
    ``Xp`` holds the rows the GEMM takes and ``sq_norms`` their squared norms;
    the squared distances below ``near`` times :math:`|x|^2 + |y|^2` are
    skipped here and added by :func:`_near_sums` from the rows of X.
    """
    gram = np.dot(Xp[i0:i1], Xp[j0:j1].T)
    found = False
    for r in range(i1 - i0):
        i = i0 + r
        label_i = labels[i]
        x_sq = sq_norms[i]
        for c in range(j1 - j0):
            j = j0 + c
            if j == i:
                continue
            if metric == SQEUCLIDEAN:
                y_sq = sq_norms[j]
                dist = x_sq + y_sq - 2.0 * np.float64(gram[r, c])
                if _is_near(dist, x_sq, y_sq, near):
                    found = True
                    continue
                if root:
                    dist = np.sqrt(dist)
            else:
                dist = 1.0 - np.float64(gram[r, c])
                if dist < 0.0:
                    dist = 0.0
                elif dist > 2.0:
                    dist = 2.0
            _add(out, i, j, dist, label_i, labels[j], start, both_ways)
    if found:
        _near_sums(X, gram, sq_norms, labels, root, near, i0, i1, j0, j1, start, both_ways,
                   out)


@njit(cache=NUMBA_CACHE)
def _near_sums(X, gram, sq_norms, labels, root, near, i0, i1, j0, j1, start, both_ways, out):
    """The pairs of the tile that ``_tile_sums`` skipped, their distances from the
    differences of X's rows in float64. A second pass over the tile, taken only by
    tiles that have such pairs, keeps the first one's inner loop as lean as it was."""
    for r in range(i1 - i0):
        i = i0 + r
        x_sq = sq_norms[i]
        for c in range(j1 - j0):
            j = j0 + c
            y_sq = sq_norms[j]
            if j == i or not _is_near(x_sq + y_sq - 2.0 * np.float64(gram[r, c]), x_sq, y_sq,
                                      near):
                continue
            dist = _sq_difference(X, i, j)
            if root:
                dist = np.sqrt(dist)
            _add(out, i, j, dist, labels[i], labels[j], start, both_ways)


@njit(parallel=True, cache=NUMBA_CACHE)
def _block_sums(X, Xp, sq_norms, labels, metric, root, near, start, stop, tile_rows, rounds,
                out):
    """Distances among the rows of the block, each tile pair once.

    ``rounds[r]`` lists the tile pairs (a, b) of round r, padded with -1;
    a tile appears at most once per round, so the pairs of a round can run
    in parallel without write conflicts. A pair (a, a) is a diagonal tile.
    """
    for r in range(rounds.shape[0]):
        for p in prange(rounds.shape[1]):
            a = rounds[r, p, 0]
            if a < 0:
                continue
            b = rounds[r, p, 1]
            i0 = start + a * tile_rows
            i1 = min(stop, i0 + tile_rows)
            j0 = start + b * tile_rows
            j1 = min(stop, j0 + tile_rows)
            _tile_sums(X, Xp, sq_norms, labels, metric, root, near, i0, i1, j0, j1, start,
                       a != b, out)


@njit(parallel=True, cache=NUMBA_CACHE)
def _outside_sums(X, Xp, sq_norms, labels, metric, root, near, start, stop, tile_rows, out):
    """Distances from the rows of the block to the rows outside it (one way only)."""
    n = X.shape[0]
    n_tiles = (stop - start + tile_rows - 1) // tile_rows
    for a in prange(n_tiles):
        i0 = start + a * tile_rows
        i1 = min(stop, i0 + tile_rows)
        for j0 in range(0, start, tile_rows):
            _tile_sums(X, Xp, sq_norms, labels, metric, root, near, i0, i1, j0,
                       min(start, j0 + tile_rows), start, False, out)
        for j0 in range(stop, n, tile_rows):
            _tile_sums(X, Xp, sq_norms, labels, metric, root, near, i0, i1, j0,
                       min(n, j0 + tile_rows), start, False, out)


def exact_below(dtype):
    """The ratio of a squared distance to :math:`|x|^2 + |y|^2` below which the Gram
    tile's value is replaced by one from the rows' differences (CPU and CUDA alike).

    The tile's squared distance is off by about eps :math:`(|x|^2 + |y|^2)` whatever
    its size: identical float32 rows came out ``sqrt(eps) |x|`` apart, which set a
    coefficient of -1 at -0.99975. Above the ratio that rounding is under about
    1 / EXACT_BELOW_EPS of the squared distance; below it (identical and nearly
    identical rows, few pairs on most data) the distance is exact.
    """
    return EXACT_BELOW_EPS * float(np.finfo(dtype).eps)


def tournament_rounds(n_tiles):
    """Schedule every pair of tiles (a <= b) in rounds where no tile appears twice.

    The circle method of round-robin tournaments: with an even count of
    "players" (a dummy added when ``n_tiles`` is odd) each round pairs them
    all, and the tile paired with the dummy plays its diagonal tile (a, a)
    instead. With an even ``n_tiles`` the diagonal tiles get two rounds of
    their own. Every round has the same number of pairs.

    Returns
    -------
    rounds : ndarray (n_rounds, pairs_per_round, 2) int64, padded with -1
    """
    players = n_tiles + (n_tiles % 2)
    rounds = []
    for r in range(max(players - 1, 0)):
        order = [players - 1] + [(r + s) % (players - 1) for s in range(players - 1)]
        pairs = []
        for s in range(players // 2):
            a, b = order[s], order[players - 1 - s]
            if a >= n_tiles:
                pairs.append((b, b))
            elif b >= n_tiles:
                pairs.append((a, a))
            else:
                pairs.append((min(a, b), max(a, b)))
        rounds.append(pairs)
    if n_tiles % 2 == 0:
        # Two rounds of n_tiles / 2 diagonal tiles, not one of n_tiles: every
        # round then has the same width and no -1 padding, which Numba's
        # static split of a prange would hand to one thread as idle work.
        half = n_tiles // 2
        rounds.append([(a, a) for a in range(half)])
        rounds.append([(a, a) for a in range(half, n_tiles)])
    width = max((len(p) for p in rounds), default=0)
    out = np.full((len(rounds), width, 2), -1, dtype=np.int64)
    for r, pairs in enumerate(rounds):
        if pairs:
            out[r, : len(pairs)] = pairs
    return out


def prepare_rows(X, metric):
    """Rows as the GEMM sees them: centred for (sq)Euclidean, unit length for cosine.

    Both leave the distances unchanged; centring (on ``pairwise.centre``, a
    median) shrinks the norms that cancel in
    :math:`|x|^2 - 2 x \\cdot y + |y|^2`. Zero rows stay zero under cosine.
    Returns a new C-contiguous array in X's dtype (no float64 copy of X is
    made; the norms are accumulated in float64).
    """
    if metric == COSINE:
        norms = np.sqrt(row_sq_norms(X))
        inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0.0)
        return np.ascontiguousarray(X * inverse.astype(X.dtype)[:, None])
    return np.ascontiguousarray(X - centre(np, X))


def pairwise_sums(X, labels, n_labels, metric, root, start, stop):
    """Per-label distance sums for rows ``start:stop`` of X against all rows.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous
    labels : ndarray (n,), integer, values in [-1, n_labels); negative rows count nowhere
    n_labels : int
    metric : int
        ``SQEUCLIDEAN`` or ``COSINE`` from ``kernels._numba``.
    root : bool
        Take the square root of the squared Euclidean distance.
    start, stop : int
        The block of query rows, ``0 <= start <= stop <= n``.

    Returns
    -------
    sums : ndarray (stop - start, n_labels) float64
    """
    out = np.zeros((stop - start, n_labels), dtype=np.float64)
    if stop <= start or n_labels == 0:
        return out
    Xp = prepare_rows(X, metric)
    sq_norms = row_sq_norms(Xp)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    near = exact_below(X.dtype)
    tile_rows = tile_rows_for(stop - start)
    rounds = tournament_rounds((stop - start + tile_rows - 1) // tile_rows)
    with single_threaded_blas():
        _block_sums(X, Xp, sq_norms, labels, metric, bool(root), near, start, stop, tile_rows,
                    rounds, out)
        if start > 0 or stop < X.shape[0]:
            _outside_sums(X, Xp, sq_norms, labels, metric, bool(root), near, start, stop,
                          tile_rows, out)
    return out


def tile_rows_for(n_rows):
    """Tile size for a block of ``n_rows``: TILE_ROWS, halved while a round
    (about n_tiles / 2 pairs) would give a thread fewer than PAIRS_PER_THREAD pairs."""
    tile_rows = TILE_ROWS
    wanted_tiles = 2 * PAIRS_PER_THREAD * numba.get_num_threads()
    while tile_rows > MIN_TILE_ROWS and n_rows < wanted_tiles * tile_rows:
        tile_rows //= 2
    return tile_rows
