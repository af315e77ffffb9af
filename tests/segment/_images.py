"""Synthetic images with known regions, and the measures that score segmentations against them."""

import numpy as np

# Four regions of distinct colours (uint8 RGB): background, rectangle, disc, triangle.
REGION_COLORS = ((40, 70, 160), (200, 40, 40), (50, 170, 60), (230, 210, 60))


def shapes_image(height=90, width=120, noise=6.0, gradient=40.0, seed=0):
    """(image uint8 (H, W, 3), truth int (H, W)): a rectangle, a disc and a triangle of distinct
    colours on a background, with a brightness gradient across the image and Gaussian noise."""
    y, x = np.mgrid[:height, :width]
    truth = np.zeros((height, width), dtype=np.int64)
    truth[(y > 0.08 * height) & (y < 0.45 * height) & (x > 0.06 * width) & (x < 0.45 * width)] = 1
    truth[(y - 0.6 * height) ** 2 + (x - 0.74 * width) ** 2 < (0.3 * height) ** 2] = 2
    truth[(y > 0.52 * height) & (y < 0.95 * height)
          & (np.abs(x - 0.26 * width) < (y - 0.5 * height) * 0.55 * width / height)] = 3
    image = np.asarray(REGION_COLORS, dtype=np.float64)[truth]
    image += (gradient * (x / width - 0.5))[:, :, None]
    image += np.random.default_rng(seed).normal(0.0, noise, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), truth


def boundaries(labels):
    """Pixels with a right or lower neighbour of another label (one side of each boundary)."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    edge[:-1, :] |= labels[1:, :] != labels[:-1, :]
    return edge


def boundary_recall(truth, labels, tolerance=2):
    """Share of the true boundary pixels with a boundary pixel of ``labels`` within
    ``tolerance`` pixels (chessboard distance)."""
    from scipy import ndimage

    true_edge = boundaries(truth)
    found = ndimage.binary_dilation(boundaries(labels), np.ones((2 * tolerance + 1,) * 2, bool))
    return float(found[true_edge].mean())


def undersegmentation_error(truth, labels):
    """Neubert and Protzel's undersegmentation error: for every superpixel and every true region
    it overlaps, the smaller of the overlap and the rest of the superpixel, summed, over N."""
    pairs = truth.astype(np.int64).ravel() * (labels.max() + 1) + labels.ravel()
    overlap = np.bincount(pairs)
    truth_of, label_of = np.divmod(np.nonzero(overlap)[0], labels.max() + 1)
    counts = overlap[overlap > 0]
    sizes = np.bincount(labels.ravel())
    return float(np.minimum(counts, sizes[label_of] - counts).sum() / labels.size)
