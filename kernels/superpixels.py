"""Superpixel kernels: ``slic_step`` (one localised k-means pass of SLIC) and
``enforce_connectivity`` (one connected piece per superpixel).

Declared once with ``@kernel`` (see ``_dispatch.py``); implementations in
``cpu/slic.py`` and ``cuda/slic.py`` (``enforce_connectivity`` is host-only:
a breadth-first walk in raster order, which has no parallel form worth a
GPU kernel; CUDA label maps are copied to the host and back).
Reference: ``tests/kernels/reference_slic.py``.

The grid. An image of H x W pixels is cut into ``n_cells = (ny, nx)`` cells:
cell row i holds the pixel rows ``y`` with ``y * ny // H == i``, cell column
j the pixel columns with ``x * nx // W == j``. Centre ``k = i * nx + j``
starts in cell (i, j); a pixel compares only with the centres of the (up to)
3 x 3 cells around its own, so each centre's pixels lie in the 3 x 3 cells
around its home cell, wherever the centre has moved.
"""

import numpy as np

from ._dispatch import kernel


def cell_starts(size, n_cells):
    """First pixel of each of ``n_cells`` cells along an axis of ``size`` pixels, then ``size``.

    Pixel p lies in cell ``p * n_cells // size``, so cell i starts at
    ``ceil(i * size / n_cells)``. NumPy int64 (n_cells + 1,).
    """
    i = np.arange(n_cells + 1, dtype=np.int64)
    return (i * size + n_cells - 1) // n_cells


def _check_grid(H, W, n_cells):
    try:
        ny, nx = (int(v) for v in n_cells)
    except (TypeError, ValueError):
        raise TypeError(f"n_cells must be two integers (ny, nx), got {n_cells!r}.") from None
    if not (1 <= ny <= H and 1 <= nx <= W):
        raise ValueError(
            f"n_cells must satisfy 1 <= ny <= {H} and 1 <= nx <= {W} for an image of "
            f"{H} x {W} pixels, got ({ny}, {nx})."
        )
    return ny, nx


@kernel(cpu="slic.slic_step", cuda="slic.slic_step")
def slic_step(image, centers, n_cells, spatial_weight):
    """One SLIC pass: every pixel's nearest centre among its 3 x 3 neighbouring cells, and
    the sums of the pixels each centre gets.

    .. math:: D(p, k) = \\sum_c (I_{p,c} - C_{k,c})^2
              + \\left(w (y_p - Y_k)^2 + w (x_p - X_k)^2\\right)

    computed in float64 in this order, with :math:`w` = ``spatial_weight``; ties go to the
    lowest centre index. With colour values of zero in every centre the pass
    is a purely spatial assignment, which is how SLIC starts.

    Parameters
    ----------
    image : array (H, W, C), float32 or float64; NumPy, torch, CuPy or array-API
    centers : array (ny * nx, C + 2), same kind and device; each row is a
        centre's C channel values then its row y and column x (pixel units);
        cast to float64
    n_cells : (int, int)
        The grid (ny, nx), 1 <= ny <= H, 1 <= nx <= W (see the module docstring).
    spatial_weight : float >= 0
        :math:`w`; SLIC's :math:`(m / S)^2` for compactness m and grid step S.

    Returns
    -------
    labels : array (H, W) int32, the chosen centre of every pixel
    sums : array (ny * nx, C + 2) float64, per centre the sums of its pixels'
        channel values, rows y and columns x
    counts : array (ny * nx,) int64, pixels per centre
        All in image's namespace and on its device. The sums do not depend
        on the thread count: the CPU adds per-strip partial sums in strip
        order, the GPU per-band partial sums in band order.
    """
    if image.ndim != 3 or image.shape[2] < 1:
        raise ValueError(f"image must have shape (H, W, C), got {tuple(image.shape)}.")
    if image.dtype not in (np.float32, np.float64):
        raise TypeError(f"image must be float32 or float64, got {image.dtype}.")
    H, W, C = image.shape
    ny, nx = _check_grid(H, W, n_cells)
    if tuple(centers.shape) != (ny * nx, C + 2):
        raise ValueError(
            f"centers must have shape ({ny * nx}, {C + 2}) for a ({ny}, {nx}) grid and "
            f"{C} channels, got {tuple(centers.shape)}."
        )
    spatial_weight = float(spatial_weight)
    if not (np.isfinite(spatial_weight) and spatial_weight >= 0):
        raise ValueError(f"spatial_weight must be a finite number >= 0, got {spatial_weight}.")
    return image, centers.astype(np.float64, copy=False), ny, nx, spatial_weight


@kernel(cpu="slic.enforce_connectivity", cuda=None)
def enforce_connectivity(labels, min_size):
    """Relabel a label map so that every label is one 4-connected piece of at least
    ``min_size`` pixels (where the image allows).

    The pieces (4-connected sets of equal labels) are visited in raster
    order of their first pixel. A piece of ``min_size`` pixels or more gets
    the next new label; a smaller one joins the already labelled piece it
    shares the most pixel edges with (ties: the lowest label), as SLIC's
    post-processing does. Only the first piece, having no labelled
    neighbour, may stay smaller. Host-only (Numba, sequential).

    Parameters
    ----------
    labels : array (H, W), integer; NumPy, torch, CuPy or array-API
    min_size : int >= 1

    Returns
    -------
    labels : array (H, W) int32, consecutive from 0 in raster order of each
        label's first pixel; in the input's namespace and on its device.
    """
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D, got shape {tuple(labels.shape)}.")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got {labels.dtype}.")
    min_size = int(min_size)
    if min_size < 1:
        raise ValueError(f"min_size must be >= 1, got {min_size}.")
    return labels.astype(np.int64, copy=False), min_size
