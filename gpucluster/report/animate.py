"""An animated GIF of k-means: assignments and centre moves, one frame per Lloyd iteration."""

import os

import numpy as np

from .. import backend
from .projection import fit_pca

# The last frame is shown this many times longer, instead of extra hold frames,
# so the GIF has exactly one frame per iteration.
LAST_FRAME_HOLD = 5
_BACKGROUND, _TEXT, _TRAIL, _FIRST_CLUSTER = 0, 1, 2, 3


def lloyd_history(X, centers, *, max_iter=20, tol=1e-4):
    """Lloyd iterations from ``centers``, keeping every step.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float
    centers : ndarray of shape (n_clusters, n_features), initial centres
    max_iter : int
    tol : float
        Relative tolerance, as KMeans: the run stops when the squared centre
        shift is at most ``tol`` times the mean feature variance, or when the
        assignment no longer changes.

    Returns
    -------
    list of dict
        Per iteration ``labels`` (int64, assignment to the previous centres),
        ``inertia`` (float, sum of squared distances for that assignment) and
        ``centers`` (the means after it). A cluster left empty keeps its centre.
    """
    X = np.asarray(X, dtype=np.float64)
    centers = np.array(centers, dtype=np.float64)
    threshold = float(np.mean(np.var(X, axis=0))) * tol
    x_sq = np.einsum("ij,ij->i", X, X)
    history = []
    previous = None
    for _ in range(int(max_iter)):
        distances = x_sq[:, None] - 2.0 * X @ centers.T + np.einsum("ij,ij->i", centers, centers)[None, :]
        labels = np.argmin(distances, axis=1).astype(np.int64)
        inertia = float(np.maximum(distances[np.arange(X.shape[0]), labels], 0.0).sum())
        counts = np.bincount(labels, minlength=centers.shape[0]).astype(np.float64)
        sums = np.zeros_like(centers)
        np.add.at(sums, labels, X)
        new = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1.0)[:, None], centers)
        history.append({"labels": labels, "inertia": inertia, "centers": new})
        shift = float(((new - centers) ** 2).sum())
        centers = new
        if (previous is not None and np.array_equal(labels, previous)) or shift <= threshold:
            break
        previous = labels
    return history


def _palette(n_clusters):
    from .html import cluster_color
    from PIL import ImageColor

    colors = [(255, 255, 255), (20, 20, 20), (60, 60, 60)]
    colors += [ImageColor.getrgb(cluster_color(k % 253)) for k in range(min(n_clusters, 253))]
    return [channel for color in colors for channel in color] + [0] * (3 * (256 - len(colors)))


def animate_kmeans(X, n_clusters=8, out="kmeans.gif", *, max_iter=20, tol=1e-4, random_state=0,
                   projection="pca", size=(480, 480), max_points=5000, duration=600, overwrite=False):
    """Write a GIF of k-means on X: one frame per Lloyd iteration.

    k-means++ seeding (gpucluster.kmeans_plusplus) and Lloyd steps run in
    NumPy on the full-dimensional data; points and centres are drawn on a 2-D
    PCA of X (the same axes for both). Each frame shows the points coloured by
    that iteration's assignment, the centres after it as large dots with their
    trails since the start, and the iteration number and inertia.

    Parameters
    ----------
    X : array of shape (n_samples, n_features); NumPy, CuPy or torch (copied to the host)
    n_clusters : int
    out : str
        The GIF file; an existing one raises FileExistsError unless ``overwrite``.
    max_iter, tol : Lloyd stopping rules (see lloyd_history)
    random_state : int
        Seed of the k-means++ seeding and of the drawn-point sample.
    projection : {"pca"}
        PCA only: centres must be projected with the points' own axes.
    size : (width, height) in pixels
    max_points : int
        Points drawn (all are clustered).
    duration : int
        Milliseconds per frame; the last frame stays LAST_FRAME_HOLD times longer.
    overwrite : bool

    Returns
    -------
    str
        ``out``. The GIF has exactly as many frames as Lloyd iterations ran.
    """
    from PIL import Image, ImageDraw

    from ..cluster import kmeans_plusplus

    if projection != "pca":
        raise ValueError(f"projection must be 'pca' (centres need the same linear axes), got {projection!r}.")
    X = np.asarray(backend.to_numpy(X), dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"X must be a non-empty 2-D array, got shape {X.shape}.")
    n_clusters = int(n_clusters)
    if not 1 <= n_clusters <= X.shape[0]:
        raise ValueError(f"n_clusters must be in [1, {X.shape[0]}], got {n_clusters}.")
    out = os.fspath(out)
    if os.path.lexists(out) and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it.")
    width, height = int(size[0]), int(size[1])
    centers0, _ = kmeans_plusplus(X, n_clusters, random_state=random_state)
    centers0 = np.asarray(backend.to_numpy(centers0), dtype=np.float64)
    history = lloyd_history(X, centers0, max_iter=max_iter, tol=tol)

    mean, components = fit_pca(X, 2, random_state=random_state)
    points = (X - mean) @ components.T
    tracks = [(c - mean) @ components.T for c in [centers0] + [h["centers"] for h in history]]
    everything = np.vstack([points] + tracks)
    low, high = everything.min(axis=0), everything.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    margin, top = 12, 28

    def to_pixels(xy):
        unit = (xy - low) / span
        return np.column_stack([margin + unit[:, 0] * (width - 2 * margin),
                                height - margin - unit[:, 1] * (height - margin - top)])

    shown = np.arange(X.shape[0])
    if X.shape[0] > max_points:
        shown = np.sort(np.random.default_rng(random_state).choice(X.shape[0], max_points, replace=False))
    pixels = to_pixels(points[shown])
    tracks = [to_pixels(t) for t in tracks]
    palette = _palette(n_clusters)
    n_colors = min(n_clusters, 253)
    frames = []
    for step, record in enumerate(history, start=1):
        frame = Image.new("P", (width, height), _BACKGROUND)
        frame.putpalette(palette)
        draw = ImageDraw.Draw(frame)
        colors = _FIRST_CLUSTER + record["labels"][shown] % n_colors
        for (x, y), color in zip(pixels.tolist(), colors.tolist()):
            draw.rectangle((x - 1, y - 1, x + 1, y + 1), fill=color)
        for k in range(n_clusters):
            trail = [tuple(t[k]) for t in tracks[: step + 1]]
            if len(trail) > 1:
                draw.line(trail, fill=_TRAIL, width=2)
            x, y = trail[-1]
            draw.ellipse((x - 7, y - 7, x + 7, y + 7), fill=_FIRST_CLUSTER + k % n_colors, outline=_TEXT, width=2)
        draw.text((margin, 8), f"iteration {step}   inertia {record['inertia']:.6g}", fill=_TEXT)
        frames.append(frame)
    durations = [duration] * (len(frames) - 1) + [duration * LAST_FRAME_HOLD]
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=durations,
                   loop=0, optimize=False, disposal=1)
    return out
