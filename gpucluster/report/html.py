"""report.html: one self-contained, offline page per result (inline CSS, JS and SVG)."""

import datetime
import html
import json
import os
import urllib.parse

import numpy as np

from .. import backend
from .._files import atomic_write
from ._results import check_labels, normalize_names
from .organize import _unique_names, folder_names
from .projection import PROJECTION_METHODS, project_2d
from .thumbnails import make_thumbnails

REPORT_NAME = "report.html"
THUMBNAILS_FOLDER = "thumbnails"
MAX_THUMBNAILS = 36          # per cluster on the page (the folder holds them all)
MAX_TOTAL_THUMBNAILS = 4000  # over all clusters: keeps the page < 2 MB at 50,000 images
MAX_POINTS = 20_000          # points in the projection
MAX_FAILURES = 500           # unreadable files listed (the count is always complete)
MAX_BARS = 300               # bars in the size chart (the largest groups)
MAX_SHEETS = 500             # groups with a contact sheet (the largest); the rest get a heading
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
           "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#d6616b")
NOISE_COLOR = "#a0a0a0"

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 8px}
h3{font-size:15px;margin:0 0 6px}.facts{color:#555}
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.shown{background:#fff6cc}
.figs{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
canvas{border:1px solid #ddd;max-width:100%}
.cluster{margin:14px 0;padding-top:6px;border-top:1px solid #eee}
.dot{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px}
.sheet{display:flex;flex-wrap:wrap;gap:3px}
.sheet img,.sheet .miss{width:96px;height:96px;object-fit:contain;background:#f2f2f2}
.sheet .miss{font-size:10px;overflow:hidden;color:#933;display:flex;align-items:center;justify-content:center}
.more{color:#555;font-size:12px}code,pre{font-size:12px}
"""

# Draws the projection from the JSON block and records, for tests and for the
# curious, how many thumbnails in the first viewport loaded or broke.
_JS = """
(function(){
var el=document.getElementById("points");
if(el){var d=JSON.parse(el.textContent),cv=document.getElementById("projection"),
g=cv.getContext("2d"),s=cv.width/1000,r=d.c.length<3000?4:2;
g.fillStyle="#fff";g.fillRect(0,0,cv.width,cv.height);
for(var i=0;i<d.c.length;i++){g.fillStyle=d.colors[d.c[i]];
g.fillRect(d.x[i]*s-r/2,(1000-d.y[i])*s-r/2,r,r);}
document.body.setAttribute("data-points",d.c.length);}
function record(){var b=document.body,t=0,l=0,x=0,h=window.innerHeight;
var ims=document.querySelectorAll(".sheet img");
for(var i=0;i<ims.length;i++){var r=ims[i].getBoundingClientRect();
if(r.bottom>0&&r.top<h){t++;if(ims[i].complete){if(ims[i].naturalWidth>0)l++;else x++;}}}
b.setAttribute("data-first-screen",t);b.setAttribute("data-loaded",l);b.setAttribute("data-broken",x);}
var ims=document.querySelectorAll(".sheet img");
for(var i=0;i<ims.length;i++){ims[i].addEventListener("load",record);ims[i].addEventListener("error",record);}
window.addEventListener("load",record);record();
})();
"""


def cluster_color(label):
    """The colour of a cluster label in every figure (grey for noise)."""
    if label < 0:
        return NOISE_COLOR
    if label < len(PALETTE):
        return PALETTE[label]
    hue = (label * 137.508) % 360  # golden-angle hues stay distinct for many clusters
    return f"hsl({hue:.0f},65%,{42 + (label % 3) * 8}%)"


def _e(text):
    return html.escape(str(text), quote=True)


def _fmt(value):
    if value is None:
        return "&ndash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return _e(value)


def _compact(value, limit=160):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _href(target, base):
    """A relative URL from folder ``base`` to ``target``, percent-encoded."""
    rel = os.path.relpath(target, base).replace(os.sep, "/")
    return urllib.parse.quote(rel, safe="/")


def _ranking_table(summary, shown_rank):
    candidates = {c.get("id"): c for c in summary.get("candidates", [])}
    external = [k for k in ("ARI", "AMI", "V-measure")
                if any(k in (c.get("scores") or {}) for c in candidates.values())]
    head = ["rank", "algorithm", "parameters", "clusters", "noise", "composite", "silhouette",
            "balance", "noise penalty", *external, "seconds"]
    rows = ["<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for entry in summary.get("ranking", []):
        cand = candidates.get(entry.get("candidate"), {})
        scores = cand.get("scores") or {}
        cells = [f"<td class=n>{_fmt(entry.get('rank'))}</td>",
                 f"<td>{_e(cand.get('algorithm', entry.get('folder', '')))}</td>",
                 f"<td><code>{_e(_compact(cand.get('params', {})))}</code></td>",
                 f"<td class=n>{_fmt(cand.get('n_clusters'))}</td>",
                 f"<td class=n>{_fmt(cand.get('noise_fraction'))}</td>"]
        cells += [f"<td class=n>{_fmt(scores.get(k))}</td>"
                  for k in ("composite", "silhouette", "balance", "noise_penalty", *external)]
        cells.append(f"<td class=n>{_fmt(cand.get('seconds'))}</td>")
        shown = " class=shown" if entry.get("rank") == shown_rank else ""
        rows.append(f"<tr{shown}>" + "".join(cells) + "</tr>")
    failed = sum(1 for c in candidates.values() if c.get("status") == "failed")
    note = f"<p class=more>{len(candidates)} candidates tried, {failed} failed" + (
        "; the search was cut short by its time budget" if summary.get("cut_short") else "") + ".</p>"
    return "<table>" + "".join(rows) + "</table>" + note


def _key_values(mapping, prefix=""):
    rows = []
    for key, value in (mapping or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(_key_values(value, name + "."))
        else:
            rows.append(f"<tr><th>{_e(name)}</th><td><code>{_e(_compact(value))}</code></td></tr>")
    return rows


def _sizes_svg(ids, counts, names):
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
    parts.append(f'<text x="{left}" y="{height + 14}" font-size="11">{len(ids)} groups, largest first'
                 f'{more} (hover for sizes)</text></svg>')
    return "".join(parts)


def _points_json(coords, labels, ids, max_points, random_state):
    n = coords.shape[0]
    rows = np.arange(n)
    if n > max_points:
        rows = np.sort(np.random.default_rng(random_state).choice(n, max_points, replace=False))
    xy = coords[rows].astype(np.float64)
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    xy = np.round(20 + (xy - low) / span * 960, 1)
    index = {int(label): i for i, label in enumerate(ids)}
    codes = np.array([index[int(v)] for v in labels[rows]], dtype=np.int64)
    draw = np.argsort(codes != index.get(-1, -2), kind="stable")  # noise first, underneath
    fmt = lambda values: ",".join(f"{v:.1f}".rstrip("0").rstrip(".") for v in values)
    colors = json.dumps([cluster_color(int(label)) for label in ids])
    return (f'{{"x":[{fmt(xy[draw, 0])}],"y":[{fmt(xy[draw, 1])}],'
            f'"c":[{",".join(map(str, codes[draw].tolist()))}],"colors":{colors}}}')


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


def write_report(out, *, summary=None, labels, paths=None, embeddings=None, failures=(),
                 thumbnails_dir=None, names=None, rank=1, folders=None, projection="pca",
                 max_thumbnails=MAX_THUMBNAILS, max_total_thumbnails=MAX_TOTAL_THUMBNAILS,
                 max_points=MAX_POINTS, title="gpucluster report", overwrite=False,
                 random_state=0):
    """Write ``out``/report.html, a self-contained offline page about one clustering.

    The page holds the run's data, settings and timings, the ranking table, the
    cluster sizes (inline SVG), a 2-D projection of the embeddings coloured by
    cluster (a canvas drawn by inline JS from compact JSON of at most
    ``max_points`` points), a contact sheet of thumbnails per cluster (lazy
    loaded, relative paths, at most ``max_thumbnails`` per cluster and
    ``max_total_thumbnails`` in all, with a link to the cluster's folder when
    ``organize`` made it), the files that could not be read, and zero-shot
    names when given. It loads nothing from the network.

    Parameters
    ----------
    out : str
        The gallery folder; created when missing.
    summary : dict or None
        summary.json of a results folder (settings, timings, ranking).
    labels : array of shape (n_samples,), int (-1 = noise)
    paths : list of str or None
        Image of each row; None: no contact sheets.
    embeddings : array of shape (n_samples, n_features) or None
        For the projection and to pick each cluster's most typical images.
    failures : sequence of (path, reason)
    thumbnails_dir : str or None
        Where thumbnails are made once and reused; default ``out``/thumbnails.
    names : dict, list or None
        Zero-shot names per cluster label (see organize).
    rank : int
        The rank these labels belong to (highlighted in the table).
    folders : dict or None
        {label: folder name} inside ``out``; default: organize's names, linked
        when the folder exists.
    projection : {"pca", "umap", "auto"}
    overwrite : bool
        Replace an existing report.html (else FileExistsError).

    Returns
    -------
    str
        The path of report.html.
    """
    if projection not in PROJECTION_METHODS:
        raise ValueError(f"projection must be one of {PROJECTION_METHODS}, got {projection!r}.")
    labels = check_labels(labels)
    failures = [(str(p), str(r)) for p, r in failures]
    n = labels.shape[0]
    if paths is not None and len(paths) != n:
        raise ValueError(f"{len(paths)} paths for {n} labels: they must match row for row.")
    if embeddings is not None:
        embeddings = np.asarray(backend.to_numpy(embeddings))
        if embeddings.ndim != 2 or embeddings.shape[0] != n:
            raise ValueError(f"embeddings must have shape ({n}, n_features), got {embeddings.shape}.")
    os.makedirs(out, exist_ok=True)
    out = os.path.realpath(out)
    report_path = os.path.join(out, REPORT_NAME)
    if os.path.lexists(report_path) and not overwrite:
        raise FileExistsError(f"{report_path} exists; pass overwrite=True (--overwrite) to replace it.")
    if thumbnails_dir is None:
        thumbnails_dir = os.path.join(out, THUMBNAILS_FOLDER)
        # A symlink planted at the default thumbnail folder must not carry writes elsewhere.
        if os.path.islink(thumbnails_dir) or (os.path.lexists(thumbnails_dir) and not os.path.isdir(thumbnails_dir)):
            if not overwrite:
                raise FileExistsError(f"{thumbnails_dir} is not a plain folder; pass overwrite=True to replace it.")
            os.unlink(thumbnails_dir)
    summary = summary or {}
    names = normalize_names(names)
    ids, counts = np.unique(labels, return_counts=True)
    n_clusters = int(np.sum(ids >= 0))
    n_noise = int(counts[ids == -1].sum())
    default_folders = folder_names(labels, names)
    folders = {int(k): v for k, v in (folders or {}).items()} or {
        k: v for k, v in default_folders.items() if os.path.isdir(os.path.join(out, v))}

    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>",
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
             "img-src 'self' file: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
             f"<style>{_CSS}</style></head><body>", f"<h1>{_e(title)}</h1>"]
    data = summary.get("data", {})
    created = summary.get("created") or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    shown = next((r for r in summary.get("ranking", []) if r.get("rank") == rank), None)
    algorithm = ""
    if shown is not None:
        cand = next((c for c in summary.get("candidates", []) if c.get("id") == shown.get("candidate")), {})
        algorithm = f", rank {rank}: {_e(cand.get('algorithm', shown.get('folder', '')))}"
    parts.append(f"<p class=facts>{n} images, {n_clusters} clusters, {n_noise} noise"
                 f"{algorithm}; {len(failures)} unreadable; created {_e(created)}"
                 + (f", gpucluster {_e(summary['gpucluster'])}" if summary.get("gpucluster") else "")
                 + (f", data {_e(_compact(data))}" if data else "") + "</p>")

    if summary.get("ranking"):
        parts += ["<h2>Ranking</h2>", _ranking_table(summary, rank)]

    parts.append("<h2>Clusters</h2><div class=figs><div>")
    parts.append(_sizes_svg(ids, counts, names) + "</div>")
    if embeddings is not None and n > 0:
        coords = project_2d(embeddings, method=projection, random_state=random_state)
        parts.append(f"<div><canvas id=projection width=560 height=560></canvas>"
                     f"<div class=more>2-D projection ({_e(projection)}) of "
                     f"{min(n, max_points)} of {n} embeddings</div>"
                     f"<script type=\"application/json\" id=points>"
                     f"{_points_json(coords, labels, ids, max_points, random_state)}</script></div>")
    parts.append("</div>")

    order = [int(label) for label in ids if label >= 0] + ([-1] if n_noise else [])
    # Thousands of groups would blow the page up: only the largest get a contact sheet.
    size_of = dict(zip(ids.tolist(), counts.tolist()))
    with_sheet = set(sorted(order, key=lambda label: -size_of[label])[:MAX_SHEETS])
    per_cluster = int(max(1, min(max_thumbnails, max_total_thumbnails // max(len(with_sheet), 1))))
    by_label = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[by_label], ids)
    groups = {int(label): by_label[start:start + size_of[label]] for label, start in zip(ids.tolist(), starts)}
    if len(order) > len(with_sheet) and paths is not None:
        parts.append(f"<p class=more>{len(order)} groups: the {len(with_sheet)} largest have contact "
                     "sheets, the others a heading only.</p>")
    chosen = {}
    if paths is not None:
        for label in order:
            members = groups[label]
            chosen[label] = (_choose_members(members, embeddings, per_cluster) if label in with_sheet
                             else members[:0])
        wanted = [paths[i] for label in order for i in chosen[label]]
        thumbs = iter(make_thumbnails(wanted, thumbnails_dir))
    for label in order:
        count = size_of[label]
        folder = folders.get(label)
        heading = "noise" if label < 0 else f"cluster {label}"
        name = names.get(label)
        dot = ""
        if label in with_sheet:
            dot = f"<span class=dot style=\"background:{cluster_color(label)}\"></span>"
        heading += f" &middot; {count} images" + (f" &middot; {_e(name)}" if name else "")
        if folder:
            heading += f" &middot; <a href=\"{_href(os.path.join(out, folder), out)}/\">folder</a>"
        parts.append(f"<section class=cluster data-label=\"{label}\"><h3>{dot}{heading}</h3>")
        if paths is not None and label in with_sheet:
            members = chosen[label]
            links = None
            if folder:
                all_members = groups[label]
                link_names = dict(zip(all_members.tolist(), _unique_names([paths[i] for i in all_members])))
                links = {i: f"{folder}/{link_names[i]}" for i in members.tolist()}
            cells = []
            for i in members.tolist():
                thumb = next(thumbs)
                base = os.path.basename(paths[i])[:60]
                if thumb is None:
                    cells.append(f"<span class=miss title=\"{_e(base)}\">unreadable</span>")
                    continue
                img = f"<img loading=lazy src=\"{_href(thumb, out)}\" alt=\"\" title=\"{_e(base)}\">"
                cells.append(f"<a href=\"{urllib.parse.quote(links[i], safe='/')}\">{img}</a>" if links else img)
            parts.append("<div class=sheet>" + "".join(cells) + "</div>")
            if count > len(members):
                parts.append(f"<div class=more>{len(members)} of {count} shown"
                             + (" (the folder holds all)" if folder else "") + "</div>")
        parts.append("</section>")

    if failures:
        rows = "".join(f"<tr><td><code>{_e(p)}</code></td><td>{_e(r)}</td></tr>"
                       for p, r in failures[:MAX_FAILURES])
        more = f"<p class=more>and {len(failures) - MAX_FAILURES} more</p>" if len(failures) > MAX_FAILURES else ""
        parts.append(f"<h2>Unreadable files ({len(failures)})</h2><table>{rows}</table>{more}")
    if summary.get("settings"):
        parts.append("<h2>Settings</h2><table>" + "".join(_key_values(summary["settings"])) + "</table>")
    if summary.get("timings") or summary.get("weights"):
        parts.append("<h2>Timings (seconds) and weights</h2><table>"
                     + "".join(_key_values({"timings": summary.get("timings", {}),
                                            "weights": summary.get("weights", {})})) + "</table>")
    parts.append(f"<script>{_JS}</script></body></html>")

    page = "".join(parts).encode("utf-8")
    return atomic_write(report_path, lambda handle: handle.write(page))
