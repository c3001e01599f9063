"""Where a dataset lives: local folders and fsspec URLs (``http(s)://``, ``s3://``, ...) behind one API."""

from __future__ import annotations

import json
import os
import re
import warnings
import zlib
from typing import Any

import fsspec
import xarray as xr
from fsspec.implementations.local import LocalFileSystem

from .errors import AnnotationFileError, DatasetNotFoundError, NotAThaliaStoreError

# The write-side rules (chunk side, compressor, fill values, empty chunks) live in zarr_write; re-exported here.
from .zarr_write import CHUNK_PX, compressor  # noqa: F401

#: Files of a Zarr array's folder that are metadata, not chunks (Zarr 2 and 3).
#: What reading a damaged chunk raises: a codec that cannot decode it (blosc, zstd, lz4: RuntimeError; zlib /
#: gzip: zlib.error), a chunk of the wrong size (ValueError: cannot reshape), zarr's own errors (ValueError
#: subclasses), a read that fails (OSError), a truncated stream (EOFError). Anything else is a bug: it
#: propagates instead of being reported as a damaged store.
CHUNK_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, ValueError, OSError, EOFError, zlib.error)
#: What opening a store with damaged metadata raises: the above, plus xarray's decoding of metadata of the
#: wrong type or shape (a missing key, an attribute that is not a mapping, a short dimension list).
METADATA_ERRORS: tuple[type[BaseException], ...] = (
    *CHUNK_ERRORS,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
)
METADATA_FILES = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"})


class Location:
    """A dataset root: a filesystem (fsspec) and a path in it, with helpers to read JSON and Zarr."""

    def __init__(self, root: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> None:
        self.url = os.fspath(root)
        self.storage_options = dict(storage_options or {})
        self.fs, self.path = fsspec.core.url_to_fs(self.url, **self.storage_options)
        self.path = self.path.rstrip("/")

    @property
    def is_local(self) -> bool:
        """True for a folder on this machine."""
        return isinstance(self.fs, LocalFileSystem)

    def join(self, *parts: str) -> str:
        """The URL (or local path) of ``parts`` under the root."""
        base = self.path if self.is_local else self.url.rstrip("/")
        return "/".join([base, *parts])

    def _fs_path(self, *parts: str) -> str:
        return "/".join([self.path, *parts])

    def exists(self, *parts: str) -> bool:
        """Whether ``parts`` exists under the root (the root itself without parts)."""
        try:
            return bool(self.fs.exists(self._fs_path(*parts)))
        except (OSError, ValueError):
            return False

    def listdir(self) -> list[str] | None:
        """Entry names at the root, or ``None`` where the filesystem cannot list (plain HTTP)."""
        try:
            entries = self.fs.ls(self.path, detail=False)
        except (OSError, ValueError, NotImplementedError):
            return None
        return sorted({str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries})

    def read_json(self, name: str, required: bool = True) -> Any:
        """A JSON file under the root, parsed; ``None`` if absent and not required."""
        if not self.exists(name):
            if required:
                msg = f"{self.join(name)} does not exist."
                raise DatasetNotFoundError(msg, "A Thalia root holds <frame>.zarr stores and this file.")
            return None
        try:
            with self.fs.open(self._fs_path(name), "rb") as f:
                return json.loads(f.read().decode("utf-8"))
        except json.JSONDecodeError as exc:
            msg = f"{self.join(name)} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            raise AnnotationFileError(msg, "Fix or restore the file; the data were not changed.") from exc
        except UnicodeDecodeError as exc:
            msg = f"{self.join(name)} is not UTF-8 text."
            raise AnnotationFileError(msg, "Restore the file from the original distribution.") from exc

    def open_zarr(self, name: str, chunks: dict[str, Any] | None = None) -> xr.Dataset:
        """The Zarr store ``name`` under the root, lazily.

        ``chunks=None`` (interactive reads): xarray's lazy backend indexing, so a selection costs the chunks it
        touches, whatever the size of the date grid. ``chunks={}``: dask arrays with the on-disk chunks, for
        work over the whole cube; the graph then holds every chunk of the primary x secondary grid (6.5 M per
        pair variable on a 320 x 320-date, 4096 px frame in 512 px tiles), which costs seconds to minutes per
        selection: never use it to read a pair.
        """
        target = self.join(name)
        if not self.exists(name):
            msg = f"frame store {target} does not exist."
            raise DatasetNotFoundError(msg, "List the frames with `thalia-viewer info ROOT`.")
        kwargs: dict[str, Any] = {"chunks": chunks, "consolidated": None}
        if not self.is_local:
            kwargs["storage_options"] = self.storage_options
        try:
            with warnings.catch_warnings():
                # stores without consolidated metadata (Zarr 3) make xarray warn before falling back
                warnings.simplefilter("ignore")
                return xr.open_zarr(target, **kwargs)
        except METADATA_ERRORS as exc:
            msg = f"{target} is not a readable Zarr store ({type(exc).__name__}: {exc})."
            raise NotAThaliaStoreError(
                msg,
                "A frame store is a Zarr group (format 2 or 3) written by xarray; re-extract or re-generate it.",
            ) from exc

    def stored_cells(self, name: str, variable: str) -> set[tuple[int, int]] | None:
        """(primary, secondary) indices of the cells of pair ``variable`` in store ``name`` that hold at least one
        written chunk, from a listing of the store (Zarr 2 ``i.j.y.x`` or nested keys, Zarr 3 ``c/i/j/y/x``);
        ``None`` where the store cannot be listed (plain HTTP) or the listing is not understood.
        """
        prefix = self._fs_path(name, variable)
        try:
            found = self.fs.find(prefix)
        except (OSError, ValueError, NotImplementedError):
            return None
        cells: set[tuple[int, int]] = set()
        for path in found:
            key = str(path)[len(prefix) :].strip("/")
            if not key or key.rsplit("/", 1)[-1] in METADATA_FILES:
                continue
            parts = re.split(r"[./]", key)
            if parts[0] == "c":  # Zarr 3's default chunk key encoding
                parts = parts[1:]
            try:
                cells.add((int(parts[0]), int(parts[1])))
            except (IndexError, ValueError):
                return None
        return cells
