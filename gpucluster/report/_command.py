"""`gpucluster organize`, `gpucluster report` and `gpucluster animate`: parsing and printing."""

import json
import os
import sys

from .. import _format as fmt


def _load_names(path):
    if path is None:
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _result_rows(args):
    """(summary, labels, paths, embeddings, failures) for a results folder and an optional store."""
    from ._results import resolve_result

    labels, summary, paths = resolve_result(args.result, args.rank)
    embeddings, failures = None, []
    if args.store is not None:
        from ..embed.store import open_store

        store = open_store(args.store)
        failures = store.failures()
        if paths is None:
            paths, embeddings = store.load()
        else:
            try:
                _, embeddings = store.load(paths)
            except KeyError as exc:
                print(f"warning: the store lacks some images of the result ({exc}); "
                      "the report has no projection.", file=sys.stderr)
        if len(paths) != labels.shape[0]:
            raise ValueError(f"the store holds {fmt.counted(len(paths), 'image')} but the result "
                             f"has {fmt.counted(labels.shape[0], 'label')}: was the result made "
                             "from this store?")
    if paths is None:
        raise ValueError(
            f"{args.result} has no paths.json: it was made from vectors without image paths "
            "(a .npy, .csv or .parquet file), so there are no images to sort or show; its labels are in "
            "its rank_* folders (labels.npy). To organise images, embed them with `gpucluster "
            "embed` and run `gpucluster auto` on that store; a result made from a store needs "
            "--store with that store.")
    return summary, labels, paths, embeddings, failures


def cmd_organize(args):
    from .organize import organize

    _, labels, paths, _, _ = _result_rows(args)
    manifest = organize(labels, paths, args.out, rank=args.rank, mode=args.mode,
                        names=_load_names(args.names), overwrite=args.overwrite, relative=args.relative)
    files = (fmt.counted(manifest["n_files"], "link") if args.mode == "link"
             else fmt.counted(manifest["n_files"], "copy", "copies"))
    print(f"{files} in {fmt.counted(len(manifest['clusters']), 'folder')} under {manifest['out']}")
    copied = manifest["copied_instead_of_linked"]
    if copied:
        print(f"{fmt.counted(copied, 'file')} {fmt.word(copied, 'was', 'were')} copied: the file "
              "system refused symlinks")
    if manifest["skipped"]:
        print(f"{fmt.counted(len(manifest['skipped']), 'image')} skipped (missing), e.g. "
              f"{manifest['skipped'][0][0]}")
    return 0


def cmd_report(args):
    from .html import write_report
    from .organize import MANIFEST_NAME

    summary, labels, paths, embeddings, failures = _result_rows(args)
    folders = None
    manifest_path = os.path.join(args.out, MANIFEST_NAME)
    if os.path.isfile(manifest_path):
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        # The gallery's folders belong to this report only if organize sorted the same rank.
        if manifest.get("rank") == args.rank:
            folders = {c["label"]: c["folder"] for c in manifest.get("clusters", [])}
    path = write_report(args.out, summary=summary, labels=labels, paths=paths, embeddings=embeddings,
                        failures=failures, names=_load_names(args.names), rank=args.rank,
                        folders=folders, projection=args.projection,
                        max_thumbnails=args.max_thumbnails, overwrite=args.overwrite)
    print(f"report: {path}")
    return 0


def cmd_animate(args):
    from ..auto.inputs import load_vectors
    from .animate import animate_kmeans

    X, _ = load_vectors(args.input)
    path = animate_kmeans(X, args.n_clusters, args.out, max_iter=args.max_iter,
                          random_state=args.seed, max_points=args.max_points, overwrite=args.overwrite)
    print(f"animation: {path}")
    return 0


def add_projection_argument(parser):
    """The ``--projection`` option of `gpucluster report` and `gpucluster run`."""
    from .projection import PROJECTION_METHODS

    parser.add_argument("--projection", choices=list(PROJECTION_METHODS), default="pca",
                        help="the report's 2-D map of the embeddings: pca (fast), umap "
                             "(needs umap-learn: pip install gpucluster[projection]), tsne "
                             "(scikit-learn's t-SNE: slow above about 10,000 points "
                             "drawn: minutes on a laptop), or auto (umap when installed, else pca)")


def _result_arguments(parser):
    parser.add_argument("result", help="a results folder (summary.json) from `gpucluster auto`")
    parser.add_argument("--store", default=None,
                        help="the embedding store the result was made from (paths, embeddings, unreadable files)")
    parser.add_argument("--out", required=True, help="the gallery folder; nothing is written outside it")
    parser.add_argument("--rank", type=int, default=1,
                        help="which ranked result (1 = best; default: %(default)s)")
    parser.add_argument("--names", default=None,
                        help='JSON file of cluster names: {"3": "beach", ...} or a list per label')
    parser.add_argument("--overwrite", action="store_true", help="replace existing files of the same names")


def register(subparsers):
    """Add the organize, report and animate commands to the `gpucluster` parser."""
    organize = subparsers.add_parser(
        "organize", help="one folder of links (or copies) per cluster",
        description="Sort the images of a `gpucluster auto` result into --out: one folder per "
                    "cluster (and one for noise) holding symlinks to the originals, or copies "
                    "with --copy, plus a manifest. Needs a result made from images (an "
                    "embedding store).")
    _result_arguments(organize)
    mode = organize.add_mutually_exclusive_group()
    mode.add_argument("--link", dest="mode", action="store_const", const="link",
                      help="symlinks to the originals (default)")
    mode.add_argument("--copy", dest="mode", action="store_const", const="copy", help="copies")
    organize.add_argument("--relative", action="store_true", help="relative symlink targets")
    organize.set_defaults(mode="link", func=cmd_organize)

    report = subparsers.add_parser(
        "report", help="a self-contained HTML report in the gallery",
        description="Write report.html into --out: one self-contained page (no network) with "
                    "the ranking, a 2-D map of the embeddings and thumbnails per cluster of a "
                    "`gpucluster auto` result made from images.")
    _result_arguments(report)
    add_projection_argument(report)
    report.add_argument("--max-thumbnails", type=int, default=36,
                        help="thumbnails shown per cluster (default: %(default)s)")
    report.set_defaults(func=cmd_report)

    animate = subparsers.add_parser(
        "animate", help="a GIF of k-means iterations on a 2-D projection",
        description="Run KMeans on the vectors of INPUT and write a GIF (--out) with one frame "
                    "per Lloyd iteration, the points drawn on a 2-D projection and coloured by "
                    "cluster.")
    animate.add_argument("input", help="vectors: a .npy (or any input `gpucluster auto` reads)")
    animate.add_argument("--n-clusters", type=int, required=True, help="KMeans clusters")
    animate.add_argument("--out", default="kmeans.gif",
                         help="the GIF file to write (default: %(default)s)")
    animate.add_argument("--max-iter", type=int, default=20,
                         help="Lloyd iterations, one frame each (default: %(default)s)")
    animate.add_argument("--max-points", type=int, default=5000, help="points drawn (all are clustered)")
    animate.add_argument("--seed", type=int, default=0, help="KMeans random seed")
    animate.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    animate.set_defaults(func=cmd_animate)
