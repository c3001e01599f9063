"""Damaged copies of a tiny dataset root, made with the project's generator and then broken on purpose.

What an unlucky user meets in the app: a corrupt chunk or mask codes outside the schema on one pair, a
malformed ``annotations.json``, a ``<frame>.zarr`` that is not a Zarr store. Each function damages a root
in place (copy the shared fixture first with :func:`copy_root`) and returns what it broke.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import zarr

from thalia_viewer.core import schema
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import Pair

GARBAGE = b"\x00this is not a blosc chunk\xff" * 40
BOGUS_FRAME = "999A_00000_000000"  # a <frame>.zarr folder that holds no Zarr store


def copy_root(src: Path, dst: Path) -> Path:
    """A private copy of a root (the session fixtures are shared and read-only)."""
    shutil.copytree(src, dst)
    return dst


def _cell(root: Path, pair: Pair) -> tuple[int, int]:
    frame = ThaliaDataset(root).frame(pair.frame)
    primaries = [schema.format_date(v) for v in frame.ds[schema.PRIMARY].values]
    secondaries = [schema.format_date(v) for v in frame.ds[schema.SECONDARY].values]
    return primaries.index(pair.primary), secondaries.index(pair.secondary)


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
    plane[rows // 3: 2 * rows // 3, cols // 3: 2 * cols // 3] = code
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
