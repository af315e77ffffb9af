"""report.html in headless Chromium: no console errors, first-screen thumbnails load,
every cluster is shown, and a screenshot is taken (kept in the test's tmp_path).

Chromium is driven by its command line only (--dump-dom for the DOM after the
page's scripts ran, --screenshot for a PNG), so no Python package is needed. The
page's own script records on <body> how many thumbnails in the first viewport
loaded or broke (data-first-screen, data-loaded, data-broken) and how many
projection points it drew (data-points).
"""

import os
import re

import numpy as np
import pytest

from gpucluster.report import organize, write_report

from .._browser import body_attribute, chromium, console_problems, run_chromium  # noqa: F401
from ._results import make_images, summary_for


def test_console_errors_are_detected(chromium, tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")
    _, stderr = run_chromium(chromium, page, tmp_path / "profile")
    assert console_problems(stderr), "a failing script must show up on stderr"


def test_report_renders_in_chromium(chromium, tmp_path):
    n_per, k = 6, 3
    photos = make_images(str(tmp_path / "photos"), n_per * k + 2)
    labels = np.array([i // n_per for i in range(n_per * k)] + [-1, -1])
    X = np.random.default_rng(0).normal(size=(len(labels), 8)) + 4 * labels[:, None]
    gallery = tmp_path / "gallery"
    organize(labels, photos, str(gallery), names={0: "first"})
    report = write_report(str(gallery), summary=summary_for([labels]), labels=labels, paths=photos,
                          embeddings=X, failures=[("/nowhere/broken.jpg", "truncated")],
                          names={0: "first"})

    dom, stderr = run_chromium(chromium, report, tmp_path / "profile", "--dump-dom")
    assert console_problems(stderr) == []
    assert body_attribute(dom, "data-first-screen") > 0
    assert body_attribute(dom, "data-loaded") == body_attribute(dom, "data-first-screen")
    assert body_attribute(dom, "data-broken") == 0
    assert body_attribute(dom, "data-points") == len(labels)
    shown = re.findall(r'<section class="cluster" data-label="(-?\d+)"', dom)
    assert len([label for label in shown if int(label) >= 0]) == k

    screenshot = tmp_path / "report.png"
    _, stderr = run_chromium(chromium, report, tmp_path / "profile", f"--screenshot={screenshot}")
    assert console_problems(stderr) == []
    from PIL import Image

    with Image.open(screenshot) as image:
        assert image.size == (1280, 2000)
        colors = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colors is None or len(colors) > 50  # text, charts and thumbnails, not a blank page


def test_a_broken_thumbnail_is_detected(chromium, tmp_path):
    photos = make_images(str(tmp_path / "photos"), 3)
    gallery = tmp_path / "gallery"
    report = write_report(str(gallery), labels=np.array([0, 0, 1]), paths=photos)
    os.unlink(next((gallery / "thumbnails").iterdir()))
    dom, _ = run_chromium(chromium, report, tmp_path / "profile", "--dump-dom")
    assert body_attribute(dom, "data-first-screen") == 3
    assert body_attribute(dom, "data-broken") == 1 and body_attribute(dom, "data-loaded") == 2
