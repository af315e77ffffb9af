"""Find the image files under folders and in explicit path lists.

The scan is recursive, matches extensions case-insensitively and returns the
paths sorted, so two runs over the same tree see the same order. Paths are
absolute (``os.path.abspath``) but not resolved through symbolic links: an
image reached through a linked folder keeps the path the user sees. Linked
folders are entered after all real ones, and each folder (by device and
inode) is scanned once, so an image inside the inputs is listed under its
real path, not again under every link that leads to it. A link whose target
lies outside every input folder is not followed unless asked
(``follow_links=True``): it is listed in ``Discovery.outside_links`` instead,
so a link to ``/`` or a home folder cannot pull in a whole disk unnoticed.

Nothing found along the way is fatal except a missing input: unreadable
folders, symbolic link loops, broken links and special files are reported in
``Discovery.problems`` and the scan goes on.
"""

import errno
import os
import stat
from dataclasses import dataclass, field

from .. import _format as fmt

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclass
class Discovery:
    """What a scan found.

    Attributes
    ----------
    paths : list of str
        Image files: absolute, normalised, sorted, unique.
    problems : list of (str, str)
        ``(path, reason)`` for everything that could not be scanned or taken,
        sorted by path.
    outside_links : list of str
        Symbolic links (to folders, or to files with an image extension) that
        lead outside every input folder and were not followed, sorted; empty
        with ``follow_links=True``.
    """

    paths: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    outside_links: list = field(default_factory=list)


@dataclass
class _Links:
    """Which symbolic links a scan follows, and the ones it left out for leaving the inputs."""

    follow: bool
    follow_outside: bool
    # Real paths of the input folders, each ending in os.sep.
    roots: tuple = ()
    outside: list = field(default_factory=list)

    def leaves(self, path):
        """True, and ``path`` recorded, when link ``path`` leaves the inputs unfollowed."""
        if self.follow_outside:
            return False
        real = os.path.realpath(path)
        if any((real + os.sep).startswith(root) for root in self.roots):
            return False
        self.outside.append(path)
        return True


def normalize_extensions(extensions):
    """Lower-case extensions with a leading dot, as a tuple.

    ``"JPG"``, ``".jpg"`` and ``"*.jpg"`` all become ``".jpg"``. An empty
    collection or an empty name raises ValueError.
    """
    if isinstance(extensions, (str, bytes)):
        extensions = (extensions,)
    normalized = []
    for ext in extensions:
        if not isinstance(ext, str):
            raise TypeError(f"extensions must be strings, got {ext!r}")
        name = ext.strip().lower().lstrip("*")
        if not name.startswith("."):
            name = "." + name
        if name == ".":
            raise ValueError(f"empty extension in {tuple(extensions)!r}")
        normalized.append(name)
    if not normalized:
        raise ValueError("extensions is empty: no file could match")
    return tuple(dict.fromkeys(normalized))


def has_image_extension(path, extensions=IMAGE_EXTENSIONS):
    """True when the file name of ``path`` ends in one of ``extensions`` (any case)."""
    return os.path.splitext(os.fspath(path))[1].lower() in extensions


def printable(text):
    """``text`` (a path, or a message naming one) as valid UTF-8 that any terminal prints.

    A file name that is not valid UTF-8 reaches Python as a str with surrogate
    escapes (``os.fsdecode``); each such byte is shown as ``\\xNN`` instead, so
    ``b"x\\xe9.jpg"`` reads ``x\\xe9.jpg``. Valid text is returned unchanged.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file name decodes to
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _as_input_list(inputs):
    if isinstance(inputs, (str, bytes, os.PathLike)):
        inputs = [inputs]
    try:
        items = list(inputs)
    except TypeError:
        raise TypeError(
            f"inputs must be a path or a list of paths, got {type(inputs).__name__}"
        ) from None
    out = []
    for item in items:
        if not isinstance(item, (str, bytes, os.PathLike)):
            raise TypeError(f"each input must be a path, got {item!r}")
        path = os.fsdecode(os.fspath(item))
        if not path:
            raise ValueError("an input path is the empty string")
        out.append(os.path.abspath(path))
    return out


def _reason(error):
    """A short reason for an OSError, without the path repeated."""
    if isinstance(error, PermissionError):
        return "permission denied"
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if error.strerror:
        return error.strerror.lower()
    return str(error)


def _scan(start, ancestors, extensions, links, visited, deferred, paths, problems):
    """Depth-first scan of the real folders under ``start``.

    Appends image files to ``paths`` and reasons to ``problems``; ``links``
    (a ``_Links``) says which links to follow. Linked
    folders are not entered here but appended to ``deferred`` as
    ``(path, ancestors)``: they are scanned after every real folder, so an
    image inside the inputs is listed under its real path when it has one.
    ``visited`` maps the (st_dev, st_ino) of each folder already scanned to
    its path; ``ancestors`` holds the identities of the folders above.
    """
    stack = [(start, ancestors)]
    while stack:
        folder, ancestors = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as error:
            problems.append((folder, _reason(error)))
            continue
        subfolders = []
        for entry in entries:
            path = entry.path
            try:
                is_link = entry.is_symlink()
                if is_link and not links.follow:
                    continue
                if entry.is_dir():
                    if is_link:
                        if not links.leaves(path):
                            deferred.append((path, ancestors))
                        continue
                    sub = entry.stat(follow_symlinks=False)
                    key = (sub.st_dev, sub.st_ino)
                    if key not in visited:
                        visited[key] = path
                        subfolders.append((path, ancestors | {key}))
                    continue
                if not has_image_extension(entry.name, extensions):
                    continue
                if is_link and entry.is_file() and links.leaves(path):
                    continue
                if entry.is_file():
                    paths.append(path)
                elif is_link and not os.path.exists(path):
                    problems.append((path, "broken symbolic link"))
                else:
                    problems.append((path, "not a regular file"))
            except OSError as error:
                # is_dir() on a link that points to itself raises ELOOP.
                problems.append((path, _reason(error)))
        # Reversed so that the stack pops subfolders in sorted order.
        stack.extend(reversed(subfolders))


def _enter(path, ancestors, visited, problems, *, is_link):
    """The identity-extended ancestors of folder ``path``, or None to skip it."""
    try:
        st = os.stat(path)
    except OSError as error:
        problems.append((path, _reason(error)))
        return None
    key = (st.st_dev, st.st_ino)
    if key in ancestors:
        problems.append((path, "symbolic link loop"))
        return None
    if key in visited:
        if is_link:
            problems.append((path, f"folder already scanned as {visited[key]}"))
        return None
    visited[key] = path
    return ancestors | {key}


def discover_images(inputs, *, extensions=IMAGE_EXTENSIONS, follow_symlinks=True,
                    follow_links=False):
    """Image files under folders and among explicit paths.

    Parameters
    ----------
    inputs : path or list of paths (str or os.PathLike)
        Folders are scanned recursively; files are taken as given when their
        extension matches, else reported as "not an image extension".
    extensions : iterable of str
        File extensions to match, compared case-insensitively.
    follow_symlinks : bool
        Whether linked folders are entered and linked files taken while
        scanning folders. Explicit inputs are always followed. Loops are
        detected from folder identities (device, inode) and reported.
    follow_links : bool
        Whether links whose target lies outside every input folder are
        followed too (with ``follow_symlinks``). When False (default) they are
        listed in ``Discovery.outside_links`` and nothing behind them is taken.

    Returns
    -------
    Discovery
        ``paths`` (absolute, not resolved through links, sorted, unique),
        ``problems`` (``(path, reason)`` pairs) and ``outside_links``.

    Raises
    ------
    FileNotFoundError
        When an input does not exist (a broken link counts as missing).
    """
    extensions = normalize_extensions(extensions)
    roots = _as_input_list(inputs)
    missing = [path for path in roots if not os.path.exists(path)]
    if missing:
        raise FileNotFoundError(
            f"{fmt.word(len(missing), 'input path')} not found: "
            + ", ".join(missing)
        )
    paths, problems, visited, deferred = [], [], {}, []
    links = _Links(follow=bool(follow_symlinks), follow_outside=bool(follow_links),
                   roots=tuple(os.path.join(os.path.realpath(root), "") for root in roots
                               if os.path.isdir(root)))
    scan_args = (extensions, links, visited, deferred, paths, problems)
    for root in roots:
        try:
            mode = os.stat(root).st_mode
        except OSError as error:
            problems.append((root, _reason(error)))
            continue
        if stat.S_ISDIR(mode):
            ancestors = _enter(root, frozenset(), visited, problems, is_link=False)
            if ancestors is not None:
                _scan(root, ancestors, *scan_args)
        elif not has_image_extension(root, extensions):
            problems.append((root, "not an image extension"))
        elif stat.S_ISREG(mode):
            paths.append(root)
        else:
            problems.append((root, "not a regular file"))
    # Linked folders last, first found first: each may defer further links.
    position = 0
    while position < len(deferred):
        path, ancestors = deferred[position]
        position += 1
        ancestors = _enter(path, ancestors, visited, problems, is_link=True)
        if ancestors is not None:
            _scan(path, ancestors, *scan_args)
    return Discovery(
        paths=sorted(set(paths)),
        problems=sorted(set(problems)),
        outside_links=sorted(set(links.outside)),
    )
