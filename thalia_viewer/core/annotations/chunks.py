"""Chunk-wise writes of a mask: only the chunks that differ from the previous version are written.

A save then costs what the edit touched, not the frame size: Icechunk keeps the unchanged chunks of the
previous snapshot by reference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import zarr
from zarr.core.sync import sync

CHUNK_PX = 512  # side of a stored mask chunk, pixels

Block = tuple[slice, slice]


def chunk_shape(shape: tuple[int, int]) -> tuple[int, int]:
    """The stored chunk of a mask of ``shape`` (rows, columns): ``CHUNK_PX`` square, clipped to the frame."""
    return min(CHUNK_PX, shape[0]), min(CHUNK_PX, shape[1])


def changed_blocks(old: np.ndarray | None, new: np.ndarray, chunks: tuple[int, int]) -> list[Block]:
    """The chunk blocks where ``new`` differs from ``old`` (``None``: an unwritten array, all zeros)."""
    changed = new != 0 if old is None else old != new
    return [block for block in _blocks(new.shape, chunks) if changed[block].any()]


def _blocks(shape: tuple[int, ...], chunks: tuple[int, int]) -> Iterator[Block]:
    rows, cols = shape
    for r in range(0, rows, chunks[0]):
        for c in range(0, cols, chunks[1]):
            yield slice(r, min(r + chunks[0], rows)), slice(c, min(c + chunks[1], cols))


def write_blocks(writes: list[tuple[zarr.Array, np.ndarray, list[Block]]]) -> int:
    """Write the given blocks of several arrays concurrently; returns the number of chunks written."""

    async def run() -> None:
        await asyncio.gather(
            *(array._async_array.setitem(block, values[block]) for array, values, blocks in writes for block in blocks)
        )

    sync(run())
    return sum(len(blocks) for _, _, blocks in writes)
