"""Per-label pairwise distance sums: ``pairwise_sums``, the O(n^2) hot step of the silhouette.

Declared once with ``@kernel`` (see ``_dispatch.py``); implementations in
``cpu/silhouette.py`` and ``cuda/silhouette.py``. Reference:
``tests/kernels/reference.py::pairwise_sums``.
"""

from ._dispatch import kernel
from .metric import COSINE, metric_code, squared_form

METRICS = ("euclidean", "sqeuclidean", "cosine")

# The centre of the rows is the coordinate-wise median of about this many of them, taken
# at an even stride: at n=20,000 d=512 float32 it took 20 ms, against 7 ms for the mean
# and 380 ms for the median of every row (one CPU run, measured by hand).
CENTRE_SAMPLE_ROWS = 1024
# The share of the rows' variance by which ``near_by_mean``'s bound must clear it: far
# above float64 rounding, so it never decides where the median test would not.
NEAR_MARGIN = 1e-6


def centre(lib, X):
    """The point that both implementations subtract from the rows before the Gram tiles.

    Distances do not change, but the cancellation in :math:`|x|^2 - 2 x \\cdot y + |y|^2`
    grows with the norms, so the rows are moved near the origin. The mean would let one
    far outlier (1e150 among values near 1) drag every row just as far and wipe out all
    the small distances; a median ignores it. ``lib`` is NumPy or CuPy; returns X's dtype.
    """
    step = max(1, X.shape[0] // CENTRE_SAMPLE_ROWS)
    return lib.median(X[::step], axis=0).astype(X.dtype)


def far_centre(lib, X, metric):
    """The point the neighbour searches subtract from the rows, or None where they need not.

    ``centre(lib, X)`` when the rows lie farther from the origin than from it (both
    measured on the centre's sample), else None; always None for cosine, whose rows
    cannot move. The searches' Gram tiles lose the small distances of rows far from
    the origin (float32 blobs at an offset of 1e4 got neighbours at random), while
    data near it, such as unit-length embeddings, is not copied. The median keeps
    integer data integer, so distances exactly at a radius stay exact. Where the
    sample's mean already shows the rows near the origin (``near_by_mean``) the
    median is not taken. ``metric`` is a code of ``kernels.metric``; the centre has
    X's dtype.
    """
    if metric == COSINE or X.shape[0] == 0:
        return None
    sample = X[::max(1, X.shape[0] // CENTRE_SAMPLE_ROWS)].astype(lib.float64)
    if near_by_mean(lib, sample):
        return None
    middle = lib.median(sample, axis=0)
    spread = float(lib.mean(lib.sum((sample - middle) ** 2, axis=1)))
    if float(lib.sum(middle * middle)) <= spread:
        return None
    return middle.astype(X.dtype)


def near_by_mean(lib, sample):
    """True where the median test of ``far_centre`` is sure to leave ``sample`` (float64
    rows) as it is, judged from its mean and per-feature deviations alone.

    With m the mean, c the coordinate-wise median, s_j the deviation of feature j and
    :math:`V = \\sum_j s_j^2`, :math:`E|x - c|^2 = V + |m - c|^2`, so the rows are
    centred iff :math:`2 m \\cdot c - |m|^2 > V`. A median lies within one deviation
    of the mean, :math:`|c_j - m_j| \\le s_j`, so
    :math:`\\sum_j |m_j| (|m_j| + 2 s_j) \\le V` rules centring out (by a margin of
    ``NEAR_MARGIN`` for rounding). The mean and deviations cost a few per cent of the
    median (n=20,000 d=512 float32: about 1 ms against 16), which is then skipped for
    data near the origin, such as normalised embeddings or standardised features.
    """
    mean = lib.mean(sample, axis=0)
    deviation = lib.sqrt(lib.mean((sample - mean) ** 2, axis=0))
    reach = lib.abs(mean)
    return bool(lib.sum(reach * (reach + 2 * deviation))
                <= (1 - NEAR_MARGIN) * lib.sum(deviation * deviation))


def near_origin(lib, X, queries, metric):
    """``(X, queries)`` less ``far_centre(lib, X, metric)`` (queries None stays None), or
    both as given (no copy) where that is None. Distances between them do not change."""
    middle = far_centre(lib, X, metric)
    if middle is None:
        return X, queries
    return X - middle, (None if queries is None else queries - middle)


@kernel(cpu="silhouette.pairwise_sums", cuda="silhouette.pairwise_sums")
def pairwise_sums(X, labels, n_labels, metric="euclidean", *, start=0, stop=None):
    """Per-label sums of the distances from rows ``start:stop`` of X to every row of X.

    .. math:: S_{it} = \\sum_{j:\\, l_j = t} \\delta(x_i, x_j),
              \\qquad start \\le i < stop,\\; 0 \\le t < n\\_labels

    :math:`\\delta(x_i, x_i)` is exactly 0; rows with a negative label add
    to no column (they still get their own sums).

    Parameters
    ----------
    X : array (n_samples, n_features), float32 or float64; NumPy, torch, CuPy or array-API
    labels : array (n_samples,), integer, values in [-1, n_labels); same kind and device as X
    n_labels : int
    metric : {"euclidean", "sqeuclidean", "cosine"}
        The cosine distance is ``1 - cos(x, y)``, 1 when either row is zero.
    start, stop : int
        The block of query rows (default: all rows). Memory is
        O((stop - start) * n_labels) on the CPU; on CUDA each chunk of query
        rows also holds its (chunk, n_samples) Gram tile, chunks sized from
        the free device memory.

    Returns
    -------
    sums : array (stop - start, n_labels) float64, in X's namespace and on X's device
    """
    code, root = squared_form(metric_code(metric, METRICS))
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {tuple(X.shape)}.")
    n = X.shape[0]
    stop = n if stop is None else int(stop)
    start = int(start)
    if not 0 <= start <= stop <= n:
        raise ValueError(f"Need 0 <= start <= stop <= {n}, got start={start}, stop={stop}.")
    n_labels = int(n_labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}.")
    largest = int(labels.max()) if n else -1
    if largest >= n_labels:
        raise ValueError(f"labels must be < n_labels={n_labels}, got {largest}.")
    return X, labels, n_labels, code, root, start, stop
