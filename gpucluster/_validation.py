"""Input and parameter checks, worded like scikit-learn's messages."""

import numbers

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError

from . import backend
from ._sparse import is_sparse


def check_input(X, *, name="X", min_samples=1, estimator_name=None):
    """Validate a 2-D data matrix and return it in a supported floating dtype.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        NumPy, CuPy, torch, array_api_strict or any array-API/DLPack array, or
        a list. Integers and bools become float32; float32 and float64 are kept.
    min_samples : int
        Fewest rows accepted.

    Returns
    -------
    X : array of shape (n_samples, n_features), float32 or float64, in its
        own namespace and on its own device.

    Raises
    ------
    TypeError
        For sparse or masked arrays, non-numeric data and objects that are not arrays.
    ValueError
        For the wrong rank, an empty array, complex values, NaN or infinity.
    """
    who = f" by {estimator_name}" if estimator_name else ""
    if is_sparse(X):
        raise TypeError(
            f"Sparse input is not supported{who}; convert it to a dense array, "
            "for example with X.toarray()."
        )
    X = backend.coerce_array(X)
    if backend.array_kind(X) == "numpy":
        X = _numpy_numeric(X, name)
    xp = backend.namespace(X)
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D array instead (shape={tuple(X.shape)}). "
            "Reshape your data either using X.reshape(-1, 1) if your data has a "
            "single feature or X.reshape(1, -1) if it contains a single sample."
        )
    n_samples, n_features = X.shape
    if n_samples < min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={tuple(X.shape)}) while a "
            f"minimum of {min_samples} is required{who}."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a minimum "
            f"of 1 is required{who}."
        )
    dtype = X.dtype
    if xp.isdtype(dtype, "complex floating"):
        raise ValueError(f"Complex data not supported: {name} has dtype {dtype}.")
    if xp.isdtype(dtype, ("bool", "integral")):
        X = xp.astype(X, xp.float32)
    elif not xp.isdtype(dtype, "real floating"):
        raise TypeError(f"{name} has non-numeric dtype {dtype}; expected numbers.")
    elif dtype not in (xp.float32, xp.float64):
        X = xp.astype(X, xp.float32)
    check_finite(X, name)
    return X


def _numpy_numeric(X, name):
    kind = X.dtype.kind
    if kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {X.dtype}.")
    if kind in "OUSV":
        try:
            return X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name} has non-numeric dtype {X.dtype}: {exc}") from exc
    if kind in "mM":
        raise TypeError(f"{name} has non-numeric dtype {X.dtype}; expected numbers.")
    return X


def check_finite(X, name="X"):
    """Raise ValueError naming the problem when ``X`` holds NaN or infinity."""
    xp = backend.namespace(X)
    # Fast path, as scikit-learn's: a NaN or infinity anywhere makes the sum
    # non-finite, so a finite sum clears X in one reduction without a mask.
    if bool(xp.isfinite(xp.sum(X))) or bool(xp.all(xp.isfinite(X))):
        return
    if bool(xp.any(xp.isnan(X))):
        raise ValueError(f"Input {name} contains NaN.")
    raise ValueError(f"Input {name} contains infinity or a value too large for dtype {X.dtype}.")


def check_sample_weight(sample_weight, X):
    """Validate weights for the rows of ``X``; return them in X's namespace, device and dtype.

    None gives all ones. A scalar is broadcast. Negative, NaN or infinite
    weights and a wrong length raise ValueError.
    """
    xp = backend.namespace(X)
    n_samples = X.shape[0]
    device = getattr(X, "device", None)
    if sample_weight is None:
        return xp.ones(n_samples, dtype=X.dtype, device=device)
    if isinstance(sample_weight, numbers.Number):
        return xp.full(n_samples, float(sample_weight), dtype=X.dtype, device=device)
    sample_weight = backend.coerce_array(sample_weight)
    if backend.array_kind(sample_weight) != backend.array_kind(X) or (
        backend.device_of(sample_weight) != backend.device_of(X)
    ):
        sample_weight = backend.to_output(
            backend.to_numpy(sample_weight), backend.describe_input(X)
        )
    sample_weight = xp.astype(sample_weight, X.dtype)
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == {tuple(sample_weight.shape)}, expected ({n_samples},)!"
        )
    check_finite(sample_weight, "sample_weight")
    if bool(xp.any(sample_weight < 0)):
        raise ValueError("Negative values in sample_weight are not allowed.")
    if n_samples and not bool(xp.any(sample_weight > 0)):
        raise ValueError("Sample weights must contain at least one non-zero weight.")
    return sample_weight


def check_n_features(estimator, X):
    """Raise ValueError when ``X`` has another feature count than the fitted estimator."""
    n_features = X.shape[1]
    if n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )


def check_scalar(value, name, *, kind=numbers.Integral, min_value=None, max_value=None,
                 include_min=True):
    """Check a scalar parameter's type and range; raise InvalidParameterError naming it.

    scikit-learn's ``InvalidParameterError`` is both a ValueError and a TypeError,
    as its estimators raise it for the same bad parameters. NaN is refused whatever
    the range: every comparison with it is False, so it would pass any bound and
    then spread through the arithmetic unnoticed.
    """
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InvalidParameterError(f"{name} must be an instance of {expected}, got {value!r}.")
    low = f"{'>=' if include_min else '>'} {min_value}" if min_value is not None else None
    high = f"<= {max_value}" if max_value is not None else None
    if value != value:
        expected = " and ".join(bound for bound in (low, high) if bound) or "a number"
        raise InvalidParameterError(f"{name} must be {expected}, got {value!r}.")
    if min_value is not None and (value < min_value or (value == min_value and not include_min)):
        raise InvalidParameterError(f"{name} must be {low}, got {value!r}.")
    if max_value is not None and value > max_value:
        raise InvalidParameterError(f"{name} must be {high}, got {value!r}.")
    return value


def check_option(value, name, options):
    """Raise InvalidParameterError (a ValueError) unless ``value`` is one of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise InvalidParameterError(f"{name} must be one of {tuple(options)}, got {value!r}.")
    return value
