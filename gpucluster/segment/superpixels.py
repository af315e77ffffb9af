"""Superpixels: ``slic`` (localised k-means in Lab + XY) and ``merge_regions`` (the region
adjacency graph merged down to a few regions).
"""

import math
import numbers

import numpy as np

from .. import backend, kernels
from ..kernels.superpixels import cell_starts
from ._image import float_image, load_image
from ._rag import LINKAGES, merge_closest
from .colour import rgb_to_lab
from .labels import check_label_map, compact_labels, region_adjacency, segment_means


def slic_channels(image):
    """What SLIC compares: CIE Lab (H, W, 3), or L* alone (H, W, 1) for a gray image.

    A gray image goes through L* too, so ``compactness`` means the same for
    gray and colour images. float32 (float64 for float64 images).
    """
    xp = backend.namespace(image)
    floats = float_image(image)
    if floats.shape[2] == 1:
        return rgb_to_lab(xp.concat([floats, floats, floats], axis=2))[:, :, :1]
    return rgb_to_lab(floats)


def grid_shape(H, W, n_segments):
    """(ny, nx): the grid of scikit-image's ``slic`` (its ``regular_grid``) for about
    ``n_segments`` cells: a step of sqrt(H W / n) rounded to whole pixels, seeds from half
    a step in, so the two give the same number of superpixels to start from. A side
    shorter than the step gets one cell row (or column)."""
    if H * W <= n_segments:
        return H, W
    step = math.sqrt(H * W / n_segments)
    steps = {"H": step, "W": step}
    short, long = ("H", "W") if H <= W else ("W", "H")
    sizes = {"H": H, "W": W}
    if sizes[short] < step:
        steps[short] = sizes[short]
        steps[long] = sizes[long] / n_segments
    counts = []
    for axis in ("H", "W"):
        start, stride = int(steps[axis] // 2), max(1, round(steps[axis]))
        counts.append(max(1, len(range(start, sizes[axis], stride))))
    return counts[0], counts[1]


def initial_centers(H, W, C, ny, nx):
    """Centres at the middle of every cell, colour zero: SLIC's first pass is then spatial."""
    rows, cols = cell_starts(H, ny), cell_starts(W, nx)
    y = (rows[:-1] + rows[1:] - 1) / 2.0
    x = (cols[:-1] + cols[1:] - 1) / 2.0
    centers = np.zeros((ny * nx, C + 2), dtype=np.float64)
    centers[:, C] = np.repeat(y, nx)
    centers[:, C + 1] = np.tile(x, ny)
    return centers


def _check_positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_slic_params(n_segments, compactness, max_iter, min_size_factor, n_regions):
    n_segments = _check_positive_int(n_segments, "n_segments")
    max_iter = _check_positive_int(max_iter, "max_iter")
    if isinstance(compactness, bool) or not isinstance(compactness, numbers.Real) or not (
            0 < compactness < math.inf):
        raise ValueError(f"compactness must be a finite number > 0, got {compactness!r}.")
    if isinstance(min_size_factor, bool) or not isinstance(min_size_factor, numbers.Real) or not (
            0 <= min_size_factor <= 1):
        raise ValueError(f"min_size_factor must be in [0, 1], got {min_size_factor!r}.")
    if n_regions is not None:
        n_regions = _check_positive_int(n_regions, "n_regions")
    return n_segments, float(compactness), max_iter, float(min_size_factor), n_regions


def slic(image, n_segments=100, compactness=10.0, *, max_iter=10, enforce_connectivity=True,
         min_size_factor=0.5, n_regions=None, linkage="ward"):
    """SLIC superpixels: k-means in Lab + XY where each pixel meets only nearby centres.

    The image is cut into a grid of about ``n_segments`` cells of side S; a
    centre starts in the middle of each. Every pass assigns each pixel to
    the nearest of the centres of the 3 x 3 cells around its own, by

    .. math:: D^2 = |\\Delta Lab|^2 + (m / S)^2 |\\Delta xy|^2

    (m = ``compactness``), then moves every centre to the mean of its pixels:
    one custom kernel does both (``kernels.slic_step``, CPU and CUDA). The
    first pass compares positions only, as scikit-image's ``slic`` does; the
    passes stop when no label changes. Then every superpixel is made one
    4-connected piece, pieces below ``min_size_factor`` of the mean
    superpixel size joining a neighbour (``kernels.enforce_connectivity``,
    sequential Numba on the host: a CUDA label map makes a round trip).

    Parameters
    ----------
    image : array (H, W) or (H, W, C), PIL image or path
        See ``load_image``; a gray image is compared on its L* alone.
    n_segments : int
        About how many superpixels (the grid's cell count).
    compactness : float > 0
        m above: higher gives squarer superpixels, lower follows colour.
        The same scale as scikit-image's (Lab units per grid step).
    max_iter : int
        Most passes.
    enforce_connectivity : bool
    min_size_factor : float in [0, 1]
    n_regions : int or None
        When given, the superpixels are then merged down to this many
        regions by ``merge_regions``: "superpixels then 8 regions" in one call.
    linkage : {"ward", "mean"}
        The merging criterion of ``merge_regions``.

    Returns
    -------
    labels : array (H, W) int32, consecutive from 0, in the image's
        namespace and on its device.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster.segment import slic
    >>> image = np.zeros((40, 60, 3), dtype=np.uint8)
    >>> image[:, 30:] = (200, 30, 30)
    >>> labels = slic(image, n_segments=6, compactness=10)
    >>> bool((labels[:, :30, None] != labels[:, 30:][:, None, :]).all())
    True
    """
    n_segments, compactness, max_iter, min_size_factor, n_regions = _check_slic_params(
        n_segments, compactness, max_iter, min_size_factor, n_regions)
    _check_linkage(linkage)
    image = load_image(image)
    lab = slic_channels(image)
    xp = backend.namespace(lab)
    H, W, C = lab.shape
    ny, nx = grid_shape(H, W, min(n_segments, H * W))
    step = math.sqrt(H * W / (ny * nx))
    spatial_weight = (compactness / step) ** 2
    centers = xp.asarray(initial_centers(H, W, C, ny, nx), device=backend.device(lab))
    previous = None
    for _ in range(max_iter):
        labels, sums, counts = kernels.slic_step(lab, centers, (ny, nx), spatial_weight)
        if previous is not None and bool(xp.all(labels == previous)):
            break
        counts = xp.astype(counts, xp.float64)[:, None]
        has_pixels = counts > 0
        # A centre that lost all its pixels stays where it was.
        centers = xp.where(has_pixels, sums / xp.where(has_pixels, counts, xp.ones_like(counts)),
                           centers)
        previous = labels
    if enforce_connectivity:
        min_size = max(1, int(min_size_factor * H * W / (ny * nx)))
        labels = kernels.enforce_connectivity(labels, min_size)
    else:
        labels, _ = compact_labels(labels)
    if n_regions is not None:
        labels = _merge(labels, lab, n_regions, linkage)
    return labels


def _check_linkage(linkage):
    if linkage not in LINKAGES:
        raise ValueError(f"linkage must be one of {LINKAGES}, got {linkage!r}.")


def merge_regions(labels, image, n_regions, *, linkage="ward"):
    """Merge adjacent regions of a label map, closest mean colours first, down to ``n_regions``.

    Hierarchical merging on the region adjacency graph (regions that share
    a pixel edge): the pair of adjacent regions whose mean Lab colours (L*
    for gray images) are closest merges, the merged region's mean is the
    size-weighted mean, and so on until ``n_regions`` remain (or no
    adjacent pair is left). "Closest" is the squared distance between the
    means weighted by ``n_a n_b / (n_a + n_b)`` with ``linkage="ward"``
    (specks join their surroundings first), the plain distance with
    ``linkage="mean"``. Means and the graph are computed where the image
    lives; the merging itself runs on the host (the graph has a node per
    region).

    Parameters
    ----------
    labels : array (H, W), integer; -1 marks noise, which is never merged
    image : array (H, W) or (H, W, C), PIL image or path (see ``load_image``)
    n_regions : int >= 1
    linkage : {"ward", "mean"}

    Returns
    -------
    labels : array (H, W) int32, consecutive from 0 (noise stays -1), in
        the image's namespace and on its device.
    """
    n_regions = _check_positive_int(n_regions, "n_regions")
    _check_linkage(linkage)
    image = load_image(image)
    labels = check_label_map(labels, image.shape[:2])
    labels = backend.asarray_like(labels, image)
    return _merge(labels, slic_channels(image), n_regions, linkage)


def _merge(labels, lab, n_regions, linkage):
    xp = backend.namespace(labels)
    labels, n = compact_labels(labels)
    if n <= n_regions:
        return labels
    means, sizes = segment_means(lab, labels, n)
    mapping = merge_closest(backend.to_numpy(means), backend.to_numpy(sizes),
                            region_adjacency(labels, n), n_regions, linkage)
    mapping = xp.asarray(mapping.astype(np.int32), device=backend.device(labels))
    merged = xp.take(mapping, xp.reshape(xp.clip(labels, 0, None), (-1,)))
    merged = xp.reshape(merged, labels.shape)
    return xp.where(labels >= 0, merged, labels)
