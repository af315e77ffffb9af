"""`gpucluster segment`, with `--auto`: the segment command's arguments plus the tuning search.

The command itself lives in ``segment/_command.py``; the search is in this
layer (``auto.segmentation``), so the command is registered from here.
"""

from .._arguments import one_of, positive_int
from ..segment import _command as segment_command
from .scoring import PRESETS
from .segmentation import DEFAULT_FEATURE_SETS, DEFAULT_N_SEGMENTS, SEARCHES, search_segmentation

_SEARCH_TOP = 10
# The tuning options by argparse dest; each defaults to None, so that one given
# without --auto can be told apart and refused.
_TUNING_OPTIONS = {"try_features": "--try-features", "try_n_segments": "--try-n-segments",
                   "try_algorithms": "--try-algorithms", "search": "--search",
                   "n_trials": "--n-trials", "ranking": "--ranking"}
_DEFAULT_SEARCH = "grid"
_DEFAULT_N_TRIALS = 20
_DEFAULT_RANKING = "default"


def _feature_set(text):
    """"lab xy" or "lab,xy" -> ("lab", "xy")."""
    return tuple(part for part in text.replace(",", " ").split() if part)


def check_tuning_options(args):
    """ValueError for a tuning option given without --auto (it would do nothing), for
    --n-segments / --features beside their --try-* lists under --auto (one value tried, or
    a list: which?) and for --n-trials without --search optuna (the grid tries every
    combination)."""
    given = [flag for dest, flag in _TUNING_OPTIONS.items() if getattr(args, dest) is not None]
    if given and not args.auto:
        several = len(given) > 1
        raise ValueError(f"{', '.join(given)}: {'tuning options' if several else 'a tuning option'}"
                         f", used only with --auto; add --auto or leave "
                         f"{'them' if several else 'it'} out.")
    for plain, tuning in (("n_segments", "try_n_segments"), ("features", "try_features")):
        if args.auto and getattr(args, plain) is not None and getattr(args, tuning) is not None:
            raise ValueError(f"--{plain.replace('_', '-')} and --{tuning.replace('_', '-')}: "
                             "with --auto the first is the one value tried, the second a list "
                             "of values to try; give one of them.")
    if args.n_trials is not None and args.search != "optuna":
        raise ValueError("--n-trials counts the settings of --search optuna; the grid search "
                         "tries every combination: add --search optuna or leave --n-trials out.")


def cmd_segment(args):
    """Run `gpucluster segment`; with --auto, tune the settings of each image first."""
    check_tuning_options(args)
    if not args.auto:
        return segment_command.cmd_segment(args)
    for dest, default in (("search", _DEFAULT_SEARCH), ("n_trials", _DEFAULT_N_TRIALS),
                          ("ranking", _DEFAULT_RANKING)):
        if getattr(args, dest) is None:
            setattr(args, dest, default)
    options = segment_command.segment_options(args)
    # A plain --features / --n-segments under --auto is the one value tried.
    feature_sets = args.try_features or ([tuple(args.features)] if args.features else None)
    n_segments = args.try_n_segments or ([args.n_segments] if args.n_segments else None)
    algorithms = args.try_algorithms or [options["algorithm"]]
    search_options = dict(
        feature_sets=feature_sets, n_segments=n_segments, algorithms=algorithms,
        weights=args.ranking, search=args.search, n_trials=args.n_trials,
        random_state=args.seed, device=args.device, scale=args.scale,
        feature_weights=options["weights"], downsample=args.downsample, sample=args.sample,
        superpixels=args.superpixels, compactness=args.compactness, eps=args.eps,
        min_samples=args.min_samples, min_cluster_size=args.min_cluster_size)

    def segmenter(path):
        found = search_segmentation(path, **search_options)
        found.best.settings["search"] = found.summary(top=_SEARCH_TOP)
        return found.best

    page_settings = {"auto": args.search, "algorithms": algorithms,
                     "feature sets": [" ".join(fs) for fs in (feature_sets or DEFAULT_FEATURE_SETS)],
                     "n_segments": n_segments or list(DEFAULT_N_SEGMENTS),
                     "ranking": args.ranking}
    return segment_command.cmd_segment(args, segmenter=segmenter, options=page_settings)


def register(subparsers):
    """Add `segment` (with its --auto options) to the `gpucluster` parser."""
    p = segment_command.register(subparsers)
    tuning = p.add_argument_group(
        "tuning (--auto)", "try feature sets, segment counts and algorithms on each image and keep "
        "the setting ranked first; every setting is scored on the pixels' Lab colour with the "
        "search's composite (silhouette, noise), and the ranking is written into segmentation.json")
    tuning.add_argument("--auto", action="store_true", help="tune the settings per image")
    tuning.add_argument("--try-features", type=_feature_set, nargs="+", metavar="SET",
                        help='feature sets to try, each quoted: --try-features "lab" "lab xy" '
                             '(default: ' + ", ".join(" ".join(fs) for fs in DEFAULT_FEATURE_SETS)
                             + ")")
    tuning.add_argument("--try-n-segments", type=positive_int, nargs="+", metavar="K",
                        help="segment counts to try (default: "
                             + " ".join(map(str, DEFAULT_N_SEGMENTS)) + ")")
    tuning.add_argument("--try-algorithms", nargs="+",
                        type=one_of(segment_command._ALGORITHM_CHOICES),
                        choices=segment_command._ALGORITHM_CHOICES,
                        help="algorithms to try (default: --algorithm)")
    tuning.add_argument("--search", choices=SEARCHES, default=None,
                        help="grid (default): every combination; optuna: --n-trials chosen "
                             "by Optuna")
    tuning.add_argument("--n-trials", type=int, default=None,
                        help=f"settings Optuna tries (default: {_DEFAULT_N_TRIALS})")
    tuning.add_argument("--ranking", choices=sorted(PRESETS), default=None,
                        help=f"the composite's weighting, as in `gpucluster auto` (default: "
                             f"{_DEFAULT_RANKING})")
    p.set_defaults(func=cmd_segment)
    return p
