"""The dispatch table: every declared kernel has its implementations and a reference test,
and the one dispatcher converts in and out the same way for all of them."""

import importlib
from pathlib import Path

import numpy as np
import pytest

from gpucluster import kernels
from gpucluster.kernels import _dispatch

from .._helpers import assert_same_kind, to_numpy

TESTS = Path(__file__).parent
NAMES = sorted(kernels.KERNELS)


def test_every_public_kernel_is_declared():
    declared = {name for name in kernels.__all__ if name != "KERNELS"}
    assert declared == set(kernels.KERNELS)
    for name in declared:
        assert getattr(kernels, name).kernel is kernels.KERNELS[name]


@pytest.mark.parametrize("name", NAMES)
def test_declared_implementations_exist(name):
    spec = kernels.KERNELS[name]
    assert callable(spec.implementation("cpu"))
    if spec.cuda is not None:
        module_name, function = spec.cuda.rsplit(".", 1)
        # Import the module without calling anything: numba.cuda imports with no GPU.
        module = importlib.import_module(f"gpucluster.kernels.cuda.{module_name}")
        assert callable(getattr(module, function))


@pytest.mark.parametrize("name", NAMES)
def test_every_kernel_has_tests_of_its_own(name):
    """A test module of tests/kernels calls ``kernels.<name>(`` (against a NumPy or SciPy
    reference, or hand-computed values)."""
    callers = [p for p in TESTS.glob("test_*.py")
               if p.name != Path(__file__).name and f"kernels.{name}(" in p.read_text()]
    assert callers, f"no test module in {TESTS} calls kernels.{name}("


def test_results_follow_the_first_array(xp):
    X = xp.asarray(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]))
    centers = np.array([[0.0, 0.0], [5.0, 5.0]])  # NumPy beside any host X is fine
    if xp.device != "cpu":  # beside device memory, the centres must be there too
        centers = xp.asarray(centers)
    labels, distances = kernels.assign(X, centers)
    assert_same_kind(labels, X)
    assert_same_kind(distances, X)
    assert to_numpy(labels).tolist() == [0, 0, 1]


class _FakeCudaArray:
    """Looks like device memory to the dispatcher; never read."""

    shape = (3, 2)
    dtype = np.dtype(np.float32)
    ndim = 2
    __cuda_array_interface__ = {"shape": (3, 2), "typestr": "<f4", "data": (0, False),
                                "version": 3}


def test_arrays_on_two_sides_are_refused_before_any_copy():
    X = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"centers \(cuda\) and X \(cpu\) must be on the same"):
        kernels.assign(X, _FakeCudaArray())


def test_in_place_arguments_are_never_copied():
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    closest = np.full(4, np.inf)
    x_sq = (X * X).sum(axis=1)
    strided_out = np.zeros((2, 8))[:, ::2]
    with pytest.raises(TypeError, match="out must be writable and C-contiguous"):
        kernels.seeding_potentials(X, x_sq, X[:2], closest, out=strided_out)
    frozen = np.zeros((2, 4))
    frozen.flags.writeable = False
    with pytest.raises(TypeError, match="out must be writable and C-contiguous"):
        kernels.seeding_potentials(X, x_sq, X[:2], closest, out=frozen)
    out = np.zeros((2, 4))
    kernels.seeding_potentials(X, x_sq, X[:2], closest, out=out)
    np.testing.assert_allclose(out[0], ((X - X[0]) ** 2).sum(axis=1))


def test_a_kernel_without_an_array_is_refused():
    @_dispatch.kernel(cpu="union_find.connected_components", cuda=None)
    def no_arrays(n):
        return n, None, None

    with pytest.raises(TypeError, match="at least one array"):
        no_arrays(3)
    del _dispatch.KERNELS["no_arrays"]
