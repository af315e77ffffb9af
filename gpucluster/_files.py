"""Atomic file writes that never follow a symlink planted at the target (used by
the search results, the gallery and the report)."""

import os
import secrets

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def atomic_write(path, write):
    """Write ``path`` through a fresh temporary file in the same folder, then rename.

    ``write(handle)`` fills the binary file. The temporary is created with
    O_EXCL | O_NOFOLLOW and mode 0o644 (less the umask), and the rename
    replaces whatever entry is at ``path`` (a symlink included) instead of
    writing through it.
    """
    folder, name = os.path.split(os.path.abspath(path))
    temp = os.path.join(folder, f".{name[:40]}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(temp, path)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise
    return path
