"""gpucluster: clustering on the GPU and the CPU with the scikit-learn API.

``import gpucluster`` needs neither CuPy, torch nor a GPU, and loads none of
them: GPU libraries are imported when an array that needs them arrives.
"""

from ._config import config_context, get_config, set_config
from . import metrics
from .cluster import KMeans, MiniBatchKMeans, k_means, kmeans_plusplus

__version__ = "0.1.0"

__all__ = [
    "KMeans",
    "MiniBatchKMeans",
    "config_context",
    "get_config",
    "k_means",
    "kmeans_plusplus",
    "metrics",
    "set_config",
]
