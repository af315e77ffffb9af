"""Pictures of a segmentation: coloured overlay, contours, quantised image, and the files.

Drawing runs where the image lives (array API); only ``save`` brings the
pictures to the host, to encode them as PNG files.
"""

import colorsys
import io
import json
import os

import numpy as np

from .. import backend
from .._files import atomic_write
from ._image import display_rgb, dtype_name, load_image
from .labels import check_label_map, compact_labels, segment_means

# Twenty well-separated colours first (the "tab20" order); more segments get
# golden-angle hues at alternating saturations and values.
_FIRST_COLORS = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
)
CONTOUR_COLOR = (255, 0, 0)
# Files ``save`` writes, by what they hold.
FILES = {"labels": "labels.npy", "label_map": "labels.png", "original": "original.png",
         "overlay": "overlay.png", "contours": "contours.png", "quantized": "quantized.png",
         "summary": "segmentation.json"}


def segment_colors(n):
    """``n`` distinct display colours, uint8 NumPy (n, 3); the same for every call."""
    colors = list(_FIRST_COLORS[:n])
    for i in range(len(colors), n):
        hue = (i * 0.6180339887498949) % 1.0
        saturation = 0.55 + 0.35 * (i % 2)
        value = 0.95 - 0.25 * ((i // 2) % 2)
        colors.append(tuple(round(255 * c) for c in colorsys.hsv_to_rgb(hue, saturation, value)))
    return np.asarray(colors, dtype=np.uint8).reshape(n, 3)


def _palette(labels, n):
    xp = backend.namespace(labels)
    palette = xp.asarray(segment_colors(max(n, 1)), device=backend.device(labels))
    picked = xp.take(palette, xp.reshape(xp.clip(labels, 0, None), (-1,)), axis=0)
    return xp.reshape(picked, (*labels.shape, 3))


def _prepare(image, labels):
    image = load_image(image)
    labels = backend.asarray_like(check_label_map(labels, image.shape[:2]), image)
    return image, labels


def label_map(labels):
    """The label map in colour: uint8 (H, W, 3), a colour per segment, black for noise."""
    xp = backend.namespace(labels)
    labels, n = compact_labels(check_label_map(labels))
    colors = _palette(labels, n)
    return xp.where((labels >= 0)[:, :, None], colors, xp.zeros_like(colors))


def overlay(image, labels, alpha=0.5):
    """Segment colours blended over the image: uint8 RGB (H, W, 3); noise pixels left as they are.

    Parameters
    ----------
    image : array (H, W) or (H, W, C), PIL image or path (see ``load_image``)
    labels : array (H, W), integer, -1 for noise
    alpha : float in [0, 1], the weight of the segment colours

    Returns
    -------
    array (H, W, 3) uint8 in the image's namespace and on its device
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}.")
    image, labels = _prepare(image, labels)
    xp = backend.namespace(image)
    labels, n = compact_labels(labels)
    rgb = xp.astype(display_rgb(image), xp.float32)
    colors = xp.astype(_palette(labels, n), xp.float32)
    blended = xp.where((labels >= 0)[:, :, None], (1 - alpha) * rgb + alpha * colors, rgb)
    return xp.astype(xp.round(blended), xp.uint8)


def contours(labels):
    """Boundary mask: True where a pixel's right, left, upper or lower neighbour has another label.

    Lines are two pixels wide, one on each side of a boundary.

    Parameters
    ----------
    labels : array (H, W), integer

    Returns
    -------
    array (H, W) bool, same namespace and device
    """
    labels = check_label_map(labels)
    xp = backend.namespace(labels)
    H, W = labels.shape
    device = backend.device(labels)
    across = labels[:, 1:] != labels[:, :-1]
    down = labels[1:, :] != labels[:-1, :]
    column = xp.zeros((H, 1), dtype=xp.bool, device=device)
    row = xp.zeros((1, W), dtype=xp.bool, device=device)
    return (xp.concat([across, column], axis=1) | xp.concat([column, across], axis=1)
            | xp.concat([down, row], axis=0) | xp.concat([row, down], axis=0))


def draw_contours(image, labels, color=CONTOUR_COLOR):
    """The image as uint8 RGB (H, W, 3) with the boundary pixels of ``contours`` in ``color``."""
    image, labels = _prepare(image, labels)
    xp = backend.namespace(image)
    rgb = display_rgb(image)
    paint = xp.asarray(np.asarray(color, dtype=np.uint8).reshape(1, 1, 3), device=backend.device(rgb))
    return xp.where(contours(labels)[:, :, None], paint, rgb)


def quantize(image, labels, mean_colors=None):
    """Each pixel in its segment's mean colour; noise pixels keep theirs.

    Parameters
    ----------
    image : array (H, W) or (H, W, C), PIL image or path (see ``load_image``)
    labels : array (H, W), integer, -1 for noise
    mean_colors : array (n_segments, C) or None
        In the image's units (0-255 for uint8); computed when None.

    Returns
    -------
    array of the image's shape and dtype (integers rounded), in its
    namespace and on its device
    """
    image, labels = _prepare(image, labels)
    xp = backend.namespace(image)
    labels, n = compact_labels(labels)
    if n == 0:
        # Every pixel is noise (DBSCAN on a tiny image): no mean colour to take.
        return xp.asarray(image, copy=True)
    values = image if image.ndim == 3 else image[:, :, None]
    if mean_colors is None:
        mean_colors, _ = segment_means(values, labels, n)
    mean_colors = backend.asarray_like(mean_colors, image)
    picked = xp.take(mean_colors, xp.reshape(xp.clip(labels, 0, None), (-1,)), axis=0)
    picked = xp.reshape(picked, values.shape)
    if dtype_name(image).startswith("uint"):
        picked = xp.round(picked)
    out = xp.where((labels >= 0)[:, :, None], xp.astype(picked, image.dtype), values)
    return out if image.ndim == 3 else out[:, :, 0]


def _png_bytes(rgb):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(backend.to_numpy(rgb))).save(buffer, format="PNG")
    return buffer.getvalue()


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(backend.to_numpy(array)), allow_pickle=False)
    return buffer.getvalue()


def save(segmentation, out, *, overwrite=False):
    """Write a segmentation's files into folder ``out`` (created when missing).

    ``labels.npy`` (int32 (H, W), -1 for noise), ``labels.png`` (the label
    map in colour), ``original.png``, ``overlay.png``, ``contours.png``
    (drawn over the image), ``quantized.png`` and ``segmentation.json``
    (sizes, mean colours, scores, settings). PNGs are 8-bit RGB. Each file
    is written whole or not at all (``_files.atomic_write``).

    Parameters
    ----------
    segmentation : Segmentation
    out : str or os.PathLike
    overwrite : bool
        Replace existing files of these names; else FileExistsError before
        anything is written.

    Returns
    -------
    dict
        {kind: path} of the files written (kinds as in ``FILES``).
    """
    os.makedirs(out, exist_ok=True)
    paths = {kind: os.path.join(os.fspath(out), name) for kind, name in FILES.items()}
    existing = [p for p in paths.values() if os.path.lexists(p)]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass overwrite=True (--overwrite) to replace it.")
    image, labels = segmentation.image, segmentation.labels
    contents = {
        "labels": lambda: _npy_bytes(labels),
        "label_map": lambda: _png_bytes(label_map(labels)),
        "original": lambda: _png_bytes(display_rgb(image)),
        "overlay": lambda: _png_bytes(overlay(image, labels)),
        "contours": lambda: _png_bytes(draw_contours(image, labels)),
        "quantized": lambda: _png_bytes(display_rgb(quantize(image, labels, segmentation.mean_colors))),
        "summary": lambda: (json.dumps(segmentation.summary(), indent=2) + "\n").encode("utf-8"),
    }
    for kind, path in paths.items():
        data = contents[kind]()
        atomic_write(path, lambda handle, data=data: handle.write(data))
    return paths
