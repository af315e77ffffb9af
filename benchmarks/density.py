"""Density-based and hierarchical clustering cases for benchmarks/run.py.

Each case fits gpucluster and its peers once on the same float32 data and
reports seconds, the peer/gpucluster ratio and the ARI of every method
against the case's reference peer. Every method, ours and the peers', first
fits the first 2,000 rows untimed, so no one's JIT compilation is counted
(fast_hdbscan compiles for about 23 s in its first 256-d fit of a process).
"""

import importlib
import time

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

SEED = 0


def _blobs(n, d, centers, std, seed=SEED):
    X, _ = make_blobs(n_samples=n, n_features=d, centers=centers, cluster_std=std, random_state=seed)
    return X.astype(np.float32)


def _sphere_blobs(n, d, centers, seed=SEED):
    """Embedding-like data: blobs in d dimensions, rows scaled to unit length."""
    X = _blobs(n, d, centers, 2.0, seed)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _gpucluster(name):
    module, cls = name.rsplit(".", 1)
    return getattr(importlib.import_module(module), cls)


def _peer(module, cls):
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError:
        return None


def _hdbscan_methods(mcs):
    return [
        ("gpucluster", lambda: _gpucluster("gpucluster.cluster.hdbscan.HDBSCAN")(min_cluster_size=mcs, device="cpu")),
        ("fast_hdbscan", lambda: _peer("fast_hdbscan", "HDBSCAN")(min_cluster_size=mcs)),
        ("hdbscan", lambda: _peer("hdbscan", "HDBSCAN")(min_cluster_size=mcs)),
        ("sklearn", lambda: _peer("sklearn.cluster", "HDBSCAN")(min_cluster_size=mcs)),
    ]


def _cases(quick):
    s = 10 if quick else 1
    return [
        {"case": "HDBSCAN", "detail": "blobs d=5, min_cluster_size=50", "reference": "hdbscan",
         "data": lambda: _blobs(100_000 // s, 5, 20, 1.0), "methods": _hdbscan_methods(50)},
        {"case": "HDBSCAN", "detail": "embedding-like d=256, min_cluster_size=25", "reference": "hdbscan",
         "data": lambda: _sphere_blobs(20_000 // s, 256, 30), "methods": _hdbscan_methods(25)},
        {"case": "DBSCAN", "detail": "blobs d=8, eps=1.5, min_samples=10", "reference": "sklearn",
         "data": lambda: _blobs(100_000 // s, 8, 20, 1.0),
         "methods": [
             ("gpucluster", lambda: _gpucluster("gpucluster.cluster.dbscan.DBSCAN")(eps=1.5, min_samples=10, device="cpu")),
             ("sklearn", lambda: _peer("sklearn.cluster", "DBSCAN")(eps=1.5, min_samples=10)),
         ]},
        {"case": "OPTICS", "detail": "blobs d=8, min_samples=10", "reference": "sklearn",
         "data": lambda: _blobs(20_000 // s, 8, 10, 1.0),
         "methods": [
             ("gpucluster", lambda: _gpucluster("gpucluster.cluster.optics.OPTICS")(min_samples=10, device="cpu")),
             ("sklearn", lambda: _peer("sklearn.cluster", "OPTICS")(min_samples=10)),
         ]},
        {"case": "Agglomerative ward", "detail": "blobs d=32, n_clusters=20", "reference": "sklearn",
         "data": lambda: _blobs(20_000 // s, 32, 20, 2.0),
         "methods": [
             ("gpucluster", lambda: _gpucluster("gpucluster.cluster.hierarchy.AgglomerativeClustering")(20, linkage="ward", device="cpu")),
             ("sklearn", lambda: _peer("sklearn.cluster", "AgglomerativeClustering")(20, linkage="ward")),
         ]},
        {"case": "Agglomerative single", "detail": "blobs d=32, n_clusters=20", "reference": "sklearn",
         "data": lambda: _blobs(20_000 // s, 32, 20, 2.0),
         "methods": [
             ("gpucluster", lambda: _gpucluster("gpucluster.cluster.hierarchy.AgglomerativeClustering")(20, linkage="single", device="cpu")),
             ("sklearn", lambda: _peer("sklearn.cluster", "AgglomerativeClustering")(20, linkage="single")),
         ]},
    ]


def run_density(quick, log):
    """Run every case whose gpucluster estimator imports; return one dict per case."""
    results = []
    for case in _cases(quick):
        X = case["data"]()
        row = {"case": case["case"], "detail": case["detail"], "n": X.shape[0], "d": X.shape[1],
               "reference": case["reference"], "methods": []}
        labels = {}
        for name, make in case["methods"]:
            try:
                estimator = make()
            except (ImportError, AttributeError, TypeError) as exc:
                if name == "gpucluster":
                    log(f"[{case['case']}] gpucluster estimator not available ({exc}); case skipped")
                    break
                continue
            try:
                make().fit(X[:2000])  # compile any JIT code outside the timing
            except ImportError as exc:  # a peer's optional dependency (e.g. pynndescent)
                log(f"  {name} could not run: {exc}")
                continue
            log(f"[{case['case']} {case['detail']}] n={X.shape[0]:,} {name} ...")
            start = time.perf_counter()
            try:
                estimator.fit(X)
            except ImportError as exc:  # a peer's optional dependency (e.g. pynndescent)
                log(f"  {name} could not run: {exc}")
                continue
            seconds = time.perf_counter() - start
            labels[name] = np.asarray(estimator.labels_)
            row["methods"].append({"method": name, "seconds": seconds})
        if not row["methods"] or row["methods"][0]["method"] != "gpucluster":
            continue
        ours = row["methods"][0]["seconds"]
        reference = labels.get(case["reference"])
        for m in row["methods"]:
            m["ratio"] = m["seconds"] / ours
            m["ari_vs_reference"] = (
                float(adjusted_rand_score(reference, labels[m["method"]])) if reference is not None else None
            )
        results.append(row)
    return results


def density_markdown(rows):
    """Markdown lines for the density/hierarchy table."""
    if not rows:
        return []
    lines = [
        "",
        "## Density-based and hierarchical clustering (float32, one fit each, seconds)",
        "",
        "ratio = method's seconds / gpucluster's (>1: gpucluster faster); ARI against the case's reference method.",
        "Every method (gpucluster and its peers) was warmed by an untimed fit on 2,000 rows first.",
        "",
        "| case | data | n | d | method | seconds | ratio | ARI vs reference |",
        "|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        for m in row["methods"]:
            ari = "n/a" if m["ari_vs_reference"] is None else f"{m['ari_vs_reference']:.4f}"
            lines.append(
                f"| {row['case']} | {row['detail']} | {row['n']:,} | {row['d']} | {m['method']} | "
                f"{m['seconds']:.2f} | {m['ratio']:.2f} | {ari} ({row['reference']}) |"
            )
    return lines
