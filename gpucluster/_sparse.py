"""SciPy sparse input: recognising it and checking it, for the estimators that take it.

Estimators that accept sparse matrices (as their scikit-learn twins do) test
:func:`is_sparse` before their dense input path and validate with
:func:`check_sparse`; every other estimator refuses sparse input in
``check_input``.
"""

import numpy as np


def is_sparse(X):
    """Whether X is a SciPy sparse matrix or array, or a CuPy one (``cupyx.scipy.sparse``)."""
    return type(X).__module__.startswith(("scipy.sparse", "cupyx.scipy.sparse"))


def sparse_module(X):
    """``scipy.sparse`` or ``cupyx.scipy.sparse``, whichever sparse X belongs to."""
    if type(X).__module__.startswith("cupyx"):
        import cupyx.scipy.sparse

        return cupyx.scipy.sparse
    import scipy.sparse

    return scipy.sparse


def sparse_to_device(X, device):
    """Sparse X on ``device`` ("cpu" or "cuda"): a SciPy matrix there becomes a CuPy one
    (``cupyx.scipy.sparse.csr_matrix``), a CuPy one comes back through its ``get``."""
    on_gpu = type(X).__module__.startswith("cupyx")
    if device == "cuda" and not on_gpu:
        import cupyx.scipy.sparse

        return cupyx.scipy.sparse.csr_matrix(X)
    if device == "cpu" and on_gpu:
        return X.get()
    return X


def check_sparse(X, *, min_samples=1, estimator_name=None):
    """X as a CSR matrix of float32 or float64 (integers and bools become float64),
    checked like dense input: 2-D, at least ``min_samples`` rows and one column,
    finite stored values.

    Raises
    ------
    ValueError
        An empty matrix, too few rows, NaN or infinity among the stored values.
    TypeError
        Complex or non-numeric values.
    """
    who = f" by {estimator_name}" if estimator_name else ""
    X = X.tocsr()
    if X.dtype.kind not in "biuf":
        raise TypeError(f"Sparse X must hold real numbers{who}, got dtype {X.dtype}.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    n_samples, n_features = X.shape
    if n_samples < min_samples:
        raise ValueError(f"Found array with {n_samples} sample(s) (shape={X.shape}) while a "
                         f"minimum of {min_samples} is required{who}.")
    if n_features < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                         f"of 1 is required{who}.")
    if not np.all(np.isfinite(X.data)):
        kind = "NaN" if np.isnan(X.data).any() else "infinity"
        raise ValueError(f"Input X contains {kind}.")
    return X
