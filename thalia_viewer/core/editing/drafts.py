"""Unsaved edits of a pair as a small JSON draft, kept by the browser so that a reload loses nothing.

A draft holds the pair's activity-type and intensity rasters (the deformation raster follows from them) as
one byte per pixel (``activity * 16 + intensity``), zlib-compressed and base64-encoded: label rasters are
mostly zeros, so a 4096 x 4096 frame with a few patterns takes tens of KB. It also holds the label record as
edited, the version the edit started from (so that a save after a restore still detects someone else's save
of the pair meanwhile), and when it was written. Drafts over :data:`MAX_DRAFT_CHARS` are not kept.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np

from thalia_viewer.core import schema
from thalia_viewer.core.errors import ThaliaError

FORMAT: Final = 1
MAX_DRAFT_CHARS: Final = 1_500_000  # per pair: browsers keep ~5 MB per site in localStorage
_SHIFT: Final = 16  # activity * 16 + intensity: both codes fit in 4 bits


class DraftError(ThaliaError, ValueError):
    """A draft that cannot be restored (another frame size, a damaged or foreign payload)."""


class DraftTooLarge(ThaliaError, ValueError):
    """Edits too large to keep as a draft in the browser: save them instead."""


def encode_draft(
    pair_key: str,
    masks: Mapping[str, np.ndarray],
    record: Mapping[str, Any],
    base: str | None,
    message: str = "",
) -> dict[str, Any]:
    """The draft of a pair's unsaved edits (a JSON-able dict); raises :class:`DraftTooLarge`."""
    activity = np.asarray(masks[schema.ACTIVITY_MASK], np.uint8)
    intensity = np.asarray(masks[schema.INTENSITY_MASK], np.uint8)
    codes = (activity * _SHIFT + intensity).astype(np.uint8)
    packed = base64.b64encode(zlib.compress(codes.tobytes(), 6)).decode("ascii")
    if len(packed) > MAX_DRAFT_CHARS:
        msg = f"the unsaved edits of {pair_key} take {len(packed) / 1e6:.1f} MB, too much to keep in the browser."
        raise DraftTooLarge(msg, "Save them: a reload would lose them.")
    return {
        "format": FORMAT,
        "pair": pair_key,
        "shape": list(codes.shape),
        "masks": packed,
        "record": dict(record),
        "base": base,
        "message": message,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def decode_draft(
    draft: Mapping[str, Any], pair_key: str, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(activity, intensity)`` rasters of a draft of ``pair_key`` on a frame of ``shape`` (rows, cols)."""
    if not isinstance(draft, Mapping) or draft.get("format") != FORMAT or draft.get("pair") != pair_key:
        raise DraftError(f"the browser's draft of {pair_key} is not a draft of this pair.", "It was ignored.")
    if tuple(draft.get("shape") or ()) != tuple(shape):
        raise DraftError(
            f"the browser's draft of {pair_key} is {draft.get('shape')} px, the frame {list(shape)} px.",
            "It was made on another version of the dataset and was ignored.",
        )
    try:
        raw = zlib.decompress(base64.b64decode(str(draft["masks"]), validate=True))
    except (KeyError, binascii.Error, zlib.error) as exc:
        raise DraftError(f"the browser's draft of {pair_key} is damaged ({exc}).", "It was ignored.") from exc
    if len(raw) != shape[0] * shape[1]:
        raise DraftError(
            f"the browser's draft of {pair_key} holds {len(raw)} px, not {shape[0] * shape[1]}.",
            "It was ignored.",
        )
    codes = np.frombuffer(raw, np.uint8).reshape(shape)
    return (codes // _SHIFT).astype(np.uint8), (codes % _SHIFT).astype(np.uint8)


def draft_time(draft: Mapping[str, Any]) -> datetime | None:
    """When the draft was written (UTC), if it says."""
    try:
        return datetime.fromisoformat(str(draft.get("time"))).astimezone(UTC)
    except (TypeError, ValueError):
        return None
