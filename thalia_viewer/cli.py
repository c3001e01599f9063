"""``thalia-viewer``: one entry point for the library's commands.

Every command prints a :class:`~thalia_viewer.core.errors.ThaliaError` as one paragraph and exits 2,
without a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .core import schema
from .core.errors import ThaliaError

EXIT_PROBLEM = 2  # bad input or an invalid dataset
EXIT_BUG = 3  # an unexpected error: please report it


def _info(args: argparse.Namespace) -> int:
    from .core.dataset import ThaliaDataset

    ds = ThaliaDataset(args.root)
    frames = [args.frame] if args.frame else ds.frames
    total = positives = 0
    for frame_id in frames:
        frame = ds.frame(frame_id)
        pairs, pos = frame.pairs, frame.positives
        total += len(pairs)
        positives += len(pos)
        h, w = frame.shape
        x0, y0, x1, y1 = frame.bounds
        print(
            f"{frame_id}: {h} x {w} px ({frame.y_dim}/{frame.x_dim}, {x0:.3f}..{x1:.3f} x {y0:.3f}..{y1:.3f}), "
            f"{len(frame.primary_dates)} primary dates, {len(pairs)} pairs, {len(pos)} positive"
        )
        if args.frame:
            for primary in frame.primary_dates:
                series = frame.timeseries(primary)
                marks = []
                for p in series:
                    rec = frame.annotation(p)
                    flag = "+" if rec is not None and schema.is_positive(rec) else "-"
                    marks.append(f"{p.secondary}{flag}")
                split = schema.split_of(primary)
                print(f"  {primary} [{split.value if split else '-'}]: {' '.join(marks)}")
    print(f"total: {len(frames)} frames, {total} pairs, {positives} positive")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .core.validate import validate

    report = validate(args.root, read_data=not args.metadata_only)
    print(report.summary())
    return 0 if report.ok else EXIT_PROBLEM


def _synth(args: argparse.Namespace) -> int:
    from .core.synth.writer import write_dataset

    start = time.perf_counter()
    summary = write_dataset(
        Path(args.out), n_frames=args.frames, shape=tuple(args.size), n_dates=args.dates, seed=args.seed,
        zarr_format=args.zarr_format, overwrite=args.overwrite, progress=print,
    )  # fmt: skip
    print(f"{summary} in {time.perf_counter() - start:.1f} s")
    return 0


def _render(args: argparse.Namespace) -> int:
    from .core.dataset import ThaliaDataset
    from .viz.png import render_view, save_png

    ds = ThaliaDataset(args.root)
    pair = ds.resolve(args.frame, args.primary, args.secondary)
    keys = [schema.layer(k).key for k in args.layers.split(",") if k.strip()]
    arrays = ds.frame(pair.frame).layers(pair, keys)
    image = render_view(arrays, keys, width=args.width)
    save_png(image, args.out)
    print(f"wrote {args.out} ({image.width} x {image.height} px) for {pair}")
    return 0


def _history(args: argparse.Namespace) -> int:
    from .core.annotations import AnnotationStore
    from .core.pairs import Pair

    if (args.primary is None) != (args.secondary is None) or (args.primary and not args.frame):
        raise ValueError("a pair needs --frame, --primary and --secondary together")
    store = AnnotationStore(args.store, create=False)
    pair = Pair(args.frame, args.primary, args.secondary) if args.primary else None
    versions = store.history(frame=args.frame, pair=pair)
    table = [("time (UTC)", "author", "pair", "message", "id")]
    table += [(f"{v.time:%Y-%m-%d %H:%M:%S}", v.author, v.pair.key, v.message, v.short_id) for v in versions]
    widths = [max(len(row[k]) for row in table) for k in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    tags = {v: k for k, v in store.tags().items()}
    for v in versions:
        if v.id in tags:
            print(f"tag {tags[v.id]}: {v.short_id}")
    print(f"{len(versions)} version(s)")
    return 0


def _tag(args: argparse.Namespace) -> int:
    from .core.annotations import AnnotationStore

    store = AnnotationStore(args.store, create=False)
    snapshot = store.tag(args.name, args.version)
    print(f"tagged {snapshot} as {args.name}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .core.annotations import default_store_path
    from .core.annotations.export import export_dataset

    start = time.perf_counter()
    store = args.store or default_store_path(args.root)
    out = Path(args.out)
    summary = export_dataset(args.root, store, out, version=args.tag, overwrite=args.overwrite, progress=print)
    print(f"{summary} in {time.perf_counter() - start:.1f} s")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .app.serve import serve

    return serve(args.root, port=args.port, address=args.address, show=args.show, extra=args.panel_args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(prog="thalia-viewer", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("info", help="frames, dates, pairs and positives of a dataset root")
    p.add_argument("root", help="dataset root: a folder or an fsspec URL")
    p.add_argument("--frame", help="one frame: list its primary dates and pairs (+ positive, - negative)")
    p.set_defaults(func=_info)

    p = sub.add_parser("validate", help="check a dataset root against the Thalia format")
    p.add_argument("root")
    p.add_argument("--metadata-only", action="store_true", help="skip reading pair data (for very large roots)")
    p.set_defaults(func=_validate)

    p = sub.add_parser("synth", help="write a physics-based synthetic dataset in the Thalia layout")
    p.add_argument("out", help="output folder (must not exist, unless --overwrite)")
    p.add_argument("--frames", type=int, default=3, help="number of frames (default 3)")
    p.add_argument("--size", type=int, nargs=2, default=(512, 512), metavar=("H", "W"), help="pixels (default 512 512)")
    p.add_argument("--dates", type=int, default=12, help="acquisitions per frame (default 12: 3 campaigns of 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--zarr-format", type=int, choices=(2, 3), default=2, help="2 like the real cubes (default), or 3")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=_synth)

    p = sub.add_parser("render", help="a PNG of one pair's layers, through Datashader")
    p.add_argument("root")
    p.add_argument("--frame", required=True)
    p.add_argument("--primary", required=True, help="YYYYMMDD")
    p.add_argument("--secondary", required=True, help="YYYYMMDD")
    p.add_argument("--layers", default="phase,mask", help=f"comma-separated, from {', '.join(schema.LAYERS)} (aliases: {', '.join(schema.LAYER_ALIASES)})")
    p.add_argument("--out", required=True, help="PNG path")
    p.add_argument("--width", type=int, default=800, help="panel width, pixels")
    p.set_defaults(func=_render)

    p = sub.add_parser("history", help="saves and reverts of an annotation store, newest first")
    p.add_argument("store", help="annotation store: a folder (ROOT/.thalia/annotations by default) or s3:// URL")
    p.add_argument("--frame", help="only this frame")
    p.add_argument("--primary", help="with --frame and --secondary: only this pair (YYYYMMDD)")
    p.add_argument("--secondary", help="YYYYMMDD")
    p.set_defaults(func=_history)

    p = sub.add_parser("tag", help="label a version of an annotation store as a release")
    p.add_argument("store")
    p.add_argument("name", help="release name, e.g. labels-v1 (tags are immutable)")
    p.add_argument("--version", help="snapshot id (or a unique prefix) or tag; default: the latest version")
    p.set_defaults(func=_tag)

    p = sub.add_parser("export", help="write the dataset corrected by an annotation store, in the Thalia layout")
    p.add_argument("root", help="source dataset root")
    p.add_argument("out", help="output folder (must not exist, unless --overwrite)")
    p.add_argument("--store", help="annotation store (default: ROOT/.thalia/annotations)")
    p.add_argument("--tag", help="version to export: tag or snapshot id (default: the latest)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=_export)

    p = sub.add_parser("serve", help="serve the app (panel serve) on a dataset root")
    p.add_argument("root")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--show", action="store_true", help="open a browser")
    p.add_argument("panel_args", nargs=argparse.REMAINDER, help="after --: extra `panel serve` options")
    p.set_defaults(func=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; exit 0 on success, 2 on bad input or an invalid dataset."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ThaliaError as exc:
        if args.debug:
            raise
        print(f"thalia-viewer {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except (ValueError, KeyError, FileNotFoundError, FileExistsError, PermissionError) as exc:
        if args.debug:
            raise
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"thalia-viewer {args.command}: error: {text}", file=sys.stderr)
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        print(f"thalia-viewer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
