"""HDBSCAN growth with n on 256-d blobs: gpucluster's graph and exact paths against fast_hdbscan.

make_blobs(n, 256, centers=20, cluster_std=2.0) float32, min_cluster_size=25,
at several sizes. Every tool first fits ``WARM_ROWS`` rows of the same kind of data
untimed (fast_hdbscan compiles for about 23 s in its first 256-d fit of a
process), then fits each size once. Reported per size and tool: seconds, the
ARI against gpucluster's exact path where it ran (it grows as n^2, so it
stops at ``EXACT_MAX_ROWS``), else against fast_hdbscan; and the growth
exponent log(t2 / t1) / log(n2 / n1) between successive sizes.

    python benchmarks/hdbscan_scaling.py [n ...]   # default 20000 40000 80000
    python benchmarks/hdbscan_scaling.py 1000000x64   # n x d cases (d defaults to 256)
"""

import math
import sys
import time

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

SEED = 0
MIN_CLUSTER_SIZE = 25
SIZES = (20_000, 40_000, 80_000)
QUICK_SIZES = (2_000, 4_000, 8_000)
EXACT_MAX_ROWS = 40_000
# Rows of the untimed warm-up fit: above knn_graph's exact limit (5,000 rows), so
# that the inverted-file search the timed sizes take is compiled there too.
WARM_ROWS = 6_000


def _blobs(n, seed=SEED, d=256):
    X, _ = make_blobs(n_samples=n, n_features=d, centers=20, cluster_std=2.0, random_state=seed)
    return X.astype(np.float32)


def _methods():
    from gpucluster.cluster.hdbscan import HDBSCAN

    methods = [
        ("gpucluster knn_graph",
         lambda: HDBSCAN(MIN_CLUSTER_SIZE, algorithm="knn_graph", device="cpu")),
        ("gpucluster exact", lambda: HDBSCAN(MIN_CLUSTER_SIZE, algorithm="brute", device="cpu")),
    ]
    try:
        import fast_hdbscan

        methods.append(("fast_hdbscan",
                        lambda: fast_hdbscan.HDBSCAN(min_cluster_size=MIN_CLUSTER_SIZE)))
    except ImportError:
        pass
    return methods


def run_hdbscan_scaling(quick, log, sizes=None):
    """Fit every tool at every size (an int n, or (n, d)); return one dict per (size, tool)."""
    sizes = [s if isinstance(s, tuple) else (s, 256)
             for s in (sizes or (QUICK_SIZES if quick else SIZES))]
    exact_max = EXACT_MAX_ROWS // (10 if quick else 1)
    methods = _methods()
    for d in sorted({d for _, d in sizes}):
        warm = _blobs(WARM_ROWS, seed=SEED + 1, d=d)
        for name, make in methods:
            make().fit(warm)
    rows = []
    for n, d in sizes:
        X = _blobs(n, d=d)
        labels = {}
        for name, make in methods:
            if name == "gpucluster exact" and n > exact_max:
                continue
            log(f"[HDBSCAN scaling] n={n:,} {name} ...")
            start = time.perf_counter()
            estimator = make().fit(X)
            seconds = time.perf_counter() - start
            labels[name] = np.asarray(estimator.labels_)
            rows.append({"n": n, "d": d, "method": name, "seconds": seconds})
        reference = "gpucluster exact" if "gpucluster exact" in labels else "fast_hdbscan"
        for row in rows:
            if row["n"] == n and row["d"] == d:
                row["reference"] = reference
                row["ari"] = (float(adjusted_rand_score(labels[reference], labels[row["method"]]))
                              if reference in labels else None)
    for row in rows:
        previous = [r for r in rows if r["method"] == row["method"] and r["d"] == row["d"]
                    and r["n"] < row["n"]]
        row["exponent"] = None
        if previous:
            p = max(previous, key=lambda r: r["n"])
            row["exponent"] = math.log(row["seconds"] / p["seconds"]) / math.log(row["n"] / p["n"])
    return rows


def hdbscan_scaling_markdown(rows):
    """Markdown lines for the scaling table."""
    if not rows:
        return []
    lines = [
        "",
        "## HDBSCAN growth: make_blobs(n, d, centers=20, cluster_std=2.0) float32, "
        "min_cluster_size=25",
        "",
        f"Every tool warmed by an untimed fit on {WARM_ROWS:,} rows first; one fit per size. "
        "Exponent: log(t2/t1) / log(n2/n1) from the previous size.",
        "",
        "| n x d | method | seconds | exponent | ARI | against |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        exponent = "" if r["exponent"] is None else f"{r['exponent']:.2f}"
        ari = "n/a" if r["ari"] is None else f"{r['ari']:.4f}"
        lines.append(f"| {r['n']:,} x {r['d']} | {r['method']} | {r['seconds']:.2f} | {exponent} | {ari} | "
                     f"{r['reference']} |")
    return lines


if __name__ == "__main__":
    chosen = tuple(tuple(int(v) for v in a.split("x")) if "x" in a else (int(a), 256)
                   for a in sys.argv[1:]) or None
    result = run_hdbscan_scaling(False, lambda line: print(line, file=sys.stderr, flush=True),
                                 chosen)
    print("\n".join(hdbscan_scaling_markdown(result)))
