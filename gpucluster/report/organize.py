"""Folders of links (or copies) per cluster, written only inside the gallery folder."""

import json
import os
import re
import shutil

import numpy as np

from .. import _format as fmt
from .._files import atomic_write
from ._results import check_paths_match, normalize_names, resolve_result

ORGANIZE_MODES = ("link", "copy")
MANIFEST_NAME = "organize.json"
MAX_NAME_LENGTH = 120
_UNSAFE = re.compile(r"[^\w.+-]+")
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def safe_file_name(path):
    """A file name built from the basename of ``path`` alone, with anything but
    letters, digits and ``._+-`` replaced by ``_`` and no leading dot (so never
    ``..``, a hidden file or a separator)."""
    base = os.path.basename(str(path).replace("\\", "/").rstrip("/"))
    name = _UNSAFE.sub("_", base).lstrip("._")
    if not name:
        name = "image"
    if len(name) > MAX_NAME_LENGTH:
        stem, ext = os.path.splitext(name)
        ext = ext[:16]
        name = stem[: MAX_NAME_LENGTH - len(ext)] + ext
    return name


def safe_label(text, max_length=40):
    """A cluster name made safe for a folder name: ``[A-Za-z0-9_-]`` and other word characters."""
    return re.sub(r"[^\w-]+", "_", str(text)).strip("_-")[:max_length].strip("_-")


def folder_names(labels, names=None):
    """{label: folder name}: "cluster_003_n42[_name]" per cluster, "noise_n7" for -1."""
    labels = np.asarray(labels)
    names = normalize_names(names)
    ids, counts = np.unique(labels, return_counts=True)
    width = max(3, len(str(int(ids.max())))) if ids.size else 3
    folders = {}
    for label, count in zip(ids.tolist(), counts.tolist()):
        if label == -1:
            folders[-1] = f"noise_n{count}"
            continue
        folder = f"cluster_{label:0{width}d}_n{count}"
        suffix = safe_label(names.get(label, ""))
        folders[label] = f"{folder}_{suffix}" if suffix else folder
    return folders


def _unique_names(paths):
    """One safe, distinct file name per path (collisions get _1, _2 ... before the extension)."""
    taken = set()
    result = []
    for path in paths:
        name = safe_file_name(path)
        stem, ext = os.path.splitext(name)
        candidate, n = name, 0
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{stem}_{n}{ext}"
        taken.add(candidate.casefold())
        result.append(candidate)
    return result


def _inside(root_real, path):
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


class _Gallery:
    """Writes below one root; every write re-checks that its folder resolves inside the
    root and creates files with O_EXCL | O_NOFOLLOW, so neither a crafted name nor a
    symlink planted in the gallery can send a write elsewhere."""

    def __init__(self, root):
        if os.path.lexists(root) and not os.path.isdir(root):
            raise NotADirectoryError(f"{root}: the gallery must be a folder.")
        os.makedirs(root, exist_ok=True)
        self.root = os.path.realpath(root)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def check_parent(self, target, expected_parent):
        parent = os.path.dirname(target)
        if os.path.realpath(parent) != os.path.realpath(expected_parent) or not _inside(
                self.root, parent) or os.path.islink(parent):
            raise PermissionError(f"{target}: its folder does not resolve inside {self.root}; not written.")

    def make_folder(self, folder):
        target = self.path(folder)
        if os.path.islink(target) or (os.path.lexists(target) and not os.path.isdir(target)):
            os.unlink(target)  # only reached with overwrite=True (conflicts are checked first)
        os.makedirs(target, exist_ok=True)
        if os.path.realpath(target) != target:
            raise PermissionError(f"{target}: resolves outside {self.root}; not written.")
        return target

    def remove(self, target, expected_parent):
        self.check_parent(target, expected_parent)
        if os.path.lexists(target):
            if os.path.isdir(target) and not os.path.islink(target):
                raise IsADirectoryError(f"{target}: a folder is in the way; not removed.")
            os.unlink(target)  # a symlink is removed itself, never its target

    def link(self, source, target, folder, relative):
        self.check_parent(target, folder)
        os.symlink(os.path.relpath(source, folder) if relative else source, target)

    def copy(self, source, target, folder):
        self.check_parent(target, folder)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o644)
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
        except BaseException:
            os.unlink(target)
            raise
        stat = os.stat(source)
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns), follow_symlinks=False)

    def write_json(self, name, obj):
        text = json.dumps(obj, indent=1).encode("utf-8")
        atomic_write(self.path(name), lambda handle: handle.write(text))


def organize(result, paths=None, out=None, *, rank=1, mode="link", names=None,
             overwrite=False, relative=False):
    """Sort images into one folder per cluster, as symlinks or copies.

    Parameters
    ----------
    result : str, path, SearchResult or array of shape (n_samples,)
        A results folder (summary.json; ``rank`` picks the labels), an object
        with ``labels(rank)``, or the labels themselves (int, -1 = noise).
    paths : list of str or None
        The image of each row; None reads ``result``/paths.json.
    out : str
        The gallery folder (created when missing). Nothing is written outside it.
    rank : int
        Which ranked result of a results folder (1 = best).
    mode : {"link", "copy"}
        Symlinks to the originals (absolute targets, or relative to the cluster
        folder with ``relative=True``), or copies (mtime kept). Where the file
        system refuses a symlink, the file is copied and counted.
    names : dict, list or None
        Zero-shot names per cluster label, appended (sanitised) to folder names.
    overwrite : bool
        Replace existing entries with the same names. Without it any existing
        target raises FileExistsError before anything is written.

    Returns
    -------
    dict
        The manifest, also saved as ``out``/organize.json: the gallery, mode,
        rank, per cluster its folder, size, name and files written, images
        skipped (missing sources) and links that became copies.

    Notes
    -----
    Folders are "cluster_003_n42" (label, size), "cluster_003_n42_beach" with a
    name, and "noise_n7" for label -1. A file's name comes from the basename of
    its path only, sanitised (a manifest path "../x.jpg" or "/etc/passwd"
    becomes "x.jpg" or "passwd" inside its cluster folder); equal names get a
    numeric suffix. Each write checks that its folder resolves inside the
    gallery and creates the entry exclusively without following symlinks.
    """
    if mode not in ORGANIZE_MODES:
        raise ValueError(f"mode must be one of {ORGANIZE_MODES}, got {mode!r}.")
    if out is None:
        raise ValueError("out (the gallery folder) is required.")
    labels, _, result_paths = resolve_result(result, rank)
    if paths is None:
        paths = result_paths
    if paths is None:
        raise ValueError("paths were not given and the result has no paths.json.")
    paths = [os.fspath(p) for p in paths]
    check_paths_match(paths, labels.shape[0])
    names = normalize_names(names)
    folders = folder_names(labels, names)
    gallery = _Gallery(out)

    plan = {}
    for label, folder in folders.items():
        members = [paths[i] for i in np.flatnonzero(labels == label)]
        plan[label] = (folder, members, _unique_names(members))

    conflicts = []
    if os.path.lexists(gallery.path(MANIFEST_NAME)):
        conflicts.append(gallery.path(MANIFEST_NAME))
    for folder, _, file_names in plan.values():
        folder_path = gallery.path(folder)
        if os.path.islink(folder_path) or (os.path.lexists(folder_path) and not os.path.isdir(folder_path)):
            conflicts.append(folder_path)
            continue
        if os.path.isdir(folder_path):
            conflicts.extend(os.path.join(folder_path, n) for n in file_names
                             if os.path.lexists(os.path.join(folder_path, n)))
    if conflicts and not overwrite:
        raise FileExistsError(
            f"{fmt.counted(len(conflicts), 'target')} already "
            f"{fmt.word(len(conflicts), 'exists', 'exist')} in {gallery.root}, e.g. {conflicts[0]}; "
            "pass overwrite=True (--overwrite) to replace them."
        )

    manifest = {"out": gallery.root, "mode": mode, "rank": rank, "relative_links": bool(relative),
                "clusters": [], "skipped": [], "copied_instead_of_linked": 0}
    for label, (folder, members, file_names) in plan.items():
        folder_path = gallery.make_folder(folder)
        written = 0
        for source, name in zip(members, file_names):
            source = os.path.abspath(source)
            if not os.path.isfile(source):
                manifest["skipped"].append([source, "missing or not a file"])
                continue
            target = os.path.join(folder_path, name)
            gallery.remove(target, folder_path)
            if mode == "link":
                try:
                    gallery.link(source, target, folder_path, relative)
                except FileExistsError:
                    raise
                except OSError:
                    gallery.copy(source, target, folder_path)
                    manifest["copied_instead_of_linked"] += 1
            else:
                gallery.copy(source, target, folder_path)
            written += 1
        manifest["clusters"].append({"label": int(label), "folder": folder, "size": len(members),
                                     "name": names.get(int(label)), "written": written})
    manifest["n_files"] = sum(c["written"] for c in manifest["clusters"])
    gallery.write_json(MANIFEST_NAME, manifest)
    return manifest
