"""SLIC's localised assignment and per-centre sums on the GPU with numba.cuda.

Two kernels per pass. ``_assign_kernel``: one thread per pixel (blocks of
``ASSIGN_LANES`` columns by ``ASSIGN_ROWS`` rows, so a warp reads
consecutive pixels of a row) tries the centres of the 3 x 3 cells around
the pixel's own and writes the nearest.
``_window_sums_kernel``: a centre's pixels can only lie in the 3 x 3 cells
around its home cell (only those pixels compare with it), so one block per
(band of that window's rows, centre) scans the band for the centre's label
and sums its pixels' channels, rows, columns and count in float64, reduced
in shared memory in a fixed order. The bands' partial sums are then added
in band order (the array library's sum over one axis). No atomics: every
run gives the same sums, and no hot addresses serialise.
Reference: ``tests/kernels/reference_slic.py::slic_step``.
"""

import math

from numba import cuda, float64

from .._numba import NUMBA_CACHE
from ..superpixels import cell_starts
from ._launch import launch_for, n_blocks

# Block shape of the assignment kernel.
ASSIGN_LANES = 32
ASSIGN_ROWS = 8
# Threads of a window-sum block (a power of two, for the tree reduction).
SUM_THREADS = 128
# Pixels of one band, about: enough work per block to hide the launch, and
# enough bands per centre to fill the GPU when centres are few.
BAND_PIXELS = 4096


@cuda.jit(cache=NUMBA_CACHE)
def _assign_kernel(image, centers, ny, nx, spatial_weight, labels):
    """labels[y, x] = the nearest centre of pixel (y, x) among its 3 x 3 neighbouring cells.

    ``image`` (H, W, C) float32 or float64, ``centers`` (ny * nx, C + 2)
    float64, ``labels`` (H, W) int32. Thread (x, y) of a 2-D grid; float64
    distances; ties to the lowest centre.
    """
    x, y = cuda.grid(2)
    H = image.shape[0]
    W = image.shape[1]
    C = image.shape[2]
    if y >= H or x >= W:
        return
    gy = (y * ny) // H
    gx = (x * nx) // W
    best = math.inf
    best_k = 0
    for cy in range(max(gy - 1, 0), min(gy + 2, ny)):
        for cx in range(max(gx - 1, 0), min(gx + 2, nx)):
            k = cy * nx + cx
            d = 0.0
            for c in range(C):
                diff = float64(image[y, x, c]) - centers[k, c]
                d += diff * diff
            dy = y - centers[k, C]
            dx = x - centers[k, C + 1]
            d += spatial_weight * (dy * dy) + spatial_weight * (dx * dx)
            if d < best:
                best = d
                best_k = k
    labels[y, x] = best_k


@cuda.jit(cache=NUMBA_CACHE)
def _window_sums_kernel(image, labels, row_starts, col_starts, nx, band_rows, partial):
    """partial[k, band, :] = sums over centre k's pixels in one band of its window.

    Block (band, k) of ``SUM_THREADS`` threads; ``row_starts`` (ny + 1,) and
    ``col_starts`` (nx + 1,) int64 are the cells' first pixels. Columns of
    ``partial`` (ny * nx, n_bands, C + 3) float64: the C channels, the row,
    the column, the count. For each column every thread sums a strided
    share of the band's pixels, then the block adds the shares pairwise.
    """
    shared = cuda.shared.array(SUM_THREADS, float64)
    band = cuda.blockIdx.x
    k = cuda.blockIdx.y
    t = cuda.threadIdx.x
    C = image.shape[2]
    ny = row_starts.shape[0] - 1
    cy = k // nx
    cx = k - cy * nx
    y_first = row_starts[max(cy - 1, 0)] + band * band_rows
    y_end = min(row_starts[min(cy + 2, ny)], y_first + band_rows)
    x_first = col_starts[max(cx - 1, 0)]
    width = col_starts[min(cx + 2, nx)] - x_first
    n = max(y_end - y_first, 0) * width
    for f in range(C + 3):
        acc = 0.0
        for p in range(t, n, SUM_THREADS):
            y = y_first + p // width
            x = x_first + p % width
            if labels[y, x] == k:
                if f < C:
                    acc += float64(image[y, x, f])
                elif f == C:
                    acc += y
                elif f == C + 1:
                    acc += x
                else:
                    acc += 1.0
        shared[t] = acc
        cuda.syncthreads()
        step = SUM_THREADS // 2
        while step > 0:
            if t < step:
                shared[t] += shared[t + step]
            cuda.syncthreads()
            step //= 2
        if t == 0:
            partial[k, band, f] = shared[0]
        cuda.syncthreads()


def _bands(row_starts, col_starts, ny, nx):
    """(rows per band, bands per window): the tallest 3 x 3 window cut into bands of
    about ``BAND_PIXELS`` pixels of the widest window."""
    tallest = max(int(row_starts[min(i + 2, ny)] - row_starts[max(i - 1, 0)]) for i in range(ny))
    widest = max(int(col_starts[min(j + 2, nx)] - col_starts[max(j - 1, 0)]) for j in range(nx))
    band_rows = max(1, BAND_PIXELS // widest)
    return band_rows, (tallest + band_rows - 1) // band_rows


def slic_step(image, centers, ny, nx, spatial_weight):
    """Labels (H, W) int32, sums (ny * nx, C + 2) float64 and counts (ny * nx,) int64, on the GPU.

    ``image`` (H, W, C) float32 or float64 and ``centers`` (ny * nx, C + 2)
    float64: CuPy arrays (NumPy under the CUDA simulator); results in the
    same library, computed on CuPy's current stream. See
    ``kernels.superpixels.slic_step``.
    """
    launch = launch_for(image)
    lib = launch.lib
    H, W, C = image.shape
    image = lib.ascontiguousarray(image)
    centers = lib.ascontiguousarray(centers)
    labels = lib.empty((H, W), dtype=lib.int32)
    grid = (n_blocks(W, ASSIGN_LANES), n_blocks(H, ASSIGN_ROWS))
    _assign_kernel[grid, (ASSIGN_LANES, ASSIGN_ROWS), launch.stream](
        image, centers, ny, nx, float(spatial_weight), labels
    )
    row_host, col_host = cell_starts(H, ny), cell_starts(W, nx)
    band_rows, n_bands = _bands(row_host, col_host, ny, nx)
    partial = lib.empty((ny * nx, n_bands, C + 3), dtype=lib.float64)
    _window_sums_kernel[(n_bands, ny * nx), SUM_THREADS, launch.stream](
        image, labels, lib.asarray(row_host), lib.asarray(col_host), nx, band_rows, partial
    )
    totals = partial.sum(axis=1)
    sums = lib.ascontiguousarray(totals[:, : C + 2])
    counts = lib.rint(totals[:, C + 2]).astype(lib.int64)
    return labels, sums, counts
