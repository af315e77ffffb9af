"""An on-disk cache of image embeddings: one folder per configuration, shards plus a manifest.

This module owns the configuration folder and its SQLite manifest: which path has
which embedding (shard and row), when a shard is live, and the order of a write. The
shard files themselves are written and read by ``_shards``; the writers' lock is
``_lock``'s.

Layout of a store under a user folder ``root``::

    root/<slug>-<hash12>/        one folder per configuration (hash12: sha256 of its JSON)
        config.json              the configuration, canonical JSON
        manifest.sqlite          table images(path, size, mtime_ns, shard, row, status, reason)
        lock                     the writers' lock file (fcntl.flock)
        shards/000001.npy ...    (n_rows, dim) float16 or float32, np.save without pickle

Crash safety. A shard is written to a temporary file in ``shards/``, fsynced, renamed
over its final name with ``os.replace`` (and the folder fsynced); only then does one
SQLite transaction add its manifest rows. A process killed at any point therefore
leaves the old state or the new one: a temporary file nobody renamed, or a shard no
row references, is ignored by readers and deleted by the next writer when it takes
the lock. Shard numbers come from the folder and from the highest number ever
committed, so a number that rows once referenced is never reused.

Concurrency. Writers take an exclusive ``fcntl.flock`` on ``lock`` (``lock()``), so two
processes embedding into the same store run one after the other. Readers take no lock:
one SQL query gives a consistent snapshot of the manifest, and a shard that a writer
deletes in between (after its rows were superseded) makes ``load`` query again.

File names of any bytes. A path is stored as TEXT when it is valid UTF-8 (every
path of a store written before non-UTF-8 names were supported), else as a BLOB of
its file-system bytes (``os.fsencode``), and read back with ``os.fsdecode``: the
surrogate-escaped str that ``os.listdir`` gives for such a name. TEXT and BLOB
values never compare equal in SQLite, so the two kinds cannot collide and the
schema needs no new version (a gpucluster from before reads such a path as
bytes). A str that would not come back the same (a lone
surrogate that no file name decodes to) cannot be stored: ``storable_path``
says so, and writing it raises ValueError naming it.

Nothing is pickled: shards go through ``np.save``/``np.load(allow_pickle=False)``, the
configuration through JSON. This module imports only the standard library, NumPy and
its own light siblings (``_lock``, ``_shards``, ``discover``, ``gpucluster._format``);
CuPy and torch are imported when ``load`` is asked for them.
"""

import contextlib
import hashlib
import json
import os
import re
import sqlite3

import numpy as np

from .. import _format as fmt
from . import _lock, _shards
from .discover import printable

__all__ = [
    "EmbeddingStore",
    "StoreConfigError",
    "config_folder_name",
    "config_hash",
    "file_stats",
    "load_store",
    "open_store",
    "storable_path",
]

CONFIG_FILE = "config.json"
MANIFEST_FILE = "manifest.sqlite"
LOCK_FILE = "lock"
SHARD_DIR = "shards"
# Version of the manifest schema, kept in SQLite's user_version.
STORE_FORMAT = 1
STORE_DTYPES = ("float16", "float32")
LOAD_DTYPES = ("float32", "native")
ARRAY_KINDS = ("numpy", "cupy", "torch")
# compact() writes shards of at most this many rows.
COMPACT_SHARD_ROWS = 16384
# SQLite's default limit on bound parameters is 32766 since 3.32; stay far below it.
_SQL_CHUNK = 900
# Seconds a connection waits for another process's write transaction to finish.
_SQL_TIMEOUT = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    path TEXT PRIMARY KEY,
    size INTEGER,
    mtime_ns INTEGER,
    shard INTEGER,
    row INTEGER,
    status TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS images_shard ON images (shard);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


class StoreConfigError(ValueError):
    """A store folder was made with another configuration than the one asked for."""


def _crash_hook(point):
    """Named points of the write path; a no-op that crash tests replace to kill the process.

    Points: "shard_partial" (half the temporary shard written), "shard_written" (temporary
    shard complete and fsynced, not renamed), "shard_renamed" (shard in place, manifest
    not committed), "manifest_pending" (rows inserted, transaction not committed),
    "manifest_committed". The first two are reached inside ``_shards.write_atomic``,
    which is handed this function by name at each write, so replacing this module's
    attribute reaches them too.
    """


# --------------------------------------------------------------------------
# Configuration


def _canonical_json(config):
    try:
        return json.dumps(
            config, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"The store configuration must be JSON-serialisable (dicts, lists, str, "
            f"finite numbers, bool, None): {exc}"
        ) from None


def _check_config(config):
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}.")
    text = _canonical_json(config)
    dtype = config.get("dtype", "float32")
    if dtype not in STORE_DTYPES:
        raise ValueError(f"config['dtype'] must be one of {STORE_DTYPES}, got {dtype!r}.")
    dim = config.get("dim")
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
        raise ValueError(f"config['dim'] must be a positive int or None, got {dim!r}.")
    return text


def config_hash(config):
    """The 12-hex-digit sha256 of the canonical JSON of ``config`` (the folder suffix)."""
    return hashlib.sha256(_check_config(config).encode("ascii")).hexdigest()[:12]


def _slug(config):
    model = config.get("model")
    if isinstance(model, dict):
        words = [model.get("name"), model.get("pretrained")]
    else:
        words = [model if model is not None else config.get("name"), config.get("pretrained")]
    text = "-".join(str(w) for w in words if w not in (None, ""))
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    return slug or "store"


def config_folder_name(config):
    """The folder name of ``config`` inside a store root: ``<slug>-<hash12>``."""
    return f"{_slug(config)}-{config_hash(config)}"


def _read_config(folder):
    path = os.path.join(folder, CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except json.JSONDecodeError as exc:
        raise StoreConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise StoreConfigError(f"{path} does not hold a JSON object.")
    return config


def _config_difference(stored, wanted):
    keys = sorted(set(stored) | set(wanted))
    return [k for k in keys if _canonical_json(stored.get(k)) != _canonical_json(wanted.get(k))]


# --------------------------------------------------------------------------
# Files


def file_stats(paths):
    """(size, mtime_ns) of each path, or None for a path that cannot be stat'ed.

    Take the stats before reading a file: a file changed while it is embedded then
    looks changed to the next ``plan``.
    """
    stats = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            stats.append(None)
        else:
            stats.append((int(st.st_size), int(st.st_mtime_ns)))
    return stats


# --------------------------------------------------------------------------
# The store


class EmbeddingStore:
    """Embeddings of image files for one configuration, cached on disk and reused.

    Parameters
    ----------
    root : str or os.PathLike
        A user folder holding one folder per configuration; the store lives in
        ``root/<slug>-<hash12>/``. A configuration folder itself is accepted too
        (it holds ``config.json``).
    config : dict
        JSON-able identity of the embeddings (model, pretrained tag, checkpoint
        hash, resolution, preprocessing, normalisation, ``dtype``, ``dim``). It is
        hashed as given, so pass the same dict on every run. ``config["dtype"]`` is
        the shard dtype, "float16" or "float32" (default "float32");
        ``config["dim"]``, when not None, is checked against every write.
    create : bool
        Create the folder when it does not exist; else raise FileNotFoundError.

    Attributes
    ----------
    path : str
        The configuration folder.
    config : dict
        The configuration (as read back from JSON).

    Raises
    ------
    StoreConfigError
        When the folder's ``config.json`` holds another configuration.
    """

    def __init__(self, root, config, *, create=True):
        _check_config(config)
        root = os.path.abspath(os.fspath(root))
        if os.path.isfile(os.path.join(root, CONFIG_FILE)):
            path = root
        else:
            path = os.path.join(root, config_folder_name(config))
        self._init_paths(path)
        self.config = json.loads(_canonical_json(config))
        if not os.path.isfile(self._config_path):
            if not create:
                raise FileNotFoundError(
                    f"No embedding store for this configuration at {path}; run the "
                    f"embedding step first or pass create=True."
                )
            os.makedirs(self._shard_dir, exist_ok=True)
            with self.lock():
                if not os.path.isfile(self._config_path):
                    text = json.dumps(self.config, sort_keys=True, indent=2) + "\n"
                    _shards.write_atomic(self._config_path, text.encode("utf-8"))
        stored = _read_config(path)
        different = _config_difference(stored, self.config)
        if different:
            raise StoreConfigError(
                f"The embedding store at {path} was made with another configuration "
                f"(keys that differ: {', '.join(different)}); use another folder, or "
                f"open it with its own configuration."
            )
        self._ensure_schema()

    @classmethod
    def from_folder(cls, path):
        """Open an existing configuration folder with the configuration in its config.json."""
        path = os.path.abspath(os.fspath(path))
        if not os.path.isfile(os.path.join(path, CONFIG_FILE)):
            raise FileNotFoundError(f"{path} is not an embedding store (no {CONFIG_FILE}).")
        return cls(path, _read_config(path), create=False)

    def _init_paths(self, path):
        self.path = path
        self._config_path = os.path.join(path, CONFIG_FILE)
        self._manifest_path = os.path.join(path, MANIFEST_FILE)
        self._lock_path = os.path.join(path, LOCK_FILE)
        self._shard_dir = os.path.join(path, SHARD_DIR)

    def __repr__(self):
        return f"EmbeddingStore({self.path!r})"

    @property
    def dtype(self):
        """The shard dtype, "float16" or "float32"."""
        return self.config.get("dtype", "float32")

    # ---------------------------------------------------------------- SQLite

    @contextlib.contextmanager
    def _connect(self):
        conn = sqlite3.connect(self._manifest_path, timeout=_SQL_TIMEOUT, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _transaction(self, conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _ensure_schema(self):
        with self._connect() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == STORE_FORMAT:
            return
        if version > STORE_FORMAT:
            raise StoreConfigError(
                f"The embedding store at {self.path} has format {version}; this version "
                f"of gpucluster reads format {STORE_FORMAT}. Upgrade gpucluster."
            )
        with self.lock(), self._connect() as conn, self._transaction(conn):
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {STORE_FORMAT}")

    @staticmethod
    def _meta(conn, key):
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    @staticmethod
    def _set_meta(conn, key, value):
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    @staticmethod
    def _rows_for(conn, columns, paths):
        """{path: row tuple of ``columns``} for those of ``paths`` in the manifest."""
        found = {}
        if not paths:
            return found
        # Looking up a path costs about as much as scanning ten rows: a large request
        # reads the whole table once (50,000 of 50,000 paths: 0.08 s against 0.3 s).
        (table_rows,) = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM images").fetchone()
        if len(paths) * 10 >= table_rows:
            wanted = set(paths)
            for row in conn.execute(f"SELECT path, {columns} FROM images"):
                path = _from_sql(row[0])
                if path in wanted:
                    found[path] = row[1:]
            return found
        for start in range(0, len(paths), _SQL_CHUNK):
            chunk = [_sql_key(p) for p in paths[start : start + _SQL_CHUNK]]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT path, {columns} FROM images WHERE path IN ({marks})"
            for row in conn.execute(query, chunk):
                found[_from_sql(row[0])] = row[1:]
        return found

    # ---------------------------------------------------------------- locking

    @contextlib.contextmanager
    def lock(self, timeout=None):
        """Hold the store's exclusive inter-process writer lock (``fcntl.flock`` on path/lock).

        Hold it for a whole embedding run. It is reentrant in the thread that holds it
        (``write_batch`` takes it too), other threads and processes wait. On taking it,
        temporary files and shards no manifest row references (leftovers of a killed
        writer, or shards whose rows were all replaced) are deleted.

        Parameters
        ----------
        timeout : float or None
            Seconds to wait for another writer; None waits for ever.

        Raises
        ------
        TimeoutError
            When the lock is still held by another writer after ``timeout`` seconds.
        """
        with _lock.hold(self._lock_path, timeout, on_acquire=self._sweep):
            yield self

    def _sweep(self):
        # Runs with the file lock held, so no other writer is between a write and
        # its commit: every temporary file is a leftover and every unreferenced
        # shard is dead.
        for folder in (self.path, self._shard_dir):
            _shards.remove_temporaries(folder)
        if not os.path.isfile(self._manifest_path):
            return
        with self._connect() as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0] != STORE_FORMAT:
                return
            referenced = _referenced_shards(conn)
        _shards.remove_unreferenced(self._shard_dir, referenced)

    # ---------------------------------------------------------------- planning

    def plan(self, paths, *, retry_failed=True):
        """Split ``paths`` into those to embed and those whose stored embedding is current.

        A path is reused when the manifest holds an embedding for it with the file's
        current size and mtime_ns; anything else (new, changed, unreadable) is to do.

        Parameters
        ----------
        paths : iterable of str or os.PathLike
            Image files; made absolute, duplicates dropped (first kept).
        retry_failed : bool
            A path recorded as failed and unchanged is to do again when True (a decode
            failure is cheap to repeat and the run then reports it again); when False
            it is in neither list (see ``failures``).

        Returns
        -------
        (todo, reused) : tuple of two lists of str
            Absolute paths, each in the order of ``paths``.
        """
        paths = _unique(_normalise_paths(paths))
        with self._connect() as conn:
            known = self._rows_for(conn, "size, mtime_ns, status", paths)
        todo, reused = [], []
        for path, stat in zip(paths, file_stats(paths)):
            row = known.get(path)
            if stat is None or row is None or (row[0], row[1]) != stat:
                todo.append(path)
            elif row[2] == "ok":
                reused.append(path)
            elif retry_failed:
                todo.append(path)
        return todo, reused

    # ---------------------------------------------------------------- writing

    def write_batch(self, paths, stats, embeddings):
        """Store the embeddings of one batch: a new shard, then its manifest rows.

        The shard is written to a temporary file, fsynced and renamed into place;
        then one transaction records (path, size, mtime_ns, shard, row, "ok") for each
        path, replacing a path's older row. Takes ``lock()`` (reentrant: hold it
        around the whole run).

        Parameters
        ----------
        paths : sequence of str or os.PathLike, length n
            Distinct image files.
        stats : sequence of (size, mtime_ns) or None, length n
            Taken with ``file_stats`` before the files were read; None marks an
            unknown stat (the path is planned again next time).
        embeddings : array of shape (n, dim)
            Float values, NumPy or any array ``gpucluster.backend.to_numpy`` takes;
            stored as ``config["dtype"]``.

        Raises
        ------
        ValueError
            For mismatched lengths, duplicate paths, a path ``storable_path`` refuses,
            a dim that differs from the store's, or values that are not finite in the
            store dtype.
        """
        paths = _normalise_paths(paths)
        if len(set(paths)) != len(paths):
            raise ValueError("write_batch got the same path twice in one batch.")
        keys = _sql_keys(paths)
        stats = _check_stats(stats, len(paths))
        embeddings = self._check_embeddings(embeddings, len(paths))
        if not paths:
            return
        data = _shards.encode(embeddings)
        with self.lock():
            self._check_dim(embeddings.shape[1])
            with self._connect() as conn:
                number = self._next_shard(conn)
                os.makedirs(self._shard_dir, exist_ok=True)
                _shards.write_shard(self._shard_dir, number, data, crash_hook=_crash_hook)
                _crash_hook("shard_renamed")
                self._add_rows(conn, keys, stats, number, int(embeddings.shape[1]))
        _crash_hook("manifest_committed")

    def _add_rows(self, conn, keys, stats, number, dim):
        """One transaction: the rows of shard ``number`` (row i is ``keys[i]``), max_shard, dim."""
        with self._transaction(conn):
            conn.executemany(
                "INSERT OR REPLACE INTO images "
                "(path, size, mtime_ns, shard, row, status, reason) "
                "VALUES (?, ?, ?, ?, ?, 'ok', NULL)",
                [
                    (key, *(stat or (None, None)), number, row)
                    for row, (key, stat) in enumerate(zip(keys, stats))
                ],
            )
            old = self._meta(conn, "max_shard") or 0
            self._set_meta(conn, "max_shard", max(old, number))
            if self._meta(conn, "dim") is None:
                self._set_meta(conn, "dim", dim)
            _crash_hook("manifest_pending")

    def adopt_shard(self, temporary, paths, stats):
        """Make a shard another process wrote part of the store: rename it in, add its rows.

        The embeddings of ``paths`` were written by a process that does not hold the
        lock (a worker of a Dask cluster) with ``_shards.write_temporary`` into this
        store's shard folder. The file is checked (2-D, the store's dtype and dim, one
        row per path), renamed to the next shard number, and its rows are added in one
        transaction, exactly as ``write_batch`` adds its own.

        Call it under ``lock()``, held since before the file was written: taking the
        lock deletes every temporary file as a leftover, so one that is never adopted
        goes with the next writer's lock.

        Parameters
        ----------
        temporary : str
            The temporary shard file, inside this store's ``shards/`` folder.
        paths : sequence of str or os.PathLike, length n
            Distinct image files, row i of the shard being the embedding of ``paths[i]``.
        stats : sequence of (size, mtime_ns) or None, length n
            Taken before the files were read (see ``write_batch``).

        Raises
        ------
        ValueError
            For a file outside the shard folder, mismatched lengths, duplicate paths,
            or a shard whose dtype, rank or dim does not fit the store.
        FileNotFoundError
            When ``temporary`` does not exist here.
        RuntimeError
            When this process does not hold the lock.
        """
        if not _lock.held(self._lock_path):
            raise RuntimeError("adopt_shard must be called under the store's lock(), taken "
                               "before the shard was written.")
        temporary = os.path.abspath(os.fspath(temporary))
        if os.path.dirname(temporary) != os.path.abspath(self._shard_dir):
            raise ValueError(f"{temporary} is not in the store's shard folder {self._shard_dir}.")
        paths = _normalise_paths(paths)
        if len(set(paths)) != len(paths):
            raise ValueError("adopt_shard got the same path twice.")
        keys = _sql_keys(paths)
        stats = _check_stats(stats, len(paths))
        if not os.path.isfile(temporary):
            raise FileNotFoundError(
                f"No shard file {temporary}: was it written on a machine that does not share "
                f"this store's file system?"
            )
        try:
            shape = _shards.open_shard(temporary, self.dtype).shape
        except RuntimeError as exc:
            raise ValueError(str(exc)) from None
        if shape[0] != len(paths):
            raise ValueError(
                f"Got {fmt.counted(len(paths), 'path')} but the shard {temporary} holds "
                f"{fmt.counted(shape[0], 'row')}."
            )
        with self.lock():  # reentrant: already held
            self._check_dim(shape[1])
            with self._connect() as conn:
                number = self._next_shard(conn)
                _shards.publish(temporary, _shards.shard_path(self._shard_dir, number))
                _crash_hook("shard_renamed")
                self._add_rows(conn, keys, stats, number, int(shape[1]))
        _crash_hook("manifest_committed")

    def write_failures(self, failures, stats):
        """Record images that could not be embedded: status "failed" with a reason.

        Parameters
        ----------
        failures : sequence of (path, reason)
        stats : sequence of (size, mtime_ns) or None, one per failure

        A failed path replaces an older row of the same path (its embedding is no
        longer current). A reason that is not valid UTF-8 is kept with its odd bytes
        written as ``\\xNN``. Takes ``lock()``.

        Raises
        ------
        ValueError
            For a duplicate path or one ``storable_path`` refuses.
        """
        failures = [(_normalise_paths([p])[0], str(reason)) for p, reason in failures]
        stats = _check_stats(stats, len(failures))
        if len({p for p, _ in failures}) != len(failures):
            raise ValueError("write_failures got the same path twice.")
        keys = _sql_keys([p for p, _ in failures])
        if not failures:
            return
        with self.lock(), self._connect() as conn, self._transaction(conn):
            conn.executemany(
                "INSERT OR REPLACE INTO images (path, size, mtime_ns, shard, row, status, reason) "
                "VALUES (?, ?, ?, NULL, NULL, 'failed', ?)",
                [
                    (key, *(stat or (None, None)), printable(reason))
                    for key, (_, reason), stat in zip(keys, failures, stats)
                ],
            )

    def prune(self, current_paths):
        """Delete the manifest rows (embedded or failed) of paths not in ``current_paths``.

        Returns the number of rows deleted. Their shards are deleted once no row
        references them. Takes ``lock()``.
        """
        current = _unique(_normalise_paths(current_paths))
        with self.lock():
            with self._connect() as conn, self._transaction(conn):
                conn.execute("CREATE TEMP TABLE current_paths (path TEXT PRIMARY KEY)")
                conn.executemany(
                    "INSERT INTO current_paths VALUES (?)",
                    ((key,) for key in map(_sql_key, current) if key is not None),
                )
                removed = conn.execute(
                    "DELETE FROM images WHERE path NOT IN (SELECT path FROM current_paths)"
                ).rowcount
                conn.execute("DROP TABLE current_paths")
            if removed:
                self._sweep()
        return int(removed)

    def clear(self):
        """Forget every embedding and failure (for a forced recomputation). Takes ``lock()``."""
        with self.lock():
            with self._connect() as conn, self._transaction(conn):
                conn.execute("DELETE FROM images")
                conn.execute("DELETE FROM meta WHERE key = 'dim'")
            # The rows are gone first, so a crash here leaves only orphan shards.
            self._sweep()

    def compact(self):
        """Rewrite the shards so that they hold only rows the manifest references.

        Returns a dict with the shard counts and bytes before and after. Takes ``lock()``.
        """
        with self.lock():
            before = self.info()
            with self._connect() as conn:
                rows = conn.execute(
                    "SELECT path, shard, row FROM images WHERE status = 'ok' ORDER BY path"
                ).fetchall()
            files = _shards.shard_files(self._shard_dir)
            lengths = {n: _shards.shard_length(p) for n, p in files.items()}
            if len(rows) == sum(lengths.get(n, 0) for n in {r[1] for r in rows}):
                return {"before": before, "after": before, "rewritten": False}
            updates = []
            new_shards = []
            for start in range(0, len(rows), COMPACT_SHARD_ROWS):
                chunk = rows[start : start + COMPACT_SHARD_ROWS]
                paths = [r[0] for r in chunk]
                values = self._gather(
                    np.array([r[1] for r in chunk], dtype=np.int64),
                    np.array([r[2] for r in chunk], dtype=np.int64),
                    out_dtype=np.dtype(self.dtype),
                )
                with self._connect() as conn:
                    number = self._next_shard(conn)
                _shards.write_shard(self._shard_dir, number, _shards.encode(values))
                new_shards.append(number)
                updates.extend((number, row, path) for row, path in enumerate(paths))
            with self._connect() as conn, self._transaction(conn):
                conn.executemany("UPDATE images SET shard = ?, row = ? WHERE path = ?", updates)
                old = self._meta(conn, "max_shard") or 0
                self._set_meta(conn, "max_shard", max([old, *new_shards]))
            self._sweep()
            return {"before": before, "after": self.info(), "rewritten": True}

    def _check_embeddings(self, embeddings, n):
        if not isinstance(embeddings, np.ndarray):
            from .. import backend

            embeddings = backend.to_numpy(embeddings)
        if embeddings.ndim != 2:
            raise ValueError(
                f"embeddings must have shape (n_images, dim), got shape {embeddings.shape}."
            )
        if embeddings.shape[0] != n:
            raise ValueError(
                f"Got {fmt.counted(n, 'path')} but {fmt.counted(embeddings.shape[0], 'embedding')}; "
                "they must match."
            )
        if n and embeddings.shape[1] < 1:
            raise ValueError("embeddings have dim 0.")
        if embeddings.dtype.kind not in "fiu":
            raise ValueError(f"embeddings must be numeric, got dtype {embeddings.dtype}.")
        with np.errstate(over="ignore", invalid="ignore"):
            stored = np.ascontiguousarray(embeddings, dtype=self.dtype)
        if not np.isfinite(stored).all():
            raise ValueError(
                f"embeddings contain NaN or inf once stored as {self.dtype} "
                f"(float16 holds magnitudes up to 65504)."
            )
        return stored

    def _check_dim(self, dim):
        expected = self.config.get("dim")
        if expected is None:
            with self._connect() as conn:
                expected = self._meta(conn, "dim")
        if expected is not None and expected != dim:
            raise ValueError(f"embeddings have dim {dim} but this store holds dim {expected}.")

    def _next_shard(self, conn):
        # The folder knows shards written but not committed; the manifest knows
        # the highest number ever committed, whose file may be deleted by now.
        highest = max(_shards.shard_files(self._shard_dir), default=0)
        return max(highest, self._meta(conn, "max_shard") or 0) + 1

    # ---------------------------------------------------------------- reading

    def load(self, paths=None, *, array="numpy", device=None, dtype="float32"):
        """Read embeddings: (paths, array of shape (n, dim)).

        Parameters
        ----------
        paths : iterable of str or os.PathLike, optional
            None returns every embedded image sorted by path; else exactly these
            (made absolute), in this order.
        array : {"numpy", "cupy", "torch"}
            The array type returned; CuPy and torch are imported only when asked.
        device : optional
            For torch, the device ("cpu", "cuda", "cuda:1", ...; default "cpu"); for
            CuPy, a device index (default: the current device).
        dtype : {"float32", "native"}
            "float32" (default) gives C-contiguous float32, what the estimators
            take; "native" keeps the shard dtype (float16 stores stay half).

        Returns
        -------
        paths : list of str
        X : ndarray, cupy.ndarray or torch.Tensor of shape (n, dim)

        Raises
        ------
        KeyError
            When some requested paths have no embedding (names the first ones).
        """
        if array not in ARRAY_KINDS:
            raise ValueError(f"array must be one of {ARRAY_KINDS}, got {array!r}.")
        if dtype not in LOAD_DTYPES:
            raise ValueError(f"dtype must be one of {LOAD_DTYPES}, got {dtype!r}.")
        if array == "numpy" and device not in (None, "cpu"):
            raise ValueError(f"array='numpy' lives on the host; got device={device!r}.")
        out_dtype = np.dtype("float32" if dtype == "float32" else self.dtype)
        wanted = None if paths is None else _normalise_paths(paths)
        for attempt in range(3):
            found, shards, rows, dim = self._locate(wanted)
            try:
                X = self._gather(shards, rows, out_dtype=out_dtype, dim=dim)
                break
            except _shards.ShardGone:
                # A writer deleted a shard after this snapshot superseded it; read again.
                if attempt == 2:
                    raise
        return found, _convert(X, array, device)

    def _locate(self, wanted):
        with self._connect() as conn:
            dim = self._meta(conn, "dim")
            if wanted is None:
                rows = _decoded_sorted(
                    conn.execute(
                        "SELECT path, shard, row FROM images WHERE status = 'ok' ORDER BY path"
                    ).fetchall()
                )
                found = [r[0] for r in rows]
                shards = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
                index = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
                return found, shards, index, dim
            known = self._rows_for(conn, "shard, row, status", _unique(wanted))
        missing = [p for p in wanted if p not in known or known[p][2] != "ok"]
        if missing:
            shown = ", ".join(repr(p) for p in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise KeyError(
                f"{fmt.counted(len(missing), 'path')} {fmt.word(len(missing), 'has', 'have')} no "
                f"embedding in {self.path}: {shown}{more}"
            )
        shards = np.fromiter((known[p][0] for p in wanted), dtype=np.int64, count=len(wanted))
        index = np.fromiter((known[p][1] for p in wanted), dtype=np.int64, count=len(wanted))
        return list(wanted), shards, index, dim

    def _gather(self, shards, rows, *, out_dtype, dim=None):
        """Rows ``rows`` of shards ``shards`` into one (n, dim) array; each shard opened once."""
        if dim is None and not len(shards):
            dim = self.config.get("dim") or 0
        return _shards.gather(
            self._shard_dir, self.dtype, shards, rows, out_dtype=out_dtype, dim=dim
        )

    def paths(self, status=None):
        """The paths the manifest holds, sorted: all, or those with ``status`` "ok" or "failed"."""
        if status not in (None, "ok", "failed"):
            raise ValueError(f"status must be None, 'ok' or 'failed', got {status!r}.")
        with self._connect() as conn:
            if status is None:
                rows = conn.execute("SELECT path FROM images ORDER BY path")
            else:
                rows = conn.execute(
                    "SELECT path FROM images WHERE status = ? ORDER BY path", (status,)
                )
            return [p for (p,) in _decoded_sorted(rows.fetchall())]

    def failures(self, paths=None):
        """(path, reason) of the failed images: all by path, or those of ``paths`` in order."""
        with self._connect() as conn:
            if paths is None:
                return _decoded_sorted(
                    conn.execute(
                        "SELECT path, reason FROM images WHERE status = 'failed' ORDER BY path"
                    ).fetchall()
                )
            wanted = _normalise_paths(paths)
            known = self._rows_for(conn, "status, reason", _unique(wanted))
        return [(p, known[p][1]) for p in wanted if p in known and known[p][0] == "failed"]

    def info(self):
        """A summary dict: path, config, counts {"ok", "failed"}, dim, dtype, n_shards, bytes."""
        with self._connect() as conn:
            counts = dict(conn.execute("SELECT status, COUNT(*) FROM images GROUP BY status"))
            dim = self._meta(conn, "dim")
            referenced = _referenced_shards(conn)
        files = _shards.shard_files(self._shard_dir)
        total = 0
        for name in (CONFIG_FILE, MANIFEST_FILE):
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(self.path, name))
        for number in referenced:
            with contextlib.suppress(OSError):
                total += os.path.getsize(files[number])
        return {
            "path": self.path,
            "config": self.config,
            "counts": {"ok": int(counts.get("ok", 0)), "failed": int(counts.get("failed", 0))},
            "dim": dim if dim is not None else self.config.get("dim"),
            "dtype": self.dtype,
            "n_shards": len(referenced),
            "bytes": int(total),
        }


def _referenced_shards(conn):
    query = "SELECT DISTINCT shard FROM images WHERE shard IS NOT NULL"
    return {number for (number,) in conn.execute(query)}


def _normalise_paths(paths):
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError("paths must be a list of paths, not a single path.")
    return [p if _is_normal(p) else os.path.abspath(os.fsdecode(p)) for p in paths]


def _is_normal(path):
    # Discovery already gives absolute normalised paths; skipping abspath for them
    # halves the cost of loading 50,000 paths.
    return (
        type(path) is str
        and path.startswith(os.sep)
        and not path.endswith(os.sep)
        and os.sep + "." not in path
        and os.sep + os.sep not in path
    )


def _unique(paths):
    return list(dict.fromkeys(paths))


def _sql_key(path):
    """The manifest key of ``path``: itself when valid UTF-8, else its file-system bytes;
    None when the bytes would not decode back to ``path`` (see ``storable_path``)."""
    if path.isascii():
        return path
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        pass
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError:
        return None
    return raw if os.fsdecode(raw) == path else None


def _sql_keys(paths):
    keys = [_sql_key(p) for p in paths]
    bad = [p for p, key in zip(paths, keys) if key is None]
    if bad:
        raise ValueError(
            f"{fmt.counted(len(bad), 'path')} cannot be stored (no file name decodes to "
            f"{fmt.word(len(bad), 'it', 'them')}): "
            + ", ".join(repr(p) for p in bad[:5])
        )
    return keys


def _from_sql(value):
    return value if type(value) is str else os.fsdecode(value)


def _decoded_sorted(rows):
    """Rows whose first column is a manifest key, with paths as str and sorted as Python
    sorts str; SQLite orders every BLOB after every TEXT, so re-sort when there is one."""
    if all(type(row[0]) is str for row in rows):
        return rows
    return sorted(((_from_sql(row[0]), *row[1:]) for row in rows), key=lambda row: row[0])


def storable_path(path):
    """True when the manifest can hold ``path`` and give it back unchanged.

    Every name ``os.listdir`` or ``os.scandir`` returns can be stored, whatever its
    bytes; a str holding a surrogate no file name decodes to cannot.
    """
    return _sql_key(os.fsdecode(path)) is not None


def _check_stats(stats, n):
    stats = list(stats)
    if len(stats) != n:
        raise ValueError(f"Got {fmt.counted(n, 'path')} but {fmt.counted(len(stats), 'stat')}; "
                         "they must match.")
    checked = []
    for stat in stats:
        if stat is None:
            checked.append(None)
            continue
        size, mtime_ns = stat
        checked.append((int(size), int(mtime_ns)))
    return checked


def _convert(X, array, device):
    if array == "numpy":
        return X
    from .. import backend

    return backend.asarray_like(X, backend.InputLike(array, device))


# --------------------------------------------------------------------------
# Opening


def open_store(root, config=None, *, create=False):
    """Open an embedding store.

    Parameters
    ----------
    root : str or os.PathLike
        A configuration folder (holds config.json) or a user folder holding
        configuration folders.
    config : dict, optional
        The configuration; None opens ``root`` itself when it is a configuration
        folder, else the only configuration folder inside ``root``.
    create : bool
        With ``config``, create the store when it does not exist.

    Raises
    ------
    FileNotFoundError
        No store found.
    ValueError
        ``root`` holds several configurations and ``config`` is None.
    StoreConfigError
        ``root`` is a configuration folder made with another ``config``.
    """
    root = os.path.abspath(os.fspath(root))
    if config is not None:
        return EmbeddingStore(root, config, create=create)
    if os.path.isfile(os.path.join(root, CONFIG_FILE)):
        return EmbeddingStore.from_folder(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"No embedding store at {root}: no such folder.")
    folders = sorted(
        entry.path
        for entry in os.scandir(root)
        if entry.is_dir() and os.path.isfile(os.path.join(entry.path, CONFIG_FILE))
    )
    if not folders:
        raise FileNotFoundError(f"No embedding store in {root} (no folder with {CONFIG_FILE}).")
    if len(folders) > 1:
        names = ", ".join(os.path.basename(f) for f in folders)
        raise ValueError(
            f"{root} holds {len(folders)} embedding stores ({names}); pass one of these "
            f"folders, or config=."
        )
    return EmbeddingStore.from_folder(folders[0])


def load_store(root, *, paths=None, array="numpy", device=None, config=None, dtype="float32"):
    """Open a store (see ``open_store``) and ``load`` it: (paths, X of shape (n, dim)).

    X is float32 (what the estimators take) unless ``dtype="native"``; NumPy unless
    ``array`` is "cupy" or "torch".
    """
    return open_store(root, config).load(paths, array=array, device=device, dtype=dtype)
