"""gpucluster: clustering on the GPU and the CPU with the scikit-learn API.

``import gpucluster`` needs neither CuPy, torch nor a GPU, and loads none of
them: GPU libraries are imported when an array that needs them arrives. The
subpackages ``embed`` (images to embeddings, torch), ``auto`` (automatic
search), ``report`` (galleries, HTML report, animations) and ``segment``
(image segmentation by clustering pixels) load on first use.
"""

import importlib
import importlib.util
import os
import sys


def _mount_source_kernels():
    """In a source checkout with no install, make the top-level kernels/ folder ``gpucluster.kernels``.

    An install maps kernels/ to ``gpucluster.kernels`` (pyproject.toml's
    package-dir); a checkout on ``sys.path`` has no such mapping, so the
    folder beside this package is loaded under that name instead.
    """
    if importlib.util.find_spec(f"{__name__}.kernels") is not None:
        return
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kernels")
    init = os.path.join(folder, "__init__.py")
    if not os.path.isfile(init):
        return
    spec = importlib.util.spec_from_file_location(
        f"{__name__}.kernels", init, submodule_search_locations=[folder]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    globals()["kernels"] = module


_mount_source_kernels()

from ._config import config_context, get_config, set_config
from ._version import __version__
from . import metrics
from .cluster import (
    DBSCAN,
    FINCH,
    HDBSCAN,
    OPTICS,
    AffinityPropagation,
    AgglomerativeClustering,
    Birch,
    GaussianMixture,
    KMeans,
    KMedoids,
    MeanShift,
    MiniBatchKMeans,
    SpectralClustering,
    affinity_propagation,
    all_points_membership_vectors,
    approximate_predict,
    dbscan,
    estimate_bandwidth,
    k_means,
    kmeans_plusplus,
    mean_shift,
    membership_vector,
    spectral_clustering,
)

__all__ = [
    "DBSCAN",
    "FINCH",
    "HDBSCAN",
    "OPTICS",
    "AffinityPropagation",
    "AgglomerativeClustering",
    "Birch",
    "GaussianMixture",
    "KMeans",
    "KMedoids",
    "MeanShift",
    "MiniBatchKMeans",
    "PCA",
    "SpectralClustering",
    "affinity_propagation",
    "all_points_membership_vectors",
    "approximate_predict",
    "config_context",
    "dbscan",
    "estimate_bandwidth",
    "get_config",
    "k_means",
    "kmeans_plusplus",
    "mean_shift",
    "membership_vector",
    "spectral_clustering",
    "auto",
    "decomposition",
    "distributed",
    "embed",
    "metrics",
    "report",
    "segment",
    "set_config",
]

_LAZY_SUBPACKAGES = ("auto", "decomposition", "distributed", "embed", "report", "segment")


# Top-level estimators of lazy subpackages, imported on first use.
_LAZY_NAMES = {"PCA": "decomposition"}


def __getattr__(name):
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'gpucluster' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBPACKAGES))
