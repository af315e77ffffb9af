"""Embedding an image collection on a Dask cluster, one worker per GPU.

:func:`embed_images` is :func:`gpucluster.embed.embed_images` on the workers of a
Dask cluster: the one it is given, the one at a scheduler address, or a local one
started for the call. The store is the same store, planned and committed by this
process (see ``gpucluster/embed/_dask.py``), so a distributed run, a local run and
an interrupted run of either resume one another.
"""

from ..embed import extract
from .client import cluster_kind, connect


def embed_images(inputs, store, *, client=None, scheduler=None, n_workers=None, **kwargs):
    """Embed the images under ``inputs`` into the store ``store`` on a Dask cluster.

    Parameters
    ----------
    inputs, store
        As for :func:`gpucluster.embed.embed_images`.
    client : distributed.Client or None
        A client of the cluster to use; it is left open.
    scheduler : str, os.PathLike or None
        Without ``client``: the address (``tcp://host:8786``) or scheduler file of a
        running cluster, used for this call.
    n_workers : int or None
        Without ``client`` or ``scheduler``: the worker processes of a local cluster
        started for this call and shut down after it (one per GPU when dask-cuda is
        installed and GPUs answer; see :func:`gpucluster.distributed.client.local_cluster`).
    **kwargs
        Any other argument of :func:`gpucluster.embed.embed_images` (``model``,
        ``device``, ``batch_size``, ``num_workers`` per worker, ``sample``, ...).

    Returns
    -------
    EmbedReport
        Its ``device`` says where and on how many workers the images were embedded;
        read the vectors with ``gpucluster.embed.load_store(report.store, paths=report.paths)``.

    Notes
    -----
    Each worker loads the model once and keeps it for its next tasks, decodes and
    embeds a few hundred files per task and writes them as one shard; this process
    renames each shard into the store and records it in the manifest. The images
    and the store must be at the same paths on every worker (one machine, or a
    shared file system).

    Raises
    ------
    ValueError
        When ``client`` comes with ``scheduler`` or ``n_workers``, or both of those are given.
    ImportError
        When Dask is not installed (the message names ``gpucluster[dask]``).
    """
    if client is not None:
        if scheduler is not None or n_workers is not None:
            raise ValueError("give a client, a scheduler address or a number of local workers, "
                             "not several")
        return extract.embed_images(inputs, store, client=client, **kwargs)
    with connect(scheduler, n_workers, device=cluster_kind(kwargs.get("device", "auto"))) as c:
        return extract.embed_images(inputs, store, client=c, **kwargs)
