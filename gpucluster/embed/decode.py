"""Decode one image file into an RGB Pillow image, or say why it cannot be.

Every file goes through the same steps: JPEG draft mode when a small target
is asked for, size check against a pixel limit (before any pixel is
decoded), full decode, EXIF orientation, and conversion of any mode to RGB.

Memory. Decoding an image and converting it to RGB peaks at up to
``DECODE_BYTES_PER_PIXEL`` bytes per decoded pixel, so the pixel limit is also
a memory limit per decoding process. ``decoding_plan`` sizes the number of
decoding workers and the pixel limit together so that all workers decoding
their largest allowed image at once fit in a memory budget
(``decode_memory_budget``: a fraction of the memory available now).
Problems become ``ImageDecodeError`` with a short reason, so a caller that
embeds thousands of files can skip and list the bad ones without crashing.

Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never touched: a
truncated file is an error here, not a half-grey picture.
"""

import os
import struct
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Twice Pillow's default MAX_IMAGE_PIXELS, which is also the size at which
# Pillow itself refuses to open a file (DecompressionBombError): about 179
# megapixels, or 537 MB as 8-bit RGB. Real photos (up to ~100 MP medium
# format) pass; crafted headers claiming gigapixels do not.
MAX_PIXELS = 178_956_970
# Peak resident bytes per decoded pixel of load_and_preprocess to 224 px, measured
# on 6000 x 6000 PNGs (peak RSS over a baseline): 16-bit gray 19 (its float64
# range scaling), RGBA and LA 13, palette with transparency 10, gray 5, RGB 4.
# The worst case sets the budget: a 13000 x 13000 RGBA PNG of 20 kB needs 2.2 GB.
DECODE_BYTES_PER_PIXEL = 19
# Fraction of the memory available at the start of a run that all decoding
# workers together may plan to use; the rest is for the model, the prefetched
# batches and everything else on the machine.
DECODE_MEMORY_FRACTION = 0.5
# Default worker counts are cut to keep each worker able to decode an image of
# this many pixels (a 100 MP medium-format photo); the pixel limit then rises
# to what the budget gives each worker, up to MAX_PIXELS.
MIN_WORKER_PIXELS = 100_000_000

_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_WIDE_GRAY_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


class ImageDecodeError(Exception):
    """A file that cannot be decoded into an image.

    Attributes
    ----------
    path : str
        The file.
    reason : str
        A short reason: "empty file", "file not found", "not an image",
        "truncated", "corrupt: ...", "too many pixels (...)", ...
    """

    def __init__(self, path, reason):
        self.path = os.fsdecode(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):
        # Keeps the two-argument constructor when the error crosses a
        # process boundary (DataLoader workers).
        return type(self), (self.path, self.reason)


def _check_pad_color(pad_color):
    try:
        color = tuple(int(c) for c in pad_color)
    except (TypeError, ValueError):
        raise ValueError(
            f"pad_color must be three integers in [0, 255], got {pad_color!r}"
        ) from None
    if len(color) != 3 or any(c < 0 or c > 255 for c in color) or any(
        c != float(v) for c, v in zip(color, pad_color)
    ):
        raise ValueError(f"pad_color must be three integers in [0, 255], got {pad_color!r}")
    return color


def _wide_gray_to_rgb(image):
    """16-bit, 32-bit integer and float gray images to RGB by their value range.

    Pillow's own conversion clips these to 0..255, which turns most 16-bit
    images white. Here values map linearly from [low, high] to [0, 255]:
    ``high`` is the largest value, ``low`` is 0 when no value is negative
    (black stays black) and the smallest value otherwise. NaN and infinities
    count as ``low``. An image with no range maps to black.
    """
    values = np.asarray(image).astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        gray = np.zeros(values.shape, dtype=np.uint8)
    else:
        high = float(values[finite].max())
        low = min(0.0, float(values[finite].min()))
        values = np.where(finite, values, low)
        if high <= low:
            gray = np.zeros(values.shape, dtype=np.uint8)
        else:
            scaled = (values - low) * (255.0 / (high - low))
            gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(np.repeat(gray[:, :, None], 3, axis=2), mode="RGB")


def to_rgb(image, pad_color=(0, 0, 0)):
    """Any Pillow image as mode "RGB".

    Transparency (an alpha band, or a palette / colour-key ``transparency``)
    is composited onto ``pad_color``; 16-bit, 32-bit and float gray images
    are scaled to 8 bits by their value range (see ``_wide_gray_to_rgb``);
    CMYK, YCbCr, LAB, HSV, palette and 1-bit images use Pillow's conversion.
    """
    pad_color = _check_pad_color(pad_color)
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        return image
    if mode in _WIDE_GRAY_MODES:
        return _wide_gray_to_rgb(image)
    if mode in _ALPHA_MODES or "transparency" in image.info:
        if mode == "La":
            image = image.convert("LA")
        with warnings.catch_warnings():
            # "Palette images with Transparency expressed in bytes should be
            # converted to RGBA images": that is what happens here.
            warnings.simplefilter("ignore", UserWarning)
            rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, pad_color)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def _open_reason(error):
    """A short reason for an error raised while opening or decoding."""
    if isinstance(error, Image.DecompressionBombError):
        return "too many pixels (Pillow's decompression bomb limit)"
    if isinstance(error, UnidentifiedImageError):
        return "not an image"
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, IsADirectoryError):
        return "is a folder"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, MemoryError):
        return "out of memory"
    message = str(error).strip()
    lowered = message.lower()
    if isinstance(error, EOFError) or "truncated" in lowered or "end of file" in lowered:
        return "truncated"
    if isinstance(error, OSError) and error.errno is not None and error.strerror:
        return error.strerror.lower()
    return f"corrupt: {message}" if message else f"corrupt: {type(error).__name__}"


def decode_image(path, *, target_size=None, pad_color=(0, 0, 0), max_pixels=MAX_PIXELS):
    """Decode an image file into an RGB Pillow image.

    Parameters
    ----------
    path : str or os.PathLike
        The file. GIF, WebP, TIFF and MPO (the multi-picture JPEG of some
        cameras) give their first frame.
    target_size : int or None
        The size the caller will resize to. For JPEG (and MPO) files the
        decoder works at a reduced scale (1/2, 1/4 or 1/8) whose short side
        is still at least ``target_size``; other formats decode at full
        size. None decodes at full size.
    pad_color : (int, int, int)
        Colour that transparent pixels are composited onto.
    max_pixels : int
        Files that would decode to more than this many pixels are refused
        before decoding: width times height from the header, after the JPEG
        draft reduction (which decodes at the reduced size). Pillow's own hard
        limit on the header's size (twice ``PIL.Image.MAX_IMAGE_PIXELS``, the
        default of this argument) still applies above it.

    Returns
    -------
    PIL.Image.Image
        Mode "RGB", EXIF orientation applied, detached from the file.

    Raises
    ------
    ImageDecodeError
        With a short reason: "empty file", "file not found", "not an image",
        "truncated", "too many pixels (...)", "corrupt: ...".
    """
    if target_size is not None:
        if isinstance(target_size, bool) or not isinstance(target_size, (int, np.integer)) or (
            target_size < 1
        ):
            raise ValueError(f"target_size must be a positive integer or None, got {target_size!r}")
        target_size = int(target_size)
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)) or (
        max_pixels < 1
    ):
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    pad_color = _check_pad_color(pad_color)
    path = os.fsdecode(os.fspath(path))
    try:
        if os.path.getsize(path) == 0:
            raise ImageDecodeError(path, "empty file")
    except OSError as error:
        raise ImageDecodeError(path, _open_reason(error)) from None

    with warnings.catch_warnings():
        # The pixel limit is ours (max_pixels); Pillow's warning below its
        # hard limit would only repeat it. "Corrupt EXIF" style warnings do
        # not stop a decode either.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            with Image.open(path) as image:
                if target_size is not None and image.format in ("JPEG", "MPO"):
                    # draft() picks the largest scale s in (8, 4, 2, 1) with
                    # s <= min(width, height) // target_size, so both sides
                    # stay >= target_size whichever way EXIF turns the image.
                    image.draft(None, (target_size, target_size))
                # After draft(), size is what load() will allocate.
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageDecodeError(
                        path, f"too many pixels ({width}x{height} > {max_pixels})"
                    )
                image.load()
                _apply_orientation(image)
        except ImageDecodeError:
            raise
        except (Image.DecompressionBombError, OSError, SyntaxError, ValueError, EOFError,
                MemoryError, struct.error, IndexError, KeyError, TypeError,
                ZeroDivisionError) as error:
            # Pillow's plugins signal a bad file with any of these.
            raise ImageDecodeError(path, _open_reason(error)) from None
    # The file is closed; the loaded pixels stay with ``image``.
    try:
        return to_rgb(image, pad_color)
    except ValueError:
        raise ImageDecodeError(path, f"unsupported image mode {image.mode}") from None


def available_memory():
    """Bytes of memory available to this process now, or None when it cannot be told.

    Linux's MemAvailable (free plus reclaimable cache), else free physical pages;
    lowered to the room left under a cgroup v2 memory limit (containers).
    """
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
            used = int(f.read().strip())
        if limit != "max":
            available = min(available, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return int(available)


def decode_memory_budget():
    """Bytes all decoding workers together may use: DECODE_MEMORY_FRACTION of
    ``available_memory()``; None when the available memory is unknown."""
    available = available_memory()
    return None if available is None else int(DECODE_MEMORY_FRACTION * available)


def decoding_plan(num_workers, budget_bytes, *, fixed_workers=False):
    """Decoding workers and pixel limit whose worst case fits in ``budget_bytes``.

    The plan keeps ``workers * max_pixels * DECODE_BYTES_PER_PIXEL <= budget_bytes``
    (one decoder counted when ``num_workers`` is 0: decoding then runs in the
    calling process) whenever a limit of at least 1 pixel allows it.

    Parameters
    ----------
    num_workers : int >= 0
        The workers wanted.
    budget_bytes : int or None
        Memory for all decoders together (see ``decode_memory_budget``); None
        keeps ``num_workers`` and MAX_PIXELS.
    fixed_workers : bool
        Keep ``num_workers`` (the user chose it) and only lower the pixel
        limit. Else workers are cut, down to 1, while each could not decode an
        image of MIN_WORKER_PIXELS.

    Returns
    -------
    (workers, max_pixels) : (int, int)
        ``max_pixels`` is at most MAX_PIXELS.
    """
    num_workers = int(num_workers)
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}")
    if budget_bytes is None:
        return num_workers, MAX_PIXELS
    budget_pixels = max(0, int(budget_bytes)) // DECODE_BYTES_PER_PIXEL
    workers = num_workers
    if not fixed_workers and workers > 1:
        workers = max(1, min(workers, budget_pixels // MIN_WORKER_PIXELS))
    max_pixels = min(MAX_PIXELS, budget_pixels // max(1, workers))
    return workers, max(1, max_pixels)


def _apply_orientation(image):
    """Turn and flip ``image`` in place as its EXIF Orientation tag says.

    An unreadable EXIF block leaves the image as stored: its pixels are
    still good.
    """
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError, IndexError, struct.error):
        pass
