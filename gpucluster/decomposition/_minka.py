"""Minka's choice of the number of principal components (``n_components="mle"``).

T. P. Minka, "Automatic choice of dimensionality for PCA", NIPS 2000: the
Laplace approximation of the evidence of a rank-k probabilistic PCA model,
written as scikit-learn's ``_assess_dimension`` / ``_infer_dimension``. The
spectrum has one value per feature, so this runs in NumPy float64 on the
host; the double sum of the last term is one vectorised pass per rank
instead of scikit-learn's Python loops (the same terms, so the same rank).
"""

import math

import numpy as np

# Eigenvalues below this are treated as zero (scikit-learn's constant).
_EPS = 1e-15


def assess_dimension(spectrum, rank, n_samples):
    """Log-likelihood (evidence) of a rank ``rank`` model of data with eigenvalues ``spectrum``.

    Parameters
    ----------
    spectrum : ndarray of shape (n_features,), float64, decreasing
        The covariance eigenvalues (PCA's explained variances).
    rank : int, 1 <= rank < n_features
    n_samples : int

    Returns
    -------
    float
        -inf when the ``rank``-th eigenvalue is (numerically) zero.
    """
    n_features = spectrum.shape[0]
    if not 1 <= rank < n_features:
        raise ValueError("the tested rank should be in [1, n_features - 1]")
    if spectrum[rank - 1] < _EPS:
        # A rank ending on a zero eigenvalue cannot win, and its log terms are
        # numerically meaningless.
        return -math.inf
    pu = -rank * math.log(2.0)
    for i in range(1, rank + 1):
        pu += (math.lgamma((n_features - i + 1) / 2.0)
               - math.log(math.pi) * (n_features - i + 1) / 2.0)
    pl = -float(np.sum(np.log(spectrum[:rank]))) * n_samples / 2.0
    v = max(_EPS, float(np.sum(spectrum[rank:])) / (n_features - rank))
    pv = -math.log(v) * n_samples * (n_features - rank) / 2.0
    m = n_features * rank - rank * (rank + 1.0) / 2.0
    pp = math.log(2.0 * math.pi) * (m + rank) / 2.0

    # pa = sum over i < rank, j > i of log((l_i - l_j) (1/l'_j - 1/l'_i)) + log(n),
    # where l' is the spectrum with its tail (j >= rank) replaced by v.
    replaced = spectrum.copy()
    replaced[rank:] = v
    i = np.arange(rank)[:, None]
    j = np.arange(n_features)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.log((spectrum[:rank, None] - spectrum[None, :])
                       * (1.0 / replaced[None, :] - 1.0 / replaced[:rank, None]))
    pairs = j > i
    if not np.all(np.isfinite(terms[pairs])):
        # Tied eigenvalues make a term log(0): the approximation is undefined
        # there (scikit-learn's math.log raises), and such a rank is not chosen.
        return -math.inf
    pa = float(np.sum(terms[pairs])) + int(np.count_nonzero(pairs)) * math.log(n_samples)
    return pu + pl + pv + pp - pa / 2.0 - rank * math.log(n_samples) / 2.0


def infer_dimension(spectrum, n_samples):
    """The rank in [1, n_features - 1] of largest evidence (``assess_dimension``).

    Parameters
    ----------
    spectrum : array of shape (n_features,), decreasing; any array kind (read on the host)
    n_samples : int

    Returns
    -------
    int
    """
    spectrum = np.asarray(spectrum, dtype=np.float64)
    evidence = np.full(spectrum.shape[0], -np.inf)
    for rank in range(1, spectrum.shape[0]):
        evidence[rank] = assess_dimension(spectrum, rank, n_samples)
    return int(np.argmax(evidence))
