"""Zero-shot cluster names with the CLIP text tower (the tiny model, offline)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

from gpucluster.embed.models import from_module  # noqa: E402
from gpucluster.embed.naming import (  # noqa: E402
    DEFAULT_TEMPLATES, cluster_centroids, name_clusters, text_embeddings,
)

LABELS = ["dog", "cat", "car", "tree", "boat"]


def _text(model, texts):
    with torch.inference_mode():
        return model.encode_text(texts).numpy()


def test_centroid_at_a_prompt_names_its_label_first(tiny):
    centroids = _text(tiny, ["a photo of a cat.", "a photo of a car."])
    names = name_clusters(centroids, LABELS, tiny, templates=("a photo of a {}.",), top=3)
    assert [row[0][0] for row in names] == ["cat", "car"]
    for row in names:
        scores = [s for _, s in row]
        assert len(row) == 3 and scores == sorted(scores, reverse=True)
        assert 0 < sum(scores) <= 1 + 1e-9


def test_default_templates_are_averaged(tiny):
    # The centroid is the template-averaged embedding of "tree", scaled (norm
    # does not matter); a single template would give another direction.
    T = text_embeddings(LABELS, tiny)
    names = name_clusters(3.0 * T[[3, 0]], LABELS, tiny)
    assert [row[0][0] for row in names] == ["tree", "dog"]
    single = text_embeddings(["tree"], tiny, templates=DEFAULT_TEMPLATES[:1])
    assert not np.allclose(single[0], T[3], atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(T, axis=1), 1.0, rtol=1e-5)


def test_scores_are_a_softmax_over_all_labels(tiny):
    centroids = _text(tiny, ["a photo of a boat."])
    full = name_clusters(centroids, LABELS, tiny, top=len(LABELS))
    assert sum(s for _, s in full[0]) == pytest.approx(1.0)
    assert [n for n, _ in full[0]][:2] == [n for n, _ in name_clusters(centroids, LABELS, tiny, top=2)[0]]
    assert len(name_clusters(centroids, LABELS, tiny, top=50)[0]) == len(LABELS)


def test_model_without_text_tower_is_a_clear_error():
    model = from_module(torch.nn.Flatten(), image_size=4, mean=(0,) * 3, std=(1,) * 3)
    with pytest.raises(ValueError, match="no text tower"):
        name_clusters(np.ones((2, 48), dtype=np.float32), LABELS, model)


def test_dimension_mismatch_and_bad_arguments(tiny):
    with pytest.raises(ValueError, match="same model"):
        name_clusters(np.ones((2, 10), dtype=np.float32), LABELS, tiny)
    with pytest.raises(ValueError, match="^centroids have 1 feature but the text embeddings"):
        name_clusters(np.ones((2, 1), dtype=np.float32), LABELS, tiny)
    with pytest.raises(ValueError, match="placeholder"):
        name_clusters(np.ones((1, 64), dtype=np.float32), LABELS, tiny, templates=("a photo",))
    with pytest.raises(ValueError, match="top"):
        name_clusters(np.ones((1, 64), dtype=np.float32), LABELS, tiny, top=0)
    with pytest.raises(TypeError, match="single string"):
        name_clusters(np.ones((1, 64), dtype=np.float32), "cat", tiny)
    with pytest.raises(ValueError, match="NaN"):
        name_clusters(np.full((1, 64), np.nan, dtype=np.float32), LABELS, tiny)


def test_cluster_centroids_average_members_and_skip_noise():
    X = np.array([[1, 0], [3, 0], [0, 2], [0, 4], [9, 9]], dtype=np.float32)
    labels = np.array([5, 5, 2, 2, -1])
    centroids, ids = cluster_centroids(X, labels)
    np.testing.assert_array_equal(ids, [2, 5])
    np.testing.assert_allclose(centroids, [[0, 3], [2, 0]])
    with pytest.raises(ValueError, match="no cluster"):
        cluster_centroids(X, np.full(5, -1))
