"""organize(): folders per cluster, link and copy modes, and no write outside the gallery."""

import json
import os

import numpy as np
import pytest

from gpucluster.report import organize
from gpucluster.report.organize import folder_names, safe_file_name

from ._results import make_images, snapshot, write_image, write_results


@pytest.fixture
def collection(tmp_path):
    photos = make_images(str(tmp_path / "photos"), 6)
    labels = np.array([0, 0, 1, 1, 1, -1])
    return tmp_path, photos, labels


@pytest.mark.parametrize("mode", ["link", "copy"])
def test_folders_hold_each_cluster(collection, mode):
    tmp_path, photos, labels = collection
    gallery = tmp_path / "gallery"
    manifest = organize(labels, photos, str(gallery), mode=mode, names={1: "Red Cars"})
    folders = sorted(p.name for p in gallery.iterdir() if p.is_dir())
    assert folders == ["cluster_000_n2", "cluster_001_n3_Red_Cars", "noise_n1"]
    for folder, expected in zip(folders, [photos[:2], photos[2:5], photos[5:]]):
        entries = sorted(os.listdir(gallery / folder))
        assert entries == sorted(os.path.basename(p) for p in expected)
        for name in entries:
            entry = gallery / folder / name
            assert entry.is_symlink() == (mode == "link")
            source = next(p for p in expected if os.path.basename(p) == name)
            assert entry.read_bytes() == open(source, "rb").read()
    assert manifest["n_files"] == 6 and manifest["mode"] == mode
    assert json.loads((gallery / "organize.json").read_text())["n_files"] == 6


def test_relative_links_resolve(collection):
    tmp_path, photos, labels = collection
    gallery = tmp_path / "gallery"
    organize(labels, photos, str(gallery), relative=True)
    link = gallery / "cluster_000_n2" / os.path.basename(photos[0])
    assert not os.path.isabs(os.readlink(link))
    assert os.path.realpath(link) == os.path.realpath(photos[0])


def test_reads_labels_and_paths_of_a_rank_from_a_results_folder(collection):
    tmp_path, photos, labels = collection
    second = np.array([2, 2, 2, 2, 0, 0])
    results = write_results(str(tmp_path / "results"), [labels, second], paths=photos)
    gallery = tmp_path / "gallery"
    organize(results, None, str(gallery), rank=2)
    assert sorted(p.name for p in gallery.iterdir() if p.is_dir()) == ["cluster_000_n2", "cluster_002_n4"]
    assert len(os.listdir(gallery / "cluster_002_n4")) == 4


def test_refuses_to_overwrite_unless_asked(collection):
    tmp_path, photos, labels = collection
    gallery = tmp_path / "gallery"
    organize(labels, photos, str(gallery))
    before = snapshot(str(gallery))
    with pytest.raises(FileExistsError, match="overwrite"):
        organize(labels, photos, str(gallery), mode="copy")
    assert snapshot(str(gallery)) == before
    organize(labels, photos, str(gallery), mode="copy", overwrite=True)
    entry = gallery / "cluster_000_n2" / os.path.basename(photos[0])
    assert entry.is_file() and not entry.is_symlink()


def test_hostile_names_never_leave_the_gallery(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    outside = tmp_path / "outside"
    victim = write_image(str(outside / "victim.jpg"))
    write_image(str(outside / "etc" / "passwd"), size=(4, 4))
    write_image(str(photos / "x.jpg"))
    write_image(str(photos / "sub" / "x.jpg"))
    write_image(str(photos / "..\\..\\z.jpg"))  # a backslash "path" is one legal file name here
    write_image(str(photos / "plain.jpg"))
    monkeypatch.chdir(photos / "sub")
    paths = [
        "../x.jpg",                                      # relative, climbing
        str(outside / "etc" / "passwd"),                 # absolute, elsewhere
        str(photos / "sub" / ".." / ".." / "outside" / "victim.jpg"),  # climbing inside a path
        str(photos / "..\\..\\z.jpg"),
        str(photos / "sub" / "x.jpg"),                   # same basename as the first
        str(photos / "plain.jpg"),
        str(photos / "plain.jpg"),
    ]
    labels = np.array([0, 0, 0, 0, 0, 1, 1])
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    # Planted symlinks: a cluster folder and a file name that point outside.
    os.symlink(outside, gallery / "cluster_000_n5_evil")
    (gallery / "cluster_001_n2").mkdir()
    os.symlink(victim, gallery / "cluster_001_n2" / "plain.jpg")
    before = snapshot(str(tmp_path / "outside")), snapshot(str(photos))

    for mode in ("copy", "link"):
        with pytest.raises(FileExistsError):
            organize(labels, paths, str(gallery), mode=mode, names=["../../evil", None])
        assert (snapshot(str(outside)), snapshot(str(photos))) == before
    manifest = organize(labels, paths, str(gallery), mode="copy", names=["../../evil", None], overwrite=True)
    assert (snapshot(str(outside)), snapshot(str(photos))) == before
    assert os.path.isdir(gallery / "cluster_000_n5_evil") and not os.path.islink(gallery / "cluster_000_n5_evil")
    assert sorted(os.listdir(gallery / "cluster_000_n5_evil")) == [
        "passwd", "victim.jpg", "x.jpg", "x_1.jpg", "z.jpg"]
    assert sorted(os.listdir(gallery / "cluster_001_n2")) == ["plain.jpg", "plain_1.jpg"]
    assert not os.path.islink(gallery / "cluster_001_n2" / "plain.jpg")
    assert manifest["n_files"] == 7
    for root, _, files in os.walk(gallery):
        for name in files:
            assert os.path.realpath(os.path.join(root, name)).startswith(str(gallery.resolve()) + os.sep)


def test_links_to_a_system_file_are_named_by_basename(tmp_path):
    if not os.path.isfile("/etc/passwd"):
        pytest.skip("no /etc/passwd here")
    gallery = tmp_path / "gallery"
    organize(np.array([0]), ["/etc/passwd"], str(gallery))
    assert os.listdir(gallery / "cluster_000_n1") == ["passwd"]
    assert os.readlink(gallery / "cluster_000_n1" / "passwd") == "/etc/passwd"


def test_missing_sources_are_skipped_and_reported(tmp_path):
    photos = make_images(str(tmp_path / "photos"), 2)
    manifest = organize(np.array([0, 0, 0]), photos + [str(tmp_path / "gone.jpg")], str(tmp_path / "g"))
    assert manifest["n_files"] == 2
    assert manifest["skipped"] == [[str(tmp_path / "gone.jpg"), "missing or not a file"]]


@pytest.mark.parametrize("raw, expected", [
    ("../x.jpg", "x.jpg"), ("/etc/passwd", "passwd"), ("..", "image"), ("a\\..\\b c.jpg", "b_c.jpg"),
    (".hidden.png", "hidden.png"), ("new\nline.jpg", "new_line.jpg"), ("été.jpg", "été.jpg"),
])
def test_safe_file_name(raw, expected):
    assert safe_file_name(raw) == expected


def test_folder_names_pad_ids_and_add_names():
    labels = np.array([0, 1234, 1234, -1])
    assert folder_names(labels, {1234: "sandy beach!"}) == {
        -1: "noise_n1", 0: "cluster_0000_n1", 1234: "cluster_1234_n2_sandy_beach"}


def test_bad_arguments_are_refused(collection):
    tmp_path, photos, labels = collection
    with pytest.raises(ValueError, match="mode"):
        organize(labels, photos, str(tmp_path / "g"), mode="move")
    with pytest.raises(ValueError, match="match row for row"):
        organize(labels, photos[:3], str(tmp_path / "g"))
    with pytest.raises(ValueError, match="^1 path for 6 labels"):
        organize(labels, photos[:1], str(tmp_path / "g"))
    with pytest.raises(ValueError, match=">= -1"):
        organize(np.array([-2] * 6), photos, str(tmp_path / "g"))
    with pytest.raises(FileNotFoundError, match="summary.json"):
        organize(str(tmp_path), photos, str(tmp_path / "g"))
