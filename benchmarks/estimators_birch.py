"""Cases for benchmarks/estimators.py: Birch against scikit-learn's.

    python benchmarks/estimators_birch.py           # the three sizes, table and exponents
    python benchmarks/estimators_birch.py --quick   # a tenth of the rows

Blobs in 16 dimensions (10 centres, std 1), n = 50,000, 100,000 and 200,000,
float64; threshold 3.0 (a few thousand subclusters: each blob, of RMS
radius 4, is cut into a few hundred), branching_factor 50 and n_clusters=10
for both, so the time is the CF-tree's insertion (compiled on the host in
gpucluster, Python objects in scikit-learn), Ward's clustering of the
subcluster centres (gpucluster's AgglomerativeClustering against
scikit-learn's) and the labelling of every sample. Both build the same tree
(ARI 1 when the global steps agree). gpucluster runs on the CPU
(``device="cpu"``).

"Birch CF-tree" times the tree alone (``n_clusters=None,
compute_labels=False``; the "labels" compared are ``subcluster_labels_``,
one per subcluster, so ARI 1 says both trees have the same number of
subclusters).
"""

import math
import sys
import time

from sklearn.datasets import make_blobs

SEED = 0
SIZES = (50_000, 100_000, 200_000)  # the shape is the last
THRESHOLD = 3.0
N_CLUSTERS = 10


def _tools(device):
    def ours(X):
        from gpucluster.cluster.birch import Birch

        return Birch(threshold=THRESHOLD, n_clusters=N_CLUSTERS, device=device).fit(X).labels_

    def sklearn(X):
        from sklearn.cluster import Birch

        return Birch(threshold=THRESHOLD, n_clusters=N_CLUSTERS).fit(X).labels_

    return {"gpucluster": ours, "scikit-learn": sklearn}


def _tree_tools(device):
    params = {"threshold": THRESHOLD, "n_clusters": None, "compute_labels": False}

    def ours(X):
        from gpucluster.cluster.birch import Birch

        return Birch(**params, device=device).fit(X).subcluster_labels_

    def sklearn(X):
        from sklearn.cluster import Birch

        return Birch(**params).fit(X).subcluster_labels_

    return {"gpucluster": ours, "scikit-learn": sklearn}


def _blobs(n):
    return lambda: make_blobs(n, 16, centers=10, random_state=SEED)[0]


def cases(device="cpu"):
    """Birch (the whole fit) and its CF-tree alone, at the three sizes."""
    return [
        {"name": name, "shape": f"n={n:,} d=16 blobs(10) threshold={THRESHOLD}",
         "make_data": _blobs(n), "tools": tools(device), "iterations": None}
        for name, tools in (("Birch", _tools), ("Birch CF-tree", _tree_tools))
        for n in SIZES
    ]


def exponents(rows):
    """Growth exponent of each tool between consecutive sizes: log(t2 / t1) / log(n2 / n1)."""
    by_tool = {}
    for row in rows:
        n = int(row["shape"].split("n=")[1].split()[0].replace(",", ""))
        by_tool.setdefault((row["case"], row["tool"]), []).append((n, row["seconds"]))
    lines = []
    for (case, tool), points in by_tool.items():
        slopes = [math.log(t2 / t1) / math.log(n2 / n1)
                  for (n1, t1), (n2, t2) in zip(points, points[1:])]
        lines.append(f"{case}, {tool}: " + ", ".join(f"n^{s:.2f}" for s in slopes))
    return lines


if __name__ == "__main__":
    from estimators import estimators_markdown, run_case

    quick = "--quick" in sys.argv
    t0 = time.perf_counter()
    rows = []
    for case in cases():
        rows += run_case(case, 1 if quick else 2, quick,
                         lambda m: print(f"{time.perf_counter() - t0:7.1f}s  {m}",
                                         file=sys.stderr, flush=True))
    print("\n".join(estimators_markdown(rows)))
    print("\nGrowth exponents between consecutive sizes:")
    print("\n".join(exponents(rows)))
