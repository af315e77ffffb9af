"""The built-in image collection: real photos shipped by installed packages.

`gpucluster run` with no folder clusters this collection, so the main job works
offline on a fresh machine. It is made of random crops of the sample photos
that scikit-learn and scikit-image carry, plus scikit-learn's handwritten
digits rendered as small grey images. Every image's group (the photo it was
cut from, or the digit) is known, so a run can report its ARI.
"""

import json
import os

import numpy as np

# name -> loader returning an (H, W) or (H, W, 3) uint8 array. Photos chosen to be
# visually distinct: what a user would hope a clustering of them recovers.
_PHOTOS = {
    "china": ("sklearn", 0),
    "flower": ("sklearn", 1),
    "astronaut": ("skimage", "astronaut"),
    "coffee": ("skimage", "coffee"),
    "chelsea": ("skimage", "chelsea"),
    "rocket": ("skimage", "rocket"),
    "hubble": ("skimage", "hubble_deep_field"),
    "retina": ("skimage", "retina"),
    "coins": ("skimage", "coins"),
    "tissue": ("skimage", "immunohistochemistry"),
}

# Four digits of distinct shapes. An ImageNet model's features tell these apart
# (KMeans ARI about 0.9 among them); all ten classes blur together (about 0.36),
# which would make the collection a test of the model rather than of the clustering.
DIGIT_CLASSES = (0, 1, 4, 7)

MANIFEST = "collection.json"


def _load_photo(source, key):
    if source == "sklearn":
        from sklearn.datasets import load_sample_images

        return load_sample_images().images[key]
    import skimage.data

    return getattr(skimage.data, key)()


def _random_crop(image, rng, min_fraction=0.4, max_fraction=0.75):
    h, w = image.shape[:2]
    side = int(min(h, w) * rng.uniform(min_fraction, max_fraction))
    aspect = rng.uniform(0.75, 1.33)
    ch, cw = min(h, int(side / np.sqrt(aspect))), min(w, int(side * np.sqrt(aspect)))
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    crop = image[y:y + ch, x:x + cw]
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def _settings(crops_per_photo, digits_per_class, digit_classes, seed):
    return {"crops_per_photo": crops_per_photo, "digits_per_class": digits_per_class,
            "digit_classes": list(digit_classes), "seed": seed, "photos": sorted(_PHOTOS)}


def read_builtin_collection(folder, *, crops_per_photo=30, digits_per_class=12,
                            digit_classes=DIGIT_CLASSES, seed=0):
    """``(paths, groups)`` of a complete collection already in ``folder`` with these
    settings (what `write_builtin_collection` would reuse), else None."""
    folder = os.path.abspath(folder)
    manifest_path = os.path.join(folder, MANIFEST)
    if not os.path.exists(manifest_path):
        return None
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
        files = [os.path.join(folder, p) for p in manifest["paths"]]
        same = manifest["settings"] == _settings(crops_per_photo, digits_per_class,
                                                 digit_classes, seed)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if same and all(os.path.exists(p) for p in files):
        return files, manifest["groups"]
    return None


def write_builtin_collection(folder, *, crops_per_photo=30, digits_per_class=12,
                             digit_classes=DIGIT_CLASSES, seed=0):
    """Write the built-in collection into ``folder``; return ``(paths, groups)``.

    One sub-folder per group: ``photo_<name>/`` holds JPEG crops of that photo
    (long side 128-256 px), ``digit_<d>/`` holds 96 x 96 grey PNG renderings of
    scikit-learn's digits. ``paths`` are absolute and sorted; ``groups`` is a list
    of group names aligned with them. Writing is idempotent: an existing,
    complete collection with the same settings is reused as it is.
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    folder = os.path.abspath(folder)
    settings = _settings(crops_per_photo, digits_per_class, digit_classes, seed)
    manifest_path = os.path.join(folder, MANIFEST)
    found = read_builtin_collection(folder, crops_per_photo=crops_per_photo,
                                    digits_per_class=digits_per_class,
                                    digit_classes=digit_classes, seed=seed)
    if found is not None:
        return found

    rng = np.random.default_rng(seed)
    entries = []
    for name, (source, key) in sorted(_PHOTOS.items()):
        photo = _load_photo(source, key)
        group = f"photo_{name}"
        os.makedirs(os.path.join(folder, group), exist_ok=True)
        for i in range(crops_per_photo):
            crop = Image.fromarray(np.ascontiguousarray(_random_crop(photo, rng)))
            long_side = int(rng.integers(128, 257))
            scale = long_side / max(crop.size)
            crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
                               Image.Resampling.BICUBIC)
            rel = os.path.join(group, f"{name}_{i:03d}.jpg")
            crop.save(os.path.join(folder, rel), quality=90)
            entries.append((rel, group))

    digits = load_digits()
    for d in digit_classes:
        group = f"digit_{d}"
        os.makedirs(os.path.join(folder, group), exist_ok=True)
        rows = rng.permutation(np.flatnonzero(digits.target == d))[:digits_per_class]
        for i, row in enumerate(rows):
            pixels = (255 - digits.images[row] * (255 / 16)).astype(np.uint8)  # dark ink on white
            image = Image.fromarray(pixels, mode="L").resize((96, 96), Image.Resampling.BICUBIC)
            rel = os.path.join(group, f"digit{d}_{i:03d}.png")
            image.save(os.path.join(folder, rel))
            entries.append((rel, group))

    entries.sort()
    manifest = {"settings": settings, "paths": [e[0] for e in entries], "groups": [e[1] for e in entries]}
    tmp = manifest_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f)
    os.replace(tmp, manifest_path)
    return [os.path.join(folder, e[0]) for e in entries], manifest["groups"]


def collection_groups(folder):
    """``{absolute path: group}`` of a collection written by `write_builtin_collection`."""
    folder = os.path.abspath(folder)
    with open(os.path.join(folder, MANIFEST), encoding="utf-8") as f:
        manifest = json.load(f)
    return {os.path.join(folder, p): g for p, g in zip(manifest["paths"], manifest["groups"])}
