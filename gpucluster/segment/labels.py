"""Label maps: consecutive numbering, per-segment means and sizes, the region adjacency graph.

A label map is an integer array (H, W) in the image's namespace and on its
device; -1 marks noise (pixels no segment claims, from DBSCAN or HDBSCAN).
"""

import numpy as np

from .. import backend, kernels


def check_label_map(labels, shape=None):
    """``labels`` as an int32 array (H, W) of its own kind; ``shape`` (H, W) must match when given."""
    labels = backend.coerce_array(labels)
    xp = backend.namespace(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be a 2-D label map (H, W), got shape {tuple(labels.shape)}.")
    if shape is not None and tuple(labels.shape) != tuple(shape):
        raise ValueError(f"labels have shape {tuple(labels.shape)} but the image is {tuple(shape)}.")
    if not xp.isdtype(labels.dtype, "integral"):
        raise TypeError(f"labels must be integers, got {labels.dtype}.")
    if labels.shape[0] * labels.shape[1] and int(xp.min(labels)) < -1:
        raise ValueError("labels must be >= 0, or -1 for noise.")
    return xp.astype(labels, xp.int32)


def compact_labels(labels):
    """Number the segments of a label map 0, 1, ... in the order of their old labels; -1 stays.

    Returns (labels int32 (H, W), n_segments).
    """
    xp = backend.namespace(labels)
    ids = xp.sort(xp.unique_values(labels))
    ids = ids[ids >= 0]
    n = int(ids.shape[0])
    if n == 0 or int(ids[-1]) == n - 1:
        return xp.astype(labels, xp.int32), n
    positions = xp.searchsorted(ids, labels)
    positions = xp.where(labels >= 0, xp.astype(positions, xp.int32),
                         xp.full_like(labels, -1, dtype=xp.int32))
    return positions, n


def segment_means(values, labels, n_segments):
    """Per-segment means (n_segments, C) float64 and sizes (n_segments,) int64 of ``values`` (H, W, C).

    Sums come from the ``centroid_update`` kernel (float64); noise is skipped.
    Same namespace and device as ``values``.
    """
    xp = backend.namespace(values)
    H, W = labels.shape
    flat = xp.reshape(values, (H * W, values.shape[2]))
    if not xp.isdtype(flat.dtype, "real floating"):
        flat = xp.astype(flat, xp.float32)  # exact for uint8 and uint16
    sums, counts = kernels.centroid_update(flat, xp.reshape(labels, (H * W,)), n_segments)
    safe = xp.where(counts > 0, counts, xp.ones_like(counts))
    return sums / safe[:, None], xp.astype(counts, xp.int64)


def region_adjacency(labels, n_segments):
    """Pairs (a, b), a < b, of segments that share a pixel edge: a NumPy array (m, 2) int64, sorted."""
    xp = backend.namespace(labels)
    keys = []
    for first, second in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        touching = (first != second) & (first >= 0) & (second >= 0)
        low = xp.astype(xp.minimum(first, second), xp.int64)
        high = xp.astype(xp.maximum(first, second), xp.int64)
        keys.append((low * n_segments + high)[touching])
    keys = backend.to_numpy(xp.unique_values(xp.concat(keys))).astype(np.int64)
    keys.sort()
    return np.stack([keys // n_segments, keys % n_segments], axis=1)
