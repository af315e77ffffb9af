"""animate_kmeans(): one GIF frame per Lloyd iteration of KMeans itself."""

import numpy as np
import pytest

from gpucluster import KMeans, kmeans_plusplus
from gpucluster.report import animate_kmeans
from gpucluster.report.animate import kmeans_iterations


def _data():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0, 0, 0], [6, 6, 0, 0], [0, 6, 6, 0], [6, 0, 0, 6]], dtype=float)
    return np.vstack([c + rng.normal(scale=1.6, size=(60, 4)) for c in centres])


def _kmeans_from(X, centers, max_iter=50):
    return KMeans(centers.shape[0], init=centers, n_init=1, max_iter=max_iter, device="cpu").fit(X)


def test_iterations_are_those_of_kmeans_from_the_same_seeds():
    X = _data()
    centers0, _ = kmeans_plusplus(X, 4, random_state=3)
    history = kmeans_iterations(X, centers0, max_iter=50)
    km = _kmeans_from(X, centers0)
    assert len(history) == km.n_iter_ >= 2  # assignments changed at least once on this case
    np.testing.assert_array_equal(history[-1]["labels"], km.labels_)
    np.testing.assert_array_equal(history[-1]["centers"], km.cluster_centers_)
    # Each iteration's centres are the means of its assignment, and k-means
    # never raises the inertia.
    for record in history:
        for k in range(4):
            np.testing.assert_allclose(record["centers"][k], X[record["labels"] == k].mean(axis=0),
                                       rtol=1e-12, atol=1e-12)
    inertias = [record["inertia"] for record in history]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(inertias, inertias[1:]))
    # A stop at max_iter is KMeans's too.
    short = kmeans_iterations(X, centers0, max_iter=1)
    assert len(short) == 1
    np.testing.assert_array_equal(short[0]["centers"], _kmeans_from(X, centers0, 1).cluster_centers_)


def test_an_emptied_cluster_is_reseeded_as_kmeans_does():
    X = _data()
    centers0 = np.vstack([X[[0, 70, 130]], np.full((1, 4), 1e3)])  # the last centre gets no point
    history = kmeans_iterations(X, centers0, max_iter=50)
    km = _kmeans_from(X, centers0)
    assert np.abs(history[0]["centers"]).max() < 100  # moved onto the data, not kept far away
    assert len(history) == km.n_iter_
    np.testing.assert_array_equal(history[-1]["centers"], km.cluster_centers_)
    np.testing.assert_array_equal(history[-1]["labels"], km.labels_)


def test_gif_has_one_frame_per_kmeans_iteration(tmp_path):
    from PIL import Image

    X = _data()
    out = str(tmp_path / "kmeans.gif")
    assert animate_kmeans(X, 4, out, max_iter=50, random_state=3, size=(320, 240)) == out
    centers0, _ = kmeans_plusplus(X, 4, random_state=3)
    with Image.open(out) as gif:
        assert gif.size == (320, 240)
        assert gif.n_frames == _kmeans_from(X, centers0).n_iter_
        first = np.asarray(gif.convert("RGB"))
        gif.seek(gif.n_frames - 1)
        last = np.asarray(gif.convert("RGB"))
    assert len(np.unique(first.reshape(-1, 3), axis=0)) >= 5  # background, text, four clusters
    assert not np.array_equal(first, last)


def test_existing_gif_is_kept_unless_asked(tmp_path):
    out = tmp_path / "k.gif"
    out.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        animate_kmeans(_data(), 3, str(out))
    assert out.read_bytes() == b"keep"
    animate_kmeans(_data(), 3, str(out), overwrite=True, max_iter=2)
    assert out.read_bytes()[:3] == b"GIF"


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="n_clusters"):
        animate_kmeans(np.zeros((3, 2)), 5, str(tmp_path / "a.gif"))
    with pytest.raises(ValueError, match="projection"):
        animate_kmeans(_data(), 3, str(tmp_path / "a.gif"), projection="umap")
