"""Gaussian mixture models: ``GaussianMixture``, fitted by expectation-maximisation.

One array-API implementation for every backend, following scikit-learn's
``GaussianMixture``: EM in log space, with the Cholesky factors of the
precision matrices as the working parameters. Each EM iteration is one pass
over X in row chunks (two for ``covariance_type="full"``): the E-step's
log-densities come from matrix products (for "full", one
``(rows, d) @ (d, k * d)`` product against every component's factor at
once), and each chunk's responsibilities are folded straight into float64
sums from which the M-step's parameters follow, so no ``(n_samples,
n_components)`` matrix is kept except the responsibilities "full" needs for
its second pass. For "diag" and "spherical" a pass is two products per
block of rows, against blocks ``[1; Z^T; S^T]`` made once per fit
(:mod:`._mixture_design`).

Every pass works on X minus the mixture's mean (the data mean after the
first M-step; "diag" and "spherical" use the data mean from the start):
the expansions :math:`|x|^2 - 2 x \\cdot m + |m|^2` that "diag",
"spherical" and "tied" use lose the digits of :math:`|x|^2`, which
centring makes small. Results are the same up to rounding.
"""

import math
import numbers
import warnings
from time import time

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import backend, distributed
from .._validation import check_finite, check_option, check_scalar
from ._base import DeviceEstimatorMixin
from ._mixture_design import DESIGN_TYPES, DesignBlocks
from .kmeans import KMeans, kmeans_plusplus

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
LOG_2PI = math.log(2.0 * math.pi)
# The weight of the origin in every component's mean and scatter: scikit-learn's 10 eps
# (float64's, for float32 X too; see ``Moments.means``).
ORIGIN_WEIGHT = 10 * float(np.finfo(np.float64).eps)
ILL_DEFINED_COVARIANCE = (
    "Fitting the mixture model failed because some components have ill-defined "
    "empirical covariance (for instance caused by singleton or collapsed samples). "
    "Try to decrease the number of components, increase reg_covar, or scale the input data."
)
FLOAT32_HINT = (
    " The numerical accuracy can also be improved by passing float64 data instead of float32."
)


# --------------------------------------------------------------------------
# Checks of the user's initial parameters (small arrays, checked on the host)


def _host_floats(value, name):
    """``value`` as a float32 or float64 ndarray (integers become float64), finite."""
    array = backend.to_numpy(backend.coerce_array(value))
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    check_finite(array, name)
    return array


def _check_shape(param, shape, name):
    if param.shape != shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {shape}, but got {param.shape}"
        )


def check_weights(weights, n_components):
    """Validate ``weights_init``: shape (n_components,), in [0, 1], summing to 1."""
    weights = _host_floats(weights, "weights_init")
    _check_shape(weights, (n_components,), "weights")
    if np.any(weights < 0.0) or np.any(weights > 1.0):
        # scikit-learn's message names the minimum "max value" and the maximum
        # "min value"; its tests match that text, so it is kept word for word.
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got max value "
            f"{np.min(weights):.5f}, min value {np.max(weights):.5f}"
        )
    atol = 1e-6 if weights.dtype == np.float32 else 1e-8
    if not abs(1.0 - float(np.sum(weights))) <= atol:
        raise ValueError(
            "The parameter 'weights' should be normalized, but got "
            f"sum(weights) = {np.sum(weights):.5f}"
        )
    return weights


def check_means(means, n_components, n_features):
    """Validate ``means_init``: shape (n_components, n_features)."""
    means = _host_floats(means, "means_init")
    _check_shape(means, (n_components, n_features), "means")
    return means


def check_precisions(precisions, covariance_type, n_components, n_features):
    """Validate ``precisions_init``: its shape for ``covariance_type``, symmetric positive-definite.

    Shapes: "full" (n_components, n_features, n_features), "tied"
    (n_features, n_features), "diag" (n_components, n_features), "spherical"
    (n_components,).
    """
    precisions = _host_floats(precisions, "precisions_init")
    shape = {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]
    _check_shape(precisions, shape, f"{covariance_type} precision")
    if covariance_type in ("diag", "spherical"):
        if np.any(precisions <= 0.0):
            raise ValueError(f"'{covariance_type} precision' should be positive")
        return precisions
    for matrix in precisions.reshape((-1, n_features, n_features)):
        if not (np.all(np.isclose(matrix, matrix.T)) and np.all(np.linalg.eigvalsh(matrix) > 0.0)):
            raise ValueError(
                f"'{covariance_type} precision' should be symmetric, positive-definite"
            )
    return precisions


# --------------------------------------------------------------------------
# Parameters: Cholesky factors of the precisions and what follows from them


def _is_linalg_error(exc):
    """True for a failed factorisation: NumPy's (and array_api_strict's) LinAlgError, torch's."""
    return isinstance(exc, np.linalg.LinAlgError) or "LinAlgError" in type(exc).__name__


def precision_cholesky(covariances, covariance_type):
    """Upper-triangular factors U with U U^T = inverse of each covariance (X's namespace and dtype).

    For "full" and "tied" :math:`U = L^{-T}` with :math:`L L^T` the
    covariance's Cholesky factorisation (batched over components); for
    "diag" and "spherical" :math:`1/\\sqrt{\\sigma^2}`.

    Raises
    ------
    ValueError
        scikit-learn's "ill-defined empirical covariance" message when a
        covariance is not positive-definite.
    """
    xp = backend.namespace(covariances)
    message = ILL_DEFINED_COVARIANCE + (FLOAT32_HINT if covariances.dtype == xp.float32 else "")
    if covariance_type in ("diag", "spherical"):
        if bool(xp.any(covariances <= 0.0)):
            raise ValueError(message)
        return 1.0 / xp.sqrt(covariances)
    try:
        factor = xp.linalg.cholesky(covariances)
    except Exception as exc:
        if not _is_linalg_error(exc):
            raise
        raise ValueError(message) from None
    # CuPy returns NaN where NumPy raises; a finite positive diagonal is the test on both.
    if not bool(xp.all(xp.linalg.diagonal(factor) > 0.0)):
        raise ValueError(message)
    n_features = covariances.shape[-1]
    identity = xp.zeros_like(factor) + xp.eye(
        n_features, dtype=factor.dtype, device=backend.device(factor)
    )
    # The standard has no triangular solve; a general solve of L X = I costs
    # d^3 per component, nothing next to the E-step's n d^2.
    return xp.matrix_transpose(xp.linalg.solve(factor, identity))


def precision_cholesky_from_precisions(precisions, covariance_type):
    """The factors U (U U^T = precision, U upper-triangular) of user-given precisions.

    As scikit-learn: the Cholesky factor of the precision with its rows and
    columns reversed, reversed back, is upper-triangular.
    """
    xp = backend.namespace(precisions)
    if covariance_type in ("diag", "spherical"):
        return xp.sqrt(precisions)
    flip = (-2, -1)
    return xp.flip(xp.linalg.cholesky(xp.flip(precisions, axis=flip)), axis=flip)


def precisions_from_cholesky(precisions_chol, covariance_type):
    """The precisions U U^T (or U^2 for "diag" and "spherical")."""
    xp = backend.namespace(precisions_chol)
    if covariance_type in ("diag", "spherical"):
        return precisions_chol * precisions_chol
    return xp.matmul(precisions_chol, xp.matrix_transpose(precisions_chol))


def covariances_from_precisions(precisions, covariance_type):
    """The covariances of user-given precisions (inverses)."""
    xp = backend.namespace(precisions)
    if covariance_type in ("diag", "spherical"):
        return 1.0 / precisions
    return xp.linalg.inv(precisions)


def log_det_cholesky(precisions_chol, covariance_type, n_features):
    """log det U per component (shape (n_components,), or a 0-d array for "tied")."""
    xp = backend.namespace(precisions_chol)
    if covariance_type in ("full", "tied"):
        return xp.sum(xp.log(xp.linalg.diagonal(precisions_chol)), axis=-1)
    if covariance_type == "diag":
        return xp.sum(xp.log(precisions_chol), axis=1)
    return n_features * xp.log(precisions_chol)


def n_parameters(covariance_type, n_components, n_features):
    """Free parameters of a mixture (for ``bic`` and ``aic``), as scikit-learn counts them."""
    cov_params = {
        "full": n_components * n_features * (n_features + 1) / 2.0,
        "diag": n_components * n_features,
        "tied": n_features * (n_features + 1) / 2.0,
        "spherical": n_components,
    }[covariance_type]
    return int(cov_params + n_features * n_components + n_components - 1)


# --------------------------------------------------------------------------
# E-step


def _squares(Z, covariance_type):
    """What the E- and M-steps of "diag" (Z * Z) and "spherical" (row norms) share; else None."""
    xp = backend.namespace(Z)
    if covariance_type == "diag":
        return Z * Z
    if covariance_type == "spherical":
        return xp.vecdot(Z, Z)
    return None


class LogDensities:
    """Weighted log-densities log w_k + log N(x | mu_k, Sigma_k) of rows, for one parameter set.

    Everything that depends only on the parameters is computed once here;
    ``__call__`` maps a chunk ``Z = X[rows] - center`` (and its
    ``_squares``) to an array (rows, n_components) in X's dtype. ``center``
    is the mixture's mean ``weights @ means`` unless given (the data mean of
    the design blocks). For "diag" and "spherical", ``coefficients()`` gives
    the same densities as one (n_components, width) matrix for the design
    blocks of :mod:`._mixture_design`.
    """

    def __init__(self, weights, means, precisions_chol, covariance_type, center=None):
        xp = backend.namespace(means)
        self.xp = xp
        self.covariance_type = covariance_type
        n_components, n_features = means.shape
        self.shape = (n_components, n_features)
        self.center = xp.sum(weights[:, None] * means, axis=0) if center is None else center
        m = means - self.center
        const = (-0.5 * n_features * LOG_2PI + log_det_cholesky(
            precisions_chol, covariance_type, n_features) + xp.log(weights))
        if covariance_type == "full":
            # Y = Z @ [U_1 ... U_k] - [m_1 U_1 ... m_k U_k]: one product for all components.
            self.factors = xp.reshape(xp.permute_dims(precisions_chol, (1, 0, 2)),
                                      (n_features, n_components * n_features))
            self.offsets = xp.reshape(xp.matmul(m[:, None, :], precisions_chol),
                                      (n_components * n_features,))
        elif covariance_type == "tied":
            # |y - o_k|^2 = |y|^2 - 2 y . o_k + |o_k|^2 with y = z U, o_k = m_k U: one
            # (rows, d) @ (d, k) product instead of a (rows, k, d) difference (510 ms
            # against about 170 ms per pass at 200,000 x 64, k=20, float64, one thread).
            self.factors = precisions_chol
            offsets = m @ precisions_chol
            self.linear = offsets.T
            const = const - 0.5 * xp.sum(offsets * offsets, axis=1)
        elif covariance_type == "diag":
            precisions = precisions_chol * precisions_chol
            self.linear = (m * precisions).T
            self.quadratic = -0.5 * precisions.T
            const = const - 0.5 * xp.sum(m * m * precisions, axis=1)
        else:
            precisions = precisions_chol * precisions_chol
            self.linear = m.T * precisions
            self.precisions = precisions
            const = const - 0.5 * xp.sum(m * m, axis=1) * precisions
        self.const = const

    def __call__(self, Z, squares):
        xp = self.xp
        n_components, n_features = self.shape
        if self.covariance_type == "full":
            Y = Z @ self.factors
            Y -= self.offsets
            Y = xp.reshape(Y, (Z.shape[0], n_components, n_features))
            # vecdot: no Y * Y temporary, and 3x faster than sum(Y * Y, axis=2) with
            # NumPy (5,800 x 20 x 64 float32, one BLAS thread).
            return self.const - 0.5 * xp.vecdot(Y, Y)
        if self.covariance_type == "tied":
            Y = Z @ self.factors
            return self.const + Y @ self.linear - 0.5 * xp.vecdot(Y, Y)[:, None]
        if self.covariance_type == "diag":
            return self.const + Z @ self.linear + squares @ self.quadratic
        return self.const + Z @ self.linear - 0.5 * squares[:, None] * self.precisions[None, :]

    def coefficients(self):
        """"diag", "spherical": A (n_components, width) with A @ design_block(Z) the densities."""
        xp = self.xp
        if self.covariance_type == "diag":
            parts = [self.const[:, None], self.linear.T, self.quadratic.T]
        else:
            parts = [self.const[:, None], self.linear.T, -0.5 * self.precisions[:, None]]
        return xp.concat(parts, axis=1)


def log_normalize(weighted_log_prob, axis=1, overwrite=False):
    """Log of the summed densities and the responsibilities, overflow-safe.

    ``weighted_log_prob`` is (n, k) with ``axis=1`` (returns (n,) and (n, k)),
    or (k, n) with ``axis=0`` (returns (n,) and (k, n)); X's dtype.
    ``overwrite=True`` lets it subtract the maxima in place, sparing a
    temporary (11.5 ms against 18.4 ms per 200,000 x 20 float64 pass).
    """
    xp = backend.namespace(weighted_log_prob)
    top = xp.max(weighted_log_prob, axis=axis)
    top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
    if overwrite:
        weighted_log_prob -= xp.expand_dims(top, axis=axis)
        scaled = xp.exp(weighted_log_prob)
    else:
        scaled = xp.exp(weighted_log_prob - xp.expand_dims(top, axis=axis))
    total = xp.sum(scaled, axis=axis)
    scaled /= xp.expand_dims(total, axis=axis)
    return xp.log(total) + top, scaled


def chunk_rows(X, n_components, covariance_type):
    """Rows per chunk so that a chunk's temporaries fit the memory budget (or free GPU memory)."""
    n_samples, n_features = X.shape
    itemsize = 8 if X.dtype == backend.namespace(X).float64 else 4
    per_row = 3 * n_features + 6 * n_components
    if covariance_type in ("full", "tied"):
        per_row += 2 * n_components * n_features
    return backend.row_chunk_size(n_samples, itemsize * per_row, device=backend.device_of(X))


def for_each_chunk(X, center, n_components, covariance_type, step):
    """Call ``step(start, stop, Z, squares)`` on row chunks, Z = X[start:stop] - center.

    Chunks are sized by ``chunk_rows`` and halved on out-of-memory, so a
    step must change its state only once all its allocations are done.
    """
    def run(start, stop):
        Z = X[start:stop, :] - center
        step(start, stop, Z, _squares(Z, covariance_type))

    backend.for_each_chunk(X.shape[0], chunk_rows(X, n_components, covariance_type), run)


# --------------------------------------------------------------------------
# M-step: float64 sums over chunks, then the parameters


class Moments:
    """Responsibility-weighted sums over row chunks (float64), from which the M-step follows.

    ``add`` takes a chunk ``Z`` (rows minus ``center``), its ``_squares``
    and its responsibilities; ``parameters`` turns the sums into weights
    (before normalisation: the component sizes), means and covariances in
    X's dtype. "full" needs a second pass (``add_scatter``) around the new
    means, so its covariances carry no cancellation.
    """

    def __init__(self, X, n_components, covariance_type, center):
        xp = backend.namespace(X)
        self.xp, self.dtype, self.center = xp, X.dtype, center
        self.covariance_type = covariance_type
        self.n_components = n_components
        n_features = X.shape[1]
        device = backend.device(X)
        self.sizes = xp.zeros(n_components, dtype=xp.float64, device=device)
        self.sums = xp.zeros((n_components, n_features), dtype=xp.float64, device=device)
        second_shape = {"full": None, "tied": (n_features, n_features),
                        "diag": (n_components, n_features), "spherical": (n_components,)}
        shape = second_shape[covariance_type]
        self.second = None if shape is None else xp.zeros(shape, dtype=xp.float64, device=device)
        self.scatter = None
        self._scatter_means = None

    def add(self, Z, squares, resp):
        xp = self.xp
        sizes = xp.sum(xp.astype(resp, xp.float64), axis=0)
        sums = xp.astype(resp.T @ Z, xp.float64)
        second = None
        if self.covariance_type == "tied":
            # Each row weighted by its total responsibility: one in EM, but zero for
            # the rows no component picked at a k-means++ or random_from_data start.
            # In float64: there the covariance, second - between, cancels to nothing but
            # reg_covar, and float32 products left rounding above reg_covar (Cholesky failed).
            Z64 = xp.astype(Z, xp.float64)
            second = (Z64 * xp.astype(xp.sum(resp, axis=1), xp.float64)[:, None]).T @ Z64
        elif self.covariance_type == "diag":
            second = resp.T @ squares
        elif self.covariance_type == "spherical":
            second = squares @ resp
        # Every allocation is done before any sum changes: a chunk retried
        # after an out-of-memory error is not counted twice.
        self.sizes = self.sizes + sizes
        self.sums = self.sums + sums
        if second is not None:
            self.second = self.second + xp.astype(second, xp.float64)

    def add_products(self, products):
        """"diag", "spherical": add ``resp @ design_block(Z).T``, (n_components, width).

        Its columns are the sizes, the sums and the second moments.
        """
        xp = self.xp
        n_features = self.sums.shape[1]
        products = xp.astype(products, xp.float64)
        second = products[:, n_features + 1:]
        if self.covariance_type == "spherical":
            second = second[:, 0]
        self.sizes = self.sizes + products[:, 0]
        self.sums = self.sums + products[:, 1:n_features + 1]
        self.second = self.second + second

    def means(self):
        """Sizes (with scikit-learn's 10 eps) and means about ``center``, float64.

        As scikit-learn's sums over uncentred rows, a mean is that of the weighted rows
        and a point at the origin of weight 10 eps: a component with no responsibility
        sits at 0, not at ``center``. The weight is float64's 10 eps, as scikit-learn's
        float64 fit has it: with float32's, a float32 mean 10^6 from the origin would
        move by 1.2 / n_k.
        """
        xp = self.xp
        sizes = self.sizes + 10 * float(xp.finfo(self.dtype).eps)
        center = xp.astype(self.center, xp.float64)
        weights = self.sizes + ORIGIN_WEIGHT
        return sizes, (self.sums - ORIGIN_WEIGHT * center) / weights[:, None]

    def add_scatter(self, Z, resp):
        """"full": add sum_i r_ik (z_i - m_k)(z_i - m_k)^T per component, about the new means."""
        xp = self.xp
        if self._scatter_means is None:
            self._scatter_means = xp.astype(self.means()[1], self.dtype)
        means = self._scatter_means
        parts = []
        for k in range(self.n_components):
            # sqrt(r) on both sides: one copy of the chunk per component, and the product
            # of an array with its own transpose, which NumPy hands to BLAS's SYRK (half
            # the multiply-adds): 3.3x faster at 50,000 x 64, k=20, than (diff * r).T @ diff.
            diff = Z - means[k, :]
            diff *= xp.sqrt(resp[:, k:k + 1])
            parts.append(xp.astype(diff.T @ diff, xp.float64))
        chunk = xp.stack(parts)
        self.scatter = chunk if self.scatter is None else self.scatter + chunk

    def parameters(self, reg_covar):
        """(sizes, means, covariances) in X's dtype; covariances carry ``reg_covar``.

        Scatters are about the means (``means``); "tied", "diag" and "spherical" add
        the origin point's 10 eps m m^T, as scikit-learn's second moments over
        uncentred rows have it (with no responsibility: covariance ``reg_covar``;
        float64's eps for float32 X too: float32's would add 1.2e-6 |m|^2 / n_k).
        """
        xp = self.xp
        sizes, means = self.means()
        n_features = means.shape[1]
        kind = self.covariance_type
        raw, sums = self.sizes, self.sums
        absolute = means + xp.astype(self.center, xp.float64)
        at_origin = ORIGIN_WEIGHT * absolute
        if kind == "full":
            eye = xp.eye(n_features, dtype=xp.float64, device=backend.device(means))
            covariances = self.scatter / sizes[:, None, None] + reg_covar * eye
        elif kind == "tied":
            eye = xp.eye(n_features, dtype=xp.float64, device=backend.device(means))
            between = (sums.T @ means + means.T @ sums - (raw * means.T) @ means
                       - at_origin.T @ absolute)
            covariances = (self.second - between) / xp.sum(sizes) + reg_covar * eye
        else:
            # sum_i r_ik (z_i - m_k)^2 + 10 eps a_k^2 = second - 2 m_k s_k + n_k m_k^2 + ...
            centred = means * (raw[:, None] * means - 2.0 * sums) + at_origin * absolute
            if kind == "diag":
                covariances = (self.second + centred) / sizes[:, None] + reg_covar
            else:
                scatter = self.second + xp.sum(centred, axis=1)
                covariances = scatter / sizes / n_features + reg_covar
        return tuple(xp.astype(a, self.dtype) for a in (sizes, absolute, covariances))


# --------------------------------------------------------------------------
# One EM pass, and the initial parameters from responsibilities


class _Pass:
    """Chunk step of an EM iteration: E-step, then the chunk's sums for the M-step."""

    def __init__(self, X, densities, moments, keep_resp):
        xp = backend.namespace(X)
        self.xp = xp
        self.densities = densities
        self.moments = moments
        self.n_components = densities.shape[0]
        self.log_prob_sum = xp.zeros((), dtype=xp.float64, device=backend.device(X))
        self.resp = (xp.empty((X.shape[0], self.n_components), dtype=X.dtype,
                              device=backend.device(X)) if keep_resp else None)

    def __call__(self, start, stop, Z, squares):
        xp = self.xp
        log_prob_norm, resp = log_normalize(self.densities(Z, squares))
        total = xp.sum(xp.astype(log_prob_norm, xp.float64))
        self.moments.add(Z, squares, resp)
        self.log_prob_sum = self.log_prob_sum + total
        if self.resp is not None:
            self.resp[start:stop, :] = resp


class _Scatter:
    """Chunk step of "full"'s second pass: scatter about the new means."""

    def __init__(self, moments, resp_of):
        self.moments = moments
        self.resp_of = resp_of

    def __call__(self, start, stop, Z, squares):
        self.moments.add_scatter(Z, self.resp_of(start, stop))


class _FromResp:
    """Chunk step of the initialisation: sums of given responsibilities."""

    def __init__(self, moments, resp_of):
        self.moments = moments
        self.resp_of = resp_of

    def __call__(self, start, stop, Z, squares):
        self.moments.add(Z, squares, self.resp_of(start, stop))


def finish_m_step(X, moments, resp_of, reg_covar, covariance_type):
    """Second pass for "full", then (sizes, means, covariances, precisions_chol)."""
    if covariance_type == "full":
        for_each_chunk(X, moments.center, moments.n_components, covariance_type,
                       _Scatter(moments, resp_of))
    sizes, means, covariances = moments.parameters(reg_covar)
    return sizes, means, covariances, precision_cholesky(covariances, covariance_type)


def em_iteration(X, params, reg_covar, covariance_type):
    """One E-step and M-step. Returns (new parameters, mean log-likelihood of X under ``params``).

    ``params`` and the result are (weights, means, covariances,
    precisions_chol) in X's namespace, device and dtype. "diag" and
    "spherical" go through design blocks made for this pass
    (``EMSteps`` keeps them over a fit).
    """
    if covariance_type in DESIGN_TYPES:
        blocks = DesignBlocks(X, covariance_type, params[1].shape[0], cache=False)
        return design_em_iteration(blocks, params, reg_covar)
    xp = backend.namespace(X)
    weights, means, _, precisions_chol = params
    densities = LogDensities(weights, means, precisions_chol, covariance_type)
    moments = Moments(X, means.shape[0], covariance_type, densities.center)
    step = _Pass(X, densities, moments, keep_resp=covariance_type == "full")
    for_each_chunk(X, densities.center, means.shape[0], covariance_type, step)
    sizes, means, covariances, precisions_chol = finish_m_step(
        X, moments, lambda start, stop: step.resp[start:stop, :], reg_covar, covariance_type)
    weights = sizes / xp.sum(sizes)
    return (weights, means, covariances, precisions_chol), float(step.log_prob_sum) / X.shape[0]


def design_em_iteration(blocks, params, reg_covar):
    """``em_iteration`` for "diag" and "spherical" over ``DesignBlocks``.

    Per block B (width, rows): the densities ``A @ B`` (k, rows), normalised
    down each column into the responsibilities R, then ``R @ B^T`` (k,
    width), the block's sizes, sums and second moments, added in float64.
    """
    X, covariance_type = blocks.X, blocks.covariance_type
    xp = backend.namespace(X)
    weights, means, _, precisions_chol = params
    n_components = means.shape[0]
    densities = LogDensities(weights, means, precisions_chol, covariance_type,
                             center=blocks.center)
    coefficients = densities.coefficients()
    moments = Moments(X, n_components, covariance_type, blocks.center)
    totals = []

    def step(start, stop, block):
        log_prob_norm, resp = log_normalize(coefficients @ block, axis=0, overwrite=True)
        products = resp @ block.T
        total = xp.sum(xp.astype(log_prob_norm, xp.float64))
        moments.add_products(products)
        totals.append(total)

    blocks.for_each(step)
    sizes, means, covariances = moments.parameters(reg_covar)
    precisions_chol = precision_cholesky(covariances, covariance_type)
    weights = sizes / xp.sum(sizes)
    log_prob_sum = float(xp.sum(xp.stack(totals)))
    return (weights, means, covariances, precisions_chol), log_prob_sum / X.shape[0]


class EMSteps:
    """EM iterations on one X over a fit: ``step`` for ``_run_em``.

    "diag" and "spherical" keep X's ``DesignBlocks`` (centred and squared
    once per fit, not per iteration) when memory allows; the other types
    call ``em_iteration``.
    """

    def __init__(self, X, covariance_type, n_components):
        self.X = X
        self.blocks = (DesignBlocks(X, covariance_type, n_components)
                       if covariance_type in DESIGN_TYPES else None)

    def step(self, X, params, reg_covar, covariance_type):
        """One EM iteration: ``em_iteration``'s signature and result."""
        if self.blocks is None or X is not self.X:
            return em_iteration(X, params, reg_covar, covariance_type)
        return design_em_iteration(self.blocks, params, reg_covar)


def parameters_from_resp(X, resp_of, n_components, reg_covar, covariance_type, blocks=None):
    """(sizes, means, covariances, precisions_chol) from responsibilities ``resp_of``.

    ``blocks``: X's ``DesignBlocks`` for "diag" and "spherical" (the fit's,
    so that they are made once), whose products give the sums.
    """
    xp = backend.namespace(X)
    if blocks is not None:
        moments = Moments(X, n_components, covariance_type, blocks.center)
        blocks.for_each(lambda start, stop, block: moments.add_products(
            xp.matrix_transpose(resp_of(start, stop)) @ xp.matrix_transpose(block)))
        return finish_m_step(X, moments, resp_of, reg_covar, covariance_type)
    center = xp.mean(X, axis=0)
    moments = Moments(X, n_components, covariance_type, center)
    for_each_chunk(X, center, n_components, covariance_type, _FromResp(moments, resp_of))
    return finish_m_step(X, moments, resp_of, reg_covar, covariance_type)


def initial_responsibilities(X, n_components, init_params, random_state, device):
    """``resp_of(start, stop)``: initial responsibilities of rows start:stop, as sklearn draws them.

    "kmeans" one-hot labels of gpucluster's KMeans; "k-means++" and
    "random_from_data" a one at the chosen row of each component; "random"
    uniform draws normalised per row. All draws come from ``random_state`` on
    the host in scikit-learn's order, so a seed gives its initialisation.
    """
    xp = backend.namespace(X)
    n_samples = X.shape[0]
    dev = backend.device(X)
    components = xp.arange(n_components, dtype=xp.int64, device=dev)
    if init_params == "random":
        resp = xp.astype(backend.asarray_like(
            random_state.uniform(size=(n_samples, n_components)), X), X.dtype)
        resp = resp / xp.sum(resp, axis=1)[:, None]
        return lambda start, stop: resp[start:stop, :]
    if init_params == "kmeans":
        km = KMeans(n_clusters=n_components, n_init=1, random_state=random_state, device=device)
        labels = xp.astype(backend.asarray_like(km.fit(X).labels_, X), xp.int64)
        return lambda start, stop: xp.astype(labels[start:stop, None] == components, X.dtype)
    if init_params == "k-means++":
        _, indices = kmeans_plusplus(X, n_components, random_state=random_state)
    else:
        indices = random_state.choice(n_samples, size=n_components, replace=False)
    chosen = xp.astype(backend.asarray_like(np.asarray(indices, dtype=np.int64), X), xp.int64)

    def resp_of(start, stop):
        rows = xp.arange(start, stop, dtype=xp.int64, device=dev)
        return xp.astype(rows[:, None] == chosen[None, :], X.dtype)

    return resp_of


# --------------------------------------------------------------------------
# The estimator


class GaussianMixture(DeviceEstimatorMixin, DensityMixin, BaseEstimator):
    """Gaussian mixture model fitted by EM on the GPU or the CPU, a drop-in for scikit-learn's.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        "full": each component its own covariance matrix; "tied": one shared
        matrix; "diag": each its own diagonal; "spherical": each its own
        single variance.
    tol : float, default=1e-3
        EM stops when the gain of the lower bound (the mean log-likelihood)
        is below this.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance, so that all stay
        positive-definite.
    max_iter : int, default=100
        Most EM iterations per initialisation; 0 keeps the initial parameters.
    n_init : int, default=1
        Initialisations tried; the one with the best lower bound is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        How the initial responsibilities are made: gpucluster's KMeans
        labels, k-means++ seeds, random responsibilities, or random rows.
    weights_init : array of shape (n_components,), default=None
    means_init : array of shape (n_components, n_features), default=None
    precisions_init : array, default=None
        User-given initial weights, means and precisions (inverse
        covariances), of shape (n_components,) for "spherical",
        (n_features, n_features) for "tied", (n_components, n_features) for
        "diag" and (n_components, n_features, n_features) for "full".
        Any array kind or a list.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and ``sample``; draws are made on the host
        in scikit-learn's order, so a seed gives scikit-learn's
        initialisation on every backend.
    warm_start : bool, default=False
        Start each ``fit`` from the last fit's parameters (``n_init`` is
        then 1).
    verbose : int, default=0
    verbose_interval : int, default=10
        Iterations between two progress lines.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to compute; "auto" uses a GPU for data already on one, or for
        host data when the work is large enough.
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"
        The array type of fitted attributes and results; "input" mirrors X.

    Attributes
    ----------
    weights_ : array of shape (n_components,)
    means_ : array of shape (n_components, n_features)
    covariances_ : array
        Shaped by ``covariance_type`` as ``precisions_init``.
    precisions_ : array
        Inverses of the covariances, shaped alike.
    precisions_cholesky_ : array
        Upper-triangular U with U U^T = precision, shaped alike.
    converged_ : bool
    n_iter_ : int
        EM iterations of the best initialisation.
    lower_bound_ : numpy.float32 or numpy.float64 (X's dtype)
        Mean log-likelihood of the training data at the best
        initialisation's last E-step (a float -inf when ``max_iter=0``).
    lower_bounds_ : list of numpy.float32 or numpy.float64
        The lower bound at every iteration of the best initialisation.
    n_features_in_ : int

    The array attributes have the array type and device of the X given to
    ``fit`` (see ``output_type``) and its dtype (float64 for integer X).

    Notes
    -----
    An EM iteration costs O(n k d^2) for "full" (the E-step one GEMM of
    (rows, d) by (d, k d), the M-step one (d, rows) by (rows, d) GEMM per
    component), O(n d^2 + n k d) for "tied" and O(n k d) for "diag" and
    "spherical" (two GEMMs per block of rows, on X centred and squared once
    per fit), all as matrix products on BLAS or cuBLAS. Rows are taken in
    chunks sized from the memory budget; sums are accumulated in float64.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> sorted(np.round(gm.means_, 6).tolist())
    [[1.0, 2.0], [10.0, 2.0]]
    >>> int(gm.predict([[0, 0]])[0]) == int(gm.predict([[1, 1]])[0])
    True
    """

    # scikit-learn validates with dtype=[float64, float32]: integer X is fitted in float64.
    _integers_as_float64 = True

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", weights_init=None,
                 means_init=None, precisions_init=None, random_state=None, warm_start=False,
                 verbose=0, verbose_interval=10, device="auto", output_type="input"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.device = device
        self.output_type = output_type

    # ---- checks -------------------------------------------------------

    def _work(self, n_samples, n_features):
        per_row = {
            "full": 4 * self.n_components * n_features ** 2,
            "tied": 2 * n_features ** 2 + 6 * self.n_components * n_features,
        }.get(self.covariance_type, 6 * self.n_components * n_features)
        return float(n_samples) * per_row * min(int(self.max_iter), 20)

    def _check_params(self, X):
        """Check every parameter against X; return the user's initial arrays (host, or None)."""
        check_scalar(self.n_components, "n_components", min_value=1)
        check_scalar(self.tol, "tol", kind=numbers.Real, min_value=0)
        check_scalar(self.reg_covar, "reg_covar", kind=numbers.Real, min_value=0)
        check_scalar(self.max_iter, "max_iter", min_value=0)
        check_scalar(self.n_init, "n_init", min_value=1)
        check_scalar(self.verbose_interval, "verbose_interval", min_value=1)
        if not isinstance(self.verbose, (numbers.Integral, bool, np.bool_)):
            raise TypeError(f"verbose must be an instance of int or bool, got {self.verbose!r}.")
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise TypeError(f"warm_start must be an instance of bool, got {self.warm_start!r}.")
        check_option(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        check_option(self.init_params, "init_params", INIT_PARAMS)
        self._check_device_params()
        n_samples, n_features = X.shape
        if n_samples < 2:
            raise ValueError(
                f"Found array with {n_samples} sample(s) (shape={tuple(X.shape)}) while a "
                "minimum of 2 is required by GaussianMixture."
            )
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got "
                f"n_components = {self.n_components}, n_samples = {n_samples}"
            )
        k = self.n_components
        return (
            None if self.weights_init is None else check_weights(self.weights_init, k),
            None if self.means_init is None else check_means(self.means_init, k, n_features),
            None if self.precisions_init is None else check_precisions(
                self.precisions_init, self.covariance_type, k, n_features),
        )

    # ---- fitting ------------------------------------------------------

    def fit(self, X, y=None):
        """Estimate the mixture's parameters by EM (``n_init`` runs, the best kept).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            NumPy, CuPy, torch (CPU or CUDA), any array-API array or a list;
            float32 stays float32, integers become float64.
        y : ignored

        Returns
        -------
        self : GaussianMixture
        """
        self.fit_predict(X, y)
        return self

    def fit_predict(self, X, y=None):
        """Fit, then return the most likely component of each row (int64, X's array type).

        The labels come from a last E-step with the returned parameters, so
        they equal ``fit(X).predict(X)`` for any ``max_iter`` and ``tol``.
        """
        if distributed.is_dask_array(X):
            return distributed.mixture.fit_predict(self, X)
        X, _, like = self._prepare_input(X, reset=True, work=self._work)
        initial = self._check_params(X)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        if not do_init and self.means_.shape[1] != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but GaussianMixture is expecting "
                f"{self.means_.shape[1]} features as input."
            )
        steps = EMSteps(X, self.covariance_type, self.n_components)
        best = self._best_run(
            X, do_init, lambda random_state: (
                self._initial_parameters(X, initial, random_state, blocks=steps.blocks)
                if do_init else self._parameters_for(X)),
            step=steps.step)
        self._set_run(best, like, X.shape[1])
        # A last E-step, so that fit_predict(X) equals fit(X).predict(X).
        return self._to_output(self._labels(X, best[0], steps.blocks), like)

    def _best_run(self, X, do_init, start, step=None, stacklevel=4):
        """EM from ``n_init`` starts (one when warm-starting) and the best run, as
        scikit-learn keeps it; ConvergenceWarning when that run did not converge.

        ``start(random_state)`` gives a start's (weights, means, covariances,
        precisions_chol); ``step`` is passed to ``_run_em``. Returns its tuple.
        """
        random_state = check_random_state(self.random_state)
        best = None
        for init in range(self.n_init if do_init else 1):
            self._verbose_init_start(init)
            params = start(random_state)
            lower_bound = -math.inf if do_init else float(self.lower_bound_)
            run = self._run_em(X, params, lower_bound, step)
            # scikit-learn's rule: the first run is kept whatever its bound (even NaN),
            # a later one only when its bound is higher.
            if best is None or (self.max_iter == 0 or run[1] > best[1] or best[1] == -math.inf):
                best = run
        if not best[4] and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=stacklevel,
            )
        return best

    def _set_run(self, run, like, n_features):
        """The fitted attributes from a ``_run_em`` tuple; parameters mirror ``like``."""
        params, lower_bound, n_iter, bounds, converged = run
        self._set_fitted(params, like)
        self.converged_ = bool(converged)
        self.n_iter_ = int(n_iter)
        # scikit-learn's types: X's dtype for the bounds EM computed (-inf before any).
        means = params[1]
        self.lower_bound_ = (backend.host_scalar(lower_bound, means) if bounds
                             else float(lower_bound))
        self.lower_bounds_ = [backend.host_scalar(bound, means) for bound in bounds]
        self.n_features_in_ = int(n_features)

    def _run_em(self, X, params, lower_bound, step=None):
        """EM from ``params``; returns (params, lower bound, n_iter, bounds, converged).

        ``step(X, params, reg_covar, covariance_type) -> (params, lower_bound)`` is one
        iteration: ``em_iteration`` here, the chunked one for dask arrays."""
        step = em_iteration if step is None else step
        if self.max_iter == 0:
            return params, -math.inf, 0, [], False
        bounds = []
        converged = False
        for n_iter in range(1, self.max_iter + 1):
            previous = lower_bound
            params, lower_bound = step(X, params, self.reg_covar, self.covariance_type)
            bounds.append(lower_bound)
            change = lower_bound - previous
            self._verbose_iter_end(n_iter, change)
            if abs(change) < self.tol:
                converged = True
                break
        self._verbose_init_end(lower_bound, converged)
        return params, lower_bound, n_iter, bounds, converged

    def _initial_parameters(self, X, initial, random_state, estimate=None, blocks=None):
        """(weights, means, covariances, precisions_chol) to start EM from, as scikit-learn.

        ``estimate(X, random_state) -> (sizes, means, covariances, precisions_chol)``
        gives what the initialisation estimates: from initial responsibilities here
        (``initial`` as the user gave it; ``blocks`` X's ``DesignBlocks``, or None);
        the dask version passes its chunked one, with ``initial`` already NumPy."""
        if estimate is None:
            xp = backend.namespace(X)
            initial = [None if a is None else xp.astype(backend.asarray_like(a, X), X.dtype)
                       for a in initial]

            def estimate(X, random_state):
                return self._estimate_from_responsibilities(X, random_state, blocks)
        weights_init, means_init, precisions_init = initial
        kind = self.covariance_type
        if precisions_init is not None:
            precisions_chol = precision_cholesky_from_precisions(precisions_init, kind)
            covariances = covariances_from_precisions(precisions_init, kind)
        if weights_init is None or means_init is None or precisions_init is None:
            sizes, means, estimated, estimated_chol = estimate(X, random_state)
            weights = sizes / X.shape[0] if weights_init is None else weights_init
            means = means if means_init is None else means_init
            if precisions_init is None:
                covariances, precisions_chol = estimated, estimated_chol
        else:
            weights, means = weights_init, means_init
        return weights, means, covariances, precisions_chol

    def _estimate_from_responsibilities(self, X, random_state, blocks=None):
        """The initialisation's responsibilities (``init_params``), then an M-step."""
        target = "cuda" if backend.is_cuda_array(X) else "cpu"
        resp_of = initial_responsibilities(X, self.n_components, self.init_params,
                                           random_state, target)
        return parameters_from_resp(X, resp_of, self.n_components, self.reg_covar,
                                    self.covariance_type, blocks)

    def _set_fitted(self, params, like):
        weights, means, covariances, precisions_chol = params
        self.weights_ = self._to_output(weights, like)
        self.means_ = self._to_output(means, like)
        self.covariances_ = self._to_output(covariances, like)
        self.precisions_cholesky_ = self._to_output(precisions_chol, like)
        self.precisions_ = self._to_output(
            precisions_from_cholesky(precisions_chol, self.covariance_type), like)

    def _parameters_for(self, X):
        """The fitted attributes (perhaps set by hand) in X's namespace, device and dtype."""
        xp = backend.namespace(X)
        return tuple(
            xp.astype(backend.asarray_like(getattr(self, name), X), X.dtype)
            for name in ("weights_", "means_", "covariances_", "precisions_cholesky_")
        )

    # ---- the fitted model on new data -----------------------------------

    def _each_chunk(self, X, params, step, blocks=None):
        """Call ``step(start, stop, weighted_log_prob)`` over row chunks of X.

        ``weighted_log_prob`` is (rows, n_components); "diag" and "spherical"
        compute it from design blocks (``blocks``, the fit's, or made here),
        so that predict(X) after fit(X) repeats fit_predict's last E-step.
        """
        weights, means, _, precisions_chol = params
        kind = self.covariance_type
        if kind in DESIGN_TYPES:
            if blocks is None:
                blocks = DesignBlocks(X, kind, means.shape[0], cache=False)
            coefficients = LogDensities(weights, means, precisions_chol, kind,
                                        center=blocks.center).coefficients()
            blocks.for_each(lambda start, stop, block: step(start, stop,
                                                            (coefficients @ block).T))
            return
        densities = LogDensities(weights, means, precisions_chol, kind)

        def run(start, stop, Z, squares):
            step(start, stop, densities(Z, squares))

        for_each_chunk(X, densities.center, means.shape[0], kind, run)

    def _labels(self, X, params, blocks=None):
        xp = backend.namespace(X)
        labels = xp.empty(X.shape[0], dtype=xp.int64, device=backend.device(X))

        def step(start, stop, weighted_log_prob):
            labels[start:stop] = xp.argmax(weighted_log_prob, axis=1)

        self._each_chunk(X, params, step, blocks)
        return labels

    def _log_prob_norm(self, X):
        """Validated X, its per-row log-likelihood (X's dtype) and the caller's description."""
        check_is_fitted(self)
        X, _, like = self._prepare_input(X, reset=False, work=self._work)
        xp = backend.namespace(X)
        out = xp.empty(X.shape[0], dtype=X.dtype, device=backend.device(X))

        def step(start, stop, weighted_log_prob):
            out[start:stop] = log_normalize(weighted_log_prob)[0]

        self._each_chunk(X, self._parameters_for(X), step)
        return X, out, like

    def predict(self, X):
        """Most likely component of each row: (n_samples,), int64, X's array type and device."""
        if distributed.is_dask_array(X):
            return distributed.mixture.predict(self, X)
        check_is_fitted(self)
        X, _, like = self._prepare_input(X, reset=False, work=self._work)
        return self._to_output(self._labels(X, self._parameters_for(X)), like)

    def predict_proba(self, X):
        """Posterior probability of each component per row: (n_samples, n_components), X's dtype."""
        if distributed.is_dask_array(X):
            return distributed.mixture.predict_proba(self, X)
        check_is_fitted(self)
        X, _, like = self._prepare_input(X, reset=False, work=self._work)
        xp = backend.namespace(X)
        out = xp.empty((X.shape[0], self.weights_.shape[0]), dtype=X.dtype,
                       device=backend.device(X))

        def step(start, stop, weighted_log_prob):
            out[start:stop, :] = log_normalize(weighted_log_prob)[1]

        self._each_chunk(X, self._parameters_for(X), step)
        return self._to_output(out, like)

    def score_samples(self, X):
        """Log-likelihood of each row under the model: (n_samples,), X's dtype, type and device."""
        if distributed.is_dask_array(X):
            return distributed.mixture.score_samples(self, X)
        _, log_prob, like = self._log_prob_norm(X)
        return self._to_output(log_prob, like)

    def score(self, X, y=None):
        """Mean log-likelihood of the rows of X (accumulated in float64), a Python float."""
        return self._score_and_count(X)[0]

    def _score_and_count(self, X):
        if distributed.is_dask_array(X):
            return distributed.mixture.score_and_count(self, X)
        X, log_prob, _ = self._log_prob_norm(X)
        xp = backend.namespace(X)
        return float(xp.mean(xp.astype(log_prob, xp.float64))), int(X.shape[0])

    def _n_parameters(self):
        """Free parameters of the fitted model."""
        n_components, n_features = self.means_.shape
        return n_parameters(self.covariance_type, int(n_components), int(n_features))

    def bic(self, X):
        """Bayesian information criterion of the model on X (a float; lower is better)."""
        score, n_samples = self._score_and_count(X)
        return -2 * score * n_samples + self._n_parameters() * math.log(n_samples)

    def aic(self, X):
        """Akaike information criterion of the model on X (a float; lower is better)."""
        score, n_samples = self._score_and_count(X)
        return -2 * score * n_samples + 2 * self._n_parameters()

    def sample(self, n_samples=1):
        """Draw rows from the fitted mixture, as scikit-learn draws them (host random numbers).

        Returns
        -------
        X : array of shape (n_samples, n_features), float64
        y : array of shape (n_samples,), int64, the component of each row
            Both in the array type and device of ``means_``; rows come
            grouped by component.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples} . The sampling requires at "
                "least one sample."
            )
        rng = check_random_state(self.random_state)
        weights = backend.to_numpy(self.weights_)
        means = backend.to_numpy(self.means_)
        covariances = backend.to_numpy(self.covariances_)
        counts = rng.multinomial(n_samples, weights)
        if self.covariance_type == "full":
            parts = [rng.multivariate_normal(mean, cov, int(count))
                     for mean, cov, count in zip(means, covariances, counts)]
        elif self.covariance_type == "tied":
            parts = [rng.multivariate_normal(mean, covariances, int(count))
                     for mean, count in zip(means, counts)]
        else:
            parts = [mean + rng.standard_normal(size=(count, means.shape[1])) * np.sqrt(cov)
                     for mean, cov, count in zip(means, covariances, counts)]
        X = np.vstack(parts).astype(np.float64)
        y = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        return backend.asarray_like(X, self.means_), backend.asarray_like(y, self.means_)

    # ---- progress -------------------------------------------------------

    def _verbose_init_start(self, init):
        if self.verbose >= 1:
            print(f"Initialization {init}")
        if self.verbose >= 2:
            self._init_prev_time = self._iter_prev_time = time()

    def _verbose_iter_end(self, n_iter, change):
        if n_iter % self.verbose_interval != 0 or not self.verbose:
            return
        if self.verbose == 1:
            print(f"  Iteration {n_iter}")
        else:
            now = time()
            print(f"  Iteration {n_iter}\t time lapse {now - self._iter_prev_time:.5f}s\t "
                  f"ll change {change:.5f}")
            self._iter_prev_time = now

    def _verbose_init_end(self, lower_bound, converged):
        message = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {message}.")
        elif self.verbose >= 2:
            print(f"Initialization {message}. time lapse {time() - self._init_prev_time:.5f}s\t "
                  f"lower bound {lower_bound:.5f}.")
