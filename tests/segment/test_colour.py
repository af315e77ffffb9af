"""Colour conversions against scikit-image's rgb2lab, rgb2hsv and rgb2gray, on every host backend."""

import numpy as np
import pytest
from skimage import color

from gpucluster.segment import rgb_to_gray, rgb_to_hsv, rgb_to_lab

from .._helpers import assert_same_kind, to_numpy

CONVERSIONS = [(rgb_to_lab, color.rgb2lab), (rgb_to_hsv, color.rgb2hsv), (rgb_to_gray, color.rgb2gray)]
IDS = ["lab", "hsv", "gray"]


def rgb_cube(step=5):
    """Every step-th level of R, G and B, as a uint8 image (the grays, primaries and ties included)."""
    levels = np.arange(0, 256, step)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1)
    return grid.reshape(levels.size, -1, 3).astype(np.uint8)


@pytest.mark.parametrize("mine, reference", CONVERSIONS, ids=IDS)
def test_uint8_colours_match_scikit_image(mine, reference):
    """uint8 input is converted in float32 (scikit-image works in float64): over the sampled
    RGB cube the largest difference is below 7e-5 in L*a*b* units."""
    image = rgb_cube()
    np.testing.assert_allclose(mine(image), reference(image), rtol=0, atol=1e-4)


@pytest.mark.parametrize("mine, reference", CONVERSIONS, ids=IDS)
def test_float64_colours_match_scikit_image(mine, reference):
    image = np.random.default_rng(0).random((40, 50, 3))
    out = mine(image)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, reference(image), rtol=0, atol=1e-10)


def test_uint16_is_scaled_by_its_range():
    image = (rgb_cube(17).astype(np.uint16) * 257)
    np.testing.assert_allclose(rgb_to_lab(image), color.rgb2lab(image), rtol=0, atol=1e-4)


@pytest.mark.parametrize("mine, reference", CONVERSIONS, ids=IDS)
def test_conversions_run_where_the_image_lives(xp, mine, reference):
    image = rgb_cube(15)
    out = mine(xp.asarray(image))
    assert_same_kind(out, xp.asarray(image))
    np.testing.assert_allclose(to_numpy(out), reference(image), rtol=0, atol=1e-4)


def test_wrong_channel_count_is_refused():
    with pytest.raises(ValueError, match="last axis of length 3"):
        rgb_to_lab(np.zeros((4, 4, 2)))
