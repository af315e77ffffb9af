"""External cluster-validity indices: compare a clustering with reference labels.

Every index here is a function of the contingency table of the two labelings,
which has one entry per (class, cluster) pair that occurs. Labels are small
next to the data, so the table is built on the host with NumPy whatever the
labels' array kind; the formulas, special cases and float64 arithmetic follow
scikit-learn's ``sklearn.metrics.cluster._supervised`` so that the values
agree to rounding.
"""

import reprlib
import warnings
from math import exp, lgamma, log, sqrt

import numpy as np
import scipy.sparse as sp
from numba import njit, prange
from scipy.special import gammaln
from sklearn.utils import check_array
from sklearn.utils.multiclass import type_of_target

from .. import backend, distributed
from ..kernels._numba import NUMBA_CACHE
from ._params import AVERAGE_METHODS, check_params


# The protocols by which ``backend.coerce_array`` takes an object as an array (it takes
# lists and tuples too); anything else is not an array to it.
ARRAY_PROTOCOLS = ("__array__", "__array_namespace__", "__dlpack__", "__cuda_array_interface__")


class ScalarLabelsError(ValueError, IndexError, TypeError):
    """Labels that are a single value (None, a dict, a set, a 0-d array), not a vector.

    A ValueError, as scikit-learn's scores raise for them; an IndexError and a
    TypeError too, which scikit-learn's ``contingency_matrix`` raises instead
    (failing to index a 0-d ``labels_true``, to take the length of a 0-d
    ``labels_pred``), so that code written against either catches it.
    """


def as_host_labels(labels, name="labels", *, finite=True):
    """Return ``labels`` (any array kind or a list) as a 1-D NumPy array.

    Any other object goes through ``np.asarray``, as scikit-learn's ``check_array``
    does: a range is a vector, None, a dict or a set a single value (refused).
    ``finite=False`` lets NaN and infinity through as labels (one class each, as
    ``np.unique`` counts them), which scikit-learn's ``contingency_matrix`` allows.

    Raises
    ------
    ScalarLabelsError
        (a ValueError) When ``labels`` is a single value.
    ValueError
        When ``labels`` is not 1-D or (``finite=True``) holds NaN or infinity.
    """
    given = labels
    if not isinstance(labels, (list, tuple)) and not any(
            hasattr(labels, protocol) for protocol in ARRAY_PROTOCOLS):
        labels = np.asarray(labels)
    labels = backend.to_numpy(backend.coerce_array(labels))
    if labels.ndim == 0:
        raise ScalarLabelsError(f"{name} must be 1D: shape is (); got a single value, "
                                f"{reprlib.repr(given)}, not a sequence of labels")
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1D: shape is {tuple(labels.shape)}")
    if finite and labels.dtype.kind in "fc" and not np.all(np.isfinite(labels)):
        raise ValueError(f"Input {name} contains NaN or infinity.")
    return labels


def check_consistent_length(*lengths):
    """Raise sklearn's ValueError when the inputs do not have the same number of samples."""
    if len(set(lengths)) > 1:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"{[int(n) for n in lengths]}"
        )


def _check_clusterings(labels_true, labels_pred):
    """Both labelings as 1-D host arrays of one length; scikit-learn's UserWarning when
    either holds continuous values (floats that are not whole numbers), and its
    ValueError for complex ones."""
    labels_true = as_host_labels(labels_true, "labels_true")
    labels_pred = as_host_labels(labels_pred, "labels_pred")
    for name, labels in (("labels_true", labels_true), ("labels_pred", labels_pred)):
        if labels.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: {name} has dtype {labels.dtype}.")
    check_consistent_length(labels_true.shape[0], labels_pred.shape[0])
    # Only float labels can be continuous; type_of_target names the kinds as sklearn does.
    if labels_true.dtype.kind == "f" or labels_pred.dtype.kind == "f":
        type_label, type_pred = type_of_target(labels_true), type_of_target(labels_pred)
        if "continuous" in (type_label, type_pred):
            warnings.warn(
                "Clustering metrics expects discrete values but received "
                f"{type_label} values for label, and {type_pred} values for target",
                UserWarning, stacklevel=3,
            )
    return labels_true, labels_pred


def _contingency(labels_true, labels_pred):
    """The non-zero entries of the contingency table.

    Returns
    -------
    rows, cols : ndarray (nnz,) int64, class and cluster index of each entry
    counts : ndarray (nnz,) int64, how many samples fall in that pair
    class_sizes : ndarray (n_classes,) int64
    cluster_sizes : ndarray (n_clusters,) int64
    """
    _, class_idx = np.unique(labels_true, return_inverse=True)
    _, cluster_idx = np.unique(labels_pred, return_inverse=True)
    class_idx = class_idx.reshape(-1).astype(np.int64)
    cluster_idx = cluster_idx.reshape(-1).astype(np.int64)
    n_clusters = int(cluster_idx.max()) + 1 if cluster_idx.size else 0
    keys, counts = np.unique(class_idx * n_clusters + cluster_idx, return_counts=True)
    rows, cols = np.divmod(keys, max(n_clusters, 1))
    class_sizes = np.bincount(class_idx).astype(np.int64)
    cluster_sizes = np.bincount(cluster_idx).astype(np.int64)
    return rows, cols, counts.astype(np.int64), class_sizes, cluster_sizes


def _entropy(sizes):
    """Entropy (natural log) of a labeling with these cluster sizes."""
    if sizes.size == 0:
        return 1.0
    if sizes.size == 1:
        return 0.0
    sizes = sizes.astype(np.float64)
    total = sizes.sum()
    # log(a / b) as log(a) - log(b) keeps precision, as sklearn does.
    return float(-np.sum((sizes / total) * (np.log(sizes) - log(total))))


def _mutual_info(rows, cols, counts, class_sizes, cluster_sizes):
    """Mutual information (natural log) from the contingency table, as sklearn computes it."""
    if class_sizes.size == 1 or cluster_sizes.size == 1:
        return 0.0
    total = float(counts.sum())
    nz = counts.astype(np.float64)
    log_nz = np.log(nz)
    p_nz = nz / total
    outer = class_sizes[rows].astype(np.int64) * cluster_sizes[cols].astype(np.int64)
    log_outer = -np.log(outer) + log(class_sizes.sum()) + log(cluster_sizes.sum())
    mi = p_nz * (log_nz - log(total)) + p_nz * log_outer
    mi = np.where(np.abs(mi) < np.finfo(mi.dtype).eps, 0.0, mi)
    return float(np.clip(mi.sum(), 0.0, None))


def _generalized_average(u, v, average_method):
    if average_method == "min":
        return min(u, v)
    if average_method == "geometric":
        return float(np.sqrt(u * v))
    if average_method == "arithmetic":
        return float(np.mean([u, v]))
    if average_method == "max":
        return max(u, v)
    raise ValueError(f"average_method must be one of {AVERAGE_METHODS}, got {average_method!r}.")


def expected_mutual_information(contingency, n_samples):
    """Expected mutual information of two random labelings with the marginals of ``contingency``.

    Under the hypergeometric model of random labelings with fixed marginals
    :math:`a_i` (row sums: class sizes) and :math:`b_j` (column sums: cluster
    sizes), with :math:`N` samples,

    .. math::

        E[MI] = \\sum_{i,j} \\sum_{n=\\max(1, a_i + b_j - N)}^{\\min(a_i, b_j)}
            \\frac{n}{N} \\log\\frac{N n}{a_i b_j}
            \\frac{a_i!\\, b_j!\\, (N - a_i)!\\, (N - b_j)!}
                 {N!\\, n!\\, (a_i - n)!\\, (b_j - n)!\\, (N - a_i - b_j + n)!}

    (Vinh, Epps and Bailey, 2010). Same signature and value as scikit-learn's
    ``sklearn.metrics.cluster._expected_mutual_info_fast.expected_mutual_information``.

    Parameters
    ----------
    contingency : array of shape (n_classes, n_clusters), integer; NumPy array,
        array-like or SciPy sparse matrix, e.g. from
        ``sklearn.metrics.cluster.contingency_matrix``. Only its row and column
        sums are used.
    n_samples : int
        Number of samples, the sum of ``contingency``.

    Returns
    -------
    emi : float
    """
    if not sp.issparse(contingency):
        contingency = np.asarray(contingency)
    return _expected_mutual_info(*_marginals(contingency), int(n_samples))


def _marginals(contingency):
    """(class sizes, cluster sizes), int64: the row and column sums of a dense or sparse
    contingency table."""
    return (np.ravel(contingency.sum(axis=1)).astype(np.int64, copy=False),
            np.ravel(contingency.sum(axis=0)).astype(np.int64, copy=False))


def _expected_mutual_info(class_sizes, cluster_sizes, n_samples):
    """E[MI] from the marginals; see :func:`expected_mutual_information`."""
    # Any labelling with zero entropy implies EMI = 0.
    if class_sizes.size <= 1 or cluster_sizes.size <= 1:
        return 0.0
    # The sum over (i, j) depends only on the pair of sizes (a_i, b_j), and
    # labelings with many clusters repeat few sizes: summing once per distinct
    # pair, weighted by how often it occurs, turns sklearn's 10^6 pairs for
    # 1000 x 1000 clusters into about 10^3.
    a_values, a_counts = np.unique(class_sizes, return_counts=True)
    b_values, b_counts = np.unique(cluster_sizes, return_counts=True)
    # The tables and the order of operations inside each term are sklearn's
    # (scipy's gammaln for the tables, lgamma in the loop), so each term is
    # computed as sklearn computes it and mainly the summation order differs.
    N = n_samples
    nijs = np.arange(0, max(a_values[-1], b_values[-1]) + 1, dtype=np.float64)
    nijs[0] = 1.0  # never used; keeps log() quiet
    a_values = a_values.astype(np.int64)
    b_values = b_values.astype(np.int64)
    with np.errstate(divide="ignore"):
        log_a, log_b = np.log(a_values), np.log(b_values)
    return float(_emi_sum(
        a_values, a_counts.astype(np.float64), b_values, b_counts.astype(np.float64),
        np.int64(N), nijs / N, np.log(N) + np.log(nijs), gammaln(nijs + 1) + gammaln(N + 1),
        gammaln(a_values + 1), gammaln(N - a_values + 1), log_a,
        gammaln(b_values + 1), gammaln(N - b_values + 1), log_b,
    ))


@njit(cache=NUMBA_CACHE, parallel=True)
def _emi_sum(a_values, a_counts, b_values, b_counts, n_samples, term1, log_Nnij, gln_Nnij,
             gln_a, gln_Na, log_a, gln_b, gln_Nb, log_b):
    """Weighted sum of the E[MI] terms over distinct pairs of marginal sizes.

    ``a_values``/``b_values`` are the distinct class and cluster sizes (int64)
    and ``a_counts``/``b_counts`` how many classes and clusters have each size
    (float64). Only the terms with :math:`\\max(1, a + b - N) \\le n \\le \\min(a, b)`
    are visited. Tables indexed by :math:`n`: ``term1`` = n / N, ``log_Nnij`` =
    log(N) + log(n), ``gln_Nnij`` = lgamma(n + 1) + lgamma(N + 1); per size:
    ``gln_a`` = lgamma(a + 1), ``gln_Na`` = lgamma(N - a + 1), ``log_a`` and
    the same for ``b``. Rows (distinct class sizes) run in parallel.
    """
    N = n_samples
    emi = 0.0
    for i in prange(a_values.size):
        a = a_values[i]
        row = 0.0
        for j in range(b_values.size):
            b = b_values[j]
            start = max(1, a - N + b)
            end = min(a, b) + 1
            pair = 0.0
            for nij in range(start, end):
                term2 = log_Nnij[nij] - log_a[i] - log_b[j]
                gln = (gln_a[i] + gln_b[j] + gln_Na[i] + gln_Nb[j] - gln_Nnij[nij]
                       - lgamma(a - nij + 1.0) - lgamma(b - nij + 1.0)
                       - lgamma(N - a - b + nij + 1.0))
                pair += term1[nij] * term2 * exp(gln)
            row += b_counts[j] * pair
        emi += a_counts[i] * row
    return emi


def _pair_confusion(labels_true, labels_pred):
    """Pair-confusion counts (tn, fp, fn, tp) as exact Python integers: ordered pairs of
    distinct samples, split by whether each labeling puts them together."""
    n = labels_true.shape[0]
    rows, cols, counts, class_sizes, cluster_sizes = _contingency(labels_true, labels_pred)
    sum_squares = int(np.sum(counts * counts))
    tp = sum_squares - n
    fp = int(np.sum(counts * cluster_sizes[cols])) - sum_squares
    fn = int(np.sum(counts * class_sizes[rows])) - sum_squares
    tn = n * n - fp - fn - sum_squares
    return tn, fp, fn, tp


def pair_confusion_matrix(labels_true, labels_pred):
    """Pair confusion matrix of two labelings.

    ``C[i, j]`` counts the ordered pairs of distinct samples that the true
    labeling puts together (i = 1) or apart (i = 0) and the predicted one
    together (j = 1) or apart (j = 0), as ``sklearn.metrics.pair_confusion_matrix``.

    Parameters
    ----------
    labels_true, labels_pred : array of shape (n_samples,), any hashable labels;
        any array kind or list

    Returns
    -------
    C : ndarray of shape (2, 2), int64

    Examples
    --------
    >>> from gpucluster.metrics import pair_confusion_matrix
    >>> pair_confusion_matrix([0, 0, 1, 1], [1, 1, 0, 0]).tolist()
    [[8, 0], [0, 4]]
    """
    check_params("pair_confusion_matrix", labels_true=labels_true, labels_pred=labels_pred)
    labels_true, labels_pred = _check_clusterings(labels_true, labels_pred)
    tn, fp, fn, tp = _pair_confusion(labels_true, labels_pred)
    return np.array([[tn, fp], [fn, tp]], dtype=np.int64)


def rand_score(labels_true, labels_pred):
    """Rand index: the share of sample pairs on which two labelings agree.

    Parameters
    ----------
    labels_true, labels_pred : array of shape (n_samples,), any hashable labels;
        any array kind or list

    Returns
    -------
    ri : float in [0, 1]
        1.0 also when no pair can disagree (fewer than 2 samples, one cluster,
        or all singletons on both sides), as in scikit-learn.
    """
    check_params("rand_score", labels_true=labels_true, labels_pred=labels_pred)
    labels_true, labels_pred = _check_clusterings(labels_true, labels_pred)
    tn, fp, fn, tp = _pair_confusion(labels_true, labels_pred)
    agree, total = tn + tp, tn + fp + fn + tp
    if agree == total or total == 0:
        return 1.0
    return agree / total


def fowlkes_mallows_score(labels_true, labels_pred):
    """Fowlkes-Mallows index: the geometric mean of pairwise precision and recall.

    .. math:: FMI = \\frac{TP}{\\sqrt{(TP + FP)(TP + FN)}}

    over pairs of samples.

    Parameters
    ----------
    labels_true, labels_pred : array of shape (n_samples,), any hashable labels;
        any array kind or list

    Returns
    -------
    fmi : float in [0, 1]
        0.0 when no pair is together in both labelings.
    """
    check_params("fowlkes_mallows_score", labels_true=labels_true, labels_pred=labels_pred)
    labels_true, labels_pred = _check_clusterings(labels_true, labels_pred)
    n = labels_true.shape[0]
    _, _, counts, class_sizes, cluster_sizes = _contingency(labels_true, labels_pred)
    # Python integers: exact, no overflow for any n.
    tk = int(np.sum(counts * counts)) - n
    pk = int(np.sum(cluster_sizes * cluster_sizes)) - n
    qk = int(np.sum(class_sizes * class_sizes)) - n
    return sqrt(tk / pk) * sqrt(tk / qk) if tk != 0 else 0.0


def contingency_matrix(labels_true, labels_pred, *, eps=None, sparse=False, dtype=np.int64):
    """Contingency table of two labelings: ``C[i, j]`` samples in class i and cluster j.

    Classes and clusters are numbered in the sorted order of their labels, as
    ``sklearn.metrics.cluster.contingency_matrix``.

    Parameters
    ----------
    labels_true, labels_pred : array of shape (n_samples,), any hashable labels;
        any array kind or list
    eps : float or None, default=None
        Added to every entry of a dense table (not with ``sparse=True``).
    sparse : bool, default=False
        Return a SciPy CSR matrix.
    dtype : numeric type, default=np.int64
        Of the table (float64 when ``eps`` is given).

    Returns
    -------
    contingency : ndarray or scipy.sparse.csr_matrix of shape (n_classes, n_clusters)

    Labels may be NaN or infinite (one class or cluster each), as in scikit-learn,
    whose ``contingency_matrix`` counts whatever ``np.unique`` tells apart.

    Raises
    ------
    InvalidParameterError
        (a ValueError and a TypeError) For ``eps`` < 0, NaN or infinite, a
        ``sparse`` that is not a bool, or labels that are not arrays.
    ValueError
        When ``eps`` is given with ``sparse=True``, or a labeling is not 1-D.
    ScalarLabelsError
        (a ValueError, an IndexError and a TypeError) When a labeling is a single
        value (None, a dict, a 0-d array), where scikit-learn fails with an
        IndexError (``labels_true``) or a TypeError (``labels_pred``).
    """
    check_params("contingency_matrix", labels_true=labels_true, labels_pred=labels_pred,
                 eps=eps, sparse=sparse, dtype=dtype)
    if eps is not None and sparse:
        raise ValueError("Cannot set 'eps' when sparse=True")
    labels_true = as_host_labels(labels_true, "labels_true", finite=False)
    labels_pred = as_host_labels(labels_pred, "labels_pred", finite=False)
    check_consistent_length(labels_true.shape[0], labels_pred.shape[0])
    rows, cols, counts, class_sizes, cluster_sizes = _contingency(labels_true, labels_pred)
    shape = (class_sizes.shape[0], cluster_sizes.shape[0])
    if sparse:
        return sp.csr_matrix((counts.astype(dtype), (rows, cols)), shape=shape)
    table = np.zeros(shape, dtype=dtype)
    table[rows, cols] = counts
    return table if eps is None else table + eps


def adjusted_rand_score(labels_true, labels_pred):
    """Rand index adjusted for chance.

    Parameters
    ----------
    labels_true : array of shape (n_samples,), integer (any hashable labels work)
        Reference labels; NumPy, CuPy, torch, array-API array or list.
    labels_pred : array of shape (n_samples,)
        Cluster labels to evaluate, any kind.

    Returns
    -------
    ari : float
        1.0 for identical partitions (and for empty input), about 0.0 for
        random labelings, down to -0.5 for especially discordant ones.

    Raises
    ------
    ValueError
        When the labelings are not 1-D or differ in length.

    Examples
    --------
    >>> from gpucluster.metrics import adjusted_rand_score
    >>> adjusted_rand_score([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    """
    check_params("adjusted_rand_score", labels_true=labels_true, labels_pred=labels_pred)
    if distributed.is_dask_array(labels_true) or distributed.is_dask_array(labels_pred):
        return distributed.metrics.adjusted_rand_score(labels_true, labels_pred)
    labels_true, labels_pred = _check_clusterings(labels_true, labels_pred)
    tn, fp, fn, tp = _pair_confusion(labels_true, labels_pred)
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def homogeneity_completeness_v_measure(labels_true, labels_pred, *, beta=1.0):
    """Homogeneity, completeness and V-measure of a clustering, in one pass.

    Parameters
    ----------
    labels_true : array of shape (n_samples,), integer; any array kind or list
    labels_pred : array of shape (n_samples,), integer; any array kind or list
    beta : float, default=1.0
        Weight of homogeneity against completeness in the V-measure: a finite real
        number >= 0 (NumPy scalars and bools too, as scikit-learn's ``Interval``
        takes them: True is 1).

    Returns
    -------
    homogeneity, completeness, v_measure : float
        Each in [0, 1]; all 1.0 for empty input.
    """
    check_params("homogeneity_completeness_v_measure", labels_true=labels_true,
                 labels_pred=labels_pred, beta=beta)
    if distributed.is_dask_array(labels_true) or distributed.is_dask_array(labels_pred):
        return distributed.metrics.homogeneity_completeness_v_measure(labels_true, labels_pred, beta=beta)
    labels_true, labels_pred = _check_clusterings(labels_true, labels_pred)
    if labels_true.shape[0] == 0:
        return 1.0, 1.0, 1.0
    rows, cols, counts, class_sizes, cluster_sizes = _contingency(labels_true, labels_pred)
    entropy_C = _entropy(class_sizes)
    entropy_K = _entropy(cluster_sizes)
    mi = _mutual_info(rows, cols, counts, class_sizes, cluster_sizes)
    homogeneity = mi / entropy_C if entropy_C else 1.0
    completeness = mi / entropy_K if entropy_K else 1.0
    if homogeneity + completeness == 0.0:
        v_measure = 0.0
    else:
        v_measure = ((1 + beta) * homogeneity * completeness
                     / (beta * homogeneity + completeness))
    return float(homogeneity), float(completeness), float(v_measure)


def homogeneity_score(labels_true, labels_pred):
    """Homogeneity: each cluster contains only members of a single class.

    Parameters
    ----------
    labels_true, labels_pred : array of shape (n_samples,), integer; any array kind or list

    Returns
    -------
    homogeneity : float in [0, 1]
    """
    check_params("homogeneity_score", labels_true=labels_true, labels_pred=labels_pred)
    return homogeneity_completeness_v_measure(labels_true, labels_pred)[0]


def completeness_score(labels_true, labels_pred):
    """Completeness: all members of a given class are assigned to the same cluster.

    Parameters
    ----------
    labels_true, labels_pred : array of shape (n_samples,), integer; any array kind or list

    Returns
    -------
    completeness : float in [0, 1]
    """
    check_params("completeness_score", labels_true=labels_true, labels_pred=labels_pred)
    return homogeneity_completeness_v_measure(labels_true, labels_pred)[1]


def v_measure_score(labels_true, labels_pred, *, beta=1.0):
    """V-measure: the weighted harmonic mean of homogeneity and completeness.

    Parameters
    ----------
    labels_true, labels_pred : array of shape (n_samples,), integer; any array kind or list
    beta : float, default=1.0
        >1 weights completeness more, <1 homogeneity.

    Returns
    -------
    v_measure : float in [0, 1]
    """
    check_params("v_measure_score", labels_true=labels_true, labels_pred=labels_pred, beta=beta)
    return homogeneity_completeness_v_measure(labels_true, labels_pred, beta=beta)[2]


def mutual_info_score(labels_true, labels_pred, *, contingency=None):
    """Mutual information (natural logarithm) between two labelings.

    Parameters
    ----------
    labels_true, labels_pred : array of shape (n_samples,), integer; any array kind or list
        Ignored (may be None) when ``contingency`` is given.
    contingency : array of shape (n_classes, n_clusters), integer, or SciPy sparse
        matrix, default=None
        A contingency table such as ``sklearn.metrics.cluster.contingency_matrix``
        returns; when given it is used instead of the labels, as in scikit-learn.

    Returns
    -------
    mi : float, >= 0
    """
    check_params("mutual_info_score", labels_true=labels_true, labels_pred=labels_pred,
                 contingency=contingency)
    if contingency is None:
        if distributed.is_dask_array(labels_true) or distributed.is_dask_array(labels_pred):
            return distributed.metrics.mutual_info_score(labels_true, labels_pred)
        labels_true, labels_pred = _check_clusterings(labels_true, labels_pred)
        return _mutual_info(*_contingency(labels_true, labels_pred))
    return _mutual_info(*_contingency_from_table(contingency))


def _contingency_from_table(contingency):
    """``_contingency``'s output from a given (dense or sparse) contingency table.

    The marginals keep empty rows and columns, as sklearn's do: they count as
    classes and clusters for the single-cluster rule.
    """
    if not sp.issparse(contingency):
        contingency = backend.to_numpy(backend.coerce_array(contingency))
    contingency = check_array(contingency, accept_sparse=["csr", "csc", "coo"],
                              dtype=[int, np.int32, np.int64])
    if sp.issparse(contingency):
        rows, cols, counts = sp.find(contingency)
    else:
        rows, cols = np.nonzero(contingency)
        counts = contingency[rows, cols]
    return (rows, cols, counts.astype(np.int64, copy=False), *_marginals(contingency))


def normalized_mutual_info_score(labels_true, labels_pred, *, average_method="arithmetic"):
    """Mutual information normalised by an average of the two entropies.

    Parameters
    ----------
    labels_true, labels_pred : array of shape (n_samples,), integer; any array kind or list
    average_method : {"arithmetic", "geometric", "min", "max"}, default="arithmetic"
        How the two entropies are averaged into the normaliser.

    Returns
    -------
    nmi : float in [0, 1]
        1.0 when both labelings have a single cluster (or are empty).
    """
    check_params("normalized_mutual_info_score", labels_true=labels_true,
                 labels_pred=labels_pred, average_method=average_method)
    if distributed.is_dask_array(labels_true) or distributed.is_dask_array(labels_pred):
        return distributed.metrics.normalized_mutual_info_score(
            labels_true, labels_pred, average_method=average_method)
    labels_true, labels_pred = _check_clusterings(labels_true, labels_pred)
    rows, cols, counts, class_sizes, cluster_sizes = _contingency(labels_true, labels_pred)
    if class_sizes.size == cluster_sizes.size and class_sizes.size in (0, 1):
        return 1.0
    mi = _mutual_info(rows, cols, counts, class_sizes, cluster_sizes)
    # mi == 0 cannot be a perfect match here (single clusters were handled above).
    if mi == 0:
        return 0.0
    normalizer = _generalized_average(_entropy(class_sizes), _entropy(cluster_sizes),
                                      average_method)
    return float(mi / normalizer)


def adjusted_mutual_info_score(labels_true, labels_pred, *, average_method="arithmetic"):
    """Mutual information adjusted for chance.

    .. math:: AMI = \\frac{MI - E[MI]}{\\mathrm{avg}(H(U), H(V)) - E[MI]}

    with :math:`E[MI]` from :func:`expected_mutual_information`.

    Parameters
    ----------
    labels_true, labels_pred : array of shape (n_samples,), integer; any array kind or list
    average_method : {"arithmetic", "geometric", "min", "max"}, default="arithmetic"

    Returns
    -------
    ami : float
        1.0 for identical partitions, about 0.0 for random ones (can be negative).
    """
    check_params("adjusted_mutual_info_score", labels_true=labels_true,
                 labels_pred=labels_pred, average_method=average_method)
    if distributed.is_dask_array(labels_true) or distributed.is_dask_array(labels_pred):
        return distributed.metrics.adjusted_mutual_info_score(
            labels_true, labels_pred, average_method=average_method)
    labels_true, labels_pred = _check_clusterings(labels_true, labels_pred)
    n_samples = labels_true.shape[0]
    rows, cols, counts, class_sizes, cluster_sizes = _contingency(labels_true, labels_pred)
    n_classes, n_clusters = class_sizes.size, cluster_sizes.size
    # Both labelings unsplit (or empty): a perfect match.
    if n_classes == n_clusters and n_classes in (0, 1):
        return 1.0
    if n_classes == 1 or n_clusters == 1:
        return 0.0
    mi = _mutual_info(rows, cols, counts, class_sizes, cluster_sizes)
    emi = _expected_mutual_info(class_sizes, cluster_sizes, n_samples)
    normalizer = _generalized_average(_entropy(class_sizes), _entropy(cluster_sizes),
                                      average_method)
    eps = np.finfo(np.float64).eps
    # The normaliser is >= E[MI] in exact arithmetic; keep the sign of a
    # rounding-level difference instead of dividing 0 by 0.
    denominator = normalizer - emi
    denominator = min(denominator, -eps) if denominator < 0 else max(denominator, eps)
    numerator = mi - emi
    numerator = min(numerator, -eps) if numerator < 0 else max(numerator, eps)
    return float(numerator / denominator)
