"""Connected components on the GPU with numba.cuda: hooking and pointer jumping.

``parent`` starts as the identity. Each sweep, one thread per edge follows
both endpoints to their roots and hooks the larger root under the smaller
one with an atomic min; then one thread per node jumps its pointer to its
root. Parents only ever decrease and always point to a smaller or equal
index, so root chases end, and every sweep that changes something lowers
some parent: the loop ends, with every tree's root its smallest node. A
hook can overwrite a link made in the same sweep, but the edge behind that
link is seen again in the next sweep, and sweeps go on until no edge joins
two different roots. Labels then number the roots in ascending order, which
is the contract's "by smallest node". Reference:
``tests/kernels/reference_graph.py::connected_components``.
"""

from numba import cuda

from .._numba import NUMBA_CACHE
from ._launch import launch_for, n_blocks

# Threads per block of the one-thread-per-edge and one-thread-per-node kernels.
BLOCK_THREADS = 256


@cuda.jit(cache=NUMBA_CACHE)
def _hook_kernel(parent, sources, targets, changed):
    """One thread per edge: hook the larger of the two roots under the smaller (atomic min).

    ``parent`` (n,) int64; ``sources``, ``targets`` (m,) int32 or int64;
    ``changed`` (1,) int32 is set to 1 when some edge joined two roots.
    """
    e = cuda.grid(1)
    if e >= sources.shape[0]:
        return
    u = sources[e]
    while parent[u] != u:
        u = parent[u]
    v = targets[e]
    while parent[v] != v:
        v = parent[v]
    if u != v:
        cuda.atomic.min(parent, max(u, v), min(u, v))
        changed[0] = 1


@cuda.jit(cache=NUMBA_CACHE)
def _jump_kernel(parent):
    """One thread per node: point it straight at its root."""
    i = cuda.grid(1)
    if i >= parent.shape[0]:
        return
    p = parent[i]
    while parent[p] != p:
        p = parent[p]
    parent[i] = p


def connected_components(n_nodes, sources, targets):
    """Component labels of an undirected edge list, on the GPU.

    Parameters
    ----------
    n_nodes : int
    sources, targets : CuPy arrays (m,), int32 or int64, values in [0, n_nodes)
        (NumPy under the CUDA simulator)

    Returns
    -------
    labels : array (n_nodes,) int64, numbered by each component's smallest node,
        in the inputs' array library, computed on CuPy's current stream.
    """
    launch = launch_for(sources)
    lib = launch.lib
    parent = lib.arange(n_nodes, dtype=lib.int64)
    m = sources.shape[0]
    if n_nodes == 0:
        return parent
    if m:
        sources = lib.ascontiguousarray(sources)
        targets = lib.ascontiguousarray(targets)
        changed = lib.zeros(1, dtype=lib.int32)
        while True:
            changed[0] = 0
            _hook_kernel[n_blocks(m, BLOCK_THREADS), BLOCK_THREADS, launch.stream](
                parent, sources, targets, changed
            )
            _jump_kernel[n_blocks(n_nodes, BLOCK_THREADS), BLOCK_THREADS, launch.stream](parent)
            # One small device-to-host read per sweep; sweeps are few (about log n).
            if not int(changed[0]):
                break
    is_root = parent == lib.arange(n_nodes, dtype=lib.int64)
    rank = lib.cumsum(is_root.astype(lib.int64)) - 1
    return rank[parent]

