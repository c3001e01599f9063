"""One pair's annotation as the editor sees it: its three masks, its label record and where they come from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from .. import schema
from ..dataset import ThaliaDataset
from ..pairs import Pair
from ..placement import Placement

#: Layer key of each mask variable (what :meth:`Frame.read` takes).
MASK_LAYERS = {
    spec.variable: key for key, spec in schema.LAYERS.items() if spec.kind is schema.LayerKind.CLASSES
}


@dataclass
class PairAnnotation:
    """A pair's masks (uint8 (rows, columns) codes keyed by :data:`schema.MASKS` names) and label record.

    ``version`` is the id of the latest commit that touched the pair as of the snapshot read (``None``: never
    edited): pass it as ``base`` when saving an edit of these masks. ``source`` is True when the masks and
    record come from the source cube (the pair has no correction at that version). ``author``, ``message``
    and ``time`` (UTC) describe the save that produced a correction. ``placement`` (source only) says which
    record entry owns each deformation pixel and how the classes were placed (``core.placement``).
    """

    pair: Pair
    masks: dict[str, np.ndarray]
    record: dict[str, Any]
    version: str | None = None
    source: bool = False
    author: str = ""
    message: str = ""
    time: datetime | None = None
    placement: Placement | None = None


def source_annotation(dataset: ThaliaDataset, pair: Pair) -> PairAnnotation:
    """``pair``'s masks and record as the source holds them (activity / intensity placed from the record if
    the cube lacks them)."""
    frame = dataset.frame(pair.frame)
    layers = frame.read(pair, [MASK_LAYERS[m] for m in schema.MASKS])
    masks = {m: np.asarray(layers[MASK_LAYERS[m]], dtype=np.uint8) for m in schema.MASKS}
    record = dict(frame.annotation(pair) or {})
    return PairAnnotation(pair, masks, record, source=True, placement=frame.placement(pair))
