"""One frame store (``<frame_id>.zarr``): lazy layers of its pairs, whatever the store's dialect.

Tolerates what the real distribution leaves open (DESIGN.md): spatial dims ``y/x`` or ``lat/lon`` (the last
two dims of ``insar_difference``), Zarr 2 or 3, coherence 0-255 or 0-1, NaN or 0 no-data, integer or float
masks, ERA5 variables with one date dim or both, the project's activity / intensity rasters absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import xarray as xr

from . import schema
from .errors import (
    CorruptChunkError,
    MissingVariableError,
    NotAThaliaStoreError,
    PairNotFoundError,
    SchemaError,
)
from .pairs import Pair
from .pairs import sequences as _sequences
from .pairs import timeseries as _timeseries

#: Fraction of exact zeros in a pair's coherence above which zeros are taken for no-data.
ZERO_NODATA_FRACTION = 0.005


class Frame:
    """A lazily opened frame store with its valid pairs and their annotation records."""

    def __init__(
        self,
        frame_id: str,
        ds: xr.Dataset,
        quality: Mapping[str, Any] | None = None,
        records: Mapping[tuple[str, str], dict] | None = None,
        source: str = "",
    ) -> None:
        self.frame_id = frame_id
        self.ds = ds
        self.source = source or frame_id
        self._quality = quality
        self.records: dict[tuple[str, str], dict] = dict(records or {})
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
        return xr.DataArray(values, dims=(self.y_dim, self.x_dim), coords={self.y_dim: self.y, self.x_dim: self.x},
                            name=name, attrs=attrs or {})  # fmt: skip

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
        """Cells whose central 8x8 window of phase holds a finite non-zero value (no JSON available)."""
        h, w = self.shape
        window = {self.y_dim: slice(h // 2 - 4, h // 2 + 4), self.x_dim: slice(w // 2 - 4, w // 2 + 4)}
        sample = self.ds[schema.PHASE].isel(window)
        filled = (np.isfinite(sample) & (sample != 0)).any([self.y_dim, self.x_dim]).values
        p_dates = list(self._primary_index)
        s_dates = list(self._secondary_index)
        return [Pair(self.frame_id, p_dates[i], s_dates[j]) for i, j in zip(*np.nonzero(filled), strict=True)]

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

    def sequences(self, primary: str, length: int = schema.SEQUENCE_LENGTH, min_distinct: int = 1) -> list[tuple[Pair, ...]]:
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

    def annotation(self, pair: Pair) -> dict | None:
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

    def _variable(self, name: str, pair: Pair) -> xr.DataArray:
        """``name`` selected at ``pair`` by whichever date dims it has, as a 2-D (Y, X) array."""
        if name not in self.ds.data_vars:
            msg = f"{self.source} has no variable {name!r}."
            raise MissingVariableError(msg, "This layer cannot be shown; `thalia-viewer validate ROOT` lists what is missing.")
        i, j = self.cell(pair)
        da = self.ds[name]
        index = {d: k for d, k in ((schema.PRIMARY, i), (schema.SECONDARY, j)) if d in da.dims}
        da = da.isel(index)
        if da.dims != (self.y_dim, self.x_dim):
            msg = f"{self.source}: {name} has dims {self.ds[name].dims}; expected date dims then ({self.y_dim}, {self.x_dim})."
            raise SchemaError(msg, "Rewrite the variable with the frame's spatial dims.")
        return da

    @cached_property
    def _coherence_sample(self) -> np.ndarray | None:
        if schema.COHERENCE not in self.ds.data_vars or not self.pairs:
            return None
        return np.asarray(self._variable(schema.COHERENCE, self.pairs[0]).values)

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
            da = (after.astype(np.float32) - before.astype(np.float32)).rename(spec.key)
        else:
            da = self._variable(spec.variable, pair).astype(np.float32)
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
        """A class raster as uint8 codes (NaN -> 0); activity / intensity derived when the store lacks them."""
        if variable in self.ds.data_vars:
            return _as_codes(self._variable(variable, pair))
        if variable == schema.DEFORMATION_MASK:
            return _as_codes(self._variable(variable, pair))  # raises MissingVariableError
        deformation = _as_codes(self._variable(schema.DEFORMATION_MASK, pair))
        code = _derived_code(variable, self.annotation(pair))
        derived = xr.where(deformation == 2, _earthquake_code(variable), xr.where(deformation == 1, code, 0))
        return derived.astype(np.uint8).assign_attrs(derived_from=schema.DEFORMATION_MASK)

    def read(self, pair: Pair, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Layers of ``pair`` loaded into memory; a chunk that cannot be decoded raises :class:`CorruptChunkError`."""
        out: dict[str, np.ndarray] = {}
        for key, da in self.layers(pair, keys).items():
            try:
                out[key] = np.asarray(da.values)
            except (MissingVariableError, SchemaError):
                raise
            except Exception as exc:
                raise unreadable(self, pair, key, exc) from exc
        return out

    def load(self, pair: Pair, keys: Sequence[str]) -> dict[str, xr.DataArray]:
        """Layers of ``pair`` as in-memory DataArrays (coordinates kept); a damaged chunk raises :class:`CorruptChunkError`."""
        out: dict[str, xr.DataArray] = {}
        for key, da in self.layers(pair, keys).items():
            try:
                out[key] = da.load()
            except (MissingVariableError, SchemaError):
                raise
            except Exception as exc:
                raise unreadable(self, pair, key, exc) from exc
        return out


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


def locate_unreadable(frame: Frame, pair: Pair, arrays: Mapping[str, xr.DataArray], exc: BaseException) -> CorruptChunkError:
    """The error of a failed read of several layers at once, naming the one that fails alone (tried one by one;
    only on this failure path)."""
    for key, da in arrays.items():
        try:
            da.load()
        except (MissingVariableError, SchemaError):
            raise
        except Exception as own:
            return unreadable(frame, pair, key, own)
    return unreadable(frame, pair, list(arrays), exc)


def _date_index(ds: xr.Dataset, dim: str, source: str) -> dict[str, int]:
    """``YYYYMMDD`` -> index along date coordinate ``dim``; :class:`SchemaError` for non-dates or repeats."""
    values = ds[dim].values
    fix = "Re-extract or re-generate the store (dates are datetime64, CF-encoded as 'days since ...' in Zarr)."
    if not np.issubdtype(values.dtype, np.datetime64):
        shown = ", ".join(map(str, values[:3].tolist()))
        msg = f"{source}: coordinate {dim} holds {values.dtype} values ({shown}{', ...' if len(values) > 3 else ''}), not dates."
        raise SchemaError(msg, fix)
    missing = np.flatnonzero(np.isnat(values))
    if missing.size:
        raise SchemaError(f"{source}: coordinate {dim} has no date (NaT) at position {int(missing[0])}.", fix)
    index: dict[str, int] = {}
    # vectorised YYYYMMDD (a real grid has 320 dates, opened with every frame)
    for i, key in enumerate(d.replace("-", "") for d in np.datetime_as_string(values.astype("datetime64[D]"), unit="D")):
        if key in index:
            msg = f"{source}: coordinate {dim} holds {key} twice (positions {index[key]} and {i}); pairs of that date are ambiguous."
            raise SchemaError(msg, fix)
        index[key] = i
    return index


def _as_codes(da: xr.DataArray) -> xr.DataArray:
    if np.issubdtype(da.dtype, np.floating):
        da = da.fillna(0)
    return da.astype(np.uint8)


def _derived_code(variable: str, record: dict | None) -> int:
    """The one activity / intensity code a record implies for all its deformation pixels (else Unidentified / 0)."""
    field, table = {
        schema.ACTIVITY_MASK: ("activity_type", schema.ACTIVITY_TYPES),
        schema.INTENSITY_MASK: ("intensity_level", schema.INTENSITY_LEVELS),
    }[variable]
    names = {n for n in (record or {}).get(field, []) if n != "Earthquake" and n != "None"}
    if len(names) == 1:
        try:
            return schema.class_by_name(table, names.pop()).code
        except ValueError:
            pass
    return schema.UNIDENTIFIED_ACTIVITY if variable == schema.ACTIVITY_MASK else 0


def _earthquake_code(variable: str) -> int:
    return schema.EARTHQUAKE_ACTIVITY if variable == schema.ACTIVITY_MASK else schema.EARTHQUAKE_INTENSITY
