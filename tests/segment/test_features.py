"""pixel_features: the groups, their scaling and weights, parity of the neighbourhood filters
with scikit-image, and the same features on every host backend."""

import numpy as np
import pytest
from scipy import ndimage
from skimage import color, data, feature, filters

from gpucluster.segment import FEATURES, pixel_features
from gpucluster.segment import _filters
from gpucluster.segment._scaling import GroupScaler

from .._helpers import assert_same_kind, to_numpy
from ._images import shapes_image

WIDTHS = {"gray": 1, "rgb": 3, "lab": 3, "hsv": 3, "xy": 2, "sobel": 3, "lbp": 10, "texture": 1}


def test_every_group_has_its_columns_in_order():
    image, _ = shapes_image(30, 40)
    X = pixel_features(image, FEATURES)
    assert X.shape == (30 * 40, sum(WIDTHS.values())) and X.dtype == np.float32
    column = 0
    for name in FEATURES:
        alone = pixel_features(image, (name,))
        np.testing.assert_allclose(X[:, column:column + WIDTHS[name]], alone, rtol=1e-6, atol=1e-6)
        column += WIDTHS[name]


def test_standard_scaling_keeps_the_groups_geometry():
    """Each group is centred and divided by one number: the Lab columns keep their ratios,
    and the group's columns have unit variance on average."""
    image, _ = shapes_image(30, 40)
    X = pixel_features(image, ("lab",)).astype(np.float64)
    lab = color.rgb2lab(image).reshape(-1, 3)
    ratio = X.std(axis=0) / lab.std(axis=0)
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(np.mean(X.var(axis=0)), 1.0, rtol=1e-4)


def test_minmax_and_robust_scaling():
    image, _ = shapes_image(30, 40)
    X = pixel_features(image, ("xy",), scale="minmax").astype(np.float64)
    assert X.min() == pytest.approx(0.0) and X.max() == pytest.approx(1.0)
    rgb = pixel_features(image, ("rgb",), scale="robust").astype(np.float64)
    raw = image.reshape(-1, 3) / 255.0
    n = raw.shape[0]
    ordered = np.sort(raw, axis=0)
    median, iqr = ordered[int(0.5 * (n - 1))], ordered[int(0.75 * (n - 1))] - ordered[int(0.25 * (n - 1))]
    np.testing.assert_allclose(rgb, (raw - median) / np.sqrt(np.mean(iqr ** 2)), rtol=1e-5, atol=1e-5)


def test_weights_multiply_their_group():
    image, _ = shapes_image(30, 40)
    plain = pixel_features(image, ("lab", "xy"))
    weighted = pixel_features(image, ("lab", "xy"), weights={"xy": 0.25})
    np.testing.assert_allclose(weighted[:, :3], plain[:, :3])
    np.testing.assert_allclose(weighted[:, 3:], 0.25 * plain[:, 3:], rtol=1e-6)
    np.testing.assert_allclose(pixel_features(image, ("lab", "xy"), weights=[1, 0.25]), weighted)


def test_a_flat_image_gives_zero_features_not_nan():
    X = pixel_features(np.full((5, 6, 3), 128, np.uint8), ("lab", "sobel", "texture"))
    assert np.all(np.isfinite(X)) and np.all(X == 0)


def test_sobel_matches_scikit_image():
    image = data.camera()[100:160, 200:280]
    d_rows, d_cols = _filters.sobel(image / 255.0)
    np.testing.assert_allclose(d_rows, filters.sobel_h(image), atol=1e-12)
    np.testing.assert_allclose(d_cols, filters.sobel_v(image), atol=1e-12)
    magnitude = pixel_features(image.astype(np.float64) / 255, ("sobel",), scale="none")[:, 0]
    np.testing.assert_allclose(magnitude, filters.sobel(image).ravel(), atol=1e-12)


def test_lbp_codes_match_scikit_image():
    image = data.camera()[100:160, 200:280]
    codes = _filters.lbp_uniform(image.astype(np.float64))
    np.testing.assert_array_equal(codes, feature.local_binary_pattern(image, 8, 1, "uniform"))


def test_lbp_group_is_the_window_histogram_of_codes():
    image = data.camera()[100:130, 200:240]
    X = pixel_features(image, ("lbp",), scale="none", window=5).reshape(30, 40, 10)
    codes = feature.local_binary_pattern(image, 8, 1, "uniform")
    y, x = 10, 0  # a window cut by the left border: 5 rows x 3 columns
    counts = np.bincount(codes[y - 2:y + 3, 0:3].astype(int).ravel(), minlength=10)
    np.testing.assert_allclose(X[y, x], counts / 15, atol=1e-6)
    np.testing.assert_allclose(X.sum(axis=2), 1.0, atol=1e-5)


def test_texture_is_the_local_standard_deviation():
    gray = np.random.default_rng(0).random((20, 25))
    X = pixel_features(gray, ("texture",), scale="none", window=3)[:, 0].reshape(20, 25)
    expected = ndimage.generic_filter(gray, np.std, size=3, mode="constant", cval=np.nan)
    inside = np.s_[1:-1, 1:-1]
    np.testing.assert_allclose(X[inside], expected[inside], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(X[0, 0], gray[:2, :2].std(), rtol=1e-4)


@pytest.mark.parametrize("features", [("lab", "xy"), ("hsv", "sobel", "texture"), ("gray", "lbp")],
                         ids=["lab-xy", "hsv-sobel-texture", "gray-lbp"])
def test_features_are_computed_where_the_image_lives(xp, features):
    image, _ = shapes_image(24, 30)
    X = pixel_features(xp.asarray(image), features)
    assert_same_kind(X, xp.asarray(image))
    # The texture group's float32 window sums run in another order on a GPU (seen on an
    # H200 with torch: 5e-5 apart on standardised values).
    tolerance = 1e-5 if xp.device == "cpu" else 2e-4
    np.testing.assert_allclose(to_numpy(X), pixel_features(image, features), rtol=tolerance,
                               atol=tolerance)


def test_gray_float_and_path_inputs(tmp_path):
    from PIL import Image

    image, _ = shapes_image(20, 30)
    Image.fromarray(image).save(tmp_path / "shapes.png")
    from_path = pixel_features(tmp_path / "shapes.png", ("lab",))
    np.testing.assert_allclose(from_path, pixel_features(image, ("lab",)))
    gray = pixel_features(image[:, :, 0], ("lab", "hsv"), scale="none")
    # No chroma: the sRGB matrix's white differs from the D65 white in the fifth digit,
    # which leaves grays an a* and b* below 0.01 (scikit-image's too).
    np.testing.assert_allclose(gray[:, 1:3], 0, atol=1e-2)
    np.testing.assert_allclose(gray[:, 3:5], 0, atol=1e-7)  # HSV saturation 0
    assert pixel_features(image / 255.0, ("rgb",)).dtype == np.float64


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(features=("lab", "nope")), ValueError, "distinct names"),
    (dict(features=("lab", "lab")), ValueError, "distinct names"),
    (dict(weights={"xy": 1.0}), ValueError, "not among the features"),
    (dict(weights={"lab": -1}), ValueError, "finite number >= 0"),
    (dict(weights=[1.0, 2.0, 3.0]), ValueError, "one number per feature group"),
    (dict(scale="zscore"), ValueError, "scale must be one of"),
    (dict(window=4), ValueError, "odd integer"),
])
def test_bad_arguments_are_refused(kwargs, error, match):
    args = dict(features=("lab",))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        pixel_features(np.zeros((4, 4, 3), np.uint8), **args)


@pytest.mark.parametrize("image, error, match", [
    (np.zeros((4, 4, 2), np.uint8), ValueError, "C in"),
    (np.zeros((4,), np.uint8), ValueError, "shape"),
    (np.zeros((0, 4, 3), np.uint8), ValueError, "empty"),
    (np.zeros((4, 4, 3), np.int64), TypeError, "dtype"),
    (np.full((4, 4), np.nan), ValueError, "NaN"),
])
def test_bad_images_are_refused(image, error, match):
    with pytest.raises(error, match=match):
        pixel_features(image)


def test_unreadable_files_say_why(tmp_path):
    from gpucluster.embed import ImageDecodeError

    path = tmp_path / "broken.png"
    path.write_bytes(b"not a picture")
    with pytest.raises(ImageDecodeError, match="not an image"):
        pixel_features(path)


def test_scaler_applies_fitted_statistics_to_other_rows():
    rng = np.random.default_rng(0)
    fit = [("g", rng.normal(5.0, 2.0, (500, 2)))]
    scaler = GroupScaler("standard").fit(fit)
    other = [("g", np.array([[5.0, 5.0], [7.0, 5.0]]))]
    out = scaler.transform(other, {"g": 1.0}, np.float64)
    offset, divisor = scaler.statistics_[0]
    np.testing.assert_allclose(out, (other[0][1] - offset) / divisor)
