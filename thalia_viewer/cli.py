"""``thalia-viewer``: one entry point for the library's commands.

Every command prints a :class:`~thalia_viewer.core.errors.ThaliaError` (bad input, a damaged dataset) as one
paragraph and exits 2, without a traceback (``--debug`` shows it); an unexpected exception is a bug: one
paragraph saying so, exit 3.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from .core import schema
from .core.errors import ThaliaError

EXIT_PROBLEM = 2  # bad input or an invalid dataset
EXIT_BUG = 3  # an unexpected error: please report it
EXIT_INTERRUPTED = 130
SPLITS = [s.value for s in schema.Split]


def _require_root(root: str) -> None:
    """Stop before any work when ``root`` is not a dataset root holding frame stores (the dataset's own error)."""
    from .core.dataset import ThaliaDataset

    ThaliaDataset(root).require_frames()


def _info(args: argparse.Namespace) -> int:
    from .core.dataset import ThaliaDataset
    from .core.errors import AnnotationFileError

    ds = ThaliaDataset(args.root)
    frames = [args.frame] if args.frame else ds.require_frames()
    total = positives = 0
    broken: list[ThaliaError] = []
    for frame_id in frames:
        try:
            frame = ds.frame(frame_id)
        except ThaliaError as exc:  # list the frames that open, then say what is wrong with this one
            if args.frame or isinstance(exc, AnnotationFileError):  # the catalogue itself: no frame can open
                raise
            broken.append(exc)
            continue
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
    print(f"total: {len(frames) - len(broken)} frames, {total} pairs, {positives} positive")
    if broken:
        others = (
            f" ({len(broken) - 1} other frame store(s) cannot be opened either)" if len(broken) > 1 else ""
        )
        raise type(broken[0])(broken[0].message + others, broken[0].hint)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .core.deep_validate import DeepValidationInterrupted
    from .core.validate import validate

    bar = None

    def reads(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(
                total=total,
                initial=done,
                unit="read",
                desc="validate --deep",
                file=sys.stderr,
                disable=None,
                dynamic_ncols=True,
            )
        bar.update(done - bar.n)

    try:
        report = validate(
            args.root, deep=args.deep, workers=args.workers, resume=args.resume, read_progress=reads
        )
    except DeepValidationInterrupted as exc:
        if bar is not None:
            bar.close()
        print(f"thalia-viewer validate: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if bar is not None:
        bar.close()
    print(report.summary())
    return 0 if report.ok else EXIT_PROBLEM


def _synth(args: argparse.Namespace) -> int:
    from .core.synth.realstyle import RealStyle
    from .core.synth.writer import write_dataset

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise FileExistsError(
            f"{args.out} is a file, not a folder; synth writes a dataset folder. Choose a new folder."
        )
    start = time.perf_counter()
    if args.catalogue:
        from .core.synth.catalogue import write_catalogue

        size = tuple(args.size)
        summary = write_catalogue(
            Path(args.out),
            seed=args.seed,
            shape=size,
            fill_per_frame=args.fill,
            overwrite=args.overwrite,
            progress=print,
        )
        print(f"{summary} in {time.perf_counter() - start:.1f} s")
        return 0
    real_style = RealStyle(polygons=args.real_style == "polygons") if args.real_style else None
    summary = write_dataset(
        Path(args.out),
        n_frames=args.frames,
        shape=tuple(args.size),
        n_dates=args.dates,
        seed=args.seed,
        zarr_format=args.zarr_format,
        overwrite=args.overwrite,
        progress=print,
        real_style=real_style,
    )
    print(f"{summary} in {time.perf_counter() - start:.1f} s")
    return 0


def _placement(args: argparse.Namespace) -> int:
    from collections import Counter

    from .core.dataset import ThaliaDataset

    ds = ThaliaDataset(args.root)
    for frame_id in args.frame or ds.frames:
        frame = ds.frame(frame_id)
        print(frame.polygon_fit.summary())
        counts: Counter[str] = Counter()
        for pair in frame.positives:
            placed = frame.placement(pair)
            counts[placed.status.value] += 1
            if args.pairs:
                print(f"  {pair.key}: {placed.summary()}")
        print(
            "  " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            if counts
            else "  no positive pair"
        )
    return 0


def _render(args: argparse.Namespace) -> int:
    from .core.dataset import ThaliaDataset
    from .core.errors import SchemaError
    from .viz.png import render_view, save_png

    ds = ThaliaDataset(args.root)
    ds.require_frames()
    pair = ds.resolve(args.frame, args.primary, args.secondary)
    keys = [schema.layer(k).key for k in args.layers.split(",") if k.strip()]
    frame = ds.frame(pair.frame)
    if min(frame.shape) < 2:
        msg = f"{frame.source}: the frame is {frame.shape[0]} x {frame.shape[1]} px; a figure needs at least 2 x 2."
        raise SchemaError(
            msg,
            "It is not a real frame (2,000-4,000 px a side): `thalia-viewer validate ROOT` says what else is wrong.",
        )
    arrays = frame.load(
        pair, keys
    )  # in memory: damaged chunks are named; no dask graph per view (tiny frames too)
    image = render_view(arrays, keys, width=args.width)
    save_png(image, args.out)
    print(f"wrote {args.out} ({image.width} x {image.height} px) for {pair}")
    return 0


def _history(args: argparse.Namespace) -> int:
    from .core.annotations import AnnotationStore
    from .core.pairs import Pair

    if (args.primary is None) != (args.secondary is None) or (args.primary and not args.frame):
        raise ThaliaError(
            "a pair needs --frame, --primary and --secondary together.",
            "Give all three, or --frame alone for a frame's history, or none.",
        )
    try:
        pair = Pair(args.frame, args.primary, args.secondary) if args.primary else None
    except ValueError as exc:
        raise ThaliaError(str(exc), "Dates are YYYYMMDD, e.g. 20190115.") from exc
    store = AnnotationStore(args.store, create=False)
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
    if args.frame is None:  # the other logged writes: release tags and models, who and when
        for e in store.events():
            if e.kind.value in ("tag", "model"):
                print(f"{e.time:%Y-%m-%d %H:%M:%S}  {e.author}  {e.message}")
    print(f"{len(versions)} version(s)")
    return 0


def _tag(args: argparse.Namespace) -> int:
    import getpass

    from .core.annotations import AnnotationStore

    store = AnnotationStore(args.store, create=False)
    snapshot = store.tag(args.name, args.version, author=getpass.getuser())  # logged: who tagged what, when
    print(f"tagged {snapshot} as {args.name}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .core.annotations import default_store_path, store_location
    from .core.annotations.export import export_dataset

    _require_root(args.root)
    start = time.perf_counter()
    store = args.store or store_location(args.root) or default_store_path(args.root)
    out = Path(args.out)
    summary = export_dataset(
        args.root, store, out, version=args.tag, overwrite=args.overwrite, progress=print
    )
    print(f"{summary} in {time.perf_counter() - start:.1f} s")
    return 0


def _repair(args: argparse.Namespace) -> int:
    from .core.repair import repair_root
    from .ml.batch import RUN_FILE, repair_predictions  # no torch: batch imports it in its workers only

    if (Path(args.root) / RUN_FILE).is_file():  # a `predict --out` folder
        report = repair_predictions(args.root)
    else:
        report = repair_root(args.root)
    print(report.summary())
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .app.serve import serve

    lab = [
        a
        for name in ("roles", "store_endpoint")
        if getattr(args, name, None)
        for a in (f"--{name.replace('_', '-')}", getattr(args, name))
    ]
    return serve(
        args.root,
        port=args.port,
        address=args.address,
        show=args.show,
        extra=[*lab, *(args.panel_args or [])],
        store=args.store,
    )


def _train_command(args: argparse.Namespace) -> str:
    """The explicit command line that reproduces a ``train`` run (every recipe option spelt out)."""
    import shlex

    parts = ["thalia-viewer", "train", args.root, "--model", args.model, "--out", args.out]
    for flag in (
        "store",
        "setting",
        "timesteps",
        "epochs",
        "crop",
        "batch_size",
        "lr",
        "lr_drop",
        "weight_decay",
        "val_every",
        "seed",
        "zoo",
    ):
        value = getattr(args, flag)
        if value is not None:
            parts += [f"--{flag.replace('_', '-')}", str(value)]
    parts += ["--eval-seeds", *map(str, args.eval_seeds)] if args.eval_seeds else []
    parts += [
        f"--{f.replace('_', '-')}"
        for f in ("scratch", "no_augment", "keep_threshold", "overwrite")
        if getattr(args, f)
    ]
    return shlex.join(parts)


def _train(args: argparse.Namespace) -> int:
    from .ml.training import TrainConfig, train
    from .ml.training.console import ConsoleProgress

    _require_root(args.root)
    config = TrainConfig(
        root=args.root,
        model=args.model,
        out=args.out,
        zoo=args.zoo,
        store=args.store,
        setting=args.setting,
        timesteps=args.timesteps,
        epochs=args.epochs,
        crop=args.crop,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_drop=args.lr_drop,
        weight_decay=args.weight_decay,
        augment=not args.no_augment,
        val_every=args.val_every,
        seed=args.seed,
        scratch=args.scratch,
        num_workers=args.workers,
        device=args.device,
        threads=args.threads,
        resume=args.resume,
        checkpoint_dir=args.checkpoint_dir,
        eval_seeds=tuple(args.eval_seeds),
        calibrate=not args.keep_threshold,
        command=_train_command(args),
        overwrite=args.overwrite,
        inputs_only=args.check,
    )
    result = train(config, progress=ConsoleProgress())
    if args.check:
        for note in result.notes:
            print(note)
        return 0
    if result.cancelled:
        print(f"cancelled; resume with --resume (checkpoint {result.checkpoint})")
        return 130
    for note in result.notes:
        print(f"note: {note}")
    if result.test is not None:
        print(result.test.table())
    print(f"best epoch {result.best_epoch}; wrote {result.card_path} in {result.seconds:.0f} s")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .ml.training import evaluate

    _require_root(args.root)
    result = evaluate(
        args.root,
        args.model,
        split=args.split,
        seeds=args.seeds,
        store=args.store,
        crop=args.crop,
        batch_size=args.batch_size,
        device=args.device,
    )
    print(result.table())
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .ml.batch import METRICS_FILE, predict_dataset
    from .ml.zoo import PACKAGED_ZOO, ModelZoo, user_zoo

    if args.scheduler and args.workers:
        raise ThaliaError(
            "give --scheduler ADDRESS or --workers N, not both.",
            "--scheduler uses a running Dask cluster; --workers starts a local one.",
        )
    _require_root(args.root)
    start = time.perf_counter()
    width = 0

    def progress(done: int, total: int, key: str) -> None:
        nonlocal width
        line = (
            f"predict: {done}/{total} pairs ({time.perf_counter() - start:.0f} s){f'  {key}' if key else ''}"
        )
        print(f"\r{line.ljust(width)}", end="" if done < total else "\n", flush=True)
        width = len(line)

    try:
        result = predict_dataset(
            args.root,
            args.model,
            frames=args.frame,
            split=args.split,
            out=args.out,
            client=args.scheduler,
            n_workers=args.workers,
            processes=not args.threads,
            zoo=ModelZoo([PACKAGED_ZOO, user_zoo(), args.zoo]) if args.zoo else None,
            weights=args.weights,
            progress=progress,
        )
    except BaseException:
        if width:  # end the progress line before the error message
            print(flush=True)
        raise
    micro = result["aggregate"]["micro"]
    if result["aggregate"]["count"]:
        print(
            f"{result['aggregate']['count']} labelled pairs: precision {micro['precision']:.3f}, recall "
            f"{micro['recall']:.3f}, F1 {micro['f1']:.3f}, IoU {micro['iou']:.3f} (micro, deformation class)"
        )
    print(
        f"wrote {Path(args.out) / METRICS_FILE} and one store per frame in {time.perf_counter() - start:.1f} s"
    )
    if result["failed"]:
        shown = "; ".join(f"{k}: {v}" for k, v in list(result["failed"].items())[:3])
        print(
            f"thalia-viewer predict: error: {len(result['failed'])} pair(s) failed ({shown}). Run again to retry them.",
            file=sys.stderr,
        )
        return EXIT_PROBLEM
    return 0


def _catalog(args: argparse.Namespace):  # -> Catalog (imported lazily)
    """The catalogue of ``args.root`` with the annotation store's corrections and a review run's scores."""
    from .core.annotations import AnnotationStore, store_location
    from .core.catalog import Catalog
    from .core.dataset import ThaliaDataset
    from .core.io import Location

    ds = ThaliaDataset(args.root)
    store = None
    location = args.store or store_location(args.root)
    if args.store or (location and Location(location).exists()):
        store = AnnotationStore(location, dataset=ds, create=False)
    return Catalog.from_root(ds, store=store, review=args.review)


#: Columns of ``search`` output (CSV / JSON add the rest with --all-columns).
SEARCH_COLUMNS = (
    "key",
    "frame",
    "volcano",
    "primary",
    "secondary",
    "baseline",
    "split",
    "valid",
    "label",
    "activity",
    "intensity",
    "phase",
    *schema.FLAG_FIELDS,
    "confidence",
    "is_crowd",
    "corrected",
    "corrected_by",
    "caption",
)


def _search(args: argparse.Namespace) -> int:
    import json

    cat = _catalog(args)
    start = time.perf_counter()
    rows = cat.select(args.query)
    seconds = time.perf_counter() - start
    found = cat.table.iloc[rows]
    columns = [
        c
        for c in (
            *SEARCH_COLUMNS,
            *(c for c in cat.table.columns if c.startswith("model_") or c in ("reviewed", "disagree")),
        )
        if c in found.columns
    ]
    if args.all_columns:
        columns = list(found.columns)
    shown = found[columns].head(args.limit) if args.limit else found[columns]
    if args.csv or args.json:
        out = shown.copy()
        for c in ("primary", "secondary"):
            if c in out:
                out[c] = out[c].dt.strftime("%Y-%m-%d")
        if "corrected_at" in out:
            out["corrected_at"] = out["corrected_at"].astype(str).replace("NaT", "")
        if args.csv:
            out.to_csv(sys.stdout, index=False)
        else:
            records = json.loads(out.to_json(orient="records", force_ascii=False))
            print(
                json.dumps(
                    {"query": args.query, "count": len(found), "pairs": records}, indent=1, ensure_ascii=False
                )
            )
        return 0
    brief = shown[["key", "label", "activity", "intensity", "baseline", "confidence"]].copy()
    brief["flags"] = [schema.flags_text(r) for _, r in shown.iterrows()]
    brief["corrected"] = [
        str(b) if c else ""
        for b, c in zip(shown["corrected_by"].astype(str), shown["corrected"], strict=True)
    ]
    if len(brief):
        print(brief.to_string(index=False, max_colwidth=40))
    frames = found["frame"].nunique()
    more = f" (first {args.limit} shown)" if args.limit and len(found) > args.limit else ""
    print(
        f"{len(found)} pair(s) in {frames} frame(s) of {len(cat)}{more}; query answered in {seconds * 1e3:.1f} ms"
    )
    if args.facets:
        for name, counts in cat.facets(rows).items():
            if counts:
                print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in list(counts.items())[:12]))
    return 0


def _stats(args: argparse.Namespace) -> int:
    import json

    from .core.stats import dataset_stats

    cat = _catalog(args)
    table = cat.search(args.query) if args.query else cat.table
    stats = dataset_stats(table)
    if args.json:
        print(json.dumps(stats.to_dict(), indent=1, default=str, ensure_ascii=False))
        return 0
    if args.csv:
        out = Path(args.csv)
        out.mkdir(parents=True, exist_ok=True)
        for name, t in stats.tables.items():
            t.to_csv(out / f"{name}.csv")
        print(f"wrote {len(stats.tables)} tables to {out}")
        return 0
    print(stats.text())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(prog="thalia-viewer", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--debug",
        action="store_true",
        help="raise errors with their tracebacks (chained causes included) instead of one paragraph",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("info", help="frames, dates, pairs and positives of a dataset root")
    p.add_argument("root", help="dataset root: a folder or an fsspec URL")
    p.add_argument("--frame", help="one frame: list its primary dates and pairs (+ positive, - negative)")
    p.set_defaults(func=_info)

    p = sub.add_parser(
        "validate",
        help="check a dataset root against the Thalia format (metadata and catalogue; --deep reads all data)",
        description="Check a dataset root: JSON files and records, stores' variables, dims, dates and size, stale "
        "metadata, Zarr 2 arrays that zarr-2 readers would read as garbage. No pixel is read unless --deep. "
        "Exit 0 when valid, 2 with one line per problem otherwise.",
    )
    p.add_argument("root")
    p.add_argument(
        "--deep",
        action="store_true",
        help="also read every valid pair's data, DEM and ERA5 fields (parallel, with a progress bar)",
    )
    p.add_argument("--workers", type=int, help="threads of --deep (default: min(8, CPUs))")
    p.add_argument(
        "--resume",
        action="store_true",
        help="with --deep: continue an interrupted run (its progress is kept in the cache folder)",
    )
    p.add_argument(
        "--metadata-only", action="store_true", help=argparse.SUPPRESS
    )  # the default now; kept for old scripts
    p.set_defaults(func=_validate)

    p = sub.add_parser("synth", help="write a physics-based synthetic dataset in the Thalia layout")
    p.add_argument("out", help="output folder (must not exist, unless --overwrite)")
    p.add_argument("--frames", type=int, default=3, help="number of frames (default 3)")
    p.add_argument(
        "--size", type=int, nargs=2, default=(512, 512), metavar=("H", "W"), help="pixels (default 512 512)"
    )
    p.add_argument(
        "--dates", type=int, default=12, help="acquisitions per frame (default 12: 3 campaigns of 4)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--zarr-format",
        type=int,
        choices=(2, 3),
        default=2,
        help=(
            "2 like the real cubes (default: what the official Thalia loader, on zarr-python 2, reads), or 3 "
            "(zarr-python 3 only: the official loader cannot read it)"
        ),
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument(
        "--real-style",
        choices=("polygons", "no-polygons"),
        help="records and cubes like the real ones: several patterns per pair, no activity / intensity "
        "rasters in the cubes; 'polygons': one segmentation_mask polygon per pattern in preview-PNG "
        "pixels (~3.3 cube px), as the authors' per-pair files; 'no-polygons': none, as the merged "
        "annotations.json",
    )
    p.add_argument(
        "--catalogue",
        action="store_true",
        help="the real-size catalogue instead: 38 frames, 19,919 records, up to 320 dates; cubes metadata-only",
    )
    p.add_argument(
        "--fill",
        type=int,
        default=4,
        metavar="N",
        help="with --catalogue: simulate N pairs per frame (where the app opens it); default 4, 0: none",
    )
    p.set_defaults(func=_synth)

    p = sub.add_parser(
        "placement", help="how the records' per-pattern classes are placed on the cubes (polygon fit)"
    )
    p.add_argument("root")
    p.add_argument("--frame", action="append", help="only this frame (repeatable)")
    p.add_argument("--pairs", action="store_true", help="one line per positive pair")
    p.set_defaults(func=_placement)

    p = sub.add_parser("render", help="a PNG of one pair's layers, through Datashader")
    p.add_argument("root")
    p.add_argument("--frame", required=True)
    p.add_argument("--primary", required=True, help="YYYYMMDD")
    p.add_argument("--secondary", required=True, help="YYYYMMDD")
    p.add_argument(
        "--layers",
        default="phase,mask",
        help=f"comma-separated, from {', '.join(schema.LAYERS)} (aliases: {', '.join(schema.LAYER_ALIASES)})",
    )
    p.add_argument("--out", required=True, help="PNG path")
    p.add_argument("--width", type=int, default=800, help="panel width, pixels")
    p.set_defaults(func=_render)

    p = sub.add_parser("history", help="saves and reverts of an annotation store, newest first")
    p.add_argument(
        "store", help="annotation store: a folder (ROOT/.thalia/annotations by default) or s3:// URL"
    )
    p.add_argument("--frame", help="only this frame")
    p.add_argument("--primary", help="with --frame and --secondary: only this pair (YYYYMMDD)")
    p.add_argument("--secondary", help="YYYYMMDD")
    p.set_defaults(func=_history)

    p = sub.add_parser("tag", help="label a version of an annotation store as a release")
    p.add_argument("store")
    p.add_argument("name", help="release name, e.g. labels-v1 (tags are immutable)")
    p.add_argument("--version", help="snapshot id (or a unique prefix) or tag; default: the latest version")
    p.set_defaults(func=_tag)

    p = sub.add_parser(
        "export", help="write the dataset corrected by an annotation store, in the Thalia layout"
    )
    p.add_argument("root", help="source dataset root")
    p.add_argument("out", help="output folder (must not exist, unless --overwrite)")
    p.add_argument("--store", help="annotation store (default: $THALIA_STORE, else ROOT/.thalia/annotations)")
    p.add_argument("--tag", help="version to export: tag or snapshot id (default: the latest)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=_export)

    p = sub.add_parser(
        "repair",
        help="write the zero chunks that zarr-python 2 reads as garbage (roots and prediction folders of earlier versions)",
        description="Fix in place a Zarr 2 dataset root (or a `predict --out` folder) written by earlier versions of "
        "thalia-viewer, whose all-zero mask chunks were never written: zarr-python 2 (the official Thalia loader) "
        "reads those as uninitialised memory. Writes only missing chunks, as zeros (what zarr 3 already reads); "
        "safe to run twice. `thalia-viewer validate ROOT` lists what it would fix.",
    )
    p.add_argument("root", help="local dataset root (or prediction folder) to repair in place")
    p.set_defaults(func=_repair)

    p = sub.add_parser("serve", help="serve the app (panel serve) on a dataset root")
    p.add_argument("root")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--show", action="store_true", help="open a browser")
    p.add_argument(
        "--store",
        help="annotation store (folder or s3://...); default: $THALIA_STORE, else ROOT/.thalia/annotations for a local root",
    )
    p.add_argument(
        "--roles",
        help="roles file (YAML: user or group -> viewer/annotator/reviewer/trainer/admin); "
        "needs a login: -- --basic-auth FILE or an OAuth provider",
    )
    p.add_argument(
        "--store-endpoint", help="URL of an S3-compatible server for an s3:// store (MinIO, Ceph, ...)"
    )
    p.add_argument("panel_args", nargs=argparse.REMAINDER, help="after --: extra `panel serve` options")
    p.set_defaults(func=_serve)

    p = sub.add_parser(
        "train", help="train or fine-tune a model (Thalia protocol); writes its card and weights"
    )
    p.add_argument("root", help="dataset root")
    p.add_argument(
        "--model",
        required=True,
        help="parent model: zoo name or card YAML (architecture; weights to start from)",
    )
    p.add_argument(
        "--out",
        required=True,
        help="name of the new model card (refused if a model has it, unless --overwrite)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the model named --out; its old card and weights move to ZOO/.backup/",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="check only: parent model and weights, --out free, labels, and read every training / validation sample once; train and write nothing",
    )
    p.add_argument(
        "--store",
        help="labels from an annotation store version, STORE@TAG (or STORE: its latest); default: the source masks",
    )
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--setting", choices=("base", "atmospheric"), help="input setting (default: the parent's)")
    p.add_argument(
        "--timesteps",
        type=int,
        choices=(1, schema.SEQUENCE_LENGTH),
        help="time steps (default: the parent's)",
    )
    p.add_argument(
        "--crop", type=int, default=schema.CROP_SIZE, help=f"crop side, px (default {schema.CROP_SIZE})"
    )
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument(
        "--lr", type=float, default=1e-5, help="AdamW learning rate (default 1e-5; fine-tunes may use more)"
    )
    p.add_argument(
        "--lr-drop",
        type=int,
        metavar="EPOCH",
        help="from this epoch on, train at lr / 10 (default: constant lr)",
    )
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--scratch", action="store_true", help="random initialisation, ignoring the parent's weights"
    )
    p.add_argument("--no-augment", action="store_true", help="no flips, rotations, blur or resized crops")
    p.add_argument(
        "--val-every", type=int, default=1, help="validate every N epochs (and after the last); default 1"
    )
    p.add_argument(
        "--keep-threshold",
        action="store_true",
        help="keep the parent's threshold (default: the one with the best validation IoU)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue from this run's last checkpoint (--epochs may grow)"
    )
    p.add_argument(
        "--workers", type=int, default=0, help="loader processes (default 0: read in the training process)"
    )
    p.add_argument("--device", help="cpu, cuda, cuda:N (default: CUDA when available)")
    p.add_argument(
        "--threads", type=int, help="torch CPU threads (default: torch's; 1 is steadier on a busy CPU)"
    )
    p.add_argument("--zoo", help="folder of the new card and weights (default: $THALIA_ZOO or ~/.thalia/zoo)")
    p.add_argument("--checkpoint-dir", help="default: ~/.cache/thalia-viewer/checkpoints/OUT")
    p.add_argument(
        "--eval-seeds",
        type=int,
        nargs="*",
        default=[0, 1, 2],
        help="crop seeds of the final test evaluation (none: skip)",
    )
    p.set_defaults(func=_train)

    p = sub.add_parser(
        "evaluate", help="precision / recall / F1 / IoU of a model on a split (the paper's Table 4)"
    )
    p.add_argument("root", help="dataset root")
    p.add_argument("--model", required=True, help="zoo name or card YAML (with weights)")
    p.add_argument("--split", default=schema.Split.TEST.value, choices=SPLITS)
    p.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="crop seeds (scores are mean ± std over them)"
    )
    p.add_argument(
        "--store", help="labels from an annotation store version, STORE@TAG; default: the source masks"
    )
    p.add_argument("--crop", type=int, help="crop side, px (default 512, or the smallest frame)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--device", help="cpu, cuda, cuda:N (default: CUDA when available)")
    p.add_argument("--json", help="also write the scores as JSON to this file")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser(
        "predict", help="predict deformation masks of every pair with a model, on Dask (resumable)"
    )
    p.add_argument("root", help="dataset root")
    p.add_argument("--model", required=True, help="zoo name or card YAML")
    p.add_argument(
        "--out",
        required=True,
        help="output folder: one Zarr store per frame, metrics.json (re-run to resume)",
    )
    p.add_argument("--frame", action="append", help="only this frame (repeatable)")
    p.add_argument("--split", choices=SPLITS, help="only pairs of this benchmark split")
    p.add_argument(
        "--weights",
        help="weights file instead of the card's (safetensors, or an official .pt/.pth checkpoint)",
    )
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://HOST:8786); default: a local cluster")
    p.add_argument("--workers", type=int, help="workers of the local cluster (default 2)")
    p.add_argument(
        "--threads", action="store_true", help="local workers as threads of this process, not processes"
    )
    p.add_argument(
        "--zoo",
        help="extra folder of model cards (default: the packaged zoo and $THALIA_ZOO or ~/.thalia/zoo)",
    )
    p.set_defaults(func=_predict)

    from .core.query import help_text

    p = sub.add_parser(
        "search",
        help="find pairs across the whole catalogue with a query (see --help)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="query language:\n" + help_text().replace("``", ""),
    )
    p.add_argument("root", help="dataset root")
    p.add_argument(
        "query",
        help="e.g. 'activity:Dyke intensity:High year:2018' or 'sill \"near the summit\"' (\"\" lists every pair)",
    )
    _catalog_options(p)
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="the matching pairs as JSON")
    form.add_argument("--csv", action="store_true", help="the matching pairs as CSV")
    p.add_argument("--limit", type=int, default=0, help="show at most N pairs (default: all)")
    p.add_argument(
        "--facets", action="store_true", help="also counts per facet (label, activity, flag, frame, ...)"
    )
    p.add_argument("--all-columns", action="store_true", help="every catalogue column in CSV / JSON")
    p.set_defaults(func=_search)

    p = sub.add_parser(
        "stats", help="dataset statistics: pairs per frame, class balance, flags, positives over time"
    )
    p.add_argument("root", help="dataset root")
    p.add_argument("--query", default="", help="statistics of the pairs matching this search query only")
    _catalog_options(p)
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="every table as JSON")
    form.add_argument("--csv", metavar="DIR", help="write one CSV per table into DIR")
    p.set_defaults(func=_stats)
    return parser


def _catalog_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        help="annotation store whose corrections count (default: $THALIA_STORE, else ROOT/.thalia/annotations, if it exists)",
    )
    p.add_argument(
        "--review",
        metavar="DIR",
        help="a `thalia-viewer predict --out` folder: adds the model's scores (model:, disagree:, iou ...)",
    )


def _warning_printer(command: str) -> Callable[..., None]:
    """Warnings of the project's own kinds as one line each (``thalia-viewer CMD: warning: ...``); others as usual."""
    default = warnings.showwarning

    def show(
        message: Warning | str, category: type[Warning], filename: str, lineno: int, file=None, line=None
    ) -> None:
        if category.__module__.startswith("thalia_viewer"):
            print(f"thalia-viewer {command}: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    return show


#: Library errors name the API argument as ``name=VALUE`` (``name=True`` for a switch); the CLI reports its
#: flag instead (``--flag VALUE``, ``--flag``). Arguments whose flag is not ``--`` + the name with dashes:
API_FLAGS: dict[str, str] = {
    "n_frames": "--frames",
    "shape": "--size",
    "n_dates": "--dates",
    "n_workers": "--workers",
    "model_name": "--model",
}
#: API arguments that library errors name (``name=``), translated for the CLI.
API_ARGUMENTS = (
    "n_frames",
    "shape",
    "n_dates",
    "zarr_format",
    "overwrite",
    "size",
    "crop",
    "epochs",
    "lr",
    "lr_drop",
    "out",
    "n_workers",
    "model_name",
    "batch_size",
    "num_workers",
    "val_every",
    "timesteps",
    "resume",
    "scratch",
    "setting",
    "split",
    "weights",
    "workers",
    "scheduler",
)


def cli_text(text: str) -> str:
    """``text`` of a library error with each API argument (``crop=256``, ``overwrite=True``) spelt as the CLI
    flag that sets it (``--crop 256``, ``--overwrite``)."""
    import re

    def flag(match: re.Match[str]) -> str:
        name, switch, pair = match.group(1), match.group(2), match.group(3)
        option = API_FLAGS.get(name, "--" + name.replace("_", "-"))
        if switch:
            return option
        if pair:
            return f"{option} {pair.replace(',', '')}"
        rest = match.string[match.end() : match.end() + 1]
        return option + " " if rest and not rest.isspace() and rest not in ".,;:)" else option

    names = "|".join(sorted(API_ARGUMENTS, key=len, reverse=True))
    # name=True: a switch; name=(a, b): a flag of two values (--size H W)
    return re.sub(rf"(?<![\w.-])({names})=(?:(True)\b|\((\d+, \d+)\))?", flag, text)


def _write_bug_report(command: str, argv: Sequence[str] | None) -> str:
    """Write the current exception's full traceback (chained causes included) to a new file; its path."""
    import tempfile
    import traceback

    from . import __version__

    fd, path = tempfile.mkstemp(prefix="thalia-viewer-bug-", suffix=".txt")
    with open(fd, "w", encoding="utf-8") as out:
        out.write(f"thalia-viewer {__version__}, command: {command}\n")
        out.write(f"argv: {list(sys.argv[1:] if argv is None else argv)!r}\n\n")
        out.write(traceback.format_exc())
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; exit 0 on success, 2 on bad input or an invalid dataset (a :class:`ThaliaError`, or a
    file the system refuses), 3 on a bug (anything else: its traceback goes to a file), 130 when interrupted.
    ``--debug`` raises instead, so the traceback shows every chained cause."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(args.command)
            return func(args)
    except ThaliaError as exc:
        if args.debug:
            raise
        print(f"thalia-viewer {args.command}: error: {cli_text(str(exc))}", file=sys.stderr)
        return EXIT_PROBLEM
    except (
        FileNotFoundError,
        FileExistsError,
        PermissionError,
        IsADirectoryError,
        NotADirectoryError,
    ) as exc:
        # the system refused a path the user gave (or a disk is read-only): the user's to fix, not a bug
        if args.debug:
            raise
        print(f"thalia-viewer {args.command}: error: {cli_text(str(exc))}", file=sys.stderr)
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        print(f"thalia-viewer {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug, not bad input: say so, in one paragraph, with where the traceback is
        if args.debug:
            raise
        try:
            where = f"The full traceback is in {_write_bug_report(args.command, argv)}"
        except OSError:
            where = "Rerun with --debug for the full traceback"
        detail = (str(exc).splitlines() or [""])[0][:300]
        print(
            f"thalia-viewer {args.command}: internal error: {type(exc).__name__}: {detail}\n"
            f"This is a bug in thalia-viewer, not a problem with your input; please report it. {where} "
            f"(attach it to the report).",
            file=sys.stderr,
        )
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
