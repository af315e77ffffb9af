"""Principal component analysis: ``PCA``, scikit-learn's estimator on every array backend.

One array-API implementation serves NumPy, CuPy, torch and
array_api_strict, with scikit-learn's parameters, attributes, solver
choice and sign convention:

- "full": the SVD of the centred data (``_svd.full_svd``: SciPy's LAPACK
  ``gesdd`` on the host, ``xp.linalg.svd`` on a GPU);
- "covariance_eigh": the (n_features, n_features) scatter matrix, summed
  over row chunks of centred data in float64, then ``eigh`` in float64: one
  pass over X, the fast choice for n_samples >> n_features;
- "randomized": Halko et al.'s randomized range finder (``_svd.randomized_svd``);
- "arpack": SciPy's ARPACK on the host (the one solver that leaves the device).

A sparse X (SciPy or cupyx CSR, CSC, ...) stays sparse, as in scikit-learn:
"arpack" (what "auto" picks for it) and "covariance_eigh" centre it
implicitly (``_sparse_pca``), "full" and "randomized" refuse it.

Signs follow scikit-learn 1.9: ``svd_flip`` on the rows of ``components_``
(``u_based_decision=False``) for every solver.
"""

import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import backend
from .._sparse import is_sparse, sparse_to_device
from .._sparse_input import check_canonical_csr, prepare_sparse_input
from .._validation import InvalidParameterError, check_input, check_option, check_scalar
from ..cluster._base import DeviceEstimatorMixin
from . import _sparse_pca, _svd
from ._minka import infer_dimension
from ._svd import (
    arpack_svd,
    full_svd,
    randomized_svd,
    sum_of_squares,
    svd_flip,
    symmetric_eigh,
)

SVD_SOLVERS = ("auto", "full", "covariance_eigh", "arpack", "randomized")
# The solvers that take a sparse X as it is ("auto" means "arpack" for one).
SPARSE_SOLVERS = ("auto", "arpack", "covariance_eigh")
NORMALIZERS = ("auto", "QR", "LU", "none")
# scikit-learn 1.9's "auto" policy: the covariance route for tall, narrow data ...
COVARIANCE_MAX_FEATURES = 1_000
COVARIANCE_MIN_ASPECT = 10
# ... the full SVD for small data ...
FULL_MAX_SIZE = 500
# ... and the randomized SVD when fewer than this share of the axes is wanted.
RANDOMIZED_MAX_SHARE = 0.8


def choose_solver(svd_solver, n_samples, n_features, n_components):
    """The solver ``fit`` runs: ``svd_solver``, or for "auto" scikit-learn 1.9's choice.

    "auto" picks "covariance_eigh" when ``n_features <= 1000`` and
    ``n_samples >= 10 * n_features``; else "full" when the data is at most
    500 x 500 or ``n_components == "mle"``; else "randomized" when
    ``1 <= n_components < 0.8 * min(n_samples, n_features)``; else "full".
    ``n_components`` is the resolved count (None already replaced).
    """
    if svd_solver != "auto":
        return svd_solver
    if n_features <= COVARIANCE_MAX_FEATURES and n_samples >= COVARIANCE_MIN_ASPECT * n_features:
        return "covariance_eigh"
    if max(n_samples, n_features) <= FULL_MAX_SIZE or n_components == "mle":
        return "full"
    if 1 <= n_components < RANDOMIZED_MAX_SHARE * min(n_samples, n_features):
        return "randomized"
    return "full"


def _operations(X):
    """What PCA applies to X itself: ``_svd`` for a dense array, ``_sparse_pca`` for a sparse
    matrix (the same names: ``column_mean``, ``scatter_matrix``, ``centred_product``)."""
    return _sparse_pca if is_sparse(X) else _svd


def _values(X):
    """The dense array that carries X's namespace, device and dtype: X, or a sparse X's ``data``."""
    return X.data if is_sparse(X) else X


def _check_sparse_solver(X, svd_solver):
    """scikit-learn's TypeError for a sparse X with a solver that needs it dense."""
    if is_sparse(X) and svd_solver in ("full", "randomized"):
        raise TypeError(
            'PCA only support sparse inputs with the "arpack" and "covariance_eigh" solvers, '
            f'while "{svd_solver}" was passed. See TruncatedSVD for a possible alternative.'
        )


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidParameterError(f"{name} must be a bool, got {value!r}.")


def _check_n_components(n_components):
    """n_components is None, "mle", an int >= 0 or a float in (0, 1); InvalidParameterError otherwise."""
    if n_components is None or (isinstance(n_components, str) and n_components == "mle"):
        return
    expected = "an int >= 0, a float in (0, 1), 'mle' or None"
    if isinstance(n_components, str):
        raise InvalidParameterError(f"n_components must be {expected}, got {n_components!r}.")
    if isinstance(n_components, (bool, np.bool_)) or not isinstance(n_components, numbers.Real):
        raise InvalidParameterError(f"n_components must be {expected}, got {n_components!r}.")
    if isinstance(n_components, numbers.Integral):
        if n_components < 0:
            raise InvalidParameterError(f"n_components must be {expected}, got {n_components!r}.")
    elif not 0.0 < n_components < 1.0:
        raise InvalidParameterError(f"n_components must be {expected}, got {n_components!r}.")


def _check_count_for_solver(n_components, solver, n_samples, n_features):
    """scikit-learn's range checks of n_components against the data, per solver."""
    smallest = min(n_samples, n_features)
    if solver in ("full", "covariance_eigh"):
        if n_components == "mle":
            if n_samples < n_features:
                raise ValueError("n_components='mle' is only supported if n_samples >= n_features")
        elif not 0 <= n_components <= smallest:
            raise ValueError(
                f"n_components={n_components} must be between 0 and "
                f"min(n_samples, n_features)={smallest} with svd_solver={solver!r}"
            )
        return
    if isinstance(n_components, str):
        raise ValueError(
            f"n_components={n_components!r} cannot be a string with svd_solver='{solver}'"
        )
    if not 1 <= n_components <= smallest:
        raise ValueError(
            f"n_components={n_components!r} must be between 1 and "
            f"min(n_samples, n_features)={smallest!r} with svd_solver='{solver}'"
        )
    if solver == "arpack" and n_components == smallest:
        raise ValueError(
            f"n_components={n_components!r} must be strictly less than "
            f"min(n_samples, n_features)={smallest!r} with svd_solver='{solver}'"
        )


def _components_for_fraction(ratio, fraction):
    """Fewest leading components whose cumulated explained-variance ratio exceeds ``fraction``."""
    cumulated = np.cumsum(np.asarray(backend.to_numpy(ratio)))
    # side="right": the kept variance is always strictly greater than the fraction
    # (scikit-learn's #15669); never more components than there are.
    return min(int(np.searchsorted(cumulated, fraction, side="right")) + 1, cumulated.shape[0])


class PCA(ClassNamePrefixFeaturesOutMixin, DeviceEstimatorMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis on the GPU or the CPU: scikit-learn's ``PCA``.

    Linear dimensionality reduction onto the directions of largest variance
    of the centred data, from its singular value decomposition (or the
    eigendecomposition of its covariance). The data is centred but not
    scaled.

    Parameters
    ----------
    n_components : int, float, "mle" or None, default=None
        Components kept. None: ``min(n_samples, n_features)`` (one fewer for
        "arpack"). A float in (0, 1) ("full" and "covariance_eigh"): the
        fewest components whose explained variance exceeds that fraction.
        "mle": Minka's estimate of the dimension (needs n_samples >= n_features;
        "auto" then runs "full" or "covariance_eigh").
    copy : bool, default=True
        False lets "full" and "randomized" centre X in place (NumPy, CuPy and
        torch arrays), saving one copy; X is then changed.
    whiten : bool, default=False
        Scale the projections to unit variance (``transform`` divides by
        ``sqrt(explained_variance_)``).
    svd_solver : {"auto", "full", "covariance_eigh", "arpack", "randomized"}, default="auto"
        "auto" chooses as scikit-learn 1.9 does (see ``choose_solver``):
        "covariance_eigh" for n_features <= 1000 and n_samples >= 10 *
        n_features, "full" for data up to 500 x 500 or "mle", "randomized"
        when fewer than 80 % of the axes are wanted, else "full".
        "arpack" runs SciPy's ARPACK on the host (X is copied there).
    tol : float, default=0.0
        Tolerance of the singular values for "arpack".
    iterated_power : int or "auto", default="auto"
        Power iterations of "randomized" ("auto": 7 when n_components <
        0.1 * min(X.shape), else 4).
    n_oversamples : int, default=10
        Extra random vectors of "randomized".
    power_iteration_normalizer : {"auto", "QR", "LU", "none"}, default="auto"
        Normalisation between the power iterations of "randomized". "LU"
        (and "auto" with more than two iterations) is SciPy's LU on NumPy
        arrays; the array API has no LU, so other arrays use QR.
    random_state : int, RandomState instance or None, default=None
        Seeds "randomized" and "arpack" (draws made on the host, so a seed
        gives scikit-learn's draws on every backend).
    device : {"auto", "cpu", "cuda"}, default="auto"
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"

    Attributes
    ----------
    components_ : array (n_components_, n_features)
        Principal axes, by decreasing explained variance; each row's
        largest-magnitude entry is positive.
    explained_variance_ : array (n_components_,)
        Variance along each axis (n_samples - 1 degrees of freedom).
    explained_variance_ratio_ : array (n_components_,)
        Share of the total variance along each axis.
    singular_values_ : array (n_components_,)
        Singular values of the centred data for the kept axes.
    mean_ : array (n_features,)
        Per-feature mean of the training data.
    n_components_ : int
        The count kept: ``n_components`` as given, ``min(n_samples, n_features)``
        (less one for "arpack") for None, a ``numpy.int64`` when estimated from
        "mle" or a fraction, as in scikit-learn.
    noise_variance_ : numpy.float32 or numpy.float64 (X's dtype), or float 0.0
        Probabilistic PCA's noise variance (Tipping and Bishop 1999): the
        mean of the discarded eigenvalues, 0.0 when none are discarded.
    n_samples_ : int
    n_features_in_ : int
        Array attributes have X's dtype and the array type and device of the
        X given to ``fit`` (see ``output_type``).

    Notes
    -----
    "full" costs O(n d min(n, d)) and holds a centred copy of X;
    "covariance_eigh" costs O(n d^2) and holds one chunk of centred rows and
    the (d, d) matrix; "randomized" costs O(n d k) per power iteration. Every
    solver but "arpack" runs where X lives (a CuPy or torch CUDA array on
    its GPU, or host data moved there under ``device="cuda"``).
    ``transform`` centres X in row chunks, so it never copies all of X.

    A sparse X (SciPy or ``cupyx.scipy.sparse``; CSR, CSC or any format with
    ``tocsr``) is never made dense, as in scikit-learn: "arpack" (what "auto"
    picks for sparse X) runs ARPACK on the operator ``X - 1 mean_`` (the
    stored values are copied to the host for a cupyx X), "covariance_eigh"
    forms ``(X^T X - n mean_ mean_^T) / (n - 1)`` from the sparse product,
    where X lives; "full" and "randomized" raise scikit-learn's TypeError.
    The dense results (attributes, projections) are NumPy for SciPy input
    and CuPy for cupyx input. ``transform`` and ``inverse_transform`` take
    sparse input too; ``score`` and ``score_samples`` need dense input.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster.decomposition import PCA
    >>> X = np.array([[-1, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]])
    >>> pca = PCA(n_components=2).fit(X)
    >>> pca.explained_variance_ratio_.round(4).tolist()
    [0.9924, 0.0076]
    >>> pca.singular_values_.round(4).tolist()
    [6.3006, 0.5498]
    >>> from scipy.sparse import csr_matrix
    >>> sparse = PCA(n_components=1, svd_solver="arpack", random_state=0).fit(csr_matrix(X))
    >>> sparse.explained_variance_ratio_.round(4).tolist()
    [0.9924]
    """

    # Integer and bool X are computed in float64, as scikit-learn's validate_data does.
    _integers_as_float64 = True

    def __init__(self, n_components=None, *, copy=True, whiten=False, svd_solver="auto",
                 tol=0.0, iterated_power="auto", n_oversamples=10,
                 power_iteration_normalizer="auto", random_state=None, device="auto",
                 output_type="input"):
        self.n_components = n_components
        self.copy = copy
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.tol = tol
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.device = device
        self.output_type = output_type

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = self.svd_solver in SPARSE_SOLVERS
        return tags

    @property
    def _n_features_out(self):
        """Output width of ``transform``, for ``get_feature_names_out`` ("pca0", ...)."""
        return int(self.components_.shape[0])

    @staticmethod
    def _work(n_samples, n_features):
        return 2.0 * n_samples * n_features * min(n_samples, n_features)

    # ----------------------------------------------------------------------
    # Fitting

    def _check_params(self, X):
        """Check the parameters against X; return (n_components, solver) resolved for this X."""
        _check_n_components(self.n_components)
        _check_bool(self.copy, "copy")
        _check_bool(self.whiten, "whiten")
        check_option(self.svd_solver, "svd_solver", SVD_SOLVERS)
        check_scalar(self.tol, "tol", kind=numbers.Real, min_value=0.0)
        if not (isinstance(self.iterated_power, str) and self.iterated_power == "auto"):
            check_scalar(self.iterated_power, "iterated_power", min_value=0)
        check_scalar(self.n_oversamples, "n_oversamples", min_value=1)
        check_option(self.power_iteration_normalizer, "power_iteration_normalizer", NORMALIZERS)
        self._check_device_params()
        n_samples, n_features = X.shape
        if n_samples < 2:
            raise ValueError(
                f"Found array with {n_samples} sample(s) (shape={tuple(X.shape)}) while a "
                "minimum of 2 is required by PCA: variances need two samples."
            )
        # scikit-learn's "auto" is "arpack" for sparse X, before n_components is resolved.
        svd_solver = "arpack" if is_sparse(X) and self.svd_solver == "auto" else self.svd_solver
        n_components = self.n_components
        if n_components is None:
            n_components = min(n_samples, n_features) - (svd_solver == "arpack")
        solver = choose_solver(svd_solver, n_samples, n_features, n_components)
        _check_count_for_solver(n_components, solver, n_samples, n_features)
        return n_components, solver

    def _centred(self, X, mean):
        """X - mean: in X's own memory when ``copy=False`` allows it, else a new array."""
        writable = backend.array_kind(X) in ("cupy", "torch") or (
            backend.array_kind(X) == "numpy" and X.flags.writeable)
        if self.copy or not writable:
            return X - mean
        X -= mean
        return X

    def _prepare(self, X, *, reset, work):
        """``(X, like)``: X validated and placed where the work runs; a sparse X stays sparse
        (canonical CSR, float32 or float64), and ``like`` then mirrors its values."""
        if is_sparse(X):
            X, _, like = prepare_sparse_input(self, X, None, reset=reset, work=work)
            return X, like
        X, _, like = self._prepare_input(X, reset=reset, work=work)
        return X, like

    def _fit(self, X):
        """Fit on X; return (U or None, S, X validated, like) for ``fit_transform``."""
        _check_sparse_solver(X, self.svd_solver)
        # A sparse X's work, per stored value (prepare_input's work(nnz, 1)): X^T X's products.
        X, like = self._prepare(X, reset=True, work=self._work if not is_sparse(X) else (
            lambda nnz, _, n_features=X.shape[1]: 2.0 * nnz * n_features))
        n_components, solver = self._check_params(X)
        random_state = check_random_state(self.random_state)
        operations, values = _operations(X), _values(X)
        xp = backend.namespace(values)
        n_samples = X.shape[0]
        mean = operations.column_mean(X)
        total_variance = None
        if solver == "full":
            Z = self._centred(X, mean)
            U, S, Vt = full_svd(Z, overwrite=Z is not X)
            explained = S**2 / (n_samples - 1)
        elif solver == "covariance_eigh":
            covariance = operations.scatter_matrix(X, mean) / (n_samples - 1)
            # A count of components needs only the largest eigenpairs; the rest of the
            # spectrum enters only through its sum, the trace. (With fewer samples than
            # features scikit-learn's noise averages over n_features - k eigenvalues,
            # not min(n_samples, n_features) - k: there the whole spectrum is computed.)
            wanted = None
            if not isinstance(n_components, str) and n_components >= 1 and (
                    n_components == int(n_components) and n_samples >= X.shape[1]):
                wanted = int(n_components)
                total_variance = float(xp.sum(xp.linalg.diagonal(covariance)))
            eigenvalues, eigenvectors = symmetric_eigh(covariance, wanted)
            # The covariance is positive semi-definite; rounding can make an
            # eigenvalue slightly negative, which the square root below must not see.
            eigenvalues = xp.where(eigenvalues < 0.0, xp.zeros_like(eigenvalues), eigenvalues)
            explained = xp.astype(eigenvalues, values.dtype)
            S = xp.astype(xp.sqrt(eigenvalues * (n_samples - 1)), values.dtype)
            Vt = xp.astype(eigenvectors.T, values.dtype)
            U = None
        elif is_sparse(X):  # "arpack" on the implicitly centred X
            Z = _sparse_pca.centred_operator(X, mean)
            U, S, Vt = arpack_svd(Z, n_components, tol=self.tol, random_state=random_state,
                                  like=values)
            explained = S**2 / (n_samples - 1)
            total_variance = _sparse_pca.centred_sum_of_squares(X, mean) / (n_samples - 1)
        else:
            Z = self._centred(X, mean)
            if solver == "randomized":
                U, S, Vt = randomized_svd(
                    Z, n_components, n_oversamples=self.n_oversamples,
                    n_iter=self.iterated_power,
                    power_iteration_normalizer=self.power_iteration_normalizer,
                    random_state=random_state)
            else:
                U, S, Vt = arpack_svd(Z, n_components, tol=self.tol, random_state=random_state)
            explained = S**2 / (n_samples - 1)
            total_variance = sum_of_squares(Z) / (n_samples - 1)
        U, Vt = svd_flip(U, Vt, u_based_decision=False)
        mean = xp.astype(mean, values.dtype)
        self._set_fitted(X.shape, like, mean, Vt, S, explained, n_components, total_variance)
        # The solver "auto" resolved to, under scikit-learn's private name (its tests read it).
        self._fit_svd_solver = solver
        return U, S, X, like

    def _set_fitted(self, shape, like, mean, Vt, S, explained, n_components, total_variance):
        """The fitted attributes from a decomposition; ``total_variance`` None: the spectrum is complete."""
        xp = backend.namespace(Vt)
        n_samples, n_features = shape
        smallest = min(n_samples, n_features)
        if total_variance is None:
            total_variance = float(xp.sum(xp.astype(explained, xp.float64)))
            # An estimated count is a numpy.int64, as scikit-learn's argmax and searchsorted give it.
            if n_components == "mle":
                n_components = np.int64(infer_dimension(backend.to_numpy(explained), n_samples))
            elif 0 < n_components < 1.0:
                n_components = np.int64(
                    _components_for_fraction(explained / total_variance, n_components))
            kept, rest = explained[:n_components], explained[n_components:]
            noise = float(xp.mean(xp.astype(rest, xp.float64))) if n_components < smallest else 0.0
        else:
            kept = explained
            noise = 0.0
            if n_components < smallest:
                noise = ((total_variance - float(xp.sum(xp.astype(explained, xp.float64))))
                         / (smallest - n_components))
        self.mean_ = self._to_output(mean, like)
        self.components_ = self._to_output(Vt[:n_components, :], like)
        self.explained_variance_ = self._to_output(kept, like)
        self.explained_variance_ratio_ = self._to_output(kept / total_variance, like)
        self.singular_values_ = self._to_output(S[:n_components], like)
        # scikit-learn's type: the count as given (an int for None), numpy.int64 when estimated.
        self.n_components_ = n_components
        # scikit-learn's types: X's dtype when estimated, a Python 0.0 with no components left.
        self.noise_variance_ = backend.host_scalar(noise, Vt) if n_components < smallest else 0.0
        self.n_samples_ = int(n_samples)
        self.n_features_in_ = int(n_features)

    def fit(self, X, y=None):
        """Fit the principal axes of X.

        Parameters
        ----------
        X : array of shape (n_samples, n_features); NumPy, CuPy, torch, any
            array-API array or a list, or a SciPy / cupyx sparse matrix ("auto",
            "arpack" and "covariance_eigh"), which stays sparse. Integers and
            bools are computed in float64.
        y : ignored

        Returns
        -------
        self : PCA

        Raises
        ------
        TypeError
            For sparse X with ``svd_solver`` "full" or "randomized" (scikit-learn's message).
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit on X and return its projection (n_samples, n_components_), in X's array type and dtype.

        "full", "randomized" and "arpack" read the projection off the SVD
        (``U * S``, or ``U * sqrt(n_samples - 1)`` when whitening), as
        scikit-learn does; "covariance_eigh" projects X.
        """
        U, S, X, like = self._fit(X)
        if U is None:
            return self._to_output(self._project(X), like)
        U = U[:, :self.n_components_]
        if self.whiten:
            return self._to_output(U * math.sqrt(X.shape[0] - 1), like)
        return self._to_output(U * S[:self.n_components_], like)

    # ----------------------------------------------------------------------
    # Using the fit

    def _fitted(self, name, like):
        """A fitted array attribute in ``like``'s namespace, device and dtype."""
        xp = backend.namespace(like)
        return xp.astype(backend.asarray_like(getattr(self, name), like), like.dtype)

    def _whitening_scale(self, like):
        """sqrt(explained_variance_) with tiny values raised to eps, so whitening stays finite."""
        xp = backend.namespace(like)
        scale = xp.sqrt(self._fitted("explained_variance_", like))
        eps = float(xp.finfo(scale.dtype).eps)
        return xp.where(scale < eps, xp.full_like(scale, eps), scale)

    def _project(self, X):
        """``(X - mean_) @ components_.T``, whitened if asked, in the namespace of X (validated,
        dense or sparse) or of a sparse X's values."""
        values = _values(X)
        projected = _operations(X).centred_product(
            X, self._fitted("mean_", values), self._fitted("components_", values))
        if self.whiten:
            projected = projected / self._whitening_scale(values)
        return projected

    def transform(self, X):
        """Project X on the principal axes.

        Parameters
        ----------
        X : array of shape (n_samples, n_features); NumPy, CuPy, torch, any array-API array
            or a list, or a SciPy / cupyx sparse matrix (projected as ``X @ components_.T -
            mean_ @ components_.T``, never made dense)

        Returns
        -------
        X_new : array of shape (n_samples, n_components_), X's dtype, array type and device
            (NumPy for SciPy sparse X, CuPy for cupyx)
        """
        check_is_fitted(self)
        X, like = self._prepare(X, reset=False, work=lambda n, d: 2.0 * n * d * self.n_components_)
        return self._to_output(self._project(X), like)

    def inverse_transform(self, X):
        """Map projections back to the feature space: ``X @ components_ + mean_`` (whitening undone).

        Parameters
        ----------
        X : array of shape (n_samples, n_components_); NumPy, CuPy, torch, any array-API array
            or a list, or a SciPy / cupyx sparse matrix (multiplied as it is; scikit-learn
            refuses sparse input here)

        Returns
        -------
        X_original : array of shape (n_samples, n_features_in_), X's dtype, array type and device
            (NumPy for SciPy sparse X, CuPy for cupyx): dense, as the mean makes it
        """
        check_is_fitted(self)
        name = type(self).__name__
        sparse = is_sparse(X)
        X = check_canonical_csr(X, estimator_name=name) if sparse else check_input(
            X, estimator_name=name)
        if X.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {name}.inverse_transform is "
                f"expecting {self.n_components_} features as input (n_components_)."
            )
        values = _values(X)
        like = backend.describe_input(values)
        work = 2.0 * X.shape[0] * self.n_components_ * self.n_features_in_
        target = backend.resolve_device(self.device, values, work=work)
        X = sparse_to_device(X, target) if sparse else backend.to_device(X, target)
        values = _values(X)
        components = self._fitted("components_", values)
        if self.whiten:
            components = self._whitening_scale(values)[:, None] * components
        return self._to_output(X @ components + self._fitted("mean_", values), like)

    def get_covariance(self):
        """The data covariance of the probabilistic PCA model, (n_features, n_features).

        ``components_.T @ diag(explained_variance_ - noise_variance_) @
        components_ + noise_variance_ * I``, in the array type of the fitted attributes.
        """
        check_is_fitted(self)
        components, variance, xp = self._generative_parts()
        noise = float(self.noise_variance_)  # a Python scalar for every namespace
        excess = xp.where(variance > noise, variance - noise, xp.zeros_like(variance))
        covariance = (components.T * excess) @ components
        return covariance + noise * self._eye(components)

    def get_precision(self):
        """The inverse of ``get_covariance()``, by the matrix inversion lemma, (n_features, n_features)."""
        check_is_fitted(self)
        components, variance, xp = self._generative_parts()
        noise = float(self.noise_variance_)  # a Python scalar for every namespace
        eye = self._eye(components)
        if self.n_components_ == 0:
            return eye / noise
        if noise == 0.0:
            return xp.linalg.inv(self.get_covariance())
        excess = xp.where(variance > noise, variance - noise, xp.zeros_like(variance))
        inner = components @ components.T / noise
        diagonal = xp.eye(inner.shape[0], dtype=inner.dtype, device=backend.device(inner)) > 0
        inner = inner + xp.where(diagonal, 1.0 / excess, xp.zeros_like(inner))
        precision = components.T @ xp.linalg.inv(inner) @ components
        return eye / noise - precision / noise**2

    def _generative_parts(self):
        """(components scaled back when whitened, explained variance, namespace) of the fit."""
        components = self.components_
        xp = backend.namespace(components)
        variance = self.explained_variance_
        if self.whiten:
            components = components * xp.sqrt(variance)[:, None]
        return components, variance, xp

    @staticmethod
    def _eye(components):
        xp = backend.namespace(components)
        n_features = components.shape[1]
        return xp.eye(n_features, dtype=components.dtype, device=backend.device(components))

    def score_samples(self, X):
        """Log-likelihood of each row of X under the probabilistic PCA model.

        Returns
        -------
        array of shape (n_samples,), X's dtype, array type and device
        """
        check_is_fitted(self)
        X, _, like = self._prepare_input(X, reset=False)
        return self._to_output(self._log_likelihood(X), like)

    def _log_likelihood(self, X):
        xp = backend.namespace(X)
        precision = xp.astype(backend.asarray_like(self.get_precision(), X), X.dtype)
        residual = X - self._fitted("mean_", X)
        sign, log_det = xp.linalg.slogdet(precision)
        log_det = float(log_det) if float(sign) > 0 else -math.inf
        n_features = X.shape[1]
        return (-0.5 * xp.sum(residual * (residual @ precision), axis=1)
                - 0.5 * (n_features * math.log(2.0 * math.pi) - log_det))

    def score(self, X, y=None):
        """Mean log-likelihood of the rows of X under the probabilistic PCA model (a float)."""
        check_is_fitted(self)
        X, _, _ = self._prepare_input(X, reset=False)
        xp = backend.namespace(X)
        return float(xp.mean(xp.astype(self._log_likelihood(X), xp.float64)))
