"""Compact wire encodings of screen-resolution aggregates for the map in the browser.

The map's browser code (``app/views/map_client.js``) decodes them; colour maps, opacity and mask
palettes are applied there, so one image is never re-sent for a colour or opacity change.

- ``value``: a float layer (phase, coherence, DEM, ERA5) as uint16 codes: 0 = no data (NaN), 1..65535 =
  ``v0 + (code - 1) * (v1 - v0) / 65534`` with ``(v0, v1)`` the finite range of the image: the values
  come back within (v1 - v0) / 131068 (a 2 km DEM: 1.5 cm), so the readout under the cursor stays exact
  at the digits it prints, at half the bytes of float32;
- ``codes``: small integer codes (uint8: class masks, diffs, truth vs prediction) as they are;
- ``alpha``: one uint8 per pixel (the relief's shadow), drawn black with that alpha.

Every payload is zlib-compressed (level 1: a few ms a megapixel; masks shrink 50-100x, phase ~1.3x),
with rows from south to north, the order Bokeh's image glyphs draw.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final

import numpy as np

VALUE_LEVELS: Final = 65534  # codes 1..65535 carry values; 0 is no data
COMPRESSION_LEVEL: Final = 1
KINDS: Final = ("value", "codes", "alpha")
_DTYPES: Final = {"value": np.uint16, "codes": np.uint8, "alpha": np.uint8}


@dataclass(frozen=True)
class Encoded:
    """One encoded image: its kind, (rows, cols), the compressed bytes and the value range of ``value`` images."""

    kind: str
    shape: tuple[int, int]
    data: bytes
    v0: float = 0.0
    v1: float = 0.0

    @property
    def decoded_nbytes(self) -> int:
        """Bytes the browser counts for it once decoded (``value``: its uint16 codes; ``codes``: 1 a pixel;
        ``alpha``: RGBA)."""
        per_pixel = {"value": 2, "codes": 1, "alpha": 4}[self.kind]
        return self.shape[0] * self.shape[1] * per_pixel


def _pack(kind: str, array: np.ndarray, v0: float = 0.0, v1: float = 0.0) -> Encoded:
    south_up = np.ascontiguousarray(array[::-1], dtype=_DTYPES[kind])
    data = zlib.compress(south_up.tobytes(), COMPRESSION_LEVEL)
    return Encoded(kind, (int(array.shape[0]), int(array.shape[1])), data, float(v0), float(v1))


def encode_values(values: np.ndarray) -> Encoded:
    """A north-up float image (NaN = no data) as ``value`` codes over its own finite range."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        msg = f"an image is 2-D (rows, cols); got shape {values.shape}"
        raise ValueError(msg)
    finite = np.isfinite(values)
    if not finite.any():
        return _pack("value", np.zeros(values.shape, np.uint16))
    v0, v1 = float(values[finite].min()), float(values[finite].max())
    scale = VALUE_LEVELS / (v1 - v0) if v1 > v0 else 0.0
    codes = np.zeros(values.shape, np.uint16)
    codes[finite] = (1 + np.rint((values[finite] - v0) * scale)).astype(np.uint16)
    return _pack("value", codes, v0, v1)


def encode_codes(codes: np.ndarray) -> Encoded:
    """North-up small integer codes (0..255) as they are."""
    codes = np.asarray(codes)
    if codes.ndim != 2:
        msg = f"an image is 2-D (rows, cols); got shape {codes.shape}"
        raise ValueError(msg)
    if codes.size and (codes.min() < 0 or codes.max() > np.iinfo(np.uint8).max):
        msg = f"codes must be 0..255; got {codes.min()}..{codes.max()}"
        raise ValueError(msg)
    return _pack("codes", codes.astype(np.uint8))


def encode_alpha(alpha: np.ndarray) -> Encoded:
    """A north-up uint8 alpha image (0 transparent, 255 opaque black)."""
    return _pack("alpha", np.asarray(alpha, dtype=np.uint8))


def decode(encoded: Encoded) -> np.ndarray:
    """The north-up image of an encoding (``value``: float32 with NaN; else uint8), as the browser decodes it."""
    raw = np.frombuffer(zlib.decompress(encoded.data), dtype=_DTYPES[encoded.kind]).reshape(encoded.shape)[
        ::-1
    ]
    if encoded.kind != "value":
        return raw.copy()
    step = (encoded.v1 - encoded.v0) / VALUE_LEVELS
    out = (encoded.v0 + (raw.astype(np.float64) - 1) * step).astype(np.float32)
    out[raw == 0] = np.nan
    return out
