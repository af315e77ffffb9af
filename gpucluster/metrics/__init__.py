"""Cluster-validity metrics.

Internal indices (the data and the labels): :func:`silhouette_score`,
:func:`silhouette_samples`, :func:`calinski_harabasz_score`,
:func:`davies_bouldin_score`; they compute where X lives (NumPy, torch,
array_api_strict, CuPy). External indices (two labelings):
:func:`adjusted_rand_score`, :func:`adjusted_mutual_info_score`,
:func:`normalized_mutual_info_score`, :func:`homogeneity_score`,
:func:`completeness_score`, :func:`v_measure_score`,
:func:`homogeneity_completeness_v_measure`, :func:`mutual_info_score`,
:func:`rand_score`, :func:`fowlkes_mallows_score`, :func:`pair_confusion_matrix`,
:func:`contingency_matrix`, :func:`expected_mutual_information`. And
:func:`cluster_balance` for the evenness of cluster sizes. Signatures and
values follow ``sklearn.metrics``.
"""

from ._balance import cluster_balance
from ._external import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    completeness_score,
    contingency_matrix,
    expected_mutual_information,
    fowlkes_mallows_score,
    homogeneity_completeness_v_measure,
    homogeneity_score,
    mutual_info_score,
    normalized_mutual_info_score,
    pair_confusion_matrix,
    rand_score,
    v_measure_score,
)
from ._internal import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_samples,
    silhouette_score,
)

__all__ = [
    "adjusted_mutual_info_score",
    "adjusted_rand_score",
    "calinski_harabasz_score",
    "cluster_balance",
    "completeness_score",
    "contingency_matrix",
    "davies_bouldin_score",
    "expected_mutual_information",
    "fowlkes_mallows_score",
    "homogeneity_completeness_v_measure",
    "homogeneity_score",
    "mutual_info_score",
    "normalized_mutual_info_score",
    "pair_confusion_matrix",
    "rand_score",
    "silhouette_samples",
    "silhouette_score",
    "v_measure_score",
]
