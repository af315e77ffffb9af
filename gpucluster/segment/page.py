"""A small offline HTML page of segmented images: original, overlay, contours and quantised
image side by side, one row per image.

It follows the report's conventions, from the shared ``gpucluster._html``: one
self-contained file, a Content-Security-Policy that loads nothing from the
network, inline CSS and script, every name escaped, pictures by relative
path, and ``<body>`` attributes in which the script records how many
pictures of the first screen loaded or broke (what the browser test reads).
"""

import os
import urllib.parse

from .. import _format as fmt
from .._files import atomic_write
from .._html import escape, page, record_pictures_js
from .segmentation import scores_text

PAGE_NAME = "index.html"
PICTURES = (("original", "original"), ("overlay", "overlay"), ("contours", "contours"),
            ("quantized", "quantised"))

# The page's rules, after the shared ones of gpucluster._html.
_CSS = """
h2{font-size:16px;margin:18px 0 6px;word-break:break-all}
.row{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}
figure{margin:0;width:300px}figure img{width:300px;height:auto;background:#f2f2f2;display:block}
figcaption{font-size:12px;color:#555}
"""

_JS = "\n(function(){\n" + record_pictures_js("figure img") + "})();\n"


def _image_section(row):
    """One image: its name, facts and four pictures."""
    folder = urllib.parse.quote(row["folder"])
    scores = scores_text(row.get("scores", {}), row.get("no_spread_within_segments", False),
                         row["n_segments"])
    facts = (f"{fmt.counted(row['n_segments'], 'segment')}, {row['width']} x {row['height']} "
             f"pixels; {scores}; {fmt.duration(row['seconds'])}")
    figures = "".join(
        f'<figure><img src="{folder}/{kind}.png" alt="{escape(caption)}" loading="lazy">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
        for kind, caption in PICTURES
    )
    return (f'<section class="image" data-folder="{escape(row["folder"])}">'
            f"<h2>{escape(row['source'])}</h2><p class=facts>{escape(facts)}</p>"
            f'<div class="row">{figures}</div></section>')


def _failures_section(failures):
    if not failures:
        return ""
    rows = "".join(f"<tr><td>{escape(path)}</td><td>{escape(reason)}</td></tr>" for path, reason in failures)
    return (f"<h2>Not segmented ({len(failures)})</h2>"
            f"<table><tr><th>file</th><th>reason</th></tr>{rows}</table>")


def write_page(out, rows, failures=(), *, settings="", title="gpucluster segment"):
    """Write ``out``/index.html (replacing it) and return its path.

    Parameters
    ----------
    out : str, the folder holding one sub-folder of pictures per image
    rows : list of dict
        Per image: "source" (shown), "folder" (relative, holding
        original.png, overlay.png, contours.png, quantized.png),
        "n_segments", "width", "height", "scores", "seconds", and optionally
        "no_spread_within_segments" (Calinski-Harabasz then reads n/a).
    failures : sequence of (path, reason), files that could not be segmented
    settings : str, one line describing the run
    title : str
    """
    body = (f"<h1>{escape(title)}</h1><p class=facts>{fmt.counted(len(rows), 'image')} segmented"
            + (f", {len(failures)} not" if failures else "")
            + (f". {escape(settings)}" if settings else "") + "</p>"
            + "".join(_image_section(row) for row in rows) + _failures_section(failures))
    data = page(title, body, css=_CSS, script=_JS).encode("utf-8")
    path = os.path.join(os.fspath(out), PAGE_NAME)
    return atomic_write(path, lambda handle: handle.write(data))
