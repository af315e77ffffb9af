"""Clustering estimators with scikit-learn's API."""

from .dbscan import DBSCAN, dbscan
from .finch import FINCH
from .hdbscan import HDBSCAN, all_points_membership_vectors, approximate_predict, membership_vector
from .hierarchy import AgglomerativeClustering
from .kmeans import KMeans, k_means, kmeans_plusplus
from .kmedoids import KMedoids
from .minibatch_kmeans import MiniBatchKMeans
from .mixture import GaussianMixture
from .optics import OPTICS
from .spectral import SpectralClustering, spectral_clustering

__all__ = [
    "DBSCAN",
    "FINCH",
    "HDBSCAN",
    "OPTICS",
    "AgglomerativeClustering",
    "GaussianMixture",
    "KMeans",
    "KMedoids",
    "MiniBatchKMeans",
    "SpectralClustering",
    "all_points_membership_vectors",
    "approximate_predict",
    "dbscan",
    "k_means",
    "kmeans_plusplus",
    "membership_vector",
    "spectral_clustering",
]
