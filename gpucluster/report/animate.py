"""An animated GIF of k-means: assignments and centre moves, one frame per Lloyd iteration."""

import os

import numpy as np

from .. import backend
from ..cluster import KMeans, kmeans_plusplus
from ._sections import cluster_color
from .projection import fit_pca

# The last frame is shown this many times longer, instead of extra hold frames,
# so the GIF has exactly one frame per iteration.
LAST_FRAME_HOLD = 5
_BACKGROUND, _TEXT, _TRAIL, _FIRST_CLUSTER = 0, 1, 2, 3


class _RecordingKMeans(KMeans):
    """KMeans that keeps a host copy of every Lloyd iteration in ``history_``."""

    def _iteration_callback(self):
        self.history_ = []

        def record(iteration, labels, centers, inertia):
            # Copies: the arrays belong to the running loop (and may be on a GPU).
            self.history_.append({
                "labels": np.array(backend.to_numpy(labels), dtype=np.int64),
                "inertia": float(inertia),
                "centers": np.array(backend.to_numpy(centers), dtype=np.float64),
            })

        return record


def kmeans_iterations(X, centers, *, max_iter=20, tol=1e-4):
    """The Lloyd iterations of :class:`gpucluster.KMeans` from ``centers``, one record each.

    Parameters
    ----------
    X : array of shape (n_samples, n_features); NumPy, CuPy, torch or any array-API array
    centers : array of shape (n_clusters, n_features), the initial centres
    max_iter : int
    tol : float
        KMeans's relative tolerance on the squared centre shift.

    Returns
    -------
    list of dict
        Per iteration ``labels`` (int64 NumPy, the assignment to the centres
        the iteration started from), ``inertia`` (float, the weighted sum of
        squared distances of that assignment) and ``centers`` (float64 NumPy,
        the centres after the update, an emptied cluster re-seeded as KMeans
        does). There are ``n_iter_`` records and the last ``centers`` are the
        fitted ``cluster_centers_`` of ``KMeans(init=centers, n_init=1)``.
    """
    model = _RecordingKMeans(centers.shape[0], init=centers, n_init=1, max_iter=max_iter, tol=tol)
    return model.fit(X).history_


def _palette(n_clusters):
    from PIL import ImageColor

    colors = [(255, 255, 255), (20, 20, 20), (60, 60, 60)]
    colors += [ImageColor.getrgb(cluster_color(k % 253)) for k in range(min(n_clusters, 253))]
    return [channel for color in colors for channel in color] + [0] * (3 * (256 - len(colors)))


def animate_kmeans(X, n_clusters=8, out="kmeans.gif", *, max_iter=20, tol=1e-4, random_state=0,
                   projection="pca", size=(480, 480), max_points=5000, duration=600, overwrite=False):
    """Write a GIF of k-means on X: one frame per Lloyd iteration.

    The iterations are those of :class:`gpucluster.KMeans` from a k-means++
    seeding (:func:`gpucluster.kmeans_plusplus`), on the full-dimensional
    data (:func:`kmeans_iterations`); points and centres are drawn on a 2-D
    PCA of X (the same axes for both). Each frame shows the points coloured by
    that iteration's assignment, the centres after it as large dots with their
    trails since the start, and the iteration number and inertia.

    Parameters
    ----------
    X : array of shape (n_samples, n_features); NumPy, CuPy or torch (copied to the host)
    n_clusters : int
    out : str
        The GIF file; an existing one raises FileExistsError unless ``overwrite``.
    max_iter, tol : KMeans's stopping rules
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
        ``out``. The GIF has exactly as many frames as Lloyd iterations ran
        (KMeans's ``n_iter_``).
    """
    from PIL import Image, ImageDraw

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
    history = kmeans_iterations(X, centers0, max_iter=max_iter, tol=tol)

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
