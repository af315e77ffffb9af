"""slic and merge_regions: boundaries on the true edges, parity with scikit-image's slic on
its sample photos, connectivity, merging down to known regions, every host backend."""

import numpy as np
import pytest
from scipy import ndimage
from skimage import data, segmentation, transform
from sklearn.metrics import adjusted_rand_score

from gpucluster.segment import merge_regions, slic
from gpucluster.segment.superpixels import grid_shape

from .._helpers import assert_same_kind, to_numpy
from ._images import boundary_recall, shapes_image, undersegmentation_error

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")


def test_slic_boundaries_fall_on_the_true_edges(xp):
    image, truth = shapes_image()
    labels = slic(xp.asarray(image), n_segments=100, compactness=10)
    assert_same_kind(labels, xp.asarray(image))
    labels = to_numpy(labels)
    assert labels.dtype == np.int32 and labels.shape == truth.shape
    assert boundary_recall(truth, labels, tolerance=2) >= 0.9
    # And nearly every superpixel lies inside one true region.
    assert undersegmentation_error(truth, labels) < 0.05


def test_every_superpixel_is_one_connected_piece():
    image, _ = shapes_image(60, 80, noise=20.0)
    labels = to_numpy(slic(image, n_segments=40, compactness=5))
    n = int(labels.max()) + 1
    np.testing.assert_array_equal(np.unique(labels), np.arange(n))
    for value in range(n):
        _, pieces = ndimage.label(labels == value)
        assert pieces == 1, f"superpixel {value} has {pieces} pieces"


@pytest.fixture(scope="module")
def photo_scores():
    """Boundary recall and undersegmentation error of both SLICs on five of scikit-image's
    photos at half size. The photos have no ground truth; the reference regions come
    from another method (Felzenszwalb's graph segmentation), the same for both SLICs."""
    rows = []
    for name in PHOTOS:
        photo = getattr(data, name)()
        photo = np.rint(transform.rescale(photo, 0.5, channel_axis=-1, anti_aliasing=True) * 255)
        photo = photo.astype(np.uint8)
        reference = segmentation.felzenszwalb(photo, scale=300, sigma=0.8, min_size=100)
        ours = to_numpy(slic(photo, n_segments=300, compactness=10))
        theirs = segmentation.slic(photo, n_segments=300, compactness=10, start_label=0)
        rows.append({
            "photo": name, "counts": (int(ours.max()) + 1, int(theirs.max()) + 1),
            "recall": (boundary_recall(reference, ours), boundary_recall(reference, theirs)),
            "error": (undersegmentation_error(reference, ours),
                      undersegmentation_error(reference, theirs)),
        })
    return rows


def test_slic_matches_scikit_image_on_sample_photos(photo_scores):
    """On average over the photos, boundary recall at least 90 % of scikit-image's and
    undersegmentation error at most 110 % of it, from about as many superpixels."""
    recall = np.mean([row["recall"] for row in photo_scores], axis=0)
    error = np.mean([row["error"] for row in photo_scores], axis=0)
    counts = np.mean([row["counts"] for row in photo_scores], axis=0)
    assert recall[0] >= 0.9 * recall[1], photo_scores
    assert error[0] <= 1.1 * error[1], photo_scores
    assert abs(counts[0] - counts[1]) <= 0.1 * counts[1], photo_scores
    for row in photo_scores:  # no photo far off either
        assert row["recall"][0] >= 0.85 * row["recall"][1], row
        assert row["error"][0] <= 1.25 * row["error"][1], row


@pytest.mark.parametrize("shape, n_segments", [((200, 300), 400), ((256, 256), 400), ((10, 500), 20),
                                               ((7, 3), 100), ((3000, 4000), 1000)])
def test_grid_has_scikit_images_seed_count(shape, n_segments):
    from skimage.util import regular_grid

    seeds = np.zeros((1, *shape), bool)
    seeds[regular_grid(seeds.shape, n_segments)] = True
    ny, nx = grid_shape(*shape, n_segments)
    assert ny * nx == int(seeds.sum())


def test_gray_images_use_lightness():
    _, truth = shapes_image()
    levels = np.array([40.0, 110.0, 170.0, 230.0])[truth]
    noise = np.random.default_rng(0).normal(0, 5, truth.shape)
    gray = np.clip(levels + noise, 0, 255).astype(np.uint8)
    labels = to_numpy(slic(gray, n_segments=100))
    assert boundary_recall(truth, labels) >= 0.9


def test_compactness_trades_colour_for_squareness():
    """Higher compactness: superpixels closer to the grid's squares, so less boundary each."""
    image, _ = shapes_image(60, 80, noise=8.0)

    def boundary_per_superpixel(labels):
        length = np.sum(labels[:, 1:] != labels[:, :-1]) + np.sum(labels[1:] != labels[:-1])
        return length / (labels.max() + 1)

    loose = to_numpy(slic(image, 40, compactness=2))
    tight = to_numpy(slic(image, 40, compactness=50))
    assert boundary_per_superpixel(tight) < 0.6 * boundary_per_superpixel(loose)


def test_merge_regions_recovers_the_shapes(xp):
    image, truth = shapes_image()
    superpixels = slic(xp.asarray(image), n_segments=100)
    merged = merge_regions(superpixels, xp.asarray(image), 4)
    assert_same_kind(merged, xp.asarray(image))
    merged = to_numpy(merged)
    np.testing.assert_array_equal(np.unique(merged), np.arange(4))
    assert adjusted_rand_score(truth.ravel(), merged.ravel()) >= 0.95
    # One call: superpixels then regions.
    np.testing.assert_array_equal(to_numpy(slic(image, 100, n_regions=4)), merged)


def test_ward_merges_specks_first_and_mean_keeps_them():
    """A red speck on the darker of two grays (L* 34 and 62): Ward's criterion joins the
    speck to its surroundings (16 pixels) before merging the grays (1,200 pixels each);
    the plain distance between means merges the grays, which are closer in colour."""
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :30] = (80, 80, 80)
    image[:, 30:] = (150, 150, 150)
    image[18:22, 8:12] = (255, 0, 0)
    labels = np.zeros((40, 60), np.int32)
    labels[:, 30:] = 1
    labels[18:22, 8:12] = 2
    ward = to_numpy(merge_regions(labels, image, 2))
    assert ward[20, 10] == ward[0, 0] and ward[0, 0] != ward[0, 59]
    mean = to_numpy(merge_regions(labels, image, 2, linkage="mean"))
    assert mean[0, 0] == mean[0, 59] and mean[20, 10] != mean[0, 0]


def test_merge_keeps_noise_and_stops_without_neighbours():
    image = np.zeros((4, 6, 3), np.uint8)
    image[:, 3:] = 200
    labels = np.array([[0, 0, -1, 1, 1, 1]] * 4)
    merged = to_numpy(merge_regions(labels, image, 1))  # 0 and 1 never touch
    np.testing.assert_array_equal(merged, labels)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_segments=0), "n_segments must be"),
    (dict(compactness=0), "compactness must be"),
    (dict(max_iter=0), "max_iter must be"),
    (dict(min_size_factor=2), "min_size_factor"),
    (dict(n_regions=0), "n_regions must be"),
    (dict(linkage="single"), "linkage must be"),
])
def test_bad_slic_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        slic(np.zeros((10, 10, 3), np.uint8), **kwargs)


def test_merge_regions_refuses_mismatched_labels():
    with pytest.raises(ValueError, match="labels have shape"):
        merge_regions(np.zeros((3, 3), int), np.zeros((4, 4, 3), np.uint8), 2)
    with pytest.raises(TypeError, match="integers"):
        merge_regions(np.zeros((4, 4)), np.zeros((4, 4, 3), np.uint8), 2)
