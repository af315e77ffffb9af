"""gpucluster on a Dask cluster: embedding over workers, and the clients that reach them.

Nothing here imports Dask until it is used: ``import gpucluster.distributed`` works
without Dask installed, and a function that needs it says which extra to install
(``gpucluster[dask]``).

- :func:`embed_images`: an image collection embedded on the workers of a cluster,
  into the same resumable store as on one machine.
- :func:`connect`: a client of a running scheduler, or of a local cluster started
  for the job; :func:`local_cluster` starts such a cluster.
- Estimators and metrics on dask arrays (rows in chunks of NumPy or CuPy):
  ``gpucluster.KMeans``, ``MiniBatchKMeans``, ``GaussianMixture`` and the
  metrics hand a dask array (:func:`is_dask_array`) to the submodules
  :mod:`.kmeans` (k-means|| and Lloyd as map-reduce), :mod:`.minibatch`
  (``partial_fit`` over the chunks), :mod:`.mixture` (EM as map-reduce) and
  :mod:`.metrics` (chunked reductions; the silhouette on a sample). They run
  on Dask's current scheduler (a ``distributed.Client`` when one is set).
- ``gpucluster.HDBSCAN`` and ``DBSCAN`` are global: on a dask array they fit on
  the client (X must fit in its memory), with their neighbour graph built on
  the cluster, one task per pair of row chunks (:mod:`.density`,
  :func:`.neighbors.knn_graph`).
"""

import importlib

_EXPORTS = {
    "embed_images": ".embed",
    "connect": ".client",
    "local_cluster": ".client",
}
# Submodules loaded on first use (each imports Dask only inside its functions).
_SUBMODULES = ("kmeans", "minibatch", "mixture", "metrics", "neighbors", "density")

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "is_dask_array"])


def is_dask_array(X):
    """True for a dask collection (``dask.array.Array``), checked without importing Dask."""
    return type(X).__module__.split(".")[0] == "dask"


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
