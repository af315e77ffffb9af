"""DBSCAN at scale: gpucluster's exact and neighbour-graph paths against scikit-learn.

make_blobs(n, d, centers=20, cluster_std=2.0) float32, min_samples=10, eps
at the 60 % quantile of 2,000 sampled rows' distances to their 9th nearest
other row (about 60 % of rows core, the rest borders and noise). Every tool
first fits ``WARM_ROWS`` rows of the same kind of data untimed, then fits each case
once. scikit-learn runs with n_jobs=-1 (all cores, as gpucluster's Numba
threads). Reported: seconds, the speed ratio against scikit-learn, the ARI
against scikit-learn's labels, and the clusters and noise share found.

    python benchmarks/dbscan_scaling.py              # 1M x 8 and 200k x 64
    python benchmarks/dbscan_scaling.py 100000x8     # other cases, n x d
"""

import sys
import time

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

SEED = 0
MIN_SAMPLES = 10
CASES = ((1_000_000, 8), (200_000, 64))
QUICK_CASES = ((50_000, 8), (20_000, 64))
# Rows of the untimed warm-up fit: above knn_graph's exact limit (5,000 rows), so
# that the inverted-file search the timed cases take is compiled there too.
WARM_ROWS = 6_000


def _blobs(n, d, seed=SEED):
    X, _ = make_blobs(n_samples=n, n_features=d, centers=20, cluster_std=2.0, random_state=seed)
    return X.astype(np.float32)


def _eps(X, seed=SEED):
    """The 60 % quantile of sampled rows' distances to their (MIN_SAMPLES - 1)-th other row."""
    from gpucluster.kernels import knn

    rng = np.random.default_rng(seed)
    sample = X[rng.choice(X.shape[0], min(2_000, X.shape[0]), replace=False)]
    distances, _ = knn(X, MIN_SAMPLES, queries=sample, metric="euclidean")
    return float(np.quantile(np.asarray(distances)[:, -1], 0.6))


def _methods():
    from sklearn.cluster import DBSCAN as SkDBSCAN

    from gpucluster.cluster.dbscan import DBSCAN

    return [
        ("scikit-learn", lambda eps: SkDBSCAN(eps=eps, min_samples=MIN_SAMPLES, n_jobs=-1)),
        ("gpucluster exact", lambda eps: DBSCAN(eps, min_samples=MIN_SAMPLES, device="cpu")),
        ("gpucluster knn_graph", lambda eps: DBSCAN(eps, min_samples=MIN_SAMPLES,
                                                    algorithm="knn_graph", device="cpu")),
    ]


def run_dbscan_scaling(quick, log, cases=None):
    """Fit every tool on every case; return one dict per (case, tool)."""
    cases = cases or (QUICK_CASES if quick else CASES)
    methods = _methods()
    rows = []
    for n, d in cases:
        warm = _blobs(WARM_ROWS, d, seed=SEED + 1)
        warm_eps = _eps(warm)
        for _, make in methods:
            make(warm_eps).fit(warm)
        X = _blobs(n, d)
        eps = _eps(X)
        labels = {}
        for name, make in methods:
            log(f"[DBSCAN] {n:,} x {d} {name} (eps {eps:.3f}) ...")
            start = time.perf_counter()
            estimator = make(eps).fit(X)
            seconds = time.perf_counter() - start
            labels[name] = np.asarray(estimator.labels_)
            rows.append({"n": n, "d": d, "eps": eps, "method": name, "seconds": seconds,
                         "clusters": int(labels[name].max()) + 1,
                         "noise": float(np.mean(labels[name] < 0))})
        reference = labels["scikit-learn"]
        base = next(r["seconds"] for r in rows if r["n"] == n and r["d"] == d
                    and r["method"] == "scikit-learn")
        for row in rows:
            if row["n"] == n and row["d"] == d:
                row["ari"] = float(adjusted_rand_score(reference, labels[row["method"]]))
                row["speedup"] = base / row["seconds"]
    return rows


def dbscan_scaling_markdown(rows):
    """Markdown lines for the DBSCAN table."""
    if not rows:
        return []
    lines = [
        "",
        "## DBSCAN: make_blobs(n, d, centers=20, cluster_std=2.0) float32, min_samples=10",
        "",
        "eps: the 60 % quantile of sampled rows' 9th-neighbour distances. Every tool warmed by "
        f"an untimed fit on {WARM_ROWS:,} rows first; one fit per case; scikit-learn with "
        "n_jobs=-1. "
        "Speed-up: scikit-learn's seconds over the tool's.",
        "",
        "| n x d | eps | method | seconds | speed-up | ARI vs scikit-learn | clusters | noise |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['n']:,} x {r['d']} | {r['eps']:.3f} | {r['method']} "
                     f"| {r['seconds']:.2f} | {r['speedup']:.2f}x | {r['ari']:.4f} "
                     f"| {r['clusters']} | {r['noise']:.3f} |")
    return lines


if __name__ == "__main__":
    chosen = tuple(tuple(int(v) for v in a.split("x")) for a in sys.argv[1:]) or None
    result = run_dbscan_scaling(False, lambda line: print(line, file=sys.stderr, flush=True),
                                chosen)
    print("\n".join(dbscan_scaling_markdown(result)))
