"""The training loader: crops read straight from the Zarr cubes, a torch Dataset fed by seeded items.

What makes it fast (``bench/bench_loader.py`` measures it against opening the store per sample):

- only the crop window is read (:func:`~thalia_viewer.ml.inputs.sequence_input` with ``window=``), from
  frame stores opened once per process (workers open their own; nothing open crosses a fork);
- per-pair metadata (frame shapes, each positive's mask inside its bounding box) is computed once up front
  (:class:`~.labels.Labels`), so a target costs no read and negatives none at all;
- where a frame is small next to the crop (at most :data:`FULL_READ_FACTOR` crops of area), each pair's
  whole normalised input is read once and kept (LRU, ``cache_mb`` per process): later epochs slice memory;
- ``num_workers`` processes prefetch ``prefetch`` batches each while the model trains.

An item is ``(sample index, item seed)`` (:mod:`.sampling`): the seed picks the crop offset and the
augmentation, so a batch is the same with any number of workers and after a resume.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ...core.dataset import ThaliaDataset
from ...core.frame import Frame
from ...core.pairs import Pair
from .. import inputs
from .augment import Augment
from .crops import check_crop, positive_window, random_window, union_mask
from .labels import PairMask, Window
from .samples import Sample
from .sampling import Item, ItemSampler

FULL_READ_FACTOR: Final = 4  # read and keep whole pairs when a frame is at most this many crops in area
DEFAULT_CACHE_MB: Final = 1024  # per process
WORKER_CONTEXT: Final = "forkserver"  # workers start clean: zarr's I/O thread must not be forked


@dataclass(frozen=True)
class CropSpec:
    """What every process needs to read crops: where the data is, and how to turn it into model input."""

    root: str
    setting: str
    crop: int  # px
    stats: Mapping[str, tuple[float, float]] | None = None  # the card's normalisation
    augment: Augment | None = None  # None: no augmentation (validation, evaluation)
    cache_mb: int = DEFAULT_CACHE_MB
    storage_options: dict[str, Any] = field(default_factory=dict)


class CropDataset(Dataset):
    """Crops of ``samples``: ``(x, y)`` = float32 (T*C, crop, crop) normalised input, uint8 (crop, crop) 0/1."""

    def __init__(
        self,
        spec: CropSpec,
        samples: Sequence[Sample],
        masks: Mapping[Pair, PairMask],
        shapes: Mapping[str, tuple[int, int]],
    ) -> None:
        self.spec = spec
        self.samples = list(samples)
        self.masks = dict(masks)
        self.shapes = dict(shapes)
        for frame, shape in self.shapes.items():
            check_crop(spec.crop, shape, f"frame {frame}")
        self._open: tuple[int, ThaliaDataset] | None = None
        self._cache: OrderedDict[Pair, np.ndarray] = OrderedDict()
        self._cached_bytes = 0

    def __len__(self) -> int:
        return len(self.samples)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_open=None, _cache=OrderedDict(), _cached_bytes=0)  # each process opens its own
        return state

    # ----------------------------------------------------------------------------------- reading
    def frame(self, frame_id: str) -> Frame:
        """The frame store, opened once per process."""
        pid = os.getpid()
        if self._open is None or self._open[0] != pid:
            self._open = (pid, ThaliaDataset(self.spec.root, self.spec.storage_options or None))
            self._cache.clear()
            self._cached_bytes = 0
        return self._open[1].frame(frame_id)

    def window(self, index: int, rng: np.random.Generator) -> Window:
        """The crop of sample ``index``: around its deformation (positives) or anywhere (negatives)."""
        sample = self.samples[index]
        shape = self.shapes[sample.frame]
        if not sample.positive:
            return random_window(shape, self.spec.crop, rng)
        bbox, points = union_mask([self.masks[p] for p in sample.pairs])
        return positive_window(shape, self.spec.crop, bbox, points, rng)

    def target(self, sample: Sample, window: Window) -> np.ndarray:
        """uint8 0/1 union of the sample's masks inside ``window``."""
        out = np.zeros((window[1] - window[0], window[3] - window[2]), dtype=np.uint8)
        for p in dict.fromkeys(sample.pairs):
            out |= self.masks[p].window(window)
        return out

    def read(self, sample: Sample, window: Window) -> np.ndarray:
        """Normalised input (T*C, rows, cols) of ``sample`` inside ``window``."""
        frame = self.frame(sample.frame)
        h, w = self.shapes[sample.frame]
        pair_bytes = h * w * len(inputs.channel_names(self.spec.setting)) * np.dtype(np.float32).itemsize
        if h * w > FULL_READ_FACTOR * self.spec.crop**2 or pair_bytes > self.spec.cache_mb * 2**20:
            # a whole pair read that the cache cannot keep would be read again for every crop
            return inputs.sequence_input(frame, sample.pairs, self.spec.setting, window, self.spec.stats)
        r0, r1, c0, c1 = window
        return np.concatenate([self._whole(frame, p)[:, r0:r1, c0:c1] for p in sample.pairs])

    def _whole(self, frame: Frame, pair: Pair) -> np.ndarray:
        """One pair's whole normalised input (C, H, W), kept in the per-process LRU cache."""
        if pair in self._cache:
            self._cache.move_to_end(pair)
            return self._cache[pair]
        x = inputs.sequence_input(frame, pair, self.spec.setting, None, self.spec.stats)
        budget = self.spec.cache_mb * 2**20
        if x.nbytes <= budget:
            self._cache[pair] = x
            self._cached_bytes += x.nbytes
            while self._cached_bytes > budget:
                _, old = self._cache.popitem(last=False)
                self._cached_bytes -= old.nbytes
        return x

    def item(self, index: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` as numpy arrays for sample ``index`` with item seed ``seed``."""
        rng = np.random.default_rng(seed)
        sample = self.samples[index]
        window = self.window(index, rng)
        x, y = self.read(sample, window), self.target(sample, window)
        if self.spec.augment is not None:
            x, y = self.spec.augment(x, y, rng)
        return x, y

    def __getitem__(self, key: Item) -> tuple[torch.Tensor, torch.Tensor]:
        index, seed = key
        x, y = self.item(int(index), int(seed))
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))


def make_loader(
    dataset: CropDataset, items: Sequence[Item], batch_size: int, num_workers: int = 0, prefetch: int = 2
) -> tuple[DataLoader, ItemSampler]:
    """A loader over ``items`` and its sampler (set ``sampler.items`` to reuse persistent workers per epoch)."""
    sampler = ItemSampler(items)
    kwargs: dict[str, Any] = {}
    if num_workers > 0:
        kwargs = {
            "num_workers": num_workers,
            "prefetch_factor": prefetch,
            "persistent_workers": True,
            "multiprocessing_context": WORKER_CONTEXT,
        }
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=False, **kwargs)
    return loader, sampler
