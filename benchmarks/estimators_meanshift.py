"""Cases for benchmarks/estimators.py: MeanShift against scikit-learn.

Blobs in 8 dimensions (10 centres, std 1), n = 10,000, 20,000 and 40,000,
float64, bandwidth 4.0 for both (the estimate is O(n^2) on either side and
is timed apart) and ``bin_seeding=True``, scikit-learn's advice for speed
(one seed per occupied cell of the grid); the seeds climb one at a time
with tree radius queries in scikit-learn, all together as GEMM tiles in
gpucluster.
"""

from sklearn.datasets import make_blobs

SEED = 0
SIZES = (10_000, 20_000, 40_000)
BANDWIDTH = 4.0


def _tools(device):
    def ours(X):
        from gpucluster.cluster.meanshift import MeanShift

        return MeanShift(bandwidth=BANDWIDTH, bin_seeding=True, device=device).fit(X).labels_

    def sklearn(X):
        from sklearn.cluster import MeanShift

        return MeanShift(bandwidth=BANDWIDTH, bin_seeding=True).fit(X).labels_

    return {"gpucluster": ours, "scikit-learn": sklearn}


def cases(device="cpu"):
    """MeanShift at the three sizes."""
    return [
        {"name": "MeanShift", "shape": f"n={n:,} d=8 blobs(10) bandwidth={BANDWIDTH} bins",
         "make_data": lambda n=n: make_blobs(n, 8, centers=10, random_state=SEED)[0],
         "tools": _tools(device), "iterations": None}
        for n in SIZES
    ]
