"""Results folders and images built by hand, following the results-folder format of the spec."""

import json
import os

import numpy as np


def write_image(path, color=(200, 40, 40), size=(24, 16)):
    """A small JPEG (or whatever the extension says) at ``path``."""
    from PIL import Image

    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", size, color).save(path, format="JPEG")
    return path


def make_images(folder, n, prefix="img"):
    """``n`` small coloured images; returns their absolute paths."""
    paths = []
    for i in range(n):
        color = ((37 * i) % 256, (91 * i) % 256, (53 * i + 120) % 256)
        paths.append(write_image(os.path.join(folder, f"{prefix}_{i:04d}.jpg"), color))
    return [os.path.abspath(p) for p in paths]


def summary_for(labels_by_rank, n_features=8, settings=None):
    """A summary.json dict for the given labels per rank (rank 1 first)."""
    candidates, ranking = [], []
    for rank, labels in enumerate(labels_by_rank, start=1):
        labels = np.asarray(labels)
        n_clusters = int(np.unique(labels[labels >= 0]).size)
        algorithm = "kmeans" if rank % 2 else "hdbscan"
        candidates.append({
            "id": rank - 1, "algorithm": algorithm, "params": {"n_clusters": n_clusters},
            "status": "ok", "error": None, "n_clusters": n_clusters,
            "noise_fraction": float(np.mean(labels == -1)), "seconds": 0.01 * rank,
            "scores": {"composite": 1.0 / rank, "silhouette": 0.5, "balance": 0.9, "noise_penalty": 0.0},
        })
        ranking.append({"rank": rank, "candidate": rank - 1, "folder": f"rank_{rank:02d}_{algorithm}"})
    candidates.append({"id": len(candidates), "algorithm": "dbscan", "params": {"eps": 0.5},
                       "status": "failed", "error": "boom", "n_clusters": 0, "noise_fraction": 1.0,
                       "seconds": 0.0, "scores": {"composite": None, "silhouette": None, "balance": None,
                                                  "noise_penalty": None}})
    return {
        "schema": "gpucluster.auto.summary/1", "created": "2026-01-02T03:04:05+00:00",
        "gpucluster": "0.1.0",
        "data": {"n_samples": int(len(labels_by_rank[0])), "n_features": n_features,
                 "metric": "cosine", "source": None},
        "settings": settings or {"mode": "fast", "top": len(labels_by_rank), "random_state": 0},
        "cut_short": False,
        "timings": {"shared": {"normalize": 0.01, "pca": 0.02, "knn": 0.03, "silhouette_sample": 0.04},
                    "search": 1.5, "total": 1.6},
        "weights": {"silhouette": 1.0, "balance": 0.5, "noise": 0.5},
        "candidates": candidates, "ranking": ranking,
    }


def write_results(folder, labels_by_rank, paths=None):
    """A results folder: summary.json, rank_NN_<algorithm>/labels.npy + info.json, paths.json."""
    os.makedirs(folder, exist_ok=True)
    summary = summary_for(labels_by_rank)
    for entry, labels in zip(summary["ranking"], labels_by_rank):
        rank_dir = os.path.join(folder, entry["folder"])
        os.makedirs(rank_dir)
        labels = np.asarray(labels, dtype=np.int64)
        np.save(os.path.join(rank_dir, "labels.npy"), labels, allow_pickle=False)
        ids, counts = np.unique(labels[labels >= 0], return_counts=True)
        with open(os.path.join(rank_dir, "info.json"), "w") as handle:
            json.dump({"rank": entry["rank"], "candidate": entry["candidate"], "algorithm": "kmeans",
                       "params": {}, "n_clusters": int(ids.size),
                       "sizes": {str(i): int(c) for i, c in zip(ids, counts)},
                       "noise": int(np.sum(labels == -1)), "scores": {}, "seconds": 0.01}, handle)
    with open(os.path.join(folder, "summary.json"), "w") as handle:
        json.dump(summary, handle)
    if paths is not None:
        with open(os.path.join(folder, "paths.json"), "w") as handle:
            json.dump(list(paths), handle)
    return folder


def snapshot(folder):
    """{relative path: (kind, size, mtime_ns, link target)} of everything below ``folder``."""
    state = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            target = os.readlink(path) if os.path.islink(path) else None
            state[os.path.relpath(path, folder)] = (st.st_mode, st.st_size, st.st_mtime_ns, target)
    return state
