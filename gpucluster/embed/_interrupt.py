"""Stopping an embedding run with Ctrl-C or SIGTERM: what was kept and how to go on.

The store commits each batch on its own (a shard, then its manifest rows), so a
run stopped between batches keeps everything written so far and the same
command resumes it. :func:`sigterm_as_interrupt` turns SIGTERM into an
exception for the duration of a command, so it takes the same clean path as
Ctrl-C's KeyboardInterrupt; :class:`EmbeddingInterrupted` carries what the
commands print, and :func:`exit_status` the conventional exit code.
"""

import contextlib
import signal
import threading

from .. import _format as fmt


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised by the handler of :func:`sigterm_as_interrupt`."""

    signum = signal.SIGTERM


class EmbeddingInterrupted(KeyboardInterrupt):
    """An embedding run stopped by Ctrl-C or SIGTERM after ``embedded`` images were
    written to the store at ``store`` (``reused`` more were there already).

    A KeyboardInterrupt, so ``except KeyboardInterrupt`` still catches it.
    """

    def __init__(self, embedded, reused, store, signum=signal.SIGINT):
        super().__init__(embedded, reused, store, signum)
        self.embedded = embedded
        self.reused = reused
        self.store = store
        self.signum = signum

    def __str__(self):
        already = (f" ({self.reused:,} {fmt.word(self.reused, 'was', 'were')} there already)"
                   if self.reused else "")
        return (f"interrupted: {self.embedded:,} {fmt.word(self.embedded, 'image')} embedded "
                f"and kept in {self.store}"
                f"{already}; run the same command again to resume")


def signal_number(exc):
    """The signal behind a KeyboardInterrupt: SIGTERM for :class:`Terminated` (or an
    :class:`EmbeddingInterrupted` made from one), else SIGINT."""
    return getattr(exc, "signum", signal.SIGINT)


def exit_status(exc):
    """The shell's code for a process ended by the signal behind ``exc``: 128 + its
    number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(signal_number(exc))


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Inside the block, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt);
    the previous handler comes back afterwards. Outside the main thread, where
    Python cannot install handlers, the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
