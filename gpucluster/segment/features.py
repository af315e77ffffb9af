"""Per-pixel features of an image: colour, position, gradients and texture, scaled by group.

Every group is computed where the image lives (array API): a CuPy or torch
CUDA image gives CuPy or torch CUDA features, and nothing visits the host.
"""

import numbers

from .. import backend
from . import _filters
from ._image import float_image, load_image
from ._scaling import GroupScaler
from .colour import rgb_to_gray, rgb_to_hsv, rgb_to_lab

FEATURES = ("gray", "rgb", "lab", "hsv", "xy", "sobel", "lbp", "texture")
# Columns of each group.
FEATURE_WIDTHS = {"gray": 1, "rgb": 3, "lab": 3, "hsv": 3, "xy": 2, "sobel": 3,
                  "lbp": _filters.LBP_CODES, "texture": 1}


def check_features(features, weights=None):
    """``(features, weights)``: a tuple of known, distinct group names and a {name: float} weight
    for each (1.0 unless given as a dict or a sequence in the order of ``features``)."""
    if isinstance(features, str):
        features = (features,)
    features = tuple(features)
    unknown = [f for f in features if f not in FEATURES]
    if not features or unknown or len(set(features)) != len(features):
        raise ValueError(
            f"features must be distinct names among {FEATURES}, got {features!r}."
        )
    if weights is None:
        weights = {}
    elif not isinstance(weights, dict):
        weights = list(weights)
        if len(weights) != len(features):
            raise ValueError(
                f"weights must be a dict or one number per feature group ({len(features)}), "
                f"got {len(weights)}."
            )
        weights = dict(zip(features, weights))
    extra = set(weights) - set(features)
    if extra:
        raise ValueError(f"weights name groups that are not among the features: {sorted(extra)}.")
    checked = {}
    for name in features:
        value = weights.get(name, 1.0)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0 \
                or value == float("inf"):
            raise ValueError(f"The weight of {name!r} must be a finite number >= 0, got {value!r}.")
        checked[name] = float(value)
    return features, checked


def check_window(window):
    if isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < 1 \
            or window % 2 == 0:
        raise ValueError(f"window must be an odd integer >= 1, got {window!r}.")
    return int(window)


def _coordinates(floats):
    """(x, y) of every pixel divided by the longer side less one: isotropic, in [0, 1]."""
    xp = backend.namespace(floats)
    H, W = floats.shape[:2]
    device = backend.device(floats)
    span = max(max(H, W) - 1, 1)
    y = xp.arange(H, dtype=floats.dtype, device=device) / span
    x = xp.arange(W, dtype=floats.dtype, device=device) / span
    xs = xp.broadcast_to(x[None, :], (H, W))
    ys = xp.broadcast_to(y[:, None], (H, W))
    return xp.stack([xs, ys], axis=-1)


def _hsv_cone(rgb):
    """HSV as a cone, (S cos 2 pi H, S sin 2 pi H, V): hue wraps around and means nothing
    for grays, so it enters as an angle weighted by saturation."""
    xp = backend.namespace(rgb)
    hsv = rgb_to_hsv(rgb)
    angle = 2.0 * 3.141592653589793 * hsv[..., 0]
    return xp.stack([hsv[..., 1] * xp.cos(angle), hsv[..., 1] * xp.sin(angle), hsv[..., 2]], axis=-1)


def _sobel_group(gray):
    """(magnitude, cos, sin): scikit-image's ``sobel`` magnitude and the gradient's direction
    as a unit vector (zero where there is no gradient)."""
    xp = backend.namespace(gray)
    d_rows, d_cols = _filters.sobel(gray)
    norm = xp.sqrt(d_rows * d_rows + d_cols * d_cols)
    safe = xp.where(norm > 0, norm, xp.ones_like(norm))
    return xp.stack([norm / 2 ** 0.5, d_cols / safe, d_rows / safe], axis=-1)


def _lbp_group(gray, radius):
    """The share of each uniform LBP code in the pixel's window: a texture histogram."""
    xp = backend.namespace(gray)
    codes = _filters.lbp_uniform(gray)
    one_hot = xp.stack([xp.astype(codes == c, xp.float32) for c in range(_filters.LBP_CODES)],
                       axis=-1)
    return xp.astype(_filters.window_mean(one_hot, radius), gray.dtype)


def _texture_group(gray, radius):
    """Local standard deviation of the gray level in the pixel's window."""
    xp = backend.namespace(gray)
    means = _filters.window_mean(xp.stack([gray, gray * gray], axis=-1), radius)
    variance = xp.clip(means[..., 1] - means[..., 0] ** 2, 0.0, None)
    return xp.astype(xp.sqrt(variance), gray.dtype)[..., None]


def feature_groups(floats, features, window=7):
    """Unscaled groups of a float image (H, W, 1 or 3) in [0, 1]: [(name, array (H * W, d))].

    Gray images have Lab (0, 0) chroma and HSV saturation 0; their "rgb" is
    three equal columns.
    """
    xp = backend.namespace(floats)
    H, W = floats.shape[:2]
    rgb = floats if floats.shape[2] == 3 else xp.concat([floats, floats, floats], axis=2)
    gray = floats[:, :, 0] if floats.shape[2] == 1 else rgb_to_gray(rgb)
    radius = window // 2
    make = {
        "gray": lambda: gray[:, :, None],
        "rgb": lambda: rgb,
        "lab": lambda: rgb_to_lab(rgb),
        "hsv": lambda: _hsv_cone(rgb),
        "xy": lambda: _coordinates(floats),
        "sobel": lambda: _sobel_group(gray),
        "lbp": lambda: _lbp_group(gray, radius),
        "texture": lambda: _texture_group(gray, radius),
    }
    return [(name, xp.reshape(make[name](), (H * W, FEATURE_WIDTHS[name]))) for name in features]


def pixel_features(image, features=("lab", "xy"), weights=None, scale="standard", *, window=7):
    """One row of features per pixel, in raster order.

    Parameters
    ----------
    image : array (H, W) or (H, W, C), PIL image or path
        uint8, uint16 or float in [0, 1]; NumPy, torch, CuPy or any array-API
        array (see ``load_image``).
    features : sequence of str
        Groups, combinable, in this order in the columns:
        "gray" (1 column), "rgb" (3, in [0, 1]), "lab" (3, CIE L*a*b*),
        "hsv" (3, the HSV cone ``(S cos 2 pi H, S sin 2 pi H, V)``),
        "xy" (2, column and row divided by the longer side less one),
        "sobel" (3, gradient magnitude as scikit-image's ``sobel`` and the
        gradient direction as a unit vector), "lbp" (10, the share of each
        uniform local-binary-pattern code in the pixel's window), "texture"
        (1, the local standard deviation of the gray level in the window).
    weights : dict, sequence or None
        Multiplier of each group after scaling ({"xy": 0.5}, or one number
        per group); 1 by default.
    scale : {"standard", "minmax", "robust", "none"} or None
        How each group is scaled, as a whole (see ``_scaling``).
    window : int
        Odd side of the window of "lbp" and "texture", in pixels.

    Returns
    -------
    X : array (H * W, n_features), float32 (float64 for float64 images),
        in the image's namespace and on its device.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster.segment import pixel_features
    >>> image = np.zeros((4, 6, 3), dtype=np.uint8)
    >>> image[:, 3:] = (255, 0, 0)
    >>> pixel_features(image, ("lab", "xy")).shape
    (24, 5)
    """
    image = load_image(image)
    features, weights = check_features(features, weights)
    window = check_window(window)
    scaler = GroupScaler(scale)
    floats = float_image(image)
    groups = feature_groups(floats, features, window)
    return scaler.fit(groups).transform(groups, weights, floats.dtype)

