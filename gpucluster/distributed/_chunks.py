"""What the Dask estimators and metrics share: checking a dask array, per-chunk maps and reductions.

A dask array here has rows in chunks and its features whole (a column-chunked
array is rechunked to one column block). Each chunk is a NumPy or CuPy array
and runs the single-machine code on its own device; small arrays (centres,
parameters) travel to the chunks as NumPy and are converted to the chunk's
type there. Per-chunk results that are reduced come back as float64 NumPy
rows of a fixed width and are summed by Dask's tree reduction, so the client
never holds more than one such row per reduction.

Dask is imported inside the functions only: this module loads without it.
"""

import math

import numpy as np

from .. import backend
from .._distances import row_norms_sq
from .._validation import check_finite
from .client import require_distributed


def dask_array():
    """``dask.array``, or ImportError naming the ``gpucluster[dask]`` extra."""
    require_distributed("Fitting on a dask array")
    import dask.array as da

    return da


def chunk_meta(X):
    """An empty array of X's chunk type (NumPy or CuPy) and dtype, for conversions."""
    meta = getattr(X, "_meta", None)
    return np.empty((0,) * X.ndim, dtype=X.dtype) if meta is None else meta


def like_chunk(arr, chunk):
    """``arr`` (small, any kind) as the kind and device of ``chunk``."""
    return backend.asarray_like(arr, chunk)


def check_array(X, *, min_samples=1, name=None, integers_as_float64=True):
    """A 2-D dask array ready for the estimators: rows chunked, features in one block.

    float32 and float64 stay; integer and bool chunks become float64 (or
    float32 with ``integers_as_float64=False``, as ``check_input``). Unknown
    chunk sizes are computed. NaN and infinity are checked in the first pass
    over the data (``stats``), not here.

    Raises
    ------
    ValueError
        For a wrong rank, no features, or fewer than ``min_samples`` rows.
    TypeError
        For a non-numeric dtype.
    """
    dask_array()
    where = f" by {name}" if name else ""
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got a dask array of shape {X.shape}{where}.")
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    kind = np.dtype(X.dtype).kind
    if kind in "biu":
        X = X.astype(np.float64 if integers_as_float64 else np.float32)
    elif kind != "f" or X.dtype not in (np.float32, np.float64):
        if kind != "f":
            raise TypeError(f"dtype {X.dtype} is not numeric{where}; expected float32 or float64.")
        X = X.astype(np.float64)
    n_samples, n_features = X.shape
    if n_samples < min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={X.shape}) while a minimum of "
            f"{min_samples} is required{where}."
        )
    if n_features < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                         f"of 1 is required{where}.")
    return X


def row_weights(sample_weight, X):
    """``sample_weight`` as a dask array of X's dtype chunked like X's rows (ones for None).

    Values are checked in ``stats`` (the first pass over the data).
    """
    da = dask_array()
    n_samples = X.shape[0]
    if sample_weight is None:
        return da.ones(n_samples, chunks=(X.chunks[0],), dtype=X.dtype)
    if np.isscalar(sample_weight):
        return da.full(n_samples, float(sample_weight), chunks=(X.chunks[0],), dtype=X.dtype)
    if not is_dask(sample_weight):
        sample_weight = da.from_array(backend.to_numpy(backend.coerce_array(sample_weight)),
                                      chunks=-1)
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == {tuple(sample_weight.shape)}, expected ({n_samples},)!"
        )
    return sample_weight.rechunk((X.chunks[0],)).astype(X.dtype)


def is_dask(X):
    """True for a dask array (see ``gpucluster.distributed.is_dask_array``)."""
    return type(X).__module__.split(".")[0] == "dask"


def rows_like(values, X):
    """A 1-D array (NumPy or dask) of per-row values as a dask array chunked like X's rows."""
    da = dask_array()
    if is_dask(values):
        return values.rechunk((X.chunks[0],))
    return da.from_array(backend.to_numpy(backend.coerce_array(values)), chunks=(X.chunks[0],))


# --------------------------------------------------------------------------
# Maps and reductions


def _pairs(X, row_arrays, args):
    """``blockwise``'s (array, index) pairs: X, arrays chunked like its rows (1-D or 2-D
    with one column block), then whole arguments."""
    pairs = [X, "ij"]
    for arr in row_arrays:
        pairs += [arr, "i" if arr.ndim == 1 else "il"]
    for arg in args:
        pairs += [arg, None]
    return pairs


def map_rows(fn, X, *row_arrays, args=(), dtype, width=None, meta=None):
    """Per-row results of ``fn(X_chunk, *row_chunks, *args)``, lazily, chunked like X's rows.

    ``row_arrays`` are 1-D dask arrays chunked like X's rows; ``args`` are
    passed whole (small NumPy arrays, parameters). The result is 1-D, or
    2-D with ``width`` columns.
    """
    da = dask_array()
    pairs = _pairs(X, row_arrays, args)
    out_ind = "i" if width is None else "ik"
    new_axes = {} if width is None else {"k": width}
    if meta is None:
        meta = np.empty((0,) * len(out_ind), dtype=dtype)
    return da.blockwise(fn, out_ind, *pairs, new_axes=new_axes, concatenate=True,
                        dtype=dtype, meta=meta)


def per_chunk(fn, X, *row_arrays, args=(), width):
    """``fn(X_chunk, *row_chunks, *args)`` per chunk, as a lazy (n_chunks, width) float64 array.

    ``fn`` returns a float64 vector of ``width`` entries per chunk (empty
    chunks included), NumPy or of the chunk's kind; it comes back as NumPy.
    """
    da = dask_array()

    def one_row(*blocks):
        return host64(fn(*blocks)).reshape(1, width)

    pairs = _pairs(X, row_arrays, args)
    return da.blockwise(one_row, "ik", *pairs, new_axes={"k": width}, concatenate=True,
                        adjust_chunks={"i": 1}, dtype=np.float64,
                        meta=np.empty((0, 0), dtype=np.float64))


def reduce_rows(fn, X, *row_arrays, args=(), width):
    """The sum over chunks of ``per_chunk``'s rows: a lazy float64 (width,) vector.

    The rows are summed by Dask's tree reduction on the workers; the client
    receives one vector when it is computed.
    """
    return per_chunk(fn, X, *row_arrays, args=args, width=width).sum(axis=0)


# --------------------------------------------------------------------------
# Persisted chunks in groups: few tasks per pass


def current_client():
    """The ``distributed.Client`` that ``dask.compute`` would use now, or None.

    None for Dask's local schedulers (threads, processes, synchronous) and
    when distributed is not installed.
    """
    import dask.base

    scheduler = dask.base.get_scheduler()
    client = getattr(scheduler, "__self__", None)
    try:
        from distributed import Client
    except ImportError:
        return None
    return client if isinstance(client, Client) else None


def chunk_groups(X):
    """Chunk numbers of X's rows in groups, each group to be one task of a pass.

    On a ``distributed`` cluster, where X is persisted, the chunks a worker
    holds are split into as many groups (consecutive chunks, near-equal rows)
    as the worker has threads, so a pass is one task per thread of the cluster
    and no chunk moves. Elsewhere (a local scheduler, or X not persisted) each
    chunk is a group of its own. Waits until X's chunks are in memory.
    """
    import dask.core

    keys = list(dask.core.flatten(X.__dask_keys__()))
    singles = [[i] for i in range(len(keys))]
    client = current_client()
    if client is None:
        return singles
    import distributed

    futures = distributed.futures_of(X)
    if len(futures) < len(keys):
        return singles
    distributed.wait(futures)
    holder = {key: min(addresses) for key, addresses in client.who_has(futures).items()
              if addresses}
    if any(key not in holder for key in keys):
        return singles
    threads = client.nthreads()
    by_worker = {}
    for i, key in enumerate(keys):
        by_worker.setdefault(holder[key], []).append(i)
    groups = []
    for worker, numbers in sorted(by_worker.items()):
        sizes = [X.chunks[0][i] for i in numbers]
        groups.extend(_split_balanced(numbers, sizes, threads.get(worker, 1)))
    return sorted(groups)


def _split_balanced(numbers, sizes, parts):
    """``numbers`` cut into at most ``parts`` runs of consecutive entries with near-equal
    total ``sizes``."""
    parts = max(1, min(parts, len(numbers)))
    total = float(np.sum(sizes))
    pieces, done = [[]], 0.0
    for number, size in zip(numbers, sizes):
        if pieces[-1] and len(pieces) < parts and done >= total * len(pieces) / parts:
            pieces.append([])
        pieces[-1].append(number)
        done += float(size)
    return pieces


def _sum_group(fn, blocks, args):
    """``fn(*block, *args)`` of each block as float64 NumPy vectors, summed (one task)."""
    total = None
    for block in blocks:
        part = host64(fn(*block, *args))
        total = part if total is None else total + part
    return total


def _add(*parts):
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _map_sum_group(fn, blocks, args):
    """``fn(*block, *args)`` returns (per-row array, float64 vector) per block: the arrays
    in a list and the vectors summed (one task)."""
    rows, total = [], None
    for block in blocks:
        values, part = fn(*block, *args)
        rows.append(values)
        part = host64(part)
        total = part if total is None else total + part
    return rows, total


def _list_group(fn, blocks, args):
    return [fn(*block, *args) for block in blocks]


def _pick(result, j):
    return result[0][j]


def _second(result):
    return result[1]


class Blocks:
    """Row-aligned persisted dask arrays taken chunk by chunk, for passes repeated many times.

    Built once (``Blocks(X, weights, norms)``) from arrays persisted together;
    each pass then builds a small graph of its own, without dask.array's
    machinery: one task per group of chunks (:func:`chunk_groups`), the
    per-chunk function run on each chunk of the group in turn, and the small
    per-group results added by a tree of ``split_every`` inputs (the last
    ``split_every`` here). NumPy array
    arguments enter the graph once per pass, as one key every task reads.
    The passes run on Dask's current scheduler.
    """

    def __init__(self, *arrays, split_every=8):
        import dask

        self.arrays = arrays
        self.chunks = arrays[0].chunks[0]
        blocks = [a.to_delayed(optimize_graph=False).ravel() for a in arrays]
        self.blocks = list(zip(*blocks))
        self.groups = chunk_groups(arrays[0])
        self.split_every = split_every
        self._delayed = dask.delayed

    def _args(self, args):
        return tuple(self._delayed(a) if isinstance(a, np.ndarray) else a for a in args)

    def _tasks(self, group_fn, fn, args):
        args = self._args(args)
        task = self._delayed(group_fn, pure=False)
        return [task(fn, [self.blocks[i] for i in group], args) for group in self.groups]

    def _sum(self, parts):
        """The sum of the tasks ``parts`` (float64 vectors): added by a tree on the
        workers down to ``split_every`` parts, the rest here."""
        import dask

        add = self._delayed(_add, pure=False)
        while len(parts) > self.split_every:
            parts = [add(*parts[i:i + self.split_every])
                     for i in range(0, len(parts), self.split_every)]
        return _add(*dask.compute(*parts))

    def reduce(self, fn, *args):
        """The sum over chunks of ``fn(*chunk_blocks, *args)`` (float64 vectors of one
        width, NumPy or the chunk's kind): a float64 NumPy vector."""
        return self._sum(self._tasks(_sum_group, fn, args))

    def collect(self, fn, *args):
        """``[fn(*chunk_blocks, *args) for each chunk]``, in chunk order, on the client."""
        import dask

        per_group = dask.compute(*self._tasks(_list_group, fn, args))
        found = {}
        for group, results in zip(self.groups, per_group):
            found.update(zip(group, results))
        return [found[i] for i in range(len(self.blocks))]

    def map_reduce(self, fn, *args, meta):
        """Per-row values and a sum: ``fn(*chunk_blocks, *args)`` returns a 1-D array of
        the chunk's rows and a float64 vector.

        Returns the rows as a persisted 1-D dask array chunked like the blocks
        (``meta``: an empty array of its kind and dtype) and the summed vector
        (float64 NumPy), from one pass.
        """
        import dask

        da = dask_array()
        tasks = self._tasks(_map_sum_group, fn, args)
        pick = self._delayed(_pick, pure=True)
        pieces = {}
        for group, task in zip(self.groups, tasks):
            for j, i in enumerate(group):
                pieces[i] = da.from_delayed(pick(task, j), shape=(self.chunks[i],),
                                            dtype=meta.dtype, meta=meta)
        values = da.concatenate([pieces[i] for i in range(len(self.blocks))])
        totals = [self._delayed(_second, pure=True)(task) for task in tasks]
        # Unoptimised: fusing would run each group's task again inside its pieces.
        values, *totals = dask.persist(values, *totals, optimize_graph=False)
        return values, self._sum(totals)


def empty_like_chunks(X, ndim, dtype):
    """An empty array of X's chunk kind (NumPy or CuPy), for ``map_rows``'s ``meta``."""
    xp = backend.namespace(chunk_meta(X))
    return xp.empty((0,) * ndim, dtype=dtype)


def gather_rows(X, indices):
    """Rows of the dask array X at global ``indices`` (any order, repeats allowed) as NumPy."""
    indices = np.asarray(indices, dtype=np.int64)
    unique, inverse = np.unique(indices, return_inverse=True)
    rows = backend.to_numpy(X[unique].compute())
    return rows[inverse.reshape(-1)]


def host64(x):
    """A small result of a chunk as float64 NumPy (from NumPy, CuPy or a Python number)."""
    return np.asarray(backend.to_numpy(x) if not np.isscalar(x) else x, dtype=np.float64)


# --------------------------------------------------------------------------
# The first pass: validity and the column statistics


def _stats_block(X, w):
    """Column sums, the sum of squared row norms, and counts of bad values, for one chunk.

    The sums are taken without a float64 copy of X (the column sums accumulate in
    float64; the row norms are the single-machine fit's, X's dtype). NaN and
    infinity make a sum non-finite, so they are counted only in a chunk whose
    sums are not finite.
    """
    d = X.shape[1]
    if X.shape[0] == 0:
        return np.zeros(d + 6)
    xp = backend.namespace(X)
    column_sums = xp.sum(X, axis=0, dtype=xp.float64)
    sum_sq = float(xp.sum(row_norms_sq(X)))
    w = xp.astype(w, xp.float64)

    def count(mask):
        return float(xp.sum(xp.astype(mask, xp.float64)))

    n_nan = n_inf = 0.0
    if not (math.isfinite(sum_sq) and bool(xp.all(xp.isfinite(column_sums)))):
        n_nan, n_inf = count(xp.isnan(X)), count(xp.isinf(X))
    return np.concatenate([
        host64(column_sums),
        [sum_sq, n_nan, count(~xp.isfinite(w)), count(w < 0), float(xp.sum(w)), n_inf],
    ])


def stats(X, weights):
    """One pass over X: raise on NaN, infinity or bad weights; return (mean, mean |x|^2).

    ``mean`` is float64 NumPy (n_features,). The checks and messages are
    those of ``check_input`` and ``check_sample_weight``.
    """
    d = X.shape[1]
    total = reduce_rows(_stats_block, X, weights, width=d + 6).compute()
    n = X.shape[0]
    if total[d + 1] > 0 or total[d + 5] > 0:
        # check_input's message for the first problem found: NaN, else infinity.
        check_finite(np.asarray([np.nan if total[d + 1] > 0 else np.inf], dtype=X.dtype), "X")
    if total[d + 2] > 0:
        check_finite(np.asarray([np.nan]), "sample_weight")
    if total[d + 3] > 0:
        raise ValueError("Negative values in sample_weight are not allowed.")
    if n and total[d + 4] <= 0:
        raise ValueError("Sample weights must contain at least one non-zero weight.")
    return total[:d] / n, float(total[d]) / n
