"""Balance of cluster sizes: the normalised entropy of the size distribution."""

import math

import numpy as np

from ._external import as_host_labels


def cluster_balance(labels, *, noise_label=-1):
    """Normalised entropy of the cluster sizes, noise excluded: 1 for equal sizes.

    .. math:: \\mathrm{balance} = \\frac{-\\sum_{j=1}^{K} p_j \\log p_j}{\\log K},
              \\qquad p_j = n_j / \\sum_{j'} n_{j'}

    over the K clusters that are not ``noise_label``. It is 1.0 when all
    clusters have the same size and tends to 0 as one cluster takes nearly
    every point. With a single cluster (K = 1) the ratio is 0/0; it is
    defined as 1.0 there, since one cluster is trivially balanced.

    Parameters
    ----------
    labels : array of shape (n_samples,)
        Cluster labels, integer; NumPy, CuPy, torch, any array-API array or a list.
    noise_label : int or None, default=-1
        Label of noise points (DBSCAN/HDBSCAN's -1), left out of the sizes;
        None counts every label as a cluster.

    Returns
    -------
    balance : float in [0, 1]

    Raises
    ------
    ValueError
        When ``labels`` is empty or every point is noise.

    Examples
    --------
    >>> from gpucluster.metrics import cluster_balance
    >>> cluster_balance([0, 0, 1, 1, -1])
    1.0
    """
    labels = as_host_labels(labels)
    if labels.shape[0] == 0:
        raise ValueError("cluster_balance needs at least one label, got an empty array.")
    if noise_label is not None:
        labels = labels[labels != noise_label]
        if labels.shape[0] == 0:
            raise ValueError(
                f"Every point is noise (label {noise_label!r}); cluster_balance needs "
                "at least one cluster."
            )
    _, sizes = np.unique(labels, return_counts=True)
    n_clusters = sizes.shape[0]
    if n_clusters == 1:
        return 1.0
    p = sizes / sizes.sum()
    entropy = float(-np.sum(p * np.log(p)))
    return min(1.0, max(0.0, entropy / math.log(n_clusters)))
