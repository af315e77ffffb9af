"""The estimators that joined the search after the first wave: each is tried in the
modes it belongs to, fits the data it is registered for, and finds labelled groups."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gpucluster.auto import search
from gpucluster.auto.candidates import algorithm_names


@pytest.fixture(scope="module")
def blobs():
    X, truth = make_blobs(n_samples=600, n_features=24, centers=5, cluster_std=1.0,
                          random_state=3)
    return X.astype(np.float32), truth


def _ok(result, name):
    return [c for c in result.candidates if c["algorithm"] == name and c["status"] == "ok"]


def test_gaussian_mixture_is_registered_and_finds_the_groups(blobs):
    X, truth = blobs
    assert "gaussian_mixture" in algorithm_names()
    result = search(X, algorithms=["gaussian_mixture"], mode="balanced", labels=truth,
                    random_state=0, progress=False)
    ok = _ok(result, "gaussian_mixture")
    assert ok, [c.get("error") for c in result.candidates]
    assert {c["params"]["covariance_type"] for c in ok} == {"diag"}
    assert max(c["scores"]["ARI"] for c in ok) >= 0.99


def test_gaussian_mixture_thorough_adds_full_covariances_and_fast_skips_it(blobs):
    X, truth = blobs
    thorough = search(X, algorithms=["gaussian_mixture"], mode="thorough", random_state=0,
                      progress=False, max_clusters=8)
    assert {c["params"]["covariance_type"] for c in _ok(thorough, "gaussian_mixture")} == {
        "diag", "full"}
    fast = search(X, algorithms=["gaussian_mixture", "kmeans"], mode="fast", random_state=0,
                  progress=False)
    assert not [c for c in fast.candidates if c["algorithm"] == "gaussian_mixture"]


def test_spectral_is_tried_in_thorough_mode_only_and_finds_the_groups(blobs):
    X, truth = blobs
    assert "spectral" in algorithm_names()
    thorough = search(X, algorithms=["spectral"], mode="thorough", labels=truth, random_state=0,
                      progress=False, max_clusters=8)
    ok = _ok(thorough, "spectral")
    assert ok, [c.get("error") for c in thorough.candidates]
    assert {c["params"]["affinity"] for c in ok} == {"nearest_neighbors"}
    assert max(c["scores"]["ARI"] for c in ok) >= 0.99
    balanced = search(X, algorithms=["spectral", "kmeans"], mode="balanced", random_state=0,
                      progress=False)
    assert not [c for c in balanced.candidates if c["algorithm"] == "spectral"]


@pytest.mark.parametrize("name", ["birch", "meanshift", "affinity_propagation"])
def test_thorough_mode_tries_the_other_estimators_and_they_find_the_groups(blobs, name):
    X, truth = blobs
    assert name in algorithm_names()
    thorough = search(X, algorithms=[name], mode="thorough", labels=truth, random_state=0,
                      progress=False, max_clusters=8)
    ok = _ok(thorough, name)
    assert ok, [c.get("error") for c in thorough.candidates]
    assert max(c["scores"]["ARI"] for c in ok) >= 0.95
    balanced = search(X, algorithms=[name, "kmeans"], mode="balanced", random_state=0,
                      progress=False)
    assert not [c for c in balanced.candidates if c["algorithm"] == name]


def test_birch_and_meanshift_radii_follow_the_scale_of_cosine_rows_far_from_the_origin():
    """Cosine working rows of float32 blobs at 1e6 are 2e-7 from their 10th neighbour: an
    absolute floor of 1e-6 on Birch's threshold and MeanShift's bandwidth put every row
    in one cluster (ARI 0 for every candidate). Relative to the data's scale, the radii
    stay the neighbour distances and the groups are found."""
    X, truth = make_blobs(n_samples=400, n_features=8, centers=4, cluster_std=0.25,
                          center_box=(-2.0, 2.0), random_state=3)
    X = (X + 1e6).astype(np.float32)
    result = search(X, algorithms=["birch", "meanshift"], metric="cosine", mode="thorough",
                    labels=truth, random_state=0, progress=False, max_clusters=8)
    for name, radius in [("birch", "threshold"), ("meanshift", "bandwidth")]:
        ok = _ok(result, name)
        assert ok, [c.get("error") for c in result.candidates]
        assert all(c["params"][radius] < 1e-6 for c in ok), [c["params"] for c in ok]
        assert max(c["scores"]["ARI"] for c in ok) >= 0.95, name
