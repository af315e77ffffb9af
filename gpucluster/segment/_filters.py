"""Neighbourhood filters of a 2-D gray image, against the array API: Sobel gradients, local
binary patterns and window means.

Borders follow scikit-image where a test compares with it: Sobel repeats the
edge pixels (``scipy.ndimage``'s "reflect" mode, for a one-pixel border), the
local binary patterns read zeros outside the image (its constant mode).
Window means average over the part of the window inside the image.
"""

import math

from .. import backend

# The (row, column) offsets of the 8 samples of a radius-1 local binary
# pattern, rounded as scikit-image rounds them, counter-clockwise from the right.
LBP_POINTS = 8
LBP_OFFSETS = tuple(
    (round(-math.sin(2 * math.pi * i / LBP_POINTS), 5), round(math.cos(2 * math.pi * i / LBP_POINTS), 5))
    for i in range(LBP_POINTS)
)
# Codes of the uniform patterns: 0..8 ones in one run, 9 for everything else.
LBP_CODES = LBP_POINTS + 2


def _pad_edge(image, width):
    """``image`` (H, W) with its edge rows and columns repeated ``width`` times."""
    xp = backend.namespace(image)
    top = xp.broadcast_to(image[:1, :], (width, image.shape[1]))
    bottom = xp.broadcast_to(image[-1:, :], (width, image.shape[1]))
    image = xp.concat([top, image, bottom], axis=0)
    left = xp.broadcast_to(image[:, :1], (image.shape[0], width))
    right = xp.broadcast_to(image[:, -1:], (image.shape[0], width))
    return xp.concat([left, image, right], axis=1)


def _pad_zero(image, width):
    xp = backend.namespace(image)
    H, W = image.shape
    rows = xp.zeros((width, W), dtype=image.dtype, device=backend.device(image))
    image = xp.concat([rows, image, rows], axis=0)
    cols = xp.zeros((H + 2 * width, width), dtype=image.dtype, device=backend.device(image))
    return xp.concat([cols, image, cols], axis=1)


def sobel(gray):
    """Sobel derivatives along rows and columns, as scikit-image's ``sobel_h`` and ``sobel_v``.

    Parameters
    ----------
    gray : array (H, W), float

    Returns
    -------
    (d_rows, d_cols) : two arrays (H, W), same dtype, namespace and device.
        ``d_rows`` is the smoothed difference of the row below and the row
        above (divided by 4), ``d_cols`` likewise for columns.
    """
    H, W = gray.shape
    p = _pad_edge(gray, 1)

    def at(dy, dx):
        return p[1 + dy:1 + dy + H, 1 + dx:1 + dx + W]

    d_rows = ((at(1, -1) + 2 * at(1, 0) + at(1, 1)) - (at(-1, -1) + 2 * at(-1, 0) + at(-1, 1))) / 4
    d_cols = ((at(-1, 1) + 2 * at(0, 1) + at(1, 1)) - (at(-1, -1) + 2 * at(0, -1) + at(1, -1))) / 4
    return d_rows, d_cols


def lbp_uniform(gray):
    """Uniform local binary pattern codes, 8 samples at radius 1 (scikit-image's
    ``local_binary_pattern(gray, 8, 1, "uniform")``).

    Samples off the pixel grid are interpolated bilinearly, zeros outside
    the image. A pattern whose ring of 8 bits (sample >= centre) changes at
    most twice gets its number of ones (0 to 8); any other gets 9.

    Parameters
    ----------
    gray : array (H, W), float

    Returns
    -------
    array (H, W), int32 codes in [0, 9], same namespace and device.
    """
    xp = backend.namespace(gray)
    H, W = gray.shape
    gray = xp.astype(gray, xp.float64)
    p = _pad_zero(gray, 1)
    device = backend.device(gray)
    rows = xp.arange(H, dtype=xp.float64, device=device)[:, None]
    cols = xp.arange(W, dtype=xp.float64, device=device)[None, :]

    def at(dy, dx):
        return p[1 + dy:1 + dy + H, 1 + dx:1 + dx + W]

    bits = []
    for dr, dc in LBP_OFFSETS:
        r0, c0 = math.floor(dr), math.floor(dc)
        r1, c1 = math.ceil(dr), math.ceil(dc)
        # The fractions as scikit-image computes them, from the absolute position.
        fr = (rows + dr) - (rows + r0)
        fc = (cols + dc) - (cols + c0)
        top = (1 - fc) * at(r0, c0) + fc * at(r0, c1)
        bottom = (1 - fc) * at(r1, c0) + fc * at(r1, c1)
        sample = (1 - fr) * top + fr * bottom
        bits.append(xp.astype(sample - gray >= 0, xp.int32))
    ones = bits[0]
    changes = xp.zeros((H, W), dtype=xp.int32, device=device)
    for i in range(1, LBP_POINTS):
        ones = ones + bits[i]
        changes = changes + xp.astype(bits[i] != bits[i - 1], xp.int32)
    return xp.where(changes <= 2, ones, xp.full_like(ones, LBP_POINTS + 1))


def window_mean(values, radius):
    """Mean of each pixel's (2 radius + 1)^2 window, over the part inside the image.

    Parameters
    ----------
    values : array (H, W) or (H, W, K), float
    radius : int >= 0

    Returns
    -------
    array of the same shape, float64, same namespace and device
        (from integral images accumulated in float64).
    """
    xp = backend.namespace(values)
    H, W = values.shape[:2]
    device = backend.device(values)
    squeeze = values.ndim == 2
    if squeeze:
        values = values[:, :, None]
    total = xp.cumulative_sum(xp.astype(values, xp.float64), axis=0, include_initial=True)
    total = xp.cumulative_sum(total, axis=1, include_initial=True)
    y = xp.arange(H, device=device)
    x = xp.arange(W, device=device)
    y0, y1 = xp.clip(y - radius, 0, H), xp.clip(y + radius + 1, 0, H)
    x0, x1 = xp.clip(x - radius, 0, W), xp.clip(x + radius + 1, 0, W)
    rows = xp.take(total, y1, axis=0) - xp.take(total, y0, axis=0)
    sums = xp.take(rows, x1, axis=1) - xp.take(rows, x0, axis=1)
    counts = xp.astype((y1 - y0)[:, None] * (x1 - x0)[None, :], xp.float64)
    means = sums / counts[:, :, None]
    return means[:, :, 0] if squeeze else means
