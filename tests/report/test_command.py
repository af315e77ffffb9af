"""`gpucluster organize | report | animate` through report._command.register."""

import argparse
import json
import os

import numpy as np
import pytest

from gpucluster.report._command import register

from ._results import make_images, write_results


def run(*argv):
    parser = argparse.ArgumentParser(prog="gpucluster")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


@pytest.fixture
def results(tmp_path):
    photos = make_images(str(tmp_path / "photos"), 8)
    labels = np.array([0, 0, 0, 1, 1, 1, -1, 1])
    return write_results(str(tmp_path / "results"), [labels, np.zeros(8, dtype=int)], paths=photos), photos


def test_organize_then_report(results, tmp_path, capsys):
    folder, photos = results
    gallery = tmp_path / "gallery"
    assert run("organize", folder, "--out", gallery, "--copy") == 0
    assert "8 copies in 3 folders" in capsys.readouterr().out
    assert sorted(p.name for p in gallery.iterdir() if p.is_dir()) == ["cluster_000_n3", "cluster_001_n4", "noise_n1"]
    with pytest.raises(FileExistsError):
        run("organize", folder, "--out", gallery)
    assert run("organize", folder, "--out", gallery, "--rank", "2", "--overwrite", "--link") == 0
    assert os.path.islink(gallery / "cluster_000_n8" / os.path.basename(photos[0]))
    assert run("report", folder, "--out", gallery) == 0
    page = (gallery / "report.html").read_text()
    assert 'href="cluster_001_n4/"' in page  # folders read from organize.json
    assert page.count("<section class=cluster") == 3


def test_report_reads_embeddings_and_failures_from_a_store(results, tmp_path):
    store_module = pytest.importorskip("gpucluster.embed.store")
    folder, photos = results
    store = store_module.EmbeddingStore(str(tmp_path / "store"), {"model": "test", "dim": 4, "dtype": "float32"})
    stats = [(os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in photos]
    with store.lock():
        store.write_batch(photos, stats, np.arange(32, dtype=np.float32).reshape(8, 4))
        store.write_failures([(str(tmp_path / "photos" / "bad.jpg"), "truncated")], [(3, 1)])
    gallery = tmp_path / "gallery"
    assert run("report", folder, "--store", tmp_path / "store", "--out", gallery, "--names",
               _names(tmp_path)) == 0
    page = (gallery / "report.html").read_text()
    assert "id=points" in page and "bad.jpg" in page and "truncated" in page and "lake" in page


def test_a_store_of_one_image_for_more_labels_is_counted_in_the_singular(tmp_path):
    store_module = pytest.importorskip("gpucluster.embed.store")
    photo = make_images(str(tmp_path / "photos"), 1)
    folder = write_results(str(tmp_path / "results"), [np.zeros(2, dtype=int)])
    store = store_module.EmbeddingStore(str(tmp_path / "store"),
                                        {"model": "test", "dim": 4, "dtype": "float32"})
    with store.lock():
        store.write_batch(photo, [None], np.ones((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="^the store holds 1 image but the result has 2 labels"):
        run("report", folder, "--store", tmp_path / "store", "--out", tmp_path / "gallery")


def _names(tmp_path):
    path = tmp_path / "names.json"
    path.write_text(json.dumps({"1": "lake"}))
    return path


def test_animate_from_npy(tmp_path, capsys):
    X = np.random.default_rng(0).normal(size=(60, 3))
    np.save(tmp_path / "x.npy", X)
    assert run("animate", tmp_path / "x.npy", "--n-clusters", 3, "--out", tmp_path / "k.gif", "--max-iter", 3) == 0
    assert (tmp_path / "k.gif").read_bytes()[:3] == b"GIF"
    assert "animation:" in capsys.readouterr().out


@pytest.mark.parametrize("array, message", [
    (np.zeros(5), "2-D"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
    (np.array([[{"a": 1}, None]], dtype=object), "not a plain numeric .npy"),
    (np.array([["a", "b"], ["c", "d"]]), "real numbers"),
], ids=["1-D", "nan", "pickle", "strings"])
def test_animate_refuses_a_bad_npy_naming_the_file(tmp_path, array, message):
    np.save(tmp_path / "x.npy", array, allow_pickle=True)
    with pytest.raises(ValueError, match=message) as info:
        run("animate", tmp_path / "x.npy", "--n-clusters", 2, "--out", tmp_path / "k.gif")
    assert "x.npy" in str(info.value)
    assert not (tmp_path / "k.gif").exists()


def test_missing_paths_are_explained(tmp_path):
    folder = write_results(str(tmp_path / "results"), [np.zeros(3, dtype=int)])
    with pytest.raises(ValueError, match="paths.json"):
        run("organize", folder, "--out", tmp_path / "g")


def _labels_file(folder):
    return os.path.join(folder, "rank_01_kmeans", "labels.npy")


@pytest.mark.parametrize("corrupt, name", [
    (lambda f: open(_labels_file(f), "wb").close(), "labels.npy"),
    (lambda f: np.save(_labels_file(f), np.linspace(0, 1, 8)), "labels.npy"),
    (lambda f: np.save(_labels_file(f), np.array(["a"] * 8)), "labels.npy"),
    (lambda f: open(_labels_file(f), "w").write("0\n1\n"), "labels.npy"),
    (lambda f: np.save(_labels_file(f), np.zeros(5, dtype=np.int64)), "labels.npy"),
    (lambda f: open(os.path.join(f, "summary.json"), "wb").write(bytes(range(256))), "summary.json"),
    (lambda f: open(os.path.join(f, "summary.json"), "w").write("[" * 50_000 + "]" * 50_000),
     "summary.json"),
], ids=["zero-bytes", "float", "string", "text", "short", "random-bytes", "deeply-nested"])
def test_cli_reports_a_damaged_results_folder_in_one_line(results, tmp_path, capsys, corrupt, name):
    from gpucluster.cli import main

    folder, _ = results
    corrupt(folder)
    assert main(["report", folder, "--out", str(tmp_path / "gallery")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gpucluster report: error: ")
    named = _labels_file(folder) if name == "labels.npy" else os.path.join(folder, name)
    assert named in err
    assert "allow_pickle" not in err and "Traceback" not in err
