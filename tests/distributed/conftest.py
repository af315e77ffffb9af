"""A Dask LocalCluster of two worker processes for the estimator and metric tests, and a
small image folder for the commands that embed on a cluster.

One cluster serves the session (each worker process takes seconds to import
gpucluster); each test runs with its client as the current scheduler, so
tests elsewhere that compute with Dask are not sent to it.
"""

import pytest

from ..embed.imagegen import write_image_set


@pytest.fixture(scope="session")
def _dask_cluster_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client
    cluster.close()


@pytest.fixture
def dask_client(_dask_cluster_client):
    """The session's client of two worker processes, as Dask's scheduler for this test."""
    with _dask_cluster_client.as_current():
        yield _dask_cluster_client


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """12 images in 3 groups; the user cache in tmp_path; offline (spawned workers inherit
    the environment)."""
    monkeypatch.setenv("GPUCLUSTER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_image_set(tmp_path / "images", n=12, groups=3, seed=1)
    return tmp_path / "images"
