"""Reading a results folder (summary.json, rank_NN_<algorithm>/labels.npy, paths.json)
and normalising zero-shot cluster names."""

import json
import os

import numpy as np

from .. import backend


def load_summary(folder):
    """Parse ``folder``/summary.json; FileNotFoundError names the file when it is missing."""
    path = os.path.join(os.fspath(folder), "summary.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no summary.json, so {folder} is not a results folder.")
    with open(path, encoding="utf-8") as handle:
        summary = json.load(handle)
    if not isinstance(summary, dict) or "ranking" not in summary:
        raise ValueError(f"{path}: not a gpucluster results summary (no 'ranking').")
    return summary


def rank_entry(summary, rank):
    """The ranking entry for ``rank`` (1 = best); ValueError listing the ranks there are."""
    for entry in summary.get("ranking", []):
        if int(entry.get("rank", -1)) == int(rank):
            return entry
    ranks = [entry.get("rank") for entry in summary.get("ranking", [])]
    raise ValueError(f"rank {rank} is not in the results (ranks there: {ranks}).")


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


def load_rank(folder, summary, rank=1):
    """Labels (int64) and info.json (dict, {} when absent) of one rank of a results folder."""
    entry = rank_entry(summary, rank)
    sub = str(entry.get("folder", ""))
    # The folder name comes from a file: it must name a child, never a path elsewhere.
    if not sub or os.path.basename(sub) != sub or sub in (".", ".."):
        raise ValueError(f"rank {rank}: folder {sub!r} in summary.json is not a plain folder name.")
    rank_dir = os.path.join(os.fspath(folder), sub)
    labels_path = os.path.join(rank_dir, "labels.npy")
    if not os.path.isfile(labels_path):
        raise FileNotFoundError(f"{labels_path}: the labels of rank {rank} are missing.")
    labels = check_labels(np.load(labels_path, allow_pickle=False), labels_path)
    info_path = os.path.join(rank_dir, "info.json")
    info = {}
    if os.path.isfile(info_path):
        with open(info_path, encoding="utf-8") as handle:
            info = json.load(handle)
    return labels, info


def load_paths(folder):
    """The image path of each row from ``folder``/paths.json, or None when there is none."""
    path = os.path.join(os.fspath(folder), "paths.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        paths = json.load(handle)
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ValueError(f"{path}: expected a JSON list of path strings.")
    return paths


def resolve_result(result, rank=1):
    """(labels, summary or None, paths or None) from a results folder, an object with
    ``labels(rank)`` (an auto SearchResult) or a labels array."""
    if isinstance(result, (str, os.PathLike)):
        summary = load_summary(result)
        labels, _ = load_rank(result, summary, rank)
        return labels, summary, load_paths(result)
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
