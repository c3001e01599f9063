"""Colour distances as people see them, to check that overlays read: CIELAB, CIEDE2000 and colour-vision
deficiency simulation, with numpy only.

- :func:`srgb_to_lab`: sRGB (0-255 or hex) -> CIELAB under D65 (the sRGB white);
- :func:`delta_e`: CIEDE2000 colour difference (about 1 = just noticeable; 10+ = clearly different
  colours; 20+ = different colour names);
- :func:`simulate_cvd`: how a colour looks to a protanope, deuteranope or tritanope (Machado, Oliveira &
  Fernandes 2009, full severity, applied in linear RGB, as colorspacious does);
- :func:`over`: a colour drawn at an opacity over a background, as the browser's canvas blends it (in sRGB).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np

from thalia_viewer.viz.colormaps import hex_to_rgba

#: D65 white of sRGB, XYZ scaled to Y = 1.
WHITE_D65: Final = np.array([0.95047, 1.0, 1.08883])
_SRGB_TO_XYZ: Final = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
#: Machado et al. (2009) matrices at severity 1, for linear RGB.
CVD_MATRICES: Final[dict[str, np.ndarray]] = {
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
    "tritanopia": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
    ),
}
CVD_KINDS: Final = tuple(CVD_MATRICES)


def as_rgb(colors: str | Iterable[str] | np.ndarray) -> np.ndarray:
    """Colours (hex strings or an (..., 3) array of 0-255) as an (n, 3) float array of 0-255."""
    if isinstance(colors, str):
        colors = [colors]
    if isinstance(colors, np.ndarray):
        return np.asarray(colors, dtype=np.float64).reshape(-1, 3)
    return np.array([hex_to_rgba(c)[:3] for c in colors], dtype=np.float64).reshape(-1, 3)


def _to_linear(rgb255: np.ndarray) -> np.ndarray:
    c = np.clip(rgb255 / 255.0, 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    return 255.0 * np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def srgb_to_lab(colors: str | Iterable[str] | np.ndarray) -> np.ndarray:
    """(n, 3) CIELAB (L* 0-100, a*, b*) of sRGB colours."""
    xyz = _to_linear(as_rgb(colors)) @ _SRGB_TO_XYZ.T / WHITE_D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def delta_e(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 difference between CIELAB colours (broadcasting over leading dims)."""
    lab1, lab2 = np.asarray(lab1, float), np.asarray(lab2, float)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dlp, dcp = l2 - l1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dhp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    lbp, cbp = (l1 + l2) / 2, (c1p + c2p) / 2
    hsum = h1p + h2p
    hbp = np.where(
        np.abs(h1p - h2p) > 180, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2), hsum / 2
    )
    hbp = np.where(c1p * c2p == 0, hsum, hbp)
    t = (
        1
        - 0.17 * np.cos(np.radians(hbp - 30))
        + 0.24 * np.cos(np.radians(2 * hbp))
        + 0.32 * np.cos(np.radians(3 * hbp + 6))
        - 0.20 * np.cos(np.radians(4 * hbp - 63))
    )
    d_theta = 30 * np.exp(-(((hbp - 275) / 25) ** 2))
    rc = 2 * np.sqrt(cbp**7 / (cbp**7 + 25.0**7))
    sl = 1 + 0.015 * (lbp - 50) ** 2 / np.sqrt(20 + (lbp - 50) ** 2)
    sc, sh = 1 + 0.045 * cbp, 1 + 0.015 * cbp * t
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    return np.sqrt((dlp / sl) ** 2 + (dcp / sc) ** 2 + (dhp / sh) ** 2 + rt * (dcp / sc) * (dhp / sh))


def simulate_cvd(colors: str | Iterable[str] | np.ndarray, kind: str) -> np.ndarray:
    """(n, 3) sRGB 0-255 of colours as seen with a colour-vision deficiency (``CVD_KINDS``)."""
    matrix = CVD_MATRICES[kind]
    return _to_srgb(_to_linear(as_rgb(colors)) @ matrix.T)


def over(color: str, alpha: float, background: str | Sequence[str] | np.ndarray) -> np.ndarray:
    """(n, 3) sRGB 0-255 of ``color`` at ``alpha`` over each background colour (the canvas blends in sRGB)."""
    fg, bg = as_rgb(color), as_rgb(background)
    return alpha * fg + (1 - alpha) * bg


def min_pairwise(colors: Sequence[str], vision: str | None = None) -> float:
    """The smallest CIEDE2000 difference between two of ``colors`` (as seen with ``vision``, default normal)."""
    rgb = as_rgb(list(colors)) if vision is None else simulate_cvd(list(colors), vision)
    lab = srgb_to_lab(rgb)
    d = delta_e(lab[:, None, :], lab[None, :, :])
    return float(d[~np.eye(len(lab), dtype=bool)].min())


def min_distance_to(colors: Sequence[str], palette: Sequence[str]) -> np.ndarray:
    """For each colour, the smallest CIEDE2000 difference to any colour of ``palette``."""
    lab, pal = srgb_to_lab(list(colors)), srgb_to_lab(list(palette))
    return delta_e(lab[:, None, :], pal[None, :, :]).min(axis=1)
