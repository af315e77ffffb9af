"""A small offline HTML page of segmented images: original, overlay, contours and quantised
image side by side, one row per image.

It follows the report's conventions (``gpucluster/report/html.py``): one
self-contained file, a Content-Security-Policy that loads nothing from the
network, inline CSS and script, every name escaped, pictures by relative
path, and ``<body>`` attributes in which the script records how many
pictures of the first screen loaded or broke (what the browser test reads).
"""

import html
import os
import urllib.parse

from .. import _format as fmt
from .._files import atomic_write
from ..embed.discover import printable

PAGE_NAME = "index.html"
PICTURES = (("original", "original"), ("overlay", "overlay"), ("contours", "contours"),
            ("quantized", "quantised"))

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 6px;word-break:break-all}
.facts{color:#555}.row{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}
figure{margin:0;width:300px}figure img{width:300px;height:auto;background:#f2f2f2;display:block}
figcaption{font-size:12px;color:#555}table{border-collapse:collapse;font-size:13px}
td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
"""

_JS = """
(function(){
function record(){var b=document.body,t=0,l=0,x=0,h=window.innerHeight;
var ims=document.querySelectorAll("figure img");
for(var i=0;i<ims.length;i++){var r=ims[i].getBoundingClientRect();
if(r.bottom>0&&r.top<h){t++;if(ims[i].complete){if(ims[i].naturalWidth>0)l++;else x++;}}}
b.setAttribute("data-first-screen",t);b.setAttribute("data-loaded",l);b.setAttribute("data-broken",x);}
var ims=document.querySelectorAll("figure img");
for(var i=0;i<ims.length;i++){ims[i].addEventListener("load",record);ims[i].addEventListener("error",record);}
window.addEventListener("load",record);record();
})();
"""


def _esc(text):
    """HTML-escaped, with bytes of file names that are not UTF-8 shown as \\xNN."""
    return html.escape(printable(str(text)), quote=True)


def _image_section(row):
    """One image: its name, facts and four pictures."""
    folder = urllib.parse.quote(row["folder"])
    scores = row.get("scores", {})
    facts = (f"{row['n_segments']} segments, {row['width']} x {row['height']} pixels; "
             f"silhouette {fmt.score(scores.get('silhouette'))}, Calinski-Harabasz "
             f"{fmt.number(scores.get('calinski_harabasz'))}, Davies-Bouldin "
             f"{fmt.score(scores.get('davies_bouldin'))}; {fmt.duration(row['seconds'])}")
    figures = "".join(
        f'<figure><img src="{folder}/{kind}.png" alt="{_esc(caption)}" loading="lazy">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
        for kind, caption in PICTURES
    )
    return (f'<section class="image" data-folder="{_esc(row["folder"])}">'
            f"<h2>{_esc(row['source'])}</h2><p class=facts>{_esc(facts)}</p>"
            f'<div class="row">{figures}</div></section>')


def _failures_section(failures):
    if not failures:
        return ""
    rows = "".join(f"<tr><td>{_esc(path)}</td><td>{_esc(reason)}</td></tr>" for path, reason in failures)
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
        "n_segments", "width", "height", "scores", "seconds".
    failures : sequence of (path, reason), files that could not be segmented
    settings : str, one line describing the run
    title : str
    """
    title = _esc(title)
    body = (f"<h1>{title}</h1><p class=facts>{len(rows)} images segmented"
            + (f", {len(failures)} not" if failures else "")
            + (f". {_esc(settings)}" if settings else "") + "</p>"
            + "".join(_image_section(row) for row in rows) + _failures_section(failures))
    page = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "img-src 'self' file: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
            f"<style>{_CSS}</style></head><body>{body}<script>{_JS}</script></body></html>")
    data = page.encode("utf-8")
    path = os.path.join(os.fspath(out), PAGE_NAME)
    return atomic_write(path, lambda handle: handle.write(data))
