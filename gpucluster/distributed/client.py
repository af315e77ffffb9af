"""Dask clients for gpucluster's jobs: connect to a running scheduler, or start a local cluster.

:func:`connect` is what ``gpucluster embed`` and ``gpucluster run`` use for
``--scheduler ADDRESS`` and ``--workers N``: a client of an existing cluster
(closed afterwards, the cluster left running), or a cluster started for the job
and shut down after it. The code lives in ``gpucluster/embed/_dask_client.py``,
below the embedding command that needs it; this module is its public name.
"""

from ..embed._dask_client import (  # noqa: F401
    DASK_EXTRA,
    DEVICES,
    cluster_kind,
    connect,
    cuda_worker_count,
    job_client,
    local_cluster,
    require_distributed,
)

__all__ = ["DASK_EXTRA", "DEVICES", "cluster_kind", "connect", "cuda_worker_count", "job_client",
           "local_cluster", "require_distributed"]
