"""Embed an image collection into an on-disk store, batch by batch.

The pipeline is discovery -> sampling -> the store's plan (what is new or
changed) -> a DataLoader whose worker processes decode and preprocess to uint8
-> a pinned, non-blocking copy to the device -> normalisation and the forward
pass there (float16 and channels_last on CUDA) -> one store write per batch,
all under the store's lock. Files that cannot be decoded are skipped, listed in
the report and recorded in the store; they never stop the run.

:func:`encode_paths` is the reusable core (no store); :func:`throughput`
times its parts separately for benchmarks.
"""

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field, fields

import numpy as np

from .. import _format as fmt
from ._interrupt import EmbeddingInterrupted, signal_number
from .decode import MAX_PIXELS, ImageDecodeError, decode_memory_budget, decoding_plan
from .discover import printable
from .preprocess import Preprocessing, load_and_preprocess

STORE_DTYPES = ("float16", "float32")
CPU_BATCH_SIZE = 32
# Every batch a worker prefetches waits in pinned host memory: 8 workers x 2
# batches x 512 images x 150 kB (224 px uint8) is 1.2 GB; keep it there.
MAX_AUTO_BATCH = 512
# Fraction of the free device memory the auto batch size may plan to use; the
# rest absorbs allocator fragmentation and the estimate's error.
AUTO_BATCH_MEMORY_FRACTION = 0.5


@dataclass
class EmbedReport:
    """What one :func:`embed_images` run did.

    Attributes
    ----------
    store : str
        The store's configuration folder.
    n_images : int
        Images selected for this run (after sampling).
    embedded, reused : int
        Images embedded now / found unchanged in the store.
    skipped : list of (path, reason)
        Inputs that were not embedded: discovery problems and undecodable files.
    removed : int
        Paths in the store whose files no longer exist: their rows (embeddings or
        failures) were deleted from the store.
    outside_links : int
        Symbolic links leading outside the input folders that were not followed
        (``follow_links=False``); :meth:`summary` says how to include them.
    seconds : float
        Wall time of the whole call (model loading included).
    images_per_second : float
        Images decoded and embedded per second of the extraction loop.
    device : str
    batch_size : int
        The batch size in effect at the end (after any halving on out-of-memory);
        0 when ``batch_size="auto"`` on CUDA had nothing to embed.
    paths : list of str
        The selected images that have a current embedding (embedded now or reused),
        sorted: this run's view of the store, e.g. ``store.load(report.paths)``.
        Left out of :meth:`to_dict` (it can hold every path of the collection).
    model : EmbeddingModel or None
        The model this run loaded, or the one it was given; None when every
        image was reused and no model had to be loaded. Left out of :meth:`to_dict`.
    """

    store: str
    n_images: int
    embedded: int
    reused: int
    skipped: list = field(default_factory=list)
    removed: int = 0
    outside_links: int = 0
    seconds: float = 0.0
    images_per_second: float = 0.0
    device: str = "cpu"
    batch_size: int = 0
    paths: list = field(default_factory=list, repr=False)
    model: object = field(default=None, repr=False, compare=False)

    def summary(self):
        """A few human-readable lines: counts, speed, skipped files with reasons, store path.

        File names that are not valid UTF-8 show their odd bytes as ``\\xNN``.
        """
        counts = (f"images: {self.n_images} selected, {self.embedded} embedded, "
                  f"{self.reused} reused, {len(self.skipped)} skipped")
        if self.removed:
            counts += (f", {self.removed} no longer found on disk (their embeddings were "
                       f"dropped from the store)")
        lines = [counts]
        if self.outside_links:
            lines.append(outside_links_note(self.outside_links))
        if self.embedded == 0 and self.images_per_second == 0.0:
            reused = (f"all {fmt.counted(self.reused, 'image')} reused from the store" if self.reused
                      else "no images")
            lines.append(f"nothing to embed: {reused}, {self.seconds:.1f} s in all")
        else:
            lines.append(f"speed: {self.images_per_second:.1f} images/s on {self.device} "
                         f"(batch size {self.batch_size}), {self.seconds:.1f} s in all")
        if self.skipped:
            lines.append("skipped:")
            shown = self.skipped[:20]
            lines.extend(f"  {printable(path)}: {printable(reason)}" for path, reason in shown)
            if len(self.skipped) > len(shown):
                lines.append(f"  ... and {len(self.skipped) - len(shown)} more")
        lines.append(f"store: {printable(self.store)}")
        return "\n".join(lines)

    def to_dict(self):
        """JSON-able dict of the fields but ``paths`` and ``model`` (skipped as a list of
        [path, reason])."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("paths", "model")}
        out["skipped"] = [[p, r] for p, r in self.skipped]
        return out


def outside_links_note(count):
    """The line that tells how many links leaving the inputs were skipped, and the way in."""
    return (f"{fmt.counted(count, 'symbolic link')} leading outside the input "
            f"folders {fmt.word(count, 'was', 'were')} not followed; pass --follow-links "
            f"(follow_links=True) to include what they point to")


class ImageDataset:
    """Map-style dataset over image paths for a torch DataLoader (picklable for spawn).

    Item ``i`` is ``(image, reason, i, stat)``: ``image`` is the preprocessed uint8
    (S, S, 3) array, or None when the file could not be read, with ``reason``
    saying why; ``stat`` is ``(size, mtime_ns)`` taken before reading (None if
    the file is gone). Files that would decode to more than ``max_pixels`` pixels
    are refused before decoding (see :func:`gpucluster.embed.decode.decoding_plan`).
    """

    def __init__(self, paths, preprocessing, max_pixels=MAX_PIXELS):
        self.paths = list(paths)
        self.preprocessing = preprocessing
        self.max_pixels = int(max_pixels)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        path = self.paths[index]
        try:
            st = os.stat(path)
        except OSError as exc:
            return None, f"cannot stat: {exc.strerror or exc}", index, None
        stat = (int(st.st_size), int(st.st_mtime_ns))
        try:
            image = load_and_preprocess(path, self.preprocessing, max_pixels=self.max_pixels)
        except ImageDecodeError as exc:
            return None, self._explain(exc.reason), index, stat
        except OSError as exc:
            return None, f"cannot read: {exc.strerror or exc}", index, stat
        return image, None, index, stat

    def _explain(self, reason):
        if self.max_pixels < MAX_PIXELS and reason.endswith(f" > {self.max_pixels})"):
            return (f"{reason}, the limit that keeps decoding within its memory budget; fewer "
                    f"decoding workers (--num-workers) or more free memory raise it")
        return reason


class CollateImages:
    """Stack decoded images into one uint8 tensor; carry failures aside (picklable for spawn)."""

    def __init__(self, size):
        self.size = int(size)

    def __call__(self, items):
        import torch

        good = [item for item in items if item[0] is not None]
        if good:
            images = torch.from_numpy(np.stack([item[0] for item in good]))
        else:
            images = torch.empty((0, self.size, self.size, 3), dtype=torch.uint8)
        return {
            "images": images,
            "indices": [item[2] for item in good],
            "stats": [item[3] for item in good],
            "failures": [(item[2], item[1], item[3]) for item in items if item[0] is None],
        }


def default_num_workers(device):
    """Decoding worker processes: min(cpus, 8) on CUDA, min(cpus, 4) on the CPU.

    A run then cuts them to what its decoding memory budget allows (see
    :func:`decoding_workers`).
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return min(cpus, 8 if _device_type(device) == "cuda" else 4)


def _device_type(device):
    return getattr(device, "type", str(device).split(":")[0])


def _check_batch_size(batch_size):
    if batch_size == "auto":
        return batch_size
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be 'auto' or an integer >= 1, got {batch_size!r}")
    return int(batch_size)


def _check_num_workers(num_workers, device):
    if num_workers is None:
        return default_num_workers(device)
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
        raise ValueError(f"num_workers must be None or an integer >= 0, got {num_workers!r}")
    return int(num_workers)


def prepare_model(model, device):
    """Put an EmbeddingModel on ``device``: float16 + channels_last on CUDA, float32 on the CPU."""
    import torch

    if _device_type(device) == "cuda":
        model.to(device, dtype=torch.float16)
        model.module.to(memory_format=torch.channels_last)
    else:
        model.to(device, dtype=torch.float32)
    return model


def _normalize_on_device(model, images, preprocessing, device):
    from .preprocess import normalize_batch

    cuda = _device_type(device) == "cuda"
    x = images.to(device, non_blocking=cuda)
    return normalize_batch(x, preprocessing.mean, preprocessing.std, dtype=model.dtype,
                           channels_last=cuda)


def auto_batch_size(model, preprocessing, device):
    """Batch size for ``device``: CPU_BATCH_SIZE on the CPU; on CUDA, from free memory.

    On CUDA the per-image memory is measured with a 4-image probe (peak
    allocation over the forward pass), and the batch is the largest power of two
    whose estimate fits in AUTO_BATCH_MEMORY_FRACTION of ``torch.cuda.mem_get_info``
    free bytes, between 1 and MAX_AUTO_BATCH.
    """
    import torch

    if _device_type(device) != "cuda":
        return CPU_BATCH_SIZE
    probe = 4
    size = preprocessing.size
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    with torch.inference_mode():
        images = torch.zeros((probe, size, size, 3), dtype=torch.uint8)
        model.encode_images(_normalize_on_device(model, images, preprocessing, device))
    torch.cuda.synchronize(device)
    per_image = max((torch.cuda.max_memory_allocated(device) - base) / probe,
                    3 * size * size * 6)  # at least the uint8 input plus its float16 copy
    free, _ = torch.cuda.mem_get_info(device)
    return batch_size_for_memory(free, per_image)


def batch_size_for_memory(free_bytes, per_image_bytes):
    """Largest power of two with batch * per_image_bytes <= AUTO_BATCH_MEMORY_FRACTION * free_bytes.

    Clipped to [1, MAX_AUTO_BATCH].
    """
    if per_image_bytes <= 0:
        raise ValueError(f"per_image_bytes must be > 0, got {per_image_bytes}")
    fit = int(AUTO_BATCH_MEMORY_FRACTION * free_bytes // per_image_bytes)
    if fit < 1:
        return 1
    return int(min(MAX_AUTO_BATCH, 2 ** int(math.log2(fit))))


class _Forward:
    """Forward passes in chunks of ``batch_size``, halving it on CUDA out-of-memory."""

    def __init__(self, model, preprocessing, device, batch_size, normalize):
        self.model = model
        self.preprocessing = preprocessing
        self.device = device
        self.batch_size = batch_size
        self.normalize = normalize

    def __call__(self, images):
        """uint8 (B, S, S, 3) tensor (host or device) -> float32 (B, dim) NumPy array."""
        import torch

        out = []
        start = 0
        while start < images.shape[0]:
            stop = min(start + self.batch_size, images.shape[0])
            try:
                out.append(self._run(images[start:stop]))
            except torch.cuda.OutOfMemoryError:
                if self.batch_size == 1:
                    raise
                # Free what the failed attempt held before retrying the same rows.
                torch.cuda.empty_cache()
                self.batch_size = max(1, self.batch_size // 2)
                continue
            start = stop
        if not out:
            return np.empty((0, self.model.dim), dtype=np.float32)
        return np.concatenate(out)

    def _run(self, images):
        import torch

        with torch.inference_mode():
            x = _normalize_on_device(self.model, images, self.preprocessing, self.device)
            emb = self.model.encode_images(x).float()
            if self.normalize:
                emb = torch.nn.functional.normalize(emb, dim=-1)
            return emb.cpu().numpy()


def make_preprocessing(preprocessing, model, resolution=None):
    """A Preprocessing for ``model``: a mode name gets the model's size, mean and std.

    A :class:`Preprocessing` instance is returned unchanged (``resolution`` must then
    be None or equal to its size).
    """
    if isinstance(preprocessing, Preprocessing):
        if resolution is not None and int(resolution) != preprocessing.size:
            raise ValueError(f"resolution={resolution} contradicts the Preprocessing's size "
                             f"{preprocessing.size}")
        return preprocessing
    if not isinstance(preprocessing, str):
        raise TypeError(f"preprocessing must be a mode name or a Preprocessing, got {preprocessing!r}")
    if resolution is not None:
        if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1:
            raise ValueError(f"resolution must be an integer >= 1, got {resolution!r}")
    size = int(resolution) if resolution is not None else model.image_size
    return Preprocessing(mode=preprocessing, size=size, mean=tuple(model.mean), std=tuple(model.std))


def _check_resolution(model, preprocessing, device):
    # A model built for one size may not take another (a ViT's position
    # embedding is fixed); find out before any file is read.
    import torch

    if preprocessing.size == model.image_size:
        return
    try:
        with torch.inference_mode():
            model.encode_images(_normalize_on_device(
                model, torch.zeros((1, preprocessing.size, preprocessing.size, 3), dtype=torch.uint8),
                preprocessing, device))
    except Exception as exc:  # the model's own shape errors vary by architecture
        raise ValueError(f"model {model.name} (made for {model.image_size} px) cannot embed "
                         f"{preprocessing.size} px images: {exc}") from exc


def decoding_workers(num_workers, device, n_batches, budget_bytes="available"):
    """``(workers, max_pixels)`` of a run: worker processes and the per-file pixel limit.

    None takes :func:`default_num_workers`, cut (down to 1) so that the workers
    decoding their largest allowed images at once fit the memory budget; an
    explicit count is kept and only the pixel limit is lowered to fit. Never more
    workers than batches. ``budget_bytes``: "available" for
    :func:`gpucluster.embed.decode.decode_memory_budget`, bytes, or None (no budget).
    """
    workers = min(_check_num_workers(num_workers, device), n_batches)
    if budget_bytes == "available":
        budget_bytes = decode_memory_budget()
    return decoding_plan(workers, budget_bytes, fixed_workers=num_workers is not None)


def _loader(paths, preprocessing, batch_size, num_workers, device):
    import torch

    n_batches = math.ceil(len(paths) / batch_size)
    workers, max_pixels = decoding_workers(num_workers, device, n_batches)
    return torch.utils.data.DataLoader(
        ImageDataset(paths, preprocessing, max_pixels), batch_size=batch_size, shuffle=False,
        num_workers=workers, collate_fn=CollateImages(preprocessing.size),
        pin_memory=_device_type(device) == "cuda",
        prefetch_factor=2 if workers > 0 else None,
    )


def encode_paths(paths, model, preprocessing=None, *, batch_size="auto", device=None,
                 num_workers=None, normalize=True, progress=False, forward=None):
    """Decode, preprocess and embed image files without a store.

    Parameters
    ----------
    paths : list of str
    model : EmbeddingModel
        Used where it is (``device=None``) or moved there by :func:`prepare_model`.
    preprocessing : Preprocessing, mode name or None (letterbox at the model's size)
    batch_size : "auto" or int
    num_workers : int or None (see :func:`default_num_workers`)
    normalize : bool
        L2-normalise each embedding.
    progress : bool
        Show a tqdm progress bar on stderr.
    forward : optional
        The forward-pass runner of a caller that keeps it across calls (its batch
        size, once halved on out-of-memory, stays halved); made here when None.

    Yields
    ------
    (indices, embeddings, failures, stats) per batch: ``indices`` into ``paths``,
    ``embeddings`` a float32 ndarray (len(indices), dim), ``failures`` a list of
    ``(index, reason, stat)``, ``stats`` the ``(size, mtime_ns)`` of each embedded file.
    """
    if device is None:
        device = model.device
    else:
        from .models import resolve_torch_device

        device = resolve_torch_device(device)
        prepare_model(model, device)
    preprocessing = make_preprocessing(preprocessing or "letterbox", model)
    batch_size = _check_batch_size(batch_size)
    if batch_size == "auto":
        batch_size = auto_batch_size(model, preprocessing, device)
    if forward is None:
        forward = _Forward(model, preprocessing, device, batch_size, normalize)
    paths = list(paths)
    if not paths:
        return
    bar = _progress(len(paths), progress)
    try:
        loader = _loader(paths, preprocessing, batch_size, num_workers, device)
        start = time.perf_counter()
        done = 0
        for batch in loader:
            embeddings = forward(batch["images"])
            done += len(batch["indices"]) + len(batch["failures"])
            bar.update(len(batch["indices"]) + len(batch["failures"]))
            bar.set_postfix({"img/s": f"{done / max(time.perf_counter() - start, 1e-9):.1f}"},
                            refresh=False)
            yield batch["indices"], embeddings, batch["failures"], batch["stats"]
    finally:
        bar.close()


def _progress(total, progress):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="img", desc="embedding", disable=not progress, file=sys.stderr,
                dynamic_ncols=True)


def store_config(model, preprocessing, normalize, dtype):
    """The configuration dict that names an embedding store folder."""
    return {"model": model.config(), "preprocessing": preprocessing.config(),
            "normalize": bool(normalize), "dtype": dtype}


def embed_images(inputs, store, *, model="auto", pretrained="openai", checkpoint=None,
                 preprocessing="letterbox", resolution=None, batch_size="auto", device="auto",
                 sample=None, seed=0, include=(), force=False, normalize=True,
                 dtype="float16", num_workers=None, progress=True, follow_links=False,
                 client=None):
    """Embed the images under ``inputs`` into the store folder ``store``.

    Only new or changed images are embedded (by size and modification time);
    the rest are reused. Undecodable files are skipped and reported.

    Parameters
    ----------
    inputs : path or list of paths
        Folders (scanned recursively) and image files.
    store : path
        The user's store folder; embeddings go to a subfolder named after the
        configuration (model, weights, preprocessing, normalisation, dtype).
    model : str or EmbeddingModel
        Name for :func:`gpucluster.embed.models.load_model`, or a loaded model
        (which is then moved to ``device``; float16 there on CUDA). "auto"
        (default) is :func:`gpucluster.embed.models.choose_model`'s choice, as in
        ``gpucluster run``: CLIP ViT-B-32 when its weights are on disk, else the
        packaged efficientnet-lite0, which works offline. A name is loaded only
        when something is to be embedded: when the store already holds every
        selected image, the run reads nothing else.
    pretrained, checkpoint : see :func:`gpucluster.embed.models.load_model`
    preprocessing : {"letterbox", "resize", "center_crop"} or Preprocessing
    resolution : int or None
        Input size; None takes the model's.
    batch_size : "auto" or int
        "auto": from free GPU memory on CUDA (halved on out-of-memory), 32 on the CPU.
    device : {"auto", "cpu", "cuda", "cuda:N"}
    sample, seed, include : see :func:`gpucluster.embed.sampling.sample_paths`
    force : bool
        Re-embed every selected image even if the store has it.
    normalize : bool
        L2-normalise the embeddings (default); False keeps the raw model output.
    dtype : {"float16", "float32"}
        Storage dtype of the embeddings.
    num_workers : int or None
        Decoding processes; None: min(cpus, 8) on CUDA, min(cpus, 4) on the CPU,
        fewer when the decoding memory budget needs it (see :func:`decoding_workers`;
        an explicit count lowers the pixel limit instead); 0 decodes in this process.
    progress : bool
        Show a tqdm progress bar on stderr.
    follow_links : bool
        Follow symbolic links that lead outside the input folders too. When False
        (default) they are skipped and counted in ``EmbedReport.outside_links``;
        links that stay inside are followed either way.
    client : distributed.Client or None
        Embed on the workers of this Dask cluster (see
        :func:`gpucluster.distributed.embed_images` to connect or start one). This
        process plans, as on one machine, and commits the manifest; each worker
        loads the model once, resolves ``device`` itself ("auto": its own GPU when
        it has one) and writes its own shard files. ``num_workers`` is per worker
        (None: each worker's share of its host's CPUs). The images and ``store``
        must be at the same paths on every worker; an interrupted or failed run
        resumes like a local one. This process keeps a CPU copy of the model for
        the report.

    Returns
    -------
    EmbedReport
    """
    from .discover import discover_images
    from .models import choose_model, resolve_torch_device
    from .sampling import sample_paths
    from .store import EmbeddingStore

    t0 = time.perf_counter()
    if dtype not in STORE_DTYPES:
        raise ValueError(f"dtype must be one of {STORE_DTYPES}, got {dtype!r}")
    batch_size = _check_batch_size(batch_size)
    if client is None:
        torch_device = resolve_torch_device(device)
    else:
        from ._dask import client_device, model_source

        # The workers resolve `device`; this process's copy of the model stays on the CPU.
        torch_device = client_device(device)
        source = model_source(model, pretrained, checkpoint)
    _check_num_workers(num_workers, torch_device)

    discovery = discover_images(inputs, follow_links=follow_links)
    selected = sample_paths(discovery.paths, sample, seed=seed, include=include)
    if isinstance(model, str) and not force:
        model, pretrained = choose_model(model, pretrained)
        current = _matching_store(store, model, pretrained, checkpoint, preprocessing,
                                  resolution, normalize, dtype)
        done = current is not None and _all_reused(current, discovery, selected)
        if done:
            reused, failed, removed = done
            return EmbedReport(
                store=current.path, n_images=len(selected), embedded=0, reused=len(reused),
                skipped=list(discovery.problems) + failed, removed=removed,
                outside_links=len(discovery.outside_links), seconds=time.perf_counter() - t0,
                device=str(torch_device), batch_size=batch_size if batch_size != "auto" else 0,
                paths=sorted(reused),
            )
    model, prep = _model_for_run(model, pretrained, checkpoint, preprocessing, resolution,
                                 torch_device)

    emb_store = EmbeddingStore(store, store_config(model, prep, normalize, dtype))
    with emb_store.lock():
        # The plan puts files that failed before back in todo: retrying a decode is
        # cheap, and the report then lists them again.
        todo, reused = (list(selected), []) if force else emb_store.plan(selected)
        removed = _prune_deleted(emb_store, discovery.paths, selected)
        try:
            if client is None:
                batch_size = _run_batch_size(batch_size, model, prep, torch_device, bool(todo))
                forward = _Forward(model, prep, torch_device, batch_size, normalize)
                tally = _embed_batches(emb_store, todo, model, prep, forward, np.dtype(dtype),
                                       num_workers, progress)
            else:
                from ._dask import embed_on_cluster

                tally = embed_on_cluster(client, emb_store, todo, source or model, prep,
                                         device=device, normalize=normalize, dtype=dtype,
                                         batch_size=batch_size, num_workers=num_workers,
                                         progress=progress)
        except KeyboardInterrupt as exc:
            # Ctrl-C or SIGTERM (see _interrupt): every batch committed before it
            # stays, so count what the store now holds of this run's work.
            kept = len(emb_store.plan(todo, retry_failed=False)[1])
            raise EmbeddingInterrupted(kept, len(reused), emb_store.path,
                                       signal_number(exc)) from exc

    return EmbedReport(
        store=emb_store.path, n_images=len(selected), embedded=tally.embedded,
        reused=len(reused), skipped=list(discovery.problems) + tally.failed, removed=removed,
        outside_links=len(discovery.outside_links), seconds=time.perf_counter() - t0,
        images_per_second=tally.images_per_second, device=tally.device,
        batch_size=tally.batch_size,
        paths=sorted(set(reused).union(tally.written)), model=model,
    )


def _matching_store(root, name, pretrained, checkpoint, preprocessing, resolution, normalize,
                    dtype):
    """The existing store that ``load_model(name, pretrained, checkpoint=checkpoint)`` with
    this preprocessing would write to, found from the configurations on disk without
    loading the model; None when there is none, or when it cannot be told for sure.

    The weights' identity (name, tag, checkpoint hash) and the input size are known
    without loading; the normalisation statistics are the tag's, so they are taken
    from the matching configuration.
    """
    from .models import EFFICIENTNET_LITE0, file_sha256, native_image_size
    from .store import CONFIG_FILE, EmbeddingStore

    if not isinstance(preprocessing, str) or dtype not in STORE_DTYPES:
        return None
    if pretrained is not None and os.path.isfile(str(pretrained)):
        return None  # a weights file given as the tag: let load_model sort it out
    if checkpoint is not None and not os.path.isfile(checkpoint):
        return None  # load_model raises the error
    root = os.path.abspath(os.fspath(root))
    if os.path.isfile(os.path.join(root, CONFIG_FILE)):
        folders = [root]
    elif os.path.isdir(root):
        folders = [entry.path for entry in os.scandir(root)
                   if entry.is_dir() and os.path.isfile(os.path.join(entry.path, CONFIG_FILE))]
    else:
        return None
    if not folders:
        return None
    size = int(resolution) if resolution is not None else native_image_size(name)
    if size is None:
        return None
    digest = file_sha256(checkpoint)[:16] if checkpoint is not None else None
    if name == EFFICIENTNET_LITE0:  # its tag is fixed: the packaged weights, or a checkpoint
        pretrained = "imagenet" if checkpoint is None else None
    matches = []
    for folder in folders:
        try:
            with open(os.path.join(folder, CONFIG_FILE), encoding="utf-8") as f:
                config = json.load(f)
            weights, prep = config["model"], config["preprocessing"]
            wanted = Preprocessing(mode=preprocessing, size=size, mean=tuple(prep["mean"]),
                                   std=tuple(prep["std"])).config()
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if (weights.get("name") == name and weights.get("pretrained") == pretrained
                and weights.get("checkpoint") == digest and "weights" not in weights
                and prep == wanted and config.get("normalize") is bool(normalize)
                and config.get("dtype") == dtype):
            matches.append(folder)
    return EmbeddingStore.from_folder(matches[0]) if len(matches) == 1 else None


def _all_reused(emb_store, discovery, selected):
    """``(reused, failed, removed)`` when the store holds every selected image unchanged,
    embedded or recorded as undecodable (a decode that failed fails again, and this
    run then needs no model); the rows of deleted files are dropped, as in a run.
    None when something is to be embedded."""
    with emb_store.lock():
        todo, reused = emb_store.plan(selected, retry_failed=False)
        if todo:
            return None
        failed = emb_store.failures(selected)
        return reused, failed, _prune_deleted(emb_store, discovery.paths, selected)


def _model_for_run(model, pretrained, checkpoint, preprocessing, resolution, device):
    """The model on ``device`` and its Preprocessing, checked to fit each other.

    A name is loaded with :func:`gpucluster.embed.models.load_model`; a loaded
    :class:`EmbeddingModel` is moved. Returns ``(model, preprocessing)``.
    """
    from .models import EmbeddingModel, load_model

    if not isinstance(model, EmbeddingModel):
        model = load_model(model, pretrained, checkpoint=checkpoint, device="cpu")
    prepare_model(model, device)
    preprocessing = make_preprocessing(preprocessing, model, resolution)
    _check_resolution(model, preprocessing, device)
    return model, preprocessing


def _prune_deleted(emb_store, discovered, selected):
    """Drop the store's rows of files deleted from disk; return how many rows went.

    Rows of files that exist but lie outside this run's inputs (``discovered`` and
    ``selected``) are kept: another run may select them again. The shards of the
    dropped rows are deleted once no row uses them. Call it under the store's lock.
    """
    current = set(discovered).union(selected)
    stored = set(emb_store.paths())  # embedded or failed
    gone = {p for p in stored if p not in current and not os.path.lexists(p)}
    return emb_store.prune(stored - gone) if gone else 0


def _run_batch_size(batch_size, model, preprocessing, device, has_work):
    """``batch_size``, or for "auto" the device's (0 on CUDA when there is nothing to embed)."""
    if batch_size != "auto":
        return batch_size
    # The CUDA probe costs a forward pass; skip it when nothing is to do.
    if has_work or device.type != "cuda":
        return auto_batch_size(model, preprocessing, device)
    return 0


@dataclass
class _BatchTally:
    """What the batch loop of one :func:`embed_images` run did.

    Attributes
    ----------
    written : list of str
        Paths whose embeddings were stored, in the order they were written.
    failed : list of (path, reason)
        Files that could not be embedded (recorded in the store as failed).
    processed : int
        Files decoded or found undecodable.
    seconds : float
        Wall time of the loop.
    device : str
        Where the images were embedded (for the report).
    batch_size : int
        The batch size in effect at the end.
    """

    written: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    processed: int = 0
    seconds: float = 0.0
    device: str = "cpu"
    batch_size: int = 0

    @property
    def embedded(self):
        """The number of images embedded."""
        return len(self.written)

    @property
    def images_per_second(self):
        """Files processed per second of the loop; 0.0 when none were."""
        return self.processed / self.seconds if self.processed and self.seconds > 0 else 0.0


def _embed_batches(emb_store, todo, model, preprocessing, forward, dtype, num_workers, progress):
    """Embed the files ``todo`` batch by batch, each batch written to the store as it comes.

    Embeddings go in with ``write_batch`` (as ``dtype``), undecodable files with
    ``write_failures``; neither stops the loop. Call it under the store's lock.
    Returns a :class:`_BatchTally`.
    """
    tally = _BatchTally()
    start = time.perf_counter()
    batches = encode_paths(todo, model, preprocessing, batch_size=forward.batch_size,
                           num_workers=num_workers, progress=progress,
                           forward=forward) if todo else ()
    for indices, embeddings, failures, stats in batches:
        if indices:
            done = [todo[i] for i in indices]
            emb_store.write_batch(done, stats, embeddings.astype(dtype))
            tally.written.extend(done)
        if failures:
            failed = [(todo[i], reason) for i, reason, _ in failures]
            emb_store.write_failures(failed, [stat for _, _, stat in failures])
            tally.failed.extend(failed)
        tally.processed += len(indices) + len(failures)
    tally.seconds = time.perf_counter() - start
    tally.device, tally.batch_size = str(forward.device), forward.batch_size
    return tally


def throughput(paths, model, preprocessing=None, *, part="end_to_end", batch_size="auto",
               device=None, num_workers=None, repeats=1):
    """Images per second of one part of the pipeline, for benchmarks.

    Parameters
    ----------
    paths : list of str
    model : EmbeddingModel
    part : {"decode", "forward", "end_to_end"}
        ``"decode"``: the DataLoader alone (read, decode, preprocess, collate);
        ``"forward"``: copy, normalisation and forward pass on random uint8 batches
        already in memory (len(paths) images); ``"end_to_end"``: both, as
        :func:`embed_images` runs them, without the store.
    repeats : int
        Passes over the data; the rate of the fastest pass is returned.

    Returns
    -------
    float, images per second (CUDA work is synchronised before the clock stops).
    """
    import torch

    from .models import resolve_torch_device

    if part not in ("decode", "forward", "end_to_end"):
        raise ValueError(f"part must be 'decode', 'forward' or 'end_to_end', got {part!r}")
    paths = list(paths)
    if not paths:
        raise ValueError("paths is empty")
    device = model.device if device is None else resolve_torch_device(device)
    prepare_model(model, device)
    prep = make_preprocessing(preprocessing or "letterbox", model)
    batch_size = _check_batch_size(batch_size)
    if batch_size == "auto":
        batch_size = auto_batch_size(model, prep, device)
    _check_num_workers(num_workers, device)
    forward = _Forward(model, prep, device, batch_size, True)
    cuda = _device_type(device) == "cuda"
    best = 0.0
    for _ in range(max(1, int(repeats))):
        start = time.perf_counter()
        if part == "decode":
            n = sum(len(b["indices"]) + len(b["failures"])
                    for b in _loader(paths, prep, batch_size, num_workers, device))
        elif part == "forward":
            gen = torch.Generator().manual_seed(0)
            images = torch.randint(0, 256, (batch_size, prep.size, prep.size, 3), dtype=torch.uint8,
                                   generator=gen)
            if cuda:
                images = images.pin_memory()
            start = time.perf_counter()
            n = 0
            while n < len(paths):
                chunk = images[: min(batch_size, len(paths) - n)]
                forward(chunk)
                n += chunk.shape[0]
        else:
            n = sum(len(i) + len(f) for i, _, f, _ in encode_paths(
                paths, model, prep, batch_size=batch_size, num_workers=num_workers,
                forward=forward))
        if cuda:
            torch.cuda.synchronize(device)
        best = max(best, n / max(time.perf_counter() - start, 1e-9))
    return best
