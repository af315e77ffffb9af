"""SpectralClustering: parity with scikit-learn (labels, affinities, the embedding's eigenvalues),
every eigensolver and label assignment, precomputed inputs, backends, and errors."""

import sys
import types
import warnings

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg
from scipy.linalg import eigh
from scipy.sparse.csgraph import laplacian as csgraph_laplacian
from sklearn import cluster as sk_cluster
from sklearn.datasets import make_circles, make_moons
from sklearn.manifold import spectral_embedding as sk_spectral_embedding
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.neighbors import kneighbors_graph
from sklearn.utils.estimator_checks import parametrize_with_checks

from gpucluster import config_context
from gpucluster import _eigen
from gpucluster.cluster import _spectral_embedding
from gpucluster.cluster._spectral_embedding import graph_components, spectral_embedding
from gpucluster.cluster.spectral import (
    SpectralClustering,
    cluster_qr,
    discretize,
    spectral_clustering,
)

from .._helpers import assert_same_kind, labels_agree, make_blobs_np, to_numpy

# Most data sets here have well-separated groups, whose kNN graphs fall apart into
# components: the warning is asserted where it matters, silenced elsewhere.
pytestmark = pytest.mark.filterwarnings("ignore:Graph is not fully connected")

# 400 rows: above the dense-eigh limit (256), so the Krylov solvers run.
N = 400


def datasets():
    """Moons, circles and blobs, each with an RBF gamma that separates its groups."""
    moons = make_moons(N, noise=0.05, random_state=0)
    circles = make_circles(N, noise=0.04, factor=0.4, random_state=0)
    blobs = make_blobs_np(N, 4, centers=4, seed=0, cluster_std=1.5)
    return {"moons": (moons, 2, 30.0), "circles": (circles, 2, 30.0), "blobs": (blobs, 4, 0.3)}


DATASETS = datasets()


def fit_both(X, n_clusters, **params):
    """Our labels and scikit-learn's for the same parameters (warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = SpectralClustering(n_clusters, random_state=0, **params).fit(X)
        ref = sk_cluster.SpectralClustering(n_clusters, random_state=0, **params).fit(X)
    return ours, ref


def reference_eigenvalues(A, k):
    """The k smallest eigenvalues of scikit-learn's Laplacian (normed, diagonal set to 1),
    by a dense eigh of the whole matrix."""
    L = csgraph_laplacian(A, normed=True)
    L = L.toarray() if scipy.sparse.issparse(L) else np.array(L)
    np.fill_diagonal(L, 1.0)
    return eigh(L, eigvals_only=True, subset_by_index=[0, k - 1])


def knn_affinity(X, n_neighbors=10):
    C = kneighbors_graph(X, n_neighbors, include_self=True)
    return (0.5 * (C + C.T)).tocsr()


# --------------------------------------------------------------------------
# Parity with scikit-learn


@pytest.mark.parametrize("affinity", ["rbf", "nearest_neighbors"])
@pytest.mark.parametrize("name", list(DATASETS))
def test_labels_match_sklearn(name, affinity):
    """ARI >= 0.99 against scikit-learn's SpectralClustering with the same affinity."""
    (X, y), k, gamma = DATASETS[name]
    ours, ref = fit_both(X, k, affinity=affinity, gamma=gamma)
    ari = labels_agree(ours.labels_, ref.labels_)
    assert ari >= 0.99, f"{name} {affinity}: ARI {ari:.4f} against scikit-learn"
    assert labels_agree(ours.labels_, y) >= 0.95, f"{name} {affinity}: groups not found"
    assert ours.labels_.dtype == np.int32 and ours.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("assign_labels", ["kmeans", "discretize", "cluster_qr"])
@pytest.mark.parametrize("affinity", ["rbf", "nearest_neighbors"])
def test_every_assign_labels_matches_sklearn(assign_labels, affinity):
    (X, _), k, gamma = DATASETS["blobs"]
    ours, ref = fit_both(X, k, affinity=affinity, gamma=gamma, assign_labels=assign_labels)
    assert labels_agree(ours.labels_, ref.labels_) >= 0.99


def test_affinity_matrices_equal_sklearns():
    (X, _), k, gamma = DATASETS["moons"]
    ours, ref = fit_both(X, k, affinity="rbf", gamma=gamma)
    np.testing.assert_allclose(ours.affinity_matrix_, ref.affinity_matrix_, rtol=1e-10,
                               atol=1e-12)
    ours, ref = fit_both(X, k, affinity="nearest_neighbors", n_neighbors=7)
    assert scipy.sparse.issparse(ours.affinity_matrix_)
    assert abs(ours.affinity_matrix_ - ref.affinity_matrix_).max() == 0.0


@pytest.mark.parametrize("solver", ["arpack", "lobpcg", "dense"])
@pytest.mark.parametrize("graph", ["rbf", "knn", "knn-disconnected"])
def test_embedding_eigenvalues_match_scipy(solver, graph, monkeypatch):
    """The embedding's eigenvalues agree with a dense eigh of scikit-learn's Laplacian to
    1e-5, its vectors are eigenvectors of L (u = x / d), and every solver finds them."""
    if solver == "dense":
        monkeypatch.setattr(_spectral_embedding, "DENSE_EIGH_MAX_ROWS", 10**6)
    (X, _), _, gamma = DATASETS["blobs" if graph == "knn-disconnected" else "moons"]
    A = rbf_kernel(X, gamma=gamma) if graph == "rbf" else knn_affinity(X)
    k = 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        U, values = spectral_embedding(A, k, eigen_solver=None if solver == "dense" else solver,
                                       random_state=np.random.RandomState(0))
    expected = reference_eigenvalues(A, k)
    np.testing.assert_allclose(values, expected, atol=1e-5)
    # x = d u must satisfy L x = mu x.
    L = csgraph_laplacian(A, normed=True)
    L = L.toarray() if scipy.sparse.issparse(L) else np.array(L)
    np.fill_diagonal(L, 1.0)
    degree = np.asarray(A.sum(axis=1)).ravel() - A.diagonal()
    x = U * np.sqrt(degree)[:, None]
    x /= np.linalg.norm(x, axis=0)
    np.testing.assert_allclose(L @ x, x * values[None, :], atol=1e-5)


def test_embedding_equals_sklearns_on_a_connected_graph():
    """Distinct eigenvalues: the same vectors as scikit-learn's, signs included."""
    (X, _), _, _ = DATASETS["moons"]
    A = knn_affinity(X, 15)
    assert graph_components(A)[1] == 1
    ours, _ = spectral_embedding(A, 4, random_state=np.random.RandomState(0))
    ref = sk_spectral_embedding(A, n_components=4, drop_first=False, random_state=0)
    np.testing.assert_allclose(ours, ref, atol=1e-6 * np.abs(ref).max())


def test_disconnected_graph_warns_and_embeds_its_components():
    """Four separate blobs: the null space is the component indicators, taken exactly."""
    (X, y), k, _ = DATASETS["blobs"]
    X = X + 40 * y[:, None]  # far apart: one component per blob
    with pytest.warns(UserWarning, match="not fully connected"):
        est = SpectralClustering(k, affinity="nearest_neighbors", random_state=0).fit(X)
    assert labels_agree(est.labels_, y) == 1.0
    with pytest.warns(UserWarning, match="not fully connected"):
        U, values = spectral_embedding(knn_affinity(X), 2, random_state=np.random.RandomState(0))
    np.testing.assert_array_equal(values, [0.0, 0.0])
    # More components than eigenvectors: each column is constant on a component.
    for column in U.T:
        for c in range(k):
            assert np.ptp(column[y == c]) < 1e-12


# --------------------------------------------------------------------------
# Label assignment against scikit-learn's functions


def test_discretize_and_cluster_qr_equal_sklearns():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 5))
    vectors = centres[rng.integers(0, 5, 300)] + 0.3 * rng.normal(size=(300, 5))
    np.testing.assert_array_equal(discretize(vectors, random_state=3),
                                  sk_cluster._spectral.discretize(vectors, random_state=3))
    np.testing.assert_array_equal(cluster_qr(vectors), sk_cluster._spectral.cluster_qr(vectors))


# --------------------------------------------------------------------------
# Precomputed inputs


def test_precomputed_affinity_dense_and_sparse():
    (X, y), k, gamma = DATASETS["circles"]
    A = rbf_kernel(X, gamma=gamma)
    rbf = SpectralClustering(k, gamma=gamma, random_state=0).fit(X)
    pre = SpectralClustering(k, affinity="precomputed", random_state=0).fit(A)
    assert labels_agree(pre.labels_, rbf.labels_) == 1.0
    assert pre.affinity_matrix_ is not None and np.array_equal(pre.affinity_matrix_, A)
    G = knn_affinity(X)
    nn = SpectralClustering(k, affinity="nearest_neighbors", random_state=0).fit(X)
    sparse = SpectralClustering(k, affinity="precomputed", random_state=0).fit(G)
    assert labels_agree(sparse.labels_, nn.labels_) == 1.0
    assert labels_agree(spectral_clustering(G, n_clusters=k, random_state=0), y) >= 0.99


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_precomputed_nearest_neighbors_matches_sklearn(kind):
    (X, _), k, _ = DATASETS["moons"]
    D = (kneighbors_graph(X, 15, mode="distance") if kind == "sparse"
         else np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)))
    ours, ref = fit_both(D, k, affinity="precomputed_nearest_neighbors", n_neighbors=8)
    assert abs(ours.affinity_matrix_ - ref.affinity_matrix_).max() == 0.0
    assert labels_agree(ours.labels_, ref.labels_) >= 0.99


def test_asymmetric_precomputed_affinity_is_symmetrised_with_a_warning():
    (X, _), k, gamma = DATASETS["moons"]
    A = rbf_kernel(X, gamma=gamma)
    skew = A.copy()
    skew[0, 1] += 0.5
    with pytest.warns(UserWarning, match="not symmetric"):
        est = SpectralClustering(k, affinity="precomputed", random_state=0).fit(skew)
    ref = SpectralClustering(k, affinity="precomputed", random_state=0).fit(
        0.5 * (skew + skew.T))
    assert labels_agree(est.labels_, ref.labels_) == 1.0
    np.testing.assert_array_equal(est.affinity_matrix_, skew)  # kept as given


def test_other_kernels_go_through_sklearn():
    (X, _), k, _ = DATASETS["blobs"]
    ours, ref = fit_both(X - X.min(), k, affinity="laplacian", gamma=0.2)
    np.testing.assert_allclose(ours.affinity_matrix_, ref.affinity_matrix_)
    assert labels_agree(ours.labels_, ref.labels_) >= 0.99
    with pytest.raises(ValueError, match="negative affinities"):
        SpectralClustering(k, affinity="linear").fit(X - X.mean(axis=0))


# --------------------------------------------------------------------------
# Solvers


def test_arpack_failure_falls_back_to_lobpcg(monkeypatch):
    def fail(*args, **kwargs):
        raise scipy.sparse.linalg.ArpackNoConvergence("no convergence", [], [])

    monkeypatch.setattr(_eigen, "eigsh_largest", fail)
    (X, _), _, _ = DATASETS["moons"]
    A = knn_affinity(X, 15)
    with pytest.warns(RuntimeWarning, match="falling back to LOBPCG"):
        _, values = spectral_embedding(A, 4, random_state=np.random.RandomState(0))
    np.testing.assert_allclose(values, reference_eigenvalues(A, 4), atol=1e-5)


def test_amg_needs_pyamg():
    if _eigen.amg_available():
        pytest.skip("pyamg is installed")
    with pytest.raises(ValueError, match="pyamg is not available"):
        SpectralClustering(2, eigen_solver="amg").fit(DATASETS["moons"][0][0])


def test_amg_runs_lobpcg_with_the_preconditioner(monkeypatch):
    """A stand-in pyamg (a Jacobi preconditioner): "amg" builds it from the explicit
    Laplacian and finds the same eigenvalues; small or dense graphs fall back to ARPACK."""
    built = []

    def smoothed_aggregation_solver(L):
        built.append(L)
        inverse = 1.0 / L.diagonal()

        def jacobi(V):
            return inverse.reshape((-1,) + (1,) * (V.ndim - 1)) * V

        operator = scipy.sparse.linalg.LinearOperator(L.shape, matvec=jacobi, matmat=jacobi,
                                                      dtype=np.float64)
        return types.SimpleNamespace(aspreconditioner=lambda: operator)

    fake = types.ModuleType("pyamg")
    fake.smoothed_aggregation_solver = smoothed_aggregation_solver
    monkeypatch.setitem(sys.modules, "pyamg", fake)
    (X, _), _, gamma = DATASETS["moons"]
    A = knn_affinity(X)
    U, values = spectral_embedding(A, 4, eigen_solver="amg", random_state=np.random.RandomState(0))
    np.testing.assert_allclose(values, reference_eigenvalues(A, 4), atol=1e-5)
    assert len(built) == 1 and np.allclose(built[0].diagonal(), 1 + 1e-5)
    with pytest.warns(RuntimeWarning, match="dense matrices"):
        spectral_embedding(rbf_kernel(X, gamma=gamma), 4, eigen_solver="amg",
                           random_state=np.random.RandomState(0))
    with pytest.warns(RuntimeWarning, match="small graphs"):
        spectral_embedding(knn_affinity(X[:30], 5), 8, eigen_solver="amg",
                           random_state=np.random.RandomState(0))


# --------------------------------------------------------------------------
# Backends


@pytest.mark.parametrize("affinity", ["rbf", "nearest_neighbors"])
def test_backends_mirror_input_and_agree(xp, dtype, affinity):
    X_np, _ = make_blobs_np(120, 3, centers=3, seed=2, cluster_std=0.8, dtype=dtype)
    X = xp.asarray(X_np)
    est = SpectralClustering(3, affinity=affinity, gamma=0.5, random_state=0).fit(X)
    ref = SpectralClustering(3, affinity=affinity, gamma=0.5, random_state=0).fit(X_np)
    assert_same_kind(est.labels_, X)
    assert str(est.labels_.dtype).endswith("int32")
    assert labels_agree(est.labels_, ref.labels_) == 1.0
    if affinity == "rbf":
        assert_same_kind(est.affinity_matrix_, X)
        np.testing.assert_allclose(to_numpy(est.affinity_matrix_), ref.affinity_matrix_,
                                   rtol=1e-5)
    assert est.fit_predict(X).shape == (120,)


def test_precomputed_backends_mirror_input(xp):
    X_np, _ = make_blobs_np(120, 3, centers=3, seed=2, cluster_std=0.8)
    A_np = rbf_kernel(X_np, gamma=0.5)
    A = xp.asarray(A_np)
    est = SpectralClustering(3, affinity="precomputed", random_state=0).fit(A)
    ref = SpectralClustering(3, affinity="precomputed", random_state=0).fit(A_np)
    assert_same_kind(est.labels_, A)
    assert_same_kind(est.affinity_matrix_, A)
    assert labels_agree(est.labels_, ref.labels_) == 1.0
    labels = spectral_clustering(A, n_clusters=3, random_state=0)
    assert_same_kind(labels, A)
    assert labels_agree(labels, ref.labels_) == 1.0


@pytest.mark.gpu
@pytest.mark.parametrize("solver", ["arpack", "lobpcg"])
def test_cuda_matches_cpu(solver):
    (X, _), k, gamma = DATASETS["moons"]
    for affinity in ("rbf", "nearest_neighbors"):
        cpu = SpectralClustering(k, affinity=affinity, gamma=gamma, eigen_solver=solver,
                                 random_state=0, device="cpu").fit(X)
        gpu = SpectralClustering(k, affinity=affinity, gamma=gamma, eigen_solver=solver,
                                 random_state=0, device="cuda").fit(X)
        assert labels_agree(gpu.labels_, cpu.labels_) >= 0.99


# --------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("params, error, match", [
    ({"n_clusters": 0}, ValueError, "n_clusters"),
    ({"affinity": "euclid"}, ValueError, "affinity"),
    ({"assign_labels": "qr"}, ValueError, "assign_labels"),
    ({"eigen_solver": "eig"}, ValueError, "eigen_solver"),
    ({"eigen_tol": -1.0}, ValueError, "eigen_tol"),
    ({"n_init": 0}, ValueError, "n_init"),
    ({"gamma": -0.1}, ValueError, "gamma"),
    ({"n_neighbors": 500, "affinity": "nearest_neighbors"}, ValueError, "n_neighbors"),
    ({"n_components": 500}, ValueError, "n_components"),
    ({"n_clusters": 500}, ValueError, "n_clusters"),
    ({"kernel_params": [1]}, TypeError, "kernel_params"),
])
def test_bad_parameters_raise_and_leave_the_estimator_unchanged(params, error, match):
    X = DATASETS["moons"][0][0]
    est = SpectralClustering(2, random_state=0).fit(X)
    labels = est.labels_.copy()
    with pytest.raises(error, match=match):
        est.set_params(**params).fit(X)
    np.testing.assert_array_equal(est.labels_, labels)


def test_bad_input_raises():
    X = DATASETS["moons"][0][0]
    with pytest.raises(ValueError, match="NaN"):
        SpectralClustering(2).fit(np.where(np.eye(len(X), 2) > 0, np.nan, X))
    with pytest.raises(ValueError, match="minimum of 2"):
        SpectralClustering(1).fit(X[:1])
    with pytest.raises(TypeError, match="Sparse"):
        SpectralClustering(2).fit(scipy.sparse.csr_matrix(X))
    with pytest.raises(ValueError, match="square"):
        SpectralClustering(2, affinity="precomputed").fit(X)
    with pytest.raises(ValueError, match="negative"):
        SpectralClustering(2, affinity="precomputed").fit(-rbf_kernel(X))
    with pytest.raises(ValueError, match="Negative values"):
        SpectralClustering(2, affinity="precomputed_nearest_neighbors").fit(-rbf_kernel(X))
    with pytest.raises(ValueError, match="neighbors per samples are required"):
        SpectralClustering(2, affinity="precomputed_nearest_neighbors", n_neighbors=20).fit(
            kneighbors_graph(X, 5, mode="distance"))
    with pytest.warns(UserWarning, match="affinity=precomputed"):
        SpectralClustering(2, random_state=0).fit(rbf_kernel(X[:50]))


def test_dense_affinity_above_the_budget_is_refused_clearly():
    X = DATASETS["moons"][0][0]
    with config_context(memory_budget=N * N * 8 - 1):
        with pytest.raises(MemoryError, match="affinity='nearest_neighbors'"):
            SpectralClustering(2).fit(X)
        # The sparse graph needs no (n, n) matrix.
        SpectralClustering(2, affinity="nearest_neighbors", random_state=0).fit(X)


def test_verbose_reports_the_assignment(capsys):
    SpectralClustering(2, verbose=True, assign_labels="cluster_qr").fit(DATASETS["moons"][0][0])
    assert "cluster_qr" in capsys.readouterr().out


# --------------------------------------------------------------------------
# scikit-learn's estimator checks

# scikit-learn's checks hand a pairwise estimator X @ X.T (a linear kernel, with negative
# entries) as its "precomputed" affinity; gpucluster refuses negative affinities, which
# would take square roots of negative degrees.
NEGATIVE_KERNEL = "the checks' precomputed affinity X @ X.T has negative entries"
PRECOMPUTED_EXPECTED_FAILED = {name: NEGATIVE_KERNEL for name in (
    "check_estimators_fit_returns_self", "check_readonly_memmap_input",
    "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit",
    "check_clustering", "check_clustering(readonly_memmap=True)")}


def expected_failed(estimator):
    return PRECOMPUTED_EXPECTED_FAILED if estimator.affinity == "precomputed" else {}


@parametrize_with_checks([
    SpectralClustering(n_clusters=3, random_state=0),
    SpectralClustering(n_clusters=3, affinity="nearest_neighbors", n_neighbors=5, random_state=0),
    SpectralClustering(n_clusters=3, affinity="precomputed", random_state=0),
], expected_failed_checks=expected_failed)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)
