"""Image segmentation cases for benchmarks/run.py: KMeans on pixel features and SLIC superpixels.

    python benchmarks/segmentation.py            # 12-megapixel photo
    python benchmarks/segmentation.py --quick    # 1 megapixel

The photo is scikit-image's ``astronaut`` (512 x 512) upscaled with Pillow's
bicubic filter to 3464 x 3464 (12.0 megapixels; 1000 x 1000 with --quick).
Every tool is warmed first by an untimed run on a 256 x 256 crop, so nobody's
JIT compilation or first-call set-up is timed; timed runs are the best of
``repeat``.

- Features: Lab + XY of every pixel, ``gpucluster.segment.pixel_features``
  against scikit-image's ``rgb2lab`` plus NumPy coordinates and the same
  group scaling (the same matrix to within float32 rounding).
- KMeans(8) on those features: gpucluster (``device="cpu"``) against
  scikit-learn, both Lloyd from the same 8 initial centres (the first rows
  of a fixed permutation), ``tol=0``, exactly 20 iterations; inertia
  recomputed in float64 from each one's centres, and the ARI of their labels.
- SLIC at n_segments=1000, compactness 10, 10 iterations:
  ``gpucluster.segment.slic`` against ``skimage.segmentation.slic`` (both
  enforce connectivity); superpixel counts, and how well each one's
  boundaries are matched by the other's (boundary recall at 2 pixels).
- On a GPU (``gpucluster.backend.gpu_available()``), the gpucluster side again
  with the photo as a CuPy array: features, KMeans (``device="cuda"``) and SLIC.
"""

import math
import time

import numpy as np

SEED = 0
N_CLUSTERS = 8
N_ITER = 20
N_SUPERPIXELS = 1000
COMPACTNESS = 10.0
SIDE = 3464          # 12.0 megapixels
QUICK_SIDE = 1000
WARM_SIDE = 256


def photo(side):
    """scikit-image's astronaut, upscaled (bicubic) to side x side, uint8 RGB."""
    from PIL import Image
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((side, side), Image.BICUBIC))


def best_time(fn, repeat, sync=None):
    """(best wall seconds, result of the last call) over ``repeat`` calls."""
    best, result = math.inf, None
    for _ in range(max(1, repeat)):
        if sync:
            sync()
        start = time.perf_counter()
        result = fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - start)
    return best, result


def features_gpucluster(image):
    from gpucluster.segment import pixel_features

    return pixel_features(image, ("lab", "xy"))


def features_skimage(image):
    """rgb2lab + coordinates, each group centred and divided by the RMS of its columns' stds."""
    from skimage.color import rgb2lab

    H, W = image.shape[:2]
    lab = rgb2lab(image).reshape(-1, 3).astype(np.float32)
    span = max(H, W) - 1
    yy, xx = np.mgrid[:H, :W]
    xy = np.column_stack([xx.ravel() / span, yy.ravel() / span]).astype(np.float32)
    groups = []
    for group in (lab, xy):
        centred = group - group.mean(axis=0, dtype=np.float64).astype(np.float32)
        groups.append(centred / np.float32(np.sqrt(np.mean(centred.var(axis=0, dtype=np.float64)))))
    return np.hstack(groups)


def initial_centers(X, k, seed=SEED):
    """The first k rows of a fixed permutation of X (host or CuPy)."""
    rows = np.random.default_rng(seed + 1).permutation(X.shape[0])[:k]
    if isinstance(X, np.ndarray):
        return np.ascontiguousarray(X[rows])
    import cupy

    return cupy.ascontiguousarray(X[cupy.asarray(rows)])


def kmeans_gpucluster(X, C, n_iter, device):
    from gpucluster import KMeans

    est = KMeans(C.shape[0], init=C, n_init=1, max_iter=n_iter, tol=0, device=device).fit(X)
    return est.cluster_centers_, est.labels_, int(est.n_iter_)


def kmeans_sklearn(X, C, n_iter):
    from sklearn.cluster import KMeans

    est = KMeans(C.shape[0], init=C, n_init=1, max_iter=n_iter, tol=0, algorithm="lloyd").fit(X)
    return est.cluster_centers_, est.labels_, int(est.n_iter_)


def inertia64(X, centers, block=1 << 20):
    """Sum of squared distances to the nearest centre, all in float64, by blocks of rows."""
    from gpucluster import backend

    X = backend.to_numpy(X)
    C = np.asarray(backend.to_numpy(centers), dtype=np.float64)
    total = 0.0
    for start in range(0, X.shape[0], block):
        x = X[start:start + block].astype(np.float64)
        d = ((x[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
        total += float(d.min(axis=1).sum())
    return total


def slic_gpucluster(image):
    from gpucluster.segment import slic

    return slic(image, N_SUPERPIXELS, COMPACTNESS)


def slic_skimage(image):
    from skimage.segmentation import slic

    return slic(image, n_segments=N_SUPERPIXELS, compactness=COMPACTNESS, start_label=0)


def _boundary_recall(truth, labels, tolerance=2):
    from scipy import ndimage

    def edges(a):
        e = np.zeros(a.shape, bool)
        e[:, :-1] |= a[:, 1:] != a[:, :-1]
        e[:-1, :] |= a[1:, :] != a[:-1, :]
        return e

    found = ndimage.binary_dilation(edges(labels), np.ones((2 * tolerance + 1,) * 2, bool))
    return float(found[edges(truth)].mean())


def _warm(image):
    """One untimed run of every tool on a crop (compilation, thread pools, caches)."""
    crop = np.ascontiguousarray(image[:WARM_SIDE, :WARM_SIDE])
    X = features_gpucluster(crop)
    features_skimage(crop)
    C = initial_centers(X, N_CLUSTERS)
    kmeans_gpucluster(X, C, 2, "cpu")
    kmeans_sklearn(X, C, 2)
    slic_gpucluster(crop)
    slic_skimage(crop)


def _cpu_rows(image, repeat, log):
    from sklearn.metrics import adjusted_rand_score

    n = image.shape[0] * image.shape[1]
    rows = []
    log(f"[segmentation] features of {n / 1e6:.1f} MP ...")
    t_ours, X = best_time(lambda: features_gpucluster(image), repeat)
    t_theirs, X_ref = best_time(lambda: features_skimage(image), repeat)
    rows.append({"case": "Lab+XY features", "method": "gpucluster pixel_features", "seconds": t_ours,
                 "ratio": t_theirs / t_ours,
                 "detail": f"max |diff| vs scikit-image {float(np.abs(X - X_ref).max()):.1e}"})
    rows.append({"case": "Lab+XY features", "method": "scikit-image rgb2lab + NumPy",
                 "seconds": t_theirs, "ratio": None, "detail": ""})
    del X_ref
    C = initial_centers(X, N_CLUSTERS)
    log(f"[segmentation] KMeans({N_CLUSTERS}), {N_ITER} iterations, gpucluster ...")
    t_ours, (centers, labels, it) = best_time(lambda: kmeans_gpucluster(X, C, N_ITER, "cpu"), repeat)
    log(f"[segmentation] KMeans({N_CLUSTERS}), {N_ITER} iterations, scikit-learn ...")
    t_theirs, (ref_centers, ref_labels, ref_it) = best_time(lambda: kmeans_sklearn(X, C, N_ITER), repeat)
    ours64, theirs64 = inertia64(X, centers), inertia64(X, ref_centers)
    ari = adjusted_rand_score(np.asarray(ref_labels), np.asarray(labels))
    rows.append({"case": f"KMeans({N_CLUSTERS}) on Lab+XY", "method": "gpucluster (cpu)",
                 "seconds": t_ours, "ratio": t_theirs / t_ours,
                 "detail": f"{it} iterations, inertia {ours64:.6e} ({(ours64 - theirs64) / theirs64:+.1e}), "
                           f"ARI vs scikit-learn {ari:.4f}"})
    rows.append({"case": f"KMeans({N_CLUSTERS}) on Lab+XY", "method": "scikit-learn",
                 "seconds": t_theirs, "ratio": None,
                 "detail": f"{ref_it} iterations, inertia {theirs64:.6e}"})
    log(f"[segmentation] SLIC n_segments={N_SUPERPIXELS}, gpucluster ...")
    t_ours, ours = best_time(lambda: slic_gpucluster(image), repeat)
    log(f"[segmentation] SLIC n_segments={N_SUPERPIXELS}, scikit-image ...")
    t_theirs, theirs = best_time(lambda: slic_skimage(image), 1)
    ours = np.asarray(ours)
    rows.append({"case": f"SLIC n_segments={N_SUPERPIXELS}", "method": "gpucluster slic",
                 "seconds": t_ours, "ratio": t_theirs / t_ours,
                 "detail": f"{int(ours.max()) + 1} superpixels; recall of scikit-image's "
                           f"boundaries {_boundary_recall(theirs, ours):.3f}"})
    rows.append({"case": f"SLIC n_segments={N_SUPERPIXELS}", "method": "scikit-image slic",
                 "seconds": t_theirs, "ratio": None,
                 "detail": f"{int(theirs.max()) + 1} superpixels; recall of gpucluster's "
                           f"boundaries {_boundary_recall(ours, theirs):.3f} (best of 1)"})
    return rows


def _gpu_rows(image, repeat, log):
    import cupy

    sync = cupy.cuda.Device().synchronize
    image = cupy.asarray(image)
    crop = cupy.ascontiguousarray(image[:WARM_SIDE, :WARM_SIDE])
    Xw = features_gpucluster(crop)
    kmeans_gpucluster(Xw, initial_centers(Xw, N_CLUSTERS), 2, "cuda")
    slic_gpucluster(crop)
    sync()
    log("[segmentation] the same on the GPU (CuPy) ...")
    t_features, X = best_time(lambda: features_gpucluster(image), repeat, sync)
    C = initial_centers(X, N_CLUSTERS)
    t_kmeans, _ = best_time(lambda: kmeans_gpucluster(X, C, N_ITER, "cuda"), repeat, sync)
    t_slic, labels = best_time(lambda: slic_gpucluster(image), repeat, sync)
    return [
        {"case": "Lab+XY features", "method": "gpucluster (cuda)", "seconds": t_features,
         "ratio": None, "detail": ""},
        {"case": f"KMeans({N_CLUSTERS}) on Lab+XY", "method": "gpucluster (cuda)", "seconds": t_kmeans,
         "ratio": None, "detail": f"{N_ITER} iterations"},
        {"case": f"SLIC n_segments={N_SUPERPIXELS}", "method": "gpucluster (cuda)", "seconds": t_slic,
         "ratio": None, "detail": f"{int(labels.max()) + 1} superpixels"},
    ]


def run_segmentation(quick, log, gpu=False, repeat=2):
    """All rows of the segmentation cases: dicts of case, method, seconds, ratio, detail."""
    side = QUICK_SIDE if quick else SIDE
    image = photo(side)
    log(f"[segmentation] warming every tool on a {WARM_SIDE} x {WARM_SIDE} crop ...")
    _warm(image)
    rows = _cpu_rows(image, 1 if quick else repeat, log)
    if gpu:
        rows += _gpu_rows(image, 3, log)
    for row in rows:
        row["pixels"] = side * side
    return rows


def segmentation_markdown(rows):
    """Markdown lines for the segmentation table."""
    if not rows:
        return []
    side = int(math.isqrt(rows[0]["pixels"]))
    lines = [
        "",
        f"## Image segmentation ({side} x {side} = {rows[0]['pixels'] / 1e6:.1f} megapixels, "
        "scikit-image's astronaut upscaled)",
        "",
        "ratio = the peer's seconds / gpucluster's (>1: gpucluster faster). Every tool warmed on "
        f"a {WARM_SIDE} x {WARM_SIDE} crop first. KMeans: Lloyd from the same initial centres, "
        f"tol=0, {N_ITER} iterations; SLIC: compactness {COMPACTNESS:g}, 10 iterations, "
        "connectivity enforced.",
        "",
        "| case | method | seconds | ratio | notes |",
        "|---|---|---:|---:|---|",
    ]
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(f"| {r['case']} | {r['method']} | {r['seconds']:.2f} | {ratio} | {r['detail']} |")
    return lines


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 megapixel instead of 12")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per tool, best kept")
    args = parser.parse_args()
    from gpucluster import backend

    t0 = time.perf_counter()
    result = run_segmentation(args.quick, lambda m: print(f"{time.perf_counter() - t0:7.1f}s  {m}",
                                                          file=sys.stderr, flush=True),
                              gpu=backend.gpu_available(), repeat=args.repeat)
    print("\n".join(segmentation_markdown(result)))
