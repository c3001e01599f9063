"""The Thalia benchmark's model input, built from a :class:`~thalia_viewer.core.frame.Frame`.

Channels per time step (``schema.CHANNELS``): ``insar_difference`` (rad), ``insar_coherence`` (0-255, the
real cubes' scale, whatever scale the store uses), ``dem`` (m), then primary / secondary date of total
column water vapour (kg m-2), surface pressure (Pa) and vertical integral of temperature (K kg m-2).
The "base" setting is the first 3, "atmospheric" all 9. Each channel is z-scored with the benchmark's
dataset statistics (ERA5 statistics for both dates); a sequence of T pairs is flattened time-major
(channel index ``t * C + c``, as the official loader's ``[T, C, H, W] -> [T*C, H, W]`` reshape).

No-data: NaN (and, in stores that mark no-data with zeros, the zeros the Frame takes for no-data in phase
and coherence) becomes 0 **after** normalisation, i.e. the dataset mean; the official loader leaves NaN
to the model, which a network cannot consume.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Final

import numpy as np
import xarray as xr

from ..core import schema
from ..core.errors import MissingVariableError, SchemaError
from ..core.frame import Frame, locate_unreadable
from ..core.io import CHUNK_ERRORS
from ..core.pairs import Pair
from .errors import InputError

Window = tuple[int, int, int, int]  # (row0, row1, col0, col1), pixels, end-exclusive


class Setting(StrEnum):
    """Input setting of the benchmark."""

    BASE = "base"  # phase, coherence, DEM
    ATMOSPHERIC = "atmospheric"  # plus the six ERA5 channels


def _stat_key(channel: str) -> str:
    """The ``schema.NORMALIZATION`` key of a channel (ERA5 channels share their field's statistics)."""
    for field in schema.ERA5_FIELDS:
        if channel in (schema.era5_variable(field, d) for d in schema.DATE_DIMS):
            return field
    return channel


#: (mean, std) of every input channel, by channel (store variable) name.
NORMALISATION: Final[dict[str, tuple[float, float]]] = {
    c: schema.NORMALIZATION[_stat_key(c)] for c in schema.CHANNELS
}


def _layer_key(variable: str) -> str:
    """The :data:`schema.LAYERS` key that reads ``variable`` as stored (not a secondary-minus-primary delta)."""
    for key, spec in schema.LAYERS.items():
        if spec.variable == variable and not spec.delta:
            return key
    raise KeyError(variable)  # unreachable: every channel and mask has a layer


_LAYER_OF: Final = {v: _layer_key(v) for v in (*schema.CHANNELS, schema.DEFORMATION_MASK)}


def setting_of(setting: str | Setting) -> Setting:
    """``setting`` checked: :class:`InputError` naming the valid ones otherwise."""
    try:
        return Setting(str(setting).strip().lower())
    except ValueError as exc:
        msg = f"unknown input setting {setting!r}; expected one of {[s.value for s in Setting]}."
        raise InputError(msg, "Use 'base' (phase, coherence, DEM) or 'atmospheric' (plus ERA5).") from exc


def channel_names(setting: str | Setting) -> list[str]:
    """Input channels of one time step, in model order (store variable names)."""
    n = len(schema.GEOMORPHOLOGY) if setting_of(setting) is Setting.BASE else len(schema.CHANNELS)
    return list(schema.CHANNELS[:n])


def stats_array(
    setting: str | Setting, stats: Mapping[str, tuple[float, float]] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std), float32 arrays of shape (C,), for ``setting``.

    ``stats`` is keyed by channel name or, as in ``schema.NORMALIZATION`` and model cards, by variable
    (one entry per ERA5 field for both dates); default: the benchmark statistics.
    """
    table = NORMALISATION if stats is None else stats
    names = channel_names(setting)
    keys = [c if c in table else _stat_key(c) for c in names]
    missing = [c for c, k in zip(names, keys, strict=True) if k not in table]
    if missing:
        msg = f"normalisation statistics lack {missing}."
        raise InputError(msg, "Give (mean, std) for every input channel.")
    mean = np.array([table[k][0] for k in keys], dtype=np.float32)
    std = np.array([table[k][1] for k in keys], dtype=np.float32)
    return mean, std


def normalise(
    x: np.ndarray, setting: str | Setting, stats: Mapping[str, tuple[float, float]] | None = None
) -> np.ndarray:
    """z-scored float32 copy of raw channels ``x`` (C, H, W) or time-major (T*C, H, W); NaN -> 0 after."""
    mean, std = stats_array(setting, stats)
    c = len(mean)
    if x.ndim != 3 or x.shape[0] % c:
        msg = f"input of shape {x.shape} does not hold whole time steps of {c} channels ({setting})."
        raise InputError(msg, "Pass (C, H, W) or (T*C, H, W) arrays, time-major.")
    t = x.shape[0] // c
    mean, std = np.tile(mean, t)[:, None, None], np.tile(std, t)[:, None, None]
    out = (np.asarray(x, dtype=np.float32) - mean) / std
    np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return out


def check_window(frame: Frame, window: Window | None) -> Window:
    """``window`` validated against the frame (``None`` -> the whole frame)."""
    h, w = frame.shape
    if window is None:
        return 0, h, 0, w
    r0, r1, c0, c1 = (int(v) for v in window)
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        msg = f"window rows {r0}:{r1}, cols {c0}:{c1} is not inside frame {frame.frame_id} ({h} x {w} px)."
        raise InputError(msg, "Give (row0, row1, col0, col1) with 0 <= row0 < row1 <= rows, same for cols.")
    return r0, r1, c0, c1


def _read(frame: Frame, pair: Pair, keys: Sequence[str], window: Window) -> dict[str, np.ndarray]:
    """Layers of ``pair`` cut to ``window``, read in one dask computation."""
    r0, r1, c0, c1 = window
    arrays = {
        k: da.reset_coords(drop=True).isel({frame.y_dim: slice(r0, r1), frame.x_dim: slice(c0, c1)})
        for k, da in frame.layers(pair, keys).items()
    }
    try:
        loaded = xr.Dataset(arrays).compute()
    except (MissingVariableError, SchemaError):
        raise
    except CHUNK_ERRORS as exc:
        raise locate_unreadable(frame, pair, arrays, exc) from exc
    return {k: np.asarray(loaded[k].values) for k in keys}


def pair_channels(
    frame: Frame, pair: Pair, setting: str | Setting, window: Window | None = None
) -> np.ndarray:
    """Raw input channels of one pair, float32 (C, H, W), coherence on the 0-255 scale."""
    window = check_window(frame, window)
    names = channel_names(setting)
    layers = _read(frame, pair, [_LAYER_OF[c] for c in names], window)
    out = np.stack([layers[_LAYER_OF[c]] for c in names]).astype(np.float32, copy=False)
    # Frame.layer gives coherence on 0-1; the benchmark statistics are for the 0-255 scale
    out[names.index(schema.COHERENCE)] *= np.float32(schema.COHERENCE_SCALE)
    return out


def sequence_input(
    frame: Frame,
    pairs: Pair | Sequence[Pair],
    setting: str | Setting,
    window: Window | None = None,
    stats: Mapping[str, tuple[float, float]] | None = None,
) -> np.ndarray:
    """Normalised model input of a pair or sequence, float32 (T*C, H, W), time-major, NaN -> 0."""
    return sequence_arrays(frame, pairs, setting, window, stats)[0]


def sequence_arrays(
    frame: Frame,
    pairs: Pair | Sequence[Pair],
    setting: str | Setting,
    window: Window | None = None,
    stats: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sequence_input` and the bool (H, W) mask of pixels with a phase value in some pair."""
    seq = _as_sequence(pairs)
    cache: dict[Pair, np.ndarray] = {}
    raw = []
    for p in seq:  # a padded sequence repeats pairs: read each once
        if p not in cache:
            cache[p] = pair_channels(frame, p, setting, window)
        raw.append(cache[p])
    phase = schema.CHANNELS.index(schema.PHASE)
    valid = np.any([np.isfinite(r[phase]) for r in cache.values()], axis=0)
    return normalise(np.concatenate(raw), setting, stats), valid


def sequence_for(frame: Frame, pair: Pair, length: int = schema.SEQUENCE_LENGTH) -> tuple[Pair, ...]:
    """The benchmark sequence of ``length`` pairs (same primary date) that holds ``pair``.

    The first of ``frame.sequences(primary)`` holding it; a pair that no benchmark sequence holds (long
    series give disjoint subsets, so some pairs are left over) gets the ``length`` consecutive pairs of its
    time series around it, padded by duplication like the benchmark when the series is shorter.
    """
    if length == 1:
        return (pair,)
    for seq in frame.sequences(pair.primary, length):
        if pair in seq:
            return tuple(seq)
    series = frame.timeseries(pair.primary)
    if pair not in series:
        msg = f"pair {pair} is not a valid pair of frame {frame.frame_id}."
        raise InputError(msg, "Pick a pair listed by `thalia-viewer info ROOT --frame FRAME`.")
    i = series.index(pair)
    start = min(max(0, i - length // 2), max(0, len(series) - length))
    return tuple(series[start : start + length])


def valid_mask(frame: Frame, pairs: Pair | Sequence[Pair], window: Window | None = None) -> np.ndarray:
    """bool (H, W): pixels where at least one pair of the sequence has a phase value (not no-data)."""
    return _union(frame, pairs, schema.PHASE, window, np.isfinite)


def target(frame: Frame, pairs: Pair | Sequence[Pair], window: Window | None = None) -> np.ndarray:
    """uint8 (H, W) benchmark target: union of the pairs' deformation masks, earthquake (2) mapped to 1."""
    return _union(frame, pairs, schema.DEFORMATION_MASK, window, lambda codes: codes > 0).astype(np.uint8)


def _union(
    frame: Frame,
    pairs: Pair | Sequence[Pair],
    variable: str,
    window: Window | None,
    test: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """bool (H, W): pixels where ``test`` holds for ``variable`` in at least one pair (each read once)."""
    window = check_window(frame, window)
    key = _LAYER_OF[variable]
    out = np.zeros((window[1] - window[0], window[3] - window[2]), dtype=bool)
    for p in dict.fromkeys(_as_sequence(pairs)):
        out |= test(_read(frame, p, [key], window)[key])
    return out


def has_target(frame: Frame) -> bool:
    """Whether the frame store holds ground-truth deformation masks."""
    return schema.DEFORMATION_MASK in frame.ds.data_vars


def _as_sequence(pairs: Pair | Sequence[Pair]) -> list[Pair]:
    seq = [pairs] if isinstance(pairs, Pair) else list(pairs)
    if not seq:
        msg = "an empty sequence of pairs was given."
        raise InputError(msg, "Pass one pair or the pairs of a time series.")
    return seq
