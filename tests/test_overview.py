"""Overviews of big layers: aggregates from them match the direct ones, and an edited box updates them."""

from __future__ import annotations

import numpy as np
import xarray as xr

from thalia_viewer.app.aggregates import OverviewCache, compute_aggregate
from thalia_viewer.core import schema
from thalia_viewer.viz.overview import build_overview, native_per_screen, overview_factor
from thalia_viewer.viz.shade import Extent, aggregate, data_extent

SIZE = 2048  # px: big enough for an overview (factor 2)


def layer_da(values: np.ndarray, name: str) -> xr.DataArray:
    n = values.shape[0]
    y = 40.0 - np.arange(n) * 1e-3  # north-up, as the cubes
    x = 14.0 + np.arange(values.shape[1]) * 1e-3
    return xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x}, name=name)


def test_factor_grows_with_the_frame():
    assert overview_factor((512, 512)) == 1
    assert overview_factor((2048, 2048)) == 2
    assert overview_factor((4096, 3000)) == 4


def test_aggregates_from_an_overview_match_the_direct_ones():
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    phase = np.angle(np.exp(1j * (xx / 37.0 + yy / 53.0))).astype(np.float32)  # smooth fringes
    phase[:100, :] = np.nan
    coherence = (0.5 + 0.4 * np.sin(xx / 50.0) * np.cos(yy / 70.0)).astype(
        np.float32
    )  # smooth, as real fields
    codes = np.zeros((SIZE, SIZE), np.uint8)
    codes[500:900, 600:1400] = 2
    codes[1200:1700, 300:700] = 5
    extent = data_extent(layer_da(phase, "phase"))
    size = (300, 300)
    for key, values in (("phase", phase), ("coherence", coherence), ("activity", codes)):
        da = layer_da(values, key)
        layer = schema.layer(key)
        ov = build_overview(da, layer, overview_factor(da.shape))
        assert native_per_screen(extent, size, da.shape, extent) >= ov.factor
        got = ov.aggregate(extent, size, layer).values
        want = aggregate(da, key, size[0], extent.x_range, extent.y_range, height=size[1]).values
        assert got.shape == want.shape
        if key == "activity":
            assert (got == want).mean() > 0.995  # same codes but at a few region borders
            assert set(np.unique(got)) <= {0, 2, 5}
        elif key == "phase":
            finite = np.isfinite(want) & np.isfinite(got)
            diff = np.angle(np.exp(1j * (got[finite] - want[finite])))
            assert np.abs(diff).max() < 0.05 and np.isnan(got[:10]).all()
        else:
            assert np.nanmax(np.abs(got - want)) < 0.02


def test_an_edited_box_updates_the_overview_like_a_rebuild():
    codes = np.zeros((SIZE, SIZE), np.uint8)
    da = layer_da(codes, "activity")
    layer = schema.layer("activity")
    ov = build_overview(da, layer, 2)
    codes[301:340, 777:900] = 3  # an edit on the (live) raster, boxed
    ov.update(codes, slice(301, 340), slice(777, 900))
    rebuilt = build_overview(layer_da(codes, "activity"), layer, 2)
    np.testing.assert_array_equal(ov.planes[0], rebuilt.planes[0])


def test_views_finer_than_the_overview_read_native_pixels_and_overviews_are_shared(monkeypatch):
    import thalia_viewer.app.aggregates as aggregates

    cache = OverviewCache()
    monkeypatch.setattr(aggregates, "overviews", cache)
    values = np.random.default_rng(0).uniform(0, 1, (SIZE, SIZE)).astype(np.float32)
    da = layer_da(values, "coherence")
    e = data_extent(da)
    whole = compute_aggregate(da, "coherence", e, (256, 256), identity=("c",))
    again = compute_aggregate(da, "coherence", e, (200, 180), identity=("c",))
    assert cache.builds == 1 and whole.shape == (256, 256) and again.shape == (180, 200)
    corner = Extent(e.x0, e.x0 + 0.2, e.y1 - 0.2, e.y1)  # 200 native px on 256 screen px: native pixels
    zoom = compute_aggregate(da, "coherence", corner, (256, 256), identity=("c",))
    assert cache.builds == 1
    direct = aggregate(da, "coherence", 256, corner.x_range, corner.y_range, height=256)
    np.testing.assert_allclose(zoom.values, direct.values, atol=1e-5)


def test_a_queued_prefetch_asked_for_is_computed_at_once_and_a_running_one_is_never_skipped():
    import threading

    from thalia_viewer.app.aggregates import AggregateCache, SharedAggregates

    cache = AggregateCache(SharedAggregates())
    gate, started = threading.Event(), threading.Event()
    cache.prefetch([("block", lambda: started.set() or (gate.wait(30) and "slow"))], delay_s=0.0)
    assert started.wait(60)  # it occupies the background worker (once earlier tests' prefetches are done)
    cache.prefetch([("block", lambda: "slow"), ("b", lambda: "prefetched b")], delay_s=0.0)
    assert cache.get("b", lambda: "b now") == "b now"  # queued behind "block": taken over, not waited for
    cache.prefetch([("c", lambda: "c")], delay_s=0.0)  # the session moves on: "block" is not wanted any more
    future = cache.submit("block", lambda: "other")  # ... but asked for while it runs: it must still finish
    gate.set()
    assert future.result(timeout=30) == "slow"


def test_another_sessions_prefetch_is_taken_over_and_never_skipped_under_the_one_who_asks():
    import threading
    import time

    from thalia_viewer.app.aggregates import AggregateCache, SharedAggregates

    shared = SharedAggregates()
    a, b = AggregateCache(shared), AggregateCache(shared)
    gate, started = threading.Event(), threading.Event()
    a.prefetch([("block", lambda: started.set() or (gate.wait(30) and "slow"))], delay_s=0.0)
    assert started.wait(60)
    a.prefetch([("block", lambda: "slow"), ("x", lambda: "a's x")], delay_s=0.0)
    assert b.get("x", lambda: "b's x") == "b's x"  # a's queued prefetch, taken over by b
    assert a.get("x", lambda: "again") == "b's x"  # ... and shared with a
    gate.set()
    a.wait_prefetch(timeout=30)
    a.prefetch([("z", lambda: "a's z")], delay_s=1.0)  # running: waiting out its delay
    deadline = time.monotonic() + 60
    while not shared.lookup("z").running():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    a.prefetch([("y", lambda: "y")], delay_s=0.0)  # a moves on: its "z" would give up after the delay ...
    future = b.submit("z", lambda: "b's z")  # ... but b asks for it meanwhile: it is computed, not skipped
    assert future.result(timeout=30) == "a's z"


def _reference_reduce(values: np.ndarray, kind: schema.LayerKind, f: int, n_codes: int) -> list[np.ndarray]:
    """The block reductions written with plain numpy (pad, reshape, reduce): what the compiled ones must give."""

    def pad(v: np.ndarray, fill: float) -> np.ndarray:
        return np.pad(v, ((0, -v.shape[0] % f), (0, -v.shape[1] % f)), constant_values=fill)

    def blocks(v: np.ndarray) -> np.ndarray:
        return v.reshape(v.shape[0] // f, f, v.shape[1] // f, f)

    def nanmean(v: np.ndarray) -> np.ndarray:
        v = pad(v.astype(np.float32), np.nan)
        finite = np.isfinite(v)
        total = blocks(np.where(finite, v, 0.0)).sum(axis=(1, 3), dtype=np.float64)
        count = blocks(finite).sum(axis=(1, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan).astype(np.float32)

    if kind is schema.LayerKind.CYCLIC:
        return [nanmean(np.cos(values)), nanmean(np.sin(values))]
    if kind is schema.LayerKind.CONTINUOUS:
        return [nanmean(values)]
    codes = pad(np.where(np.isfinite(values), values, 0).astype(np.uint8), 0)
    b = blocks(codes).transpose(0, 2, 1, 3).reshape(codes.shape[0] // f, codes.shape[1] // f, f * f)
    counts = np.stack([(b == k).sum(axis=2) for k in range(1, n_codes)], axis=2)
    return [np.where(counts.max(axis=2) > 0, np.argmax(counts, axis=2) + 1, 0).astype(np.uint8)]


def test_compiled_block_reductions_match_plain_numpy_with_nan_and_partial_blocks():
    from thalia_viewer.viz.overview import _reduce

    rng = np.random.default_rng(3)
    phase = rng.uniform(-np.pi, np.pi, (203, 157)).astype(np.float32)
    phase[:9] = np.nan
    phase[50:60, 20:31] = np.nan  # whole blocks without data
    codes = rng.integers(0, 4, phase.shape).astype(np.uint8)
    codes[100:] = 0
    for f in (2, 3, 4):
        cases = [
            (schema.LayerKind.CYCLIC, phase, 0),
            (schema.LayerKind.CONTINUOUS, phase, 0),
            (schema.LayerKind.CLASSES, codes, 4),
            (schema.LayerKind.CLASSES, np.where(codes == 3, np.nan, codes).astype(np.float32), 4),
        ]
        for kind, values, n_codes in cases:
            got, want = _reduce(values, kind, f, n_codes), _reference_reduce(values, kind, f, n_codes)
            for g, w in zip(got, want, strict=True):
                assert g.shape == w.shape and g.dtype == w.dtype, (kind, f)
                np.testing.assert_allclose(g, w, atol=1e-6, err_msg=f"{kind} f={f}")


def test_a_sampled_image_is_the_nearest_native_pixels_on_the_aggregates_canvas():
    from thalia_viewer.viz.overview import sample_aggregate

    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    smooth = {
        "phase": np.angle(np.exp(1j * (xx / 97.0 + yy / 113.0))).astype(np.float32),
        "coherence": (0.5 + 0.4 * np.sin(xx / 150.0) * np.cos(yy / 170.0)).astype(np.float32),
    }
    size = (300, 260)
    for key, values in smooth.items():
        da = layer_da(values, key)
        layer = schema.layer(key)
        extent = data_extent(da)
        exact = aggregate(da, key, size[0], extent.x_range, extent.y_range, height=size[1])
        first = sample_aggregate(da, extent, size)
        assert first.shape == exact.shape == (260, 300) and first.dims == exact.dims
        np.testing.assert_allclose(first["x"], exact["x"], atol=1e-9)  # the same screen pixels, north-up
        np.testing.assert_allclose(first["y"], exact["y"], atol=1e-9)
        got, want = first.values, exact.values
        diff = np.angle(np.exp(1j * (got - want))) if layer.kind is schema.LayerKind.CYCLIC else got - want
        assert np.nanmax(np.abs(diff)) < 0.05, key
    da = layer_da(smooth["coherence"], "coherence")
    e = data_extent(da)
    step = 1e-3  # one native pixel a screen pixel: the native window itself; off the layer: NaN
    view = Extent(e.x0 + 10 * step, e.x0 + 40 * step, e.y1 - 30 * step, e.y1 + 5 * step)
    got = sample_aggregate(da, view, (30, 35)).values
    assert np.isnan(got[:5]).all()
    np.testing.assert_array_equal(got[5:], smooth["coherence"][:30, 10:40])
    codes = layer_da((smooth["coherence"] > 0.5).astype(np.uint8), "deformation")
    assert sample_aggregate(codes, view, (30, 35)).values[:5].max() == 0  # codes: 0 off the layer


def test_a_draft_comes_before_the_overview_once_and_the_result_is_the_exact_aggregate(monkeypatch):
    import thalia_viewer.app.aggregates as aggregates

    monkeypatch.setattr(aggregates, "overviews", OverviewCache())
    values = np.random.default_rng(1).uniform(0, 1, (SIZE, SIZE)).astype(np.float32)
    da = layer_da(values, "coherence")
    e = data_extent(da)
    loads, drafts = [], []

    def load() -> xr.DataArray:
        loads.append(1)
        return da.copy()

    got = compute_aggregate(da, "coherence", e, (256, 256), ("c",), load=load, draft=drafts.append)
    assert len(loads) == 1 and len(drafts) == 1 and drafts[0].shape == (256, 256)
    assert not np.array_equal(drafts[0].values, got.values)  # one pixel per block vs the block means
    monkeypatch.setattr(aggregates, "overviews", OverviewCache())
    exact = compute_aggregate(da, "coherence", e, (256, 256), ("c",))
    np.testing.assert_array_equal(got.values, exact.values)
    again = compute_aggregate(da, "coherence", e, (256, 256), ("c",), load=load, draft=drafts.append)
    assert len(loads) == 1 and len(drafts) == 1  # the overview is there: no read, no draft
    np.testing.assert_array_equal(again.values, exact.values)
    mask = layer_da((values > 0.5).astype(np.uint8), "deformation")
    compute_aggregate(mask, "deformation", e, (256, 256), ("m",), draft=drafts.append)
    assert len(drafts) == 1  # class rasters: their overview is cheap, no draft
