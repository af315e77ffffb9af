"""Generated image files for the embedding tests (written into a tmp folder).

Two entry points:

- ``write_image_set(folder, n=24, groups=3, seed=0)``: ``n`` small images in
  ``groups`` visually distinct groups (each its own colour and pattern), one
  subfolder per group, mixed JPEG/PNG, sizes varying around ``size``.
  Returns ``(paths, labels)``: sorted absolute paths and the group of each.
- ``write_hostile_set(folder)``: the edge cases a real photo folder holds
  (odd modes, odd names, EXIF rotation, broken files, a decompression bomb).
  Returns a ``HostileSet`` saying which files must decode and which must fail
  and why.

Plus the building blocks the tests use directly: ``orientation_image``,
``save_with_orientation``, ``write_bomb_png``, ``write_truncated``.
Everything is deterministic for a seed and takes well under a second.
"""

import os
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

# (name, RGB) per group: far apart in colour, so even a random-weight model
# separates them.
GROUP_COLORS = (
    ("red", (215, 40, 40)),
    ("green", (40, 175, 60)),
    ("blue", (40, 70, 215)),
    ("yellow", (230, 205, 40)),
    ("magenta", (200, 50, 200)),
    ("cyan", (40, 200, 210)),
    ("orange", (240, 130, 20)),
    ("gray", (128, 128, 128)),
)


def _group_image(rng, group, width, height):
    """One image of ``group``: its colour as background plus its own pattern."""
    name, color = GROUP_COLORS[group]
    jitter = rng.integers(-20, 21, size=3)
    background = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(color, jitter))
    darker = tuple(int(c * 0.45) for c in background)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    pattern = group % 3
    if pattern == 0:  # horizontal stripes
        step = int(rng.integers(6, 10))
        for y in range(int(rng.integers(0, step)), height, step):
            draw.rectangle([0, y, width, y + step // 3], fill=darker)
    elif pattern == 1:  # a few discs
        for _ in range(3):
            cx, cy = rng.integers(0, width), rng.integers(0, height)
            r = int(rng.integers(4, max(5, min(width, height) // 3)))
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=darker)
    else:  # checkerboard
        step = int(rng.integers(6, 12))
        for y in range(0, height, step):
            for x in range((y // step % 2) * step, width, 2 * step):
                draw.rectangle([x, y, x + step - 1, y + step - 1], fill=darker)
    noise = rng.integers(-8, 9, size=(height, width, 3))
    pixels = np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def write_image_set(folder, n=24, *, groups=3, seed=0, size=(48, 40), formats=("jpg", "png")):
    """Write ``n`` images in ``groups`` groups under ``folder``.

    Image ``i`` belongs to group ``i % groups`` and is written as
    ``folder/<group name>/<group name>_<i>.<format>``, formats cycling
    through ``formats``; width and height vary by up to 25 % around ``size``.

    Returns
    -------
    paths : list of str
        Absolute paths, sorted.
    labels : list of int
        The group of each path, in the same order.
    """
    if not 1 <= groups <= len(GROUP_COLORS):
        raise ValueError(f"groups must be in [1, {len(GROUP_COLORS)}], got {groups}")
    rng = np.random.default_rng(seed)
    folder = os.path.abspath(os.fspath(folder))
    written = []
    for i in range(n):
        group = i % groups
        name = GROUP_COLORS[group][0]
        width = int(size[0] * rng.uniform(0.75, 1.25))
        height = int(size[1] * rng.uniform(0.75, 1.25))
        image = _group_image(rng, group, max(width, 8), max(height, 8))
        fmt = formats[i % len(formats)]
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        path = os.path.join(folder, name, f"{name}_{i:04d}.{fmt}")
        if fmt.lower() in ("jpg", "jpeg"):
            image.save(path, quality=92)
        else:
            image.save(path)
        written.append((path, group))
    written.sort()
    return [p for p, _ in written], [g for _, g in written]


def orientation_image(width=60, height=40):
    """An asymmetric RGB test card: white, red block top-left, blue block bottom-right.

    The blocks are a quarter of each side, so a flip or turn moves them to a
    corner that tells which transform happened.
    """
    pixels = np.full((height, width, 3), 255, dtype=np.uint8)
    pixels[: height // 4, : width // 4] = (255, 0, 0)
    pixels[-(height // 4):, -(width // 4):] = (0, 0, 255)
    return Image.fromarray(pixels, mode="RGB")


# How a viewer turns stored pixels S (rows, columns) into displayed pixels,
# per EXIF Orientation, written with NumPy from the EXIF definitions (0th row /
# 0th column positions), independently of Pillow's table.
EXIF_DISPLAY = {
    1: lambda s: s,
    2: lambda s: s[:, ::-1],                    # mirrored horizontally
    3: lambda s: s[::-1, ::-1],                 # turned 180 degrees
    4: lambda s: s[::-1, :],                    # mirrored vertically
    5: lambda s: s.transpose(1, 0, 2),          # mirrored along the main diagonal
    6: lambda s: np.rot90(s, k=-1),             # needs 90 degrees clockwise
    7: lambda s: s[::-1, ::-1].transpose(1, 0, 2),  # mirrored along the anti-diagonal
    8: lambda s: np.rot90(s, k=1),              # needs 90 degrees counter-clockwise
}
# The inverse: what to store so that the viewer shows a given picture.
EXIF_STORE = {
    1: EXIF_DISPLAY[1], 2: EXIF_DISPLAY[2], 3: EXIF_DISPLAY[3], 4: EXIF_DISPLAY[4],
    5: EXIF_DISPLAY[5], 6: EXIF_DISPLAY[8], 7: EXIF_DISPLAY[7], 8: EXIF_DISPLAY[6],
}


def save_with_orientation(path, displayed, orientation, *, quality=95):
    """Save a JPEG whose pixels are stored so that, with its EXIF Orientation
    tag applied, it shows ``displayed`` (a Pillow RGB image)."""
    stored = np.ascontiguousarray(EXIF_STORE[orientation](np.asarray(displayed)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored, mode="RGB").save(path, quality=quality, exif=exif)
    return os.path.abspath(path)


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_bomb_png(path, width=20000, height=20000):
    """A few hundred bytes of PNG whose header declares width x height 1-bit pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 256))
        + _png_chunk(b"IEND", b"")
    )
    with open(path, "wb") as f:
        f.write(data)
    return os.path.abspath(path)


def write_truncated(path, image, fraction=0.5, **save_options):
    """Save ``image`` to ``path`` (format from the extension) and cut the file to ``fraction``."""
    image.save(path, **save_options)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: max(1, int(len(data) * fraction))])
    return os.path.abspath(path)


@dataclass
class HostileSet:
    """What ``write_hostile_set`` wrote.

    Attributes
    ----------
    good : dict name -> path
        Files that must decode (odd modes, names, sizes, rotation).
    bad : dict name -> (path, reason)
        Files that must fail; ``reason`` is the start of the expected
        ``ImageDecodeError.reason``.
    ignored : list of str
        Files without an image extension (discovery skips them).
    """

    folder: str
    good: dict = field(default_factory=dict)
    bad: dict = field(default_factory=dict)
    ignored: list = field(default_factory=list)

    @property
    def image_paths(self):
        """Every path with an image extension, good and bad, sorted."""
        return sorted(list(self.good.values()) + [p for p, _ in self.bad.values()])


def write_hostile_set(folder):
    """Write the edge cases into ``folder`` (created) and say what each should do."""
    folder = os.path.abspath(os.fspath(folder))
    sub = os.path.join(folder, "nested", "deeper")
    os.makedirs(sub, exist_ok=True)
    rng = np.random.default_rng(1)
    photo = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), mode="RGB")
    out = HostileSet(folder=folder)

    def good(name, filename, image, **options):
        path = os.path.join(folder, filename)
        image.save(path, **options)
        out.good[name] = path

    good("unicode_name", "café_日本 ✓.png", photo)
    good("space_name", "with space.jpg", photo, quality=90)
    good("upper_extension", "UPPER.JPG", photo, quality=90)
    good("nested", os.path.join("nested", "deeper", "inside.webp"), photo)
    good("one_pixel", "one_pixel.png", Image.new("RGB", (1, 1), (10, 200, 30)))
    good("thin", "thin.png", Image.new("RGB", (2, 300), (200, 10, 30)))
    rgba = Image.new("RGBA", (32, 24), (255, 0, 0, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 16, 24))
    good("rgba", "rgba.png", rgba)
    palette = Image.new("P", (20, 20), 1)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    good("palette_transparent", "palette.png", palette, transparency=0)
    good("gray_alpha", "gray_alpha.png", Image.new("LA", (20, 20), (120, 128)))
    gray16 = np.linspace(0, 4095, 24 * 32).reshape(24, 32).astype(np.uint16)
    good("gray16", "gray16.png", Image.fromarray(gray16))
    good("cmyk", "cmyk.jpg", Image.new("CMYK", (24, 24), (0, 255, 255, 0)), quality=90)
    good("one_bit", "one_bit.bmp", Image.new("1", (30, 20), 1))
    float_image = Image.fromarray(np.linspace(-1, 1, 400, dtype=np.float32).reshape(20, 20))
    good("float_tiff", "float.tif", float_image)
    frames = [Image.new("P", (16, 16), i) for i in (1, 2)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    good("animated_gif", "animated.gif", frames[0], save_all=True, append_images=frames[1:])
    rotated = os.path.join(folder, "rotated.jpg")
    save_with_orientation(rotated, orientation_image(), 6)
    out.good["exif_rotated"] = rotated

    def bad(name, path, reason):
        out.bad[name] = (path, reason)

    empty = os.path.join(folder, "empty.jpg")
    open(empty, "wb").close()
    bad("empty", empty, "empty file")
    text = os.path.join(folder, "text.jpg")
    with open(text, "w") as f:
        f.write("this is not a picture\n")
    bad("text", text, "not an image")
    bad("truncated_jpeg", write_truncated(os.path.join(folder, "truncated.jpg"), photo, quality=90),
        "truncated")
    bad("truncated_png", write_truncated(os.path.join(sub, "truncated.png"), photo), "truncated")
    corrupt = os.path.join(folder, "corrupt.png")
    photo.save(corrupt)
    with open(corrupt, "r+b") as f:
        # Flip bytes inside the first IDAT's compressed stream.
        data = f.read()
        start = data.index(b"IDAT") + 4 + 10
        f.seek(start)
        f.write(bytes(b ^ 0xFF for b in data[start:start + 8]))
    bad("corrupt_png", corrupt, "corrupt")
    bad("bomb", write_bomb_png(os.path.join(folder, "bomb.png")), "too many pixels")

    for name in ("notes.txt", "data.json"):
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write("{}\n")
        out.ignored.append(path)
    return out
