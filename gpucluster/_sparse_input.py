"""Sparse input of the estimators that keep X sparse (KMeans, MiniBatchKMeans, PCA).

:func:`check_canonical_csr` validates a matrix and sums its duplicate
entries; :func:`prepare_sparse_input` is the sparse twin of
``DeviceEstimatorMixin._prepare_input``: checks, the fitted feature count
and the move to the device the work runs on. ``_sparse.py`` holds the
checks every sparse-taking estimator shares.
"""

from . import backend
from ._sparse import check_sparse, sparse_to_device
from ._validation import check_n_features, check_sample_weight


def check_canonical_csr(X, *, min_samples=1, estimator_name=None):
    """X as a canonical CSR matrix of float32 or float64 (integers and bools become float64).

    ``check_sparse``'s checks (rank, size, finite stored values, real
    dtype), then duplicate entries summed and indices sorted, in a copy
    when the caller's matrix is not canonical (its squared row norms would
    otherwise count duplicates apart).
    """
    X = check_sparse(X, min_samples=min_samples, estimator_name=estimator_name)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def prepare_sparse_input(estimator, X, sample_weight, *, reset, work):
    """The sparse twin of ``DeviceEstimatorMixin._prepare_input``: ``(X, sample_weight, like)``.

    X is checked (``check_canonical_csr``), compared with the fitted feature count unless
    ``reset``, and placed where the work runs (``work(n_stored, 1)``: a
    stored value costs what a dense entry does); ``like`` mirrors the
    matrix's values, NumPy for SciPy and CuPy for cupyx.
    """
    X = check_canonical_csr(X, estimator_name=type(estimator).__name__)
    if not reset:
        check_n_features(estimator, X)
    like = backend.describe_input(X.data)
    try:
        work = work(int(X.nnz), 1) if callable(work) else work
    except (TypeError, ValueError):
        work = 0.0  # a bad parameter reaches its own check right after
    X = sparse_to_device(X, backend.resolve_device(estimator.device, X.data, work=work))
    xp = backend.namespace(X.data)
    # check_sample_weight reads only the namespace, device, dtype and row count of X.
    stand_in = xp.empty((X.shape[0], 0), dtype=X.dtype, device=backend.device(X.data))
    return X, check_sample_weight(sample_weight, stand_in), like
