"""The writers' lock of an embedding store: an exclusive ``fcntl.flock``, reentrant per thread.

Two processes embedding into one store must run one after the other, so every writer
holds an exclusive ``flock`` on the store's lock file for its whole run. In one process
the hold is shared by every caller on the same file and is reentrant for the thread
that holds it; other threads and processes wait. This module imports only the standard
library.
"""

import contextlib
import os
import threading
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system
    fcntl = None


class _LockState:
    """This process's hold on one lock file: reentrant for the thread that holds it."""

    def __init__(self):
        self.pid = os.getpid()
        self.mutex = threading.RLock()
        self.depth = 0
        self.fd = None


_LOCK_STATES = {}
_LOCK_STATES_GUARD = threading.Lock()


def _lock_state(lock_path):
    # flock conflicts between two descriptors of one process, so every store object
    # on the same folder shares one state: nesting lock() never deadlocks itself.
    key = os.path.realpath(lock_path)
    with _LOCK_STATES_GUARD:
        state = _LOCK_STATES.get(key)
        if state is None or state.pid != os.getpid():
            # A forked child starts afresh: the parent's hold is not the child's.
            state = _LockState()
            _LOCK_STATES[key] = state
        return state


def _acquire_file_lock(lock_path, deadline):
    if fcntl is None:  # pragma: no cover - not a POSIX system
        raise OSError("Writing an embedding store needs fcntl.flock (a POSIX system).")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if deadline is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return fd
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"Another process holds the store lock {lock_path}."
                    ) from None
                time.sleep(0.05)
    except BaseException:
        os.close(fd)
        raise


def _release_file_lock(fd):
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def held(lock_path):
    """True when this process holds the lock on ``lock_path`` (see :func:`hold`)."""
    return _lock_state(lock_path).depth > 0


@contextlib.contextmanager
def hold(lock_path, timeout=None, on_acquire=None):
    """Hold the exclusive inter-process lock on ``lock_path`` (created when missing).

    Parameters
    ----------
    lock_path : str
        The lock file.
    timeout : float or None
        Seconds to wait for another thread or process; None waits for ever.
    on_acquire : callable or None
        Called with no arguments each time this process takes the file lock (not
        on a nested hold), while it holds it; if it raises, the lock is released.

    Raises
    ------
    TimeoutError
        When another thread or process still holds the lock after ``timeout`` seconds.
    """
    state = _lock_state(lock_path)
    deadline = None if timeout is None else time.monotonic() + timeout
    if not state.mutex.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
        raise TimeoutError(f"Another thread holds the store lock {lock_path}.")
    try:
        if state.depth == 0:
            fd = _acquire_file_lock(lock_path, deadline)
            try:
                if on_acquire is not None:
                    on_acquire()
            except BaseException:
                _release_file_lock(fd)
                raise
            state.fd = fd
        state.depth += 1
        try:
            yield
        finally:
            state.depth -= 1
            if state.depth == 0:
                fd, state.fd = state.fd, None
                _release_file_lock(fd)
    finally:
        state.mutex.release()
