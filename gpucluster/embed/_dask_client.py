"""Dask clients for gpucluster's jobs: connect to a running scheduler, or start a local cluster.

The one place that starts and closes the Dask cluster of a job: ``gpucluster
embed`` and ``gpucluster run`` (``--scheduler ADDRESS``, ``--workers N``, through
:func:`job_client`) and :func:`gpucluster.distributed.embed_images` use it, and
:mod:`gpucluster.distributed.client` re-exports it. It lives with the
embeddings, the lowest layer that starts clusters, so that every command above
can reach it. :func:`connect` gives a client of an existing cluster (closed
afterwards, the cluster left running), or of a cluster started for the job and
shut down after it. A local cluster is a ``dask_cuda.LocalCUDACluster`` with one
worker per GPU when dask-cuda is installed and GPUs answer, else a
``distributed.LocalCluster`` of worker processes. Dask is imported only when one
of these functions runs, and a missing Dask is reported with the
``gpucluster[dask]`` extra that installs it.
"""

import contextlib
import importlib.util
import logging
import os

from .. import _format as fmt

DASK_EXTRA = "gpucluster[dask]"
DEVICES = ("auto", "cpu", "cuda")


def require_distributed(what="Running on a Dask cluster"):
    """Import and return ``distributed``; ImportError naming the extra when Dask is missing."""
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError as exc:
        raise ImportError(
            f"{what} needs Dask (dask and distributed), which is not installed: "
            f"pip install '{DASK_EXTRA}'"
        ) from exc
    return distributed


def _check_n_workers(n_workers):
    if n_workers is None:
        return None
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be None or an integer >= 1, got {n_workers!r}")
    return n_workers


def cuda_worker_count():
    """GPUs a LocalCUDACluster would give one worker each; 0 without dask-cuda or GPUs."""
    try:
        from dask_cuda.utils import get_n_gpus
    except ImportError:
        return 0
    try:
        return int(get_n_gpus())
    except Exception:  # no driver or no NVML: no GPU to pin workers to
        return 0


def local_cluster(n_workers=None, *, device="auto", threads_per_worker=1):
    """Start a cluster of worker processes on this machine.

    Parameters
    ----------
    n_workers : int or None
        Worker processes. None: one per GPU on a GPU cluster, Dask's default
        (from the CPU count) otherwise.
    device : {"auto", "cpu", "cuda"}
        "auto" and "cuda" start a ``dask_cuda.LocalCUDACluster`` (one worker
        process per GPU, each seeing only its own) when dask-cuda is installed and
        GPUs answer; "cpu", or no dask-cuda or GPU, a ``distributed.LocalCluster``
        of processes. Workers may start processes of their own (image decoding).
    threads_per_worker : int
        Tasks each worker runs at once.

    Returns
    -------
    distributed.deploy.Cluster
        Close it (``cluster.close()``) when done; :func:`connect` does.

    Raises
    ------
    ValueError
        For a bad ``n_workers`` or ``device``, or more workers than GPUs on a GPU cluster.
    ImportError
        When Dask is not installed (the message names ``gpucluster[dask]``).
    """
    n_workers = _check_n_workers(n_workers)
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    distributed = require_distributed()
    import dask

    options = {
        "threads_per_worker": threads_per_worker,
        # The dashboard needs bokeh; without it Dask would only log a warning.
        "dashboard_address": ":0" if importlib.util.find_spec("bokeh") else None,
        # Closing kills workers that take long to exit; that is not worth a warning.
        "silence_logs": logging.ERROR,
    }
    gpus = cuda_worker_count() if device != "cpu" else 0
    # Non-daemonic workers may start the DataLoader's decoding processes.
    with dask.config.set({"distributed.worker.daemon": False}):
        if gpus:
            if n_workers is not None and n_workers > gpus:
                raise ValueError(f"n_workers={n_workers} is more than the "
                                 f"{fmt.counted(gpus, 'GPU')} of this machine (a GPU cluster "
                                 "has one worker per GPU)")
            from dask_cuda import LocalCUDACluster

            return LocalCUDACluster(n_workers=n_workers or gpus, **options)
        return distributed.LocalCluster(n_workers=n_workers, processes=True, **options)


@contextlib.contextmanager
def connect(scheduler=None, n_workers=None, *, device="auto", timeout=None):
    """A Dask client for one job: of a running cluster, or of a local one started for it.

    Parameters
    ----------
    scheduler : str, os.PathLike or None
        The address of a running scheduler (``tcp://host:8786``), or the path of
        its scheduler file (``dask scheduler --scheduler-file``). None starts a
        local cluster (:func:`local_cluster`).
    n_workers : int or None
        Worker processes of the local cluster; only without ``scheduler``.
    device : {"auto", "cpu", "cuda"}
        The local cluster's kind (see :func:`local_cluster`).
    timeout : float or None
        Seconds to wait for the scheduler to answer; None: Dask's default.

    Yields
    ------
    distributed.Client
        Closed on exit; a local cluster is shut down too, a running one is left running.

    Raises
    ------
    ValueError
        For ``scheduler`` and ``n_workers`` both given, a bad ``n_workers``, or a
        ``scheduler`` that is neither an address nor a file.
    ConnectionError
        When the scheduler does not answer.
    ImportError
        When Dask is not installed (the message names ``gpucluster[dask]``).
    """
    n_workers = _check_n_workers(n_workers)
    if scheduler is not None and n_workers is not None:
        raise ValueError("give a scheduler address or a number of local workers, not both")
    distributed = require_distributed()
    if scheduler is None:
        cluster = local_cluster(n_workers, device=device)
        try:
            with distributed.Client(cluster, set_as_default=False) as client:
                yield client
        finally:
            cluster.close()
        return
    scheduler = os.fspath(scheduler)
    target = ({"scheduler_file": scheduler} if os.path.isfile(scheduler)
              else {"address": scheduler})
    if timeout is not None:
        target["timeout"] = timeout
    try:
        client = distributed.Client(set_as_default=False, **target)
    except OSError as exc:  # distributed raises OSError (TimeoutError) when nobody answers
        raise ConnectionError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    except ValueError as exc:  # an address Dask cannot parse
        raise ValueError(f"{scheduler!r} is not a Dask scheduler address (tcp://host:8786) "
                         f"or scheduler file: {exc}") from None
    try:
        yield client
    finally:
        client.close()


def cluster_kind(device):
    """The kind of local cluster for a job's ``device``: "cpu" or "cuda" as given, else
    "auto" (a torch device name such as "cuda:1" is resolved by each worker)."""
    return device if device in ("cpu", "cuda") else "auto"


def job_client(scheduler=None, n_workers=None, *, device="auto"):
    """The Dask client of one job, as a context manager; None for a job run in this process.

    Parameters
    ----------
    scheduler, n_workers
        As for :func:`connect`; both None: no cluster (the context yields None).
    device : str
        The job's device ("auto", "cpu", "cuda", "cuda:N"): the local cluster's
        kind (:func:`cluster_kind`).

    Returns
    -------
    A context manager yielding a ``distributed.Client`` or None; on exit the client
    is closed and a local cluster shut down.
    """
    if scheduler is None and n_workers is None:
        return contextlib.nullcontext()
    return connect(scheduler, n_workers, device=cluster_kind(device))
