"""overlay, contours, quantize, label_map and save: what each picture holds, on every host backend."""

import json

import numpy as np
import pytest

from gpucluster.segment import contours, draw_contours, label_map, overlay, quantize, segment

from .._helpers import assert_same_kind, to_numpy
from ._images import shapes_image

LABELS = np.array([[0, 0, 1, 1],
                   [0, 0, 1, 1],
                   [2, 2, 2, -1]])


def test_contours_mark_both_sides_of_every_boundary(xp):
    mask = contours(xp.asarray(LABELS))
    assert_same_kind(mask, xp.asarray(LABELS))
    np.testing.assert_array_equal(to_numpy(mask), [[0, 1, 1, 0],
                                                   [1, 1, 1, 1],
                                                   [1, 1, 1, 1]])


def test_overlay_blends_segment_colours_and_leaves_noise(xp):
    from gpucluster.segment.draw import segment_colors

    image = np.full((3, 4, 3), 100, np.uint8)
    out = overlay(xp.asarray(image), xp.asarray(LABELS), alpha=0.25)
    assert_same_kind(out, xp.asarray(image))
    out = to_numpy(out)
    assert out.dtype == np.uint8 and out.shape == (3, 4, 3)
    colors = segment_colors(3).astype(float)
    np.testing.assert_allclose(out[0, 0], np.round(0.75 * 100 + 0.25 * colors[0]), atol=0.5)
    np.testing.assert_allclose(out[2, 0], np.round(0.75 * 100 + 0.25 * colors[2]), atol=0.5)
    np.testing.assert_array_equal(out[2, 3], [100, 100, 100])


def test_quantize_paints_each_segment_its_mean_colour(xp):
    image = np.arange(36, dtype=np.uint8).reshape(3, 4, 3)
    out = to_numpy(quantize(xp.asarray(image), xp.asarray(LABELS)))
    assert out.dtype == np.uint8 and out.shape == image.shape
    for value in range(3):
        expected = np.round(image[LABELS == value].mean(axis=0))
        np.testing.assert_array_equal(out[LABELS == value], np.broadcast_to(expected, out[LABELS == value].shape))
    np.testing.assert_array_equal(out[2, 3], image[2, 3])  # noise keeps its colour


def test_quantize_keeps_gray_and_float_images_as_they_are():
    gray = np.array([[0.0, 0.5], [1.0, 1.0]])
    out = quantize(gray, np.array([[0, 0], [1, 1]]))
    assert out.dtype == np.float64 and out.shape == (2, 2)
    np.testing.assert_allclose(out, [[0.25, 0.25], [1.0, 1.0]])


def test_quantize_leaves_an_all_noise_image_as_it_is(xp):
    """No segment at all (DBSCAN marking every pixel noise): no mean colour to paint with."""
    image = np.arange(36, dtype=np.uint8).reshape(3, 4, 3)
    noise = np.full((3, 4), -1)
    for mean_colors in (None, np.zeros((0, 3))):
        out = quantize(xp.asarray(image), xp.asarray(noise), mean_colors)
        assert_same_kind(out, xp.asarray(image))
        np.testing.assert_array_equal(to_numpy(out), image)


def test_draw_contours_and_label_map():
    image = np.zeros((3, 4, 3), np.uint8)
    drawn = draw_contours(image, LABELS, color=(0, 255, 0))
    mask = contours(LABELS)
    np.testing.assert_array_equal(drawn[mask], np.tile([0, 255, 0], (int(mask.sum()), 1)))
    np.testing.assert_array_equal(drawn[~mask], 0)
    coloured = label_map(LABELS)
    np.testing.assert_array_equal(coloured[2, 3], [0, 0, 0])
    assert len({tuple(c) for c in coloured.reshape(-1, 3)[LABELS.ravel() >= 0]}) == 3


def test_segment_colors_are_distinct_for_many_segments():
    from gpucluster.segment.draw import segment_colors

    colors = segment_colors(500)
    assert colors.shape == (500, 3) and colors.dtype == np.uint8
    assert len({tuple(c) for c in colors}) == 500


def test_save_writes_every_file_and_refuses_to_overwrite(tmp_path):
    from PIL import Image

    image, _ = shapes_image(30, 40)
    result = segment(image, n_segments=3)
    paths = result.save(tmp_path / "out")
    assert sorted(p.split("/")[-1] for p in paths.values()) == sorted(
        ["labels.npy", "labels.png", "original.png", "overlay.png", "contours.png",
         "quantized.png", "segmentation.json"])
    np.testing.assert_array_equal(np.load(paths["labels"]), to_numpy(result.labels))
    for kind in ("label_map", "original", "overlay", "contours", "quantized"):
        with Image.open(paths[kind]) as picture:
            assert picture.size == (40, 30) and picture.mode == "RGB"
    with Image.open(paths["quantized"]) as picture:
        np.testing.assert_array_equal(np.asarray(picture), result.quantize())
    summary = json.loads(open(paths["summary"]).read())
    assert summary["n_segments"] == 3 and sum(summary["sizes"]) == 1200
    assert set(summary["scores"]) == {"silhouette", "calinski_harabasz", "davies_bouldin"}
    with pytest.raises(FileExistsError, match="overwrite"):
        result.save(tmp_path / "out")
    result.save(tmp_path / "out", overwrite=True)


def test_alpha_out_of_range_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        overlay(np.zeros((3, 4, 3), np.uint8), LABELS, alpha=1.5)
