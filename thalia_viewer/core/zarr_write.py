"""How the project writes a Zarr array, in one place: chunking, compression, fill values, empty chunks.

Every writer (synthetic cubes, export, batch predictions) goes through these helpers, so that what it
writes in Zarr format 2 reads identically under zarr-python 2.18.3 (the dataset users' stack) and 3.x:

- zarr-python 2 reads a *missing* chunk of an array whose fill value is null as uninitialised memory;
  zarr 3 reads it as zeros, and by default skips writing chunks that are all fill value. So Zarr 2 arrays
  are written with ``write_empty_chunks=True``: every chunk a writer touches lands on disk, zeros included.
- Class-code (integer) arrays keep a null fill value: any other value is taken by xarray for
  ``_FillValue`` and turns code 0 into NaN. Float arrays have a NaN fill value, as the real cubes: a cell
  no pair fills reads NaN everywhere.
- Zarr 3 output (which zarr-python 2 cannot open at all) keeps zarr's default and skips empty chunks:
  its only readers read them back as the fill value.

Cells of the primary x secondary grid that hold no pair are never written (at real scale the grid has
~100,000 cells and ~1,300 pairs); like the real cubes' unwritten chunks they are not data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
from zarr.core.array_spec import ArrayConfigParams

from .errors import NotAThaliaStoreError

#: Spatial chunk side of every raster the project writes (synthetic cubes, corrections, predictions), px:
#: as the source cubes'. Pair variables are chunked (1, 1, CHUNK_PX, CHUNK_PX).
CHUNK_PX = 1024


def compressor(zarr_format: int) -> Any:
    """The compressor of the Zarr arrays the project writes (Blosc zstd, bit-shuffled) for Zarr 2 or 3."""
    import numcodecs
    import zarr.codecs

    if zarr_format == 2:
        return numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE)
    return zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")


def array_config(zarr_format: int) -> ArrayConfigParams:
    """zarr's runtime array config for writing: Zarr 2 writes every chunk it touches, zeros included."""
    return {"write_empty_chunks": zarr_format == 2}


def writable(array: zarr.Array) -> zarr.Array:
    """``array`` configured to write as the project does (see the module docstring)."""
    return array.with_config(array_config(array.metadata.zarr_format))


def array_of(group: zarr.Group, name: str) -> zarr.Array:
    """The array ``name`` of ``group``; :class:`NotAThaliaStoreError` when it is missing or a group."""
    node = group.get(name)
    if not isinstance(node, zarr.Array):
        msg = (
            f"{name!r} in {group.store_path} is {'a group' if node is not None else 'missing'}, not an array."
        )
        raise NotAThaliaStoreError(
            msg, "The store is damaged or not written by thalia-viewer; copy it again."
        )
    return node


def attrs_of(node: zarr.Array | zarr.Group) -> dict[str, Any]:
    """The attributes of a Zarr node, as a plain dict (JSON values)."""
    return dict(node.attrs.asdict())


def open_array(path: str | os.PathLike[str]) -> zarr.Array:
    """An existing array at ``path``, opened read-write with :func:`writable`'s config."""
    return writable(zarr.open_array(str(path), mode="r+"))


def writable_arrays(group: zarr.Group, names: Sequence[str]) -> dict[str, zarr.Array]:
    """The arrays ``names`` of ``group``, each :func:`writable`."""
    return {name: writable(array_of(group, name)) for name in names}


def variable_encoding(
    dtype: np.dtype | str, zarr_format: int, chunks: tuple[int, ...] | None = None
) -> dict[str, Any]:
    """xarray ``to_zarr`` encoding of one variable: the compressor, a NaN fill for floats, a null one otherwise."""
    encoding: dict[str, Any] = {"compressors": [compressor(zarr_format)]}
    if np.dtype(dtype).kind == "f":
        encoding["_FillValue"] = np.dtype(dtype).type(np.nan)
    if chunks is not None:
        encoding["chunks"] = chunks
    return encoding


def write_template(
    ds: xr.Dataset,
    path: str | os.PathLike[str],
    zarr_format: int,
    chunks: dict[str, tuple[int, ...]] | None = None,
) -> None:
    """Write ``ds``'s metadata and coordinates only (``compute=False``); data goes in later, pair by pair.

    Zarr 2 stores get consolidated metadata, as the real cubes (a plain ``xr.open_zarr`` reads them).
    ``chunks`` gives some variables' chunk shapes (default: the dask chunks of ``ds``).
    """
    encoding = {
        name: variable_encoding(ds[name].dtype, zarr_format, (chunks or {}).get(str(name)))
        for name in ds.data_vars
    }
    ds.to_zarr(
        Path(path),
        mode="w",
        compute=False,
        zarr_format=zarr_format,
        consolidated=zarr_format == 2,
        encoding=encoding,
        write_empty_chunks=array_config(zarr_format)["write_empty_chunks"],
    )


def create_class_array(
    group: zarr.Group,
    name: str,
    *,
    shape: tuple[int, ...],
    chunks: tuple[int, ...],
    dims: Sequence[str],
    compressors: Any,
    attrs: dict[str, Any],
) -> zarr.Array:
    """A new uint8 class-code array in ``group`` that xarray reads as codes (0 stays 0, not NaN), writable.

    Zarr 2: a null fill value and xarray's ``_ARRAY_DIMENSIONS``; Zarr 3: fill 0 and ``dimension_names``.
    """
    v2 = group.metadata.zarr_format == 2
    attributes = dict(attrs)
    layout: dict[str, Any] = {"fill_value": None} if v2 else {"fill_value": 0, "dimension_names": list(dims)}
    if v2:
        attributes["_ARRAY_DIMENSIONS"] = list(dims)
    array = group.create_array(
        name,
        shape=shape,
        chunks=chunks,
        dtype="uint8",
        compressors=compressors,
        attributes=attributes,
        **layout,
    )
    return writable(array)
