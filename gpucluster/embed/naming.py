"""Zero-shot cluster names: rank candidate labels per cluster with a CLIP text tower."""

import numpy as np

from .. import _format as fmt
from .. import backend, kernels

DEFAULT_TEMPLATES = (
    "a photo of {}.",
    "a photo of a {}.",
    "a photo of the {}.",
    "a close-up photo of a {}.",
    "a picture of a {}.",
    "an image of a {}.",
)

# Candidate names used when the user gives none: the 80 object categories of
# the COCO detection set plus common scene and picture types, so a photo
# collection's clusters get a first, coarse name.
DEFAULT_LABELS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
    "beach", "mountain", "forest", "city street", "building", "sky", "night sky", "sunset",
    "snow", "desert", "lake", "river", "garden", "flower", "tree", "food", "drink", "text document",
    "handwritten digit", "screenshot", "drawing", "map", "face", "group of people", "crowd",
    "interior room", "kitchen", "office", "stadium", "concert", "wedding", "portrait", "selfie",
    "coins", "microscope image", "medical scan", "space", "rocket", "statue", "temple",
)

# CLIP's learned logit scale converges to its cap of 100; it turns cosine
# similarities into softmax scores the way CLIP's zero-shot classifier does.
LOGIT_SCALE = 100.0


def cluster_centroids(X, labels):
    """Mean embedding of each cluster (``kernels.centroid_update``), noise (label -1) left out.

    Parameters
    ----------
    X : array of shape (n_samples, dim); NumPy, CuPy or torch
    labels : array of shape (n_samples,), int

    Returns
    -------
    centroids : ndarray of shape (n_clusters, dim), float32
    cluster_ids : ndarray of shape (n_clusters,), int64, sorted
    """
    X = np.asarray(backend.to_numpy(X), dtype=np.float32)
    labels = np.asarray(backend.to_numpy(labels)).astype(np.int64, copy=False)
    if X.ndim != 2 or labels.shape != (X.shape[0],):
        raise ValueError(
            f"X must be (n_samples, dim) and labels (n_samples,), got {X.shape} and {labels.shape}"
        )
    ids = np.unique(labels[labels >= 0])
    if ids.size == 0:
        raise ValueError("labels contain no cluster (every sample is noise, label -1)")
    # The kernel skips the noise rows; clusters numbered below ids[-1] that have
    # no rows get zero weight and are not read.
    sums, weights = kernels.centroid_update(X, labels, int(ids[-1]) + 1)
    centroids = (sums[ids] / weights[ids, None]).astype(np.float32)
    return centroids, ids


def text_embeddings(labels, model, *, templates=DEFAULT_TEMPLATES):
    """Unit-norm text embedding per label: the mean over templates of the normalised embeddings.

    Returns an ndarray of shape (len(labels), model.dim), float32.
    """
    import torch

    if not getattr(model, "has_text", False):
        raise ValueError(
            f"model {getattr(model, 'name', model)!r} has no text tower; naming clusters needs a "
            f"CLIP model with text (an open_clip architecture such as 'ViT-B-32')"
        )
    labels = _check_strings(labels, "labels")
    templates = _check_strings(templates, "templates")
    for template in templates:
        if "{}" not in template:
            raise ValueError(f"template {template!r} has no '{{}}' placeholder for the label")
    total = None
    with torch.inference_mode():
        for template in templates:
            emb = model.encode_text([template.format(label) for label in labels]).float()
            emb = torch.nn.functional.normalize(emb, dim=-1)
            total = emb if total is None else total + emb
        mean = torch.nn.functional.normalize(total / len(templates), dim=-1)
    return mean.cpu().numpy().astype(np.float32)


def name_clusters(centroids, labels, model, *, templates=DEFAULT_TEMPLATES, top=3):
    """Rank candidate labels for each cluster by CLIP zero-shot scores.

    Parameters
    ----------
    centroids : array of shape (n_clusters, dim)
        Cluster centres in the image embedding space of ``model`` (normalised or
        not); NumPy, CuPy or torch. See :func:`cluster_centroids`.
    labels : list of str
        Candidate names, e.g. ``["cat", "dog", "car"]``.
    model : EmbeddingModel
        An open_clip model (it must have a text tower) that made the embeddings.
    templates : sequence of str
        Prompts with one ``{}`` for the label; their text embeddings are averaged.
    top : int
        How many labels to return per cluster.

    Returns
    -------
    list (one per cluster) of lists of ``(label, score)``, best first; scores are
    softmax probabilities over all labels (logit scale 100).
    """
    C = np.asarray(backend.to_numpy(centroids), dtype=np.float32)
    if C.ndim == 1:
        C = C[None, :]
    if C.ndim != 2 or C.shape[0] == 0:
        raise ValueError(f"centroids must have shape (n_clusters, dim), got {C.shape}")
    if not np.all(np.isfinite(C)):
        raise ValueError("centroids contain NaN or inf")
    if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
        raise ValueError(f"top must be an integer >= 1, got {top!r}")
    T = text_embeddings(labels, model, templates=templates)
    if C.shape[1] != T.shape[1]:
        raise ValueError(
            f"centroids have {fmt.counted(C.shape[1], 'feature')} but the text embeddings of "
            f"{model.name} have "
            f"{T.shape[1]}: the centroids must come from the same model"
        )
    norms = np.linalg.norm(C, axis=1, keepdims=True)
    C = C / np.where(norms > 0, norms, 1.0)
    logits = LOGIT_SCALE * (C.astype(np.float64) @ T.astype(np.float64).T)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    names = list(labels)
    k = min(int(top), len(names))
    out = []
    for row in probs:
        order = np.argsort(-row, kind="stable")[:k]
        out.append([(names[j], float(row[j])) for j in order])
    return out


def _check_strings(values, what):
    if isinstance(values, str):
        raise TypeError(f"{what} must be a list of strings, not a single string")
    values = list(values)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{what} must be a non-empty list of non-empty strings")
    return values
