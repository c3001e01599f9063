"""A Thalia dataset root: ``<frame_id>.zarr`` stores plus ``annotations.json`` and ``quality_timeseries.json``.

Dataset features: one Zarr store per Sentinel-1 frame, a dense primary x secondary grid of interferograms
of which only real pairs are filled (the others are NaN fill or unwritten chunks); ``quality_timeseries.json``
lists the usable pairs (corrupted, processing-error and no-info pairs dropped), else the non-empty cells are.
Names, codes and classes of the format: ``schema``.

>>> ds = ThaliaDataset(root)                      # a folder, or an fsspec URL (s3://..., https://...)
>>> ds.frames
['124D_05291_081406', '144A_SM_REUN_S6']
>>> frame = ds["124D_05291_081406"]                # ds.frame(frame_id)
>>> frame.shape, len(frame), len(frame.positives)   # (rows, columns) px; valid pairs; positive pairs
((160, 192), 18, 11)
>>> pair = frame.pairs[0]
>>> pair
Pair(frame='124D_05291_081406', primary='20180218', secondary='20180302')
>>> phase = frame.layer(pair, "phase")              # lazy 2-D DataArray, radians
>>> phase.dims, phase.attrs["units"]
(('y', 'x'), 'rad')
>>> ds[pair]                                         # the pair bound to its frame (core.view.PairView)
<PairView 124D_05291_081406/20180218_20180302: 12 days, train, Deformation, 160 x 192 px>
>>> len(ds.pairs(split="test"))                      # valid pairs of a benchmark split, every frame
12
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Iterator
from functools import cached_property, partial
from typing import Any, overload

import xarray as xr

from . import schema
from .display import date_range, grid_table
from .errors import (
    AnnotationFileError,
    DatasetNotFoundError,
    NotAThaliaStoreError,
    PairNotFoundError,
    SchemaError,
    did_you_mean,
)
from .frame import Frame
from .io import Location
from .pairs import Pair
from .view import PairView

#: Frames listed (opened) by a dataset's repr.
REPR_FRAMES = 20


class ThaliaDataset:
    """A dataset root, local or remote (any fsspec URL), opened lazily."""

    def __init__(self, root: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> None:
        self.location = Location(root, storage_options)
        self.root = self.location.url
        if not self.location.exists():
            msg = f"dataset root {self.root} does not exist."
            raise DatasetNotFoundError(
                msg, "Check the path or URL, or generate a synthetic dataset with `thalia-viewer synth PATH`."
            )
        if self.location.is_local and not os.path.isdir(self.location.path):
            msg = f"dataset root {self.root} is not a folder."
            raise NotAThaliaStoreError(
                msg, "Give the folder that holds the <frame_id>.zarr stores and annotations.json."
            )
        self._frames: dict[str, Frame] = {}

    def __repr__(self) -> str:
        rows = self._frame_rows()
        lines = [f"<ThaliaDataset {self.root}: {len(self.frames)} frames>"]
        widths = [max((len(r[i]) for r in rows), default=0) for i in range(4)]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        if len(self.frames) > len(rows):
            lines.append(f"  ... and {len(self.frames) - len(rows)} more frames")
        lines.append(
            f"  {schema.ANNOTATIONS_FILE}: {len(self.annotations)} records; {schema.QUALITY_FILE}: "
            f"{'present' if self.quality is not None else 'absent'}"
        )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = self._frame_rows()
        more = len(self.frames) - len(rows)
        return (
            f"<div class='thalia-dataset'><b>ThaliaDataset</b> {html.escape(self.root)}: {len(self.frames)} frames, "
            f"{len(self.annotations)} records in {schema.ANNOTATIONS_FILE}"
            + grid_table(("frame", "size", "pairs", "primary dates"), rows)
            + (f"<p>... and {more} more frames</p>" if more > 0 else "")
            + "</div>"
        )

    def _frame_rows(self) -> list[tuple[str, str, str, str]]:
        """One row per frame (the first :data:`REPR_FRAMES`): id, size, pairs (positive), primary dates."""
        rows = []
        for fid in self.frames[:REPR_FRAMES]:
            f = self.frame(fid)
            rows.append(
                (
                    fid,
                    f"{f.shape[0]} x {f.shape[1]} px",
                    f"{len(f.pairs)} pairs ({len(f.positives)} positive)",
                    date_range(f.primary_dates),
                )
            )
        return rows

    # ------------------------------------------------------------------------------ notebook access
    @overload
    def __getitem__(self, key: Pair | PairView | tuple[str, str, str]) -> PairView: ...
    @overload
    def __getitem__(self, key: str) -> Frame | PairView: ...

    def __getitem__(self, key: str | Pair | PairView | tuple[str, str, str]) -> Frame | PairView:
        """``ds[frame_id]``: a frame; ``ds[pair]``, ``ds["FRAME/P_S"]`` or ``ds[frame_id, primary, secondary]``:
        a :class:`PairView`."""
        if isinstance(key, str) and "/" not in key:
            return self.frame(key.strip())
        return self.view(key)

    def view(self, pair: Pair | PairView | str | tuple[str, str, str]) -> PairView:
        """The valid pair ``pair`` (a :class:`Pair`, ``"FRAME/P_S"`` or ``(frame, primary, secondary)``) bound to
        its frame: its layers, masks, record and figure."""
        if isinstance(pair, PairView):
            pair = pair.pair
        if isinstance(pair, str):
            try:
                pair = Pair.parse(pair)
            except ValueError as exc:
                raise PairNotFoundError(str(exc), "Name a pair FRAME/PRIMARY_SECONDARY.") from exc
        elif isinstance(pair, tuple):
            if len(pair) != 3:
                msg = f"a pair of the dataset is (frame, primary, secondary); got {len(pair)} values."
                raise PairNotFoundError(msg, "Pass a frame id and two YYYYMMDD dates.")
            pair = self.resolve(*pair)
        elif not isinstance(pair, Pair):
            msg = f"a pair is a Pair, 'FRAME/PRIMARY_SECONDARY' or (frame, primary, secondary); got {type(pair).__name__}."
            raise TypeError(msg)
        return self.frame(pair.frame).view(pair)

    def __iter__(self) -> Iterator[str]:
        """Frame ids, sorted (``ds[frame_id]`` opens each)."""
        return iter(self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str) and "/" not in key:
            return key in self.frames
        if isinstance(key, str):
            try:
                key = Pair.parse(key)
            except ValueError:
                return False
        return isinstance(key, Pair) and key.frame in self.frames and key in self.frame(key.frame)

    # ------------------------------------------------------------------------------------- content
    @cached_property
    def annotations(self) -> dict[str, schema.AnnotationRecord]:
        """``annotations.json``: records keyed by ``str(uniqueID)`` (empty when the file is absent)."""
        data = self.location.read_json(schema.ANNOTATIONS_FILE, required=False)
        if data is None:
            return {}
        where = self.location.join(schema.ANNOTATIONS_FILE)
        if not isinstance(data, dict):
            msg = f"{where} holds a {type(data).__name__}; expected an object keyed by uniqueID."
            raise AnnotationFileError(msg, "Restore the file from the original distribution.")
        for key, rec in data.items():
            if not isinstance(rec, dict):
                msg = f"{where}: record {key!r} is a {type(rec).__name__}; expected an object."
                raise AnnotationFileError(msg, "Fix or remove that record.")
            missing = [f for f in ("frameID", "primary_date", "secondary_date") if f not in rec]
            if missing:
                msg = f"{where}: record {key!r} lacks {', '.join(missing)}."
                raise AnnotationFileError(msg, "Every record names its frame and both dates (YYYYMMDD).")
        return data

    @cached_property
    def quality(self) -> dict[str, dict] | None:
        """``quality_timeseries.json`` (frame -> primary -> ``{length, secondary_date, uniqueID}``), or ``None``."""
        data = self.location.read_json(schema.QUALITY_FILE, required=False)
        if data is not None and not (
            isinstance(data, dict) and all(isinstance(v, dict) for v in data.values())
        ):
            msg = f"{self.location.join(schema.QUALITY_FILE)} is not frame -> primary date -> group."
            raise AnnotationFileError(msg, "Restore the file, or delete it to fall back to the annotations.")
        return data

    @cached_property
    def _records_by_frame(self) -> dict[str, dict[tuple[str, str], schema.AnnotationRecord]]:
        index: dict[str, dict[tuple[str, str], schema.AnnotationRecord]] = {}
        for key, rec in self.annotations.items():
            try:
                cell = (schema.format_date(rec["primary_date"]), schema.format_date(rec["secondary_date"]))
            except ValueError as exc:
                msg = f"{self.location.join(schema.ANNOTATIONS_FILE)}: record {key!r}: {exc}."
                raise AnnotationFileError(msg, "Dates are YYYYMMDD strings.") from exc
            index.setdefault(str(rec["frameID"]), {})[cell] = rec
        return index

    @cached_property
    def frames(self) -> list[str]:
        """Frame ids: the ``*.zarr`` stores at the root (or, where it cannot be listed, those the JSON files name)."""
        entries = self.location.listdir()
        if entries is not None:
            found = [e[: -len(schema.STORE_SUFFIX)] for e in entries if e.endswith(schema.STORE_SUFFIX)]
        else:
            named = set(self.quality or {}) | set(self._records_by_frame)
            found = [f for f in named if self.location.exists(f + schema.STORE_SUFFIX)]
        return sorted(found)

    def require_frames(self) -> list[str]:
        """The frame ids; :class:`DatasetNotFoundError` when the root holds no frame store."""
        if not self.frames:
            entries = self.location.listdir()
            held = (
                f" (it holds {', '.join(entries[:5])}{', ...' if len(entries) > 5 else ''})"
                if entries
                else " (it is empty)"
            )
            msg = f"dataset root {self.root} holds no <frame_id>{schema.STORE_SUFFIX} store{held}."
            raise DatasetNotFoundError(
                msg,
                "Point to the folder that holds the frame stores, or generate one with `thalia-viewer synth PATH`.",
            )
        return self.frames

    def frame(self, frame_id: str) -> Frame:
        """The frame store ``frame_id``, opened lazily (cached)."""
        if frame_id not in self._frames:
            if frame_id not in self.frames:
                msg = f"no frame {frame_id!r} in {self.root} (frames: {', '.join(self.frames) or 'none'})."
                raise DatasetNotFoundError(msg, "Pick one of the listed frames.")
            name = frame_id + schema.STORE_SUFFIX
            ds = self.location.open_zarr(name)  # lazy backend indexing: a pair read costs its own chunks
            quality = None if self.quality is None else self.quality.get(frame_id, {})
            self._frames[frame_id] = Frame(
                frame_id,
                ds,
                quality,
                self._records_by_frame.get(frame_id, {}),
                source=self.location.join(name),
                stored_cells=partial(self.location.stored_cells, name, schema.PHASE),
            )
        return self._frames[frame_id]

    def cube(self, frame_id: str) -> xr.Dataset:
        """The whole store of ``frame_id`` as dask arrays with the on-disk chunks, for work over the whole cube
        (statistics over every pair, ``xr.map_blocks``). Its graph holds every chunk of the date grid: read
        pairs through :meth:`frame` instead."""
        if frame_id not in self.frames:
            msg = f"no frame {frame_id!r} in {self.root} (frames: {', '.join(self.frames) or 'none'})."
            raise DatasetNotFoundError(msg, "Pick one of the listed frames.")
        return self.location.open_zarr(frame_id + schema.STORE_SUFFIX, chunks={})

    # --------------------------------------------------------------------------------------- pairs
    def pairs(self, frames: Iterable[str] | None = None, split: str | None = None) -> list[Pair]:
        """Valid pairs of some frames (all by default), optionally of one benchmark split (``train``, ``val``,
        ``test``; another name raises :class:`SchemaError` with a suggestion)."""
        if split is not None and split not in schema.Split.__members__.values():
            splits = [s.value for s in schema.Split]
            raise SchemaError(
                f"unknown split {split!r}.{did_you_mean(split, splits)}", f"Splits: {', '.join(splits)}."
            )
        out: list[Pair] = []
        for f in frames or self.frames:
            out += [p for p in self.frame(f).pairs if split is None or p.split == split]
        return out

    def annotation(self, pair: Pair) -> schema.AnnotationRecord | None:
        """The annotation record of ``pair``, if any."""
        return self._records_by_frame.get(pair.frame, {}).get((pair.primary, pair.secondary))

    def resolve(self, frame: str, primary: str, secondary: str) -> Pair:
        """A valid pair from user input, with an error that lists what exists otherwise."""
        for name, value in (("primary", primary), ("secondary", secondary)):
            try:
                schema.parse_date(value)
            except ValueError as exc:
                raise PairNotFoundError(
                    f"--{name} {value!r} is not a date.", "Dates are YYYYMMDD, e.g. 20190115."
                ) from exc
        return self.frame(frame).pair(primary, secondary)


def open_dataset(
    root: str | os.PathLike[str], storage_options: dict[str, Any] | None = None
) -> ThaliaDataset:
    """Open a Thalia dataset root (local folder or fsspec URL)."""
    return ThaliaDataset(root, storage_options)
