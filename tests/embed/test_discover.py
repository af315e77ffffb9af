"""discover_images: recursive scan, extensions, order, links, loops, problems."""

import os

import pytest

from gpucluster.embed import discover
from gpucluster.embed.discover import (
    IMAGE_EXTENSIONS,
    Discovery,
    discover_images,
    normalize_extensions,
)


def touch(path, data=b"x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def test_recursive_scan_matches_every_extension_in_any_case(tmp_path):
    names = [
        "a.JPG", "b.jpeg", "c.png", "sub/d.WebP", "sub/e.bmp", "sub/deeper/f.gif",
        "sub/deeper/g.tif", "h.TIFF", "i.Jpeg",
    ]
    expected = sorted(touch(str(tmp_path / n)) for n in names)
    touch(str(tmp_path / "notes.txt"))
    touch(str(tmp_path / "sub" / "clip.mp4"))
    touch(str(tmp_path / "noext"))
    found = discover_images(tmp_path)
    assert isinstance(found, Discovery)
    assert found.paths == expected
    assert found.problems == []


def test_order_is_sorted_whatever_the_creation_order(tmp_path):
    names = ["z/9.png", "a/1.png", "m.png", "b.png", "a/b/2.png", "A.png"]
    for name in names:
        touch(str(tmp_path / name))
    found = discover_images(str(tmp_path)).paths
    assert found == sorted(found)
    assert len(found) == len(names)
    assert discover_images(str(tmp_path)).paths == found


def test_explicit_files_and_overlapping_inputs_give_unique_paths(tmp_path):
    image = touch(str(tmp_path / "sub" / "one.png"))
    other = touch(str(tmp_path / "two.jpg"))
    text = touch(str(tmp_path / "readme.md"))
    found = discover_images([tmp_path, tmp_path / "sub", image, text])
    assert found.paths == sorted([image, other])
    assert found.problems == [(text, "not an image extension")]


def test_missing_input_raises_file_not_found_naming_it(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="nope"):
        discover_images([tmp_path, missing])


def test_one_missing_input_is_named_in_the_singular(tmp_path):
    missing = [str(tmp_path / "nope"), str(tmp_path / "gone")]
    with pytest.raises(FileNotFoundError, match="^input path not found: .*nope$"):
        discover_images(missing[:1])
    with pytest.raises(FileNotFoundError, match="^input paths not found: .*nope, .*gone$"):
        discover_images(missing)


def test_relative_inputs_give_absolute_normalised_paths(tmp_path, monkeypatch):
    image = touch(str(tmp_path / "photos" / "a.png"))
    monkeypatch.chdir(tmp_path)
    found = discover_images(os.path.join(".", "photos", "..", "photos"))
    assert found.paths == [image]
    assert os.path.isabs(found.paths[0])


def test_unicode_and_space_names(tmp_path):
    names = ["café ☕/été 2024.jpg", "日本/写真.PNG", "with space.png"]
    expected = sorted(touch(str(tmp_path / n)) for n in names)
    assert discover_images(tmp_path).paths == expected


def test_extensions_parameter_is_normalised(tmp_path):
    png = touch(str(tmp_path / "a.PNG"))
    touch(str(tmp_path / "b.jpg"))
    assert discover_images(tmp_path, extensions=["png"]).paths == [png]
    assert discover_images(tmp_path, extensions="*.PNG").paths == [png]
    assert normalize_extensions(["JPG", ".jpg", "png"]) == (".jpg", ".png")
    assert set(normalize_extensions(IMAGE_EXTENSIONS)) == set(IMAGE_EXTENSIONS)


@pytest.mark.parametrize("bad", [[], [""], ["."]])
def test_empty_extensions_are_rejected(tmp_path, bad):
    with pytest.raises(ValueError, match="extension"):
        discover_images(tmp_path, extensions=bad)


def test_inputs_of_the_wrong_type_are_rejected():
    with pytest.raises(TypeError, match="path"):
        discover_images(42)
    with pytest.raises(TypeError, match="path"):
        discover_images([None])


def test_linked_folder_outside_the_input_keeps_the_link_path(tmp_path):
    outside = tmp_path / "outside"
    target = touch(str(outside / "x.png"))
    root = tmp_path / "root"
    own = touch(str(root / "own.png"))
    os.symlink(outside, root / "linked")
    os.symlink(target, root / "file_link.png")
    found = discover_images(root, follow_links=True)
    assert found.paths == sorted([own, str(root / "linked" / "x.png"), str(root / "file_link.png")])
    assert found.problems == []
    assert found.outside_links == []
    assert discover_images(root, follow_symlinks=False).paths == [own]


def test_links_leaving_the_inputs_are_listed_not_followed_by_default(tmp_path):
    outside = tmp_path / "outside"
    target = touch(str(outside / "x.png"))
    touch(str(outside / "deep" / "y.jpg"))
    root = tmp_path / "root"
    own = touch(str(root / "own.png"))
    inner = touch(str(root / "sub" / "inner.png"))
    os.symlink(outside, root / "linked")
    os.symlink(target, root / "file_link.png")
    os.symlink(inner, root / "inner_link.png")  # stays inside: followed
    os.symlink(outside / "notes.txt", root / "notes.txt")  # no image extension: not counted
    found = discover_images(root)
    assert found.paths == sorted([own, inner, str(root / "inner_link.png")])
    assert found.outside_links == sorted([str(root / "linked"), str(root / "file_link.png")])
    assert found.problems == []


def test_a_link_into_another_input_folder_is_inside(tmp_path):
    first = tmp_path / "first"
    first.mkdir()
    image = touch(str(tmp_path / "second" / "x.png"))
    os.symlink(tmp_path / "second", first / "to_second")
    found = discover_images([first, tmp_path / "second"])
    assert found.paths == [image]
    assert found.outside_links == []
    # Alone, the first folder's link leaves it.
    assert discover_images(first).outside_links == [str(first / "to_second")]


def test_linked_folder_inside_the_input_is_listed_under_its_real_path(tmp_path):
    real = touch(str(tmp_path / "zz_real" / "x.png"))
    # "aa_link" sorts before the real folder and is still not the one kept.
    os.symlink(tmp_path / "zz_real", tmp_path / "aa_link")
    found = discover_images(tmp_path)
    assert found.paths == [real]
    assert found.problems == [
        (str(tmp_path / "aa_link"), f"folder already scanned as {tmp_path / 'zz_real'}")
    ]


def test_symlink_loop_is_a_problem_not_an_endless_scan(tmp_path):
    image = touch(str(tmp_path / "a" / "b" / "pic.png"))
    os.symlink(tmp_path, tmp_path / "a" / "b" / "up")
    os.symlink(tmp_path / "a", tmp_path / "a" / "again")
    found = discover_images(tmp_path)
    assert found.paths == [image]
    assert (str(tmp_path / "a" / "b" / "up"), "symbolic link loop") in found.problems
    assert (str(tmp_path / "a" / "again"), "symbolic link loop") in found.problems


def test_loop_between_two_linked_folders(tmp_path):
    outside = tmp_path / "outside"
    image = touch(str(outside / "pic.png"))
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "to_outside")
    os.symlink(root, outside / "back")
    found = discover_images(root, follow_links=True)
    assert found.paths == [str(root / "to_outside" / "pic.png")]
    assert found.problems == [(str(root / "to_outside" / "back"), "symbolic link loop")]
    assert image not in found.paths


def test_broken_and_self_pointing_links_are_problems(tmp_path):
    good = touch(str(tmp_path / "good.png"))
    os.symlink(tmp_path / "nowhere.png", tmp_path / "broken.png")
    os.symlink(tmp_path / "self.jpg", tmp_path / "self.jpg")
    os.symlink(tmp_path / "nowhere_dir", tmp_path / "broken_dir")
    found = discover_images(tmp_path)
    assert found.paths == [good]
    assert found.problems == [
        (str(tmp_path / "broken.png"), "broken symbolic link"),
        (str(tmp_path / "self.jpg"), "symbolic link loop"),
    ]


def test_explicit_broken_link_counts_as_missing(tmp_path):
    os.symlink(tmp_path / "nowhere.png", tmp_path / "broken.png")
    with pytest.raises(FileNotFoundError, match="broken.png"):
        discover_images(tmp_path / "broken.png")


def test_unreadable_folder_is_a_problem_and_the_scan_goes_on(tmp_path, monkeypatch):
    good = touch(str(tmp_path / "open" / "a.png"))
    touch(str(tmp_path / "locked" / "b.png"))
    locked = str(tmp_path / "locked")
    real_scandir = os.scandir

    def scandir(path):
        # chmod 000 does not stop root, so the refusal is simulated.
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(discover.os, "scandir", scandir)
    found = discover_images(tmp_path)
    assert found.paths == [good]
    assert found.problems == [(locked, "permission denied")]


def test_special_file_with_an_image_name_is_a_problem(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    os.mkfifo(tmp_path / "pipe.txt")
    found = discover_images(tmp_path)
    assert found.paths == []
    assert found.problems == [(str(tmp_path / "pipe.jpg"), "not a regular file")]



def test_generated_image_set_is_found_and_grouped_by_colour(tmp_path):
    import numpy as np

    from gpucluster.embed.decode import decode_image

    from .imagegen import GROUP_COLORS, write_image_set

    paths, labels = write_image_set(tmp_path / "set", n=12, groups=4, seed=3)
    assert discover_images(tmp_path / "set").paths == paths
    assert sorted(labels) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    colors = np.array([c for _, c in GROUP_COLORS[:4]], dtype=float)
    colors /= np.linalg.norm(colors, axis=1, keepdims=True)
    for path, label in zip(paths, labels):
        assert os.path.basename(os.path.dirname(path)) == GROUP_COLORS[label][0]
        # Patterns are darker shades of the background, so the mean colour
        # points the way of the group's colour.
        mean = np.asarray(decode_image(path), dtype=float).reshape(-1, 3).mean(axis=0)
        assert int(np.argmax(colors @ (mean / np.linalg.norm(mean)))) == label, path
    again, _ = write_image_set(tmp_path / "again", n=12, groups=4, seed=3)
    for a, p in zip(again, paths):
        with open(a, "rb") as fa, open(p, "rb") as fp:
            assert fa.read() == fp.read()
