"""Damaged and hostile copies of a tiny dataset root: made with the project's generator, then broken on purpose.

What an unlucky user meets in the app (a corrupt chunk or mask codes outside the schema on one pair, a
malformed ``annotations.json``, a ``<frame>.zarr`` that is not a Zarr store) and what an attacker plants
(markup and script in every annotation field, a frame folder, a model card, the store's author and message).
Each function damages a root in place (copy a shared fixture first with :func:`copy_root`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Final

import numpy as np
import zarr

from thalia_viewer.core import schema
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import Pair

GARBAGE: Final = b"\x00this is not a blosc chunk\xff" * 40
BOGUS_FRAME: Final = "000A_00000_000000"  # sorts first: a <frame>.zarr folder that holds no Zarr store

#: What an attacker writes wherever text may reach the page: each one, if rendered as markup, sets
#: ``window.__pwned``, opens a dialog, or leaves an element the test looks for.
PAYLOADS: Final = (
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    "<script>window.__pwned=2;alert(2)</script>",
    "javascript:window.__pwned=3;alert(3)",
    "[click me](javascript:window.__pwned=4)",
    '![pic](x" onerror="window.__pwned=5)',
    '"><svg onload="window.__pwned=6;alert(6)">',
    "'><iframe srcdoc='<script>parent.__pwned=7</script>'></iframe>",
    '<a href="javascript:window.__pwned=8">link</a>',
    "<b onmouseover=alert(9)>**bold**</b> &lt;img src=x onerror=alert(10)&gt;",
)
PAYLOAD: Final = " ".join(PAYLOADS)  # all of them at once, in every field
FRAME_PAYLOAD: Final = "<img src=x onerror=window.__pwned=11>"  # a folder name: no slash
#: A text every payload contains, to check that the payload did reach the page (as text).
MARKER_TEXT: Final = "<img src=x onerror="


def copy_root(src: Path, dst: Path) -> Path:
    """A private copy of a root (the session fixtures are shared and read-only)."""
    shutil.copytree(src, dst)
    return dst


def _cell(root: Path, pair: Pair) -> tuple[int, int]:
    frame = ThaliaDataset(root).frame(pair.frame)
    primaries = [schema.format_date(v) for v in frame.ds[schema.PRIMARY].values]
    secondaries = [schema.format_date(v) for v in frame.ds[schema.SECONDARY].values]
    return primaries.index(pair.primary), secondaries.index(pair.secondary)


# ------------------------------------------------------------------------------------------ damage
def corrupt_chunk(root: Path, pair: Pair, variable: str = schema.PHASE) -> Path:
    """Overwrite the chunk of ``pair``'s ``variable`` (one chunk per pair in the tiny cubes) with garbage."""
    i, j = _cell(root, pair)
    folder = root / f"{pair.frame}{schema.STORE_SUFFIX}" / variable
    chunks = sorted(folder.glob(f"{i}.{j}.*"))
    assert chunks, f"no chunk of {variable} for {pair} in {folder}"
    for chunk in chunks:
        chunk.write_bytes(GARBAGE)
    return chunks[0]


def write_codes(root: Path, pair: Pair, variable: str = schema.DEFORMATION_MASK, code: int = 9) -> None:
    """Put mask codes the schema does not know (``code``) in the middle of ``pair``'s ``variable``."""
    i, j = _cell(root, pair)
    array = zarr.open_array(str(root / f"{pair.frame}{schema.STORE_SUFFIX}" / variable), mode="r+")
    plane = np.asarray(array[i, j])
    rows, cols = plane.shape
    plane[rows // 3 : 2 * rows // 3, cols // 3 : 2 * cols // 3] = code
    array[i, j] = plane


def break_annotations(root: Path) -> Path:
    """``annotations.json`` cut in the middle (malformed JSON)."""
    path = root / schema.ANNOTATIONS_FILE
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    return path


def add_non_zarr_store(root: Path, frame_id: str = BOGUS_FRAME) -> Path:
    """A ``<frame>.zarr`` folder holding a text file and no Zarr metadata."""
    folder = root / f"{frame_id}{schema.STORE_SUFFIX}"
    folder.mkdir()
    (folder / "README.txt").write_text("not a Zarr store\n")
    return folder


# ----------------------------------------------------------------------------------------- hostile
def hostile_record(record: dict, payload: str = PAYLOAD) -> dict:
    """``record`` with ``payload`` in every field a user can see (ids and dates kept: the record still
    belongs to its pair)."""
    out = dict(record)
    for field in schema.ANNOTATION_FIELDS:
        if field in ("uniqueID", "frameID", "primary_date", "secondary_date"):
            continue
        out[field] = [payload, payload] if field in ("label", "activity_type", "intensity_level") else payload
    return out


def plant_payloads(root: Path, pair: Pair, payload: str = PAYLOAD) -> None:
    """Payloads in every field of ``pair``'s record, plus a record whose ids are payloads, plus a frame folder
    named by a payload (it is listed, and fails to open)."""
    path = root / schema.ANNOTATIONS_FILE
    records = json.loads(path.read_text())
    for key, rec in records.items():
        if rec["frameID"] == pair.frame and (rec["primary_date"], rec["secondary_date"]) == (
            pair.primary,
            pair.secondary,
        ):
            records[key] = hostile_record(rec, payload)
    spare = next(iter(records.values()))
    records[payload] = {**hostile_record(spare, payload), "uniqueID": payload, "frameID": payload}
    path.write_text(json.dumps(records, indent=1))
    add_non_zarr_store(root, FRAME_PAYLOAD)


def plant_payload_dates(root: Path, payload: str = PAYLOAD) -> None:
    """A record whose dates are payloads: ``annotations.json`` cannot be read, and its error echoes them."""
    path = root / schema.ANNOTATIONS_FILE
    records = json.loads(path.read_text())
    spare = next(iter(records.values()))
    records[payload] = {**spare, "uniqueID": payload, "primary_date": payload, "secondary_date": payload}
    path.write_text(json.dumps(records, indent=1))


def hostile_card(zoo: Path, payload: str = PAYLOAD) -> Path:
    """A model card in a user zoo that is not valid YAML, with a payload on the line its error quotes."""
    path = zoo / "evil.yaml"
    path.write_text(f"name: evil\narchitecture: [{payload}\n")
    return path
