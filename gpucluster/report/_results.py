"""The report's view of a result (a results folder, read by `auto.load_result`, a
SearchResult or a labels array) and of zero-shot cluster names."""

import os

import numpy as np

from .. import _format as fmt
from .. import backend
from ..auto.results import load_result


def check_labels(labels, name="labels"):
    """Labels as an int64 vector; -1 is noise, anything below is refused."""
    labels = np.asarray(backend.to_numpy(labels))
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {labels.shape}.")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.mod(labels, 1) == 0):
            raise TypeError(f"{name} must be integers, got dtype {labels.dtype}.")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < -1:
        raise ValueError(f"{name} must be >= -1 (-1 = noise), found {int(labels.min())}.")
    return labels


def check_paths_match(paths, n_labels):
    """ValueError unless ``paths`` has one entry per label (``n_labels`` of them)."""
    if len(paths) != n_labels:
        raise ValueError(f"{fmt.counted(len(paths), 'path')} for {fmt.counted(n_labels, 'label')}: "
                         "they must match row for row.")


def resolve_result(result, rank=1):
    """(labels, summary or None, paths or None) from a results folder, an object with
    ``labels(rank)`` (an auto SearchResult) or a labels array."""
    if isinstance(result, (str, os.PathLike)):
        summary = load_result(result)
        return check_labels(summary.labels(rank)), summary, summary.paths()
    if hasattr(result, "labels") and callable(result.labels):
        return check_labels(result.labels(rank)), None, None
    return check_labels(result), None, None


def normalize_names(names):
    """Cluster names as {label: str}.

    Accepts {label: name}, a list with one entry per cluster label, and the
    output of gpucluster.embed.naming.name_clusters (per cluster a list of
    (name, score) pairs, best first). Empty entries are dropped.
    """
    if names is None:
        return {}
    items = names.items() if isinstance(names, dict) else enumerate(names)
    result = {}
    for label, value in items:
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
            if isinstance(value, (list, tuple)):
                value = value[0] if value else None
        if value is None or str(value).strip() == "":
            continue
        result[int(label)] = str(value).strip()
    return result
