"""Colour conversions, written once against the array API: RGB to gray, CIE Lab and HSV.

Each takes RGB values in the last axis, as floats in [0, 1] or as uint8 /
uint16 (scaled by 255 / 65535), and computes where the array lives (NumPy,
torch, CuPy, array_api_strict) in the array's float dtype (float32 for
integers). The formulas and constants are scikit-image's (``rgb2gray``,
``rgb2lab`` with the D65 illuminant and 2 degree observer, ``rgb2hsv``),
which the tests compare against to 1e-4.
"""

from .. import backend
from ._image import dtype_name, value_range

# sRGB (linear) to CIE XYZ, and the D65 / 2 degree white point (scikit-image's).
XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
D65_WHITE = (0.95047, 1.0, 1.08883)
# Luminance weights of rgb2gray (CRT phosphors).
GRAY_FROM_RGB = (0.2125, 0.7154, 0.0721)


def _as_float_rgb(rgb):
    if rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"RGB values must be in a last axis of length 3, got shape {tuple(rgb.shape)}.")
    xp = backend.namespace(rgb)
    if dtype_name(rgb).startswith("float"):
        return rgb
    return xp.astype(rgb, xp.float32) / value_range(rgb)


def _matrix(values, like):
    xp = backend.namespace(like)
    return xp.asarray(values, dtype=like.dtype, device=backend.device(like))


def rgb_to_gray(rgb):
    """Luminance ``0.2125 R + 0.7154 G + 0.0721 B`` (scikit-image's ``rgb2gray``).

    Parameters
    ----------
    rgb : array (..., 3), float in [0, 1], uint8 or uint16; any array-API array

    Returns
    -------
    array (...), float, same namespace and device
    """
    rgb = _as_float_rgb(rgb)
    weights = _matrix(GRAY_FROM_RGB, rgb)
    return rgb[..., 0] * weights[0] + rgb[..., 1] * weights[1] + rgb[..., 2] * weights[2]


def rgb_to_lab(rgb):
    """CIE L*a*b* of sRGB values, D65 white, 2 degree observer (scikit-image's ``rgb2lab``).

    L* lies in [0, 100]; a* and b* roughly in [-128, 127].

    Parameters
    ----------
    rgb : array (..., 3), float in [0, 1], uint8 or uint16; any array-API array

    Returns
    -------
    array (..., 3), float, same namespace and device
    """
    xp = backend.namespace(rgb)
    rgb = _as_float_rgb(rgb)
    linear = xp.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = linear @ xp.matrix_transpose(_matrix(XYZ_FROM_RGB, rgb))
    xyz = xyz / _matrix(D65_WHITE, rgb)
    # A cube root of the positive branch only: x ** (1/3) is NaN for x < 0.
    positive = xp.where(xyz > 0.008856, xyz, xp.ones_like(xyz))
    f = xp.where(xyz > 0.008856, positive ** (1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return xp.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def rgb_to_hsv(rgb):
    """Hue, saturation and value in [0, 1] (scikit-image's ``rgb2hsv``).

    Hue is 0 where the pixel is gray (max == min), saturation 0 where it is black.

    Parameters
    ----------
    rgb : array (..., 3), float in [0, 1], uint8 or uint16; any array-API array

    Returns
    -------
    array (..., 3), float, same namespace and device
    """
    xp = backend.namespace(rgb)
    rgb = _as_float_rgb(rgb)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = xp.max(rgb, axis=-1)
    delta = value - xp.min(rgb, axis=-1)
    gray = delta == 0
    safe_delta = xp.where(gray, xp.ones_like(delta), delta)
    safe_value = xp.where(value == 0, xp.ones_like(value), value)
    saturation = xp.where(gray, xp.zeros_like(delta), delta / safe_value)
    # As scikit-image: blue wins ties over green, green over red.
    hue = (g - b) / safe_delta
    hue = xp.where(g == value, 2.0 + (b - r) / safe_delta, hue)
    hue = xp.where(b == value, 4.0 + (r - g) / safe_delta, hue)
    hue = (hue / 6.0) % 1.0
    hue = xp.where(gray, xp.zeros_like(hue), hue)
    return xp.stack([hue, saturation, value], axis=-1)
