"""The step-by-step commands chained as a user runs them, each in its own process:
embed -> auto -> cluster -> organize -> report, and animate."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("open_clip")

from gpucluster.auto import validate_summary

from .embed.imagegen import write_image_set

CLI = [sys.executable, "-m", "gpucluster.cli"]


def gpucluster(*args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=600,
                          env=env)
    return done


@pytest.mark.slow
def test_embed_auto_cluster_organize_report_chain(tmp_path):
    paths, _ = write_image_set(tmp_path / "images", n=30, groups=3, seed=2)
    store = tmp_path / "store"
    embed = ["embed", tmp_path / "images", "--out", store, "--model", "gpucluster-tiny",
             "--pretrained", "none", "--device", "cpu", "--num-workers", "0", "--quiet"]
    done = gpucluster(*embed)
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"30 selected, 30 embedded, 0 reused, 0 skipped", done.stdout), done.stdout
    again = gpucluster(*embed)
    assert re.search(r"30 selected, 0 embedded, 30 reused", again.stdout), again.stdout

    results = tmp_path / "results"
    done = gpucluster("auto", store, "--out", results, "--top", "3", "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((results / "summary.json").read_text())
    validate_summary(summary)
    assert 1 <= len(summary["ranking"]) <= 3
    assert sorted(json.loads((results / "paths.json").read_text())) == paths
    refused = gpucluster("auto", store, "--out", results, "--quiet")
    assert refused.returncode == 1 and "overwrite" in refused.stderr

    one = tmp_path / "kmeans3"
    done = gpucluster("cluster", store, "--algorithm", "kmeans", "--param", "n_clusters=3",
                      "--out", one)
    assert done.returncode == 0, done.stderr[-2000:]
    labels = np.load(one / "labels.npy", allow_pickle=False)
    assert labels.shape == (30,) and set(labels.tolist()) == {0, 1, 2}

    gallery = tmp_path / "gallery"
    done = gpucluster("organize", results, "--store", store, "--out", gallery, "--copy")
    assert done.returncode == 0, done.stderr[-2000:]
    best = np.load(results / summary["ranking"][0]["folder"] / "labels.npy", allow_pickle=False)
    folders = sorted(f for f in os.listdir(gallery) if f.startswith(("cluster_", "noise_")))
    assert len([f for f in folders if f.startswith("cluster_")]) == len(set(best.tolist()) - {-1})
    copied = [os.path.join(gallery, f, name) for f in folders for name in os.listdir(gallery / f)]
    assert len(copied) == 30 and not any(os.path.islink(p) for p in copied)

    done = gpucluster("report", results, "--store", store, "--out", gallery)
    assert done.returncode == 0, done.stderr[-2000:]
    html = (gallery / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert len(re.findall(r'<section class="?cluster"? data-label="(\d+)"', html)) == len(set(best.tolist()) - {-1})


def test_animate_writes_one_frame_per_iteration(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 1.0, size=(100, 5)) for c in (0, 4, 8)]).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    done = gpucluster("animate", tmp_path / "X.npy", "--n-clusters", 3, "--out", tmp_path / "km.gif",
                      "--max-iter", 5)
    assert done.returncode == 0, done.stderr[-2000:]
    with Image.open(tmp_path / "km.gif") as gif:
        assert 1 <= gif.n_frames <= 5 and gif.size == (480, 480)
    refused = gpucluster("animate", tmp_path / "X.npy", "--n-clusters", 3, "--out", tmp_path / "km.gif")
    assert refused.returncode == 1 and "overwrite" in refused.stderr.lower()
