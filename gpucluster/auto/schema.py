"""The schema of a search's summary.json, and a hand-written checker for it.

:data:`SUMMARY_SCHEMA` is a JSON-Schema (draft 2020-12) description of the
file, for readers and other tools; :func:`validate_summary` checks the same
rules without a jsonschema dependency and raises :class:`ResultsError` (a
``ValueError``) naming the first bad field (as a path such as
``candidates[3].scores.composite``).

Score fields: ``composite`` (the weighted sum, see :mod:`.scoring`),
``silhouette`` (mean coefficient on the shared sample, -1..1),
``balance`` (normalised entropy of cluster sizes, 0..1), ``noise_penalty``
(noise fraction, 0..1); optional ``ARI``, ``AMI``, ``V-measure``. Each is
null when not computed (a failed or skipped candidate, an undefined
silhouette).
"""

import numbers

SCHEMA_ID = "gpucluster.auto.summary/1"
STATUSES = ("ok", "failed", "skipped")
SCORE_NAMES = ("composite", "silhouette", "balance", "noise_penalty")
EXTERNAL_SCORE_NAMES = ("ARI", "AMI", "V-measure")
SHARED_TIMINGS = ("normalize", "pca", "knn", "silhouette_sample")
# Structures that several candidates of one algorithm share, present once one was
# built (older summaries have none; the search may add others of its own).
OPTIONAL_SHARED_TIMINGS = ("agglomerative_tree", "hdbscan_trees", "finch_partitions")
WEIGHT_NAMES = ("silhouette", "balance", "noise")

_number = {"type": "number"}
_nullable_number = {"type": ["number", "null"]}
_seconds = {"type": "number", "minimum": 0}

SUMMARY_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "gpucluster auto search summary",
    "type": "object",
    "required": ["schema", "created", "gpucluster", "data", "settings", "cut_short", "timings",
                 "weights", "candidates", "ranking"],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "created": {"type": "string", "description": "ISO 8601 time of writing, UTC"},
        "gpucluster": {"type": "string", "description": "version that wrote the file"},
        "data": {
            "type": "object",
            "required": ["n_samples", "n_features", "metric", "source"],
            "properties": {
                "n_samples": {"type": "integer", "minimum": 1},
                "n_features": {"type": "integer", "minimum": 1},
                "metric": {"enum": ["euclidean", "cosine"]},
                "source": {"type": ["string", "null"]},
            },
        },
        "settings": {"type": "object", "description": "every argument of search()"},
        "cut_short": {"type": "boolean"},
        "timings": {
            "type": "object",
            "required": ["shared", "search", "total"],
            "properties": {
                "shared": {"type": "object", "required": list(SHARED_TIMINGS),
                           "properties": {k: _seconds
                                          for k in SHARED_TIMINGS + OPTIONAL_SHARED_TIMINGS},
                           "additionalProperties": _seconds,
                           "description": "seconds of each piece built once for every "
                                          "candidate; in no candidate's seconds"},
                "search": _seconds,
                "total": _seconds,
            },
        },
        "weights": {"type": "object", "required": list(WEIGHT_NAMES),
                    "additionalProperties": {"type": "number", "minimum": 0}},
        "candidates": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "algorithm", "params", "status", "error", "n_clusters",
                             "noise_fraction", "seconds", "scores"],
                "properties": {
                    "id": {"type": "integer", "minimum": 0},
                    "algorithm": {"type": "string", "minLength": 1,
                                  "description": "letters, digits and '_' only: it is part "
                                                 "of a rank folder's name"},
                    "params": {"type": "object"},
                    "status": {"enum": list(STATUSES)},
                    "error": {"type": ["string", "null"]},
                    "n_clusters": {"type": "integer", "minimum": 0},
                    "noise_fraction": {"type": "number", "minimum": 0, "maximum": 1},
                    "seconds": {**_seconds,
                                "description": "its own fit and scoring, without the "
                                               "shared pieces (timings.shared) it read"},
                    "warnings": {"type": "array", "items": {"type": "string"},
                                 "description": "warnings its fit raised, one line each "
                                                "(present only when there were any)"},
                    "duplicate_of": {"type": "integer", "minimum": 0,
                                     "description": "a better-scored candidate with the same "
                                                    "partition; left out of the ranking"},
                    "scores": {
                        "type": "object",
                        "required": list(SCORE_NAMES),
                        "properties": {k: _nullable_number
                                       for k in SCORE_NAMES + EXTERNAL_SCORE_NAMES},
                    },
                },
            },
        },
        "ranking": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["rank", "candidate", "folder"],
                "properties": {
                    "rank": {"type": "integer", "minimum": 1},
                    "candidate": {"type": "integer", "minimum": 0},
                    "folder": {"type": "string", "pattern": "^rank_[0-9]{2,}_[A-Za-z0-9_]+$"},
                },
            },
        },
    },
}


class ResultsError(ValueError):
    """A results folder (summary.json, paths.json or a rank's labels.npy / info.json) that
    cannot be read; the message is one line and names the file."""


def is_algorithm_name(name):
    """True for a non-empty string of letters, digits and '_': the names that
    :func:`~gpucluster.auto.register_algorithm` accepts, safe inside a folder name."""
    return isinstance(name, str) and bool(name) and all(c.isalnum() or c == "_" for c in name)


def _fail(path, problem):
    raise ResultsError(f"summary.json: {path}: {problem}")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _object(value, path, required=()):
    if not isinstance(value, dict):
        _fail(path, f"expected an object, got {type(value).__name__}")
    for key in required:
        if key not in value:
            _fail(f"{path}.{key}", "missing")
    return value


def _check_int(value, path, minimum=None):
    if not _is_int(value):
        _fail(path, f"expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        _fail(path, f"expected >= {minimum}, got {value!r}")


def _check_number(value, path, minimum=None, maximum=None, nullable=False):
    if value is None and nullable:
        return
    if not _is_number(value):
        _fail(path, f"expected a number{' or null' if nullable else ''}, got {value!r}")
    if minimum is not None and value < minimum:
        _fail(path, f"expected >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        _fail(path, f"expected <= {maximum}, got {value!r}")


def _check_candidate(c, path):
    _object(c, path, SUMMARY_SCHEMA["properties"]["candidates"]["items"]["required"])
    _check_int(c["id"], f"{path}.id", 0)
    if not is_algorithm_name(c["algorithm"]):
        # It becomes part of a folder name: '/', '.' and the like would lead outside.
        _fail(f"{path}.algorithm", f"expected letters, digits and '_', got {c['algorithm']!r}")
    _object(c["params"], f"{path}.params")
    if c["status"] not in STATUSES:
        _fail(f"{path}.status", f"expected one of {STATUSES}, got {c['status']!r}")
    if c["error"] is not None and not isinstance(c["error"], str):
        _fail(f"{path}.error", f"expected a string or null, got {c['error']!r}")
    if "warnings" in c and not (isinstance(c["warnings"], list)
                                and all(isinstance(w, str) for w in c["warnings"])):
        _fail(f"{path}.warnings", f"expected a list of strings, got {c['warnings']!r}")
    _check_int(c["n_clusters"], f"{path}.n_clusters", 0)
    _check_number(c["noise_fraction"], f"{path}.noise_fraction", 0, 1)
    _check_number(c["seconds"], f"{path}.seconds", 0)
    scores = _object(c["scores"], f"{path}.scores", SCORE_NAMES)
    for key, value in scores.items():
        if key not in SCORE_NAMES + EXTERNAL_SCORE_NAMES:
            _fail(f"{path}.scores.{key}", "unknown score")
        _check_number(value, f"{path}.scores.{key}", nullable=True)
    if c["status"] == "ok" and scores["composite"] is None:
        _fail(f"{path}.scores.composite", "null for a candidate with status 'ok'")


def validate_summary(obj):
    """Check a parsed summary.json against :data:`SUMMARY_SCHEMA`; return it unchanged.

    Besides the types, ranks must be 1, 2, 3, ... and name existing
    candidates with status "ok", each once.

    Raises
    ------
    ResultsError
        A ``ValueError`` naming the first bad field, e.g.
        "summary.json: ranking[0].candidate: ...".
    """
    top = SUMMARY_SCHEMA["properties"]
    _object(obj, "$", SUMMARY_SCHEMA["required"])
    if obj["schema"] != SCHEMA_ID:
        _fail("schema", f"expected {SCHEMA_ID!r}, got {obj['schema']!r}")
    for key in ("created", "gpucluster"):
        if not isinstance(obj[key], str):
            _fail(key, f"expected a string, got {obj[key]!r}")
    data = _object(obj["data"], "data", top["data"]["required"])
    _check_int(data["n_samples"], "data.n_samples", 1)
    _check_int(data["n_features"], "data.n_features", 1)
    if data["metric"] not in ("euclidean", "cosine"):
        _fail("data.metric", f"expected 'euclidean' or 'cosine', got {data['metric']!r}")
    if data["source"] is not None and not isinstance(data["source"], str):
        _fail("data.source", f"expected a string or null, got {data['source']!r}")
    _object(obj["settings"], "settings")
    if not isinstance(obj["cut_short"], bool):
        _fail("cut_short", f"expected true or false, got {obj['cut_short']!r}")
    timings = _object(obj["timings"], "timings", ("shared", "search", "total"))
    shared = _object(timings["shared"], "timings.shared", SHARED_TIMINGS)
    for key, value in shared.items():
        _check_number(value, f"timings.shared.{key}", 0)
    _check_number(timings["search"], "timings.search", 0)
    _check_number(timings["total"], "timings.total", 0)
    weights = _object(obj["weights"], "weights", WEIGHT_NAMES)
    for key, value in weights.items():
        if key not in WEIGHT_NAMES + EXTERNAL_SCORE_NAMES:
            _fail(f"weights.{key}", "unknown weight")
        _check_number(value, f"weights.{key}", 0)
    if not isinstance(obj["candidates"], list):
        _fail("candidates", "expected an array")
    by_id = {}
    for i, candidate in enumerate(obj["candidates"]):
        _check_candidate(candidate, f"candidates[{i}]")
        if candidate["id"] in by_id:
            _fail(f"candidates[{i}].id", f"duplicate id {candidate['id']}")
        by_id[candidate["id"]] = candidate
    if not isinstance(obj["ranking"], list):
        _fail("ranking", "expected an array")
    seen = set()
    for i, entry in enumerate(obj["ranking"]):
        path = f"ranking[{i}]"
        _object(entry, path, ("rank", "candidate", "folder"))
        _check_int(entry["rank"], f"{path}.rank", 1)
        if entry["rank"] != i + 1:
            _fail(f"{path}.rank", f"expected {i + 1}, got {entry['rank']}")
        _check_int(entry["candidate"], f"{path}.candidate", 0)
        candidate = by_id.get(entry["candidate"])
        if candidate is None:
            _fail(f"{path}.candidate", f"no candidate with id {entry['candidate']}")
        if candidate["status"] != "ok":
            _fail(f"{path}.candidate", f"candidate {entry['candidate']} has status "
                                       f"{candidate['status']!r}, not 'ok'")
        if entry["candidate"] in seen:
            _fail(f"{path}.candidate", f"candidate {entry['candidate']} ranked twice")
        seen.add(entry["candidate"])
        expected = rank_folder(entry["rank"], candidate["algorithm"])
        if entry["folder"] != expected:
            _fail(f"{path}.folder", f"expected {expected!r}, got {entry['folder']!r}")
    return obj


def rank_folder(rank, algorithm):
    """The folder name of a ranked result: ``rank_01_kmeans``."""
    return f"rank_{rank:02d}_{algorithm}"
