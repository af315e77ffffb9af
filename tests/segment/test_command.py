"""`gpucluster segment`: end to end in a subprocess on generated images (a folder with an
unreadable file), then in this process through ``cli.main``: every algorithm, refusing to
overwrite, one-line errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import adjusted_rand_score

from ._images import shapes_image

CLI = [sys.executable, "-m", "gpucluster.cli", "segment"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(*args, check=True):
    done = subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def run_main(capsys, *args):
    """(status, stdout, stderr) of ``gpucluster segment ARGS`` run by ``cli.main`` here."""
    from gpucluster.cli import main

    status = main(["segment", *[str(a) for a in args]])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def photos(tmp_path):
    """A folder with two generated images (one in a sub-folder) and a broken file."""
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    image, truth = shapes_image(60, 80)
    Image.fromarray(image).save(folder / "shapes.png")
    Image.fromarray(image[:, ::-1]).save(folder / "more" / "shapes <b>&.jpg", quality=95)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder, truth


def test_segment_a_folder_end_to_end(photos, tmp_path, capsys):
    folder, truth = photos
    out = tmp_path / "out"
    done = run_cli(folder, "--out", out, "--n-segments", "4", "--weight", "xy=0.5")
    assert "skipped" in done.stdout and "broken.jpg" in done.stdout
    assert "2 images segmented" in done.stdout and "1 skipped" in done.stdout
    assert "page: " in done.stdout
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == ["shapes", "shapes_b"]
    labels = np.load(out / "shapes" / "labels.npy")
    assert labels.shape == (60, 80)
    assert adjusted_rand_score(truth.ravel(), labels.ravel()) >= 0.99
    for name in ("labels.png", "original.png", "overlay.png", "contours.png", "quantized.png"):
        with Image.open(out / "shapes" / name) as picture:
            assert picture.size == (80, 60)
    summary = json.loads((out / "shapes" / "segmentation.json").read_text())
    assert summary["n_segments"] == 4 and summary["settings"]["weights"] == {"lab": 1.0, "xy": 0.5}
    page = (out / "index.html").read_text()
    assert "shapes &lt;b&gt;&amp;.jpg" in page and "<b>&" not in page
    assert "broken.jpg" in page and "not an image" in page
    assert "http://" not in page and "https://" not in page
    # Nothing is replaced without --overwrite, and that is said before any work.
    status, _, err = run_main(capsys, folder, "--out", out)
    assert status == 1 and "exists" in err and "--overwrite" in err
    assert run_main(capsys, folder, "--out", out, "--overwrite", "--quiet")[0] == 0


@pytest.mark.parametrize("algorithm, spelt, extra", [
    ("slic", "SLIC", ["--superpixels", "100"]),
    ("dbscan", "dbscan", ["--features", "lab"]),
    ("hdbscan", "H-DBSCAN", ["--features", "lab"]),
])
def test_every_algorithm_runs_from_the_command_line(tmp_path, capsys, algorithm, spelt, extra):
    """Each algorithm, its name spelt in any case and with '-' or '_' as `cluster` takes it."""
    image, truth = shapes_image(60, 80, noise=3.0, gradient=0.0)
    Image.fromarray(image).save(tmp_path / "shapes.png")
    out = tmp_path / "out"
    status, _, err = run_main(capsys, tmp_path / "shapes.png", "--out", out, "--algorithm",
                              spelt, "--n-segments", "4", *extra)
    assert status == 0, err
    labels = np.load(out / "shapes" / "labels.npy")
    keep = labels >= 0
    assert keep.mean() > 0.9
    assert adjusted_rand_score(truth[keep], labels[keep]) >= 0.8
    assert json.loads((out / "shapes" / "segmentation.json").read_text())["settings"]["algorithm"] == algorithm


def test_a_perfect_segmentation_reads_no_calinski_harabasz_not_1(tmp_path, capsys):
    """Flat colours segmented on colour: no spread within segments, so the Calinski-Harabasz
    ratio is undefined (the metric's 1.0 is a convention); the line and the page say so."""
    image, _ = shapes_image(60, 80, noise=0.0, gradient=0.0)
    Image.fromarray(image).save(tmp_path / "flat.png")
    out = tmp_path / "out"
    status, printed, err = run_main(capsys, tmp_path / "flat.png", "--out", out, "--n-segments", "4",
                                    "--features", "lab", "--quiet")
    assert status == 0, err
    line = next(line for line in printed.splitlines() if line.startswith(str(tmp_path / "flat.png")))
    assert "4 segments" in line and "Calinski-Harabasz n/a (no spread within segments)" in line, line
    assert "Calinski-Harabasz 1," not in line and "Davies-Bouldin 0.000" in line
    assert "Calinski-Harabasz n/a (no spread within segments)" in (out / "index.html").read_text()
    summary = json.loads((out / "flat" / "segmentation.json").read_text())
    assert summary["no_spread_within_segments"] is True
    assert summary["scores"]["calinski_harabasz"] is None


def test_one_segment_reads_no_scores_not_nan(tmp_path, capsys):
    """One segment leaves every score undefined: the line and the page say why instead of 'nan'."""
    Image.fromarray(np.full((30, 40, 3), 120, np.uint8)).save(tmp_path / "grey.png")
    out = tmp_path / "out"
    status, printed, err = run_main(capsys, tmp_path / "grey.png", "--out", out, "--n-segments", "1",
                                    "--quiet")
    assert status == 0, err
    line = next(line for line in printed.splitlines() if line.startswith(str(tmp_path / "grey.png")))
    assert "1 segment," in line and "no scores (they compare two or more segments)" in line, line
    assert "nan" not in line
    page = (out / "index.html").read_text()
    assert "no scores (they compare two or more segments)" in page and "silhouette nan" not in page


def test_errors_are_one_line(tmp_path, capsys):
    status, _, err = run_main(capsys, tmp_path / "nowhere.png", "--out", tmp_path / "out")
    assert status == 1
    assert err.startswith("gpucluster segment: error:") and "not found" in err
    (tmp_path / "bad.png").write_bytes(b"no")
    status, _, err = run_main(capsys, tmp_path / "bad.png", "--out", tmp_path / "out")
    assert status == 1 and "no image could be segmented" in err and "not an image" in err
    status, _, err = run_main(capsys, tmp_path / "bad.png", "--out", tmp_path / "out",
                              "--weight", "xy")
    assert status == 1 and "--weight expects group=number" in err


def test_sample_with_dbscan_is_refused_per_image(tmp_path, capsys):
    image, _ = shapes_image(30, 40)
    Image.fromarray(image).save(tmp_path / "shapes.png")
    status, _, err = run_main(capsys, tmp_path / "shapes.png", "--out", tmp_path / "out",
                              "--algorithm", "dbscan", "--sample", "200")
    assert status == 1 and "neither predict nor cluster_centers_" in err
    assert "(downsample=N, --downsample N) instead of a pixel sample (sample, --sample)" in err


def test_an_unknown_algorithm_is_refused_naming_the_choices(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        run_main(capsys, tmp_path, "--out", tmp_path / "out", "--algorithm", "kmedians")
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "--algorithm: invalid choice: 'kmedians' (choose from kmeans, dbscan, hdbscan, slic)" in err
