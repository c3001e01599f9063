"""One frame store (``<frame_id>.zarr``): lazy layers of its pairs, whatever the store's dialect.

Tolerates what the real distribution (1.7 TB, 38 frames) leaves open: spatial dims ``y/x`` or ``lat/lon`` (the last
two dims of ``insar_difference``), Zarr 2 or 3, coherence 0-255 or 0-1, NaN or 0 no-data, integer or float
masks, ERA5 variables with one date dim or both, the project's activity / intensity rasters absent.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from functools import cached_property
from typing import Any, cast

import dask
import numpy as np
import xarray as xr

from . import schema
from .display import date_range, facts_table
from .errors import (
    CorruptChunkError,
    MissingVariableError,
    NotAThaliaStoreError,
    PairNotFoundError,
    SchemaError,
    ThaliaError,
)
from .io import CHUNK_ERRORS
from .pairs import Pair
from .pairs import sequences as _sequences
from .pairs import timeseries as _timeseries
from .placement import FrameFit, Placement, estimate_fit, place, record_entries, record_polygons
from .placement import Status as PlacementStatus
from .view import PairView

#: Fraction of exact zeros in a pair's coherence above which zeros are taken for no-data.
ZERO_NODATA_FRACTION = 0.005
#: Side (px) of the central window sampled to tell the coherence scale and the no-data convention.
SAMPLE_PX = 512
PLACEMENT_CACHE = 3  # pairs whose placed class rasters are kept (activity and intensity are read apart)
#: Set while :meth:`Frame.read` builds its layers: variables are then read into memory at once.
_EAGER: ContextVar[bool] = ContextVar("thalia_frame_eager", default=False)


@contextlib.contextmanager
def eager_reads() -> Iterator[None]:
    """Inside it, :meth:`Frame.layer` reads its variables into memory at once, as :meth:`Frame.read` does
    (xarray's lazy backend indexing: one Zarr read of the chunks, no dask graph); for whole-layer reads."""
    token = _EAGER.set(True)
    try:
        yield
    finally:
        _EAGER.reset(token)


class Frame:
    """A lazily opened frame store with its valid pairs and their annotation records.

    ``ds`` is best opened with xarray's lazy backend indexing (``xr.open_zarr(..., chunks=None)``): a layer is
    then a dask array over the chunks of its own pair only, so reading a pair costs the same whatever the size
    of the date grid. ``stored_cells`` (optional) lists the (primary, secondary) indices of the cells that
    hold written chunks, which spares sampling every cell of the grid when no JSON lists the pairs.
    """

    def __init__(
        self,
        frame_id: str,
        ds: xr.Dataset,
        quality: Mapping[str, Any] | None = None,
        records: Mapping[tuple[str, str], schema.AnnotationRecord] | None = None,
        source: str = "",
        stored_cells: Callable[[], set[tuple[int, int]] | None] | None = None,
    ) -> None:
        self.frame_id = frame_id
        self.ds = ds
        self.source = source or frame_id
        self._stored_cells = stored_cells
        self._quality = quality
        self.records: dict[tuple[str, str], schema.AnnotationRecord] = dict(records or {})
        if schema.PHASE not in ds.data_vars:
            msg = f"{self.source} has no variable {schema.PHASE!r} (it has {sorted(map(str, ds.data_vars))})."
            raise NotAThaliaStoreError(msg, "This store is not a Thalia frame cube.")
        dims = ds[schema.PHASE].dims
        if dims[:2] != schema.DATE_DIMS or len(dims) != 4:
            msg = f"{self.source}: {schema.PHASE} has dims {dims}; expected ({schema.PRIMARY}, {schema.SECONDARY}, Y, X)."
            raise SchemaError(msg, "Rewrite the store with the Thalia dimension order.")
        self.y_dim, self.x_dim = (str(d) for d in dims[2:])
        self._primary_index = _date_index(ds, schema.PRIMARY, self.source)
        self._secondary_index = _date_index(ds, schema.SECONDARY, self.source)
        self._placements: dict[tuple[str, str], Placement] = {}
        self._placement_lock = threading.Lock()

    # ----------------------------------------------------------------------------- notebook access
    def view(self, pair: Pair | PairView | str | tuple[str, str] | int) -> PairView:
        """The pair ``pair`` bound to this frame (:class:`PairView`: its layers, masks, record, figure).

        ``pair``: a :class:`Pair`, its key (``FRAME/P_S`` or ``P_S``), a (primary, secondary) tuple of dates,
        or an index into :attr:`pairs` (negative from the end). :class:`PairNotFoundError` names the pairs
        of the primary date when the dates make no valid pair.
        """
        if isinstance(pair, PairView):
            pair = pair.pair
        if isinstance(pair, bool) or not isinstance(pair, (Pair, str, tuple, int, np.integer)):
            msg = f"a pair of frame {self.frame_id} is a Pair, 'PRIMARY_SECONDARY', (primary, secondary) or an index; got {type(pair).__name__}."
            raise TypeError(msg)
        if isinstance(pair, (int, np.integer)):
            n = len(self.pairs)
            if not -n <= pair < n:
                msg = f"frame {self.frame_id} has {n} valid pairs; index {pair} is out of range."
                raise PairNotFoundError(msg, "Index from 0 to len(frame) - 1, or name the pair by its dates.")
            return PairView(self, self.pairs[int(pair)])
        if isinstance(pair, str):
            text = pair.strip()
            try:
                pair = Pair.parse(text, frame=self.frame_id)
            except ValueError as exc:
                raise PairNotFoundError(
                    str(exc), "Name a pair PRIMARY_SECONDARY, e.g. 20190101_20190113."
                ) from exc
        elif isinstance(pair, tuple):
            if len(pair) != 2:
                msg = f"a pair of frame {self.frame_id} is (primary, secondary); got {len(pair)} values."
                raise PairNotFoundError(msg, "Pass two YYYYMMDD dates.")
            try:
                pair = Pair(self.frame_id, *pair)
            except ValueError as exc:
                raise PairNotFoundError(str(exc), "Dates are YYYYMMDD.") from exc
        if pair.frame != self.frame_id:
            msg = f"pair {pair} belongs to frame {pair.frame}, not {self.frame_id}."
            raise PairNotFoundError(msg, "Ask the dataset for it: ds[pair].")
        return PairView(self, self.pair(pair.primary, pair.secondary))

    def __getitem__(self, pair: Pair | PairView | str | tuple[str, str] | int) -> PairView:
        return self.view(pair)

    def __iter__(self) -> Iterator[Pair]:
        """The valid pairs, sorted (``frame[pair]`` gives each one's view)."""
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __contains__(self, pair: object) -> bool:
        if isinstance(pair, PairView):
            pair = pair.pair
        if isinstance(pair, str):
            try:
                pair = Pair.parse(pair, frame=self.frame_id)
            except ValueError:
                return False
        return isinstance(pair, Pair) and pair in set(self.pairs)

    def facts(self) -> list[tuple[str, object]]:
        """The frame's key facts as (name, value) rows: volcanoes, size, dates, pairs, positives, source."""
        primaries = self.primary_dates
        volcanoes = schema.volcanoes(self.frame_id)
        return [
            ("frame", self.frame_id),
            *([("volcanoes", volcanoes)] if volcanoes else []),
            ("size", f"{self.shape[0]} x {self.shape[1]} px ({self.y_dim}, {self.x_dim})"),
            ("primary dates", f"{len(primaries)}: {date_range(primaries)}" if primaries else "0"),
            ("pairs", f"{len(self.pairs)} valid, {len(self.positives)} positive"),
            ("source", self.source),
        ]

    def __repr__(self) -> str:
        return (
            f"<Frame {self.frame_id}: {self.shape[0]} x {self.shape[1]} px, {len(self.primary_dates)} primary dates "
            f"({date_range(self.primary_dates) or 'none'}), {len(self.pairs)} pairs ({len(self.positives)} positive), "
            f"{self.source}>"
        )

    def _repr_html_(self) -> str:
        return facts_table(self.facts())

    # ------------------------------------------------------------------------------------ geometry
    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the frame, pixels."""
        return int(self.ds.sizes[self.y_dim]), int(self.ds.sizes[self.x_dim])

    @property
    def x(self) -> np.ndarray:
        """Column coordinates (longitude, degrees, or the store's x)."""
        return self.ds[self.x_dim].values

    @property
    def y(self) -> np.ndarray:
        """Row coordinates (latitude, degrees, or the store's y)."""
        return self.ds[self.y_dim].values

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max) of pixel centres."""
        x, y = self.x, self.y
        return float(x.min()), float(y.min()), float(x.max()), float(y.max())

    def raster(self, values: np.ndarray, name: str | None = None, attrs: dict | None = None) -> xr.DataArray:
        """A (rows, columns) array of this frame's grid as a DataArray with the frame's spatial coordinates."""
        return xr.DataArray(
            values,
            dims=(self.y_dim, self.x_dim),
            coords={self.y_dim: self.y, self.x_dim: self.x},
            name=name,
            attrs=attrs or {},
        )

    def to_pixels(self, x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> np.ndarray:
        """``(N, 2)`` float pixel coordinates ``(row, col)`` of map points (x, y in the store's units, degrees).

        Pixel ``(i, j)`` is centred on ``(y[i], x[j])``; the grid is regular, so this is one affine map.
        Points off the frame map outside ``[0, rows) x [0, cols)`` (the editing tools clip them).
        """
        xs, ys = self.x, self.y
        dx = (xs[-1] - xs[0]) / max(len(xs) - 1, 1) or 1.0
        dy = (ys[-1] - ys[0]) / max(len(ys) - 1, 1) or 1.0
        cols = (np.asarray(x, dtype=np.float64) - xs[0]) / dx
        rows = (np.asarray(y, dtype=np.float64) - ys[0]) / dy
        return np.column_stack([rows.ravel(), cols.ravel()])

    # --------------------------------------------------------------------------------------- pairs
    @cached_property
    def pairs(self) -> list[Pair]:
        """Valid pairs, sorted: from ``quality_timeseries.json``, else the annotations, else non-empty cells."""
        if self._quality is not None:
            found = [
                Pair(self.frame_id, p, s)
                for p, group in self._quality.items()
                for s in group.get("secondary_date", [])
            ]
        elif self.records:
            found = [
                Pair(self.frame_id, p, s)
                for (p, s), rec in self.records.items()
                if not any(rec.get(flag) for flag in schema.UNUSABLE_FLAGS)
            ]
        else:
            found = self._non_empty_pairs()
        return sorted(p for p in found if self._has_cell(p))

    def _has_cell(self, pair: Pair) -> bool:
        return pair.primary in self._primary_index and pair.secondary in self._secondary_index

    def _non_empty_pairs(self) -> list[Pair]:
        """Cells whose central 8x8 window of phase holds a finite non-zero value (no JSON available).

        Only the cells that hold written chunks are sampled when the store can be listed (a real grid is
        mostly empty: 1,326 pairs of 102,400 cells), else every cell.
        """
        h, w = self.shape
        window = {self.y_dim: slice(h // 2 - 4, h // 2 + 4), self.x_dim: slice(w // 2 - 4, w // 2 + 4)}
        phase = self.ds[schema.PHASE]
        stored = self._stored_cells() if self._stored_cells is not None else None
        if stored is None:
            cells = [(int(i), int(j)) for i in range(phase.shape[0]) for j in range(phase.shape[1])]
        else:
            cells = sorted((i, j) for i, j in stored if i < phase.shape[0] and j < phase.shape[1])
        p_dates = list(self._primary_index)
        s_dates = list(self._secondary_index)
        if not cells:
            return []
        rows, cols = (xr.DataArray(np.array(v), dims="cell") for v in zip(*cells, strict=True))
        sample = phase.isel({schema.PRIMARY: rows, schema.SECONDARY: cols, **window})
        sample = sample.chunk({"cell": 64}) if sample.chunks is None else sample  # read the cells in parallel
        finite = cast(
            xr.DataArray, np.isfinite(sample)
        )  # a DataArray (__array_ufunc__); numpy's stubs say ndarray
        filled = (finite & (sample != 0)).any([self.y_dim, self.x_dim]).values
        return [
            Pair(self.frame_id, p_dates[i], s_dates[j]) for (i, j), f in zip(cells, filled, strict=True) if f
        ]

    @property
    def primary_dates(self) -> list[str]:
        """Primary dates that have at least one valid pair, ``YYYYMMDD``."""
        return sorted({p.primary for p in self.pairs})

    def secondary_dates(self, primary: str) -> list[str]:
        """Secondary dates of the valid pairs of ``primary``, in order."""
        return [p.secondary for p in self.timeseries(primary)]

    def timeseries(self, primary: str) -> list[Pair]:
        """Valid pairs sharing ``primary``, ordered by secondary date."""
        return _timeseries(self.pairs, self.frame_id, primary)

    def sequences(
        self, primary: str, length: int = schema.SEQUENCE_LENGTH, min_distinct: int = 1
    ) -> list[tuple[Pair, ...]]:
        """The benchmark's length-``length`` sequences of one primary date."""
        return _sequences(self.timeseries(primary), length, min_distinct)

    def pair(self, primary: str, secondary: str) -> Pair:
        """The valid pair of these dates; :class:`PairNotFoundError` naming the nearest ones otherwise."""
        pair = Pair(self.frame_id, primary, secondary)
        if pair in set(self.pairs):
            return pair
        offered = ", ".join(p.secondary for p in self.timeseries(pair.primary)) or "none"
        msg = f"frame {self.frame_id} has no valid pair {pair.primary} -> {pair.secondary} (secondary dates of {pair.primary}: {offered})."
        raise PairNotFoundError(msg, "List the pairs with `thalia-viewer info ROOT --frame FRAME`.")

    def annotation(self, pair: Pair) -> schema.AnnotationRecord | None:
        """The ``annotations.json`` record of ``pair``, if any."""
        return self.records.get((pair.primary, pair.secondary))

    @property
    def positives(self) -> list[Pair]:
        """Valid pairs labelled as deformation."""
        return [p for p in self.pairs if (rec := self.annotation(p)) is not None and schema.is_positive(rec)]

    # -------------------------------------------------------------------------------------- layers
    def missing_variables(self) -> list[str]:
        """Required variables of the format absent from this store."""
        return [v for v in schema.REQUIRED_VARIABLES if v not in self.ds.data_vars]

    def cell(self, pair: Pair) -> tuple[int, int]:
        if pair.frame != self.frame_id or not self._has_cell(pair):
            msg = f"pair {pair} is not in frame store {self.source}."
            raise PairNotFoundError(msg, "Pick a pair listed by `thalia-viewer info ROOT --frame FRAME`.")
        return self._primary_index[pair.primary], self._secondary_index[pair.secondary]

    def _variable(self, name: str, pair: Pair, eager: bool | None = None) -> xr.DataArray:
        """``name`` selected at ``pair`` by whichever date dims it has, as a 2-D (Y, X) array.

        Lazy (a dask graph over the pair's own chunks), or read into memory right away through xarray's lazy
        backend indexing when ``eager`` (default: inside :meth:`read`), which costs what the raw Zarr read does.
        """
        if name not in self.ds.data_vars:
            msg = f"{self.source} has no variable {name!r}."
            raise MissingVariableError(
                msg, "This layer cannot be shown; `thalia-viewer validate ROOT` lists what is missing."
            )
        i, j = self.cell(pair)
        da = self.ds[name]
        index = {d: k for d, k in ((schema.PRIMARY, i), (schema.SECONDARY, j)) if d in da.dims}
        da = da.isel(index)
        if da.dims != (self.y_dim, self.x_dim):
            msg = f"{self.source}: {name} has dims {self.ds[name].dims}; expected date dims then ({self.y_dim}, {self.x_dim})."
            raise SchemaError(msg, "Rewrite the variable with the frame's spatial dims.")
        if _EAGER.get() if eager is None else eager:
            return da if da.chunks is not None else da.load()
        return _pair_graph(da)

    @cached_property
    def _coherence_sample(self) -> np.ndarray | None:
        """A central window of the first pair's coherence (the chunks under it are all that is read)."""
        if schema.COHERENCE not in self.ds.data_vars or not self.pairs:
            return None
        h, w = self.shape
        rows, cols = (
            slice(max(h // 2 - SAMPLE_PX // 2, 0), h // 2 + SAMPLE_PX // 2),
            slice(max(w // 2 - SAMPLE_PX // 2, 0), w // 2 + SAMPLE_PX // 2),
        )
        return np.asarray(
            self._variable(schema.COHERENCE, self.pairs[0], eager=False)
            .isel({self.y_dim: rows, self.x_dim: cols})
            .values
        )

    @cached_property
    def coherence_scale(self) -> float:
        """Divisor that brings stored coherence to 0-1 (255 for the real cubes' scaling)."""
        sample = self._coherence_sample
        if sample is None or not np.isfinite(sample).any():
            return schema.COHERENCE_SCALE
        return schema.COHERENCE_SCALE if float(np.nanmax(sample)) > 1.5 else 1.0

    @cached_property
    def zero_nodata(self) -> bool:
        """Whether this store marks no-data with zeros (rather than NaN) in phase and coherence."""
        sample = self._coherence_sample
        if sample is None or np.isnan(sample).any():
            return False
        return float(np.mean(sample == 0)) > ZERO_NODATA_FRACTION

    def layer(self, pair: Pair, key: str) -> xr.DataArray:
        """Layer ``key`` (a :data:`schema.LAYERS` key or alias) of ``pair``: a lazy 2-D array in display units."""
        spec = schema.layer(key)
        if spec.kind is schema.LayerKind.CLASSES:
            da = self._mask(pair, spec.variable)
        elif spec.delta:
            before = self._variable(schema.era5_variable(spec.variable, schema.PRIMARY), pair)
            after = self._variable(schema.era5_variable(spec.variable, schema.SECONDARY), pair)
            da = (after.astype(np.float32, copy=False) - before.astype(np.float32, copy=False)).rename(
                spec.key
            )
        else:
            da = self._variable(spec.variable, pair).astype(np.float32, copy=False)
            if spec.variable == schema.COHERENCE and self.coherence_scale != 1.0:
                da = da / np.float32(self.coherence_scale)
            if spec.variable in (schema.PHASE, schema.COHERENCE) and self.zero_nodata:
                coherence = self._variable(schema.COHERENCE, pair)
                da = da.where(coherence != 0)
        return da.assign_attrs(long_name=spec.title, units=spec.units, layer=spec.key).rename(spec.key)

    def layers(self, pair: Pair, keys: Iterable[str]) -> dict[str, xr.DataArray]:
        """Several layers of ``pair``, lazily, keyed as asked."""
        return {k: self.layer(pair, k) for k in keys}

    def _mask(self, pair: Pair, variable: str) -> xr.DataArray:
        """A class raster as uint8 codes (NaN -> 0); activity / intensity placed from the record when the
        store lacks them (:meth:`placement`)."""
        if variable in self.ds.data_vars or variable == schema.DEFORMATION_MASK:
            return _as_codes(self._variable(variable, pair))  # MissingVariableError for a missing deformation
        placed = self.placement(pair)
        values = (
            placed.activity if variable == schema.ACTIVITY_MASK else placed.intensity
        ).copy()  # the cache's stays
        return self.raster(
            values, variable, {"derived_from": schema.DEFORMATION_MASK, "placement": placed.status.value}
        )

    def deformation(self, pair: Pair) -> np.ndarray:
        """``deformation_mask`` of ``pair`` as uint8 codes (0 none, 1 volcanic, 2 earthquake), in memory."""
        return self.read(pair, ["deformation"])["deformation"]

    @cached_property
    def polygon_fit(self) -> FrameFit:
        """The transform from the records' polygon pixels to this cube's pixels, and its fit."""
        return estimate_fit(self)

    def placement(self, pair: Pair) -> Placement:
        """Per-pattern classes of ``pair`` from its deformation mask and record (``core.placement``); from the
        cube's own rasters when it has them (status ``CUBE``, no owners). The last few are cached."""
        key = (pair.primary, pair.secondary)
        with self._placement_lock:
            cached = self._placements.get(key)
        if cached is not None:
            return cached
        record = self.annotation(pair)
        if schema.ACTIVITY_MASK in self.ds.data_vars and schema.INTENSITY_MASK in self.ds.data_vars:
            none = np.zeros((0, 0), np.uint8)  # the cube's rasters are read as layers; no owners
            found = Placement(
                none,
                none,
                none.astype(np.int16),
                (slice(0, 0), slice(0, 0)),
                PlacementStatus.CUBE,
                record_entries(record) or [],
            )
        else:
            deformation = self.deformation(pair)
            needs_fit = (
                record_polygons(record) is not None and len((record or {}).get("activity_type") or []) > 1
            )
            found = place(deformation, record, self.polygon_fit if needs_fit else None)
        with self._placement_lock:
            self._placements[key] = found
            while len(self._placements) > PLACEMENT_CACHE:
                self._placements.pop(next(iter(self._placements)))
        return found

    def read(self, pair: Pair, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Layers of ``pair`` loaded into memory; a chunk that cannot be decoded raises :class:`CorruptChunkError`.

        Whole layers are read through xarray's lazy backend indexing, straight into memory (a dask graph
        would add a copy of every array: 1.2-1.8x the raw read instead of 1x).
        """
        token = _EAGER.set(True)
        try:
            layers = self.layers(pair, list(keys))
            values = dask.compute(
                *(da.data for da in layers.values())
            )  # only what is still lazy (a dask store)
        except ThaliaError:
            raise
        except CHUNK_ERRORS as exc:
            failure: BaseException | None = exc
        else:
            failure = None
        finally:
            _EAGER.reset(token)
        if failure is not None:  # name the variable that fails (read lazily, one by one)
            raise locate_unreadable(self, pair, self.layers(pair, list(keys)), failure) from failure
        return {key: np.asarray(v) for key, v in zip(layers, values, strict=True)}

    def load(self, pair: Pair, keys: Sequence[str]) -> dict[str, xr.DataArray]:
        """Layers of ``pair`` as in-memory DataArrays (coordinates kept); a damaged chunk raises :class:`CorruptChunkError`."""
        out: dict[str, xr.DataArray] = {}
        for key, da in self.layers(pair, keys).items():
            try:
                out[key] = da.load()
            except (MissingVariableError, SchemaError):
                raise
            except CHUNK_ERRORS as exc:
                raise unreadable(self, pair, key, exc) from exc
        return out


def _pair_graph(da: xr.DataArray) -> xr.DataArray:
    """A 2-D selection as a dask array over its own chunks only (the store's spatial chunks, else one chunk).

    Layers stay lazy through their arithmetic (scaling, masking, casting), a window or a decimated view reads
    only the chunks it needs, and the graph has one task per chunk of ONE pair, whatever the date grid.
    """
    if da.chunks is not None:  # already dask (a Frame over a dask-chunked dataset): keep its chunks
        return da
    preferred = da.encoding.get("preferred_chunks", {})
    return da.chunk({d: preferred.get(d, -1) for d in da.dims})


def layer_variables(key: str) -> list[str]:
    """The store variables layer ``key`` is read from."""
    spec = schema.layer(key)
    if spec.delta:
        return [schema.era5_variable(spec.variable, d) for d in schema.DATE_DIMS]
    return [spec.variable]


def unreadable(frame: Frame, pair: Pair, key: str | Sequence[str], exc: BaseException) -> CorruptChunkError:
    """The error of a layer (or layers) whose chunks cannot be read or decoded: store, variables, pair, what to do."""
    keys = [key] if isinstance(key, str) else list(key)
    variables = " / ".join(v for k in keys for v in layer_variables(k))
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    msg = f"{frame.source}: variable {variables} of pair {pair} cannot be read ({type(exc).__name__}: {detail})."
    hint = (
        "A chunk of this store is damaged: restore the store from the original distribution or re-generate the frame; "
        "`thalia-viewer validate ROOT --deep` lists every damaged pair."
    )
    return CorruptChunkError(msg, hint)


def locate_unreadable(
    frame: Frame, pair: Pair, arrays: Mapping[str, xr.DataArray], exc: BaseException
) -> CorruptChunkError:
    """The error of a failed read of several layers at once, naming the one that fails alone (tried one by one;
    only on this failure path)."""
    for key, da in arrays.items():
        try:
            da.load()
        except (MissingVariableError, SchemaError):
            raise
        except CHUNK_ERRORS as own:
            return unreadable(frame, pair, key, own)
    return unreadable(frame, pair, list(arrays), exc)


def _date_index(ds: xr.Dataset, dim: str, source: str) -> dict[str, int]:
    """``YYYYMMDD`` -> index along date coordinate ``dim``; :class:`SchemaError` for non-dates or repeats."""
    values = ds[dim].values
    fix = (
        "Re-extract or re-generate the store (dates are datetime64, CF-encoded as 'days since ...' in Zarr)."
    )
    if not np.issubdtype(values.dtype, np.datetime64):
        shown = ", ".join(map(str, values[:3].tolist()))
        msg = f"{source}: coordinate {dim} holds {values.dtype} values ({shown}{', ...' if len(values) > 3 else ''}), not dates."
        raise SchemaError(msg, fix)
    missing = np.flatnonzero(np.isnat(values))
    if missing.size:
        raise SchemaError(f"{source}: coordinate {dim} has no date (NaT) at position {int(missing[0])}.", fix)
    index: dict[str, int] = {}
    # vectorised YYYYMMDD (a real grid has 320 dates, opened with every frame)
    for i, key in enumerate(
        d.replace("-", "") for d in np.datetime_as_string(values.astype("datetime64[D]"), unit="D")
    ):
        if key in index:
            msg = f"{source}: coordinate {dim} holds {key} twice (positions {index[key]} and {i}); pairs of that date are ambiguous."
            raise SchemaError(msg, fix)
        index[key] = i
    return index


def _as_codes(da: xr.DataArray) -> xr.DataArray:
    if np.issubdtype(da.dtype, np.floating):
        da = da.fillna(0)
    return da.astype(np.uint8)
