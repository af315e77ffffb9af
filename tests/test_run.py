"""`gpucluster run`, the main job, from the command line as a user runs it."""

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

from ._browser import body_attribute, chromium, console_problems, run_chromium  # noqa: F401
from .embed.imagegen import write_image_set

CLI = [sys.executable, "-m", "gpucluster.cli"]
TINY = ["--model", "gpucluster-tiny", "--pretrained", "none", "--num-workers", "0", "--device", "cpu"]


def run_cli(args, cache):
    env = {**os.environ, "GPUCLUSTER_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=900, env=env)


@pytest.mark.slow
def test_run_on_a_folder_writes_results_gallery_and_report(tmp_path, chromium):
    paths, groups = write_image_set(tmp_path / "images", n=36, groups=3, seed=1)
    out = tmp_path / "out"
    names = ["red", "green", "blue"]
    done = run_cli(["run", str(tmp_path / "images"), "--out", str(out), *TINY, "--names", *names],
                   tmp_path / "cache")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == f"report: {out / 'report.html'}"

    with open(out / "results" / "summary.json", encoding="utf-8") as f:
        summary = json.load(f)
    validate_summary(summary)
    assert summary["data"]["n_samples"] == len(paths)
    with open(out / "results" / "paths.json", encoding="utf-8") as f:
        assert sorted(json.load(f)) == paths
    best = summary["ranking"][0]["folder"]
    labels = np.load(out / "results" / best / "labels.npy", allow_pickle=False)
    assert labels.shape == (len(paths),)
    # A run that found nothing (every image noise) must not pass: the top result has
    # clusters, and its summary entry agrees with its labels.
    n_clusters = len(set(labels.tolist()) - {-1})
    top = next(c for c in summary["candidates"] if c["id"] == summary["ranking"][0]["candidate"])
    assert top["n_clusters"] == n_clusters >= 1, (top, np.unique(labels, return_counts=True))
    assert top["noise_fraction"] == pytest.approx(float(np.mean(labels == -1)))
    assert top["noise_fraction"] < 1

    gallery = out / "gallery"
    folders = [f for f in os.listdir(gallery) if f.startswith(("cluster_", "noise_"))]
    cluster_folders = [f for f in folders if f.startswith("cluster_")]
    assert len(cluster_folders) == n_clusters
    # Each cluster folder holds as many images as its name says, and at least one.
    for folder in cluster_folders:
        size = int(re.search(r"_n(\d+)", folder).group(1))
        assert size >= 1 and len(os.listdir(gallery / folder)) == size, folder
    assert sum(len(os.listdir(gallery / f)) for f in cluster_folders) == int(np.sum(labels >= 0))
    linked = sum(len(os.listdir(gallery / f)) for f in folders)
    assert linked == len(paths)
    # zero-shot names from the CLIP text tower end every cluster folder's name
    assert all(re.fullmatch(r"cluster_\d{3}_n\d+_(red|green|blue)", f) for f in folders
               if f.startswith("cluster_")), folders

    dom, stderr = run_chromium(chromium, out / "report.html", tmp_path / "profile", "--dump-dom")
    assert console_problems(stderr) == []
    assert body_attribute(dom, "data-first-screen") > 0
    assert body_attribute(dom, "data-loaded") == body_attribute(dom, "data-first-screen")
    assert body_attribute(dom, "data-broken") == 0
    shown = re.findall(r'<section class="cluster" data-label="(-?\d+)"', dom)
    assert len([s for s in shown if int(s) >= 0]) == n_clusters

    # Into the same folder again: refused without --overwrite, and nothing changes.
    before = os.stat(out / "results" / "summary.json").st_mtime_ns
    again = run_cli(["run", str(tmp_path / "images"), "--out", str(out), *TINY], tmp_path / "cache")
    assert again.returncode == 1 and "--overwrite" in again.stderr
    assert os.stat(out / "results" / "summary.json").st_mtime_ns == before

    # With --overwrite the embeddings come from the store: nothing is embedded twice.
    again = run_cli(["run", str(tmp_path / "images"), "--out", str(out), "--overwrite", *TINY],
                    tmp_path / "cache")
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.search(rf"{len(paths)} selected, 0 embedded, {len(paths)} reused", again.stdout), again.stdout


@pytest.mark.slow
def test_run_without_arguments_clusters_the_builtin_collection(tmp_path):
    done = subprocess.run(CLI + ["run", "--quiet"], capture_output=True, text=True, timeout=900,
                          cwd=tmp_path, env={**os.environ, "GPUCLUSTER_CACHE": str(tmp_path / "cache"),
                                             "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    ari = float(re.search(r"ARI of the top result against the known groups: ([0-9.]+)", done.stdout).group(1))
    assert ari >= 0.8, done.stdout
    assert "model efficientnet-lite0" in done.stdout
    assert (tmp_path / "gpucluster-demo" / "report.html").exists()
    assert (tmp_path / "gpucluster-demo" / "results" / "summary.json").exists()
