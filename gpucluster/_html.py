"""What every offline HTML page of gpucluster shares: escaping, the page head and its style.

The report (``report/html.py``) and the segmentation page
(``segment/page.py``) are each one self-contained file: a
Content-Security-Policy that loads nothing from the network, inline CSS and
script, every name escaped, pictures by relative path, and ``<body>``
attributes in which the script records how many pictures of the first
screen loaded or broke (what the browser tests read). Host-only, pure
Python: no arrays involved.
"""

import html

# The rules both pages start from; each page adds its own after them.
BASE_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}.facts{color:#555}
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
"""

_POLICY = ("default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; "
           "script-src 'unsafe-inline'")


def printable_text(text):
    """``str(text)`` as valid UTF-8: bytes of file names that are not UTF-8 shown as ``\\xNN``.

    A file name that is not valid UTF-8 reaches Python as a str with
    surrogate escapes (``os.fsdecode``); written as is, it would make the page
    unwritable. The same rule as ``embed.discover.printable``.
    """
    text = str(text)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file name decodes to
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def escape(text):
    """``text`` (any object, as ``str``) escaped for HTML text and quoted attributes, as printable UTF-8."""
    return html.escape(printable_text(text), quote=True)


def record_pictures_js(selector):
    """Inline script recording on ``<body>`` how many pictures of the first screen loaded or broke.

    ``selector`` is the CSS selector of the page's pictures (e.g. ``".sheet img"``);
    the counts go to the attributes ``data-first-screen``, ``data-loaded`` and
    ``data-broken``, updated as each picture loads or fails.
    """
    return (
        "function record(){var b=document.body,t=0,l=0,x=0,h=window.innerHeight;\n"
        f'var ims=document.querySelectorAll("{selector}");\n'
        "for(var i=0;i<ims.length;i++){var r=ims[i].getBoundingClientRect();\n"
        "if(r.bottom>0&&r.top<h){t++;if(ims[i].complete){if(ims[i].naturalWidth>0)l++;else x++;}}}\n"
        'b.setAttribute("data-first-screen",t);b.setAttribute("data-loaded",l);'
        'b.setAttribute("data-broken",x);}\n'
        f'var ims=document.querySelectorAll("{selector}");\n'
        "for(var i=0;i<ims.length;i++){ims[i].addEventListener(\"load\",record);"
        "ims[i].addEventListener(\"error\",record);}\n"
        "window.addEventListener(\"load\",record);record();\n"
    )


def page(title, body, *, css, script):
    """A whole offline HTML document: head with the policy and ``BASE_CSS + css``, then ``body``.

    ``title`` is escaped here; ``body``, ``css`` and ``script`` are inserted as
    they are (``script`` runs at the end of the body). Returns a str.
    """
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
            f"<style>{BASE_CSS}{css}</style></head><body>{body}<script>{script}</script>"
            "</body></html>")
