"""The CF-tree of BIRCH as flat host arrays, and the insertion of samples into it, in Numba.

CPU only, and sequential by nature: each sample descends the tree that all
the samples before it have built (to the nearest subcluster at every level),
is merged into a leaf subcluster or starts one, and the splits it causes
climb back up. No two insertions can run at once, so there is no parallel
and no CUDA version; ``kernels.cftree_insert`` copies device data to the
host. The work per sample is O(height * branching_factor * n_features).

It makes the decisions of scikit-learn's ``sklearn/cluster/_birch.py``, in
the same order and with the same arithmetic in the data's dtype:

- descent: nearest subcluster by ``|c|^2 - 2 c.x`` (first one on ties);
- leaf: merge when the squared radius of the merged subcluster,
  ``SS / N - |LS / N|^2`` with its centroid taken as ``(1 / N) * LS``, is at
  most ``threshold ** 2``; otherwise a new subcluster, and a split when the
  leaf then holds ``branching_factor + 1`` of them;
- split: the farthest pair of the node's subclusters (squared distances by
  the very NumPy calls of ``euclidean_distances``, see ``split_distances``,
  with the first maximum in row-major order) seeds two nodes; every other
  subcluster goes to the node of the seed it is strictly closer to (ties to
  the second), in its old order; the
  parent's subcluster is replaced by the first new one and the second is
  appended, and an overflowing root gets a new root above it;
- ancestors: every subcluster on the path gains the sample (``LS += x``,
  ``SS += |x|^2``, ``N += 1``, centroid ``LS / N``) unless its child split.

Elsewhere only sums are rounded differently (dot products summed in order,
where NumPy's BLAS uses several partial sums), which can flip a decision
only at a tie to the last bit: a nearest subcluster or a merge radius equal
to the threshold. With these rules the tree holds scikit-learn's
subclusters, in its order (tests/cluster/test_birch.py).

Storage: a subcluster is a row of ``sub_*`` arrays (count, linear sum,
squared sum, centroid, squared centroid norm, child node or -1); a node is a
row of ``node_*`` arrays (its subclusters in order, their count, leaf flag,
previous and next leaf). A split reuses the split node's row for its first
half and the parent subcluster's row for the first new subcluster, so no
row is ever abandoned. ``meta`` holds the root, the first leaf, the rows in
use and the height.
"""

import numpy as np
from numba import njit, objmode

from .._numba import NUMBA_CACHE

# Entries of CFTree.meta.
ROOT, FIRST_LEAF, N_SUBCLUSTERS, N_NODES, HEIGHT = range(5)
# A call of _insert_rows returns to Python to grow the arrays (or its path
# buffers) rather than overflow them; this is how much taller it may grow.
_PATH_SLACK = 64


class CFTree:
    """A CF-tree's host arrays (see the module docstring), grown by doubling.

    Parameters
    ----------
    n_features : int
    dtype : float32 or float64
        The dtype of every sum and centroid, as the data's.
    branching_factor : int >= 2
        Most subclusters a node keeps (it holds one more while it splits).
    capacity : int
        Subcluster rows to allocate at first (nodes: a quarter as many).
    """

    def __init__(self, n_features, dtype, branching_factor, capacity=256):
        self.n_features = int(n_features)
        self.dtype = np.dtype(dtype)
        self.branching_factor = int(branching_factor)
        capacity = max(16, int(capacity))
        d, width = self.n_features, self.branching_factor + 1
        self.sub_n = np.zeros(capacity, np.int64)
        self.sub_ls = np.zeros((capacity, d), self.dtype)
        self.sub_ss = np.zeros(capacity, self.dtype)
        self.sub_c = np.zeros((capacity, d), self.dtype)
        self.sub_sqn = np.zeros(capacity, self.dtype)
        self.sub_child = np.full(capacity, -1, np.int64)
        n_nodes = max(8, capacity // 4)
        self.node_subs = np.full((n_nodes, width), -1, np.int64)
        self.node_size = np.zeros(n_nodes, np.int64)
        self.node_leaf = np.zeros(n_nodes, np.bool_)
        self.node_prev = np.full(n_nodes, -1, np.int64)
        self.node_next = np.full(n_nodes, -1, np.int64)
        self.meta = np.zeros(5, np.int64)
        # One empty leaf is the root and the first leaf.
        self.node_leaf[0] = True
        self.meta[N_NODES] = 1
        self.meta[HEIGHT] = 1

    @property
    def n_subclusters(self):
        """Subcluster rows in use (leaves and inner nodes)."""
        return int(self.meta[N_SUBCLUSTERS])

    @property
    def n_nodes(self):
        """Node rows in use."""
        return int(self.meta[N_NODES])

    @property
    def root(self):
        """Row of the root node."""
        return int(self.meta[ROOT])

    @property
    def first_leaf(self):
        """Row of the first leaf along the leaf list."""
        return int(self.meta[FIRST_LEAF])

    def arrays(self):
        """The state arrays in the order ``_insert_rows`` takes them."""
        return (self.meta, self.sub_n, self.sub_ls, self.sub_ss, self.sub_c, self.sub_sqn,
                self.sub_child, self.node_subs, self.node_size, self.node_leaf,
                self.node_prev, self.node_next)

    def grow(self):
        """Double the arrays, at least to twice the rows in use plus what one more sample needs."""
        spare = int(self.meta[HEIGHT]) + 3
        rows = max(2 * self.sub_n.shape[0], 2 * self.n_subclusters + spare)
        for name, fill in (("sub_n", 0), ("sub_ls", 0), ("sub_ss", 0), ("sub_c", 0),
                           ("sub_sqn", 0), ("sub_child", -1)):
            setattr(self, name, _grown(getattr(self, name), rows, fill))
        rows = max(2 * self.node_size.shape[0], 2 * self.n_nodes + spare)
        for name, fill in (("node_subs", -1), ("node_size", 0), ("node_leaf", False),
                           ("node_prev", -1), ("node_next", -1)):
            setattr(self, name, _grown(getattr(self, name), rows, fill))

    def leaf_subclusters(self):
        """Rows of the leaf subclusters, leaf by leaf along the leaf list (int64)."""
        return _leaf_subclusters(self.meta, self.node_subs, self.node_size, self.node_next)

    def copy(self):
        """An independent copy (for a fitted estimator that is cloned or pickled apart)."""
        new = object.__new__(CFTree)
        new.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v)
                             for k, v in self.__dict__.items()})
        return new


def _grown(array, rows, fill):
    new = np.full((rows,) + array.shape[1:], fill, dtype=array.dtype)
    new[: array.shape[0]] = array
    return new


def insert_rows(X, tree, threshold):
    """Insert the rows of X (n, n_features), in order, into ``tree``; return the leaf centroids.

    X must be C-contiguous in ``tree.dtype``. The arrays grow between
    compiled passes whenever fewer free rows are left than one sample could
    need. Returns the centroids of the leaf subclusters (m, n_features), in
    ``tree.leaf_subclusters`` order: scikit-learn's ``subcluster_centers_``.
    """
    threshold_sq = float(threshold) ** 2
    start, n = 0, X.shape[0]
    while True:
        start = _insert_rows(X, start, threshold_sq, tree.branching_factor, *tree.arrays())
        if start >= n:
            break
        tree.grow()
    return tree.sub_c[tree.leaf_subclusters()]


# --------------------------------------------------------------------------
# Compiled loops


@njit(cache=NUMBA_CACHE)
def _as_dtype(value, scratch):
    """``value`` rounded to the dtype of ``scratch`` (a one-element array), as NumPy casts a
    Python scalar that meets an array of that dtype."""
    scratch[0] = value
    return scratch[0]


@njit(cache=NUMBA_CACHE)
def _dot(a, b):
    total = a[0] * b[0]
    for k in range(1, a.shape[0]):
        total += a[k] * b[k]
    return total


@njit(cache=NUMBA_CACHE)
def _refresh_centroid(s, sub_n, sub_ls, sub_c, sub_sqn, scratch):
    """Centroid ``LS / N`` and its squared norm (scikit-learn's ``_CFSubcluster.update``)."""
    count = _as_dtype(sub_n[s], scratch)
    for k in range(sub_ls.shape[1]):
        sub_c[s, k] = sub_ls[s, k] / count
    sub_sqn[s] = _dot(sub_c[s], sub_c[s])


@njit(cache=NUMBA_CACHE)
def _nearest(node, x, node_subs, node_size, sub_c, sub_sqn):
    """Position in ``node`` of the subcluster nearest x: least ``|c|^2 - 2 c.x``, first on ties."""
    best, best_d = 0, np.inf
    for j in range(node_size[node]):
        s = node_subs[node, j]
        product = _dot(sub_c[s], x)
        distance = sub_sqn[s] - (product + product)
        if distance < best_d:
            best, best_d = j, distance
    return best


def split_distances(centroids):
    """Squared distances between the rows of ``centroids`` (m, d), exactly as scikit-learn's split.

    scikit-learn's ``_split_node`` calls ``euclidean_distances(C,
    squared=True)``: for float64, ``(-2 C C^T + |c_i|^2) + |c_j|^2`` with
    ``C @ C.T`` of one buffer (NumPy's symmetric product) and the norms from
    ``einsum``; for float32 the same in float64 on two upcast copies (a
    general product), cast back. Clipped at 0, exact 0 on the diagonal.
    Returned as float64 holding values of ``centroids``' dtype.

    This runs in NumPy, called from the compiled loop in object mode: in exact
    arithmetic ``D[i, j] == D[j, i]``, so which of the two scikit-learn's
    ``argmax`` meets first (and so which seed takes the first node, and the
    order of the leaves) is decided by the last bit of its BLAS rounding.
    Only the same NumPy calls reproduce it; a compiled sum agreed on the
    set of subclusters but ordered them differently in about one float64
    split in two. A split happens at most once per ``branching_factor / 2``
    insertions per level, so the object-mode call costs little.
    """
    if centroids.dtype == np.float32:
        left = centroids.astype(np.float64)
        right = centroids.astype(np.float64)
    else:
        left = right = centroids
    norms = np.einsum("ij,ij->i", left, left)
    distances = -2 * (left @ right.T)
    distances += norms[:, None]
    distances += norms[None, :]
    distances = distances.astype(centroids.dtype, copy=False)
    np.maximum(distances, 0, out=distances)
    np.fill_diagonal(distances, 0)
    return distances.astype(np.float64)


@njit(cache=NUMBA_CACHE)
def _split_node(node, first, second, second_node, members, meta, sub_n, sub_ls,
                sub_ss, sub_c, sub_sqn, sub_child, node_subs, node_size, node_leaf, node_prev,
                node_next, scratch):
    """Split the overflowing ``node`` into itself and ``second_node`` (as ``_split_node``).

    Subcluster rows ``first`` and ``second`` become the two new parent
    subclusters, with children ``node`` and ``second_node``.
    """
    m = node_size[node]
    for j in range(m):
        members[j] = node_subs[node, j]
    centroids = sub_c[members[:m]]
    with objmode(distances="float64[:, :]"):
        distances = split_distances(centroids)
    seed1, seed2, farthest = 0, 0, distances[0, 0]
    for i in range(m):
        for j in range(m):
            if distances[i, j] > farthest:
                seed1, seed2, farthest = i, j, distances[i, j]

    node_leaf[second_node] = node_leaf[node]
    node_size[node] = 0
    node_size[second_node] = 0
    if node_leaf[node]:
        following = node_next[node]
        node_next[node] = second_node
        node_prev[second_node] = node
        node_next[second_node] = following
        if following >= 0:
            node_prev[following] = second_node
    else:
        node_prev[second_node] = -1
        node_next[second_node] = -1

    d = sub_ls.shape[1]
    for s in (first, second):
        sub_n[s] = 0
        sub_ss[s] = 0.0
        for k in range(d):
            sub_ls[s, k] = 0.0
    sub_child[first] = node
    sub_child[second] = second_node
    for j in range(m):
        member = members[j]
        if j == seed1 or distances[seed1, j] < distances[seed2, j]:
            target, s = node, first
        else:
            target, s = second_node, second
        node_subs[target, node_size[target]] = member
        node_size[target] += 1
        sub_n[s] += sub_n[member]
        sub_ss[s] += sub_ss[member]
        for k in range(d):
            sub_ls[s, k] += sub_ls[member, k]
    _refresh_centroid(first, sub_n, sub_ls, sub_c, sub_sqn, scratch)
    _refresh_centroid(second, sub_n, sub_ls, sub_c, sub_sqn, scratch)


@njit(cache=NUMBA_CACHE)
def _new_row(meta, which):
    row = meta[which]
    meta[which] += 1
    return row


@njit(cache=NUMBA_CACHE)
def _insert_rows(X, start, threshold_sq, branching_factor, meta, sub_n, sub_ls, sub_ss, sub_c,
                 sub_sqn, sub_child, node_subs, node_size, node_leaf, node_prev, node_next):
    """Insert rows ``start, start + 1, ...`` of X; return the first row not inserted.

    Stops early (for the caller to grow the arrays) when fewer free rows
    remain than one sample may take: a leaf subcluster plus, per level, one
    split (two rows for the root's), and as many nodes.
    """
    n, d = X.shape
    scratch = np.empty(1, dtype=sub_ss.dtype)
    limit = _as_dtype(threshold_sq, scratch)
    height_cap = meta[HEIGHT] + _PATH_SLACK
    path_node = np.empty(height_cap, np.int64)
    path_pos = np.empty(height_cap, np.int64)
    members = np.empty(branching_factor + 1, np.int64)
    merged_ls = np.empty(d, dtype=sub_ls.dtype)
    merged_c = np.empty(d, dtype=sub_c.dtype)
    for row in range(start, n):
        height = meta[HEIGHT]
        if (height + 2 > height_cap
                or sub_n.shape[0] - meta[N_SUBCLUSTERS] < height + 3
                or node_size.shape[0] - meta[N_NODES] < height + 2):
            return row
        x = X[row]
        x_sq = _dot(x, x)

        # Descend to the leaf, remembering the nearest subcluster of every level.
        depth = 0
        node = meta[ROOT]
        while node_size[node] > 0:
            pos = _nearest(node, x, node_subs, node_size, sub_c, sub_sqn)
            path_node[depth] = node
            path_pos[depth] = pos
            depth += 1
            child = sub_child[node_subs[node, pos]]
            if child < 0:
                break
            node = child

        # The leaf: merge into the nearest subcluster, or add a new one.
        split = False
        merged = False
        if depth > 0:
            s = node_subs[node, path_pos[depth - 1]]
            count = sub_n[s] + 1
            squared = sub_ss[s] + x_sq
            inverse = _as_dtype(1.0 / count, scratch)
            for k in range(d):
                merged_ls[k] = sub_ls[s, k] + x[k]
                merged_c[k] = inverse * merged_ls[k]
            merged_sqn = _dot(merged_c, merged_c)
            if squared / _as_dtype(count, scratch) - merged_sqn <= limit:
                sub_n[s] = count
                sub_ss[s] = squared
                for k in range(d):
                    sub_ls[s, k] = merged_ls[k]
                    sub_c[s, k] = merged_c[k]
                sub_sqn[s] = merged_sqn
                merged = True
        if not merged:
            s = _new_row(meta, N_SUBCLUSTERS)
            sub_n[s] = 1
            sub_ss[s] = x_sq
            for k in range(d):
                sub_ls[s, k] = x[k]
                sub_c[s, k] = x[k]
            sub_sqn[s] = x_sq
            sub_child[s] = -1
            node_subs[node, node_size[node]] = s
            node_size[node] += 1
            split = node_size[node] > branching_factor

        # Back up the path: split the child that overflowed, or add x to the parent.
        for level in range(depth - 2, -1, -1):
            parent = path_node[level]
            s = node_subs[parent, path_pos[level]]
            if split:
                second = _new_row(meta, N_SUBCLUSTERS)
                second_node = _new_row(meta, N_NODES)
                _split_node(sub_child[s], s, second, second_node, members, meta,
                            sub_n, sub_ls, sub_ss, sub_c, sub_sqn, sub_child, node_subs,
                            node_size, node_leaf, node_prev, node_next, scratch)
                node_subs[parent, node_size[parent]] = second
                node_size[parent] += 1
                split = node_size[parent] > branching_factor
            else:
                sub_n[s] += 1
                sub_ss[s] += x_sq
                for k in range(d):
                    sub_ls[s, k] += x[k]
                _refresh_centroid(s, sub_n, sub_ls, sub_c, sub_sqn, scratch)

        if split:
            # The root overflowed: it splits in two under a new root.
            root = meta[ROOT]
            first = _new_row(meta, N_SUBCLUSTERS)
            second = _new_row(meta, N_SUBCLUSTERS)
            second_node = _new_row(meta, N_NODES)
            _split_node(root, first, second, second_node, members, meta, sub_n,
                        sub_ls, sub_ss, sub_c, sub_sqn, sub_child, node_subs, node_size,
                        node_leaf, node_prev, node_next, scratch)
            new_root = _new_row(meta, N_NODES)
            node_leaf[new_root] = False
            node_prev[new_root] = -1
            node_next[new_root] = -1
            node_subs[new_root, 0] = first
            node_subs[new_root, 1] = second
            node_size[new_root] = 2
            meta[ROOT] = new_root
            meta[HEIGHT] += 1
    return n


@njit(cache=NUMBA_CACHE)
def _leaf_subclusters(meta, node_subs, node_size, node_next):
    total = 0
    leaf = meta[FIRST_LEAF]
    while leaf >= 0:
        total += node_size[leaf]
        leaf = node_next[leaf]
    out = np.empty(total, np.int64)
    i = 0
    leaf = meta[FIRST_LEAF]
    while leaf >= 0:
        for j in range(node_size[leaf]):
            out[i] = node_subs[leaf, j]
            i += 1
        leaf = node_next[leaf]
    return out
