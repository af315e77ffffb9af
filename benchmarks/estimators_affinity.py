"""Cases for benchmarks/estimators.py: AffinityPropagation against scikit-learn.

Blobs in 16 dimensions (10 centres), n = 1,000, 2,000 and 3,000 (the
issue's shape is the last), float64,
the default parameters (median preference, damping 0.5, max_iter 200) and
the same random_state, so both run the same iterations to the same
exemplars (ARI 1). O(n^2) per iteration: the exponent of growth between
sizes should be near 2 for both.
"""

import warnings

from sklearn.datasets import make_blobs

SEED = 0
SIZES = (1_000, 2_000, 3_000)


def _tools(device):
    def ours(X):
        from gpucluster.cluster.affinity import AffinityPropagation

        return AffinityPropagation(random_state=SEED, device=device).fit(X).labels_

    def sklearn(X):
        from sklearn.cluster import AffinityPropagation
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return AffinityPropagation(random_state=SEED).fit(X).labels_

    return {"gpucluster": ours, "scikit-learn": sklearn}


def cases(device="cpu"):
    """AffinityPropagation at the three sizes."""
    return [
        {"name": "AffinityPropagation", "shape": f"n={n:,} d=16 blobs(10)",
         "make_data": lambda n=n: make_blobs(n, 16, centers=10, random_state=SEED)[0],
         "tools": _tools(device), "iterations": None}
        for n in SIZES
    ]
