"""The records side of an export: ``annotations.json`` as the source wrote it, edited records in their place.

- Unedited records are written byte for byte as the source file has them (the file is spliced, not
  re-serialised): with or without ``segmentation_mask``, key order, number spelling and position kept.
- An edited record keeps its position and its key order; it is written in the source file's layout.
- Its polygons, one per pattern, are in ONE coordinate system per key:
  ``segmentation_mask`` in the source's own pixel frame (the Hephaestus preview-PNG pixels) when the source
  file carries polygons and the frame's transform is known (``core.placement``): the polygons of patterns the
  edits did not reach are the source's, verbatim; the others are outlined from the saved masks and mapped
  into that frame. Otherwise ``segmentation_mask_cube_px`` (``schema.CUBE_POLYGONS_FIELD``) in cube pixels
  (x = column, y = row, pixel centres at integers) and no ``segmentation_mask`` (the source's would describe
  the masks before the edit). A pattern whose pixels are not known (classes from the record, not placed)
  gets ``[]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from .. import schema
from ..dataset import ThaliaDataset
from ..frame import Frame
from ..pairs import Pair
from ..patterns import class_owners, find_patterns, reconcile, window_of
from ..placement import NO_OWNER, record_entries, record_polygons
from ..polygons import flat, outline
from .annotation import PairAnnotation, source_annotation

SOURCE_FRAME: Final = "source pixel frame"
CUBE_FRAME: Final = "cube pixels"
POLYGON_DECIMALS: Final = 2


@dataclass(frozen=True)
class RecordChange:
    """An edited record of an export: its key, pair, where its polygons are and in which system."""

    key: str
    pair: str
    polygons_key: str
    system: str
    note: str = ""

    def __str__(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"record {self.key} ({self.pair}): polygons under {self.polygons_key!r} in {self.system}{note}"


def file_has_polygons(records: Mapping[str, Mapping[str, Any]]) -> bool:
    """True when the source ``annotations.json`` carries polygons (the per-pair files' layout)."""
    return any(schema.POLYGONS_FIELD in rec for rec in records.values())


def corrected_record(
    dataset: ThaliaDataset, frame: Frame, pair: Pair, saved: PairAnnotation, polygons_in_file: bool
) -> tuple[dict[str, Any], RecordChange]:
    """The record of an edited pair as exported, and what the export summary says of it."""
    source = frame.annotation(pair) or {}
    record = {
        k: v for k, v in saved.record.items() if k not in (schema.POLYGONS_FIELD, schema.CUBE_POLYGONS_FIELD)
    }
    fit = frame.polygon_fit if polygons_in_file else None
    in_source = fit is not None and fit.known
    key = schema.POLYGONS_FIELD if in_source else schema.CUBE_POLYGONS_FIELD
    polygons, note = _polygons(dataset, pair, saved, source, fit.transform if in_source and fit else None)
    record[key] = polygons if schema.is_positive(record) else []
    system = f"{SOURCE_FRAME} ({fit.transform})" if in_source and fit else CUBE_FRAME
    uid = str(record.get("uniqueID", source.get("uniqueID", "")))
    return _ordered(record, source), RecordChange(uid, pair.key, key, system, note)


def _polygons(
    dataset: ThaliaDataset, pair: Pair, saved: PairAnnotation, source: Mapping[str, Any], transform: Any
) -> tuple[list[list[float]], str]:
    """One polygon per entry of the saved record, in the source frame (``transform``) or cube pixels."""
    kinds, levels = saved.record.get("activity_type") or [], saved.record.get("intensity_level") or []
    base = source_annotation(dataset, pair)
    entries = record_entries(source)
    raw = (
        source.get(schema.POLYGONS_FIELD)
        if transform is not None and record_polygons(source) is not None
        else None
    )

    def convert(pixels: np.ndarray) -> list[float]:
        ring = outline(pixels)
        if ring is None:
            return []
        xy = transform.to_source(ring) if transform is not None else ring[:, ::-1]
        return flat(xy, POLYGON_DECIMALS)

    if entries is not None:
        placement = base.placement
        owner = placement.owners() if placement is not None and placement.box[0].stop else None
        edit = reconcile(entries, base.masks, saved.masks, owner, placement.unplaced if placement else ())
        if edit.lists == (kinds, levels):
            if owner is None:
                owner = _class_owners(entries, base.masks)
            out = []
            for o in edit.outcomes:
                if o.kept and raw is not None and len(raw) == len(entries):
                    out.append(raw[o.base])  # untouched: the expert's polygon as written
                elif o.kept:
                    out.append(convert(owner == o.base))
                else:
                    labels = np.full(saved.masks[schema.ACTIVITY_MASK].shape, -1, np.int32)
                    after = edit.after
                    assert after is not None  # a pattern that is not kept comes from the edited masks
                    labels[after.window] = after.labels
                    out.append(convert(labels == o.pattern))
            return out, ""
    # typed lists that do not follow from the strokes: outline the saved masks' patterns, matched by class
    saved_entries = record_entries(saved.record) or []
    owner = _class_owners(saved_entries, saved.masks)
    out = [convert(owner == k) for k in range(len(saved_entries))]
    return out, "the record's lists were typed: each pattern is outlined from the masks' pattern of its class"


def _class_owners(entries: list, masks: dict[str, np.ndarray]) -> np.ndarray:
    """Owners (whole frame) of the masks' patterns, matched to ``entries`` by class."""
    activity, intensity = masks[schema.ACTIVITY_MASK], masks[schema.INTENSITY_MASK]
    found = find_patterns(activity, intensity, window_of(activity))
    owners, _ = class_owners(entries, found)
    full = np.full(activity.shape, NO_OWNER, np.int16)
    full[found.window] = owners
    return full


def _ordered(record: dict[str, Any], like: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` in the key order of the source record ``like``; polygons where ``segmentation_mask`` goes
    (before ``is_crowd``), other new keys at the end."""
    polygon_keys = (schema.POLYGONS_FIELD, schema.CUBE_POLYGONS_FIELD)
    order = [k for k in like if k in record and k not in polygon_keys]
    order += [k for k in record if k not in order and k not in polygon_keys]
    polygons = [k for k in polygon_keys if k in record]
    at = order.index("is_crowd") if "is_crowd" in order else len(order)
    order[at:at] = polygons
    return {k: record[k] for k in order}


def merge_records(
    records: Mapping[str, Mapping[str, Any]], corrected: Mapping[str, Mapping[str, Any]]
) -> dict[str, Mapping[str, Any]]:
    """Source records with each corrected one in its place (same pair), new ones at the end."""
    where = {cell_of(rec): key for key, rec in records.items()}
    replace = {where[c]: (key, rec) for key, rec in corrected.items() if (c := cell_of(rec)) in where}
    out: dict[str, Mapping[str, Any]] = {}
    for key, rec in records.items():
        new_key, new = replace.get(key, (key, rec))
        out[new_key] = new
    for key, rec in corrected.items():
        if cell_of(rec) not in where:
            out[key] = rec
    return out


def cell_of(rec: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(frameID, primary, secondary)`` of a record, dates as ``YYYYMMDD``."""
    return (
        str(rec["frameID"]),
        schema.format_date(rec["primary_date"]),
        schema.format_date(rec["secondary_date"]),
    )


# ------------------------------------------------------------------------------------------- the file
_WS = re.compile(r"\s*")
_DECODER: Final = json.JSONDecoder()


def _skip_space(text: str, i: int) -> int:
    """The index of the first non-blank character of ``text`` from ``i``."""
    match = _WS.match(text, i)
    return match.end() if match else i


def _spans(text: str) -> list[tuple[str, int, int]] | None:
    """``(key, start, end)`` of each top-level value of a JSON object's text; ``None`` if it is not one."""
    decoder = json.JSONDecoder()
    i = _skip_space(text, 0)
    if text[i : i + 1] != "{":
        return None
    i = _skip_space(text, i + 1)
    spans: list[tuple[str, int, int]] = []
    try:
        while text[i : i + 1] != "}":
            if text[i : i + 1] != '"':
                return None
            key, i = _DECODER.raw_decode(text, i)  # the quoted key at i
            i = _skip_space(text, i)
            if text[i : i + 1] != ":":
                return None
            start = _skip_space(text, i + 1)
            _, end = decoder.raw_decode(text, start)
            spans.append((key, start, end))
            i = _skip_space(text, end)
            if text[i : i + 1] == ",":
                i = _skip_space(text, i + 1)
            elif text[i : i + 1] != "}":
                return None
    except (ValueError, IndexError):
        return None
    return spans


def _dumps_like(value: Any, old: str) -> str:
    """``value`` as JSON in the layout of ``old`` (the text of the source's value at that place)."""
    lines = old.splitlines()
    if len(lines) < 2:
        compact = '":' in old.replace('": ', "")
        return json.dumps(value, separators=(",", ":") if compact else None)
    inner = len(lines[1]) - len(lines[1].lstrip(" "))
    outer = len(lines[-1]) - len(lines[-1].lstrip(" "))
    text = json.dumps(value, indent=max(inner - outer, 1))
    return text.replace("\n", "\n" + " " * outer)


def annotations_text(
    source_text: str | None,
    merged: Mapping[str, Mapping[str, Any]],
    corrected: Mapping[str, Mapping[str, Any]],
) -> str:
    """``annotations.json`` of an export: the source text with the corrected records spliced in their place
    (every other byte kept), new ones after the last; a fresh dump of ``merged`` when the source cannot be
    spliced (absent, not one JSON object, duplicate keys)."""
    spans = _spans(source_text) if source_text else None
    fallback = json.dumps(merged, indent=1)
    if not spans or source_text is None or len({k for k, _, _ in spans}) != len(spans):
        return fallback
    by_cell = {cell_of(rec): key for key, rec in corrected.items()}
    edits: list[tuple[int, int, str]] = []  # (start, end, new text) in the source
    placed: set[str] = set()
    for key, start, end in spans:
        old = json.loads(source_text[start:end])
        new_key = by_cell.get(cell_of(old)) if isinstance(old, dict) and _has_cell(old) else None
        if new_key is None:
            continue
        if new_key != key:
            return fallback  # a corrected record under another key than its source: no splicing
        edits.append((start, end, _dumps_like(corrected[new_key], source_text[start:end])))
        placed.add(new_key)
    extra = [k for k in corrected if k not in placed]
    if extra:
        if len(spans) > 1:
            sep = source_text[spans[0][2] : source_text.index('"', spans[0][2])]
        else:
            sep = ",\n " if "\n" in source_text else ", "
        template = source_text[spans[-1][1] : spans[-1][2]]
        added = "".join(f"{sep}{json.dumps(k)}: {_dumps_like(corrected[k], template)}" for k in extra)
        edits.append((spans[-1][2], spans[-1][2], added))
    pieces, last = [], 0
    for start, end, text in edits:
        pieces += [source_text[last:start], text]
        last = end
    return "".join(pieces) + source_text[last:]


def _has_cell(rec: dict) -> bool:
    try:
        cell_of(rec)
    except (KeyError, ValueError):
        return False
    return True
