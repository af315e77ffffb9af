"""The one-line notice that the Numba kernels are about to be compiled.

The CPU kernels compile on first use and are then cached on disk by Numba
(``cache=True``), so only the first command on a machine waits for them. Numba
gives no cheap way to ask whether a run's kernels are cached (each function's
index file appears only once that function has compiled), so a marker file in
the gpucluster cache folder records that a command finished once with this
gpucluster, Numba, Python and Numba cache location. Without the marker the
command says, in one line on stderr, that it compiles its kernels once and
roughly how long that takes.
"""

import hashlib
import os
import sys
from importlib import metadata

from ._version import __version__
from .kernels._numba import NUMBA_CACHE
from .pipeline import cache_dir

# Seconds of compilation before the first command of each kind finishes: a
# cold cache (an empty NUMBA_CACHE_DIR) minus a warm one on a 2-core x86 host,
# 2026-12-05, rounded up by about a third for slower machines. Measured:
# `gpucluster run` on the built-in collection 49.6 against 7.0 s (43 s), `gpucluster
# auto` on 500 x 32 vectors 44.0 against 2.5 s (41 s), `gpucluster cluster` 15-20 s
# (KMeans 22.3 against 2.2, HDBSCAN 17.4 against 2.2).
COMPILE_SECONDS = {"run": 60, "auto": 60, "cluster": 30}
MARKER_FOLDER = "compiled-kernels"


def _key(command):
    """The marker's name: the command, and a hash of what invalidates Numba's cache."""
    try:
        numba_version = metadata.version("numba")
    except metadata.PackageNotFoundError:
        numba_version = "none"
    kernels = os.path.dirname(sys.modules["gpucluster.kernels._numba"].__file__)
    ident = "|".join([__version__, numba_version, sys.version.split()[0],
                      os.environ.get("NUMBA_CACHE_DIR", ""), kernels])
    return f"{command}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}"


def _marker(command):
    return os.path.join(cache_dir(), MARKER_FOLDER, _key(command))


def _rough(seconds):
    return f"{round(seconds / 60)} min" if seconds >= 90 else f"{seconds} s"


def compile_notice(command, *, quiet=False, stream=None):
    """Print the compile notice for ``command`` ("run", "auto", "cluster") to stderr
    when its kernels may not be compiled yet; return whether it was printed.

    Nothing is printed when ``quiet``, when Numba's JIT is off, or when this
    command has already finished once with the same gpucluster, Numba and
    Python (see :func:`record_compiled`).
    """
    if quiet or command not in COMPILE_SECONDS or os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return False
    rough = _rough(COMPILE_SECONDS[command])
    if not NUMBA_CACHE:
        message = (f"compiling kernels (up to about {rough}; GPUCLUSTER_NUMBA_CACHE=0 "
                   "turned the on-disk cache off, so every run compiles)")
    elif os.path.exists(_marker(command)):
        return False
    else:
        message = f"compiling kernels once (up to about {rough}; cached for later runs)"
    print(f"[gpucluster] {message}", file=stream or sys.stderr, flush=True)
    return True


def record_compiled(command):
    """Note that ``command`` finished, so its kernels are in Numba's cache; a cache
    folder that cannot be written only means the notice shows again."""
    if command not in COMPILE_SECONDS or not NUMBA_CACHE:
        return
    path = _marker(command)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"gpucluster {__version__}: `{command}` finished with this cache\n")
    except OSError:
        pass
