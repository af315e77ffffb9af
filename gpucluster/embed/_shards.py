"""Shard files of an embedding store: numbered ``.npy`` arrays, written atomically, read by row.

A shard is ``shards/<number:06d>.npy``, an (n_rows, dim) float16 or float32 array saved
with ``np.save`` and read back memory-mapped with ``allow_pickle=False``. Every file goes
through a temporary file in the same folder, fsynced and renamed over its final name,
so a reader sees either no file or a complete one. Which shards are live is the
manifest's business (``store.py``); this module writes, reads and deletes the files.
It imports only the standard library and NumPy.
"""

import contextlib
import io
import os
import re
import secrets

import numpy as np

_SHARD_NAME = re.compile(r"^(\d+)\.npy$")
_TMP_SUFFIX = ".tmp"


class ShardGone(RuntimeError):
    """A shard the manifest referenced was deleted before it was read."""


def _fsync_dir(folder):
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(final, data, crash_hook=None):
    """Write bytes to ``final`` through a temporary file in the same folder, fsync, rename.

    Parameters
    ----------
    final : str
        The file to write; replaced when it exists.
    data : bytes
    crash_hook : callable or None
        Called with "shard_partial" (half the temporary file written) and
        "shard_written" (temporary file complete and fsynced, not renamed), so that
        crash tests can kill the process there.
    """
    folder, name = os.path.split(final)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}{_TMP_SUFFIX}")
    try:
        with open(tmp, "xb") as f:
            half = len(data) // 2
            f.write(data[:half])
            if crash_hook is not None:
                f.flush()
                crash_hook("shard_partial")
            f.write(data[half:])
            f.flush()
            os.fsync(f.fileno())
        if crash_hook is not None:
            crash_hook("shard_written")
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def write_temporary(folder, data):
    """Write bytes to a new temporary file in ``folder``, fsynced; return its path.

    The file is named as :func:`write_atomic`'s temporary files are, so a writer that
    takes the store's lock deletes it as a leftover (:func:`remove_temporaries`) unless
    :func:`publish` renamed it first. Used by processes that write a shard without
    holding the lock (the workers of a Dask cluster), leaving the rename and the
    manifest to the one process that holds it.
    """
    tmp = os.path.join(folder, f".worker.{os.getpid()}.{secrets.token_hex(8)}{_TMP_SUFFIX}")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def publish(tmp, final):
    """Rename the temporary file ``tmp`` over ``final`` (same folder) and fsync the folder."""
    os.replace(tmp, final)
    _fsync_dir(os.path.dirname(final))


def encode(array):
    """The ``.npy`` bytes of ``array`` (no pickle), ready for :func:`write_shard`."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def shard_path(shard_dir, number):
    """The file of shard ``number`` in ``shard_dir``."""
    return os.path.join(shard_dir, f"{number:06d}.npy")


def write_shard(shard_dir, number, data, crash_hook=None):
    """Write :func:`encode`'s bytes as shard ``number``, atomically (see :func:`write_atomic`)."""
    write_atomic(shard_path(shard_dir, number), data, crash_hook)


def shard_files(shard_dir):
    """{shard number: file path} of the complete shards in ``shard_dir``."""
    shards = {}
    try:
        entries = list(os.scandir(shard_dir))
    except FileNotFoundError:
        return shards
    for entry in entries:
        match = _SHARD_NAME.match(entry.name)
        if match:
            shards[int(match.group(1))] = entry.path
    return shards


def open_shard(path, dtype):
    """The shard at ``path``, memory-mapped; checked to be 2-D of ``dtype``.

    Raises
    ------
    ShardGone
        When the file does not exist.
    RuntimeError
        When it holds another dtype or rank.
    """
    try:
        shard = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise ShardGone(
            f"Shard {path} referenced by the manifest is missing; the store is inconsistent. "
            f"Re-embed with force (clear())."
        ) from None
    if shard.ndim != 2 or shard.dtype != np.dtype(dtype):
        raise RuntimeError(
            f"Shard {path} holds {shard.dtype} of shape {shard.shape}; expected 2-D {dtype}."
        )
    return shard


def shard_length(path):
    """The number of rows of the shard at ``path``; 0 when it cannot be read."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False).shape[0]
    except (OSError, ValueError):
        return 0


def gather(shard_dir, dtype, shards, rows, *, out_dtype, dim=None):
    """Rows ``rows`` of shards ``shards`` into one (n, dim) array; each shard opened once.

    Parameters
    ----------
    shard_dir : str
        The shard folder, inside the store folder.
    dtype : str
        The shards' dtype.
    shards, rows : ndarray of int64, shape (n,)
        Shard number and row of each output row.
    out_dtype : numpy.dtype
    dim : int or None
        The embedding dimension; None reads it from the first shard (``shards`` must
        then be non-empty).

    Raises
    ------
    ShardGone
        When a shard was deleted (a writer superseded it after the caller's snapshot).
    RuntimeError
        When a shard's shape contradicts ``dim`` or ``rows``.
    """
    if dim is None:
        dim = open_shard(shard_path(shard_dir, int(shards[0])), dtype).shape[1]
    out = np.empty((len(shards), dim), dtype=out_dtype)
    if not len(shards):
        return out
    order = np.argsort(shards, kind="stable")
    numbers, starts = np.unique(shards[order], return_index=True)
    bounds = np.append(starts, len(order))
    for k, number in enumerate(numbers):
        positions = order[bounds[k] : bounds[k + 1]]
        shard_rows = rows[positions]
        shard = open_shard(shard_path(shard_dir, int(number)), dtype)
        if shard.shape[1] != dim or shard_rows.max() >= shard.shape[0]:
            raise RuntimeError(
                f"Embedding store {os.path.dirname(shard_dir)} is inconsistent: shard "
                f"{int(number)} has shape {shard.shape} but the manifest expects dim {dim} "
                f"and row {int(shard_rows.max())}. Re-embed with force (clear())."
            )
        out[positions] = shard[shard_rows]
    return out


def remove_temporaries(folder):
    """Delete the temporary files :func:`write_atomic` left in ``folder`` (a killed writer's).

    Call it only under the writers' lock: another writer's temporary file is in use.
    """
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            if entry.name.startswith(".") and entry.name.endswith(_TMP_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def remove_unreferenced(shard_dir, referenced):
    """Delete the shards of ``shard_dir`` whose numbers are not in ``referenced``."""
    for number, path in shard_files(shard_dir).items():
        if number not in referenced:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
