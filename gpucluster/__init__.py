"""gpucluster: clustering on the GPU and the CPU with the scikit-learn API.

``import gpucluster`` needs neither CuPy, torch nor a GPU, and loads none of
them: GPU libraries are imported when an array that needs them arrives. The
subpackages ``embed`` (images to embeddings, torch), ``auto`` (automatic
search) and ``report`` (galleries, HTML report, animations) load on first use.
"""

import importlib

from ._config import config_context, get_config, set_config
from . import metrics
from .cluster import (
    DBSCAN,
    FINCH,
    HDBSCAN,
    OPTICS,
    AgglomerativeClustering,
    KMeans,
    MiniBatchKMeans,
    all_points_membership_vectors,
    approximate_predict,
    k_means,
    kmeans_plusplus,
    membership_vector,
)

__version__ = "0.1.0"

__all__ = [
    "DBSCAN",
    "FINCH",
    "HDBSCAN",
    "OPTICS",
    "AgglomerativeClustering",
    "KMeans",
    "MiniBatchKMeans",
    "all_points_membership_vectors",
    "approximate_predict",
    "config_context",
    "get_config",
    "k_means",
    "kmeans_plusplus",
    "membership_vector",
    "auto",
    "embed",
    "metrics",
    "report",
    "set_config",
]

_LAZY_SUBPACKAGES = ("auto", "embed", "report")


def __getattr__(name):
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'gpucluster' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBPACKAGES))
