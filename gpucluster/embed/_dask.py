"""Embedding on a Dask cluster: the client plans and commits, the workers decode, embed and write.

``embed_images(..., client=client)`` runs here once the store has said what is new.
The client holds the store's lock for the whole run, as a run on one machine does,
and splits the files to embed into tasks of a few hundred files. Each task runs on
a worker: it loads the model once per worker process (kept for the next task),
embeds its files with the same DataLoader and forward pass as a local run
(:func:`gpucluster.embed.extract.encode_paths`) and writes its embeddings as one
temporary shard file in the store's ``shards/`` folder. Back on the client, each
finished task's shard is renamed into place and its manifest rows are committed
(:meth:`EmbeddingStore.adopt_shard`), so only one process ever writes the manifest.

A task that dies (a killed worker) leaves at most a temporary file, which the next
writer deletes; Dask runs the task again elsewhere. A task that fails, or a run
stopped by Ctrl-C, stops the tasks not yet started, commits every task that had
finished, and leaves the rest to the next run, which embeds only what is missing.

The store and the images must be reachable at the same paths from the client and
every worker (one machine, or a shared file system); the client checks this on
each worker before it submits anything. This module does not import Dask itself
(the client given to it does): only ``distributed.as_completed``, when a run starts.
"""

import math
import multiprocessing
import os
import socket
import threading
import time

import numpy as np

from .. import _format as fmt
from . import _shards
from .extract import (
    _BatchTally, _Forward, _check_batch_size, _device_type, _progress, auto_batch_size,
    default_num_workers, encode_paths, prepare_model,
)

# Tasks per worker when the files are many: enough to balance uneven workers and to
# lose little to a killed one, few enough that each task's DataLoader start is paid
# over hundreds of files.
TASKS_PER_WORKER = 4
MAX_FILES_PER_TASK = 2048
# Seconds to wait for the first worker of a cluster that has none yet.
WORKER_WAIT = 60.0

# This worker process's model, kept between tasks: {"key": ..., "model": ..., "batch_size": ...}.
_WORKER_MODEL = {}
_WORKER_MODEL_LOCK = threading.Lock()


def model_source(model, pretrained, checkpoint):
    """What a worker loads the model from: ``(name, pretrained, checkpoint path)`` for a
    model given by name (resolved as on the client, see
    :func:`gpucluster.embed.models.choose_model`), None for a loaded model (which is
    sent to the workers instead)."""
    from .models import choose_model

    if not isinstance(model, str):
        return None
    name, pretrained = choose_model(model, pretrained)
    if checkpoint is not None:
        checkpoint = os.path.abspath(os.fspath(checkpoint))
    return (name, pretrained, checkpoint)


def client_device(device):
    """The device of the client's own copy of the model on a cluster run: always the CPU.

    ``device`` is what the workers will use; it is checked by name here (the client
    may have no GPU) and resolved on each worker.
    """
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    if device is not None and (not isinstance(device, str)
                               or not (device in ("auto", "cpu") or device.startswith("cuda"))):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    return torch.device("cpu")


def worker_facts(shard_dir, probe_path, device):
    """Run on each worker before a run: what the client needs to know of it.

    Returns a dict: ``host``, ``cpus`` (usable CPUs), ``daemon`` (a daemonic process
    cannot start decoding processes), ``store`` and ``images`` (whether the store's
    shard folder and the first image to embed are visible from here), ``device``
    (``device`` resolved here; raises RuntimeError when CUDA is asked for and none
    answers) and ``decoders`` (:func:`default_num_workers` for that device).
    """
    from .models import resolve_torch_device

    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    torch_device = resolve_torch_device(device)
    return {
        "host": socket.gethostname(),
        "cpus": cpus,
        "daemon": bool(multiprocessing.current_process().daemon),
        "store": os.path.isdir(shard_dir),
        "images": probe_path is None or os.path.exists(probe_path),
        "device": str(torch_device),
        "decoders": default_num_workers(torch_device),
    }


def _worker_model(source, device, preprocessing, batch_size):
    """This worker's model on ``device`` and its batch size, loaded once per process.

    ``source`` is :func:`model_source`'s tuple (the model is loaded from it) or an
    EmbeddingModel sent by the client. "auto" batch sizes are measured once.
    """
    from .models import EmbeddingModel, load_model, resolve_torch_device

    torch_device = resolve_torch_device(device)
    key = (source if not isinstance(source, EmbeddingModel) else id(source), str(torch_device),
           preprocessing, batch_size)
    with _WORKER_MODEL_LOCK:
        if _WORKER_MODEL.get("key") != key:
            _WORKER_MODEL.clear()  # one model per worker: a new run's model replaces the last
            if isinstance(source, EmbeddingModel):
                model = source
            else:
                name, pretrained, checkpoint = source
                model = load_model(name, pretrained, checkpoint=checkpoint, device="cpu")
            prepare_model(model, torch_device)
            size = (auto_batch_size(model, preprocessing, torch_device) if batch_size == "auto"
                    else batch_size)
            _WORKER_MODEL.update(key=key, model=model, batch_size=size)
        return _WORKER_MODEL["model"], _WORKER_MODEL["batch_size"]


def embed_chunk(paths, shard_dir, source, device, preprocessing, normalize, dtype, batch_size,
                num_workers):
    """One task, on a worker: embed ``paths`` and write them as one temporary shard.

    Parameters
    ----------
    paths : list of str
        Absolute image paths, visible from this worker.
    shard_dir : str
        The store's shard folder (it must exist: the client made it).
    source : tuple or EmbeddingModel
        See :func:`model_source`.
    device : str
        The torch device name, resolved here ("auto": this worker's GPU when it has one).
    preprocessing : Preprocessing
    normalize : bool
    dtype : {"float16", "float32"}
        The store's dtype: the shard's dtype.
    batch_size : "auto" or int
    num_workers : int
        Decoding processes; 0 (decoding in this process) where this process may have
        no children (a daemonic Dask worker).

    Returns
    -------
    dict with ``temporary`` (the shard file, None when no image decoded), ``indices``
    (into ``paths``, one per shard row), ``stats`` (``(size, mtime_ns)`` per row),
    ``failures`` (``(index, reason, stat)``), ``model`` (the weights' identity,
    :meth:`EmbeddingModel.config`), ``device``, ``batch_size`` (after any halving on
    out-of-memory) and ``seconds``.

    Raises
    ------
    FileNotFoundError
        When ``shard_dir`` does not exist here.
    ValueError
        When an embedding is not finite in ``dtype``.
    """
    start = time.perf_counter()
    if not os.path.isdir(shard_dir):
        raise FileNotFoundError(
            f"the embedding store's folder {shard_dir} is not visible on worker host "
            f"{socket.gethostname()}; the store must be on a file system the workers share")
    if multiprocessing.current_process().daemon:
        num_workers = 0
    model, size = _worker_model(source, device, preprocessing, batch_size)
    forward = _Forward(model, preprocessing, model.device, size, normalize)
    indices, stats, failures, parts = [], [], [], []
    for batch_indices, embeddings, batch_failures, batch_stats in encode_paths(
            paths, model, preprocessing, batch_size=size, num_workers=num_workers,
            forward=forward):
        indices.extend(batch_indices)
        stats.extend(batch_stats)
        failures.extend(batch_failures)
        parts.append(embeddings)
    with _WORKER_MODEL_LOCK:  # a batch halved on out-of-memory stays halved for the next task
        if _WORKER_MODEL.get("model") is model:
            _WORKER_MODEL["batch_size"] = min(_WORKER_MODEL["batch_size"], forward.batch_size)
    temporary = None
    if indices:
        with np.errstate(over="ignore", invalid="ignore"):
            values = np.ascontiguousarray(np.concatenate(parts), dtype=dtype)
        if not np.isfinite(values).all():
            raise ValueError(f"embeddings contain NaN or inf once stored as {dtype} "
                             f"(float16 holds magnitudes up to 65504)")
        temporary = _shards.write_temporary(shard_dir, _shards.encode(values))
    return {"temporary": temporary, "indices": indices, "stats": stats, "failures": failures,
            "model": model.config(), "device": str(model.device),
            "batch_size": forward.batch_size, "seconds": time.perf_counter() - start}


def files_per_task(n_files, n_workers):
    """Files per task: TASKS_PER_WORKER tasks per worker, at most MAX_FILES_PER_TASK files."""
    return max(1, min(MAX_FILES_PER_TASK, math.ceil(n_files / (TASKS_PER_WORKER * n_workers))))


def decoding_processes(facts, num_workers):
    """Decoding processes per task, from :func:`worker_facts` of every worker.

    An explicit ``num_workers`` is kept. None gives each worker its share of its
    host's CPUs (at most its device's default); a share below 2 decodes in the
    worker process itself, which would otherwise only trade places with its one
    decoding process.
    """
    if num_workers is not None:
        return int(num_workers)
    per_host = {}
    for fact in facts.values():
        per_host[fact["host"]] = per_host.get(fact["host"], 0) + 1
    share = min(min(f["decoders"], f["cpus"] // per_host[f["host"]]) for f in facts.values())
    return share if share >= 2 else 0


def _survey(client, shard_dir, todo, device):
    """:func:`worker_facts` of every worker of ``client``, checked; raises a clear error
    for a cluster without workers or a worker that cannot see the store or the images."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except TimeoutError:
        raise RuntimeError(f"the Dask cluster of {client.scheduler.address} has no workers "
                           f"(waited {WORKER_WAIT:.0f} s)") from None
    facts = client.run(worker_facts, shard_dir, todo[0] if todo else None, device)
    for what, key in (("the embedding store's folder " + shard_dir, "store"),
                      ("the image " + (todo[0] if todo else ""), "images")):
        blind = sorted(address for address, fact in facts.items() if not fact[key])
        if blind:
            raise FileNotFoundError(
                f"{what} is not visible on Dask {fmt.word(len(blind), 'worker')} "
                f"{', '.join(blind)}: the images and the store must be at the same paths on "
                f"the client and every worker (one machine, or a shared file system)")
    return facts


class _Commit:
    """The client's side of a cluster run: adopts each finished task's shard and failures."""

    def __init__(self, emb_store, chunks, expected_model, bar):
        self.emb_store = emb_store
        self.chunks = chunks
        self.expected_model = expected_model
        self.bar = bar
        self.tally = _BatchTally()
        self.devices = set()
        self.batch_sizes = []
        self.done = set()

    def __call__(self, number, result):
        paths = self.chunks[number]
        if result["model"] != self.expected_model:
            raise ValueError(
                f"a Dask worker loaded other weights than the client ({result['model']} "
                f"against {self.expected_model}): the checkpoint file or the weights cache "
                f"differs between machines")
        if result["temporary"] is not None:
            done = [paths[i] for i in result["indices"]]
            self.emb_store.adopt_shard(result["temporary"], done, result["stats"])
            self.tally.written.extend(done)
        if result["failures"]:
            failed = [(paths[i], reason) for i, reason, _ in result["failures"]]
            self.emb_store.write_failures(failed, [stat for _, _, stat in result["failures"]])
            self.tally.failed.extend(failed)
        n = len(result["indices"]) + len(result["failures"])
        self.tally.processed += n
        self.devices.add(result["device"])
        self.batch_sizes.append(result["batch_size"])
        self.done.add(number)
        self.bar.update(n)


def embed_on_cluster(client, emb_store, todo, source, preprocessing, *, device, normalize,
                     dtype, batch_size, num_workers, progress):
    """Embed ``todo`` into ``emb_store`` on the workers of the Dask ``client``.

    Call it under the store's lock, in the thread that holds it (the commits take
    it again). ``source`` is :func:`model_source`'s tuple or the client's
    EmbeddingModel (on the CPU), which is then sent to every worker once.

    Returns
    -------
    _BatchTally
        ``device`` reads like "cuda:0 on 2 Dask workers"; ``batch_size`` is the
        smallest any task ended with.

    Raises
    ------
    The first failed task's exception, after the tasks that finished are committed
    (a note says how many images the store kept).
    """
    from distributed import as_completed

    from .models import EmbeddingModel

    batch_size = _check_batch_size(batch_size)
    if not todo:
        return _BatchTally(device=f"{_device_type(device)} (Dask)", batch_size=0)
    shard_dir = os.path.join(emb_store.path, "shards")
    os.makedirs(shard_dir, exist_ok=True)
    facts = _survey(client, shard_dir, todo, device)
    decoders = decoding_processes(facts, num_workers)
    size = files_per_task(len(todo), len(facts))
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    model_data = source
    if isinstance(source, EmbeddingModel):
        [model_data] = client.scatter([source], broadcast=True, hash=False)
    expected = emb_store.config["model"]
    start = time.perf_counter()
    futures = [client.submit(embed_chunk, chunk, shard_dir, model_data, device, preprocessing,
                             normalize, dtype, batch_size, decoders, pure=False)
               for chunk in chunks]
    bar = _progress(len(todo), progress)
    commit = _Commit(emb_store, chunks, expected, bar)
    try:
        failed = _collect(futures, commit, as_completed(futures, loop=client.loop))
    except KeyboardInterrupt:
        # Ctrl-C: keep what has finished; embed_images reports it and how to resume.
        _stop_and_keep(client, futures, commit)
        raise
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        bar.close()
    if failed is not None:
        try:
            failed.result()
        except Exception as exc:
            _stop_and_keep(client, futures, commit)
            embedded = commit.tally.embedded
            exc.add_note(f"gpucluster: the {fmt.counted(embedded, 'image')} embedded by the tasks "
                         f"that finished {fmt.word(embedded, 'is', 'are')} kept in {emb_store.path}; "
                         "run again to embed the rest")
            raise
    tally = commit.tally
    tally.seconds = time.perf_counter() - start
    tally.device = f"{', '.join(sorted(commit.devices))} on {fmt.counted(len(facts), 'Dask worker')}"
    tally.batch_size = min(commit.batch_sizes)
    return tally


def _collect(futures, commit, finishing):
    """Commit the tasks as they finish (``finishing`` yields them so); return the first
    failed one (None when none failed)."""
    number = {future.key: i for i, future in enumerate(futures)}
    for future in finishing:
        if future.status == "error":
            return future
        commit(number[future.key], future.result())
    return None


def _stop_and_keep(client, futures, commit):
    """Cancel the tasks not finished; commit those finished and not yet committed.

    A task still running when it is cancelled writes its temporary shard for nobody:
    the next writer to take the store's lock deletes it.
    """
    client.cancel([f for f in futures if f.status not in ("finished", "error")])
    for number, future in enumerate(futures):
        if number not in commit.done and future.status == "finished":
            commit(number, future.result())
