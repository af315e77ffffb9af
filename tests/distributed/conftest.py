"""A Dask LocalCluster of two worker processes for the estimator and metric tests.

One cluster serves the session (each worker process takes seconds to import
gpucluster); each test runs with its client as the current scheduler, so
tests elsewhere that compute with Dask are not sent to it.
"""

import pytest


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
