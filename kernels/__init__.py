"""gpucluster's custom kernels, installed as ``gpucluster.kernels``: the bottom layer.

Every public kernel takes arrays of any supported kind and returns arrays of
the same library and device: host arrays (NumPy, torch CPU,
array_api_strict) run the Numba CPU kernels of ``cpu/`` on zero-copy NumPy
views; CUDA arrays (CuPy, torch CUDA) run the numba.cuda kernels of
``cuda/`` on CuPy views, launched on CuPy's current stream. Each kernel is
declared once, with its checks and both implementations, by the ``@kernel``
decorator of ``_dispatch.py``; ``KERNELS`` lists them.

This package imports nothing from the rest of gpucluster: ``arrays.py``
(array kinds and views), ``memory.py`` (free memory, chunk sizes,
out-of-memory halving) and ``metric.py`` (the metric codes) hold what it
needs, and ``gpucluster.backend`` builds on them.
"""

from . import _numba  # noqa: F401  (NumPy aliases numba-cuda needs, before it is imported)
from ._dispatch import KERNELS
from .affinity import affinity_step
from .cftree import cftree_insert
from .centers import assign, centroid_update, lloyd_step, seeding_potentials, seeding_update
from .graph import connected_components, graph_mst, mst
from .knn_graph import knn_graph, knn_recall
from .medoids import build_gains, fasterpam_sweep, medoid_assignment
from .neighbors import knn, radius_neighbors
from .ordering import (
    forest_roots,
    label_merges,
    leaf_labels,
    nn_chain,
    optics_core_distances,
    optics_graph_ordering,
    optics_ordering,
    spanning_forest,
)
from .pairwise import pairwise_sums
from .superpixels import enforce_connectivity, slic_step

__all__ = [
    "KERNELS",
    "affinity_step",
    "assign",
    "build_gains",
    "centroid_update",
    "cftree_insert",
    "connected_components",
    "enforce_connectivity",
    "fasterpam_sweep",
    "forest_roots",
    "graph_mst",
    "knn",
    "knn_graph",
    "knn_recall",
    "label_merges",
    "leaf_labels",
    "lloyd_step",
    "medoid_assignment",
    "mst",
    "nn_chain",
    "optics_core_distances",
    "optics_graph_ordering",
    "optics_ordering",
    "pairwise_sums",
    "radius_neighbors",
    "seeding_potentials",
    "seeding_update",
    "slic_step",
    "spanning_forest",
]
