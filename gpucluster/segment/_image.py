"""Images in: arrays of any kind, Pillow images and files, checked once.

An image is an array of shape (H, W) (gray) or (H, W, C) with C = 1 (gray),
3 (RGB) or 4 (RGBA, the alpha channel is ignored), of dtype uint8, uint16,
float32 or float64 (floats in [0, 1]). It stays in its own namespace and on
its own device (NumPy, torch, CuPy, array_api_strict); files and Pillow
images are decoded on the host by ``embed.decode`` (EXIF orientation, any
mode to RGB, the decompression-bomb limit) into uint8 RGB NumPy arrays.
"""

import os
import sys

from .. import backend

IMAGE_DTYPES = ("uint8", "uint16", "float32", "float64")
# What one unit of each integer dtype is worth on the [0, 1] scale.
_INTEGER_RANGE = {"uint8": 255.0, "uint16": 65535.0}


def dtype_name(x):
    """The dtype of array ``x`` as a plain name: "uint8", "float32", ..."""
    return str(x.dtype).rsplit(".", 1)[-1]


def _is_pil_image(image):
    return "PIL.Image" in sys.modules and isinstance(image, sys.modules["PIL.Image"].Image)


def load_image(image):
    """An image as a checked array, (H, W) or (H, W, C), in its own namespace and device.

    Parameters
    ----------
    image : array, PIL.Image.Image, str or os.PathLike
        An array of shape (H, W) or (H, W, C) with C in (1, 3, 4), dtype
        uint8, uint16, float32 or float64 (NumPy, torch, CuPy or any
        array-API array, or a nested list); a Pillow image; or the path of
        an image file (any format Pillow reads).

    Returns
    -------
    array
        The array itself (no copy) when it passes the checks; files and
        Pillow images as uint8 RGB NumPy arrays.

    Raises
    ------
    gpucluster.embed.ImageDecodeError
        For a file that cannot be decoded (its reason: "not an image",
        "truncated", "file not found", ...).
    TypeError
        For another dtype or an object that is not an image.
    ValueError
        For another shape, an empty image, or NaN or infinity in a float image.
    """
    if isinstance(image, (str, bytes, os.PathLike)):
        import numpy as np

        from ..embed.decode import decode_image

        return np.asarray(decode_image(image))
    if _is_pil_image(image):
        import numpy as np

        from ..embed.decode import to_rgb

        return np.asarray(to_rgb(image))
    image = backend.coerce_array(image)
    _check_image(image)
    return image


def _check_image(image):
    shape = tuple(image.shape)
    if image.ndim not in (2, 3) or (image.ndim == 3 and shape[2] not in (1, 3, 4)):
        raise ValueError(
            "An image must have shape (H, W) or (H, W, C) with C in (1, 3, 4), "
            f"got shape {shape}."
        )
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"The image is empty (shape {shape}).")
    if dtype_name(image) not in IMAGE_DTYPES:
        raise TypeError(
            f"An image must have dtype {', '.join(IMAGE_DTYPES)}, got {dtype_name(image)}."
        )
    if dtype_name(image).startswith("float"):
        from .._validation import check_finite

        check_finite(image, name="image")


def is_gray(image):
    """True for (H, W) and (H, W, 1) images."""
    return image.ndim == 2 or image.shape[2] == 1


def float_image(image, dtype=None):
    """The image as floats in [0, 1], shape (H, W, 1) for gray or (H, W, 3) for colour.

    Integer images are divided by their dtype's largest value; alpha is
    dropped. ``dtype`` defaults to float64 for float64 images and float32
    otherwise (uint16 holds 16 bits, float32 24). Same namespace and device.
    """
    xp = backend.namespace(image)
    if dtype is None:
        dtype = xp.float64 if dtype_name(image) == "float64" else xp.float32
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[2] == 4:
        image = image[:, :, :3]
    scale = _INTEGER_RANGE.get(dtype_name(image))
    out = xp.astype(image, dtype)
    return out / scale if scale is not None else out


def value_range(image):
    """The value of full intensity for ``image``'s dtype: 255, 65535 or 1.0."""
    return _INTEGER_RANGE.get(dtype_name(image), 1.0)


def display_rgb(image):
    """The image as uint8 RGB (H, W, 3) for drawing and PNG files, in its namespace.

    Gray becomes three equal channels; float values are clipped to [0, 1].
    """
    xp = backend.namespace(image)
    floats = float_image(image)
    scaled = xp.round(xp.clip(floats, 0.0, 1.0) * 255.0)
    rgb = xp.astype(scaled, xp.uint8)
    if rgb.shape[2] == 1:
        rgb = xp.concat([rgb, rgb, rgb], axis=2)
    return rgb
