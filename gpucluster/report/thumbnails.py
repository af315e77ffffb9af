"""JPEG thumbnails made once per image and reused while newer than their source."""

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from .._files import atomic_write

THUMBNAIL_SIZE = 128
THUMBNAIL_QUALITY = 80


def thumbnail_name(path, size=THUMBNAIL_SIZE):
    """File name of the thumbnail of ``path``: a hash of its absolute path, so no
    name taken from the collection can steer where the thumbnail is written."""
    digest = hashlib.sha256(f"{size}\0{os.path.abspath(path)}".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:20] + ".jpg"


def _decode(path, size):
    """Decode with gpucluster.embed.decode when present (EXIF orientation, any mode
    to RGB, pixel limit), else with plain Pillow doing the same."""
    try:
        from ..embed.decode import decode_image
    except ImportError:
        decode_image = None
    if decode_image is not None:
        return decode_image(path, target_size=size)
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.draft("RGB", (size, size))
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            background = Image.new("RGB", rgba.size, (0, 0, 0))
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return image.convert("RGB")


def _is_fresh(target, source):
    try:
        return os.stat(target).st_mtime_ns >= os.stat(source).st_mtime_ns
    except OSError:
        return False


def _make_one(path, out_dir, size, quality):
    target = os.path.join(out_dir, thumbnail_name(path, size))
    if _is_fresh(target, path):
        return target, None
    try:
        image = _decode(path, size)
        image.thumbnail((size, size))
        atomic_write(target, lambda handle: image.save(handle, format="JPEG", quality=quality))
    except Exception as exc:  # an unreadable image costs its thumbnail, not the report
        return None, f"{type(exc).__name__}: {exc}"
    return target, None


def make_thumbnails(paths, out_dir, size=THUMBNAIL_SIZE, *, quality=THUMBNAIL_QUALITY,
                    workers=None, errors=None):
    """Make a JPEG thumbnail (longest side ``size`` px) of each image, once.

    A thumbnail already in ``out_dir`` that is newer than its source is reused
    untouched; others are decoded (EXIF orientation applied, any mode to RGB),
    shrunk and written atomically. Names are hashes of the absolute source path,
    so nothing is ever written outside ``out_dir``.

    Parameters
    ----------
    paths : sequence of str
        Image files.
    out_dir : str
        Folder for the thumbnails (created when missing).
    size : int
        Longest side in pixels.
    quality : int
        JPEG quality.
    workers : int or None
        Decoding threads (Pillow releases the GIL while decoding); default
        min(8, CPU count).
    errors : list or None
        When a list, ``(path, reason)`` is appended for every image that failed.

    Returns
    -------
    list of str or None
        The thumbnail path per input path, None where the image could not be read.
    """
    if int(size) < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size!r}.")
    paths = [os.fspath(p) for p in paths]
    os.makedirs(out_dir, exist_ok=True)
    if workers is None:
        workers = min(8, os.cpu_count() or 1)
    if workers <= 1 or len(paths) < 8:
        results = [_make_one(p, out_dir, int(size), quality) for p in paths]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda p: _make_one(p, out_dir, int(size), quality), paths))
    if errors is not None:
        errors.extend((p, reason) for p, (_, reason) in zip(paths, results) if reason is not None)
    return [target for target, _ in results]
