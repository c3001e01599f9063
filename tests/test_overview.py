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
