"""Segment a list or folders of images into an output folder: what `gpucluster segment` runs.

Per image a sub-folder with the files of ``Segmentation.save``; one
``index.html`` shows them all. Files that cannot be decoded are listed
(path and reason) and skipped; nothing existing is replaced unless asked,
and that is checked before any image is read.
"""

import math
import os
import re
import sys
import time

import numpy as np

from .. import backend, kernels
from ..embed.decode import ImageDecodeError
from ..embed.discover import discover_images, printable
from ._image import float_image, load_image
from .draw import FILES
from .features import check_features, pixel_features
from .page import PAGE_NAME, write_page
from .segmentation import block_mean, describe, segment
from .superpixels import slic

ALGORITHMS = ("kmeans", "dbscan", "hdbscan", "slic")
# DBSCAN and HDBSCAN cluster every pixel they are fitted on and cannot
# label others, so by default they see the image shrunk to about this many pixels.
DENSITY_PIXELS = 20_000
# The default DBSCAN radius: this quantile of the sampled pixels' distances
# to their min_samples-th nearest pixel (itself included) in feature space.
EPS_QUANTILE = 0.9
EPS_SAMPLE = 2_000


def folder_names(paths):
    """A distinct, file-system-safe sub-folder name per image: its stem, with -2, -3 ... on clashes."""
    names, taken = [], {PAGE_NAME.lower()}
    for path in paths:
        stem = os.path.splitext(os.path.basename(printable(path)))[0]
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "image"
        name, i = stem, 1
        while name.lower() in taken:
            i += 1
            name = f"{stem}-{i}"
        taken.add(name.lower())
        names.append(name)
    return names


def density_downsample(shape, pixels=DENSITY_PIXELS):
    """The smallest integer factor that shrinks an image of ``shape`` to at most ``pixels`` pixels."""
    H, W = shape[:2]
    return max(1, math.ceil(math.sqrt(H * W / pixels)))


def auto_eps(image, features, weights, scale, downsample, min_samples, random_state):
    """DBSCAN radius for an image: see ``EPS_QUANTILE``; computed on the shrunk image's features."""
    floats = float_image(image)
    small = block_mean(floats, downsample) if downsample else floats
    X = pixel_features(small, features, weights, scale)
    n = X.shape[0]
    rows = np.random.default_rng(random_state).choice(n, min(n, EPS_SAMPLE), replace=False)
    xp = backend.namespace(X)
    queries = xp.take(X, xp.asarray(np.sort(rows), device=backend.device(X)), axis=0)
    distances, _ = kernels.knn(X, min(min_samples, n), queries=queries, metric="euclidean")
    return float(np.quantile(backend.to_numpy(distances)[:, -1], EPS_QUANTILE))


def make_estimator(algorithm, n_segments, *, eps=None, min_samples=10, min_cluster_size=None,
                   fit_pixels=None, random_state=0):
    """gpucluster's estimator for ``algorithm`` ("kmeans", "dbscan" or "hdbscan"), device "auto"
    (it follows the features: a CUDA image gives CUDA features)."""
    from ..cluster import DBSCAN, HDBSCAN, KMeans

    if algorithm == "kmeans":
        return KMeans(n_segments, random_state=random_state)
    if algorithm == "dbscan":
        return DBSCAN(eps=eps, min_samples=min_samples)
    size = min_cluster_size or max(10, fit_pixels // 100)
    return HDBSCAN(min_cluster_size=size, min_samples=min_samples)


def _place(image, algorithm, device, n_segments):
    """The image on the device the work runs on ("auto": the GPU when one answers and the
    image is large enough, ``backend.resolve_device``)."""
    H, W = image.shape[:2]
    work = H * W * (9 * 5 * 10 if algorithm == "slic" else 5 * n_segments * 20)
    return backend.to_device(image, backend.resolve_device(device, image, work=work))


def _slic_segmentation(image, features, weights, scale, n_segments, superpixels, compactness,
                       random_state):
    start = time.perf_counter()
    labels = slic(image, superpixels, compactness, n_regions=n_segments)
    timings = {"fit": time.perf_counter() - start}
    X = pixel_features(image, features, weights, scale)
    settings = {"algorithm": "slic", "superpixels": superpixels, "compactness": compactness,
                "n_segments": n_segments, "scored on": list(features)}
    return describe(image, labels, X, features=features, timings=timings, settings=settings,
                    random_state=random_state)


def segment_one(image, *, algorithm="kmeans", features=("lab", "xy"), n_segments=8, weights=None,
                scale="standard", downsample=None, sample=None, superpixels=1000,
                compactness=10.0, eps=None, min_samples=10, min_cluster_size=None,
                random_state=0, device="auto"):
    """A ``Segmentation`` of one image by ``algorithm``, with the defaults of `gpucluster segment`.

    "kmeans": ``segment`` with gpucluster's KMeans(n_segments). "dbscan"
    and "hdbscan": gpucluster's DBSCAN / HDBSCAN fitted on every pixel of
    the image shrunk to about ``DENSITY_PIXELS`` pixels (unless
    ``downsample`` or ``sample`` says otherwise), each pixel taking its
    block's label; DBSCAN's ``eps`` defaults to ``auto_eps``, HDBSCAN's
    ``min_cluster_size`` to 1 % of the fitted pixels (at least 10).
    "slic": ``superpixels`` SLIC superpixels merged down to ``n_segments``
    regions, scored on ``features`` (``downsample`` and ``sample`` do not
    apply). ``device``: "auto", "cpu" or "cuda",
    where the image is moved before anything is computed.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}.")
    image = _place(load_image(image), algorithm, device, n_segments)
    if algorithm == "slic":
        return _slic_segmentation(image, features, weights, scale, n_segments, superpixels,
                                  compactness, random_state)
    if algorithm == "kmeans":
        estimator = make_estimator("kmeans", n_segments, random_state=random_state)
    else:
        if sample is not None:
            raise ValueError(
                f"{algorithm} has neither predict nor cluster_centers_, so it cannot label "
                "pixels it was not fitted on: fit it on a smaller copy of the image "
                "(downsample=N, --downsample N) instead of a pixel sample (sample, --sample).")
        if downsample is None:
            downsample = density_downsample(image.shape)
        H, W = image.shape[:2]
        fit_pixels = (H // downsample) * (W // downsample)
        if algorithm == "dbscan" and eps is None:
            eps = auto_eps(image, features, weights, scale, downsample, min_samples, random_state)
        estimator = make_estimator(algorithm, n_segments, eps=eps, min_samples=min_samples,
                                   min_cluster_size=min_cluster_size, fit_pixels=fit_pixels,
                                   random_state=random_state)
    result = segment(image, estimator, features, n_segments, weights=weights, scale=scale,
                     downsample=downsample, sample=sample, random_state=random_state)
    result.settings["algorithm"] = algorithm
    return result


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress_bar(total, progress):
    if not progress or total < 2:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="segmenting", unit="image", file=sys.stderr)


def _check_outputs(out, names, overwrite):
    """Refuse, before any work, to replace the page or an image's files unless ``overwrite``."""
    if overwrite:
        return
    page = os.path.join(out, PAGE_NAME)
    if os.path.lexists(page):
        raise FileExistsError(f"{page} exists; pass overwrite=True (--overwrite) to replace it.")
    for name in names:
        for file_name in FILES.values():
            path = os.path.join(out, name, file_name)
            if os.path.lexists(path):
                raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it.")


def segment_images(inputs, out, *, overwrite=False, progress=True, follow_links=False,
                   segmenter=None, **options):
    """Segment every image of ``inputs`` (files and folders) into ``out``.

    Parameters
    ----------
    inputs : path or list of paths; folders are scanned recursively
    out : str, the output folder (created)
    overwrite : bool, replace existing files of the same names
    progress : bool, a progress bar on stderr when there are several images
    follow_links : bool, follow links out of the input folders (``discover_images``)
    segmenter : callable (path -> Segmentation) or None
        What segments one image; None: ``segment_one(path, **options)``.
    **options
        Passed to ``segment_one`` (algorithm, features, n_segments, ...);
        with a ``segmenter``, only shown on the page as its settings.

    Returns
    -------
    dict
        "out", "page" (index.html), "images" (one dict per segmented image:
        source, folder, n_segments, width, height, scores,
        no_spread_within_segments, settings, seconds) and
        "failures" ((path, reason) of files not segmented).

    Raises
    ------
    FileNotFoundError
        An input does not exist.
    FileExistsError
        The page or an image's files exist and ``overwrite`` is False.
    ValueError
        No image was found, or every image failed.
    """
    if segmenter is None:
        algorithm = options.get("algorithm", "kmeans")
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}.")
        check_features(options.get("features", ("lab", "xy")), options.get("weights"))

        def segmenter(path):
            return segment_one(path, **options)
    found = discover_images(inputs, follow_links=follow_links)
    failures = [(printable(p), reason) for p, reason in found.problems]
    failures += [(printable(p), "link out of the input folders (not followed)")
                 for p in found.outside_links]
    if not found.paths:
        raise ValueError("no image files found in " + ", ".join(
            printable(os.fspath(p)) for p in ([inputs] if isinstance(inputs, (str, os.PathLike))
                                             else inputs)))
    names = folder_names(found.paths)
    os.makedirs(out, exist_ok=True)
    _check_outputs(out, names, overwrite)
    rows = []
    bar = _progress_bar(len(found.paths), progress)
    try:
        for path, name in zip(found.paths, names):
            start = time.perf_counter()
            try:
                result = segmenter(path)
            except ImageDecodeError as error:
                failures.append((printable(path), error.reason))
                bar.update()
                continue
            except ValueError as error:  # this image, e.g. fewer pixels than segments
                failures.append((printable(path), str(error)))
                bar.update()
                continue
            result.save(os.path.join(out, name), overwrite=overwrite)
            H, W = result.labels.shape
            rows.append({"source": printable(path), "folder": name, "n_segments": result.n_segments,
                         "width": int(W), "height": int(H), "scores": result.scores,
                         "no_spread_within_segments": result.no_spread_within_segments,
                         "settings": result.settings, "seconds": time.perf_counter() - start})
            bar.update()
    finally:
        bar.close()
    if not rows:
        raise ValueError("no image could be segmented: " + "; ".join(f"{p}: {r}" for p, r in failures))
    settings = ", ".join(f"{k}={' '.join(map(str, v)) if isinstance(v, (tuple, list)) else v}"
                         for k, v in sorted(options.items()) if v is not None)
    page = write_page(out, rows, failures, settings=settings)
    return {"out": os.path.realpath(out), "page": page, "images": rows, "failures": failures}
