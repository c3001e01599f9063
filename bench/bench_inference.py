"""Whole-frame inference: our tiled pipeline vs a naive per-tile loop, UNet-ResNet50 and thalia-small.

- ours: :class:`~thalia_viewer.ml.inference.Predictor`: the frame's input read band by band, tiles in
  batches under ``torch.inference_mode`` (``channels_last`` + autocast on CUDA), one blending window per
  tile position kind (cached), numpy <-> torch once per batch;
- naive: the same model in eval mode but autograd on, one tile at a time, numpy -> torch -> numpy per tile,
  the blending window recomputed for every tile, on the input read whole (what a notebook loop does).

Both give the same probabilities (max difference reported). Figures: one 512 x 512 tile per model, then
whole frames tiled in 512 px tiles overlapping by 64 px: thalia-small end to end on a generated
2048 x 2048 frame (Zarr reads included), UNet-ResNet50 on a 1024 x 1024 input (a 2048^2 frame takes it
~20 s a run on 2 CPU cores). Random weights: speed does not depend on their values. Runs on CUDA when
present (reported as ``device``), else the CPU; ``channels_last`` on the CPU is measured, not assumed.
"""

from __future__ import annotations

import time
from typing import Any, Final

import numpy as np

from bench.common import Timing, print_ratio, time_it, timing_dict, write_results
from bench.datasets import big_frame
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.ml import inputs, tiling
from thalia_viewer.ml.inference import Predictor
from thalia_viewer.ml.torch_env import default_device, import_torch
from thalia_viewer.ml.zoo import DEFAULT_MODEL, PACKAGED_ZOO, ModelZoo, build_model

NAME: Final = "inference"
FRAME_PX: Final = 2048  # thalia-small end-to-end frame
R50_PX: Final = 1024  # UNet-ResNet50 whole-input side
TILE_PX: Final = 512
SMALL: Final = DEFAULT_MODEL
R50: Final = "unet-resnet50-base-t1"
REPEATS: Final = {"tile": 3, "frame": 2}


def _predictor(name: str, device: Any, **kw: Any) -> Predictor:
    torch = import_torch()
    card = ModelZoo([PACKAGED_ZOO]).get(name)
    torch.manual_seed(0)
    return Predictor(build_model(card), device=device, card=card, **kw)


def naive_predict(predictor: Predictor, x: np.ndarray) -> np.ndarray:
    """The per-tile loop: autograd on, one tile per forward, per-tile conversions and window."""
    torch = import_torch()
    model, device = predictor.model, predictor.device
    padded_shape, windows = predictor.grid(x.shape[-2:])
    xp = np.pad(x, [(0, 0), (0, padded_shape[0] - x.shape[1]), (0, padded_shape[1] - x.shape[2])])
    total = np.zeros(padded_shape, np.float32)
    weights = np.zeros(padded_shape, np.float32)
    for r0, r1, c0, c1 in windows:
        tile = torch.from_numpy(np.ascontiguousarray(xp[:, r0:r1, c0:c1]))[None].to(device)
        prob = torch.sigmoid(model(tile))[0, 0].detach().cpu().numpy()
        w = tiling.tile_weight((r0, r1, c0, c1), padded_shape, predictor.overlap)
        total[r0:r1, c0:c1] += prob * w
        weights[r0:r1, c0:c1] += w
    return (total / weights)[: x.shape[1], : x.shape[2]]


def _pair(ours: Timing, naive: Timing, px: int, diff: float) -> dict[str, Any]:
    return {
        "ours": timing_dict(ours),
        "naive": timing_dict(naive),
        "ratio": naive.median_s / ours.median_s,
        "ours_px_per_s": px / ours.median_s,
        "naive_px_per_s": px / naive.median_s,
        "max_abs_diff": diff,
    }


def _timed(fn: Any, repeats: int, warmup: int = 1) -> tuple[Timing, Any]:
    """``time_it`` that also returns the last result (so outputs are compared without extra runs)."""
    box: list[Any] = []
    timing = time_it(lambda: box.append(fn()), repeats=repeats, warmup=warmup)
    return timing, box[-1]


def _tile(name: str, device: Any, rng: np.random.Generator) -> dict[str, Any]:
    """One 512 x 512 tile: ours (and ours with the other memory format) vs naive."""
    ours = _predictor(name, device)
    x = rng.standard_normal((ours.card.in_channels, TILE_PX, TILE_PX)).astype(np.float32)
    t_ours, a = _timed(lambda: ours.predict_array(x), REPEATS["tile"])
    t_naive, b = _timed(lambda: naive_predict(ours, x), REPEATS["tile"])
    other = _predictor(name, device, channels_last=not ours.channels_last)
    t_other = time_it(lambda: other.predict_array(x), repeats=REPEATS["tile"])
    ratio = print_ratio(f"{NAME} {name} 512^2 tile", t_ours, t_naive)
    label = "channels_last" if other.channels_last else "contiguous"
    print(
        f"  {label} instead: {t_other.median_s:.3f} s (ours uses {'channels_last' if ours.channels_last else 'contiguous'})"
    )
    return {
        **_pair(t_ours, t_naive, TILE_PX**2, float(np.abs(a - b).max())),
        "ratio": ratio,
        f"ours_{label}": timing_dict(t_other),
    }


def _r50_frame(device: Any, rng: np.random.Generator) -> dict[str, Any]:
    """UNet-ResNet50 over a 1024 x 1024 input (9 tiles): ours vs naive."""
    ours = _predictor(R50, device)
    x = rng.standard_normal((ours.card.in_channels, R50_PX, R50_PX)).astype(np.float32)
    t_ours, a = _timed(lambda: ours.predict_array(x), REPEATS["frame"], warmup=0)
    t_naive, b = _timed(lambda: naive_predict(ours, x), REPEATS["frame"], warmup=0)
    print_ratio(f"{NAME} {R50} {R50_PX}^2 input ({len(ours.grid(x.shape[1:])[1])} tiles)", t_ours, t_naive)
    return _pair(t_ours, t_naive, R50_PX**2, float(np.abs(a - b).max()))


def _small_frame(device: Any) -> dict[str, Any]:
    """thalia-small on a generated 2048^2 frame, end to end (reads included): ours vs naive."""
    ds = ThaliaDataset(big_frame(FRAME_PX, n_dates=4))
    frame = ds.frame(ds.frames[0])
    pair = frame.pairs[0]
    ours = _predictor(SMALL, device)

    def naive() -> np.ndarray:
        x = inputs.sequence_input(frame, pair, ours.card.setting)
        return naive_predict(ours, x)

    # no warm-up runs: the tile figures already warmed this model's kernels, and the store is page-cached
    inputs.sequence_input(frame, pair, ours.card.setting)
    t_ours, got = _timed(lambda: ours.predict_pair(frame, pair), REPEATS["frame"], warmup=0)
    t_naive, want = _timed(naive, REPEATS["frame"], warmup=0)
    t_read = time_it(
        lambda: inputs.sequence_input(frame, pair, ours.card.setting), repeats=REPEATS["frame"], warmup=0
    )
    valid = inputs.valid_mask(frame, pair)
    diff = float(np.abs(got.probability - np.where(valid, want, 0)).max())
    print_ratio(
        f"{NAME} {SMALL} {FRAME_PX}^2 frame end to end ({len(ours.grid(frame.shape)[1])} tiles)",
        t_ours,
        t_naive,
    )
    print(
        f"  throughput ours {FRAME_PX**2 / t_ours.median_s / 1e6:.2f} Mpx/s; the input read alone {t_read.median_s:.2f} s"
    )
    return {**_pair(t_ours, t_naive, FRAME_PX**2, diff), "read_input": timing_dict(t_read)}


def main() -> dict[str, Any]:
    """Time both ways on one tile per model and on whole frames; print ratios; write the JSON figures."""
    torch = import_torch()
    device = default_device()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    figures: dict[str, Any] = {
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "tile_px": TILE_PX,
        "overlap_px": 64,
        "tile": {name: _tile(name, device, rng) for name in (SMALL, R50)},
        "r50_frame": _r50_frame(device, rng),
        "small_frame": _small_frame(device),
    }
    figures["ratio"] = figures["small_frame"]["ratio"]
    figures["pixels_per_s"] = {
        SMALL: figures["small_frame"]["ours_px_per_s"],
        R50: figures["r50_frame"]["ours_px_per_s"],
    }
    figures["seconds"] = time.perf_counter() - start
    path = write_results(NAME, figures)
    print(f"wrote {path}")
    return figures


if __name__ == "__main__":
    main()
