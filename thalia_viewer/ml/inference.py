"""Run a segmentation model on whole frames: overlapping tiles, batched, blended without seams.

>>> predictor = Predictor("thalia-small")                  # a zoo name, a ModelCard, or (module, card)
>>> result = predictor.predict_pair(frame, pair, progress=lambda done, total: ...)
>>> result.probability, result.mask, result.metrics        # float32 (H, W), uint8 (H, W), scores or None

The frame is read band by band (one row of tiles at a time), so memory stays at a few tile rows whatever
the frame size. Tiles run in batches under ``torch.inference_mode``; on CUDA with ``channels_last`` and
autocast (bfloat16 where supported); on the CPU in float32. Time-series models get the pair's length-3
benchmark sequence (:func:`~thalia_viewer.ml.inputs.sequence_for`), time-major; their target is the union
of the sequence's masks. Pixels with no phase value in any pair of the input are predicted 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np

from ..core.frame import Frame
from ..core.pairs import Pair
from . import inputs, tiling
from .errors import InputError
from .metrics import Confusion, Scores, confusion
from .torch_env import import_torch, resolve_device
from .zoo import DEFAULT_MODEL, ModelCard, ModelZoo, load_model

if TYPE_CHECKING:
    import torch
    from torch import nn

Progress = Callable[[int, int], None]  # (tiles done, tiles in all)
DEFAULT_STRIDE: Final = 32  # output stride of smp encoders (5 downsamplings)
DEFAULT_BATCH: Final = {"cuda": 8, "cpu": 4}  # tiles per forward pass


@dataclass
class Prediction:
    """A model's output on one pair (or sequence): probability, mask, and scores against the labels."""

    pairs: tuple[Pair, ...]
    probability: np.ndarray  # float32 (H, W), deformation probability 0-1
    mask: np.ndarray  # uint8 (H, W), 1 = deformation (probability >= threshold)
    model: str
    device: str
    seconds: float
    window: tuple[int, int, int, int]  # (row0, row1, col0, col1) of the frame
    target: np.ndarray | None = None  # uint8 (H, W) ground truth (union of the pairs' masks), if any
    confusion: Confusion | None = None
    asked: Pair | None = None  # the pair asked for, when a pair (not a sequence) was given

    @property
    def pair(self) -> Pair:
        """The pair asked for (the last of a sequence when a sequence was given)."""
        return self.asked or self.pairs[-1]

    @property
    def metrics(self) -> Scores | None:
        """Counts and precision / recall / f1 / iou of the deformation class, or ``None`` without labels."""
        return None if self.confusion is None else self.confusion.to_dict()


class Predictor:
    """A model ready to predict whole frames (loaded once, reused for every pair)."""

    def __init__(
        self,
        model: str | ModelCard | nn.Module = DEFAULT_MODEL,
        device: str | torch.device | None = None,
        *,
        card: ModelCard | None = None,
        zoo: ModelZoo | None = None,
        weights: str | None = None,
        batch_size: int | None = None,
        channels_last: bool | None = None,
        amp: bool | None = None,
    ) -> None:
        """``model``: a zoo name (default: the zoo's default model), a card (its weights are loaded) or a module
        (pass its ``card``)."""
        torch = import_torch()
        self.device = resolve_device(device)
        if isinstance(model, str):
            model = (zoo or ModelZoo()).get(model)
        if isinstance(model, ModelCard):
            card = model
            module = load_model(card, self.device, weights=weights)
        else:
            module = model.to(self.device).eval()
        if card is None:
            msg = f"a bare {type(module).__name__} was given without its model card."
            raise InputError(
                msg, "Pass card=ModelCard(...) so the predictor knows the inputs, classes and tiling."
            )
        self.card = card
        self.model = module
        cuda = self.device.type == "cuda"
        self.batch_size = batch_size or DEFAULT_BATCH["cuda" if cuda else "cpu"]
        self.channels_last = cuda if channels_last is None else channels_last
        self.amp = cuda if amp is None else amp and cuda
        self.amp_dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
        if self.channels_last:
            # Module.to takes memory_format (it passes it on to Tensor.to); torch's overloads leave it out
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        encoder = getattr(module, "encoder", None)
        self.stride = int(getattr(encoder, "output_stride", DEFAULT_STRIDE) or 1)

    def __repr__(self) -> str:
        return f"Predictor({self.card.name!r}, device={str(self.device)!r}, batch={self.batch_size})"

    # ------------------------------------------------------------------------------------- tiling
    @property
    def tile(self) -> int:
        """Tile side, px (the card's, rounded up to a multiple of the stride)."""
        return _round_up(self.card.tile_size, self.stride)

    @property
    def overlap(self) -> int:
        """Tile overlap, px (rounded so the step between tiles stays a multiple of the stride)."""
        return min(_round_up(self.card.tile_overlap, self.stride), self.tile - self.stride)

    def grid(self, shape: tuple[int, int]) -> tuple[tuple[int, int], list[tiling.Window]]:
        """The padded shape (multiples of the stride) and the tile windows over it."""
        padded = (_round_up(shape[0], self.stride), _round_up(shape[1], self.stride))
        return padded, tiling.tile_grid(padded, self.tile, self.overlap)

    # ------------------------------------------------------------------------------------ forward
    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Deformation probability (B, H, W) float32 of normalised inputs (B, C, H, W)."""
        torch = import_torch()
        if batch.shape[1] != self.card.in_channels:
            msg = f"model {self.card.name!r} takes {self.card.in_channels} channels, got {batch.shape[1]}."
            raise InputError(
                msg,
                f"Build inputs with setting {self.card.setting!r} and {self.card.timesteps} time step(s).",
            )
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp):
            prob = deformation_probability(self.model(x), self.card)
        return prob.cpu().numpy()

    def predict_array(self, x: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        """Deformation probability (H, W) float32 of one normalised input (C, H, W), tiled and blended."""
        h, w = x.shape[-2:]

        def read(window: tiling.Window) -> np.ndarray:
            r0, r1, c0, c1 = window
            return x[:, r0 : min(r1, h), c0 : min(c1, w)]

        return self._tiled((h, w), read, progress)

    def _tiled(
        self,
        shape: tuple[int, int],
        read_band: Callable[[tiling.Window], np.ndarray],
        progress: Progress | None,
    ) -> np.ndarray:
        """Blend tile predictions over ``shape``; ``read_band(window)`` gives the input inside the frame."""
        padded, windows = self.grid(shape)
        blender = tiling.Blender(padded, self.overlap)
        total, done = len(windows), 0
        if progress:
            progress(0, total)
        for (r0, r1), row in _rows(windows):
            band = read_band((r0, r1, 0, padded[1]))  # clipped to the frame by the reader
            band = np.pad(band, [(0, 0), (0, (r1 - r0) - band.shape[1]), (0, padded[1] - band.shape[2])])
            for k in range(0, len(row), self.batch_size):
                chunk = row[k : k + self.batch_size]
                probs = self.forward(np.stack([band[:, :, c0:c1] for _, _, c0, c1 in chunk]))
                for window, p in zip(chunk, probs, strict=True):
                    blender.add(window, p)
                done += len(chunk)
                if progress:
                    progress(done, total)
        return blender.result()[: shape[0], : shape[1]]

    # --------------------------------------------------------------------------------------- pairs
    def sequence(self, frame: Frame, pair: Pair | Sequence[Pair]) -> tuple[Pair, ...]:
        """The pairs the model takes for ``pair`` (itself, or its benchmark sequence for time-series models)."""
        if isinstance(pair, Pair):
            return inputs.sequence_for(frame, pair, self.card.timesteps)
        seq = tuple(pair)
        if len(seq) != self.card.timesteps:
            msg = f"model {self.card.name!r} takes {self.card.timesteps} pair(s) per prediction, got {len(seq)}."
            raise InputError(
                msg, "Pass one pair (its sequence is found for you) or a sequence of that length."
            )
        return seq

    def predict_pair(
        self,
        frame: Frame,
        pair: Pair | Sequence[Pair],
        progress: Progress | None = None,
        window: tiling.Window | None = None,
    ) -> Prediction:
        """Predict one pair (or sequence) over the whole frame or ``window``; scores if the frame has labels."""
        start = time.perf_counter()
        seq = self.sequence(frame, pair)
        window = inputs.check_window(frame, window)
        r0, r1, c0, c1 = window
        stats = self.card.normalisation
        valid = np.zeros((r1 - r0, c1 - c0), dtype=bool)

        def read(tile_window: tiling.Window) -> np.ndarray:
            a0, a1, b0, b1 = tile_window  # relative to ``window``; clip to it
            a1, b1 = min(a1, r1 - r0), min(b1, c1 - c0)
            x, ok = inputs.sequence_arrays(
                frame, seq, self.card.setting, (r0 + a0, r0 + a1, c0 + b0, c0 + b1), stats
            )
            valid[a0:a1, b0:b1] |= ok
            return x

        probability = self._tiled((r1 - r0, c1 - c0), read, progress)
        probability[~valid] = 0.0
        mask = (probability >= self.card.threshold).astype(np.uint8)
        result = Prediction(
            pairs=seq,
            probability=probability,
            mask=mask,
            model=self.card.name,
            device=str(self.device),
            seconds=0.0,
            window=window,
            asked=pair if isinstance(pair, Pair) else None,
        )
        if inputs.has_target(frame):
            result.target = inputs.target(frame, seq, window)
            result.confusion = confusion(mask, result.target)
        result.seconds = time.perf_counter() - start
        return result


def deformation_probability(logits: torch.Tensor, card: ModelCard) -> torch.Tensor:
    """(N, H, W) probability of the deformation class from a model's (N, K, H, W) logits: a sigmoid for one
    output, else the softmax at the card's deformation channel (prediction and evaluation score alike)."""
    if card.num_outputs == 1:
        return logits[:, 0].float().sigmoid()
    return logits.float().softmax(dim=1)[:, card.deformation_index]


def _rows(windows: list[tiling.Window]) -> Iterator[tuple[tuple[int, int], list[tiling.Window]]]:
    """Tile windows grouped by row band."""
    rows: dict[tuple[int, int], list[tiling.Window]] = {}
    for w in windows:
        rows.setdefault((w[0], w[1]), []).append(w)
    yield from rows.items()


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple
