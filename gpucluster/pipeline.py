"""The main job, end to end: images -> embeddings -> automatic search -> gallery and report.

`run_images` is what `gpucluster run` calls. Each step is a library function
of its own (`embed.embed_images`, `auto.search`, `report.organize`,
`report.write_report`); this module only chains them and decides the defaults.
"""

import os
import time

import numpy as np

from . import _format as fmt

# model="auto" is resolved where the models live, so that `gpucluster embed` and
# `embed_images` make the same choice as `gpucluster run`.
from .embed.models import choose_model, clip_weights_available, has_text_tower  # noqa: F401

DEFAULT_OUT = "gpucluster-demo"


def cache_dir():
    """The per-user cache folder: $GPUCLUSTER_CACHE, else $XDG_CACHE_HOME/gpucluster."""
    root = os.environ.get("GPUCLUSTER_CACHE")
    if root:
        return os.path.abspath(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gpucluster")


def _stage(progress, message):
    if progress:
        print(f"[gpucluster] {message}", flush=True)


def run_images(images=None, out=None, *, store=None, model="auto", pretrained="openai",
               checkpoint=None, mode="fast", top=5, overwrite=False, device="auto",
               batch_size="auto", num_workers=None, sample=None, seed=0, link_mode="link",
               candidate_labels=None, ranking="default", progress=True, follow_links=False,
               scheduler=None, workers=None, projection="pca"):
    """Cluster a folder of images end to end; return a dict describing the run.

    images: folders and/or image paths; None clusters the built-in collection
    (`gpucluster.datasets`) and scores the result against its known groups.
    out: the output folder (default ``./gpucluster-demo``); it receives
    ``results/`` (summary.json, rank_NN_*/labels.npy), ``gallery/`` (one folder
    of links per cluster, thumbnails) and ``report.html``. An existing result in
    ``out`` is refused unless ``overwrite``; the built-in default run replaces
    its own default folder. store: the embedding store (default: a per-user
    cache folder, so a second run over the same images embeds nothing).
    candidate_labels: zero-shot names for the clusters (CLIP models only; None:
    a built-in list when the CLIP model has trained weights; []: no names).
    ranking: how the search ranks its candidates, a ``weights`` preset of
    ``auto.search`` ("default", "balance" or "legacy").
    follow_links: also follow symbolic links leading outside the image folders
    (by default they are skipped; ``summary["embedded"]["outside_links"]`` counts them).
    scheduler, workers: embed on a Dask cluster: the running one at this scheduler
    address (or scheduler file), or a local one of ``workers`` processes started for
    the run (one per GPU with dask-cuda); see ``gpucluster.distributed.embed_images``.
    Only the embedding is distributed: the search runs in this process on the
    embeddings gathered from the store, as density methods (HDBSCAN, DBSCAN, OPTICS)
    and the search's shared kNN graph need all points at once.
    projection: the report's 2-D map, "pca", "umap", "tsne" or "auto" (see
    ``report.project_2d``).
    """
    from . import auto, report
    from .embed import embed_images, load_store
    from .metrics import adjusted_rand_score
    from .report.projection import PROJECTION_METHODS

    if projection not in PROJECTION_METHODS:
        raise ValueError(f"projection must be one of {PROJECTION_METHODS}, got {projection!r}.")
    started = time.perf_counter()
    asked = model
    model, pretrained = choose_model(model, pretrained)
    if candidate_labels and not has_text_tower(model):
        # Refused before any work: the names come from a CLIP text tower.
        why = (" (--model auto took it: no CLIP ViT-B-32 weights are on disk)"
               if asked == "auto" else "")
        raise ValueError(
            f"cluster names (--names, candidate_labels) need a CLIP model with a text tower, "
            f"and {model}{why} has none; pass --model ViT-B-32 (with --checkpoint FILE where "
            f"its weights cannot be downloaded), or leave --names out")
    builtin = images is None
    if builtin:
        from .datasets import read_builtin_collection, write_builtin_collection

        folder = os.path.join(cache_dir(), "builtin-images")
        found = read_builtin_collection(folder)
        if found is None:
            _stage(progress, f"writing the built-in image collection to {folder}")
            paths, groups = write_builtin_collection(folder)
        else:
            _stage(progress, f"using the built-in image collection in {folder}")
            paths, groups = found
        images = [folder]
        truth_by_path = dict(zip(paths, groups))
    if out is None:
        out = DEFAULT_OUT
        overwrite = overwrite or builtin
    out = os.path.abspath(out)
    results_dir = os.path.join(out, "results")
    if os.path.exists(os.path.join(results_dir, "summary.json")) and not overwrite:
        raise FileExistsError(f"{out} already holds a result; pass --overwrite to replace it")
    store = store or os.path.join(cache_dir(), "embeddings")

    _stage(progress, f"embeddings by {model}" + (f" ({pretrained})" if pretrained else "")
           + ": new images embedded, the rest read from the store")
    # The model is loaded only when something is to be embedded; that load also
    # serves the zero-shot names (embedded.model is None when all was reused).
    with _dask_client(scheduler, workers, device, progress) as client:
        embedded = embed_images(images, store, model=model, pretrained=pretrained,
                                checkpoint=checkpoint, batch_size=batch_size, device=device,
                                sample=sample, seed=seed, num_workers=num_workers,
                                progress=progress, follow_links=follow_links, client=client)
    if progress:
        print(embedded.summary(), flush=True)
    paths, X = load_store(embedded.store, paths=embedded.paths)
    if len(paths) < 3:
        raise ValueError(f"only {fmt.counted(len(paths), 'readable image')}: clustering needs "
                         "at least 3")

    labels = None
    if builtin:
        groups = [truth_by_path[p] for p in paths]
        labels = np.unique(groups, return_inverse=True)[1]
    _stage(progress, f"searching algorithms and parameters ({mode} mode) on {X.shape[0]} x {X.shape[1]}")
    result = auto.search(X, mode=mode, top=top, labels=labels, random_state=seed, device=device,
                         weights=ranking, progress=progress)
    result.save(results_dir, overwrite=True, paths=paths)
    best = result.best_labels()

    names = _zero_shot_names(X, best, candidate_labels, embedded.model, model, pretrained,
                             checkpoint)

    gallery = os.path.join(out, "gallery")
    _stage(progress, f"organising {len(paths)} images into {gallery}")
    report.organize(results_dir, paths, gallery, mode=link_mode, names=names, overwrite=True)
    failures = embedded.skipped
    report_path = report.write_report(out, summary=auto.load_result(results_dir), labels=best,
                                      paths=paths, embeddings=X, failures=failures,
                                      thumbnails_dir=os.path.join(gallery, "thumbnails"), names=names,
                                      projection=projection, overwrite=True)
    summary = {
        "out": out,
        "report": report_path,
        "results": results_dir,
        "gallery": gallery,
        "store": embedded.store,
        "model": model,
        "embedded": embedded.to_dict(),
        "n_images": len(paths),
        "best": result.candidates[result.ranking[0]],
        "near_ties": [result.candidate(rank) for rank in result.near_ties()],
        "seconds": time.perf_counter() - started,
    }
    if labels is not None:
        summary["ari"] = float(adjusted_rand_score(labels, best))
    return summary


def _dask_client(scheduler, workers, device, progress):
    """The Dask client of the embedding stage (closed after it, a local cluster shut
    down), or None (a context yielding None) to embed in this process."""
    from .embed._dask_client import job_client

    if scheduler is not None or workers is not None:
        where = (f"the Dask cluster at {scheduler}" if scheduler is not None
                 else f"a local Dask cluster of {fmt.counted(workers, 'worker')}")
        _stage(progress, f"embedding on {where}; the search runs here")
    return job_client(scheduler, workers, device=device)


def _zero_shot_names(X, labels, candidate_labels, clip, model, pretrained, checkpoint):
    """``{cluster: name}`` from the CLIP text tower, or None.

    candidate_labels None: names from `embed.naming.DEFAULT_LABELS`, only for a
    CLIP model with trained weights (random weights name nothing); an explicit
    list is used with any CLIP model; an empty list turns naming off. ``clip`` is
    the loaded model, or None when the embedding step did not need to load
    ``model`` (it is loaded here then, if names are wanted).
    """
    from .embed import DEFAULT_LABELS, cluster_centroids, load_model, name_clusters
    from .embed.extract import prepare_model

    if candidate_labels is not None and len(candidate_labels) == 0:
        return None
    if candidate_labels is None:
        if pretrained is None and checkpoint is None:
            return None
        candidate_labels = DEFAULT_LABELS
    if not has_text_tower(model) or not np.any(labels >= 0):
        return None
    if clip is None:
        clip = load_model(model, pretrained, checkpoint=checkpoint, device="cpu")
    if not clip.has_text:
        return None
    prepare_model(clip, "cpu")  # the text tower runs once per name: the CPU is enough
    centroids, ids = cluster_centroids(X, labels)
    ranked = name_clusters(centroids, list(candidate_labels), clip, top=1)
    return {int(c): r[0][0] for c, r in zip(ids, ranked)}
