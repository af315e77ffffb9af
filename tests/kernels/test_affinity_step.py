"""kernels.affinity_step against scikit-learn's iteration written out in NumPy: equal to the bit
on random messages, on every host backend and for the CUDA implementation's array code."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster import kernels
from gpucluster.backend import to_numpy
from gpucluster.kernels.cuda import affinity as cuda_affinity


def reference_step(S, A, R, damping):
    """scikit-learn's loop body (sklearn/cluster/_affinity_propagation.py), in place."""
    n = S.shape[0]
    ind = np.arange(n)
    tmp = np.add(A, S)
    best_at = np.argmax(tmp, axis=1)
    best = tmp[ind, best_at]
    tmp[ind, best_at] = -np.inf
    second = np.max(tmp, axis=1)
    np.subtract(S, best[:, None], tmp)
    tmp[ind, best_at] = S[ind, best_at] - second
    tmp *= 1 - damping
    R *= damping
    R += tmp
    np.maximum(R, 0, tmp)
    tmp.flat[:: n + 1] = R.flat[:: n + 1]
    tmp -= np.sum(tmp, axis=0)
    diagonal = np.diag(tmp).copy()
    tmp.clip(0, np.inf, tmp)
    tmp.flat[:: n + 1] = diagonal
    tmp *= 1 - damping
    A *= damping
    A -= tmp
    return (np.diag(A) + np.diag(R)) > 0


def messages(n, seed, ties):
    rng = np.random.default_rng(seed)
    S = -rng.uniform(0, 10, (n, n))
    if ties:  # equal maxima in a row: the first must stay the argmax
        S = np.round(S)
    np.fill_diagonal(S, np.median(S))
    return S, rng.normal(0, 1, (n, n)), rng.normal(0, 1, (n, n))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # n=1: inf - inf, as scikit-learn
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 2**32 - 1), ties=st.booleans(),
       damping=st.sampled_from([0.5, 0.7, 0.9]))
def test_step_equals_scikit_learns_iteration_to_the_bit(n, seed, ties, damping):
    S, A, R = messages(n, seed, ties)
    A_ref, R_ref = A.copy(), R.copy()
    for _ in range(3):  # the state carries over between iterations
        exemplars = kernels.affinity_step(S, A, R, damping)
        expected = reference_step(S, A_ref, R_ref, damping)
        np.testing.assert_array_equal(A, A_ref)
        np.testing.assert_array_equal(R, R_ref)
        np.testing.assert_array_equal(exemplars, expected)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("n", [1, 7, 300])
def test_cuda_implementation_is_the_same_iteration(n):
    S, A, R = messages(n, 5, ties=True)
    A_ref, R_ref = A.copy(), R.copy()
    expected = reference_step(S, A_ref, R_ref, 0.6)
    exemplars = cuda_affinity.affinity_step(S, A, R, 0.6)
    np.testing.assert_array_equal(A, A_ref)
    np.testing.assert_array_equal(R, R_ref)
    np.testing.assert_array_equal(exemplars, expected)


def test_every_backend_updates_in_place(xp):
    S, A, R = messages(12, 1, ties=False)
    A_ref, R_ref = A.copy(), R.copy()
    expected = reference_step(S, A_ref, R_ref, 0.5)
    As, Rs = xp.asarray(A), xp.asarray(R)
    exemplars = kernels.affinity_step(xp.asarray(S), As, Rs, 0.5)
    np.testing.assert_array_equal(to_numpy(As), A_ref)
    np.testing.assert_array_equal(to_numpy(Rs), R_ref)
    np.testing.assert_array_equal(to_numpy(exemplars), expected)


def test_bad_shapes_and_dtypes_are_refused():
    S, A, R = messages(5, 0, ties=False)
    with pytest.raises(ValueError, match="A must have shape"):
        kernels.affinity_step(S, A[:4], R, 0.5)
    with pytest.raises(TypeError, match="float64"):
        kernels.affinity_step(S, A, R.astype(np.float32), 0.5)
