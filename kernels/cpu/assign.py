"""Nearest-centre assignment on the CPU, optionally fused with the centroid sums.

For every row :math:`x_i` of X find :math:`\\arg\\min_j \\delta(x_i, c_j)` and the
distance to it, where :math:`\\delta` is the squared Euclidean distance, the
negated inner product or the cosine distance :math:`1 - x \\cdot c / (|x||c|)`
(1 when either vector is zero). Ties go to the lowest centre index.
``lloyd_step`` also accumulates :math:`S_j = \\sum_{l_i = j} w_i x_i` and
:math:`W_j = \\sum_{l_i = j} w_i` in float64 while each tile is in cache.

Up to ``DIRECT_MAX_FEATURES`` (16) features the products are computed
directly (``_argmin_direct``): each tile of rows is copied transposed into
a per-thread scratch array, and for each centre the products are summed
down contiguous rows, the last pass keeping the nearer centre; no BLAS call
and no (k, rows) tile. Up to 8 features (7 for the sums) the loops over a
row's features are compiled for each width, with constant trip counts, and
each centre takes one pass; above, two features per pass. In a tile whose
labels come in long runs (neighbouring pixels) the sums add each run down
the transposed tile instead of row by row. Above 16 features, each tile
takes a BLAS GEMM into a per-thread buffer, then an argmin over it. The GEMM tiles beat
a one-pass loop over rows even at d=2 (41 ms against 62 ms at n=1M k=64),
but the direct products, vectorised across rows, beat the GEMM tiles up to
d=16 at every k measured (8 to 256) and lose at d=32 (benchmarks/NOTES.md,
"lloyd_step at low d"). The GEMM tile is computed transposed, (k, rows),
so that the argmin runs down contiguous rows with vector compares and
blends instead of a branchy scan per row, and squared row norms are summed
with ``fastmath={"reassoc"}`` so that they vectorise (30 ms -> 4 ms at
n=1M d=32); benchmarks/NOTES.md has the measurements. Ties go to the
lowest index on the direct path; GEMM tiles may round two identical
centres' products differently. Rows are re-centred by the callers that
need it (KMeans centres X) to keep the cancellation in
:math:`|x|^2 - 2 x \\cdot c + |c|^2` small. The two paths are separate
parallel kernels (``_direct_tiles``, ``_gemm_tiles``), so that a first call
compiles only the one its data takes: 4.0 s for GEMM tiles and 14.2 s for
direct products, where one kernel for both took 16.5 s (benchmarks/NOTES.md,
"assign compiles one path"); the direct kernel is compiled for X's width
alone (``width_marker``), 8.5 s where all eight widths took 19-23 s
("assign compiles one width").
Reference: ``tests/kernels/reference.py::assign`` and ``::centroid_update``.
"""

import numba
import numpy as np
from numba import njit, prange

from .._numba import NUMBA_CACHE, single_threaded_blas
from ..metric import COSINE, INNER_PRODUCT, SQEUCLIDEAN
from .centroids import reduce_blocks

# Rows per GEMM tile: as many as keep the (k, rows) tile within GRAM_TILE_BYTES
# (about an L2 cache) while the argmin reads it back, between 64 and 512.
# Measured best at n=1M d=32 k=64 (512 rows), n=200k d=512 k=100 (512) and
# n=200k d=128 k=1000 (256); benchmarks/NOTES.md, "assign: tile rows".
GRAM_TILE_BYTES = 2**20
MIN_TILE_ROWS = 64
MAX_TILE_ROWS = 512
# Direct products (no GEMM) up to this many features, in tiles of this many rows.
DIRECT_MAX_FEATURES = 16
DIRECT_TILE_ROWS = 256
# Up to this many features the direct path's kernel is compiled for X's width.
NARROW_MAX_FEATURES = 8
# A direct tile whose labels come in runs at least this long on average (pixels of
# an image) adds each run's rows as sums down the transposed tile.
MIN_MEAN_RUN = 16


@njit(fastmath={"reassoc", "contract"}, cache=NUMBA_CACHE)
def _sq_norm(x):
    # Reassociation lets LLVM vectorise the sum; only the summation order changes.
    s = 0.0
    for t in range(x.shape[0]):
        s += np.float64(x[t]) * x[t]
    return s


@njit(parallel=True, cache=NUMBA_CACHE)
def row_sq_norms(X):
    """Squared L2 norm of every row of X (n, d), accumulated in float64."""
    out = np.empty(X.shape[0], dtype=np.float64)
    for i in prange(X.shape[0]):
        out[i] = _sq_norm(X[i])
    return out


@njit(cache=NUMBA_CACHE)
def _argmin_tile(gram_t, offsets, scales, best, best_j):
    """Per column r of ``gram_t`` (k, rows): min over j of offsets[j] + scales[j] * gram_t[j, r].

    Scans j upwards with a strict ``<``, so ties keep the lowest index; the
    inner loop over contiguous r vectorises as compare-and-blend.
    """
    k, rows = gram_t.shape
    for r in range(rows):
        best[r] = offsets[0] + scales[0] * gram_t[0, r]
        best_j[r] = 0
    for j in range(1, k):
        offset = offsets[j]
        scale = scales[j]
        for r in range(rows):
            v = offset + scale * gram_t[j, r]
            if v < best[r]:
                best[r] = v
                best_j[r] = j


@njit(inline="always", cache=NUMBA_CACHE)
def _keep_nearer(best, best_j, r, v, j):
    # A select rather than a branch, so that the loop around it vectorises.
    nearer = (v < best[r]) | (j == 0)
    best[r] = v if nearer else best[r]
    best_j[r] = j if nearer else best_j[r]


@njit(fastmath={"contract"}, cache=NUMBA_CACHE)
def _argmin_direct(xt, centers, offsets, scales, acc, best, best_j):
    """``_argmin_tile`` of the products ``centers @ xt``, computed here centre by centre.

    ``xt`` (d, tile rows) holds a tile of X transposed. For each centre the
    products are summed two features per pass over the tile, in ``acc``, and
    the pass over the last one or two features also keeps the nearer centre:
    every inner loop runs over whole contiguous rows of ``xt`` and
    vectorises, ``acc`` is stored and reloaded about d/2 times, and no (k,
    rows) tile is written (at d <= 2 nothing but ``best``). Columns past the
    tile's last row are computed too (a fixed trip count vectorises better)
    and ignored.
    """
    k, d = centers.shape
    rows = xt.shape[1]
    # Features [0, first_last) go through acc; the last pass takes the rest (1 or 2).
    first_last = d - 2 + d % 2 if d > 2 else 0
    for j in range(k):
        if first_last:
            c0 = centers[j, 0]
            c1 = centers[j, 1]
            x0 = xt[0]
            x1 = xt[1]
            for r in range(rows):
                acc[r] = c0 * x0[r] + c1 * x1[r]
            for t in range(2, first_last, 2):
                c0 = centers[j, t]
                c1 = centers[j, t + 1]
                x0 = xt[t]
                x1 = xt[t + 1]
                for r in range(rows):
                    acc[r] += c0 * x0[r] + c1 * x1[r]
        offset = offsets[j]
        scale = scales[j]
        c0 = centers[j, first_last]
        x0 = xt[first_last]
        if d - first_last == 2:
            c1 = centers[j, first_last + 1]
            x1 = xt[first_last + 1]
            if first_last:
                for r in range(rows):
                    _keep_nearer(best, best_j, r,
                                 offset + scale * (acc[r] + c0 * x0[r] + c1 * x1[r]), j)
            else:
                for r in range(rows):
                    _keep_nearer(best, best_j, r, offset + scale * (c0 * x0[r] + c1 * x1[r]), j)
        elif first_last:
            for r in range(rows):
                _keep_nearer(best, best_j, r, offset + scale * (acc[r] + c0 * x0[r]), j)
        else:
            for r in range(rows):
                _keep_nearer(best, best_j, r, offset + scale * (c0 * x0[r]), j)


@njit(fastmath={"contract"}, cache=NUMBA_CACHE)
def _argmin_direct_narrow(X, fixed, start, rows, centers, offsets, scales, xt, best, best_j):
    """``_argmin_direct`` for X's width known at compile time: ``len(fixed)``, 1 to 8.

    The tile is copied, then each centre takes one pass. With the loops over
    a row's features unrolled, each centre's products of all ``width``
    features are summed in one vectorised pass down the tile, with no
    ``acc`` stored and reloaded.
    """
    width = len(fixed)
    for r in range(rows):
        for t in range(width):
            xt[t, r] = X[start + r, t]
    for j in range(centers.shape[0]):
        offset = offsets[j]
        scale = scales[j]
        for r in range(xt.shape[1]):
            product = centers[j, 0] * xt[0, r]
            for t in range(1, width):
                product += centers[j, t] * xt[t, r]
            _keep_nearer(best, best_j, r, offset + scale * product, j)


def width_marker(n_features):
    """X's width as a type: a tuple of ``n_features`` zeros up to 8 features, else ``()``.

    A tuple's length is part of its Numba type, so a kernel given the marker
    is compiled once per width that occurs, with ``len(fixed)`` a constant
    inside it: the loops over a row's features get constant trip counts and
    unroll. Passed down from ``_run`` rather than branching on X's width in
    the kernel, which compiled all eight widths on the first call, whatever
    the data (benchmarks/NOTES.md, "assign compiles one width").
    """
    return (0,) * n_features if n_features <= NARROW_MAX_FEATURES else ()


@njit(cache=NUMBA_CACHE)
def _argmin_direct_of_width(X, fixed, start, rows, centers, offsets, scales, xt, acc, best,
                            best_j):
    """The direct products' argmin of tile ``start:start + rows``, into ``best`` and ``best_j``.

    Up to 8 features (``fixed`` not empty), ``_argmin_direct_narrow`` with
    X's width a compile-time constant, so the loops over a row's features
    are unrolled and the tile copy vectorises (1.5 against 3.8 ms per 1M
    rows at d=5, the copy alone). Every width costs about a second of
    compile time in the parallel kernel, hence 8 and not 16; above 8
    (``fixed`` empty, a runtime width) the tile is copied row by row and
    ``_argmin_direct`` sums two features per pass, since a loop over a
    runtime number of features inside the pass down the rows does not
    vectorise (benchmarks/NOTES.md, "lloyd_step at d=5, k=8, again").
    """
    if len(fixed) > 0:
        _argmin_direct_narrow(X, fixed, start, rows, centers, offsets, scales, xt, best, best_j)
    else:
        d = X.shape[1]
        for r in range(rows):
            for t in range(d):
                xt[t, r] = X[start + r, t]
        _argmin_direct(xt, centers, offsets, scales, acc, best, best_j)


@njit(cache=NUMBA_CACHE)
def _offsets_scales(centers, metric):
    """Per centre, the distance up to a per-row term as offsets[j] + scales[j] * (x . c_j)."""
    k = centers.shape[0]
    offsets = np.zeros(k, dtype=centers.dtype)
    scales = np.empty(k, dtype=centers.dtype)
    for j in range(k):
        c_sq = _sq_norm(centers[j])
        if metric == SQEUCLIDEAN:
            offsets[j] = c_sq
            scales[j] = -2.0
        elif metric == INNER_PRODUCT:
            scales[j] = -1.0
        else:
            scales[j] = -1.0 / np.sqrt(c_sq) if c_sq > 0.0 else 0.0
    return offsets, scales


@njit(inline="always", cache=NUMBA_CACHE)
def _finish_tile(X, start, stop, best, best_j, metric, x_sq, labels, distances):
    """Labels and distances of rows ``start:stop`` from the tile's argmin; the labels
    alone when ``distances`` is empty (a Lloyd pass whose caller reads none).

    One loop per metric, with no test inside, so that each vectorises.
    """
    dtype = X.dtype.type
    rows = stop - start
    if distances.shape[0] == 0:
        for r in range(rows):
            labels[start + r] = best_j[r]
        return
    if metric == SQEUCLIDEAN and x_sq.shape[0]:
        # The labels in the same loop: 1.1 against 1.8 ms per 1M rows in two loops.
        for r in range(rows):
            labels[start + r] = best_j[r]
            distances[start + r] = max(best[r] + x_sq[start + r], 0.0)
        return
    for r in range(rows):
        labels[start + r] = best_j[r]
    if metric == INNER_PRODUCT:
        for r in range(rows):
            distances[start + r] = best[r]
    else:
        for r in range(rows):
            i = start + r
            norm_sq = x_sq[i] if x_sq.shape[0] else _sq_norm(X[i])
            if metric == SQEUCLIDEAN:
                distances[i] = max(best[r] + norm_sq, 0.0)
            else:
                # The argmin ignored the positive factor 1/|x|.
                distances[i] = (
                    1.0 + best[r] / np.sqrt(norm_sq) if norm_sq > 0.0 else dtype(1.0)
                )


@njit(cache=NUMBA_CACHE)
def _add_rows(X, fixed, start, rows, best_j, weights, sums, counts):
    """``sums[best_j[r]] += w * X[start + r]`` and ``counts[best_j[r]] += w`` over a tile, in float64.

    X's width is ``len(fixed)``, a compile-time constant, below 8 features,
    and X's own width otherwise (``fixed`` of 8 or ``()``). Unrolled with a
    constant width the sums take 2.1 against 3.0 ms per 1M rows at d=2 and
    3.0 against 4.0 at d=5; from d=8 on the loop left alone is vectorised
    and faster (3.6 against 4.1 at d=8, 4.5 against 6.3 at d=16);
    benchmarks/NOTES.md, "lloyd_step at d=5, k=8, again".
    """
    width = len(fixed) if 0 < len(fixed) < NARROW_MAX_FEATURES else X.shape[1]
    for r in range(rows):
        j = best_j[r]
        w = np.float64(weights[start + r])
        counts[j] += w
        for t in range(width):
            sums[j, t] += w * X[start + r, t]


@njit(fastmath={"reassoc"}, cache=NUMBA_CACHE)
def _add_run(xt, weights, start, first, stop, j, sums, counts):
    """``sums[j] += sum of w_r * xt[:, r]`` and ``counts[j] += sum of w_r`` over tile rows ``first:stop``.

    Reassociation lets LLVM vectorise the sums down each contiguous row of
    ``xt``; only the float64 summation order changes.
    """
    run_weights = weights[start + first:start + stop]
    total = 0.0
    for r in range(stop - first):
        total += run_weights[r]
    counts[j] += total
    for t in range(xt.shape[0]):
        run = xt[t, first:stop]
        total = 0.0
        for r in range(stop - first):
            total += np.float64(run_weights[r]) * run[r]
        sums[j, t] += total


@njit(cache=NUMBA_CACHE)
def _add_tile_runs(xt, start, rows, best_j, weights, sums, counts):
    """``_add_rows`` from the transposed tile, one run of equal labels at a time.

    Returns False, having added nothing, when the tile's runs are shorter
    than ``MIN_MEAN_RUN`` rows on average. Neighbouring pixels mostly share
    a label (runs of 143 rows on average in the 12-megapixel segmentation
    benchmark), and the row-by-row scatter then waits on each previous
    row's store to the same sums: 3.6 against 5.0 ms per 1M rows of that
    data, with the tile copy (benchmarks/NOTES.md, "lloyd_step at d=5, k=8,
    again").
    """
    changes = 0
    for r in range(1, rows):
        changes += best_j[r] != best_j[r - 1]
    if (changes + 1) * MIN_MEAN_RUN > rows:
        return False
    first = 0
    for r in range(1, rows + 1):
        if r == rows or best_j[r] != best_j[first]:
            _add_run(xt, weights, start, first, r, best_j[first], sums, counts)
            first = r
    return True


@njit(cache=NUMBA_CACHE)
def _direct_block(X, fixed, centers, offsets, scales, metric, weights, accumulate, x_sq,
                  tile_rows, first_tile, stop_tile, labels, distances, sums, counts):
    """One thread's share of ``_direct_tiles``: tiles ``first_tile:stop_tile``, summed in ``sums``.

    Every scratch array is allocated once here, none per tile.
    """
    n, d = X.shape
    best = np.empty(tile_rows, dtype=X.dtype)
    best_j = np.empty(tile_rows, dtype=np.int32)
    # The tile transposed and one centre's products (zeros, so that the columns
    # past a short last tile, computed and ignored, are never NaN).
    xt = np.zeros((d, tile_rows), dtype=X.dtype)
    acc = np.zeros(tile_rows, dtype=X.dtype)
    for tile in range(first_tile, stop_tile):
        start = tile * tile_rows
        stop = min(n, start + tile_rows)
        _argmin_direct_of_width(X, fixed, start, stop - start, centers, offsets, scales, xt,
                                acc, best, best_j)
        _finish_tile(X, start, stop, best, best_j, metric, x_sq, labels, distances)
        if accumulate and not _add_tile_runs(xt, start, stop - start, best_j, weights, sums,
                                             counts):
            _add_rows(X, fixed, start, stop - start, best_j, weights, sums, counts)


@njit(cache=NUMBA_CACHE)
def _gemm_block(X, centers, offsets, scales, metric, weights, accumulate, x_sq, tile_rows,
                first_tile, stop_tile, labels, distances, sums, counts):
    """One thread's share of ``_gemm_tiles``: tiles ``first_tile:stop_tile``, summed in ``sums``.

    Every scratch array is allocated once here, none per tile.
    """
    n = X.shape[0]
    k = centers.shape[0]
    best = np.empty(tile_rows, dtype=X.dtype)
    best_j = np.empty(tile_rows, dtype=np.int32)
    # The (k, rows) products.
    gram = np.empty(k * tile_rows, dtype=X.dtype)
    for tile in range(first_tile, stop_tile):
        start = tile * tile_rows
        stop = min(n, start + tile_rows)
        gram_t = gram[: k * (stop - start)].reshape((k, stop - start))
        np.dot(centers, X[start:stop].T, gram_t)
        _argmin_tile(gram_t, offsets, scales, best, best_j)
        _finish_tile(X, start, stop, best, best_j, metric, x_sq, labels, distances)
        if accumulate:
            # X's width at run time, as ``_add_rows`` takes it above 7 features.
            _add_rows(X, (), start, stop - start, best_j, weights, sums, counts)


# One parallel kernel per path, not one with a ``direct`` flag: Numba compiles both
# arms of an ``if`` on a runtime (or literal) bool, so a first call compiled both
# paths whatever the data (benchmarks/NOTES.md, "assign compiles one path").
@njit(parallel=True, cache=NUMBA_CACHE)
def _direct_tiles(X, fixed, centers, offsets, scales, metric, weights, accumulate, x_sq,
                  tile_rows, tiles_per_block, labels, distances, sums, counts):
    """``_run`` by direct products: ``_argmin_direct`` on each tile copied transposed.

    ``fixed`` is X's ``width_marker``: one compilation per width up to 8.
    """
    n_tiles = (X.shape[0] + tile_rows - 1) // tile_rows
    for b in prange(sums.shape[0]):
        _direct_block(X, fixed, centers, offsets, scales, metric, weights, accumulate, x_sq,
                      tile_rows, b * tiles_per_block, min(n_tiles, (b + 1) * tiles_per_block),
                      labels, distances, sums[b], counts[b])


@njit(parallel=True, cache=NUMBA_CACHE)
def _gemm_tiles(X, centers, offsets, scales, metric, weights, accumulate, x_sq, tile_rows,
                tiles_per_block, labels, distances, sums, counts):
    """``_run`` by GEMM tiles: ``centers @ tile.T`` by a BLAS GEMM, then ``_argmin_tile``.

    The caller limits BLAS to one thread: OpenBLAS threads spinning beside
    Numba's made a step 20x slower.
    """
    n_tiles = (X.shape[0] + tile_rows - 1) // tile_rows
    for b in prange(sums.shape[0]):
        _gemm_block(X, centers, offsets, scales, metric, weights, accumulate, x_sq, tile_rows,
                    b * tiles_per_block, min(n_tiles, (b + 1) * tiles_per_block),
                    labels, distances, sums[b], counts[b])


def use_direct(n_features):
    """True when ``_argmin_direct`` beats GEMM tiles for rows of ``n_features`` (at any k measured)."""
    return n_features <= DIRECT_MAX_FEATURES


def _run(X, centers, metric, weights, accumulate, x_sq=None, direct=None, with_distances=True):
    """X's nearest centres tile by tile: labels, distances, per-block partial sums and weights.

    X (n, d) and centers (k, d) are C-contiguous with the same dtype. Each of
    ``n_blocks`` threads takes a contiguous run of ``tile_rows``-row tiles
    and finds each row's nearest centre by ``direct`` products
    (``_direct_tiles``) or GEMM tiles (``_gemm_tiles``). With ``accumulate``
    each tile's weighted rows are added into its block's own float64 sums.
    ``x_sq`` (n,) float64 holds the rows' squared norms, or None for norms
    computed there (as ``row_sq_norms`` computes them).
    """
    n, d = X.shape
    k = centers.shape[0]
    if direct is None:
        direct = use_direct(d)
    labels = np.empty(n, dtype=np.int32)
    distances = np.empty(n if with_distances else 0, dtype=X.dtype)
    if direct:
        tile_rows = DIRECT_TILE_ROWS
    else:
        tile_rows = min(MAX_TILE_ROWS, max(MIN_TILE_ROWS, GRAM_TILE_BYTES // (k * X.itemsize)))
    n_tiles = -(-n // tile_rows)
    n_blocks = max(1, min(n_tiles, 4 * numba.get_num_threads()))
    tiles_per_block = -(-n_tiles // n_blocks)
    if weights is None:
        weights = np.ones(0, dtype=X.dtype)
    if x_sq is None:
        x_sq = np.empty(0, dtype=np.float64)
    offsets, scales = _offsets_scales(centers, metric)
    # Each block's own (k, d) sums; (0, d) without accumulate.
    sums = np.zeros((n_blocks, k if accumulate else 0, d), dtype=np.float64)
    counts = np.zeros((n_blocks, k if accumulate else 0), dtype=np.float64)
    args = (centers, offsets, scales, metric, weights, accumulate, x_sq, tile_rows,
            tiles_per_block, labels, distances, sums, counts)
    if direct:
        _direct_tiles(X, width_marker(d), *args)
    else:
        with single_threaded_blas():
            _gemm_tiles(X, *args)
    return labels, distances, sums, counts


def assign(X, centers, metric, x_sq=None, with_distances=True, direct=None):
    """Nearest centre for each row of X.

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64, C-contiguous
    centers : ndarray (k, d), same dtype, C-contiguous
    metric : int
        A code from ``kernels.metric`` (SQEUCLIDEAN, INNER_PRODUCT or COSINE).
    x_sq : ndarray (n,) float64 or None
        Squared row norms of X, computed once per fit by the caller; None
        computes them row by row.
    with_distances : bool
        False writes no distances (and reads no ``x_sq``): an empty array is returned.
    direct : bool or None
        Direct products (True) or GEMM tiles (False); None chooses by
        ``use_direct``. The two agree to rounding.

    Returns
    -------
    labels : ndarray (n,) int32
    distances : ndarray (n,) in X's dtype, or (0,) without ``with_distances``
    """
    labels, distances, _, _ = _run(X, centers, metric, None, False, x_sq, direct,
                                   with_distances)
    return labels, distances


def lloyd_step(X, centers, weights, metric, x_sq=None, with_distances=True, direct=None):
    """``assign`` plus the weighted sums and weights of the rows given to each centre.

    Parameters
    ----------
    X, centers, metric, x_sq, direct : as for ``assign``
    weights : ndarray (n,), float, or None for all ones (in X's dtype)
    with_distances : bool
        False writes no distances (and reads no ``x_sq``): an empty array is returned.

    Returns
    -------
    labels : ndarray (n,) int32
    distances : ndarray (n,) in X's dtype, or (0,) without ``with_distances``
    sums : ndarray (k, d) float64
    counts : ndarray (k,) float64
    """
    if weights is None:
        weights = np.ones(X.shape[0], dtype=X.dtype)
    labels, distances, sums, counts = _run(X, centers, metric, weights, True, x_sq, direct,
                                           with_distances)
    sums, counts = reduce_blocks(sums, counts)
    return labels, distances, sums, counts
