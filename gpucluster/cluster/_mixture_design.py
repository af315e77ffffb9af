"""Feature-major design blocks for the "diag" and "spherical" EM passes of ``GaussianMixture``.

For both covariance types the weighted log-density of a row is linear in the
features ``[1, z, s(z)]``, with ``z = x - c`` (``c`` the data mean) and
``s(z) = z * z`` ("diag") or ``|z|^2`` ("spherical")::

    log w_k + log N(x | mu_k, Sigma_k) = A_k . [1, z, s(z)]

and the M-step needs exactly the responsibility-weighted sums of the same
features, :math:`\\sum_i r_{ik} [1, z_i, s(z_i)]` = (component sizes, sums,
second moments). So with a block ``B = [1; Z^T; S^T]`` of shape (width, rows)
an EM pass is two matrix products around the normalisation of columns:
``L = A @ B`` (n_components, rows), then ``R @ B^T`` (n_components, width).

The blocks are made once per fit (X is centred and squared once, not at
every iteration) when twice X fits in memory, else at every pass. Measured
on 200,000 x 64, k=20, float64, one thread (OpenBLAS 0.3.30, Zen 4): with
the rows as columns, ``A @ B`` takes 37 ms against 52 ms for the row-major
``[Z, S] @ A^T``, and blocks of ~2 MiB stay in cache between the two
products (see ``HOST_BLOCK_BYTES``).
"""

from .. import backend
from ..kernels.memory import host_memory_budget

DESIGN_TYPES = ("diag", "spherical")
# Bytes of one host block: the E-step product reads it and the M-step product
# reads it again while it is still in cache. Per EM pass at 200,000 x 64, k=20,
# float64, one thread: 103-118 ms at 0.5 MiB, 89-90 at 2, 92-102 at 4, 96 at 16.
HOST_BLOCK_BYTES = 2 * 2**20


def design_width(n_features, covariance_type):
    """Rows of a design block: the constant, the d centred features, then the squares."""
    return 1 + n_features + (n_features if covariance_type == "diag" else 1)


def design_block(Z, covariance_type):
    """``[1; Z^T; S^T]``: a C-contiguous (width, rows) array in Z's namespace, device and dtype.

    ``Z`` is (rows, d), rows of X minus the centre; S is ``Z * Z`` for
    "diag" and the row norms ``|z|^2`` for "spherical".
    """
    xp = backend.namespace(Z)
    n_rows, n_features = Z.shape
    # Filled by slices, not concat: NumPy's concatenate of transposed parts is
    # F-ordered, and A @ B is then 1.4x slower (52 ms against 37 per pass).
    block = xp.empty((design_width(n_features, covariance_type), n_rows), dtype=Z.dtype,
                     device=backend.device(Z))
    block[0, :] = 1.0
    block[1:n_features + 1, :] = Z.T
    centred = block[1:n_features + 1, :]
    if covariance_type == "diag":
        block[n_features + 1:, :] = centred * centred
    else:
        block[n_features + 1, :] = xp.sum(centred * centred, axis=0)
    return block


class DesignBlocks:
    """X's rows as design blocks about the data mean, kept over a fit when memory allows.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), float32 or float64, any backend
    covariance_type : {"diag", "spherical"}
    n_components : int
        Sizes the per-block temporaries (the (n_components, rows) products).
    cache : bool, default=True
        Keep the blocks (about ``width / n_features`` times X's memory) for
        the next passes, when they fit in a quarter of the free memory of
        X's device (or the configured host memory budget); else each pass
        makes them again.

    ``center`` is the data mean (n_features,), in X's dtype. ``for_each(step)``
    calls ``step(start, stop, block)`` over row blocks, halving the rows on
    out-of-memory; blocks made after a halving are not kept.
    """

    def __init__(self, X, covariance_type, n_components, cache=True):
        xp = backend.namespace(X)
        self.X = X
        self.covariance_type = covariance_type
        self.center = backend.column_mean(X)
        n_samples, n_features = X.shape
        self.width = design_width(n_features, covariance_type)
        itemsize = 8 if X.dtype == xp.float64 else 4
        device = backend.device_of(X)
        # The block, Z and its squares while it is made, and three (k, rows) temporaries.
        per_row = itemsize * (2 * self.width + n_features + 3 * n_components)
        self.rows = backend.row_chunk_size(n_samples, per_row, device=device)
        if device != "cuda":
            self.rows = max(1, min(self.rows, HOST_BLOCK_BYTES // (itemsize * self.width)))
        keep = cache and self._fits(n_samples * self.width * itemsize, device)
        self._cache = {} if keep else None

    @staticmethod
    def _fits(nbytes, device):
        budget = None if device == "cuda" else host_memory_budget.get()
        limit = budget if budget else backend.free_memory(device) // 4
        return nbytes <= limit

    def block(self, start, stop):
        """The design block of rows start:stop, (width, stop - start)."""
        if self._cache is not None:
            kept = self._cache.get(start)
            if kept is not None and kept[0] == stop:
                return kept[1]
        Z = self.X[start:stop, :] - self.center
        block = design_block(Z, self.covariance_type)
        if self._cache is not None:
            if start in self._cache:  # a halved chunk: stop keeping blocks of other bounds
                self._cache = None
            else:
                self._cache[start] = (stop, block)
        return block

    def for_each(self, step):
        """Call ``step(start, stop, block)`` over all rows, in blocks of ``self.rows``."""
        backend.for_each_chunk(self.X.shape[0], self.rows,
                               lambda start, stop: step(start, stop, self.block(start, stop)))
