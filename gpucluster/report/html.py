"""report.html: one self-contained, offline page per result (inline CSS, JS and SVG).

This module checks the inputs, prepares the gallery folder and assembles the
page from the sections that ``report._sections`` builds.
"""

import os

import numpy as np

from .. import backend
from .._files import atomic_write
from .._html import escape, page, record_pictures_js
from ._results import check_labels, check_paths_match, normalize_names
from ._sections import (
    cluster_sections,
    facts_section,
    failures_section,
    figures_section,
    ranking_section,
    settings_sections,
)
# Re-exported: report.animate colours its frames as the page does.
from .organize import folder_names
from .projection import PROJECTION_METHODS

REPORT_NAME = "report.html"
THUMBNAILS_FOLDER = "thumbnails"
MAX_THUMBNAILS = 36          # per cluster on the page (the folder holds them all)
MAX_TOTAL_THUMBNAILS = 4000  # over all clusters: keeps the page < 2 MB at 50,000 images
MAX_POINTS = 20_000          # points in the projection

# The report's rules, after the shared ones of gpucluster._html.
_CSS = """
h2{font-size:17px;margin:22px 0 8px}h3{font-size:15px;margin:0 0 6px}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.shown{background:#fff6cc}
.figs{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
canvas{border:1px solid #ddd;max-width:100%}
.cluster{margin:14px 0;padding-top:6px;border-top:1px solid #eee}
.dot{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px}
.sheet{display:flex;flex-wrap:wrap;gap:3px}
.sheet img,.sheet .miss{width:96px;height:96px;object-fit:contain;background:#f2f2f2}
.sheet .miss{font-size:10px;overflow:hidden;color:#933;display:flex;align-items:center;justify-content:center}
.more{color:#555;font-size:12px}code,pre{font-size:12px}
.tie{background:#fff6cc;padding:4px 8px;max-width:900px}table.data{margin:6px 0}
"""

# Draws the projection from the JSON block and records, for tests and for the
# curious, how many thumbnails in the first viewport loaded or broke.
_JS = ("""
(function(){
var el=document.getElementById("points");
if(el){var d=JSON.parse(el.textContent),cv=document.getElementById("projection"),
g=cv.getContext("2d"),s=cv.width/1000,r=d.c.length<3000?4:2;
g.fillStyle="#fff";g.fillRect(0,0,cv.width,cv.height);
for(var i=0;i<d.c.length;i++){g.fillStyle=d.colors[d.c[i]];
g.fillRect(d.x[i]*s-r/2,(1000-d.y[i])*s-r/2,r,r);}
document.body.setAttribute("data-points",d.c.length);}
""" + record_pictures_js(".sheet img") + "})();\n")


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
    projection : {"pca", "umap", "tsne", "auto"}
        The 2-D map of the embeddings (``projection.project_2d``): PCA,
        UMAP (umap-learn), t-SNE (scikit-learn's on at most 10,000 of the
        drawn points; slow above a few thousand: minutes on a laptop), or
        UMAP when installed else PCA.
    overwrite : bool
        Replace an existing report.html (else FileExistsError).

    Returns
    -------
    str
        The path of report.html.
    """
    labels, paths, embeddings, failures = _check_inputs(labels, paths, embeddings, failures, projection)
    out, report_path, thumbnails_dir = _prepare_folder(out, thumbnails_dir, overwrite)
    summary = summary or {}
    names = normalize_names(names)
    ids, counts = np.unique(labels, return_counts=True)
    folders = _linked_folders(out, labels, names, folders)
    sections = [
        facts_section(summary, ids, counts, rank, len(failures)),
        ranking_section(summary, rank),
        figures_section(labels, ids, counts, names, embeddings, projection, max_points, random_state),
        cluster_sections(out, labels, ids, counts, paths=paths, embeddings=embeddings, names=names,
                         folders=folders, thumbnails_dir=thumbnails_dir, max_thumbnails=max_thumbnails,
                         max_total_thumbnails=max_total_thumbnails),
        failures_section(failures),
        settings_sections(summary),
    ]
    page = _page(title, sections).encode("utf-8")
    return atomic_write(report_path, lambda handle: handle.write(page))


def _check_inputs(labels, paths, embeddings, failures, projection):
    """The inputs as NumPy, checked row for row against ``labels`` before anything is written."""
    if projection not in PROJECTION_METHODS:
        raise ValueError(f"projection must be one of {PROJECTION_METHODS}, got {projection!r}.")
    labels = check_labels(labels)
    failures = [(str(p), str(r)) for p, r in failures]
    n = labels.shape[0]
    if paths is not None:
        check_paths_match(paths, n)
    if embeddings is not None:
        embeddings = np.asarray(backend.to_numpy(embeddings))
        if embeddings.ndim != 2 or embeddings.shape[0] != n:
            raise ValueError(f"embeddings must have shape ({n}, n_features), got {embeddings.shape}.")
    return labels, paths, embeddings, failures


def _prepare_folder(out, thumbnails_dir, overwrite):
    """``(out, report path, thumbnails folder)``, with ``out`` created and resolved.

    Raises FileExistsError, unless ``overwrite``, when the report exists or the
    default thumbnails folder is not a plain folder.
    """
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
    return out, report_path, thumbnails_dir


def _linked_folders(out, labels, names, folders):
    """{label: folder name} to link: the given ones, else organize's that exist in ``out``."""
    if folders:
        return {int(k): v for k, v in folders.items()}
    return {k: v for k, v in folder_names(labels, names).items() if os.path.isdir(os.path.join(out, v))}


def _page(title, sections):
    """The whole document: the shared head (policy, styles), title, sections, script."""
    return page(title, f"<h1>{escape(title)}</h1>" + "".join(sections), css=_CSS, script=_JS)
