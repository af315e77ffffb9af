"""Cases for benchmarks/estimators.py: SpectralClustering against scikit-learn's.

10,000 x 16 blobs (10 centres), k=10, affinity="nearest_neighbors" (10
neighbours), assign_labels="kmeans" with n_init=10, the same seed, both
libraries at their defaults otherwise (eigen_solver=None: scikit-learn's
ARPACK in shift-invert mode, gpucluster's Lanczos on the deflated normalised
adjacency). Two spreads of the same centres:

- cluster_std=2.0: separated blobs, whose neighbour graph falls into one
  component per blob (the embedding's eigenvalue 0 repeated ten times);
- cluster_std=6.0: overlapping blobs, one connected graph with a small
  eigengap, where scikit-learn's sparse LU factorisation grows costly.

gpucluster runs on the CPU (``device="cpu"``).
"""

import warnings

from sklearn.datasets import make_blobs

SEED = 0
N_CLUSTERS = 10


def _blobs(std):
    def make():
        X, _ = make_blobs(10_000, 16, centers=N_CLUSTERS, cluster_std=std, random_state=SEED)
        return X
    return make


def _tools():
    def ours(X):
        from gpucluster.cluster.spectral import SpectralClustering

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "not fully connected"
            return SpectralClustering(N_CLUSTERS, affinity="nearest_neighbors",
                                      random_state=SEED, device="cpu").fit(X).labels_

    def sklearn(X):
        from sklearn.cluster import SpectralClustering

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return SpectralClustering(N_CLUSTERS, affinity="nearest_neighbors",
                                      random_state=SEED).fit(X).labels_

    return {"gpucluster": ours, "scikit-learn": sklearn}


def cases():
    """SpectralClustering, nearest_neighbors affinity, on separated and overlapping blobs."""
    return [
        {"name": "SpectralClustering",
         "shape": "n=10,000 d=16 k=10 nearest_neighbors, separated blobs (std 2)",
         "make_data": _blobs(2.0), "tools": _tools(), "iterations": None},
        {"name": "SpectralClustering",
         "shape": "n=10,000 d=16 k=10 nearest_neighbors, overlapping blobs (std 6)",
         "make_data": _blobs(6.0), "tools": _tools(), "iterations": None},
    ]
