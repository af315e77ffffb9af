"""HDBSCAN's tree processing on the host: linkage, condensing, selection, scores, prediction.

Everything here is inherently sequential (a union-find over sorted edges, a
walk down the hierarchy, a bottom-up pass over clusters), so it runs on the
host in NumPy and Numba after the estimator converts the minimum spanning
tree once with ``backend.to_numpy``. The distance work (core distances, the
spanning tree, neighbours of new points, distances to exemplars) stays in the
kernels, on the data's device.

The algorithms and their tie-breaking follow the hdbscan library
(``hdbscan/_hdbscan_tree.pyx``, ``hdbscan/prediction.py``,
``hdbscan/_prediction_utils.pyx``), which scikit-learn's HDBSCAN also ports:

- the single-linkage tree is SciPy's (n - 1, 4) linkage matrix
  ``[left, right, distance, size]``, new nodes numbered from ``n``;
- the condensed tree is a structured array with fields ``parent``, ``child``,
  ``lambda_val`` (1 / distance) and ``child_size``; points are ``0 .. n-1``, the
  root cluster is ``n`` and clusters are numbered in breadth-first order, so a
  parent's id is always smaller than its children's.
"""

import numpy as np
from numba import njit

from ..kernels._numba import NUMBA_CACHE

CONDENSED_DTYPE = np.dtype(
    [("parent", np.intp), ("child", np.intp), ("lambda_val", np.float64), ("child_size", np.intp)]
)


# --------------------------------------------------------------------------
# Single-linkage tree


@njit(cache=NUMBA_CACHE)
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit(cache=NUMBA_CACHE)
def _single_linkage(edges, weights, n_samples):
    result = np.empty((n_samples - 1, 4), dtype=np.float64)
    parent = np.arange(2 * n_samples - 1)
    size = np.ones(2 * n_samples - 1, dtype=np.int64)
    next_label = n_samples
    for i in range(n_samples - 1):
        a = _find(parent, edges[i, 0])
        b = _find(parent, edges[i, 1])
        result[i, 0] = a
        result[i, 1] = b
        result[i, 2] = weights[i]
        result[i, 3] = size[a] + size[b]
        size[next_label] = size[a] + size[b]
        parent[a] = next_label
        parent[b] = next_label
        next_label += 1
    return result


@njit(cache=NUMBA_CACHE)
def _orient_from_root(edges, n_samples):
    # Breadth-first over the tree from point 0; each edge becomes
    # (end nearer the root, end farther from it).
    n_edges = edges.shape[0]
    degree = np.zeros(n_samples + 1, dtype=np.int64)
    for i in range(n_edges):
        degree[edges[i, 0] + 1] += 1
        degree[edges[i, 1] + 1] += 1
    start = np.cumsum(degree)
    fill = start[:-1].copy()
    neighbours = np.empty(2 * n_edges, dtype=np.int64)
    for i in range(n_edges):
        u, v = edges[i, 0], edges[i, 1]
        neighbours[fill[u]] = v
        fill[u] += 1
        neighbours[fill[v]] = u
        fill[v] += 1
    depth = np.full(n_samples, -1, dtype=np.int64)
    queue = np.empty(n_samples, dtype=np.int64)
    queue[0] = 0
    depth[0] = 0
    head, tail = 0, 1
    while head < tail:
        node = queue[head]
        head += 1
        for k in range(start[node], start[node + 1]):
            other = neighbours[k]
            if depth[other] < 0:
                depth[other] = depth[node] + 1
                queue[tail] = other
                tail += 1
    oriented = edges.copy()
    for i in range(n_edges):
        if depth[edges[i, 1]] < depth[edges[i, 0]]:
            oriented[i, 0] = edges[i, 1]
            oriented[i, 1] = edges[i, 0]
    return oriented


def single_linkage_tree(edges, weights, n_samples, sklearn_order=False):
    """SciPy-format linkage matrix (n - 1, 4) from the MST edges, taken by ascending weight.

    Row ``i`` merges the clusters holding the ends of edge ``i``:
    ``[left, right, distance, size]``, the new node being ``n + i``. Each edge
    is first oriented away from point 0, as scikit-learn's Prim's algorithm
    (grown from point 0) emits its edges ``(in the tree, added)``: left is
    then the side that holds the end nearer point 0, as in scikit-learn, and
    so are the condensed tree's cluster ids and the labels (numbered in that
    tree's order). Ties between equal weights keep the kernel's edge order:
    where several spanning trees are minimal, scikit-learn's may differ
    anyway (mimicking its Prim order and unstable sort matched 2 more of 20
    blob seeds but fewer of the hdbscan library's ties, so it was not kept).

    With ``sklearn_order=True`` the edges are scikit-learn's own, in its
    order (the host paths emit them as its Prim's algorithms and SciPy's
    tree do): each keeps its ends as given (left holds the first) and they
    are sorted with NumPy's default sort, as scikit-learn's ``_process_mst``
    sorts them, so that ties break as in scikit-learn too.
    """
    edges = np.ascontiguousarray(edges, dtype=np.int64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    if sklearn_order:
        order = np.argsort(weights)
        return _single_linkage(edges[order], weights[order], int(n_samples))
    edges = _orient_from_root(edges, int(n_samples))
    order = np.argsort(weights, kind="stable")
    return _single_linkage(edges[order], weights[order], int(n_samples))


# --------------------------------------------------------------------------
# Condensed tree


@njit(cache=NUMBA_CACHE)
def _emit_points(hierarchy, n_samples, start, parent_label, lambda_value, ignore,
                 stack, out_parent, out_child, out_lambda, out_size, pos):
    # Every point below ``start`` leaves ``parent_label`` at ``lambda_value``;
    # breadth-first order, as the hdbscan library emits them.
    head = 0
    tail = 1
    stack[0] = start
    while head < tail:
        node = stack[head]
        head += 1
        ignore[node] = True
        if node < n_samples:
            out_parent[pos] = parent_label
            out_child[pos] = node
            out_lambda[pos] = lambda_value
            out_size[pos] = 1
            pos += 1
        else:
            row = node - n_samples
            stack[tail] = np.int64(hierarchy[row, 0])
            stack[tail + 1] = np.int64(hierarchy[row, 1])
            tail += 2
    return pos


@njit(cache=NUMBA_CACHE)
def _condense(hierarchy, min_cluster_size):
    n_samples = hierarchy.shape[0] + 1
    root = 2 * hierarchy.shape[0]
    n_nodes = root + 1
    # Breadth-first order of the hierarchy from the root.
    order = np.empty(n_nodes, dtype=np.int64)
    order[0] = root
    head = 0
    tail = 1
    while head < tail:
        node = order[head]
        head += 1
        if node >= n_samples:
            order[tail] = np.int64(hierarchy[node - n_samples, 0])
            order[tail + 1] = np.int64(hierarchy[node - n_samples, 1])
            tail += 2
    relabel = np.empty(n_nodes, dtype=np.int64)
    relabel[root] = n_samples
    next_label = n_samples + 1
    ignore = np.zeros(n_nodes, dtype=np.bool_)
    stack = np.empty(n_nodes, dtype=np.int64)
    out_parent = np.empty(2 * n_samples, dtype=np.int64)
    out_child = np.empty(2 * n_samples, dtype=np.int64)
    out_lambda = np.empty(2 * n_samples, dtype=np.float64)
    out_size = np.empty(2 * n_samples, dtype=np.int64)
    pos = 0
    for idx in range(n_nodes):
        node = order[idx]
        if ignore[node] or node < n_samples:
            continue
        row = node - n_samples
        left = np.int64(hierarchy[row, 0])
        right = np.int64(hierarchy[row, 1])
        distance = hierarchy[row, 2]
        lambda_value = 1.0 / distance if distance > 0.0 else np.inf
        left_count = np.int64(hierarchy[left - n_samples, 3]) if left >= n_samples else 1
        right_count = np.int64(hierarchy[right - n_samples, 3]) if right >= n_samples else 1
        label = relabel[node]
        if left_count >= min_cluster_size and right_count >= min_cluster_size:
            relabel[left] = next_label
            next_label += 1
            out_parent[pos] = label
            out_child[pos] = relabel[left]
            out_lambda[pos] = lambda_value
            out_size[pos] = left_count
            pos += 1
            relabel[right] = next_label
            next_label += 1
            out_parent[pos] = label
            out_child[pos] = relabel[right]
            out_lambda[pos] = lambda_value
            out_size[pos] = right_count
            pos += 1
        elif left_count < min_cluster_size and right_count < min_cluster_size:
            pos = _emit_points(hierarchy, n_samples, left, label, lambda_value, ignore,
                               stack, out_parent, out_child, out_lambda, out_size, pos)
            pos = _emit_points(hierarchy, n_samples, right, label, lambda_value, ignore,
                               stack, out_parent, out_child, out_lambda, out_size, pos)
        elif left_count < min_cluster_size:
            relabel[right] = label
            pos = _emit_points(hierarchy, n_samples, left, label, lambda_value, ignore,
                               stack, out_parent, out_child, out_lambda, out_size, pos)
        else:
            relabel[left] = label
            pos = _emit_points(hierarchy, n_samples, right, label, lambda_value, ignore,
                               stack, out_parent, out_child, out_lambda, out_size, pos)
    return out_parent[:pos], out_child[:pos], out_lambda[:pos], out_size[:pos]


def condense_tree(hierarchy, min_cluster_size):
    """Condensed tree (structured array, ``CONDENSED_DTYPE``) of a linkage matrix.

    A split where both sides have at least ``min_cluster_size`` points makes
    two child clusters; otherwise the small side's points fall out of the
    parent at that lambda and the large side keeps the parent's label.
    """
    hierarchy = np.ascontiguousarray(hierarchy, dtype=np.float64)
    parent, child, lambdas, sizes = _condense(hierarchy, int(min_cluster_size))
    tree = np.empty(parent.shape[0], dtype=CONDENSED_DTYPE)
    tree["parent"] = parent
    tree["child"] = child
    tree["lambda_val"] = lambdas
    tree["child_size"] = sizes
    return tree


# --------------------------------------------------------------------------
# Cluster hierarchy, stability and selection


class ClusterHierarchy:
    """The clusters of a condensed tree, indexed ``0 .. n_clusters-1`` (id minus ``n_samples``).

    Attributes (NumPy arrays over clusters): ``parent`` (-1 for the root),
    ``left``/``right`` children (-1 for leaves; condensed splits are binary),
    ``birth`` (lambda at which the cluster appears, 0 for the root), ``size``,
    ``death`` (largest lambda among its own rows), ``stability``.
    """

    def __init__(self, tree, n_samples):
        self.n_samples = n_samples
        parent = tree["parent"]
        child = tree["child"]
        lambdas = tree["lambda_val"]
        sizes = tree["child_size"]
        n_clusters = int(parent.max()) - n_samples + 1 if tree.shape[0] else 1
        self.n_clusters = n_clusters
        self.parent = np.full(n_clusters, -1, dtype=np.int64)
        self.left = np.full(n_clusters, -1, dtype=np.int64)
        self.right = np.full(n_clusters, -1, dtype=np.int64)
        self.birth = np.zeros(n_clusters, dtype=np.float64)
        self.size = np.zeros(n_clusters, dtype=np.int64)
        self.size[0] = n_samples
        is_cluster_row = child >= n_samples
        c_parent = parent[is_cluster_row] - n_samples
        c_child = child[is_cluster_row] - n_samples
        self.parent[c_child] = c_parent
        self.birth[c_child] = lambdas[is_cluster_row]
        self.size[c_child] = sizes[is_cluster_row]
        # Rows come in sibling pairs, left first (breadth-first emission).
        self.left[c_parent[0::2]] = c_child[0::2]
        self.right[c_parent[1::2]] = c_child[1::2]
        self.death = np.zeros(n_clusters, dtype=np.float64)
        if tree.shape[0]:
            np.maximum.at(self.death, parent - n_samples, lambdas)
        # Stability: sum over a cluster's rows of (lambda - birth) * size.
        self.stability = np.zeros(n_clusters, dtype=np.float64)
        if tree.shape[0]:
            p = parent - n_samples
            with np.errstate(invalid="ignore"):
                np.add.at(self.stability, p, (lambdas - self.birth[p]) * sizes)

    def descendants(self, c):
        """``c`` and every cluster below it, breadth-first."""
        out = [c]
        i = 0
        while i < len(out):
            node = out[i]
            if self.left[node] >= 0:
                out.append(int(self.left[node]))
                out.append(int(self.right[node]))
            i += 1
        return out

    def leaves(self):
        return np.flatnonzero(self.left < 0)


def _epsilon_search(hier, candidates, epsilon, allow_single_cluster):
    # As the hdbscan library's ``epsilon_search``: a candidate born below
    # ``epsilon`` (in distance) is replaced by its lowest ancestor that exists
    # at distance ``epsilon``, or by itself when that would be the root.
    selected = []
    processed = set()
    for leaf in sorted(int(c) for c in candidates):
        eps = 1.0 / hier.birth[leaf] if hier.birth[leaf] > 0 else np.inf
        if eps < epsilon:
            if leaf in processed:
                continue
            node = leaf
            while True:
                parent = int(hier.parent[node])
                if parent == 0:
                    chosen = parent if allow_single_cluster else node
                    break
                parent_eps = 1.0 / hier.birth[parent] if hier.birth[parent] > 0 else np.inf
                if parent_eps > epsilon:
                    chosen = parent
                    break
                node = parent
            selected.append(chosen)
            processed.update(hier.descendants(chosen)[1:])
        else:
            selected.append(leaf)
    return set(selected)


def select_clusters(hier, method="eom", allow_single_cluster=False, epsilon=0.0,
                    max_cluster_size=None):
    """Selected clusters (indices into ``hier``), sorted; as hdbscan's ``get_clusters``.

    Also returns the stabilities after excess-of-mass propagation (an
    unselected cluster carries the summed stability of its selection below).
    """
    stability = hier.stability.copy()
    n_clusters = hier.n_clusters
    n_samples = hier.n_samples
    if max_cluster_size is None or max_cluster_size <= 0:
        max_cluster_size = n_samples + 1
    sizes = hier.size.copy()
    sizes[0] = sizes[hier.left[0]] + sizes[hier.right[0]] if hier.left[0] >= 0 else 0
    lowest = 0 if allow_single_cluster else 1
    is_cluster = np.zeros(n_clusters, dtype=bool)
    is_cluster[lowest:] = True
    has_tree = n_clusters > 1
    if method == "eom":
        for node in range(n_clusters - 1, lowest - 1, -1):
            left, right = hier.left[node], hier.right[node]
            subtree = stability[left] + stability[right] if left >= 0 else 0.0
            if subtree > stability[node] or sizes[node] > max_cluster_size:
                is_cluster[node] = False
                stability[node] = subtree
            else:
                is_cluster[hier.descendants(node)[1:]] = False
        if epsilon != 0.0 and has_tree:
            eom = np.flatnonzero(is_cluster)
            if len(eom) == 1 and eom[0] == 0:
                selected = {0} if allow_single_cluster else set()
            else:
                selected = _epsilon_search(hier, eom, epsilon, allow_single_cluster)
            is_cluster[:] = False
            is_cluster[list(selected)] = True
    elif method == "leaf":
        leaves = hier.leaves() if has_tree else np.empty(0, dtype=np.int64)
        if epsilon != 0.0:
            selected = _epsilon_search(hier, leaves, epsilon, allow_single_cluster)
        else:
            selected = set(int(c) for c in leaves)
        is_cluster[:] = False
        if selected:
            is_cluster[list(selected)] = True
    else:
        raise ValueError(f"cluster_selection_method must be 'eom' or 'leaf', got {method!r}.")
    return np.flatnonzero(is_cluster), stability


@njit(cache=NUMBA_CACHE)
def _label_points(parent, child, lambdas, n_samples, owner, cluster_label, root_selected_alone,
                  root_threshold):
    labels = np.full(n_samples, -1, dtype=np.int64)
    point_lambda = np.zeros(n_samples, dtype=np.float64)
    point_parent = np.zeros(n_samples, dtype=np.int64)
    for i in range(parent.shape[0]):
        c = child[i]
        if c < n_samples:
            point_lambda[c] = lambdas[i]
            point_parent[c] = parent[i] - n_samples
            top = owner[parent[i] - n_samples]
            if top < 0:
                continue
            if top == 0:
                if root_selected_alone and lambdas[i] >= root_threshold:
                    labels[c] = cluster_label[0]
            else:
                labels[c] = cluster_label[top]
    return labels, point_lambda, point_parent


def label_points(tree, hier, selected, allow_single_cluster, epsilon):
    """Labels 0..k-1 (selected clusters in id order) and -1 for noise, as hdbscan's ``do_labelling``.

    Returns ``labels``, each point's ``lambda`` (when it leaves the tree) and
    the cluster it leaves from (index into ``hier``).
    """
    n_samples = hier.n_samples
    cluster_label = np.full(hier.n_clusters, -1, dtype=np.int64)
    cluster_label[selected] = np.arange(len(selected))
    # The selected cluster that owns each cluster: itself, else its parent's owner;
    # parents have smaller ids, so one pass in id order settles it.
    owner = np.full(hier.n_clusters, -1, dtype=np.int64)
    is_selected = np.zeros(hier.n_clusters, dtype=bool)
    is_selected[selected] = True
    for c in range(hier.n_clusters):
        if is_selected[c]:
            owner[c] = c
        elif c > 0:
            owner[c] = owner[hier.parent[c]]
    root_alone = bool(len(selected) == 1 and selected[0] == 0 and allow_single_cluster)
    if epsilon != 0.0:
        threshold = 1.0 / epsilon
    else:
        # Points of a single root cluster must leave no earlier than the last
        # direct departure from the root, as in the hdbscan library.
        threshold = hier.death[0]
    if not root_alone:
        owner[owner == 0] = -1
    return _label_points(tree["parent"], tree["child"], tree["lambda_val"], n_samples, owner,
                         cluster_label, root_alone, threshold)


def membership_strengths(labels, point_lambda, selected, hier):
    """``probabilities_``: lambda / (the owning cluster's largest lambda), 0 for noise."""
    probs = np.zeros(labels.shape[0], dtype=np.float64)
    clustered = labels >= 0
    if not clustered.any():
        return probs
    max_lambda = hier.death[selected][labels[clustered]]
    lam = point_lambda[clustered]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.minimum(lam, max_lambda) / max_lambda
    p[(max_lambda == 0.0) | ~np.isfinite(lam)] = 1.0
    probs[clustered] = p
    return probs


def glosh_scores(hier, point_lambda, point_parent):
    """GLOSH outlier scores: (lambda_max of the point's cluster subtree - lambda) / lambda_max."""
    deaths = subtree_deaths(hier)
    lambda_max = deaths[point_parent]
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (lambda_max - point_lambda) / lambda_max
    scores[(lambda_max == 0.0) | ~np.isfinite(point_lambda)] = 0.0
    # inf - inf for duplicates in an infinitely dense subtree
    scores[~np.isfinite(scores)] = 0.0
    return scores


def subtree_deaths(hier):
    """Largest lambda anywhere in each cluster's subtree (children have larger ids)."""
    deaths = hier.death.copy()
    for c in range(hier.n_clusters - 1, 0, -1):
        p = hier.parent[c]
        if deaths[c] > deaths[p]:
            deaths[p] = deaths[c]
    return deaths


def persistence_scores(labels, selected, stability, max_lambda):
    """``cluster_persistence_``: stability / (size * the tree's largest lambda), as hdbscan."""
    counts = np.bincount(labels[labels >= 0], minlength=len(selected))
    out = np.ones(len(selected), dtype=np.float64)
    if np.isinf(max_lambda) or max_lambda == 0.0:
        return out
    ok = counts > 0
    out[ok] = stability[selected][ok] / (counts[ok] * max_lambda)
    return out


def process_tree(edges, weights, n_samples, *, min_cluster_size, method, allow_single_cluster,
                 epsilon, max_cluster_size, sklearn_order=False):
    """Everything the estimator stores, from the spanning tree (host NumPy arrays);
    ``sklearn_order`` as in :func:`single_linkage_tree`."""
    slt = single_linkage_tree(edges, weights, n_samples, sklearn_order)
    tree = condense_tree(slt, min_cluster_size)
    hier = ClusterHierarchy(tree, n_samples)
    selected, stability = select_clusters(
        hier, method, allow_single_cluster, epsilon, max_cluster_size
    )
    labels, point_lambda, point_parent = label_points(
        tree, hier, selected, allow_single_cluster, epsilon
    )
    max_lambda = float(tree["lambda_val"].max()) if tree.shape[0] else 0.0
    return {
        "single_linkage_tree": slt,
        "condensed_tree": tree,
        "hierarchy": hier,
        "selected": selected,
        "labels": labels,
        "probabilities": membership_strengths(labels, point_lambda, selected, hier),
        "outlier_scores": glosh_scores(hier, point_lambda, point_parent),
        "persistence": persistence_scores(labels, selected, stability, max_lambda),
        "point_lambda": point_lambda,
        "point_parent": point_parent,
    }


# --------------------------------------------------------------------------
# Rows left out of the clustering (NaN or infinity)


def remap_single_linkage_tree(tree, finite_index, non_finite):
    """The linkage matrix of the finite rows, renumbered to all rows, the others merged at infinity.

    As scikit-learn's ``remap_single_linkage_tree``: a point ``i`` of the
    finite rows becomes ``finite_index[i]``, a cluster node moves up by the
    number of non-finite rows, and each non-finite row (ascending) is merged
    at distance infinity in a row ``[row, last_id + 1, inf, last_size + 1]``.
    """
    n_finite = finite_index.shape[0]
    n_out = len(non_finite)
    tree = np.array(tree, dtype=np.float64, copy=True)
    for col in (0, 1):
        nodes = tree[:, col].astype(np.int64)
        is_point = nodes < n_finite
        tree[:, col] = np.where(is_point, finite_index[np.where(is_point, nodes, 0)],
                                nodes + n_out)
    last_id = int(max(tree[-1, 0], tree[-1, 1])) if tree.shape[0] else n_out - 1
    last_size = int(tree[-1, 3]) if tree.shape[0] else 1
    extra = np.empty((n_out, 4), dtype=np.float64)
    for i, row in enumerate(non_finite):
        extra[i] = (row, last_id + 1 + i, np.inf, last_size + 1 + i)
    return np.concatenate([tree, extra])


def remap_condensed_tree(tree, finite_index, non_finite):
    """The finite rows' condensed tree renumbered to all rows, the others leaving at lambda 0.

    As the hdbscan library's ``remap_condensed_tree``: points become
    ``finite_index[i]``, clusters move up by the number of non-finite rows
    (the root becomes ``n_samples``), and each non-finite row comes first as
    ``(root, row, 0, 1)``.
    """
    n_finite = finite_index.shape[0]
    n_out = len(non_finite)
    out = np.empty(n_out + tree.shape[0], dtype=CONDENSED_DTYPE)
    out["parent"][:n_out] = n_finite + n_out
    out["child"][:n_out] = non_finite
    out["lambda_val"][:n_out] = 0.0
    out["child_size"][:n_out] = 1
    child = tree["child"]
    is_point = child < n_finite
    out["parent"][n_out:] = tree["parent"] + n_out
    out["child"][n_out:] = np.where(is_point, finite_index[np.where(is_point, child, 0)],
                                    child + n_out)
    out["lambda_val"][n_out:] = tree["lambda_val"]
    out["child_size"][n_out:] = tree["child_size"]
    return out


# --------------------------------------------------------------------------
# Prediction data, approximate_predict and soft clustering


class PredictionData:
    """What prediction and soft clustering need, computed once after fit (host NumPy).

    Attributes
    ----------
    core_distances : ndarray (n_samples,), float64
    point_lambda, point_parent : ndarray (n_samples,)
        Each training point's departure lambda and the cluster it departs from.
    cluster_label : ndarray (n_clusters_in_tree,), int64
        Label of the selected cluster at or above each tree cluster, -1 if none.
    cluster_max_lambda : ndarray (n_clusters_in_tree,), float64
        Largest own lambda of that selected cluster (for probabilities).
    leaf_max_lambda : ndarray (n_clusters_in_tree,), float64
        Largest own lambda of every tree cluster.
    selected : ndarray (n_selected,), int64
        Selected clusters (indices into the hierarchy), label order.
    exemplar_indices : list of ndarray
        Per selected cluster, the training points that leave its leaf clusters last.
    """

    def __init__(self, condensed_tree, hier, selected, core_distances, point_lambda,
                 point_parent):
        self.hier = hier
        self.selected = np.asarray(selected, dtype=np.int64)
        self.core_distances = np.asarray(core_distances, dtype=np.float64)
        self.point_lambda = point_lambda
        self.point_parent = point_parent
        n_clusters = hier.n_clusters
        self.cluster_label = np.full(n_clusters, -1, dtype=np.int64)
        self.cluster_max_lambda = np.zeros(n_clusters, dtype=np.float64)
        self.leaf_max_lambda = hier.death.copy()
        self.exemplar_indices = []
        n_samples = hier.n_samples
        tree = condensed_tree
        points = tree[tree["child"] < n_samples]
        for label, c in enumerate(self.selected):
            below = hier.descendants(int(c))
            self.cluster_label[below] = label
            self.cluster_max_lambda[below] = hier.death[c]
            leaves = [b for b in below if hier.left[b] < 0]
            parts = []
            for leaf in leaves:
                rows = points[points["parent"] == leaf + n_samples]
                parts.append(rows["child"][rows["lambda_val"] == hier.death[leaf]])
            self.exemplar_indices.append(
                np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)
            )


def neighbor_and_lambda(neighbor_distances, neighbor_indices, core_distances, min_samples, alpha):
    """Nearest mutual-reachability training neighbour of each new point, and its lambda.

    ``neighbor_distances``/``indices`` (m, k) are the new points' nearest
    training points. The conventions are the hdbscan library's, so that
    ``approximate_predict`` reproduces its answers: with this estimator's
    ``min_samples = m`` (the library's ``m - 1``), a new point's core distance
    is the distance to its m-th nearest training point and ``core_distances``
    hold each training point's distance to its (m - 1)-th nearest point,
    counting itself.
    """
    d = np.asarray(neighbor_distances, dtype=np.float64)
    idx = np.asarray(neighbor_indices, dtype=np.int64)
    own_core = d[:, min(min_samples - 1, d.shape[1] - 1)]
    reach = np.maximum(np.maximum(core_distances[idx], own_core[:, None]), d / alpha)
    best = np.argmin(reach, axis=1)
    rows = np.arange(d.shape[0])
    nearest = idx[rows, best]
    mr = reach[rows, best]
    with np.errstate(divide="ignore"):
        lambdas = np.where(mr > 0.0, 1.0 / np.where(mr > 0, mr, 1.0), np.finfo(np.float64).max)
    return nearest, lambdas


def approximate_predict(pdata, nearest, lambdas):
    """Labels and probabilities of new points joined to the tree at their nearest neighbour."""
    hier = pdata.hier
    m = nearest.shape[0]
    labels = np.full(m, -1, dtype=np.int64)
    probs = np.zeros(m, dtype=np.float64)
    for i in range(m):
        lam = lambdas[i]
        cluster = int(pdata.point_parent[nearest[i]])
        if pdata.point_lambda[nearest[i]] > lam:
            # The new point joins at a lower density: climb while the cluster
            # is born at or above that density.
            while cluster > 0 and hier.birth[cluster] >= lam:
                cluster = int(hier.parent[cluster])
        label = pdata.cluster_label[cluster]
        if label >= 0:
            labels[i] = label
            max_lambda = pdata.cluster_max_lambda[cluster]
            probs[i] = min(max_lambda, lam) / max_lambda if max_lambda > 0.0 else 1.0
    return labels, probs


@njit(cache=NUMBA_CACHE)
def _merge_heights(point_cluster, point_lambda, clusters, parent, birth):
    # For each selected cluster, the lambda at which it merges with the
    # point's cluster (its lowest common ancestor's split), or the point's own
    # lambda when one contains the other (hdbscan's ``merge_height``).
    m = point_cluster.shape[0]
    k = clusters.shape[0]
    out = np.empty((m, k), dtype=np.float64)
    for i in range(m):
        for j in range(k):
            left = point_cluster[i]
            right = clusters[j]
            took_left = False
            took_right = False
            last = left
            while left != right:
                if left > right:
                    took_left = True
                    last = left
                    left = parent[left]
                else:
                    took_right = True
                    last = right
                    right = parent[right]
            out[i, j] = birth[last] if (took_left and took_right) else point_lambda[i]
    return out


def _distance_membership(min_distances):
    # 1 / distance to each cluster's nearest exemplar, normalised; an exact
    # exemplar hit takes all the mass, as in hdbscan (DBL_MAX / n_clusters).
    d = np.asarray(min_distances, dtype=np.float64)
    k = d.shape[1]
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1.0), np.finfo(np.float64).max / k)
    inv = np.minimum(inv, np.finfo(np.float64).max / k)
    return inv / inv.sum(axis=1, keepdims=True)


def _safe_normalise(result, fallback):
    # Rows that vanished or overflowed fall back to distance-based membership,
    # then to uniform, so that every row is a probability vector.
    sums = result.sum(axis=1, keepdims=True)
    bad = ~np.isfinite(sums[:, 0]) | (sums[:, 0] <= 0) | ~np.isfinite(result).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = result / sums
    if bad.any():
        fb = fallback[bad]
        fsum = fb.sum(axis=1, keepdims=True)
        fine = np.isfinite(fsum[:, 0]) & (fsum[:, 0] > 0) & np.isfinite(fb).all(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            fb = np.where(fine[:, None], fb / np.where(fine[:, None], fsum, 1.0),
                          1.0 / max(fb.shape[1], 1))
        out[bad] = fb
    return out


def membership_vectors(pdata, min_distances, point_cluster, point_lambda, *, training):
    """Soft membership of points in each selected cluster; rows sum to 1.

    ``min_distances`` (m, n_selected): distance to each cluster's nearest
    exemplar. ``point_cluster``/``point_lambda``: where each point sits in the
    tree. ``training=True`` uses hdbscan's ``all_points_membership_vectors``
    formulas, ``False`` its ``membership_vector`` ones. Returns
    ``(vectors, prob_in_some_cluster)``; hdbscan's own output is their product.
    """
    hier = pdata.hier
    clusters = pdata.selected
    point_cluster = np.asarray(point_cluster, dtype=np.int64)
    point_lambda = np.asarray(point_lambda, dtype=np.float64)
    # Infinite lambdas (exact duplicates) are capped so the ratios below stay finite.
    finite = np.isfinite(point_lambda)
    cap = np.finfo(np.float64).max / 4
    point_lambda = np.where(finite, point_lambda, cap)
    birth = np.minimum(hier.birth, cap)
    heights = _merge_heights(point_cluster, point_lambda, clusters, hier.parent, birth)
    dist_vec = _distance_membership(min_distances)
    leaf_max = np.minimum(pdata.leaf_max_lambda, cap)
    max_lambda = leaf_max[point_cluster]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if training:
            scores = np.exp(-((max_lambda + 1e-8)[:, None] / heights))
            scores = np.exp(scores - np.nanmax(scores))
            outlier_vec = scores / scores.sum(axis=1, keepdims=True)
            combined = dist_vec * outlier_vec
        else:
            denom = max_lambda[:, None] - heights
            denom = np.where(denom <= 0, 1e-8, denom)
            scores = max_lambda[:, None] / denom
            scores = np.exp(scores - np.nanmax(scores, axis=1, keepdims=True))
            outlier_vec = scores / scores.sum(axis=1, keepdims=True)
            combined = dist_vec**0.5 * outlier_vec**2.0
        nearest = np.argmax(heights, axis=1)
        top = heights[np.arange(heights.shape[0]), nearest]
        if training:
            in_cluster = top / np.maximum(leaf_max[clusters[nearest]], point_lambda)
        else:
            in_cluster = top / (np.maximum(point_lambda, leaf_max[clusters[nearest]]) + 1e-8)
    in_cluster = np.nan_to_num(np.clip(in_cluster, 0.0, 1.0), nan=0.0)
    return _safe_normalise(combined, dist_vec), in_cluster


def tree_position_of_new_points(pdata, nearest, lambdas):
    """Where new points sit for soft clustering: the nearest neighbour's cluster, lambda capped at its own."""
    cluster = pdata.point_parent[nearest]
    own = pdata.point_lambda[nearest]
    return cluster, np.minimum(lambdas, own)


@njit(cache=NUMBA_CACHE)
def _union_by_rank(parent, rank, x, y):
    x_root = _find(parent, x)
    y_root = _find(parent, y)
    if rank[x_root] < rank[y_root]:
        parent[x_root] = y_root
    elif rank[x_root] > rank[y_root]:
        parent[y_root] = x_root
    else:
        parent[y_root] = x_root
        rank[x_root] += 1


@njit(cache=NUMBA_CACHE)
def _components_below_cut(hierarchy, cut):
    # scikit-learn's TreeUnionFind (union by rank, each side joined to the
    # merge node in turn): which node represents a component decides the
    # numbering of the labels, so it must be the same one.
    n_samples = hierarchy.shape[0] + 1
    parent = np.arange(2 * n_samples - 1)
    rank = np.zeros(2 * n_samples - 1, dtype=np.int64)
    for i in range(hierarchy.shape[0]):
        if hierarchy[i, 2] < cut:
            _union_by_rank(parent, rank, np.int64(hierarchy[i, 0]), n_samples + i)
            _union_by_rank(parent, rank, np.int64(hierarchy[i, 1]), n_samples + i)
    roots = np.empty(n_samples, dtype=np.int64)
    for i in range(n_samples):
        roots[i] = _find(parent, i)
    return roots


def labelling_at_cut(hierarchy, cut, min_cluster_size):
    """Flat labels from cutting the linkage matrix at distance ``cut`` (DBSCAN*).

    Components with fewer than ``min_cluster_size`` points are noise (-1);
    the others are numbered in the order of their representatives, as the
    hdbscan library's ``labelling_at_cut``.
    """
    hierarchy = np.ascontiguousarray(hierarchy, dtype=np.float64)
    roots = _components_below_cut(hierarchy, float(cut))
    unique, inverse, counts = np.unique(roots, return_inverse=True, return_counts=True)
    keep = counts >= min_cluster_size
    numbering = np.full(unique.shape[0], -1, dtype=np.int64)
    numbering[keep] = np.arange(int(keep.sum()))
    return numbering[inverse]
