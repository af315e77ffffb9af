"""Torch tensors with ``requires_grad`` are clustered like any tensor, on the CPU and on CUDA.

Clustering is no differentiable step: inputs are detached where they are
viewed, so no autograd graph is built, no result carries one, and nothing
warns about converting a tensor that requires grad.
"""

import warnings

import numpy as np
import pytest

from gpucluster import DBSCAN, HDBSCAN, KMeans, kernels

from ._helpers import make_blobs_np

torch = pytest.importorskip("torch")

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]

ESTIMATORS = [
    lambda device: KMeans(3, n_init=2, random_state=0, device=device),
    lambda device: DBSCAN(eps=1.5, min_samples=5, device=device),
    lambda device: HDBSCAN(min_cluster_size=10, device=device),
]


def _data(device):
    X, _ = make_blobs_np(150, 4, centers=3, dtype=np.float32, seed=1)
    plain = torch.from_numpy(X).to(device)
    return plain, plain.clone().requires_grad_()


def _grad_warnings(caught):
    return [str(w.message) for w in caught if "requires_grad" in str(w.message)]


def _outputs(estimator):
    return {name: value for name, value in vars(estimator).items()
            if name.endswith("_") and isinstance(value, torch.Tensor)}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("make", ESTIMATORS, ids=["KMeans", "DBSCAN", "HDBSCAN"])
def test_estimators_fit_requires_grad_tensors(make, device):
    plain, X = _data(device)
    expected = make(device).fit(plain)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = make(device).fit(X)
    assert _grad_warnings(caught) == []
    outputs = _outputs(fitted)
    assert "labels_" in outputs
    for name, value in outputs.items():
        assert not value.requires_grad, name
        assert value.device.type == device, name
        np.testing.assert_array_equal(value.cpu().numpy(), getattr(expected, name).cpu().numpy())
    assert X.grad is None and X.grad_fn is None


@pytest.mark.parametrize("device", DEVICES)
def test_kernels_take_requires_grad_tensors(device):
    plain, X = _data(device)
    centers = plain[:3].clone().requires_grad_()
    calls = [
        lambda A, C: kernels.assign(A, C),
        lambda A, C: kernels.knn(A, 4),
        lambda A, C: kernels.radius_neighbors(A, 1.5),
    ]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = call(X, centers)
        assert _grad_warnings(caught) == []
        want = call(plain, plain[:3])
        for g, w in zip(got, want):
            assert isinstance(g, torch.Tensor) and not g.requires_grad
            assert g.device.type == device
            np.testing.assert_array_equal(g.cpu().numpy(), w.cpu().numpy())
