"""Predict every pair of a dataset on Dask distributed: one task per pair (or per benchmark sequence).

Output folder ``OUT``::

    OUT/run.json                         the model card and dataset of this run (a resume must match)
    OUT/<frame_id>.zarr                  predicted deformation_mask, uint8, Thalia dims (primary_date,
                                         secondary_date, y, x), Zarr 2 + consolidated: ``xr.open_zarr`` reads it
    OUT/pairs/<frame_id>/<P>_<S>.json    one task's scores (vs the labels), written last: the "done" marker
    OUT/metrics.json                     per-pair and aggregate scores, written at the end

Every task writes whole chunks of its own pair cell only (chunks are one cell deep), so parallel tasks
never touch the same chunk, and the store's metadata is written once, by the client, before any task.
A sequence's prediction (time-series models) is stored at the cell of its last pair. Pairs whose marker
exists are skipped, so an interrupted run resumes where it stopped. ``root``, ``OUT`` and the weights
must be reachable from every worker (a shared filesystem, or object storage for ``root``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypedDict

import numpy as np

from ..core import schema
from ..core.dataset import ThaliaDataset
from ..core.errors import did_you_mean
from ..core.pairs import Pair
from ..core.repair import RepairReport, StoreCells, repair_stores
from ..core.zarr_write import CHUNK_PX, open_array, write_template
from .errors import PredictionOutputError
from .files import write_text
from .metrics import Aggregate, Confusion, Scores, aggregate
from .zoo import ModelCard, ModelZoo, load_model, resolve_card

RUN_FILE: Final = "run.json"
METRICS_FILE: Final = "metrics.json"


class PairSummary(TypedDict):
    """One predicted pair (or sequence) in ``metrics.json``."""

    pairs: list[str]  # Pair keys, FRAME/PRIMARY_SECONDARY
    metrics: Scores | None  # None where the pair has no labels
    deformation_pixels: int


class PredictionSummary(TypedDict):
    """What :func:`predict_dataset` returns and writes to ``OUT/metrics.json``."""

    model: str
    units: int  # pairs (or sequences) planned
    predicted: int  # of them, predicted (this run or an earlier one)
    failed: dict[str, str]  # unit key -> why it failed
    aggregate: Aggregate  # over every labelled unit
    frames: dict[str, Aggregate]  # per frame id
    pairs: dict[str, PairSummary]  # per unit key


PAIRS_DIR: Final = "pairs"
DEFAULT_WORKERS: Final = 2
#: The prediction stores' class codes: the deformation mask's none and deformation (model outputs are binary).
FLAG_MEANINGS: Final = " ".join(f"{c.code}={c.name}" for c in schema.DEFORMATION_CLASSES[:2])

BatchProgress = Callable[[int, int, str], None]  # (units done, units in all, last unit's key)


@dataclass(frozen=True)
class Unit:
    """One task: the pairs a model takes for one prediction, and where its mask goes."""

    frame: str
    pairs: tuple[Pair, ...]
    cell: tuple[int, int]  # (primary index, secondary index) of the last pair in the frame's date grid

    @property
    def key(self) -> str:
        """The stored pair's key, ``FRAME/PRIMARY_SECONDARY``."""
        return self.pairs[-1].key

    def marker(self, out: Path) -> Path:
        """The unit's scores JSON (written last)."""
        p = self.pairs[-1]
        return out / PAIRS_DIR / p.frame / f"{p.name}.json"


# --------------------------------------------------------------------------------------- planning
def plan_units(
    ds: ThaliaDataset, card: ModelCard, frames: Iterable[str] | None = None, split: str | None = None
) -> list[Unit]:
    """The tasks of a run: each valid pair (1 time step) or each benchmark sequence (3), by frame and date."""
    if split is not None and split not in {s.value for s in schema.Split}:
        splits = [s.value for s in schema.Split]
        msg = f"unknown split={split!r}.{did_you_mean(split, splits)}"
        raise PredictionOutputError(
            msg, f"Splits: {', '.join(splits)}; leave split= out to predict every pair."
        )
    units: list[Unit] = []
    for frame_id in frames or ds.frames:
        frame = ds.frame(frame_id)
        pairs = ds.pairs([frame_id], split=split)
        seqs: list[tuple[Pair, ...]]
        if card.timesteps == 1:
            seqs = [(p,) for p in pairs]
        else:
            seqs = [
                s
                for primary in sorted({p.primary for p in pairs})
                for s in frame.sequences(primary, card.timesteps)
            ]
        for seq in seqs:
            units.append(Unit(frame_id, tuple(seq), frame.cell(seq[-1])))
    return units


def _ensure_store(ds: ThaliaDataset, frame_id: str, path: Path, card: ModelCard) -> None:
    """Create the frame's output store (metadata only) unless it exists with the same grid."""
    import xarray as xr

    frame = ds.frame(frame_id)
    src = frame.ds
    dims = (schema.PRIMARY, schema.SECONDARY, frame.y_dim, frame.x_dim)
    shape = tuple(int(src.sizes[d]) for d in dims)
    if path.exists():
        try:
            have = xr.open_zarr(path, chunks=None)[
                schema.DEFORMATION_MASK
            ]  # metadata only: no graph over the grid
        except Exception as exc:
            msg = f"{path} exists but is not a prediction store ({type(exc).__name__}: {exc})."
            raise PredictionOutputError(msg, "Remove it, or pick another out= folder.") from exc
        if tuple(have.shape) != shape:
            msg = f"{path} holds a grid of {tuple(have.shape)}, not the frame's {shape}."
            raise PredictionOutputError(msg, "Remove it, or pick another out= folder.")
        return
    import dask.array as da

    chunks = (1, 1, min(CHUNK_PX, shape[2]), min(CHUNK_PX, shape[3]))
    coords = {d: src[d] for d in dims}
    if schema.SPATIAL_REF in src.coords:
        coords[schema.SPATIAL_REF] = src[schema.SPATIAL_REF]
    mask = xr.DataArray(
        da.zeros(shape, dtype=np.uint8, chunks=shape),
        dims=dims,
        coords=coords,  # one lazy chunk, never computed:
        # a graph over the grid's 1.6 M chunks took 400 s at real scale; encoding["chunks"] sets the Zarr chunks
        attrs={
            "long_name": "predicted deformation mask",
            "flag_meanings": FLAG_MEANINGS,
            "model": card.name,
            "threshold": card.threshold,
        },
    )
    out = xr.Dataset({schema.DEFORMATION_MASK: mask}, attrs={"frame_id": frame_id, "model": card.name})
    tmp = path.with_name(f".{path.name}.partial")
    write_template(out, tmp, zarr_format=2, chunks={schema.DEFORMATION_MASK: chunks})
    os.replace(tmp, path)


def _check_run(out: Path, card: ModelCard, root: str) -> None:
    """Write ``run.json``, or check that the folder's earlier run used the same model and dataset."""
    run = {
        "model": card.name,
        "weights": str(card.weights_path) if card.weights_path else None,
        "root": root,
        "card": card.to_dict(),
    }
    path = out / RUN_FILE
    if path.exists():
        try:
            before = json.loads(path.read_text())
        except (OSError, ValueError):
            before = {}
        for key in ("model", "weights", "root"):
            if before.get(key) != run[key]:
                msg = f"{out} holds predictions of another run ({key} {before.get(key)!r}, now {run[key]!r})."
                raise PredictionOutputError(
                    msg, "Pick another out= folder, or delete this one to start over."
                )
        return
    _write_json(path, run)


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    write_text(path, json.dumps(data, indent=1, default=str))


# ------------------------------------------------------------------------------------ worker side
_LOCK = threading.Lock()
_PREDICTORS: dict[str, Any] = {}
_DATASETS: dict[str, ThaliaDataset] = {}


def _predictor(card_data: dict[str, Any], threads: int | None) -> Any:
    """The process's predictor of this card (built once per worker process)."""
    from .inference import Predictor
    from .torch_env import import_torch

    key = json.dumps(card_data, sort_keys=True, default=str)
    with _LOCK:
        if key not in _PREDICTORS:
            if threads:
                import_torch().set_num_threads(threads)
            card = ModelCard.from_dict(card_data, source=f"card of {card_data.get('name')}")
            _PREDICTORS[key] = Predictor(card)
        return _PREDICTORS[key]


def _dataset(root: str, storage_options: dict[str, Any] | None) -> ThaliaDataset:
    with _LOCK:
        if root not in _DATASETS:
            _DATASETS[root] = ThaliaDataset(root, storage_options)
        return _DATASETS[root]


def predict_unit(
    root: str,
    storage_options: dict[str, Any] | None,
    card_data: dict[str, Any],
    unit: Unit,
    out: str,
    threads: int | None = None,
) -> dict[str, Any]:
    """Predict one unit, write its mask into its cell of ``OUT/<frame>.zarr``, then its marker JSON."""
    import dask

    start = time.perf_counter()
    predictor = _predictor(card_data, threads)
    # reads inside a task must not go back to the cluster: with every worker busy that would deadlock
    with dask.config.set(scheduler="threads"):
        frame = _dataset(root, storage_options).frame(unit.frame)
        result = predictor.predict_pair(frame, unit.pairs)
    # an all-zero prediction is written too: zarr-python 2 would read a missing chunk as garbage
    array = open_array(Path(out) / f"{unit.frame}{schema.STORE_SUFFIX}" / schema.DEFORMATION_MASK)
    array[unit.cell[0], unit.cell[1]] = result.mask
    record = {
        "key": unit.key,
        "frame": unit.frame,
        "pairs": [p.key for p in unit.pairs],
        "model": predictor.card.name,
        "metrics": result.metrics,
        "deformation_pixels": int(result.mask.sum()),
        "seconds": time.perf_counter() - start,
    }
    _write_json(unit.marker(Path(out)), record)
    return record


# ------------------------------------------------------------------------------------ client side
def _client(client: Any, n_workers: int | None, processes: bool) -> tuple[Any, bool, int | None]:
    """(a distributed client, whether we own it, torch threads per worker or None)."""
    from distributed import Client, LocalCluster

    if client is not None and not isinstance(client, str | int):
        return client, False, None
    if isinstance(client, str):
        try:
            return Client(client, timeout="20s"), True, None
        except OSError as exc:
            msg = f"cannot reach the Dask scheduler at {client!r} ({exc})."
            raise PredictionOutputError(
                msg, "Check the address (tcp://HOST:8786), or pass n_workers= for a local cluster."
            ) from exc
    workers = int(client) if isinstance(client, int) else (n_workers or DEFAULT_WORKERS)
    # worker processes share the cores; worker threads share this process's torch (leave its setting alone)
    threads = max(1, (os.cpu_count() or 1) // workers) if processes else None
    where = {"host": "127.0.0.1"} if processes else {}  # threads talk in-process ("inproc://")
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
        **where,  # a failed pair is reported by the run (metrics.json, exit 2), not as a worker traceback
    )
    return Client(cluster), True, threads


def predict_dataset(
    root: str | os.PathLike[str],
    model_name: str | os.PathLike[str] | ModelCard,
    frames: Sequence[str] | None = None,
    split: str | None = None,
    out: str | os.PathLike[str] = "predictions",
    client: Any = None,
    n_workers: int | None = None,
    *,
    processes: bool = True,
    zoo: ModelZoo | None = None,
    weights: str | os.PathLike[str] | None = None,
    storage_options: dict[str, Any] | None = None,
    progress: BatchProgress | None = None,
) -> PredictionSummary:
    """Predict the pairs of ``root`` (some ``frames``, one ``split``) with a model into ``out``.

    ``model_name``: a zoo name, a card YAML path or a card; ``weights`` replaces the card's weights file.

    ``client``: a ``distributed.Client``, a scheduler address, a worker count, or ``None`` for a
    ``LocalCluster`` of ``n_workers`` (processes unless ``processes=False``). Returns the final metrics
    (also written to ``OUT/metrics.json``); tasks that failed are listed under ``failed``.
    """
    ds = ThaliaDataset(root, storage_options)
    card = resolve_card(model_name, zoo)
    load_model(
        card, device="cpu", weights=weights
    )  # fail early (missing / unsafe / mismatched), not per task
    if weights is not None:
        card = card.with_weights(weights)
    if frames:
        for f in frames:
            ds.frame(f)  # unknown frame -> DatasetNotFoundError listing them
    out = Path(out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    _check_run(out, card, ds.root)
    units = plan_units(ds, card, frames, split)
    for frame_id in dict.fromkeys(u.frame for u in units):
        _ensure_store(ds, frame_id, out / f"{frame_id}{schema.STORE_SUFFIX}", card)
    pending = [u for u in units if not u.marker(out).exists()]
    total, done = len(units), len(units) - len(pending)
    if progress:
        progress(done, total, "")
    failed: dict[str, str] = {}
    if pending:
        card_data = {**card.to_dict(), "weights": str(card.weights_path)}
        dask_client, owned, threads = _client(client, n_workers, processes)
        try:
            from distributed import as_completed

            futures = {
                dask_client.submit(
                    predict_unit,
                    ds.root,
                    storage_options,
                    card_data,
                    u,
                    str(out),
                    threads,
                    key=f"predict-{u.key}-{card.name}",
                    pure=False,
                ): u
                for u in pending
            }
            for future in as_completed(futures):
                unit = futures[future]
                try:
                    future.result()
                except Exception as exc:  # one bad pair must not stop the others
                    failed[unit.key] = f"{type(exc).__name__}: {exc}"
                done += 1
                if progress:
                    progress(done, total, unit.key)
        finally:
            if owned:
                cluster = getattr(dask_client, "cluster", None)
                dask_client.close()
                if cluster is not None:
                    cluster.close()
    return write_metrics(out, units, card, failed)


def write_metrics(
    out: Path, units: Sequence[Unit], card: ModelCard, failed: dict[str, str] | None = None
) -> PredictionSummary:
    """Gather the markers of ``units`` into ``OUT/metrics.json``: per pair, per frame and overall."""
    per_pair: dict[str, PairSummary] = {}
    by_frame: dict[str, list[Confusion]] = {}
    for u in units:
        marker = u.marker(out)
        if not marker.exists():
            continue
        record = json.loads(marker.read_text())
        per_pair[u.key] = {
            "pairs": record["pairs"],
            "metrics": record["metrics"],
            "deformation_pixels": record["deformation_pixels"],
        }
        if record["metrics"] is not None:
            by_frame.setdefault(u.frame, []).append(Confusion.from_dict(record["metrics"]))
    everything = [c for cs in by_frame.values() for c in cs]
    result: PredictionSummary = {
        "model": card.name,
        "units": len(units),
        "predicted": len(per_pair),
        "failed": dict(failed or {}),
        "aggregate": aggregate(everything),
        "frames": {f: aggregate(cs) for f, cs in by_frame.items()},
        "pairs": per_pair,
    }
    _write_json(out / METRICS_FILE, result)
    return result


def repair_predictions(out: str | os.PathLike[str]) -> RepairReport:
    """Write the all-zero chunks of predicted pairs that earlier versions left unwritten, in ``OUT``'s stores.

    The predicted pairs are those with a marker (``OUT/pairs/<frame>/<P>_<S>.json``); see
    :mod:`thalia_viewer.core.repair` for how (never over an existing chunk; idempotent).
    """
    import xarray as xr

    folder = Path(out).expanduser().absolute()
    if not (folder / RUN_FILE).is_file():
        msg = f"{folder} is not a prediction folder (no {RUN_FILE})."
        raise PredictionOutputError(
            msg, "Point repair at a dataset root or at a `thalia-viewer predict --out` folder."
        )
    stores = []
    for path in sorted(folder.glob(f"*{schema.STORE_SUFFIX}")):
        frame_id = path.name.removesuffix(schema.STORE_SUFFIX)
        with xr.open_zarr(path, chunks=None) as ds:
            primaries = [schema.format_date(d) for d in ds[schema.PRIMARY].values]
            secondaries = [schema.format_date(d) for d in ds[schema.SECONDARY].values]
        cells = []
        for marker in sorted((folder / PAIRS_DIR / frame_id).glob("*.json")):
            try:
                pair = Pair.parse(marker.stem, frame=frame_id)
            except ValueError:
                continue  # not a marker of ours
            p, s = pair.primary, pair.secondary
            if p in primaries and s in secondaries:
                cells.append((primaries.index(p), secondaries.index(s)))
        stores.append(StoreCells(path, frame_id, cells, primaries, secondaries))
    return repair_stores(str(folder), stores)
