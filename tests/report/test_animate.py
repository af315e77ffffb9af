"""animate_kmeans(): one GIF frame per Lloyd iteration, ending on KMeans's assignment."""

import numpy as np
import pytest

from gpucluster import KMeans, kmeans_plusplus
from gpucluster.report import animate_kmeans
from gpucluster.report.animate import lloyd_history


def _data():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0, 0, 0], [6, 6, 0, 0], [0, 6, 6, 0], [6, 0, 0, 6]], dtype=float)
    return np.vstack([c + rng.normal(scale=1.6, size=(60, 4)) for c in centres])


def test_last_iteration_matches_kmeans_from_the_same_seeds():
    X = _data()
    centers0, _ = kmeans_plusplus(X, 4, random_state=3)
    history = lloyd_history(X, centers0, max_iter=50)
    km = KMeans(4, init=np.asarray(centers0), n_init=1, max_iter=50, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(history[-1]["labels"], km.labels_)
    np.testing.assert_allclose(history[-1]["centers"], km.cluster_centers_, rtol=1e-6, atol=1e-9)
    assert len(history) >= 2  # assignments changed at least once on this case
    assert history[-1]["inertia"] <= history[0]["inertia"]


def test_gif_has_one_frame_per_iteration(tmp_path):
    from PIL import Image

    X = _data()
    out = str(tmp_path / "kmeans.gif")
    assert animate_kmeans(X, 4, out, max_iter=50, random_state=3, size=(320, 240)) == out
    centers0, _ = kmeans_plusplus(X, 4, random_state=3)
    iterations = len(lloyd_history(X, centers0, max_iter=50))
    with Image.open(out) as gif:
        assert gif.size == (320, 240)
        assert gif.n_frames == iterations
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
