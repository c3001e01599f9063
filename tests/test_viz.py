"""The rendering layer: screen-resolution aggregation, colour maps, mask overlays and PNG figures."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from thalia_viewer.core import schema
from thalia_viewer.viz import colormaps, png, shade

N = 64  # test arrays are N x N pixels
PIXEL_DEG = 0.001


def _grid(
    values: np.ndarray, name: str, dims: tuple[str, str] = ("y", "x"), chunks: int | None = 16
) -> xr.DataArray:
    """A north-up lon/lat raster of ``values`` (y decreasing, x increasing), dask-backed like a Zarr read."""
    h, w = values.shape
    coords = {dims[0]: 38.0 - PIXEL_DEG * np.arange(h), dims[1]: 15.0 + PIXEL_DEG * np.arange(w)}
    da = xr.DataArray(values, dims=dims, coords=coords, name=name)
    return da.chunk(chunks) if chunks else da


@pytest.fixture
def phase_ramp() -> xr.DataArray:
    """Wrapped phase (rad): a ramp along x wrapping twice, so fringes cross the +-pi wrap."""
    ramp = np.linspace(0, 4 * np.pi, N, dtype=np.float32)[None, :].repeat(N, 0)
    return _grid(np.angle(np.exp(1j * ramp)).astype(np.float32), schema.PHASE)


@pytest.fixture
def coherence() -> xr.DataArray:
    """Coherence 0-1 increasing along y, with a NaN (no data) corner."""
    values = np.linspace(0, 1, N, dtype=np.float32)[:, None].repeat(N, 1)
    values[:16, :16] = np.nan
    return _grid(values, schema.COHERENCE)


@pytest.fixture
def deformation() -> xr.DataArray:
    """Deformation codes 0/1/2 as uint8: a volcanic square and an earthquake square."""
    mask = np.zeros((N, N), np.uint8)
    mask[8:40, 8:40] = 1
    mask[44:60, 30:60] = 2
    return _grid(mask, schema.DEFORMATION_MASK)


@pytest.fixture
def activity() -> xr.DataArray:
    """Activity codes 0-6 stored as float32, in 1-px stripes (every down-sampled cell mixes codes), NaN edge."""
    codes = np.tile(np.arange(7, dtype=np.float32), N // 7 + 1)[:N]
    mask = codes[None, :].repeat(N, 0)
    mask[:, -4:] = np.nan
    return _grid(mask, schema.ACTIVITY_MASK)


def _canvas(da: xr.DataArray, width: int):
    return shade.make_canvas(shade.view_extent(da), width)


# ------------------------------------------------------------------------------------------ phase
def test_phase_circular_mean_across_the_wrap():
    # alternating columns at +(pi - 0.1) and -(pi - 0.1): the arithmetic mean would be 0
    values = np.full((N, N), np.pi - 0.1, np.float32)
    values[:, 1::2] = -(np.pi - 0.1)
    agg = shade.aggregate_phase(_grid(values, schema.PHASE), _canvas(_grid(values, schema.PHASE), 16))
    assert agg.shape == (16, 16)
    assert np.allclose(np.abs(agg.values), np.pi, atol=1e-3)


def test_phase_aggregate_stays_wrapped(phase_ramp):
    agg = shade.aggregate(phase_ramp, "phase", 32)
    assert np.nanmin(agg.values) >= -np.pi - 1e-6
    assert np.nanmax(agg.values) <= np.pi + 1e-6
    # each cell averages 2 neighbouring pixels of a ramp: the circular mean is their mid phase
    expected = np.angle(np.exp(1j * np.linspace(0, 4 * np.pi, N)).reshape(32, 2).mean(1))
    diff = np.angle(np.exp(1j * (agg.values[0] - expected)))
    assert np.abs(diff).max() < 1e-3


# --------------------------------------------------------------------------------------- classes
@pytest.mark.parametrize("width", [7, 13, 32, 64, 100])
def test_class_codes_survive_downsampling(activity, width):
    agg = shade.aggregate(activity, "activity", width)
    assert agg.dtype == np.uint8
    valid = {c.code for c in schema.ACTIVITY_TYPES}
    assert set(np.unique(agg.values).tolist()) <= valid


def test_class_mode_never_invents_codes():
    # cells mixing 2 and 4 must show 2 or 4, never 3 (the mean) or 1.5
    mask = np.zeros((N, N), np.uint8)
    mask[:, ::2] = 2
    mask[:, 1::2] = 4
    agg = shade.aggregate(_grid(mask, schema.ACTIVITY_MASK), "activity", 16)
    assert set(np.unique(agg.values).tolist()) <= {2, 4}


def test_small_labelled_region_stays_visible_when_zoomed_out(deformation):
    values = np.zeros((N, N), np.uint8)
    values[30:32, 30:32] = 1  # 4 labelled pixels among 64 per output cell
    agg = shade.aggregate(_grid(values, schema.DEFORMATION_MASK), "deformation", 8)
    assert (agg.values == 1).sum() >= 1


def test_class_layer_rejects_unknown_codes():
    values = np.full((N, N), 1.5, np.float32)
    with pytest.raises(ValueError, match="not class codes"):
        shade.aggregate(_grid(values, schema.DEFORMATION_MASK), "deformation", 16)


def test_class_lut_from_schema():
    for variable, table in schema.MASK_CLASSES.items():
        lut = colormaps.class_lut(variable)
        assert lut.shape == (max(c.code for c in table) + 1, 4)
        assert lut.dtype == np.uint8
        assert lut[0, 3] == 0  # code 0 transparent
        for c in table[1:]:
            assert tuple(lut[c.code]) == colormaps.hex_to_rgba(c.color)


# -------------------------------------------------------------------------------------- overlays
def test_overlay_changes_only_labelled_pixels(coherence, deformation):
    base = shade.shade_layer(coherence, "coherence", 32)
    mask = shade.shade_layer(deformation, "deformation", 32)
    for outline in (True, False):
        out = shade.overlay_masks(base.rgba, mask.agg, schema.DEFORMATION_MASK, outline=outline)
        changed = np.any(out != base.rgba, axis=-1)
        labelled = mask.agg.values > 0
        assert changed.any()
        assert not (changed & ~labelled).any()


def test_overlay_outline_marks_region_border(deformation):
    codes = shade.aggregate(deformation, "deformation", N).values
    rgba = np.full((N, N, 4), 255, np.uint8)
    out = shade.overlay_masks(rgba, codes, schema.DEFORMATION_MASK)
    assert tuple(out[8, 20]) == tuple(shade.OUTLINE_RGBA)  # top edge of the volcanic square
    assert tuple(out[9, 20]) == tuple(colormaps.class_lut(schema.DEFORMATION_MASK)[1])  # class colour inside


def test_overlay_shape_mismatch_is_an_error(coherence, deformation):
    base = shade.shade_layer(coherence, "coherence", 32)
    with pytest.raises(ValueError, match="does not match"):
        shade.overlay_masks(base.rgba, np.zeros((5, 5), np.uint8), schema.DEFORMATION_MASK)


# --------------------------------------------------------------------------------------- shading
def test_nan_is_transparent(coherence):
    result = shade.shade_layer(coherence, "coherence", N)
    assert result.rgba.shape == (N, N, 4) and result.rgba.dtype == np.uint8
    assert (result.rgba[:16, :16, 3] == 0).all()
    assert (result.rgba[16:, 16:, 3] == 255).all()
    assert result.span == (0.0, 1.0)


def test_north_up_and_lat_lon_dims(coherence):
    latlon = coherence.rename({"y": "lat", "x": "lon"})
    south_up = latlon.isel(lat=slice(None, None, -1))  # y increasing in the store
    a = shade.shade_layer(latlon, "coherence", 32)
    b = shade.shade_layer(south_up, "coherence", 32)
    assert a.agg.dims == ("lat", "lon")
    assert np.array_equal(a.rgba, b.rgba)
    assert a.agg["lat"].values[0] > a.agg["lat"].values[-1]
    # coherence grows southward (row index): the top row is darker than the bottom one
    assert a.rgba[0, -1, 0] < a.rgba[-1, -1, 0]


def test_view_ranges_and_height_from_aspect(coherence):
    x0, y1 = 15.0, 38.0
    result = shade.shade_layer(coherence, "coherence", 40, x_range=(x0, x0 + 0.02), y_range=(y1 - 0.01, y1))
    assert result.rgba.shape == (20, 40, 4)
    assert result.extent == shade.Extent(x0, x0 + 0.02, y1 - 0.01, y1)


def test_view_outside_data_is_an_error(coherence):
    with pytest.raises(ValueError, match="does not overlap"):
        shade.shade_layer(coherence, "coherence", 32, x_range=(20.0, 21.0))


def test_delta_span_is_symmetric():
    values = np.linspace(-1, 3, N * N, dtype=np.float32).reshape(N, N)
    result = shade.shade_layer(_grid(values, "total_column_water_vapour"), "tcwv_delta", 32)
    lo, hi = result.span
    assert lo == pytest.approx(-hi)


@pytest.mark.parametrize(("metres_per_px", "lit"), [(50.0, True), (-50.0, False)])
def test_hillshade_faces_the_light(metres_per_px, lit):
    # under a north-west light, a slope rising to the east faces west (lit), one rising to the west is in shade
    dem = np.tile(np.arange(N, dtype=np.float32) * metres_per_px, (N, 1))
    agg = shade.aggregate(_grid(dem, schema.DEM), "dem", N)
    shaded = shade.hillshade(agg)
    flat = np.sin(np.deg2rad(shade.HILLSHADE_ALTITUDE_DEG))
    assert float(np.nanmin(shaded)) >= 0 and float(np.nanmax(shaded)) <= 1
    assert (float(np.nanmean(shaded)) > flat) == lit


def test_colormaps_by_kind():
    assert colormaps.cmap_name("phase") == colormaps.PHASE_CMAP
    assert colormaps.cmap_name("tcwv_delta") == colormaps.DELTA_CMAP
    assert len(colormaps.colormap_for("coherence")) == 256
    assert len(colormaps.colormap_for("activity")) == len(schema.MASK_CLASSES[schema.ACTIVITY_MASK])
    with pytest.raises(ValueError, match="class layer"):
        colormaps.cmap_name("deformation")


# ------------------------------------------------------------------------------------------- PNG
def test_render_view_panels_and_width(phase_ramp, coherence, deformation, activity, tmp_path):
    arrays = {"phase": phase_ramp, "coherence": coherence, "deformation": deformation, "activity": activity}
    width = 96
    image = png.render_view(arrays, ["phase", "coherence", "deformation", "activity"], width=width)
    assert image.mode == "RGB"
    assert image.width == 2 * width + 3 * png.MARGIN
    path = png.save_png(image, tmp_path / "fig" / "view.png")
    assert path.exists() and path.stat().st_size > 0


def test_render_view_masks_only_on_grey(deformation):
    width = 80
    image = png.render_view({"deformation": deformation}, ["deformation"], width=width)
    assert image.width == width + 2 * png.MARGIN
    pixels = np.asarray(image)
    grey = colormaps.hex_to_rgba(png.MASK_BACKGROUND)[:3]
    assert (pixels == grey).all(axis=-1).any()


def test_render_view_lat_lon_and_aliases(coherence, deformation):
    arrays = {
        "coherence": coherence.rename({"y": "lat", "x": "lon"}),
        "mask": deformation.rename({"y": "lat", "x": "lon"}),
    }
    image = png.render_view(arrays, ["coherence", "mask"], width=64)
    assert image.width == 64 + 2 * png.MARGIN


def test_render_view_missing_array_names_the_key(coherence):
    with pytest.raises(KeyError, match="dem"):
        png.render_view({"coherence": coherence}, ["coherence", "dem"], width=32)
