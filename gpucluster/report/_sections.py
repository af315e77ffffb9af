"""report._sections: the HTML of each section of the report page.

One builder per section (facts, ranking, cluster figures, a section per
cluster, unreadable files, settings and timings), each returning an HTML
string, empty when the section has nothing to show. ``report.html`` checks the
inputs, puts the sections in order inside the page and writes it.
"""

import datetime
import inspect
import json
import os
import urllib.parse

import numpy as np

from .. import _format as fmt
from .._html import escape
from ..auto.results import TIE_MARGIN, near_tie_ranks, shared_label
from ..auto.scoring import describe_weights
from ..auto.search import search
from .organize import _unique_names
from .projection import project_2d
from .thumbnails import make_thumbnails

MAX_FAILURES = 500           # unreadable files listed (the count is always complete)
MAX_BARS = 300               # bars in the size chart (the largest groups)
MAX_SHEETS = 500             # groups with a contact sheet (the largest); the rest get a heading
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
           "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#d6616b")
NOISE_COLOR = "#a0a0a0"


def cluster_color(label):
    """The colour of a cluster label in every figure (grey for noise)."""
    if label < 0:
        return NOISE_COLOR
    if label < len(PALETTE):
        return PALETTE[label]
    hue = (label * 137.508) % 360  # golden-angle hues stay distinct for many clusters
    return f"hsl({hue:.0f},65%,{42 + (label % 3) * 8}%)"


_e = escape  # printable UTF-8: a file name that is not would make the page unwritable


def _fmt(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _e(fmt.number(value))


def _href(target, base):
    """A relative URL from folder ``base`` to ``target``, percent-encoded."""
    rel = os.path.relpath(target, base).replace(os.sep, "/")
    return urllib.parse.quote(rel, safe="/")


def _setting_value(value):
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt.number(v) for v in value)
    if isinstance(value, dict):
        return fmt.params(value, hidden=())
    return "None" if value is None else fmt.number(value)


def _table_rows(pairs):
    return "".join(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>" for name, value in pairs)


# --------------------------------------------------------------------------
# The run: facts, ranking, settings and timings


def facts_section(summary, ids, counts, rank, n_failures):
    """The line under the title (sizes, the algorithm shown, unreadable files,
    provenance) and the data the search ran on as a small table."""
    n_clusters = int(np.sum(ids >= 0))
    n_noise = int(counts[ids == -1].sum())
    n_images = int(counts.sum())
    created = summary.get("created") or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    shown = next((r for r in summary.get("ranking", []) if r.get("rank") == rank), None)
    algorithm = ""
    if shown is not None:
        cand = next((c for c in summary.get("candidates", []) if c.get("id") == shown.get("candidate")), {})
        algorithm = f", rank {rank}: {_e(cand.get('algorithm', shown.get('folder', '')))}"
    noise = f"{n_noise} noise" + (f" ({_e(fmt.percent(n_noise / n_images))})" if n_images else "")
    return (f"<p class=facts>{fmt.counted(n_images, 'image')}, "
            f"{fmt.counted(n_clusters, 'cluster')}, {noise}"
            f"{algorithm}; {n_failures} unreadable; created {_e(created)}"
            + (f", gpucluster {_e(summary['gpucluster'])}" if summary.get("gpucluster") else "")
            + "</p>" + data_table(summary.get("data")))


# What a reader needs of summary.json's "data", in this order: (key, heading).
DATA_COLUMNS = (("n_samples", "n (rows)"), ("n_features", "d (features)"), ("metric", "metric"),
                ("compute_device", "compute device"), ("reduced_dims", "reduced dims"),
                ("source", "source"))


def data_table(data):
    """The data the search ran on (n, d, metric, compute device, reduced dims when a
    PCA was used, source when known) as a one-row table; empty without data."""
    columns = [(heading, data[key]) for key, heading in DATA_COLUMNS
               if (data or {}).get(key) is not None]
    if not columns:
        return ""
    return ("<table class=data><tr>" + "".join(f"<th>{_e(h)}</th>" for h, _ in columns)
            + "</tr><tr>" + "".join(f"<td>{_fmt(v)}</td>" for _, v in columns) + "</tr></table>")


def ranking_section(summary, shown_rank):
    """The search's ranking as a table, the row of ``shown_rank`` highlighted, with the
    ranking criterion and the runners-up nearly tied with rank 1."""
    if not summary.get("ranking"):
        return ""
    candidates = {c.get("id"): c for c in summary.get("candidates", [])}
    external = [k for k in ("ARI", "AMI", "V-measure")
                if any(k in (c.get("scores") or {}) for c in candidates.values())]
    head = ["rank", "algorithm", "parameters", "clusters", "noise", "composite", "silhouette",
            "balance", *external, "time"]
    rows = ["<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for entry in summary["ranking"]:
        cand = candidates.get(entry.get("candidate"), {})
        scores = cand.get("scores") or {}
        cells = [f"<td class=n>{_fmt(entry.get('rank'))}</td>",
                 f"<td>{_e(cand.get('algorithm', entry.get('folder', '')))}</td>",
                 f"<td>{_e(fmt.params(cand.get('params')))}</td>",
                 f"<td class=n>{_fmt(cand.get('n_clusters'))}</td>",
                 f"<td class=n>{_e(fmt.percent(cand.get('noise_fraction')))}</td>"]
        cells += [f"<td class=n>{_fmt(scores.get(k))}</td>"
                  for k in ("composite", "silhouette", "balance", *external)]
        cells.append(f"<td class=n>{_e(fmt.duration(cand.get('seconds')))}</td>")
        shown = " class=shown" if entry.get("rank") == shown_rank else ""
        rows.append(f"<tr{shown}>" + "".join(cells) + "</tr>")
    criterion = ""
    if summary.get("weights"):
        criterion = f"<p class=criterion>Ranked by {_e(describe_weights(summary['weights']))}.</p>"
    failed = sum(1 for c in candidates.values() if c.get("status") == "failed")
    note = f"<p class=more>{fmt.counted(len(candidates), 'candidate')} tried, {failed} failed" + (
        "; the search was cut short by its time budget" if summary.get("cut_short") else "") + ".</p>"
    return ("<h2>Ranking</h2>" + criterion + "<table>" + "".join(rows) + "</table>"
            + _near_tie_note(summary, candidates) + _warnings_note(summary, candidates) + note)


def _warnings_note(summary, candidates):
    """A paragraph per ranked candidate whose fit raised warnings (its record's "warnings")."""
    notes = []
    for entry in summary["ranking"]:
        cand = candidates.get(entry.get("candidate"), {})
        for line in cand.get("warnings") or ():
            notes.append(f"<p class=more>Rank {_fmt(entry.get('rank'))} "
                         f"({_e(cand.get('algorithm', ''))}, {_e(fmt.params(cand.get('params')))}) "
                         f"warned: {_e(line)}</p>")
    return "".join(notes)


def _near_tie_note(summary, candidates):
    """A paragraph naming the runners-up whose composite is within TIE_MARGIN of rank 1's."""
    ranked = [candidates.get(entry.get("candidate"), {}) for entry in summary["ranking"]]
    composites = [(c.get("scores") or {}).get("composite") for c in ranked]
    if any(value is None for value in composites):
        return ""
    ties = near_tie_ranks(composites)
    if not ties:
        return ""
    named = "; ".join(f"rank {rank}: {_e(ranked[rank - 1].get('algorithm', ''))} "
                      f"({_e(fmt.params(ranked[rank - 1].get('params')))}), "
                      f"{ranked[rank - 1].get('n_clusters')} clusters" for rank in ties)
    return (f"<p class=tie><b>Nearly tied with rank 1:</b> {named}. The scores cannot tell "
            f"these groupings apart (composite within {TIE_MARGIN} of rank 1's, about the "
            "error of the silhouette sample); look at them too.</p>")


def shown_settings(settings):
    """The settings the user chose: those of :func:`gpucluster.auto.search` that differ
    from its defaults (a preset named like the default weights counts as the default),
    and ``labels_given`` when true labels were given. Values the search derives
    (``algorithms_searched``, ``seed``) are left out; summary.json keeps them all."""
    defaults = {name: p.default for name, p in inspect.signature(search).parameters.items()
                if p.default is not inspect.Parameter.empty}
    shown = []
    for key, value in (settings or {}).items():
        if key in ("algorithms_searched", "seed", "progress"):
            continue
        if key == "labels_given":
            if value:
                shown.append(("labels", "given (ARI, AMI, V-measure reported)"))
            continue
        if key == "weights" and value == "default":
            continue
        if (key in defaults and value == defaults[key]) or value is None:
            continue
        shown.append((key, _setting_value(value)))
    return shown


def settings_sections(summary):
    """The settings the user chose (see :func:`shown_settings`), then the timings."""
    parts = []
    if "settings" in summary:
        rows = shown_settings(summary["settings"])
        parts.append("<h2>Settings</h2>" + (
            f"<table>{_table_rows(rows)}</table><p class=more>Everything else at the search's "
            "defaults; summary.json lists every setting.</p>" if rows else
            "<p class=more>The search's defaults; summary.json lists every setting.</p>"))
    timings = summary.get("timings") or {}
    if timings:
        rows = [(name, fmt.duration(timings[name])) for name in ("total", "search") if name in timings]
        shared = {k: v for k, v in (timings.get("shared") or {}).items() if v}
        if shared:
            rows.append(("computed once for all candidates", ", ".join(
                f"{shared_label(k)} {fmt.duration(v)}" for k, v in shared.items())))
        parts.append(f"<h2>Timings</h2><table>{_table_rows(rows)}</table>")
    return "".join(parts)


def failures_section(failures):
    """The files that could not be read: the first ``MAX_FAILURES`` listed, all counted."""
    if not failures:
        return ""
    rows = "".join(f"<tr><td><code>{_e(p)}</code></td><td>{_e(r)}</td></tr>"
                   for p, r in failures[:MAX_FAILURES])
    more = f"<p class=more>and {len(failures) - MAX_FAILURES} more</p>" if len(failures) > MAX_FAILURES else ""
    return f"<h2>Unreadable files ({len(failures)})</h2><table>{rows}</table>{more}"


# --------------------------------------------------------------------------
# Figures: cluster sizes and the 2-D projection


def figures_section(labels, ids, counts, names, embeddings, projection, max_points, random_state):
    """The cluster sizes chart and, when there are embeddings, the projection beside it."""
    parts = ["<h2>Clusters</h2><div class=figs><div>", sizes_svg(ids, counts, names), "</div>"]
    if embeddings is not None and labels.shape[0] > 0:
        parts.append(_projection_figure(labels, ids, embeddings, projection, max_points, random_state))
    parts.append("</div>")
    return "".join(parts)


def sizes_svg(ids, counts, names):
    """An inline SVG bar chart of the group sizes, the largest ``MAX_BARS`` first."""
    order = np.argsort(-counts, kind="stable")[:MAX_BARS]
    hidden = len(ids) - len(order)
    width, height, left, bottom = 560, 220, 40, 20
    n = len(order)
    bar = max((width - left) / max(n, 1), 0.5)
    top = float(counts.max()) if n else 1.0
    parts = [f'<svg width="{width}" height="{height + bottom}" role="img" aria-label="cluster sizes">',
             f'<text x="0" y="12" font-size="11">{int(top)}</text>',
             f'<line x1="{left}" y1="{height}" x2="{width}" y2="{height}" stroke="#888"/>']
    for pos, i in enumerate(order):
        label, count = int(ids[i]), int(counts[i])
        h = max(1.0, (height - 10) * count / top)
        name = "noise" if label < 0 else f"cluster {label}"
        if label in names:
            name += f" ({names[label]})"
        parts.append(f'<rect x="{left + pos * bar:.1f}" y="{height - h:.1f}" width="{max(bar - 1, 0.5):.1f}" '
                     f'height="{h:.1f}" fill="{cluster_color(label)}"><title>{_e(name)}: {count}</title></rect>')
    more = f", {hidden} smaller not drawn" if hidden else ""
    parts.append(f'<text x="{left}" y="{height + 14}" font-size="11">{fmt.counted(len(ids), "group")}, largest first'
                 f'{more} (hover for sizes)</text></svg>')
    return "".join(parts)


def _projection_figure(labels, ids, embeddings, projection, max_points, random_state):
    """The canvas the page's script draws, with its points as an inline JSON block.

    Only the drawn rows (at most ``max_points``, a seeded sample) are
    projected: UMAP and t-SNE cost grows with every row, and rows not drawn
    would be thrown away.
    """
    n = labels.shape[0]
    rows = np.arange(n)
    if n > max_points:
        rows = np.sort(np.random.default_rng(random_state).choice(n, max_points, replace=False))
    coords = project_2d(embeddings[rows], method=projection, random_state=random_state)
    return (f"<div><canvas id=projection width=560 height=560></canvas>"
            f"<div class=more>2-D projection ({_e(projection)}) of "
            f"{rows.shape[0]} of {fmt.counted(n, 'embedding')}</div>"
            f"<script type=\"application/json\" id=points>"
            f"{_points_json(coords, labels[rows], ids)}</script></div>")


def _points_json(coords, labels, ids):
    """Compact JSON of the points (x, y scaled to [20, 980], colour codes), noise first."""
    xy = coords.astype(np.float64)
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    xy = np.round(20 + (xy - low) / span * 960, 1)
    index = {int(label): i for i, label in enumerate(ids)}
    codes = np.array([index[int(v)] for v in labels], dtype=np.int64)
    draw = np.argsort(codes != index.get(-1, -2), kind="stable")  # noise first, underneath
    fmt = lambda values: ",".join(f"{v:.1f}".rstrip("0").rstrip(".") for v in values)
    colors = json.dumps([cluster_color(int(label)) for label in ids])
    return (f'{{"x":[{fmt(xy[draw, 0])}],"y":[{fmt(xy[draw, 1])}],'
            f'"c":[{",".join(map(str, codes[draw].tolist()))}],"colors":{colors}}}')


# --------------------------------------------------------------------------
# One section per cluster: heading, contact sheet of thumbnails


def cluster_sections(out, labels, ids, counts, *, paths, embeddings, names, folders,
                     thumbnails_dir, max_thumbnails, max_total_thumbnails):
    """A section per cluster (noise last); the largest ``MAX_SHEETS`` get a contact sheet
    of at most ``max_thumbnails`` images, ``max_total_thumbnails`` over the page."""
    size_of = dict(zip(ids.tolist(), counts.tolist()))
    order = [label for label in size_of if label >= 0] + ([-1] if -1 in size_of else [])
    # Thousands of groups would blow the page up: only the largest get a contact sheet.
    with_sheet = set(sorted(order, key=lambda label: -size_of[label])[:MAX_SHEETS])
    groups = _group_rows(labels, ids, counts)
    parts, sheets = [], {}
    if paths is not None:
        if len(order) > len(with_sheet):
            parts.append(f"<p class=more>{len(order)} groups: the {len(with_sheet)} largest have contact "
                         "sheets, the others a heading only.</p>")
        per_cluster = int(max(1, min(max_thumbnails, max_total_thumbnails // max(len(with_sheet), 1))))
        chosen = {label: _choose_members(groups[label], embeddings, per_cluster)
                  for label in order if label in with_sheet}
        sheets = _thumbnail_sheets(chosen, paths, thumbnails_dir)
    for label in order:
        folder = folders.get(label)
        parts.append(_cluster_heading(out, label, size_of[label], names.get(label), folder,
                                      label in with_sheet))
        if label in sheets:
            parts.append(_contact_sheet(out, sheets[label], size_of[label], folder, groups[label], paths))
        parts.append("</section>")
    return "".join(parts)


def _group_rows(labels, ids, counts):
    """{label: the rows with that label, ascending}, from one stable sort."""
    by_label = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[by_label], ids)
    return {label: by_label[start:start + count]
            for label, start, count in zip(ids.tolist(), starts, counts.tolist())}


def _choose_members(members, embeddings, count):
    """Up to ``count`` rows of a cluster: nearest its mean embedding when there are
    embeddings (the most typical images), else spread evenly over the cluster."""
    if len(members) <= count:
        return members
    if embeddings is not None:
        part = embeddings[members].astype(np.float32)
        distance = ((part - part.mean(axis=0)) ** 2).sum(axis=1)
        return members[np.sort(np.argsort(distance, kind="stable")[:count])]
    return members[np.linspace(0, len(members) - 1, count).astype(np.int64)]


def _thumbnail_sheets(chosen, paths, thumbnails_dir):
    """{label: [(row, thumbnail path or None when unreadable), ...]} for the chosen rows."""
    # One call for the whole page keeps make_thumbnails' decoding threads busy.
    wanted = [paths[i] for members in chosen.values() for i in members]
    thumbs = iter(make_thumbnails(wanted, thumbnails_dir))
    return {label: [(i, next(thumbs)) for i in members.tolist()] for label, members in chosen.items()}


def _cluster_heading(out, label, count, name, folder, with_sheet):
    """The section's opening tag and heading: colour, size, name, link to its folder."""
    heading = "noise" if label < 0 else f"cluster {label}"
    dot = ""
    if with_sheet:
        dot = f"<span class=dot style=\"background:{cluster_color(label)}\"></span>"
    heading += f" &middot; {fmt.counted(count, 'image')}" + (f" &middot; {_e(name)}" if name else "")
    if folder:
        heading += f" &middot; <a href=\"{_href(os.path.join(out, folder), out)}/\">folder</a>"
    return f"<section class=cluster data-label=\"{label}\"><h3>{dot}{heading}</h3>"


def _contact_sheet(out, sheet, count, folder, group, paths):
    """Lazy thumbnails of the sheet's rows, each linked to its copy in the cluster's folder."""
    links = None
    if folder:
        # organize names the files of a folder over the whole group (collisions get
        # _1, _2 ...), so the names are derived from every member, not just those shown.
        link_names = dict(zip(group.tolist(), _unique_names([paths[i] for i in group])))
        links = {i: f"{folder}/{link_names[i]}" for i, _ in sheet}
    cells = []
    for i, thumb in sheet:
        base = os.path.basename(paths[i])[:60]
        if thumb is None:
            cells.append(f"<span class=miss title=\"{_e(base)}\">unreadable</span>")
            continue
        img = f"<img loading=lazy src=\"{_href(thumb, out)}\" alt=\"\" title=\"{_e(base)}\">"
        cells.append(f"<a href=\"{urllib.parse.quote(links[i], safe='/')}\">{img}</a>" if links else img)
    more = ""
    if count > len(sheet):
        more = (f"<div class=more>{len(sheet)} of {count} shown"
                + (" (the folder holds all)" if folder else "") + "</div>")
    return "<div class=sheet>" + "".join(cells) + "</div>" + more
