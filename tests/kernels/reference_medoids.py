"""NumPy references for the k-medoids kernels, written for clarity, not speed.

``fasterpam`` is the whole FasterPAM algorithm on a full distance matrix,
transcribed from the ``kmedoids`` package's Rust code (``fasterpam.rs``:
``initial_assignment``, ``find_best_swap``, ``do_swap``, ``fasterpam``), in
plain Python over dicts of per-sample records, so it shares no code with
``kernels/cpu/medoids.py``.
"""

import itertools

import numpy as np


def build_gains(rows, nearest):
    """g_i = sum_j max(0, nearest_j - rows[i, j])."""
    rows = np.asarray(rows, dtype=np.float64)
    return np.maximum(np.asarray(nearest, dtype=np.float64)[None, :] - rows, 0.0).sum(axis=1)


def medoid_assignment(medoid_distances, medoids):
    """(nearest, nearest_distances) as the kernel: a medoid is its own nearest, ties go first."""
    md = np.asarray(medoid_distances, dtype=np.float64)
    n, k = md.shape
    nearest = np.full((n, 2), -1, dtype=np.int64)
    dist = np.full((n, 2), np.inf)
    for o in range(n):
        own = [m for m in range(k) if medoids[m] == o]
        order = sorted(range(k), key=lambda m: (m not in own, md[o, m], m))
        nearest[o, : min(2, k)] = order[:2]
        dist[o, : min(2, k)] = md[o, order[:2]]
    return nearest, dist


def loss(D, medoids):
    """Sum over samples of the distance to the nearest medoid."""
    return float(np.asarray(D, dtype=np.float64)[:, list(medoids)].min(axis=1).sum())


def _records(D, med):
    recs = []
    for o in range(D.shape[0]):
        near, seco = (0, D[o, med[0]]), (None, 0.0)
        for m in range(1, len(med)):
            d = D[o, med[m]]
            if d < near[1] or o == med[m]:
                seco, near = near, (m, d)
            elif seco[0] is None or d < seco[1]:
                seco = (m, d)
        recs.append({"near": near, "seco": seco})
    return recs


def _removal_loss(recs, k):
    out = [0.0] * k
    for r in recs:
        out[r["near"][0]] += r["seco"][1] - r["near"][1]
    return out


def _find_best_swap(D, removal, recs, j):
    ploss = list(removal)
    acc = 0.0
    for o, r in enumerate(recs):
        d = D[o, j]
        if d < r["near"][1]:
            acc += d - r["near"][1]
            ploss[r["near"][0]] += r["near"][1] - r["seco"][1]
        elif d < r["seco"][1]:
            ploss[r["near"][0]] += d - r["seco"][1]
    b = min(range(len(ploss)), key=lambda m: (ploss[m], m))
    return ploss[b] + acc, b


def _update_second(D, med, near, b, o, d):
    s = (b, d)
    for i, mi in enumerate(med):
        if i in (near, b):
            continue
        if D[o, mi] < s[1]:
            s = (i, D[o, mi])
    return s


def _do_swap(D, med, recs, b, j):
    med[b] = j
    total = 0.0
    for o, r in enumerate(recs):
        if o == j:
            if r["near"][0] != b:
                r["seco"] = r["near"]
            r["near"] = (b, 0.0)
            continue
        d = D[o, j]
        if r["near"][0] == b:
            if d < r["seco"][1]:
                r["near"] = (b, d)
            else:
                r["near"] = r["seco"]
                r["seco"] = _update_second(D, med, r["near"][0], b, o, d)
        elif d < r["near"][1]:
            r["seco"], r["near"] = r["near"], (b, d)
        elif d < r["seco"][1]:
            r["seco"] = (b, d)
        elif r["seco"][0] == b:
            r["seco"] = _update_second(D, med, r["near"][0], b, o, d)
        total += r["near"][1]
    return total


def fasterpam(D, medoids, max_iter=100):
    """FasterPAM from ``medoids`` (k >= 2): returns (medoids, loss, n_iter, n_swaps)."""
    D = np.asarray(D, dtype=np.float64)
    med = [int(m) for m in medoids]
    n, k = D.shape[0], len(med)
    recs = _records(D, med)
    current = sum(r["near"][1] for r in recs)
    removal = _removal_loss(recs, k)
    lastswap, n_swaps, it = n, 0, 0
    while it < max_iter:
        it += 1
        swaps_before, lastloss = n_swaps, current
        for j in range(n):
            if j == lastswap:
                break
            if j == med[recs[j]["near"][0]]:
                continue
            change, b = _find_best_swap(D, removal, recs, j)
            if change >= 0:
                continue
            n_swaps += 1
            lastswap = j
            current = _do_swap(D, med, recs, b, j)
            removal = _removal_loss(recs, k)
        if n_swaps == swaps_before or current >= lastloss:
            break
    return np.asarray(med, dtype=np.int64), current, it, n_swaps


def fasterpam_one_sweep(D, medoids, start, stop):
    """The swaps FasterPAM makes trying candidates start..stop-1 once from ``medoids``."""
    D = np.asarray(D, dtype=np.float64)
    med = [int(m) for m in medoids]
    recs = _records(D, med)
    removal = _removal_loss(recs, len(med))
    swapped = []
    for j in range(start, stop):
        if j == med[recs[j]["near"][0]]:
            continue
        change, b = _find_best_swap(D, removal, recs, j)
        if change >= 0:
            continue
        _do_swap(D, med, recs, b, j)
        removal = _removal_loss(recs, len(med))
        swapped.append(j)
    return np.asarray(med, dtype=np.int64), swapped


def exhaustive_medoids(D, k):
    """The k medoids of smallest loss, by trying every subset (tiny n only)."""
    D = np.asarray(D, dtype=np.float64)
    best = min(itertools.combinations(range(D.shape[0]), k), key=lambda c: loss(D, c))
    return np.asarray(best, dtype=np.int64), loss(D, best)


def best_single_swap(D, medoids):
    """The lowest loss reachable from ``medoids`` by swapping one medoid for one non-medoid."""
    D = np.asarray(D, dtype=np.float64)
    med = list(medoids)
    best = loss(D, med)
    for b in range(len(med)):
        for j in range(D.shape[0]):
            if j in med:
                continue
            trial = med[:b] + [j] + med[b + 1:]
            best = min(best, loss(D, trial))
    return best
