"""The one metric enum of every kernel: each distance's integer code in compiled code.

A public kernel takes a metric by name, accepts the names its
implementations handle (``metric_code``), and hands the compiled code the
integer below. Kernels that compute squared distances and take a square
root at the end receive Euclidean as ``(SQEUCLIDEAN, root=True)``
(``squared_form``).
"""

SQEUCLIDEAN = 0
INNER_PRODUCT = 1  # the negated inner product, so that smaller is nearer
COSINE = 2  # 1 - cos(x, y); 1 against a zero row
EUCLIDEAN = 3
MANHATTAN = 4

METRIC_CODES = {
    "sqeuclidean": SQEUCLIDEAN,
    "inner_product": INNER_PRODUCT,
    "cosine": COSINE,
    "euclidean": EUCLIDEAN,
    "manhattan": MANHATTAN,
}


def metric_code(metric, accepted):
    """The code of ``metric``, which must be one of the names in ``accepted``.

    Raises
    ------
    ValueError
        Naming the accepted metrics, for any other value.
    """
    if isinstance(metric, str) and metric in accepted:
        return METRIC_CODES[metric]
    raise ValueError(f"metric must be one of {tuple(accepted)}, got {metric!r}.")


def squared_form(code):
    """``(code, root)`` for kernels that work on squared distances: Euclidean is squared plus a root."""
    return (SQEUCLIDEAN, True) if code == EUCLIDEAN else (code, False)
