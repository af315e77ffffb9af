"""write_report(): contents, relative lazy thumbnails, offline, size at 50,000 images."""

import json
import os
import re
import urllib.parse

import numpy as np
import pytest

from gpucluster.report import organize, write_report

from ._results import make_images, summary_for, write_image


def _report(tmp_path, **kw):
    photos = make_images(str(tmp_path / "photos"), 12)
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, -1, -1, 0])
    X = np.random.default_rng(0).normal(size=(12, 6)).astype(np.float32) + labels[:, None]
    args = dict(summary=summary_for([labels, labels]), labels=labels, paths=photos, embeddings=X,
                failures=[(str(tmp_path / "broken.jpg"), "truncated")], names={1: "red <cars>"})
    args.update(kw)
    gallery = str(tmp_path / "gallery")
    return gallery, labels, photos, write_report(gallery, **args)


def test_report_shows_settings_ranking_clusters_and_failures(tmp_path):
    gallery, labels, photos, path = _report(tmp_path)
    assert path == os.path.join(os.path.realpath(gallery), "report.html")
    page = open(path, encoding="utf-8").read()
    assert page.count("<section class=cluster") == 4  # three clusters and the noise
    assert page.count('data-label="-1"') == 1
    assert "red &lt;cars&gt;" in page and "<cars>" not in page  # names shown, escaped
    assert "broken.jpg" in page and "truncated" in page
    assert "<th>top</th><td>2</td>" in page and "silhouette sample" in page  # settings, timings
    assert page.count("<tr class=shown>") == 1 and "kmeans" in page and "hdbscan" in page
    assert "1 failed" in page
    assert '<svg' in page and 'id=projection' in page and 'id=points' in page


def test_thumbnails_are_lazy_relative_and_exist(tmp_path):
    gallery, labels, photos, path = _report(tmp_path)
    page = open(path, encoding="utf-8").read()
    sources = re.findall(r'<img loading=lazy src="([^"]+)"', page)
    assert len(sources) == len(photos)
    for src in sources:
        assert not src.startswith(("/", "file:"))
        assert os.path.isfile(os.path.join(os.path.dirname(path), urllib.parse.unquote(src)))
    assert "<a href=" not in page.split("<section", 1)[1].split("</section>")[0]  # no gallery folders yet


def test_cluster_folders_are_linked_after_organize(tmp_path):
    photos = make_images(str(tmp_path / "photos"), 4)
    labels = np.array([0, 0, 1, 1])
    gallery = str(tmp_path / "gallery")
    organize(labels, photos, gallery, names={1: "sky"})
    page = open(write_report(gallery, labels=labels, paths=photos, names={1: "sky"}), encoding="utf-8").read()
    assert 'href="cluster_001_n2_sky/"' in page
    hrefs = re.findall(r'<a href="(cluster_[^"]+\.jpg)"', page)
    assert len(hrefs) == len(photos)  # every thumbnail links to its file in the gallery
    for href in hrefs:
        assert os.path.isfile(os.path.join(gallery, urllib.parse.unquote(href)))


def test_report_is_not_overwritten_unless_asked(tmp_path):
    gallery, labels, photos, path = _report(tmp_path)
    with pytest.raises(FileExistsError, match="overwrite"):
        write_report(gallery, labels=labels, paths=photos)
    write_report(gallery, labels=labels, paths=photos, overwrite=True)
    assert "id=projection" not in open(path, encoding="utf-8").read()


def test_mismatched_rows_are_refused(tmp_path):
    with pytest.raises(ValueError, match="row for row"):
        write_report(str(tmp_path), labels=np.zeros(3, dtype=int), paths=["a.jpg"])
    with pytest.raises(ValueError, match="embeddings"):
        write_report(str(tmp_path), labels=np.zeros(3, dtype=int), embeddings=np.zeros((2, 4)))


def test_one_path_for_two_labels_is_counted_in_the_singular(tmp_path):
    with pytest.raises(ValueError, match="^1 path for 2 labels: they must match row for row"):
        write_report(str(tmp_path), labels=np.zeros(2, dtype=int), paths=["a.jpg"])
    with pytest.raises(ValueError, match="^2 paths for 1 label: they must match row for row"):
        write_report(str(tmp_path), labels=np.zeros(1, dtype=int), paths=["a.jpg", "b.jpg"])


def test_a_report_of_one_row_counts_one_group_and_one_embedding(tmp_path):
    page = open(write_report(str(tmp_path), labels=np.array([0]),
                             embeddings=np.ones((1, 4), np.float32)), encoding="utf-8").read()
    assert "1 group, largest first" in page
    assert "1 of 1 embedding</div>" in page


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory):
    """50,000 distinct readable image paths, made quickly as hard links to one JPEG."""
    tmp_path = tmp_path_factory.mktemp("many")
    source = write_image(str(tmp_path / "one.jpg"), size=(16, 12))
    folder = tmp_path / "photos" / "2024" / "a long holiday folder name"
    folder.mkdir(parents=True)
    paths = []
    for i in range(50_000):
        path = str(folder / f"IMG_2024_{i:06d}_holiday.jpg")
        os.link(source, path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("k", [200, 5000], ids=["200-clusters", "5000-clusters"])
def test_page_stays_under_2_mb_at_50000_images(tmp_path, many_photos, k):
    n = len(many_photos)
    rng = np.random.default_rng(0)
    labels = rng.integers(-1, k, size=n)
    labels[:k] = np.arange(k)
    X = rng.normal(size=(n, 16)).astype(np.float32)
    failures = [(f"/photos/broken_{i}.jpg", "truncated") for i in range(2000)]
    names = {i: f"zero-shot name {i}" for i in range(k)}
    path = write_report(str(tmp_path / "gallery"), summary=summary_for([labels]), labels=labels,
                        paths=many_photos, embeddings=X, failures=failures, names=names)
    size = os.path.getsize(path)
    page = open(path, encoding="utf-8").read()
    assert size < 2 * 2**20, f"report.html is {size} bytes"
    assert page.count("<section class=cluster") == k + 1
    assert 0 < page.count("<img ") <= 4000
    assert "http://" not in page and "https://" not in page
    points = json.loads(re.search(r'id=points>(.*?)</script>', page).group(1))
    assert len(points["x"]) == len(points["y"]) == len(points["c"]) == 20_000
    assert len(points["colors"]) == k + 1


def test_report_reads_as_numbers_for_people_not_json(tmp_path):
    """Parameters as name=value, 3 significant figures, noise in %, the data as a table,
    only the settings that were set, rounded timings and the ranking criterion."""
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, -1, -1, 0])
    summary = summary_for([labels, labels], settings={
        "mode": "fast", "top": 2, "weights": "default", "random_state": 3, "device": "auto",
        "labels_given": False, "time_budget": None, "algorithms_searched": ["kmeans", "hdbscan"],
        "seed": 3})
    summary["data"].update(compute_device="cpu", reduced_dims=64, silhouette_sample=12,
                           normalized=True, seed=3)
    summary["candidates"][0]["params"] = {"min_cluster_size": 6, "eps": 0.123456,
                                          "random_state": 0}
    summary["candidates"][0]["noise_fraction"] = 2 / 12
    summary["timings"]["total"] = 125.4
    summary["timings"]["shared"]["hdbscan_trees"] = 0.5
    summary["weights"] = {"silhouette": 0.8, "balance": 0.0, "noise": 0.2}
    path = write_report(str(tmp_path / "gallery"), summary=summary, labels=labels)
    page = open(path, encoding="utf-8").read()
    assert "<td>min_cluster_size=6, eps=0.123</td>" in page
    assert "{&quot;" not in page and "random_state=0" not in page
    assert "<td class=n>16.7 %</td>" in page and "2 noise (16.7 %)" in page
    assert ("<tr><th>n (rows)</th><th>d (features)</th><th>metric</th><th>compute device</th>"
            "<th>reduced dims</th></tr><tr><td>12</td><td>8</td><td>cosine</td><td>cpu</td>"
            "<td>64</td></tr>") in page
    assert "\u2026" not in page and "silhouette_sample" not in page
    settings = page[page.index("<h2>Settings</h2>"):page.index("<h2>Timings</h2>")]
    assert "<th>top</th><td>2</td>" in settings and "<th>random_state</th><td>3</td>" in settings
    for default in ("mode", "weights", "device", "time_budget", "labels", "algorithms_searched"):
        assert f"<th>{default}</th>" not in settings
    assert "<th>total</th><td>2 min 5 s</td>" in page
    # The shared pieces take the terminal table's names ("kNN graph", not "knn").
    assert "kNN graph 0.03 s" in page and "HDBSCAN trees" in page and "hdbscan trees" not in page
    assert 'Ranked by composite = 0.8 x (silhouette + 1) / 2 + 0.2 x (1 - noise fraction) ' \
        '(preset &quot;default&quot;)' in page


def test_report_names_the_runners_up_nearly_tied_with_rank_one(tmp_path):
    from gpucluster.auto.results import TIE_MARGIN

    labels = np.array([0, 0, 1, 1, 2, 2])
    summary = summary_for([labels] * 3)
    for candidate, composite in zip(summary["candidates"], (0.70, 0.70 - TIE_MARGIN / 2, 0.6)):
        candidate["scores"]["composite"] = composite
    page = open(write_report(str(tmp_path / "tied"), summary=summary, labels=labels),
                encoding="utf-8").read()
    assert "Nearly tied with rank 1:</b> rank 2: hdbscan (n_clusters=3), 3 clusters." in page
    assert "rank 3:" not in page

    summary["candidates"][1]["scores"]["composite"] = 0.70 - 2 * TIE_MARGIN
    page = open(write_report(str(tmp_path / "apart"), summary=summary, labels=labels),
                encoding="utf-8").read()
    assert "Nearly tied" not in page


def test_report_shows_the_warnings_of_ranked_candidates(tmp_path):
    labels = np.array([0, 0, 1, 1, 2, 2])
    summary = summary_for([labels] * 2)
    summary["candidates"][1]["warnings"] = [
        "ConvergenceWarning: Number of distinct clusters (3) found smaller than n_clusters (4)."]
    page = open(write_report(str(tmp_path / "warned"), summary=summary, labels=labels),
                encoding="utf-8").read()
    assert page.count(" warned: ") == 1
    assert ("Rank 2 (hdbscan, n_clusters=3) warned: ConvergenceWarning: Number of distinct "
            "clusters (3)") in page

    del summary["candidates"][1]["warnings"]
    page = open(write_report(str(tmp_path / "quiet"), summary=summary, labels=labels),
                encoding="utf-8").read()
    assert " warned: " not in page


def test_file_names_that_are_not_utf8_are_shown_escaped(tmp_path):
    photos = make_images(str(tmp_path / "photos"), 4)
    raw = os.path.join(os.fsencode(tmp_path / "photos"), b"x\xe9.jpg")
    try:
        os.rename(os.fsencode(photos[0]), raw)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses file names that are not valid UTF-8")
    photos[0] = os.fsdecode(raw)
    labels = np.array([0, 0, 1, 1])
    failures = [(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"y\xff.png")), "not an image")]
    path = write_report(str(tmp_path / "gallery"), labels=labels, paths=photos, failures=failures)
    page = open(path, encoding="utf-8").read()
    assert 'title="x\\xe9.jpg"' in page
    assert "y\\xff.png" in page
