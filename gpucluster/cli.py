"""The `gpucluster` command: argument parsing and printing around library functions."""

import argparse
import importlib
import json
import sys

from . import _format as fmt
from ._arguments import positive_int

# Sub-command modules: each has register(subparsers) and imports its heavy
# dependencies (torch, Pillow) only when its command runs.
_COMMAND_MODULES = (".embed._command", ".auto._command", ".report._command",
                    ".auto._segment_command")


def _bytes(n):
    return f"{n / 2**30:.1f} GiB"


def cmd_info(args):
    from ._info import system_info

    info = system_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"gpucluster {info['gpucluster']} on Python {info['python']} ({info['platform']})")
    print(f"CPU: {info['cpu_count']} cores, Numba threads {info['numba_threads']}, "
          f"BLAS: {', '.join(info['blas']) or 'unknown'}")
    print("packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    print("backends:")
    for name, status in info["backends"].items():
        print(f"  {name:<17} {status}")
    if not info["cuda_devices"]:
        print("CUDA devices: none answers (computing on the CPU)")
    for dev in info["cuda_devices"]:
        print(f"CUDA device {dev['index']}: {dev['name']} (sm {dev['compute_capability']}), "
              f"{_bytes(dev['free_bytes'])} free of {_bytes(dev['total_bytes'])}")
    return 0


def cmd_digits(args):
    from .demo import run_digits

    report = run_digits(n_clusters=args.n_clusters, random_state=args.seed, device=args.device)
    n, d = report["shape"]
    print(f"Clustering the digits data set ({fmt.counted(n, 'image')} of 8x8 pixels, "
          f"{fmt.counted(d, 'feature')}) into {fmt.counted(report['n_clusters'], 'cluster')} "
          f"on device: {report['device']}")
    print(f"(one-off Numba kernel compilation: {fmt.duration(report['compile_seconds'])}, cached for later runs)")
    columns = ["seconds", "n_iter", "inertia", "ARI", "AMI", "V-measure", "silhouette",
               "Calinski-Harabasz", "Davies-Bouldin", "balance"]
    widths = [max(len(c), 9) + 2 for c in columns]
    header = f"{'method':<30}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths))
    print()
    print(header)
    print("-" * len(header))
    for name, row in report["results"].items():
        cells = "".join(
            f"{fmt.number(row[c]):>{w}}" for c, w in zip(columns, widths)
        )
        print(f"{name:<30}{cells}")
    print()
    print("ARI/AMI/V-measure compare with the true digit labels (1 is perfect); silhouette and "
          "Calinski-Harabasz: higher is better; Davies-Bouldin: lower is better; balance: "
          "1 means equal cluster sizes.")
    return 0


def cmd_run(args):
    from .embed._interrupt import EmbeddingInterrupted, exit_status, sigterm_as_interrupt
    from .pipeline import run_images

    if args.model == "auto":
        pretrained = args.pretrained or "openai"
    else:
        from .embed._command import resolve_pretrained

        pretrained = resolve_pretrained(args.model, args.pretrained)
    try:
        with sigterm_as_interrupt():
            summary = run_images(
                args.images or None, args.out, store=args.store, model=args.model,
                pretrained=pretrained, checkpoint=args.checkpoint, mode=args.mode, top=args.top,
                overwrite=args.overwrite, device=args.device, batch_size=args.batch_size,
                num_workers=args.num_workers, sample=args.sample, seed=args.seed,
                link_mode="copy" if args.copy else "link", candidate_labels=args.names,
                ranking=args.ranking, progress=not args.quiet, follow_links=args.follow_links,
                scheduler=args.scheduler, workers=args.workers, projection=args.projection)
    except EmbeddingInterrupted as exc:
        print(f"gpucluster run: {exc}", file=sys.stderr)
        return exit_status(exc)
    best = summary["best"]
    if not args.quiet:
        print()  # apart from the progress lines
    print(f"{fmt.counted(summary['n_images'], 'image')}, model {summary['model']}, "
          f"{fmt.duration(summary['seconds'])} in all")
    print(f"best: {_describe(best)}")
    for tied in summary.get("near_ties", []):
        print(f"  nearly tied (scores within the sample's error): {_describe(tied)}")
    if "ari" in summary:
        print(f"ARI of the top result against the known groups: {fmt.score(summary['ari'])}")
    outside = summary["embedded"].get("outside_links", 0)
    if outside:
        from .embed.extract import outside_links_note

        print(outside_links_note(outside))
    # Where the next commands (auto, cluster, organize, report) find this run's data;
    # the report's path stays the last line, for a reader and for scripts.
    print(f"results: {summary['results']}")
    print(f"embedding store: {summary['store']}")
    print(f"gallery: {summary['gallery']}")
    print(f"report: {summary['report']}")
    return 0


def _describe(candidate):
    """One line for a ranked candidate: algorithm, settings as key=value, clusters, noise, score."""
    return (f"{candidate['algorithm']} ({fmt.params(candidate['params'])}) -> "
            f"{candidate['n_clusters']} clusters, {fmt.percent(candidate['noise_fraction'])} noise, "
            f"composite score {fmt.score(candidate['scores']['composite'])}")


def _sample_value(text):
    value = float(text)
    return int(value) if value >= 1 and value == int(value) else value


def _add_run_parser(sub):
    from .auto.scoring import MODE_HELP, PRESETS, RANKING_HELP
    from .report._command import add_projection_argument

    DEVICE_HELP = ("where to compute: 'auto' uses a CUDA GPU when one answers and the work "
                   "is large enough, else the CPU")

    run = sub.add_parser(
        "run", help="the main job: embed a folder of images, search, organise, report "
                    "(no folder: a built-in collection of real photos)")
    run.add_argument("images", nargs="*", help="image folders or files (default: the built-in collection)")
    run.add_argument("--out", default=None, help="output folder (default ./gpucluster-demo)")
    run.add_argument("--store", default=None,
                     help="embedding store folder (default: the embeddings folder of the user "
                          "cache: $GPUCLUSTER_CACHE, else $XDG_CACHE_HOME/gpucluster or "
                          "~/.cache/gpucluster; the run prints it)")
    run.add_argument("--model", default="auto",
                     help="open_clip architecture, 'efficientnet-lite0', or 'auto' (CLIP ViT-B-32 when "
                          "its weights are on disk, else efficientnet-lite0)")
    run.add_argument("--pretrained", default=None,
                     help="the weights tag of --model (default: the model's usual one; 'none': random)")
    run.add_argument("--checkpoint", default=None, help="a local weights file for --model")
    run.add_argument("--mode", choices=["fast", "balanced", "thorough"], default="fast",
                     help=MODE_HELP + " (default: %(default)s)")
    run.add_argument("--ranking", choices=list(PRESETS), default="default", help=RANKING_HELP)
    run.add_argument("--top", type=positive_int, default=5,
                     help="how many of the best-ranked groupings to keep on disk and report "
                          "(default: %(default)s)")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                     help=DEVICE_HELP)
    run.add_argument("--batch-size", default="auto", type=lambda s: s if s == "auto" else int(s),
                     help="images per forward pass: 'auto' (from free GPU memory; 32 on the "
                          "CPU) or an integer")
    run.add_argument("--num-workers", type=int, default=None,
                     help="image-decoding worker processes (default: from the CPU count and "
                          "the available memory)")
    run.add_argument("--sample", type=_sample_value, default=None,
                     help="embed a fraction (0.01) or a count (5000) of the images")
    run.add_argument("--seed", type=int, default=0,
                     help="random seed of the search (and the sample); same seed, same result "
                          "(default: %(default)s)")
    run.add_argument("--names", nargs="+", default=None,
                     help="candidate names for the clusters, ranked by a CLIP text tower "
                          "(zero-shot); refused before any work with a model that has none "
                          "(efficientnet-lite0)")
    run.add_argument("--copy", action="store_true", help="copy images into the gallery instead of linking")
    run.add_argument("--follow-links", action="store_true",
                     help="also follow symbolic links that lead outside the image folders (by "
                          "default they are skipped and counted)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing result in --out")
    add_projection_argument(run)
    dask = run.add_mutually_exclusive_group()
    dask.add_argument("--scheduler", default=None, metavar="ADDRESS",
                      help="embed the images on a running Dask cluster: its scheduler address "
                           "(tcp://host:8786) or scheduler file; the images and --store must be "
                           "at the same paths on every worker. The search then runs here on the "
                           "gathered embeddings (density methods are global). Needs "
                           "gpucluster[dask]")
    dask.add_argument("--workers", type=positive_int, default=None, metavar="N",
                      help="embed the images on a local Dask cluster of N worker processes "
                           "started for the run (one per GPU with dask-cuda); the search runs "
                           "here. Needs gpucluster[dask]")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.set_defaults(func=cmd_run)


_USER_ERRORS = (FileExistsError, FileNotFoundError, NotADirectoryError, PermissionError,
                ValueError, ImportError, ConnectionError)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="gpucluster", description="Clustering on the GPU and the CPU with the scikit-learn API."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser(
        "info", help="versions, backends, devices and free device memory",
        description="Print what this installation computes with: the versions of gpucluster "
                    "and its dependencies, the CPU threads and BLAS, which optional backends "
                    "import, and each CUDA device with its free memory. Writes nothing.")
    info.add_argument("--json", action="store_true", help="print the report as JSON")
    info.set_defaults(func=cmd_info)
    digits = sub.add_parser(
        "digits", help="cluster scikit-learn's digits beside scikit-learn (a quick check)",
        description="Cluster scikit-learn's digits data set (1797 images of 8x8 pixels) with "
                    "gpucluster's and scikit-learn's KMeans and MiniBatchKMeans and print a "
                    "table of seconds and scores side by side. Writes nothing.")
    digits.add_argument("--n-clusters", type=int, default=10,
                        help="KMeans clusters (default: %(default)s)")
    digits.add_argument("--seed", type=int, default=0,
                        help="KMeans random seed (default: %(default)s)")
    digits.add_argument("--device", choices=["cpu", "cuda"], default=None,
                        help="default: cuda when a GPU answers, else cpu")
    digits.set_defaults(func=cmd_digits)
    _add_run_parser(sub)
    for module in _COMMAND_MODULES:
        importlib.import_module(module, __package__).register(sub)
    return parser


# Commands that compile the Numba kernels on their first run (see _compile_notice).
_COMPILING_COMMANDS = ("run", "auto", "cluster")


def main(argv=None):
    """Entry point of the `gpucluster` console script."""
    args = build_parser().parse_args(argv)
    notice = None
    if args.command in _COMPILING_COMMANDS:
        from . import _compile_notice as notice

        notice.compile_notice(args.command, quiet=getattr(args, "quiet", False))
    try:
        status = args.func(args)
    except _USER_ERRORS as exc:
        # Problems with the user's input or files: a one-line message, no traceback.
        print(f"gpucluster {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        from .embed._interrupt import exit_status

        print(f"\ngpucluster {args.command}: interrupted", file=sys.stderr)
        return exit_status(exc)
    if notice is not None and status == 0:
        notice.record_compiled(args.command)
    return status


if __name__ == "__main__":
    sys.exit(main())
