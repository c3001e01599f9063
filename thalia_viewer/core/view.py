"""One pair bound to its frame: its layers, masks and record in one object that shows itself in a notebook.

>>> from thalia_viewer import open_dataset
>>> ds = open_dataset(root)
>>> pv = ds["124D_05291_081406"][0]                  # a frame's first valid pair (also frame[pair], ds[pair])
>>> pv
<PairView 124D_05291_081406/20180218_20180302: 12 days, train, Deformation, 160 x 192 px>
>>> pv.phase.dims, pv.phase.attrs["units"]            # lazy DataArray, radians
(('y', 'x'), 'rad')
>>> sorted(pv.masks)                                  # uint8 codes, as the annotation store holds them
['activity_type_mask', 'deformation_mask', 'intensity_level_mask']
>>> pv.record["activity_type"]
['Mogi']
>>> image = pv.render(["phase", "coherence", "mask"], width=200)   # a PIL image: 2 panels, mask overlaid
>>> image.width                                       # 2 x 200 px + 3 margins of 16 px
448
>>> pv.to_png(width=200)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True

Figures are drawn by the renderer registered in :mod:`.display` (the core never imports the rendering
layer; ``import thalia_viewer`` registers ``viz.png.render_view``); everything else is plain xarray / numpy.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import xarray as xr

from . import schema
from .display import Image, date_range, error_html, facts_table, png_bytes, renderer
from .errors import ThaliaError, UnknownLayerError
from .pairs import Pair

if TYPE_CHECKING:
    from .frame import Frame

#: Layers of a figure when none are named: the wrapped phase with the deformation mask over it.
DEFAULT_LAYERS: Final = ("phase", "deformation")
#: Width of each panel of the figure a notebook shows, px.
REPR_WIDTH: Final = 420
#: Layer key of each mask variable.
MASK_KEYS: Final = {
    spec.variable: key for key, spec in schema.LAYERS.items() if spec.kind is schema.LayerKind.CLASSES
}


def layer_spec(key: str) -> schema.Layer:
    """The layer called ``key`` (or an alias); :class:`UnknownLayerError` listing them otherwise."""
    try:
        return schema.layer(str(key))
    except KeyError as exc:
        msg = f"unknown layer {key!r}."
        raise UnknownLayerError(
            msg, f"Layers: {', '.join(schema.LAYERS)}; aliases: {', '.join(schema.LAYER_ALIASES)}."
        ) from exc


@dataclass(frozen=True, repr=False)
class PairView:
    """A valid pair of a frame, with what a notebook asks of it.

    Layers are lazy ``xarray.DataArray`` s in display units (:meth:`layer`, :attr:`phase`, ...); :attr:`masks`
    are the three label rasters as uint8 codes keyed by ``schema.MASKS`` (what :class:`AnnotationStore`
    saves and :meth:`MaskEditor.from_masks` edits); :attr:`record` is the ``annotations.json`` record. In
    Jupyter it shows as the figure of :data:`DEFAULT_LAYERS` beside the pair's key facts.
    Get one with ``frame[pair]``, ``frame[i]``, ``ds[pair]`` or ``ds[frame_id, primary, secondary]``.
    """

    frame: Frame
    pair: Pair

    # ----------------------------------------------------------------------------------------- identity
    @property
    def key(self) -> str:
        """``FRAME/PRIMARY_SECONDARY``."""
        return self.pair.key

    @property
    def primary(self) -> str:
        """Primary acquisition date, ``YYYYMMDD``."""
        return self.pair.primary

    @property
    def secondary(self) -> str:
        """Secondary acquisition date, ``YYYYMMDD``."""
        return self.pair.secondary

    @property
    def baseline_days(self) -> int:
        """Temporal baseline, days."""
        return self.pair.baseline_days

    @property
    def split(self) -> schema.Split | None:
        """Benchmark split (by primary date), or ``None`` outside every range."""
        return self.pair.split

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the frame, pixels."""
        return self.frame.shape

    # ------------------------------------------------------------------------------------------- labels
    @property
    def record(self) -> schema.AnnotationRecord:
        """The pair's ``annotations.json`` record (a copy; empty when it has none)."""
        record = self.frame.annotation(self.pair)
        return record.copy() if record is not None else {}

    @property
    def labels(self) -> list[schema.Label]:
        """The record's labels (``[]`` without a record; names the format does not know are left out)."""
        known = {label.value: label for label in schema.Label}
        return [known[v] for v in self.record.get("label", []) if v in known]

    @property
    def positive(self) -> bool:
        """True when the record labels deformation (volcanic or earthquake)."""
        rec = self.frame.annotation(self.pair)
        return rec is not None and schema.is_positive(rec)

    @property
    def masks(self) -> dict[str, np.ndarray]:
        """The three label rasters of the source, uint8 (rows, columns) codes keyed by ``schema.MASKS``
        (activity and intensity placed from the record when the cube lacks them)."""
        read = self.frame.read(self.pair, [MASK_KEYS[m] for m in schema.MASKS])
        return {m: np.asarray(read[MASK_KEYS[m]], dtype=np.uint8) for m in schema.MASKS}

    # ------------------------------------------------------------------------------------------- layers
    def layer(self, key: str) -> xr.DataArray:
        """Layer ``key`` (a ``schema.LAYERS`` key or alias: ``phase``, ``coherence``, ``dem``, ``tcwv_primary``,
        ``sp_delta``, ``mask``, ...), lazy, in display units."""
        return self.frame.layer(self.pair, layer_spec(key).key)

    def layers(self, keys: Sequence[str] | None = None) -> dict[str, xr.DataArray]:
        """Several layers, lazily, keyed as asked (default: every layer the store can give)."""
        return {k: self.layer(k) for k in (keys if keys is not None else self.available_layers())}

    def available_layers(self) -> list[str]:
        """Keys of the layers this pair's store can give (masks always: activity / intensity are placed)."""
        have = set(self.frame.ds.data_vars)
        out = []
        for key, spec in schema.LAYERS.items():
            if spec.delta:
                needed = [schema.era5_variable(spec.variable, d) for d in schema.DATE_DIMS]
            elif spec.kind is schema.LayerKind.CLASSES:
                needed = [schema.DEFORMATION_MASK]
            else:
                needed = [spec.variable]
            if all(v in have for v in needed):
                out.append(key)
        return out

    def to_dataset(self, keys: Sequence[str] | None = None) -> xr.Dataset:
        """Layers as one lazy ``xarray.Dataset`` on the frame's grid, with the pair in its attrs."""
        ds = xr.Dataset(self.layers(keys))
        return ds.assign_attrs(
            pair=self.key, frame=self.pair.frame, primary_date=self.primary, secondary_date=self.secondary
        )

    @property
    def phase(self) -> xr.DataArray:
        """Wrapped phase, radians in [-pi, pi] (lazy)."""
        return self.layer("phase")

    @property
    def coherence(self) -> xr.DataArray:
        """Coherence, 0-1 (lazy)."""
        return self.layer("coherence")

    @property
    def dem(self) -> xr.DataArray:
        """Elevation, metres (lazy)."""
        return self.layer("dem")

    @property
    def deformation(self) -> xr.DataArray:
        """``deformation_mask`` codes: 0 none, 1 volcanic, 2 earthquake (lazy)."""
        return self.layer("deformation")

    # ------------------------------------------------------------------------------------------ figures
    def render(
        self,
        layers: Sequence[str] | str = DEFAULT_LAYERS,
        width: int = 600,
        *,
        masks: Mapping[str, np.ndarray] | None = None,
        x_range: tuple[float, float] | None = None,
        y_range: tuple[float, float] | None = None,
    ) -> Image:
        """A figure (PIL image): one panel per non-class layer of ``layers`` (``width`` px each), class layers
        overlaid with a legend, the view ``x_range`` / ``y_range`` (map units) or the whole frame.

        ``masks`` (uint8 codes keyed by ``schema.MASKS``, e.g. ``editor.masks`` or an annotation's) replace
        the source's class layers: show an edit before saving it.
        """
        keys = [layers] if isinstance(layers, str) else list(layers)
        if not keys:
            msg = "render needs at least one layer."
            raise ThaliaError(msg, f"Pass layers=..., keys of {', '.join(schema.LAYERS)}.")
        specs = [layer_spec(k) for k in keys]
        given = self._checked_masks(masks or {})
        arrays: dict[str, xr.DataArray] = {}
        for spec in specs:
            if spec.variable in given:
                attrs = {"long_name": spec.title, "units": spec.units, "layer": spec.key}
                arrays[spec.key] = self.frame.raster(given[spec.variable], spec.key, attrs)
            else:
                arrays[spec.key] = self.layer(spec.key)
        return renderer()(arrays, [s.key for s in specs], width=width, x_range=x_range, y_range=y_range)

    def _checked_masks(self, masks: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for name, values in masks.items():
            if name not in schema.MASKS:
                msg = f"masks has a raster {name!r}; expected keys among {', '.join(schema.MASKS)}."
                raise ThaliaError(
                    msg, "Pass the masks of an annotation or an editor (ann.masks, editor.masks)."
                )
            array = np.asarray(values)
            if array.shape != self.shape:
                msg = f"masks[{name!r}] has shape {array.shape}; pair {self.key} is {self.shape}."
                raise ThaliaError(msg, "Pass masks of this pair (e.g. editor.masks).")
            out[name] = array.astype(np.uint8, copy=False)
        return out

    def to_png(
        self,
        path: str | os.PathLike[str] | None = None,
        layers: Sequence[str] | str = DEFAULT_LAYERS,
        width: int = 600,
        **options: Any,
    ) -> bytes:
        """The figure of :meth:`render` as PNG bytes, also written to ``path`` when given."""
        data = png_bytes(self.render(layers, width, **options))
        if path is not None:
            target = Path(path).expanduser()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return data

    @cached_property
    def _repr_png(self) -> bytes:
        """The notebook figure, drawn once per view (Jupyter asks for both the PNG and the HTML)."""
        return self.to_png(layers=DEFAULT_LAYERS, width=REPR_WIDTH)

    # ------------------------------------------------------------------------------------------ display
    def facts(self) -> list[tuple[str, object]]:
        """The pair's key facts as (name, value) rows: dates, baseline, split, labels, flags, caption, ..."""
        rec = self.frame.annotation(self.pair)
        volcanoes = schema.volcanoes(self.pair.frame)
        rows: list[tuple[str, object]] = [
            ("pair", self.key),
            ("frame", f"{self.pair.frame} ({volcanoes})" if volcanoes else self.pair.frame),
            ("dates", f"{date_range([self.primary])} → {date_range([self.secondary])}"),
            ("baseline", f"{self.baseline_days} days"),
            ("split", self.split.value if self.split else "none"),
            ("size", f"{self.shape[0]} x {self.shape[1]} px"),
        ]
        if rec is None:
            return [*rows, ("record", "none in annotations.json"), ("source", self.frame.source)]
        row: Mapping[str, Any] = rec  # read by field names held in variables
        listed = {
            f: ", ".join(map(str, row.get(f) or [])) or "-"
            for f in ("label", "activity_type", "intensity_level")
        }
        flags = [
            f"{f.replace('_', ' ')}: {names.get(row.get(f, 0), row.get(f))}"
            for f, names in schema.FLAG_FIELDS.items()
            if row.get(f)
        ]
        rows += [
            ("label", listed["label"]),
            ("activity type", listed["activity_type"]),
            ("intensity level", listed["intensity_level"]),
            ("phase", rec.get("phase", "-")),
            ("confidence", rec.get("confidence", "-")),
            ("flags", "; ".join(flags) or "none"),
            ("caption", rec.get("caption", "") or "-"),
            ("source", self.frame.source),
        ]
        return rows

    def __repr__(self) -> str:
        label = ",".join(self.record.get("label", [])) or "no record"
        split = self.split.value if self.split else "no split"
        return f"<PairView {self.key}: {self.baseline_days} days, {split}, {label}, {self.shape[0]} x {self.shape[1]} px>"

    def _repr_png_(self) -> bytes:
        return self._repr_png

    def _repr_html_(self) -> str:
        try:
            figure = (
                f"<img src='data:image/png;base64,{base64.b64encode(self._repr_png).decode()}' "
                f"alt='{html.escape(self.key, quote=True)}' style='max-width:100%'>"
            )
        except ThaliaError as exc:  # e.g. a store without phase: the facts still show
            figure = error_html(exc)
        return (
            "<div class='thalia-pair' style='display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start'>"
            f"<div>{figure}</div><div style='flex:1 1 300px;max-width:520px'>{facts_table(self.facts())}</div></div>"
        )
