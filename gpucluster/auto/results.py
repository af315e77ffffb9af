"""A search's result in memory (:class:`SearchResult`) and on disk (no pickle).

Folder layout written by :meth:`SearchResult.save`::

    OUT/summary.json                 the summary (schema in :mod:`.schema`)
    OUT/paths.json                   the path of each row, when given
    OUT/rank_01_<algorithm>/labels.npy   int64 (n_samples,), -1 = noise
    OUT/rank_01_<algorithm>/info.json    rank, candidate, params, sizes, scores
    ...

Every file goes through a temporary name and ``os.replace``.
"""

import datetime
import json
import math
import os
import shutil
import textwrap

import numpy as np

from .. import _format as fmt
from .._files import atomic_write

from .inputs import load_labels
from .schema import SCHEMA_ID, ResultsError, rank_folder, validate_summary

SUMMARY_FILE = "summary.json"
PATHS_FILE = "paths.json"


# Composites closer than this to the best are "nearly tied": the silhouette
# component is measured on a sample of at most 10,000 rows, whose error moves
# the composite by about this much.
TIE_MARGIN = 0.005


def near_tie_ranks(composites, margin=TIE_MARGIN):
    """Ranks (2, 3, ...) whose composite, in ``composites`` (rank 1 first), is within
    ``margin`` of rank 1's."""
    if not composites:
        return []
    return [rank for rank, composite in enumerate(composites[1:], start=2)
            if composites[0] - composite <= margin]


def tie_note(ranks):
    """The sentence naming the ``ranks`` nearly tied with rank 1 (see ``near_ties``)."""
    return (f"Nearly tied: {fmt.word(len(ranks), 'rank')} {', '.join(map(str, ranks))} "
            f"within {TIE_MARGIN} composite of rank 1, about the error of the silhouette "
            "sample; look at those groupings too.")


# The table's note on a warned rank shows its first warning cut to this many
# characters (summary.json keeps every line whole).
WARNING_CHARS = 100
# The table's "Shared" line leaves out pieces quicker than this (normalising
# float32 rows takes microseconds); summary.json keeps every value.
SHARED_SHOWN_MIN_SECONDS = 0.001
# How the table names the shared pieces of ``timings["shared"]`` (others: their key).
SHARED_LABELS = {"normalize": "normalize", "pca": "PCA", "knn": "kNN graph",
                 "silhouette_sample": "silhouette sample",
                 "agglomerative_tree": "agglomerative tree", "hdbscan_trees": "HDBSCAN trees",
                 "finch_partitions": "FINCH partitions"}


def shared_label(key):
    """How the table and the report name a piece of ``timings["shared"]``."""
    return SHARED_LABELS.get(key, key.replace("_", " "))


def warned_note(rank, candidate):
    """The line saying that the candidate at ``rank`` warned, and its first warning
    (shortened to ``WARNING_CHARS``); None when it raised none."""
    lines = candidate.get("warnings") or ()
    if not lines:
        return None
    first = textwrap.shorten(lines[0], WARNING_CHARS, placeholder=" ...")
    more = f" (+{len(lines) - 1} more in summary.json)" if len(lines) > 1 else ""
    return f"Rank {rank} ({candidate['algorithm']}) warned: {first}{more}"


def shared_note(shared_timings):
    """The line naming the pieces built once for every candidate and their seconds,
    which no row's time includes; None when none took ``SHARED_SHOWN_MIN_SECONDS``."""
    shown = [f"{shared_label(key)} {fmt.duration(seconds)}"
             for key, seconds in (shared_timings or {}).items()
             if seconds >= SHARED_SHOWN_MIN_SECONDS]
    if not shown:
        return None
    return "Shared (built once, in no row's time): " + ", ".join(shown)


def _jsonable(value):
    """A copy of value made of JSON types; NumPy scalars become Python ones, NaN/inf null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _write_json(path, obj):
    text = json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def _write_labels(path, labels):
    atomic_write(path, lambda handle: np.save(handle, np.asarray(labels, dtype=np.int64),
                                               allow_pickle=False))


def cluster_sizes(labels):
    """{label: count} of the labels >= 0, as str keys (JSON), and the noise count."""
    labels = np.asarray(labels)
    values, counts = np.unique(labels[labels >= 0], return_counts=True)
    sizes = {str(int(v)): int(c) for v, c in zip(values, counts)}
    return sizes, int(np.count_nonzero(labels < 0))


def _ours(name):
    return name in (SUMMARY_FILE, PATHS_FILE) or name.startswith("rank_")


class SearchResult:
    """What :func:`~gpucluster.auto.search` found.

    Attributes
    ----------
    candidates : list of dict
        One record per candidate tried (see ``schema.SUMMARY_SCHEMA``).
    ranking : list of int
        Candidate ids, best first (at most ``top``), status "ok" only.
    cut_short : bool
        True when the time budget stopped the search early.
    data, settings, timings, weights : dict
        As in summary.json.
    """

    def __init__(self, *, candidates, ranking, cut_short, data, settings, timings, weights,
                 labels_by_candidate):
        self.candidates = candidates
        self.ranking = ranking
        self.cut_short = cut_short
        self.data = data
        self.settings = settings
        self.timings = timings
        self.weights = weights
        self._labels = labels_by_candidate

    def __repr__(self):
        best = self.candidates[self.ranking[0]] if self.ranking else None
        text = f"best {best['algorithm']} ({fmt.params(best['params'])})" if best else "nothing ranked"
        return (f"SearchResult({fmt.counted(len(self.candidates), 'candidate')}, "
                f"{len(self.ranking)} ranked, "
                f"{text}, cut_short={self.cut_short})")

    def candidate(self, rank):
        """The candidate record at ``rank`` (1 = best)."""
        if not 1 <= rank <= len(self.ranking):
            raise ValueError(f"rank must be in 1..{len(self.ranking)}, got {rank!r}.")
        return self.candidates[self.ranking[rank - 1]]

    def labels(self, rank=1):
        """Labels (n_samples,) int64 NumPy of the result at ``rank`` (1 = best); -1 = noise."""
        return self._labels[self.candidate(rank)["id"]].copy()

    def best_labels(self):
        """Labels of the best-ranked candidate (``labels(1)``).

        Raises
        ------
        ValueError
            When no candidate was ranked (all failed, skipped, or none ran).
        """
        if not self.ranking:
            raise ValueError("No candidate was ranked: every one failed or was skipped; see "
                             "result.candidates for the reasons.")
        return self.labels(1)

    def summary(self):
        """The summary.json content as a dict (JSON types only)."""
        from .._version import __version__

        ranking = [{"rank": i + 1, "candidate": cid,
                    "folder": rank_folder(i + 1, self.candidates[cid]["algorithm"])}
                   for i, cid in enumerate(self.ranking)]
        return _jsonable({
            "schema": SCHEMA_ID,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "gpucluster": __version__,
            "data": self.data,
            "settings": self.settings,
            "cut_short": self.cut_short,
            "timings": self.timings,
            "weights": self.weights,
            "candidates": self.candidates,
            "ranking": ranking,
        })

    def near_ties(self, margin=TIE_MARGIN):
        """Ranks (2, 3, ...) whose composite is within ``margin`` of rank 1's: results the
        scores cannot tell apart from the best (about the silhouette sample's error)."""
        return near_tie_ranks([self.candidate(rank)["scores"]["composite"]
                               for rank in range(1, len(self.ranking) + 1)], margin)

    def table(self):
        """The ranking as a plain-text table (one line per ranked candidate), then a line
        naming the runners-up that are nearly tied with rank 1, one line per ranked
        candidate whose fit warned (:func:`warned_note`) and one with the seconds of the
        shared pieces, which the rows' times leave out (:func:`shared_note`).

        Scores read at three decimals, noise as a percentage, the time
        rounded and the parameters as ``name=value`` (:mod:`gpucluster._format`).
        """
        extra = [k for k in ("ARI", "AMI", "V-measure")
                 if self.ranking and k in self.candidates[self.ranking[0]]["scores"]]
        # The time column fits the longest duration text, "0.000805 s".
        header = (f"{'rank':>4}  {'algorithm':<17} {'k':>5} {'noise':>7} {'composite':>9} "
                  f"{'silhouette':>10} {'balance':>7}" + "".join(f" {k:>9}" for k in extra)
                  + f" {'time':>10}  parameters")
        lines = [header, "-" * len(header)]
        for rank in range(1, len(self.ranking) + 1):
            c = self.candidate(rank)
            s = c["scores"]
            lines.append(
                f"{rank:>4}  {c['algorithm']:<17} {c['n_clusters']:>5} "
                f"{fmt.percent(c['noise_fraction']):>7} {fmt.score(s['composite']):>9} "
                f"{fmt.score(s['silhouette']):>10} {fmt.score(s['balance']):>7}"
                + "".join(f" {fmt.score(s[k]):>9}" for k in extra)
                + f" {fmt.duration(c['seconds']):>10}  {fmt.params(c['params'])}")
        ties = self.near_ties()
        if ties:
            lines.append(tie_note(ties))
        notes = [warned_note(rank, self.candidate(rank))
                 for rank in range(1, len(self.ranking) + 1)]
        notes.append(shared_note(self.timings.get("shared")))
        lines.extend(note for note in notes if note)
        return "\n".join(lines)

    def save(self, out, *, overwrite=False, paths=None):
        """Write the results folder ``out`` (layout in the module docstring); return its path.

        Parameters
        ----------
        out : str or path
            Created if missing.
        overwrite : bool
            An existing non-empty ``out`` raises FileExistsError unless True;
            then only summary.json, paths.json and rank_* folders are replaced,
            other files are left alone.
        paths : list of str or None
            The path of each row (images), written to paths.json.

        Raises
        ------
        FileExistsError
            ``out`` exists, is not empty and ``overwrite`` is False.
        ValueError
            ``paths`` has the wrong length or non-string entries.
        """
        out = os.path.abspath(os.fspath(out))
        n_samples = self.data["n_samples"]
        if paths is not None:
            paths = list(paths)
            if len(paths) != n_samples or not all(isinstance(p, str) for p in paths):
                raise ValueError(f"paths must be {fmt.counted(n_samples, 'string')} (one per "
                                 f"row), got {fmt.counted(len(paths), 'entry', 'entries')}.")
        summary = validate_summary(self.summary())
        if os.path.exists(out) and not os.path.isdir(out):
            raise FileExistsError(f"{out} exists and is not a folder.")
        if os.path.isdir(out) and os.listdir(out):
            if not overwrite:
                raise FileExistsError(
                    f"{out} is not empty; choose another folder or pass overwrite=True "
                    "(--overwrite), which replaces summary.json, paths.json and rank_* folders."
                )
            for name in os.listdir(out):
                full = os.path.join(out, name)
                if not _ours(name):
                    continue
                if os.path.isdir(full) and not os.path.islink(full):
                    shutil.rmtree(full)
                else:
                    os.unlink(full)
        os.makedirs(out, exist_ok=True)
        for entry in summary["ranking"]:
            candidate = self.candidates[entry["candidate"]]
            folder = os.path.join(out, entry["folder"])
            os.makedirs(folder, exist_ok=True)
            labels = self._labels[candidate["id"]]
            sizes, noise = cluster_sizes(labels)
            _write_labels(os.path.join(folder, "labels.npy"), labels)
            _write_json(os.path.join(folder, "info.json"), {
                "rank": entry["rank"], "candidate": candidate["id"],
                "algorithm": candidate["algorithm"], "params": candidate["params"],
                "n_clusters": candidate["n_clusters"], "sizes": sizes, "noise": noise,
                "scores": candidate["scores"], "seconds": candidate["seconds"],
            })
        if paths is not None:
            _write_json(os.path.join(out, PATHS_FILE), paths)
        # summary.json goes last: a folder with it is complete.
        _write_json(os.path.join(out, SUMMARY_FILE), summary)
        return out


def _refuse_constant(name):
    raise ValueError(f"{name} is not allowed (results files hold finite numbers or null)")


def _read_json(path):
    """The parsed JSON file at ``path``; :class:`ResultsError` naming it when it is not
    JSON (random bytes, NaN, nesting too deep for the parser) or cannot be read."""
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"), parse_constant=_refuse_constant)
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing from the results folder.") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    except UnicodeDecodeError:
        raise ResultsError(f"{path}: not valid JSON (not UTF-8 text).") from None
    except RecursionError:
        raise ResultsError(f"{path}: not valid JSON (nested too deeply).") from None
    except ValueError as exc:
        raise ResultsError(f"{path}: not valid JSON ({' '.join(str(exc).split())}).") from None


class LoadedResult(dict):
    """A parsed, validated summary.json (a dict) with helpers to read the folder.

    Every problem with the folder's files raises :class:`ResultsError` (a ValueError)
    whose one-line message names the file.
    """

    def __init__(self, summary, folder):
        super().__init__(summary)
        self.folder = folder

    def _rank_file(self, rank, name):
        ranking = self["ranking"]
        if not 1 <= rank <= len(ranking):
            raise ValueError(f"rank must be in 1..{len(ranking)}, got {rank!r}.")
        folder = ranking[rank - 1]["folder"]
        # validate_summary already allows only rank_NN_<letters, digits, _>; checked again
        # here because a LoadedResult is a mutable dict, and a name with a separator or
        # '..' would read from outside the results folder.
        if not isinstance(folder, str) or os.path.basename(folder) != folder \
                or folder in ("", ".", ".."):
            raise ResultsError(f"{os.path.join(self.folder, SUMMARY_FILE)}: ranking[{rank - 1}]"
                               f".folder: {folder!r} is not a folder name inside the results "
                               "folder.")
        return os.path.join(self.folder, folder, name)

    def labels(self, rank=1):
        """Labels (n_samples,) int64 of the result at ``rank`` (1 = best).

        Raises
        ------
        ResultsError
            labels.npy is missing, not a plain .npy file, not 1-D integers >= -1, or
            not one label per row (``data.n_samples`` of the summary).
        """
        path = self._rank_file(rank, "labels.npy")
        try:
            labels = load_labels(path, n_samples=self["data"]["n_samples"])
        except FileNotFoundError:
            raise ResultsError(f"{path}: missing from the results folder.") from None
        except OSError as exc:
            raise ResultsError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
        except ValueError as exc:
            raise ResultsError(str(exc)) from None
        if labels.size and labels.min() < -1:
            raise ResultsError(f"{path}: labels must be >= -1 (-1 = noise), found "
                               f"{int(labels.min())}.")
        return labels

    def info(self, rank=1):
        """The info.json of the result at ``rank``, parsed."""
        path = self._rank_file(rank, "info.json")
        info = _read_json(path)
        if not isinstance(info, dict):
            raise ResultsError(f"{path}: expected a JSON object, got {type(info).__name__}.")
        return info

    def paths(self):
        """The row paths from paths.json, or None when the folder has none."""
        path = os.path.join(self.folder, PATHS_FILE)
        if not os.path.exists(path):
            return None
        paths = _read_json(path)
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ResultsError(f"{path}: expected a JSON list of path strings.")
        n_samples = self["data"]["n_samples"]
        if len(paths) != n_samples:
            raise ResultsError(f"{path}: {fmt.counted(len(paths), 'path')} for "
                               f"{fmt.counted(n_samples, 'row')} of data.")
        return paths


def load_result(out):
    """Read a results folder: its summary.json, validated, as a :class:`LoadedResult`.

    ``result.labels(rank)`` reads rank_NN_*/labels.npy (no pickle),
    ``result.info(rank)`` its info.json, ``result.paths()`` paths.json.

    Raises
    ------
    FileNotFoundError
        No summary.json in ``out``.
    ResultsError
        A ``ValueError``: summary.json is not valid JSON or does not follow the schema;
        the one-line message names the file.
    """
    out = os.path.abspath(os.fspath(out))
    path = os.path.join(out, SUMMARY_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No {SUMMARY_FILE} in {out}: not a search results folder.")
    summary = _read_json(path)
    try:
        validate_summary(summary)
    except ResultsError as exc:
        # validate_summary names the file "summary.json"; here its full path is known.
        raise ResultsError(f"{path}: {str(exc).removeprefix(SUMMARY_FILE + ': ')}") from None
    return LoadedResult(summary, out)
