"""NumPy references for the superpixel kernels (kernels/superpixels.py).

Written for clarity, not speed: ``slic_step`` forms the distance of every
pixel to each of its (up to nine) candidate centres with whole-array NumPy
operations; ``enforce_connectivity`` finds the pieces with
``scipy.ndimage.label`` per label value, then applies the same rule as the
kernel, piece by piece in raster order of their first pixel.
"""

import numpy as np
from scipy import ndimage


def cell_of(size, n_cells):
    """Cell index of every pixel along an axis: ``p * n_cells // size``."""
    return np.arange(size) * n_cells // size


def candidate_distances(image, centers, n_cells, spatial_weight):
    """(candidates (9, H, W) int64, distances (9, H, W) float64): the 3 x 3 neighbourhood's
    centres of every pixel (-1 and inf where the neighbour cell is off the grid), in
    increasing centre order."""
    H, W, C = image.shape
    ny, nx = n_cells
    gy = cell_of(H, ny)[:, None]
    gx = cell_of(W, nx)[None, :]
    ys = np.arange(H, dtype=np.float64)[:, None]
    xs = np.arange(W, dtype=np.float64)[None, :]
    pixels = image.astype(np.float64)
    candidates = np.full((9, H, W), -1, dtype=np.int64)
    distances = np.full((9, H, W), np.inf)
    for slot, (oy, ox) in enumerate((a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)):
        cy = gy + oy
        cx = gx + ox
        valid = (cy >= 0) & (cy < ny) & (cx >= 0) & (cx < nx)
        k = np.where(valid, cy * nx + cx, 0)
        d = np.zeros((H, W))
        for c in range(C):
            d = d + (pixels[:, :, c] - centers[k, c]) ** 2
        d = d + (spatial_weight * (ys - centers[k, C]) ** 2
                 + spatial_weight * (xs - centers[k, C + 1]) ** 2)
        candidates[slot] = np.where(valid, k, -1)
        distances[slot] = np.where(valid, d, np.inf)
    return candidates, distances


def slic_step(image, centers, n_cells, spatial_weight):
    """Reference of ``kernels.slic_step``: (labels (H, W) int32, sums float64, counts int64)."""
    H, W, C = image.shape
    ny, nx = n_cells
    centers = np.asarray(centers, dtype=np.float64)
    candidates, distances = candidate_distances(image, centers, n_cells, spatial_weight)
    # argmin takes the first minimum, and candidates come in increasing centre order.
    best = np.argmin(distances, axis=0)
    labels = np.take_along_axis(candidates, best[None], axis=0)[0].astype(np.int32)
    return (labels, *per_centre_sums(image, labels, ny * nx))


def per_centre_sums(image, labels, n_centers):
    """Sums (n_centers, C + 2) of channels, rows and columns, and counts, per label."""
    H, W, C = image.shape
    rows, cols = np.mgrid[:H, :W]
    columns = [image[:, :, c].astype(np.float64) for c in range(C)] + [rows, cols]
    flat = labels.ravel()
    sums = np.stack([np.bincount(flat, weights=col.ravel(), minlength=n_centers)
                     for col in columns], axis=1)
    counts = np.bincount(flat, minlength=n_centers).astype(np.int64)
    return sums, counts


def enforce_connectivity(labels, min_size):
    """Reference of ``kernels.enforce_connectivity`` (same rule, other means)."""
    labels = np.asarray(labels)
    H, W = labels.shape
    pieces = np.zeros((H, W), dtype=np.int64)
    n_pieces = 0
    for value in np.unique(labels):
        found, n = ndimage.label(labels == value)  # 4-connectivity by default
        pieces[found > 0] = found[found > 0] + n_pieces
        n_pieces += n
    first_pixel = {}
    for p, piece in enumerate(pieces.ravel()):
        first_pixel.setdefault(int(piece), p)
    out = np.full((H, W), -1, dtype=np.int64)
    next_label = 0
    for piece in sorted(first_pixel, key=first_pixel.get):
        mask = pieces == piece
        target = -1
        if mask.sum() < min_size:
            target = _most_shared_neighbour(out, mask)
        if target < 0:
            out[mask] = next_label
            next_label += 1
        else:
            out[mask] = target
    return out.astype(np.int32)


def _most_shared_neighbour(out, mask):
    """The labelled value of ``out`` sharing the most pixel edges with ``mask``; -1 if none."""
    shared = {}
    pairs = ((out[1:, :], mask[:-1, :]), (out[:-1, :], mask[1:, :]),
             (out[:, 1:], mask[:, :-1]), (out[:, :-1], mask[:, 1:]))
    for neighbour, inside in pairs:
        values = neighbour[inside]
        for v in values[values >= 0]:
            shared[int(v)] = shared.get(int(v), 0) + 1
    if not shared:
        return -1
    return min(shared, key=lambda v: (-shared[v], v))
