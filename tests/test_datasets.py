"""The built-in image collection: real photos and digits on disk, with known groups."""

import os

import numpy as np
import pytest

pytest.importorskip("PIL")
pytest.importorskip("skimage")

from PIL import Image

from gpucluster.datasets import DIGIT_CLASSES, collection_groups, write_builtin_collection


def test_collection_writes_every_group_and_is_reused(tmp_path):
    paths, groups = write_builtin_collection(tmp_path, crops_per_photo=2, digits_per_class=3)
    assert paths == sorted(paths) and len(paths) == len(groups)
    counts = {g: groups.count(g) for g in set(groups)}
    photos = {g for g in counts if g.startswith("photo_")}
    digits = {g for g in counts if g.startswith("digit_")}
    assert len(photos) == 10 and all(counts[g] == 2 for g in photos)
    assert digits == {f"digit_{d}" for d in DIGIT_CLASSES} and all(counts[g] == 3 for g in digits)
    for path, group in zip(paths, groups):
        assert os.path.dirname(path) == os.path.join(str(tmp_path), group)
        with Image.open(path) as image:
            image.load()
            assert max(image.size) >= 96
    assert collection_groups(tmp_path) == dict(zip(paths, groups))

    mtimes = [os.stat(p).st_mtime_ns for p in paths]
    again, _ = write_builtin_collection(tmp_path, crops_per_photo=2, digits_per_class=3)
    assert again == paths and [os.stat(p).st_mtime_ns for p in paths] == mtimes


def test_collection_is_reproducible_and_rewritten_when_incomplete(tmp_path):
    a, _ = write_builtin_collection(tmp_path / "a", crops_per_photo=2, digits_per_class=1)
    b, _ = write_builtin_collection(tmp_path / "b", crops_per_photo=2, digits_per_class=1)
    assert len(a) == len(b) == 10 * 2 + len(DIGIT_CLASSES)
    assert [os.path.relpath(p, tmp_path / "a") for p in a] == [os.path.relpath(q, tmp_path / "b") for q in b]
    pixels = [np.asarray(Image.open(p)) for p in a]
    for x, q in zip(pixels, b):
        np.testing.assert_array_equal(x, np.asarray(Image.open(q)), err_msg=q)
    os.remove(a[0])
    again, _ = write_builtin_collection(tmp_path / "a", crops_per_photo=2, digits_per_class=1)
    assert again == a
    np.testing.assert_array_equal(np.asarray(Image.open(again[0])), pixels[0])
