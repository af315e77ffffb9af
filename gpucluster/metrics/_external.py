"""External cluster-validity indices: compare a clustering with reference labels.

Every index here is a function of the contingency table of the two labelings,
which has one entry per (class, cluster) pair that occurs. Labels are small
next to the data, so the table is built on the host with NumPy whatever the
labels' array kind; the formulas, special cases and float64 arithmetic follow
scikit-learn's ``sklearn.metrics.cluster._supervised`` so that the values
agree to rounding.
"""

from math import log

import numpy as np
from scipy.special import gammaln

from .. import backend

AVERAGE_METHODS = ("min", "geometric", "arithmetic", "max")
# Terms of the expected mutual information evaluated per vectorised batch.
EMI_BATCH_TERMS = 1 << 22


def as_host_labels(labels, name="labels"):
    """Return ``labels`` (any array kind or a list) as a 1-D NumPy array.

    Raises
    ------
    ValueError
        When ``labels`` is not 1-D or holds NaN or infinity.
    """
    labels = backend.to_numpy(backend.coerce_array(labels))
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1D: shape is {tuple(labels.shape)}")
    if labels.dtype.kind in "fc" and not np.all(np.isfinite(labels)):
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
    labels_true = as_host_labels(labels_true, "labels_true")
    labels_pred = as_host_labels(labels_pred, "labels_pred")
    check_consistent_length(labels_true.shape[0], labels_pred.shape[0])
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


def expected_mutual_information(class_sizes, cluster_sizes, n_samples):
    """Expected mutual information of two random labelings with the given cluster sizes.

    Under the hypergeometric model of random labelings with fixed marginals
    :math:`a_i` (class sizes) and :math:`b_j` (cluster sizes), with :math:`N`
    samples,

    .. math::

        E[MI] = \\sum_{i,j} \\sum_{n=\\max(1, a_i + b_j - N)}^{\\min(a_i, b_j)}
            \\frac{n}{N} \\log\\frac{N n}{a_i b_j}
            \\frac{a_i!\\, b_j!\\, (N - a_i)!\\, (N - b_j)!}
                 {N!\\, n!\\, (a_i - n)!\\, (b_j - n)!\\, (N - a_i - b_j + n)!}

    (Vinh, Epps and Bailey, 2010). The factorials are evaluated in log space
    with ``scipy.special.gammaln``, all terms of a batch of (i, j) pairs at
    once, batches bounded by ``EMI_BATCH_TERMS`` terms.

    Parameters
    ----------
    class_sizes, cluster_sizes : ndarray of int, the marginals of the contingency table
    n_samples : int

    Returns
    -------
    float
    """
    a = np.asarray(class_sizes, dtype=np.int64)
    b = np.asarray(cluster_sizes, dtype=np.int64)
    if a.size <= 1 or b.size <= 1:
        return 0.0
    N = int(n_samples)
    log_N = log(N)
    gln_N = float(gammaln(N + 1))
    # Per-pair constants: the factorials that do not depend on n.
    ai = np.repeat(a, b.size)
    bj = np.tile(b, a.size)
    first = np.maximum(1, ai - N + bj)
    last = np.minimum(ai, bj)
    lengths = np.maximum(last - first + 1, 0)
    pair_const = (gammaln(ai + 1) + gammaln(bj + 1) + gammaln(N - ai + 1)
                  + gammaln(N - bj + 1) - gln_N)
    log_ab = np.log(ai) + np.log(bj)
    ends = np.cumsum(lengths)
    emi = 0.0
    lo = 0
    while lo < ai.size:
        # Take pairs until the batch holds about EMI_BATCH_TERMS terms.
        base = ends[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(ends, base + EMI_BATCH_TERMS, side="right")))
        hi = min(hi, ai.size)
        counts = lengths[lo:hi]
        pair = np.repeat(np.arange(lo, hi), counts)
        offsets = np.arange(pair.size) - np.repeat(np.cumsum(counts) - counts, counts)
        nij = (first[pair] + offsets).astype(np.float64)
        ap = ai[pair]
        bp = bj[pair]
        log_term3 = (pair_const[pair] - gammaln(nij + 1) - gammaln(ap - nij + 1)
                     - gammaln(bp - nij + 1) - gammaln(N - ap - bp + nij + 1))
        term2 = log_N + np.log(nij) - log_ab[pair]
        emi += float(np.sum(nij / N * term2 * np.exp(log_term3)))
        lo = hi
    return emi


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
    labels_true, labels_pred = _check_clusterings(labels_true, labels_pred)
    n = labels_true.shape[0]
    rows, cols, counts, class_sizes, cluster_sizes = _contingency(labels_true, labels_pred)
    # Pair-confusion counts in Python integers: exact, no overflow.
    sum_squares = int(np.sum(counts * counts))
    tp = sum_squares - n
    fp = int(np.sum(counts * cluster_sizes[cols])) - sum_squares
    fn = int(np.sum(counts * class_sizes[rows])) - sum_squares
    tn = n * n - fp - fn - sum_squares
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
        Weight of homogeneity against completeness in the V-measure; >= 0.

    Returns
    -------
    homogeneity, completeness, v_measure : float
        Each in [0, 1]; all 1.0 for empty input.
    """
    if not isinstance(beta, (int, float)) or isinstance(beta, bool) or beta < 0:
        raise ValueError(f"beta must be a number >= 0, got {beta!r}.")
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
    return homogeneity_completeness_v_measure(labels_true, labels_pred, beta=beta)[2]


def mutual_info_score(labels_true, labels_pred):
    """Mutual information (natural logarithm) between two labelings.

    Parameters
    ----------
    labels_true, labels_pred : array of shape (n_samples,), integer; any array kind or list

    Returns
    -------
    mi : float, >= 0
    """
    labels_true, labels_pred = _check_clusterings(labels_true, labels_pred)
    return _mutual_info(*_contingency(labels_true, labels_pred))


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
    if average_method not in AVERAGE_METHODS:
        raise ValueError(
            f"average_method must be one of {AVERAGE_METHODS}, got {average_method!r}."
        )
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
    if average_method not in AVERAGE_METHODS:
        raise ValueError(
            f"average_method must be one of {AVERAGE_METHODS}, got {average_method!r}."
        )
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
    emi = expected_mutual_information(class_sizes, cluster_sizes, n_samples)
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
