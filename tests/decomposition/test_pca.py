"""PCA: parity with scikit-learn per solver, mirroring of every backend, Minka's MLE, errors, checks."""

import numpy as np
import pytest
from sklearn import decomposition as skd
from sklearn.decomposition._pca import _assess_dimension, _infer_dimension
from sklearn.utils.estimator_checks import parametrize_with_checks

from gpucluster import backend
from gpucluster.decomposition import PCA
from gpucluster.decomposition._minka import assess_dimension, infer_dimension
from gpucluster.decomposition._svd import full_svd, svd_flip, symmetric_eigh
from gpucluster.decomposition.pca import choose_solver

from .._helpers import assert_same_kind, rtol_for, to_numpy

ARRAY_ATTRIBUTES = ("components_", "explained_variance_", "explained_variance_ratio_",
                    "singular_values_", "mean_")


def _data(n_samples=200, n_features=12, seed=0, offset=3.0):
    """Gaussian rows with decreasing spread per feature, shifted away from the origin."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_samples, n_features)) * np.linspace(5, 0.5, n_features) + offset


def _low_rank(n_samples=400, n_features=10, rank=4, noise=0.05, seed=0):
    """Rank-``rank`` signal plus small isotropic noise: Minka's MLE should find ``rank``."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(n_samples, rank)) @ rng.normal(size=(rank, n_features)) * 3
    return signal + noise * rng.normal(size=(n_samples, n_features))


def _assert_fit_matches(ours, theirs, X, rtol, atol):
    assert ours.n_components_ == theirs.n_components_
    assert ours.n_samples_ == theirs.n_samples_ and ours.n_features_in_ == theirs.n_features_in_
    for name in ARRAY_ATTRIBUTES:
        np.testing.assert_allclose(to_numpy(getattr(ours, name)), getattr(theirs, name),
                                   rtol=rtol, atol=atol, err_msg=name)
    np.testing.assert_allclose(ours.noise_variance_, theirs.noise_variance_, rtol=rtol, atol=atol)
    np.testing.assert_allclose(to_numpy(ours.transform(X)), theirs.transform(to_numpy(X)),
                               rtol=rtol, atol=atol, err_msg="transform")


# --------------------------------------------------------------------------
# Parity with scikit-learn (NumPy, float64)


@pytest.mark.parametrize("n_components", [3, None, 0.8, "mle", 0],
                         ids=["int", "none", "fraction", "mle", "zero"])
@pytest.mark.parametrize("svd_solver", ["full", "covariance_eigh"])
def test_exact_solvers_match_sklearn(svd_solver, n_components):
    X = _data()
    ours = PCA(n_components, svd_solver=svd_solver).fit(X)
    theirs = skd.PCA(n_components, svd_solver=svd_solver).fit(X)
    # Same sign convention (svd_flip on the rows of components_): no sign alignment.
    _assert_fit_matches(ours, theirs, X, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(PCA(n_components, svd_solver=svd_solver).fit_transform(X),
                               theirs.fit_transform(X), rtol=1e-7, atol=1e-9)
    if ours.n_components_ > 0:
        Z = theirs.transform(X)
        np.testing.assert_allclose(ours.inverse_transform(Z), theirs.inverse_transform(Z),
                                   rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.get_covariance(), theirs.get_covariance(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.get_precision(), theirs.get_precision(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-7)
    assert isinstance(ours.score(X), float)
    np.testing.assert_allclose(ours.score(X), theirs.score(X), rtol=1e-7)


@pytest.mark.parametrize("normalizer", ["auto", "QR", "LU", "none"])
@pytest.mark.parametrize("shape", [(300, 40), (40, 300)], ids=["tall", "wide"])
def test_randomized_matches_sklearn(shape, normalizer):
    """The same host draws and steps as scikit-learn's _randomized_svd: equal up to rounding."""
    X = _data(*shape)
    params = dict(svd_solver="randomized", random_state=0, power_iteration_normalizer=normalizer)
    ours = PCA(5, **params).fit(X)
    theirs = skd.PCA(5, **params).fit(X)
    _assert_fit_matches(ours, theirs, X, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(PCA(5, **params).fit_transform(X), theirs.fit_transform(X),
                               rtol=1e-7, atol=1e-9)


def test_arpack_matches_sklearn():
    X = _data(150, 20)
    ours = PCA(4, svd_solver="arpack", random_state=0).fit(X)
    theirs = skd.PCA(4, svd_solver="arpack", random_state=0).fit(X)
    _assert_fit_matches(ours, theirs, X, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("whiten", [False, True], ids=["plain", "whiten"])
def test_whitening_matches_sklearn_and_has_unit_variance(whiten):
    X = _data(300, 8)
    ours = PCA(4, whiten=whiten, svd_solver="full").fit(X)
    theirs = skd.PCA(4, whiten=whiten, svd_solver="full").fit(X)
    Z = ours.transform(X)
    np.testing.assert_allclose(Z, theirs.transform(X), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.inverse_transform(Z), theirs.inverse_transform(Z), rtol=1e-7)
    if whiten:
        np.testing.assert_allclose(Z.var(axis=0, ddof=1), 1.0, rtol=1e-10)
    np.testing.assert_allclose(ours.get_precision(), theirs.get_precision(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("shape, n_components", [
    ((1000, 10), None), ((100, 50), 5), ((501, 60), 10), ((501, 60), None),
    ((501, 60), 0.5),
], ids=["tall-cov", "small-full", "big-randomized", "big-all-full", "fraction-full"])
def test_auto_picks_the_solver_sklearn_picks(shape, n_components):
    X = np.random.default_rng(0).normal(size=shape)
    theirs = skd.PCA(n_components, random_state=0).fit(X)
    resolved = min(shape) if n_components is None else n_components
    assert choose_solver("auto", *shape, resolved) == theirs._fit_svd_solver
    assert PCA(n_components, random_state=0).fit(X).n_components_ == theirs.n_components_


def test_auto_with_mle_runs_an_exact_solver():
    # scikit-learn's rule, read from its code: fitting its MLE at 600 features takes a minute.
    assert choose_solver("auto", 700, 600, "mle") == "full"
    assert choose_solver("auto", 7000, 600, "mle") == "covariance_eigh"


def test_mle_finds_the_rank_of_a_low_rank_signal():
    X = _low_rank(rank=4)
    ours = PCA("mle").fit(X)
    assert ours.n_components_ == skd.PCA("mle").fit(X).n_components_ == 4
    np.testing.assert_allclose(ours.noise_variance_, skd.PCA("mle").fit(X).noise_variance_, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_minka_evidence_equals_sklearns(seed):
    """The vectorised double sum gives scikit-learn's _assess_dimension value at every rank,
    and the rank chosen from them is scikit-learn's."""
    spectrum = np.sort(np.random.default_rng(seed).gamma(1.0, size=9))[::-1].copy()
    for rank in range(1, 9):
        np.testing.assert_allclose(assess_dimension(spectrum, rank, 50),
                                   _assess_dimension(spectrum, rank, 50), rtol=1e-12)
    assert infer_dimension(spectrum, 50) == _infer_dimension(spectrum, 50)


def test_minka_ranks_splitting_tied_eigenvalues_are_not_chosen():
    """A tie makes a log(0) term (scikit-learn's math.log raises); every rank that
    includes the tied pair is ruled out, and the best remaining rank is chosen."""
    spectrum = np.array([5.0, 4.0, 4.0, 1.0, 0.5])
    assert np.isfinite(assess_dimension(spectrum, 1, 100))
    assert all(assess_dimension(spectrum, rank, 100) == -np.inf for rank in (2, 3, 4))
    assert infer_dimension(spectrum, 100) == 1


def test_svd_flip_makes_each_rows_largest_entry_positive():
    v = np.array([[0.1, -0.9, 0.2], [0.5, 0.3, -0.1]])
    u = np.array([[1.0, 2.0], [3.0, -4.0]])
    u2, v2 = svd_flip(u, v, u_based_decision=False)
    np.testing.assert_array_equal(v2, [[-0.1, 0.9, -0.2], [0.5, 0.3, -0.1]])
    np.testing.assert_array_equal(u2, [[-1.0, 2.0], [-3.0, -4.0]])
    u3, v3 = svd_flip(u, v, u_based_decision=True)
    np.testing.assert_array_equal(u3, [[1.0, -2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(v3, [[0.1, -0.9, 0.2], [-0.5, -0.3, 0.1]])


def test_copy_false_centres_x_in_place_with_the_same_result():
    X = _data(100, 6)
    expected = PCA(3, svd_solver="full").fit(X)
    mutable = X.copy()
    ours = PCA(3, svd_solver="full", copy=False).fit(mutable)
    np.testing.assert_allclose(ours.components_, expected.components_)
    np.testing.assert_allclose(mutable, X - X.mean(axis=0), atol=1e-12)
    readonly = X.copy()
    readonly.flags.writeable = False
    from_readonly = PCA(3, svd_solver="full", copy=False).fit(readonly)  # copied, not written
    np.testing.assert_array_equal(readonly, X)
    np.testing.assert_allclose(from_readonly.components_, expected.components_)


def test_precision_inverts_covariance():
    X = _data(200, 7)
    for n_components in (3, 7):
        pca = PCA(n_components, svd_solver="full").fit(X)
        np.testing.assert_allclose(pca.get_precision() @ pca.get_covariance(), np.eye(7), atol=1e-8)


def test_get_feature_names_out():
    pca = PCA(2).fit(_data(50, 4))
    assert list(pca.get_feature_names_out()) == ["pca0", "pca1"]


def test_integer_input_is_computed_in_float64():
    X = np.random.default_rng(0).integers(0, 10, size=(40, 5))
    pca = PCA(3).fit(X)
    assert pca.components_.dtype == np.float64
    np.testing.assert_allclose(pca.components_, skd.PCA(3).fit(X).components_, atol=1e-10)


# --------------------------------------------------------------------------
# Backends: outputs mirror the input, values match the NumPy run


@pytest.mark.parametrize("svd_solver", ["full", "covariance_eigh", "randomized", "arpack"])
def test_outputs_mirror_input_and_match_numpy(xp, dtype, svd_solver):
    X_np = _data(120, 10).astype(dtype)
    X = xp.asarray(X_np)
    params = dict(svd_solver=svd_solver, random_state=0, whiten=True)
    ours = PCA(4, **params).fit(X)
    reference = skd.PCA(4, **params).fit(X_np)
    # float32 work on another backend adds rounding of the order of sqrt(eps) * the spread.
    rtol = rtol_for(dtype)
    atol = 10 * rtol
    for name in ARRAY_ATTRIBUTES:
        value = getattr(ours, name)
        assert_same_kind(value, X)
        assert np.dtype(str(value.dtype).split(".")[-1]) == np.dtype(dtype), name
        np.testing.assert_allclose(to_numpy(value), getattr(reference, name), rtol=rtol,
                                   atol=atol, err_msg=name)
    # scikit-learn's types: noise_variance_ a NumPy scalar of X's dtype.
    assert isinstance(ours.n_components_, int)
    assert type(ours.noise_variance_) is type(reference.noise_variance_) is dtype
    for method in ("transform", "fit_transform", "score_samples"):
        out = getattr(PCA(4, **params).fit(X) if method != "fit_transform" else PCA(4, **params),
                      method)(X)
        assert_same_kind(out, X)
        np.testing.assert_allclose(to_numpy(out), getattr(reference, method)(X_np),
                                   rtol=rtol, atol=100 * atol if method == "score_samples" else atol,
                                   err_msg=method)
    back = ours.inverse_transform(ours.transform(X))
    assert_same_kind(back, X)
    assert tuple(back.shape) == X_np.shape
    for name in ("get_covariance", "get_precision"):
        assert_same_kind(getattr(ours, name)(), X)
    assert isinstance(ours.score(X), float)


def test_output_type_numpy_for_torch_input():
    torch = pytest.importorskip("torch")
    X = torch.asarray(_data(50, 5))
    pca = PCA(2, output_type="numpy").fit(X)
    assert isinstance(pca.components_, np.ndarray)
    assert isinstance(pca.transform(X), np.ndarray)
    assert backend.array_kind(PCA(2).fit(X).components_) == "torch"


# --------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("params, error, match", [
    (dict(n_components=-1), ValueError, "n_components"),
    (dict(n_components=1.5), ValueError, "n_components"),
    (dict(n_components="max"), ValueError, "n_components"),
    (dict(n_components=True), TypeError, "n_components"),
    (dict(n_components=20, svd_solver="full"), ValueError, "min\\(n_samples, n_features\\)=6"),
    (dict(n_components=6, svd_solver="arpack"), ValueError, "strictly less"),
    (dict(n_components=0.5, svd_solver="randomized"), ValueError, "between 1 and"),
    (dict(n_components="mle", svd_solver="randomized"), ValueError, "cannot be a string"),
    (dict(svd_solver="lapack"), ValueError, "svd_solver"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(iterated_power=-1), ValueError, "iterated_power"),
    (dict(n_oversamples=0), ValueError, "n_oversamples"),
    (dict(power_iteration_normalizer="qr"), ValueError, "power_iteration_normalizer"),
    (dict(whiten="yes"), TypeError, "whiten"),
], ids=lambda v: str(v) if not isinstance(v, dict) else ",".join(f"{k}={v[k]}" for k in v))
def test_bad_parameters_are_refused(params, error, match):
    with pytest.raises(error, match=match):
        PCA(**params).fit(_data(30, 6))


def test_bad_input_is_refused_and_leaves_the_fit_unchanged():
    pca = PCA(2).fit(_data(30, 6))
    before = pca.components_.copy()
    with pytest.raises(ValueError, match="NaN"):
        pca.fit(np.full((10, 6), np.nan))
    with pytest.raises(ValueError, match="minimum of 2"):
        pca.fit(np.ones((1, 6)))
    with pytest.raises(ValueError, match="n_samples >= n_features"):
        PCA("mle").fit(_data(5, 6))
    np.testing.assert_array_equal(pca.components_, before)
    with pytest.raises(ValueError, match="X has 5 features, but PCA is expecting 6"):
        pca.transform(np.ones((3, 5)))
    with pytest.raises(ValueError, match="expecting 2 features"):
        pca.inverse_transform(np.ones((3, 3)))


# --------------------------------------------------------------------------
# The "full" solver's host SVD (SciPy's gesdd on a scratch copy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_full_svd_leaves_x_alone_and_matches_numpy(dtype):
    X = _data(80, 9).astype(dtype)
    before = X.copy()
    Z = X - X.mean(axis=0)
    U, S, Vt = full_svd(Z.copy(), overwrite=True)
    assert U.dtype == S.dtype == Vt.dtype == dtype
    np.testing.assert_allclose(S, np.linalg.svd(Z, compute_uv=False), rtol=rtol_for(dtype))
    np.testing.assert_allclose((U * S) @ Vt, Z, atol=10 * rtol_for(dtype) * np.abs(Z).max())
    PCA(4, svd_solver="full").fit(X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("n_largest", [None, 2, 9], ids=["all", "subset-syevr", "most-syevd"])
def test_symmetric_eigh_gives_the_largest_pairs_in_decreasing_order(n_largest):
    A = np.random.default_rng(0).normal(size=(12, 12))
    C = A @ A.T
    values, vectors = symmetric_eigh(C, n_largest)
    expected = np.linalg.eigvalsh(C)[::-1][:n_largest or 12]
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    np.testing.assert_allclose(C @ vectors, vectors * values, atol=1e-10)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(len(expected)), atol=1e-12)


# --------------------------------------------------------------------------
# Sparse input: X stays sparse and gives the dense results

SPARSE_FORMATS = ["csr_matrix", "csc_matrix", "csr_array", "coo_matrix"]


def _sparse_data(n_samples=400, n_features=60, density=0.1, seed=0, dtype=np.float64):
    """Sparse non-negative rows with column scales spread over two decades (varied means)."""
    import scipy.sparse

    rng = np.random.default_rng(seed)
    X = scipy.sparse.random(n_samples, n_features, density=density, random_state=seed,
                            format="csr")
    X = X.multiply(rng.random(n_features) * 100).tocsr()
    return X.astype(dtype)


def _as_format(X, fmt):
    import scipy.sparse

    return getattr(scipy.sparse, fmt)(X)


def _assert_same_fit(ours, reference, rtol, atol):
    """Equal attributes; components compared up to the sign of each row."""
    assert ours.n_components_ == reference.n_components_
    a, b = to_numpy(ours.components_), to_numpy(reference.components_)
    signs = np.sign(np.sum(a * b, axis=1, keepdims=True))
    np.testing.assert_allclose(a * signs, b, rtol=rtol, atol=atol, err_msg="components_")
    for name in ("explained_variance_", "explained_variance_ratio_", "singular_values_", "mean_"):
        np.testing.assert_allclose(to_numpy(getattr(ours, name)), getattr(reference, name),
                                   rtol=rtol, atol=atol, err_msg=name)
    np.testing.assert_allclose(ours.noise_variance_, reference.noise_variance_, rtol=rtol)


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
@pytest.mark.parametrize("svd_solver", ["arpack", "covariance_eigh"])
def test_sparse_fit_equals_dense_fit_and_sklearn(svd_solver, fmt, dtype):
    X = _sparse_data(dtype=dtype)
    Xs = _as_format(X, fmt)
    params = dict(svd_solver=svd_solver, random_state=0)
    ours = PCA(8, **params).fit(Xs)
    assert ours.components_.dtype == dtype and isinstance(ours.components_, np.ndarray)
    # 1e-6 in float64 as asked; float32 carries its own rounding.
    rtol = 1e-6 if dtype == np.float64 else rtol_for(dtype)
    _assert_same_fit(ours, PCA(8, **params).fit(X.toarray()), rtol, atol=rtol * 1e-2)
    _assert_same_fit(ours, skd.PCA(8, **params).fit(Xs), rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("whiten", [False, True], ids=["plain", "whiten"])
@pytest.mark.parametrize("svd_solver", ["arpack", "covariance_eigh"])
def test_sparse_transform_fit_transform_and_inverse_equal_dense(svd_solver, whiten):
    X = _sparse_data(seed=1)
    new = _sparse_data(seed=2)
    params = dict(svd_solver=svd_solver, random_state=0, whiten=whiten)
    pca = PCA(5, **params).fit(X)
    theirs = skd.PCA(5, **params).fit(X)
    projected = pca.transform(new)
    assert isinstance(projected, np.ndarray) and projected.shape == (400, 5)
    np.testing.assert_allclose(projected, pca.transform(new.toarray()), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(projected, theirs.transform(new), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(PCA(5, **params).fit_transform(X), theirs.fit_transform(X),
                               rtol=1e-7, atol=1e-9)
    import scipy.sparse

    Z = scipy.sparse.random(30, 5, density=0.5, random_state=0, format="csr")
    np.testing.assert_allclose(pca.inverse_transform(Z), theirs.inverse_transform(Z.toarray()),
                               rtol=1e-9, atol=1e-9)


def test_auto_runs_arpack_on_sparse_with_one_component_fewer():
    X = _sparse_data(200, 30)
    ours = PCA(random_state=0).fit(X)
    theirs = skd.PCA(random_state=0).fit(X)
    assert ours._fit_svd_solver == theirs._fit_svd_solver == "arpack"
    assert ours.n_components_ == 29
    _assert_same_fit(ours, theirs, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("n_components", ["mle", 0.7, None], ids=["mle", "fraction", "none"])
def test_sparse_covariance_eigh_chooses_the_count_sklearn_does(n_components):
    X = _sparse_data(500, 20, density=0.3)
    ours = PCA(n_components, svd_solver="covariance_eigh").fit(X)
    theirs = skd.PCA(n_components, svd_solver="covariance_eigh").fit(X)
    _assert_same_fit(ours, theirs, rtol=1e-7, atol=1e-10)


def test_sparse_integers_are_computed_in_float64():
    X = _sparse_data(100, 12, density=0.3)
    X.data = np.ceil(X.data).astype(np.int64)
    pca = PCA(3, svd_solver="covariance_eigh").fit(X)
    assert pca.components_.dtype == np.float64
    _assert_same_fit(pca, skd.PCA(3, svd_solver="covariance_eigh").fit(X), rtol=1e-7, atol=1e-10)


def test_sparse_total_variance_has_no_cancellation():
    """Columns at 1e6 with a spread of 1: noise_variance_ comes from sum (x - mean)^2 terms."""
    import scipy.sparse

    rng = np.random.default_rng(0)
    dense = 1e6 + rng.normal(size=(300, 10)) * np.linspace(3, 1, 10)
    ours = PCA(2, svd_solver="arpack", random_state=0).fit(scipy.sparse.csr_matrix(dense))
    reference = skd.PCA(2, svd_solver="arpack", random_state=0).fit(dense)
    np.testing.assert_allclose(ours.noise_variance_, reference.noise_variance_, rtol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_ratio_,
                               reference.explained_variance_ratio_, rtol=1e-7)


@pytest.mark.parametrize("svd_solver", ["arpack", "covariance_eigh"])
def test_sparse_x_is_never_made_dense(svd_solver):
    """A matrix whose dense form would take gigabytes is fitted in a few megabytes."""
    import tracemalloc

    import scipy.sparse

    rng = np.random.default_rng(0)
    # arpack: 10^6 x 20,000 (160 GB dense); covariance_eigh: 10^6 x 300 (2.4 GB dense, and
    # a 300 x 300 covariance).
    n_samples, n_features = 1_000_000, 20_000 if svd_solver == "arpack" else 300
    nnz = 20_000
    rows = rng.integers(0, n_samples, nnz)
    cols = np.minimum(rng.geometric(0.2, nnz) - 1, n_features - 1)  # a few busy columns
    X = scipy.sparse.csr_matrix((rng.random(nnz) + 1.0, (rows, cols)),
                                shape=(n_samples, n_features))
    tracemalloc.start()
    try:
        pca = PCA(3, svd_solver=svd_solver, random_state=0).fit(X)
        projected = pca.transform(X[:1000])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200e6, f"peak {peak / 1e6:.0f} MB"
    assert projected.shape == (1000, 3) and np.all(np.isfinite(projected))
    assert np.all(np.isfinite(pca.components_)) and pca.explained_variance_[0] > 0


@pytest.mark.parametrize("svd_solver", ["full", "randomized"])
def test_sparse_with_a_dense_only_solver_is_refused_as_sklearn_does(svd_solver):
    X = _sparse_data(100, 20)
    message = ('PCA only support sparse inputs with the "arpack" and "covariance_eigh" '
               f'solvers, while "{svd_solver}" was passed')
    with pytest.raises(TypeError, match=message):
        skd.PCA(3, svd_solver=svd_solver).fit(X)
    with pytest.raises(TypeError, match=message):
        PCA(3, svd_solver=svd_solver).fit(X)


@pytest.mark.parametrize("value, kind", [(np.nan, "NaN"), (np.inf, "infinity")], ids=["nan", "inf"])
def test_sparse_nan_or_infinity_is_refused_in_the_dense_input_words(value, kind):
    bad = _sparse_data(100, 20)
    bad.data[0] = value
    with pytest.raises(ValueError, match=rf"^Input X contains {kind}\.$"):
        PCA(3, svd_solver="arpack").fit(bad)


def test_bad_sparse_input_is_refused_and_leaves_the_fit_unchanged():
    X = _sparse_data(100, 20)
    pca = PCA(3, svd_solver="arpack", random_state=0).fit(X)
    before = pca.components_.copy()
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pca.fit(bad)
    with pytest.raises(ValueError, match="strictly less"):
        PCA(20, svd_solver="arpack").fit(X)
    with pytest.raises(ValueError, match="X has 19 features, but PCA is expecting 20"):
        pca.transform(X[:, :19])
    with pytest.raises(TypeError, match="[Ss]parse"):
        pca.score_samples(X)  # scikit-learn's needs dense input too
    np.testing.assert_array_equal(pca.components_, before)


@pytest.mark.gpu
@pytest.mark.parametrize("svd_solver", ["arpack", "covariance_eigh"])
def test_cupyx_sparse_stays_on_the_gpu_and_equals_scipy(svd_solver):
    if not backend.gpu_available():
        pytest.skip("no CUDA GPU answers")
    import cupyx.scipy.sparse

    X = _sparse_data()
    Xg = cupyx.scipy.sparse.csr_matrix(X)
    ours = PCA(6, svd_solver=svd_solver, random_state=0).fit(Xg)
    assert backend.array_kind(ours.components_) == "cupy"
    _assert_same_fit(ours, PCA(6, svd_solver=svd_solver, random_state=0).fit(X),
                     rtol=1e-6, atol=1e-9)
    projected = ours.transform(Xg)
    assert backend.array_kind(projected) == "cupy"
    np.testing.assert_allclose(to_numpy(projected), to_numpy(ours.transform(X.toarray())),
                               rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------
# scikit-learn's estimator checks


ESTIMATORS = [
    PCA(),
    PCA(2, svd_solver="full", whiten=True),
    PCA(0.9, svd_solver="covariance_eigh"),
    PCA(2, svd_solver="randomized", random_state=0),
    PCA(1, svd_solver="arpack", random_state=0),
]


def _expected_failed(estimator):
    if estimator.svd_solver == "arpack":
        # scikit-learn's own arpack PCA fails it too: one feature leaves no
        # n_components strictly below min(n_samples, n_features) = 1.
        return {"check_fit2d_1feature": "arpack needs n_components < n_features; the error "
                                        "names n_components, not the feature count."}
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_arpack_on_constant_rows_fits_zero_variance_as_full(dtype, sparse):
    """Constant rows centre to the zero matrix, on which ARPACK (arpack-ng >= 3.6, SciPy 1.15)
    stops with "error -9: Starting vector is zero"; "arpack" raised it. It now fits what
    "full" fits there (zero variances, the unit vectors as components, a ratio of 0 / 0).
    scikit-learn 1.9.1 raises that error for np.ones, and fits float32 constant rows whose
    float32 mean leaves a rounding residue (tiled random rows) with zero variances."""
    import scipy.sparse

    X = np.ones((50, 10), dtype)
    fit_input = scipy.sparse.csr_matrix(X) if sparse else X
    ours = PCA(3, svd_solver="arpack", random_state=0).fit(fit_input)
    full = skd.PCA(3, svd_solver="full").fit(X)
    for name in ARRAY_ATTRIBUTES:
        np.testing.assert_array_equal(getattr(ours, name), getattr(full, name), err_msg=name)
    assert ours.noise_variance_ == full.noise_variance_ == 0.0
    np.testing.assert_array_equal(PCA(3, svd_solver="arpack", random_state=0)
                                  .fit_transform(fit_input), np.zeros((50, 3), dtype))
    tiled = np.tile(np.random.default_rng(0).normal(size=(1, 10)), (50, 1)).astype(dtype)
    theirs = skd.PCA(3, svd_solver="arpack", random_state=0).fit(tiled)
    ours = PCA(3, svd_solver="arpack", random_state=0).fit(tiled)
    np.testing.assert_allclose(ours.explained_variance_, theirs.explained_variance_, atol=1e-6)
    np.testing.assert_allclose(ours.mean_, theirs.mean_, rtol=1e-6)


def _type_of(value):
    """A fitted attribute's type, with the dtype of a NumPy array or scalar."""
    if isinstance(value, (np.ndarray, np.generic)):
        return type(value), value.dtype
    return type(value)


@pytest.mark.parametrize("params", [
    dict(n_components=3, svd_solver="full"), dict(n_components=3, svd_solver="arpack"),
    dict(n_components=3, svd_solver="randomized"),
    dict(n_components=3, svd_solver="covariance_eigh"),
    dict(n_components=6, svd_solver="full"),  # no components left: noise_variance_ 0.0
    dict(n_components="mle", svd_solver="full"),
    dict(n_components=0.8, svd_solver="covariance_eigh"),
    dict(n_components="mle", svd_solver="covariance_eigh"),
    dict(n_components=0.8, svd_solver="full"),
    dict(n_components=None, svd_solver="full"), dict(n_components=None, svd_solver="arpack"),
    dict(n_components=np.int64(3), svd_solver="full"),
], ids=["full", "arpack", "randomized", "covariance_eigh", "all-components", "mle", "fraction",
        "mle-covariance_eigh", "fraction-full", "none", "none-arpack", "numpy-int"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fitted_attribute_types_match_sklearn(dtype, params):
    """Every fitted attribute has scikit-learn's type and dtype: noise_variance_ was a Python
    float where scikit-learn gives X's dtype (numpy.float32 for float32 X), and keeps its
    Python 0.0 with no components left; n_components_ found by "mle" or a fraction was a
    Python int where scikit-learn gives a numpy.int64 (an int for an int or None, and the
    type given for a NumPy integer)."""
    X = _data(60, 6).astype(dtype)
    ours = PCA(**params, random_state=0).fit(X)
    theirs = skd.PCA(**params, random_state=0).fit(X)
    fitted = sorted(name for name in vars(theirs) if name.endswith("_") and name[0] != "_")
    assert "noise_variance_" in fitted and "singular_values_" in fitted
    assert ours.n_components_ == theirs.n_components_
    for name in fitted:
        assert _type_of(getattr(ours, name)) == _type_of(getattr(theirs, name)), name

