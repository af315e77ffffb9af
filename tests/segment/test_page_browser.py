"""The segmentation page in headless Chromium, as the report's test checks it: no console
errors, every picture of the first screen loads, none is broken, and a broken one is seen."""

import os

import numpy as np
from PIL import Image

from gpucluster.segment.batch import segment_images

from .._browser import body_attribute, chromium, console_problems, run_chromium  # noqa: F401
from ._images import shapes_image


def make_page(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    image, _ = shapes_image(60, 80)
    Image.fromarray(image).save(folder / "shapes.png")
    Image.fromarray(np.ascontiguousarray(image[::-1])).save(folder / "flipped <i>.png")
    summary = segment_images(folder, str(tmp_path / "out"), progress=False, n_segments=4)
    return summary["page"]


def test_page_renders_in_chromium(chromium, tmp_path):
    page = make_page(tmp_path)
    dom, stderr = run_chromium(chromium, page, tmp_path / "profile", "--dump-dom")
    assert console_problems(stderr) == []
    assert body_attribute(dom, "data-first-screen") == 8  # two images, four pictures each
    assert body_attribute(dom, "data-loaded") == 8
    assert body_attribute(dom, "data-broken") == 0
    assert "flipped &lt;i&gt;.png" in dom

    screenshot = tmp_path / "page.png"
    _, stderr = run_chromium(chromium, page, tmp_path / "profile", f"--screenshot={screenshot}")
    assert console_problems(stderr) == []
    with Image.open(screenshot) as shot:
        colors = shot.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colors is None or len(colors) > 50  # pictures and text, not a blank page


def test_a_missing_picture_is_detected(chromium, tmp_path):
    page = make_page(tmp_path)
    os.unlink(os.path.join(os.path.dirname(page), "shapes", "overlay.png"))
    dom, _ = run_chromium(chromium, page, tmp_path / "profile", "--dump-dom")
    assert body_attribute(dom, "data-broken") == 1 and body_attribute(dom, "data-loaded") == 7
