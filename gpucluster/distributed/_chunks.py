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

import numpy as np

from .. import backend
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
    """Column sums, the sum of squared row norms, and counts of bad values, for one chunk."""
    d = X.shape[1]
    if X.shape[0] == 0:
        return np.zeros(d + 6)
    xp = backend.namespace(X)
    X64 = xp.astype(X, xp.float64)
    w = xp.astype(w, xp.float64)

    def count(mask):
        return float(xp.sum(xp.astype(mask, xp.float64)))

    return np.concatenate([
        host64(xp.sum(X64, axis=0)),
        [float(xp.sum(X64 * X64)), count(xp.isnan(X64)), count(~xp.isfinite(w)),
         count(w < 0), float(xp.sum(w)), count(xp.isinf(X64))],
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
