"""The built-in default job: cluster scikit-learn's digits on the best device, beside scikit-learn."""

import time

import numpy as np

from . import backend, metrics
from .cluster import KMeans, MiniBatchKMeans


def _scores(X, labels, truth):
    return {
        "ARI": metrics.adjusted_rand_score(truth, labels),
        "AMI": metrics.adjusted_mutual_info_score(truth, labels),
        "V-measure": metrics.v_measure_score(truth, labels),
        "silhouette": metrics.silhouette_score(X, labels),
        "Calinski-Harabasz": metrics.calinski_harabasz_score(X, labels),
        "Davies-Bouldin": metrics.davies_bouldin_score(X, labels),
        "balance": metrics.cluster_balance(labels),
    }


def _timed_fit(estimator, X):
    start = time.perf_counter()
    estimator.fit(X)
    return estimator, time.perf_counter() - start


def run_digits(n_clusters=10, random_state=0, device=None):
    """Cluster the digits (1797 x 64) with gpucluster and scikit-learn; return timings and scores.

    ``device`` None picks the best available: "cuda" when a GPU answers, else
    "cpu". Returns a dict with the device, the data shape, the one-off Numba
    compile time, and per method its seconds, inertia and metric values.
    """
    import sklearn.cluster
    from sklearn.datasets import load_digits

    if device is None:
        device = "cuda" if backend.gpu_available() else "cpu"
    X, truth = load_digits(return_X_y=True)
    X = X.astype(np.float32)

    # The first fit compiles the Numba kernels (cached on disk afterwards);
    # time it apart so the comparison is of the algorithms.
    start = time.perf_counter()
    KMeans(n_clusters, random_state=random_state, device=device).fit(X[:200])
    compile_seconds = time.perf_counter() - start

    runs = {
        "gpucluster KMeans": KMeans(n_clusters, random_state=random_state, device=device),
        "scikit-learn KMeans": sklearn.cluster.KMeans(n_clusters, random_state=random_state),
        "gpucluster MiniBatchKMeans": MiniBatchKMeans(
            n_clusters, random_state=random_state, device=device, batch_size=256
        ),
        "scikit-learn MiniBatchKMeans": sklearn.cluster.MiniBatchKMeans(
            n_clusters, random_state=random_state, batch_size=256
        ),
        "gpucluster KMeans (cosine)": KMeans(
            n_clusters, random_state=random_state, device=device, metric="cosine"
        ),
    }
    results = {}
    for name, estimator in runs.items():
        estimator, seconds = _timed_fit(estimator, X)
        labels = backend.to_numpy(estimator.labels_)
        results[name] = {
            "seconds": seconds,
            "inertia": float(estimator.inertia_),
            "n_iter": int(estimator.n_iter_),
            **_scores(X, labels, truth),
        }
    return {
        "dataset": "digits",
        "shape": tuple(X.shape),
        "n_clusters": n_clusters,
        "device": device,
        "compile_seconds": compile_seconds,
        "results": results,
    }
