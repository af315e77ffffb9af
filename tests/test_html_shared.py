"""gpucluster._html, the head, style and escaping the report and the segmentation page share."""

import os

from gpucluster import _html
from gpucluster.embed.discover import printable


def test_escape_quotes_markup_and_shows_undecodable_bytes():
    name = os.fsdecode(b"a<b>\"&'\xe9.jpg")
    assert _html.escape(name) == "a&lt;b&gt;&quot;&amp;&#x27;\\xe9.jpg"
    assert _html.escape(3.5) == "3.5"
    # The same text as the embedding layer's printable() shows in messages.
    for text in (name, "plain é", "\udcff\ud800"):
        assert _html.printable_text(text) == printable(text)
        _html.escape(text).encode("utf-8")


def test_page_has_the_policy_the_shared_style_and_the_escaped_title():
    doc = _html.page("<t>", "<p>x</p>", css="p{color:red}", script="var a=1;")
    assert doc.startswith("<!DOCTYPE html>") and doc.endswith("</html>")
    assert "<title>&lt;t&gt;</title>" in doc
    assert "default-src 'none'" in doc and "http" not in doc.replace("http-equiv", "")
    assert f"<style>{_html.BASE_CSS}p{{color:red}}</style>" in doc
    assert "<body><p>x</p><script>var a=1;</script></body>" in doc


def test_picture_script_names_its_selector():
    js = _html.record_pictures_js(".sheet img")
    assert js.count('querySelectorAll(".sheet img")') == 2
    assert "data-first-screen" in js and "data-broken" in js
