"""make_thumbnails(): JPEG, longest side = size, made once and reused while fresh."""

import os

import pytest

from gpucluster.report import make_thumbnails

from ._results import make_images, write_image


def test_thumbnails_are_small_jpegs(tmp_path):
    from PIL import Image

    big = write_image(str(tmp_path / "big.png"), size=(400, 200))
    (thumb,) = make_thumbnails([big], str(tmp_path / "t"), size=64)
    with Image.open(thumb) as image:
        assert image.format == "JPEG" and image.size == (64, 32)
    assert os.path.dirname(thumb) == str(tmp_path / "t")


def test_thumbnails_are_made_once(tmp_path):
    paths = make_images(str(tmp_path / "photos"), 10)
    out = str(tmp_path / "t")
    first = make_thumbnails(paths, out)
    mtimes = [os.stat(p).st_mtime_ns for p in first]
    second = make_thumbnails(paths, out)
    assert second == first
    assert [os.stat(p).st_mtime_ns for p in second] == mtimes


def test_a_changed_source_is_redone(tmp_path):
    (path,) = make_images(str(tmp_path / "photos"), 1)
    out = str(tmp_path / "t")
    (thumb,) = make_thumbnails([path], out)
    os.utime(thumb, ns=(1, 1))  # older than its source now
    make_thumbnails([path], out)
    assert os.stat(thumb).st_mtime_ns > 1


def test_unreadable_images_give_none_and_a_reason(tmp_path):
    good = write_image(str(tmp_path / "good.jpg"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    errors = []
    result = make_thumbnails([good, str(bad), str(tmp_path / "missing.jpg")], str(tmp_path / "t"), errors=errors)
    assert result[0] is not None and result[1] is None and result[2] is None
    assert [p for p, _ in errors] == [str(bad), str(tmp_path / "missing.jpg")]
    assert sorted(os.listdir(tmp_path / "t")) == [os.path.basename(result[0])]  # no temporary left


def test_size_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="size"):
        make_thumbnails([], str(tmp_path), size=0)
