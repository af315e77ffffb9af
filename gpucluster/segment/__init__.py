"""Image segmentation by clustering pixels: features, any estimator, superpixels, pictures.

- ``pixel_features``: gray, RGB, Lab, HSV, XY, Sobel, LBP and texture
  features per pixel, each group scaled and weighted;
- ``segment``: any estimator of the scikit-learn API (gpucluster's KMeans by
  default) on those features, on every pixel, a sample or a smaller image;
  returns a ``Segmentation``;
- ``slic`` and ``merge_regions``: superpixels as localised k-means in
  Lab + XY (a custom kernel on CPU and GPU), then merging on the region
  adjacency graph;
- ``overlay``, ``contours``, ``draw_contours``, ``quantize``, ``label_map``
  and ``save``: the pictures and files of a segmentation;
- ``rgb_to_lab``, ``rgb_to_hsv``, ``rgb_to_gray``: colour conversions
  (scikit-image's formulas) against the array API.

Everything runs where the image lives (NumPy, torch, CuPy, array_api_strict)
and returns arrays of the same kind; files and Pillow images are decoded on
the host.
"""

from ._image import load_image
from .colour import rgb_to_gray, rgb_to_hsv, rgb_to_lab
from .draw import contours, draw_contours, label_map, overlay, quantize, save
from .features import FEATURES, pixel_features
from .segmentation import Segmentation, describe, segment
from .superpixels import merge_regions, slic

__all__ = [
    "FEATURES",
    "Segmentation",
    "contours",
    "describe",
    "draw_contours",
    "label_map",
    "load_image",
    "merge_regions",
    "overlay",
    "pixel_features",
    "quantize",
    "rgb_to_gray",
    "rgb_to_hsv",
    "rgb_to_lab",
    "save",
    "segment",
    "slic",
]
