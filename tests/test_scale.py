"""Reads that cost the pair, not the cube: a frame on a big, mostly empty date grid reads a pair through a
graph of that pair's chunks only, lists its pairs from the chunks written when no JSON does, and whole-cube
work gets dask explicitly (``ThaliaDataset.cube``)."""

from __future__ import annotations

import json
import shutil

import dask
import dask.array as dska
import numpy as np
import pytest
import xarray as xr
import zarr

from thalia_viewer.core import schema
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.frame import Frame
from thalia_viewer.core.io import Location

N_DATES = 120  # a 120 x 120 date grid: 14,400 cells, of which the tiny frame's pairs fill a handful
CHUNK = 32  # px tiles: (1, 1, 32, 32) chunks, 30 per pair plane of the tiny frame


def sparse_copy(tiny_root, out, zarr_format: int):
    """The tiny root's first frame on a N_DATES x N_DATES date grid in CHUNK px tiles: metadata for the whole
    grid, chunks written only for the source's pairs (at the same dates), JSON files copied."""
    src = ThaliaDataset(tiny_root)
    frame = src.frame(src.frames[0])
    source = xr.open_zarr(tiny_root / f"{frame.frame_id}.zarr")
    real = np.unique(np.concatenate([source[schema.PRIMARY].values, source[schema.SECONDARY].values]))
    filler = np.setdiff1d(real[0] + np.arange(2 * N_DATES) * np.timedelta64(5, "D"), real)
    dates = np.sort(np.concatenate([real, filler[: N_DATES - len(real)]]))
    data = {}
    for name, var in source.data_vars.items():
        shape = tuple(len(dates) if d in schema.DATE_DIMS else var.sizes[d] for d in var.dims)
        lazy = dska.empty(shape, dtype=var.dtype, chunks=shape)
        data[name] = (var.dims, lazy, var.attrs)
    coords = {
        schema.PRIMARY: dates,
        schema.SECONDARY: dates,
        frame.y_dim: source[frame.y_dim].values,
        frame.x_dim: source[frame.x_dim].values,
    }
    template = xr.Dataset(data, coords=coords)
    for var in template.data_vars.values():
        var.encoding = {"chunks": (1,) * (var.ndim - 2) + (CHUNK, CHUNK)}
        if var.dtype.kind == "f":
            var.encoding["_FillValue"] = np.float32(np.nan)
    store = out / f"{frame.frame_id}.zarr"
    template.to_zarr(store, mode="w", compute=False, zarr_format=zarr_format, consolidated=zarr_format == 2)
    group = zarr.open_group(str(store), mode="r+")
    where = {d: {v: k for k, v in enumerate(dates)} for d in schema.DATE_DIMS}
    with zarr.config.set({"array.write_empty_chunks": True}):
        for name, var in source.data_vars.items():
            values = var.values
            if var.ndim == 2:
                group[name][:] = values
                continue
            for index in np.ndindex(values.shape[:-2]):
                target = tuple(where[d][var[d].values[k]] for d, k in zip(var.dims[:-2], index, strict=False))
                if var.ndim == 4 and not np.isfinite(values[index]).any() and var.dtype.kind == "f":
                    continue  # an empty cell of the source stays unwritten
                group[name][target] = values[index]
    for name in (schema.ANNOTATIONS_FILE, schema.QUALITY_FILE):
        shutil.copy(tiny_root / name, out / name)
    return frame


@pytest.fixture(scope="module", params=[2, 3], ids=["zarr2", "zarr3"])
def sparse_root(request, tiny_root, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"sparse{request.param}") / "root"
    out.mkdir()
    frame = sparse_copy(tiny_root, out, request.param)
    return out, frame


def test_a_pair_read_builds_a_graph_of_that_pair_only_and_equals_the_raw_read(sparse_root):
    root, source = sparse_root
    ds = ThaliaDataset(root)
    frame = ds.frame(source.frame_id)
    assert frame.ds[schema.PHASE].chunks is None  # no dask graph over the 120 x 120 grid
    assert frame.pairs == source.pairs
    pair = frame.pairs[len(frame.pairs) // 2]
    layer = frame.layer(pair, "phase")
    h, w = frame.shape
    per_plane = -(-h // CHUNK) * -(-w // CHUNK)
    assert len(dict(layer.data.__dask_graph__())) <= 4 * per_plane  # tasks of one pair, not of 14,400 cells
    group = zarr.open_group(str(root / f"{frame.frame_id}.zarr"), mode="r")
    i, j = frame.cell(pair)
    np.testing.assert_array_equal(frame.read(pair, ["phase"])["phase"], group[schema.PHASE][i, j])
    got = frame.read(pair, ["phase", "coherence", "dem", "tcwv_delta", "deformation"])
    want = source.read(pair, ["phase", "coherence", "dem", "tcwv_delta", "deformation"])
    for key, values in want.items():
        np.testing.assert_array_equal(got[key], values, err_msg=key)


def test_a_window_reads_only_its_chunks(sparse_root):
    root, source = sparse_root
    frame = ThaliaDataset(root).frame(source.frame_id)
    pair = frame.pairs[0]
    layer = frame.layer(pair, "coherence")
    window = layer[CHUNK : 2 * CHUNK, CHUNK : 2 * CHUNK]
    (whole,) = dask.optimize(layer.data)
    (part,) = dask.optimize(window.data)  # culled to what the window needs
    assert len(part.__dask_graph__()) * 10 <= len(whole.__dask_graph__())
    want = source.read(pair, ["coherence"])["coherence"][CHUNK : 2 * CHUNK, CHUNK : 2 * CHUNK]
    np.testing.assert_allclose(window.values, want)


def test_pairs_come_from_the_written_chunks_when_no_json_lists_them(sparse_root, tmp_path):
    root, source = sparse_root
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / f"{source.frame_id}.zarr").symlink_to(root / f"{source.frame_id}.zarr")
    ds = ThaliaDataset(bare)
    frame = ds.frame(source.frame_id)
    finite = np.isfinite(source.ds[schema.PHASE]).any([source.y_dim, source.x_dim]).values
    index = {d: {v: k for k, v in enumerate(frame.ds[d].values)} for d in schema.DATE_DIMS}
    written = {
        (
            index[schema.PRIMARY][source.ds[schema.PRIMARY].values[i]],
            index[schema.SECONDARY][source.ds[schema.SECONDARY].values[j]],
        )
        for i, j in zip(*np.nonzero(finite), strict=True)
    }
    assert ds.location.stored_cells(f"{source.frame_id}.zarr", schema.PHASE) == written
    assert set(frame.pairs) >= set(source.pairs)  # every valid pair holds data; corrupted ones do too
    assert {frame.cell(p) for p in frame.pairs} <= written
    # without a listing (plain HTTP) every cell of the grid is sampled, with the same answer
    plain = Frame(frame.frame_id, frame.ds, source=frame.source)
    assert plain.pairs == frame.pairs


def test_stored_cells_is_none_where_the_store_cannot_be_listed(tmp_path):
    location = Location(tmp_path)
    assert location.stored_cells("missing.zarr", schema.PHASE) == set()

    class Unlistable:
        def find(self, _path):
            raise NotImplementedError

    location.fs = Unlistable()
    assert location.stored_cells("missing.zarr", schema.PHASE) is None


def test_whole_cube_work_gets_dask_with_the_disk_chunks(sparse_root):
    root, source = sparse_root
    cube = ThaliaDataset(root).cube(source.frame_id)
    phase = cube[schema.PHASE]
    assert phase.chunks is not None
    assert phase.data.chunksize == (1, 1, CHUNK, CHUNK)
    assert phase.data.npartitions == N_DATES * N_DATES * -(-source.shape[0] // CHUNK) * -(
        -source.shape[1] // CHUNK
    )


def test_cube_names_a_missing_frame(tiny_root):
    with pytest.raises(FileNotFoundError, match="no frame 'nope'"):
        ThaliaDataset(tiny_root).cube("nope")


def test_json_catalogue_still_decides_the_valid_pairs(sparse_root):
    root, source = sparse_root
    quality = json.loads((root / schema.QUALITY_FILE).read_text())
    listed = sum(len(g["secondary_date"]) for g in quality[source.frame_id].values())
    assert len(ThaliaDataset(root).frame(source.frame_id).pairs) == listed


def test_read_goes_straight_to_memory_while_layers_stay_lazy(sparse_root, monkeypatch):
    from thalia_viewer.core import frame as frame_module

    root, source = sparse_root
    frame = ThaliaDataset(root).frame(source.frame_id)
    pair = frame.pairs[-1]
    keys = ["phase", "coherence", "deformation", "activity", "tcwv_delta", "dem"]
    want = source.read(pair, keys)
    assert frame.coherence_scale and not frame.zero_nodata  # sampled (lazily, a window) before the patch

    def no_graph(da):
        raise RuntimeError("a dask graph was built")

    monkeypatch.setattr(frame_module, "_pair_graph", no_graph)
    got = frame.read(pair, keys)
    for key in keys:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
        assert got[key].dtype == want[key].dtype
    with pytest.raises(RuntimeError, match="dask graph"):  # outside read(), a layer is a lazy graph
        frame.layer(pair, "phase")
