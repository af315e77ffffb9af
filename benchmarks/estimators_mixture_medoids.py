"""Cases for benchmarks/estimators.py: GaussianMixture (against scikit-learn) and KMedoids
(against the ``kmedoids`` package's FasterPAM).

GaussianMixture: 200,000 x 64 blobs (20 centres), 20 components, diag, spherical
and full covariances in float64 and diag in float32, exactly 20 EM iterations
(tol=0) from init_params="random_from_data" with the same seed; ms per
iteration counts the whole fit (initialisation and final E-step included) and
the predict over 20. In float32 the two fits drift apart from the first
iterations (rounding, then EM's sensitivity to it), so that row's ARI is not
a parity check; tests/cluster/test_mixture.py checks float32 parity.

KMedoids: 10,000 x 64 blobs (20 centres), k=20, Euclidean. gpucluster's "pam"
(BUILD, then FasterPAM swaps) and "alternate" against ``kmedoids.KMedoids``
(fasterpam, init="build") on the same metric; the peer is given the data, so
both sides pay for their distances.
"""

import warnings

import numpy as np
from sklearn.datasets import make_blobs

SEED = 0


def _blobs(n, d, centers, dtype=np.float64):
    X, _ = make_blobs(n, d, centers=centers, cluster_std=2.0, random_state=SEED)
    return X.astype(dtype)


def _gmm_tools(covariance_type):
    def ours(X):
        from gpucluster import GaussianMixture

        return GaussianMixture(20, covariance_type=covariance_type, max_iter=20, tol=0.0,
                               init_params="random_from_data", random_state=SEED,
                               device="cpu").fit(X).predict(X)

    def sklearn(X):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return GaussianMixture(20, covariance_type=covariance_type, max_iter=20, tol=0.0,
                                   init_params="random_from_data",
                                   random_state=SEED).fit(X).predict(X)

    return {"gpucluster": ours, "scikit-learn": sklearn}


def _kmedoids_tools():
    def ours(method):
        def fit(X):
            from gpucluster import KMedoids

            return KMedoids(20, method=method, init="build", random_state=SEED,
                            device="cpu").fit(X).labels_
        return fit

    def fasterpam(X):
        import kmedoids

        return kmedoids.KMedoids(20, metric="euclidean", method="fasterpam", init="build",
                                 random_state=SEED).fit(X).labels_

    return {"gpucluster": ours("pam"), "gpucluster alternate": ours("alternate"),
            "kmedoids (FasterPAM)": fasterpam}


def cases():
    """GaussianMixture diag, spherical and full, and KMedoids: the issue's shapes."""
    gmm_data = lambda: _blobs(200_000, 64, 20)  # noqa: E731
    gmm_data32 = lambda: _blobs(200_000, 64, 20, np.float32)  # noqa: E731
    return [
        {"name": "GaussianMixture", "shape": "n=200,000 d=64 k=20 diag, 20 EM iterations",
         "make_data": gmm_data, "tools": _gmm_tools("diag"), "iterations": 20},
        {"name": "GaussianMixture",
         "shape": "n=200,000 d=64 k=20 diag float32, 20 EM iterations",
         "make_data": gmm_data32, "tools": _gmm_tools("diag"), "iterations": 20},
        {"name": "GaussianMixture", "shape": "n=200,000 d=64 k=20 spherical, 20 EM iterations",
         "make_data": gmm_data, "tools": _gmm_tools("spherical"), "iterations": 20},
        {"name": "GaussianMixture", "shape": "n=200,000 d=64 k=20 full, 20 EM iterations",
         "make_data": gmm_data, "tools": _gmm_tools("full"), "iterations": 20},
        {"name": "KMedoids", "shape": "n=10,000 d=64 k=20 euclidean",
         "make_data": lambda: _blobs(10_000, 64, 20), "tools": _kmedoids_tools(),
         "iterations": None},
    ]
