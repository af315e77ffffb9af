"""Clustering estimators with scikit-learn's API."""

from .affinity import AffinityPropagation, affinity_propagation
from .birch import Birch
from .dbscan import DBSCAN, dbscan
from .finch import FINCH
from .hdbscan import HDBSCAN, all_points_membership_vectors, approximate_predict, membership_vector
from .hierarchy import AgglomerativeClustering
from .kmeans import KMeans, k_means, kmeans_plusplus
from .kmedoids import KMedoids
from .meanshift import MeanShift, estimate_bandwidth, get_bin_seeds, mean_shift
from .minibatch_kmeans import MiniBatchKMeans
from .mixture import GaussianMixture
from .optics import OPTICS
from .spectral import SpectralClustering, spectral_clustering

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
    "SpectralClustering",
    "all_points_membership_vectors",
    "affinity_propagation",
    "approximate_predict",
    "dbscan",
    "estimate_bandwidth",
    "get_bin_seeds",
    "k_means",
    "kmeans_plusplus",
    "mean_shift",
    "membership_vector",
    "spectral_clustering",
]
