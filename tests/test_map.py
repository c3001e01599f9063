"""The map without a browser: images per layer at screen size, their encodings, what is sent to the browser's
pool and when, frame switches, prefetched neighbours, and the drawing gestures."""

from __future__ import annotations

import json

import numpy as np
import param
import pytest

from tests.realistic import write_real_style_root
from thalia_viewer.app.session.state import MASK_LAYERS, AppState
from thalia_viewer.app.views.layer_map import LayerMap, mask_slot, overlay_slot, value_slot
from thalia_viewer.app.views.map_client import ClientPool
from thalia_viewer.core import schema
from thalia_viewer.viz.elements import MaskStyle
from thalia_viewer.viz.encode import VALUE_LEVELS, decode, encode_alpha, encode_codes, encode_values


@pytest.fixture
def state(tiny_root) -> AppState:
    return AppState(str(tiny_root))


def puts(view: LayerMap) -> list[str]:
    """Keys of the images sent since the client's message log was last cleared."""
    return [item["key"] for msg in view.client.sent if msg["op"] == "put" for item in msg["items"]]


def last_show(view: LayerMap) -> dict:
    return next(msg for msg in reversed(view.client.sent) if msg["op"] == "show")


# ---------------------------------------------------------------------------------------- encodings
def test_value_encoding_is_exact_at_the_printed_digits_and_keeps_no_data():
    rng = np.random.default_rng(0)
    values = rng.uniform(-np.pi, np.pi, (37, 53)).astype(np.float32)
    values[3, :7] = np.nan
    enc = encode_values(values)
    assert enc.kind == "value" and enc.shape == (37, 53)
    back = decode(enc)
    assert np.isnan(back[3, :7]).all() and np.isfinite(back[4]).all()
    step = (enc.v1 - enc.v0) / VALUE_LEVELS
    assert np.nanmax(np.abs(back - values)) <= step / 2 + 1e-6
    assert len(enc.data) < values.nbytes  # fewer bytes than float32 on the wire
    dem = np.linspace(0, 3000, 64 * 64).reshape(64, 64)  # metres: a 3 km range stays within 3 cm
    assert np.abs(decode(encode_values(dem)) - dem).max() < 0.03


def test_code_and_alpha_encodings_round_trip_and_rows_travel_south_to_north():
    codes = np.zeros((20, 30), np.uint8)
    codes[2, 5] = 6
    enc = encode_codes(codes)
    np.testing.assert_array_equal(decode(enc), codes)
    raw = np.frombuffer(__import__("zlib").decompress(enc.data), np.uint8).reshape(20, 30)
    assert raw[17, 5] == 6  # Bokeh draws row 0 at the bottom
    mask = np.zeros((300, 300), np.uint8)
    assert len(encode_codes(mask).data) < 1000  # a mostly empty mask costs almost nothing
    np.testing.assert_array_equal(decode(encode_alpha(codes * 40)), codes * 40)
    with pytest.raises(ValueError, match=r"0\.\.255"):
        encode_codes(np.full((2, 2), 300))
    assert np.isnan(decode(encode_values(np.full((3, 3), np.nan)))).all()


def test_client_pool_mirrors_the_browser_first_in_first_out():
    pool = ClientPool(budget=100)
    for key in "abcd":
        pool.add(key, 30)
    assert "a" not in pool and all(k in pool for k in "bcd")
    pool.discard(["c"])
    pool.add("e", 60)
    assert "b" not in pool and "d" in pool and "e" in pool


# -------------------------------------------------------------------------------------------- map
def test_missing_layer_is_reported_and_the_map_keeps_working(tmp_path):
    root = write_real_style_root(tmp_path / "root", drop=("primary_date_surface_pressure",))
    state = AppState(str(root), layers=("phase", "sp_primary"))
    view = LayerMap(state=state)
    shown = view.shown()
    assert shown[value_slot(1)] is None  # the slot is hidden
    assert state.message.level == "error" and "primary_date_surface_pressure" in state.message.text
    assert np.isfinite(shown[value_slot(0)].values).any()
    assert last_show(view)["layers"][value_slot(1)] is None


def test_map_aggregates_at_screen_size_never_above_native(state):
    view = LayerMap(state=state)
    rows, cols = state.frame_obj.shape
    view.set_screen_size(60, 50)
    small = view.shown()[value_slot(0)]
    assert small.values.shape == (50, 60) and small.encoded.shape == (50, 60)
    view.set_screen_size(4000, 4000)
    assert view.shown()[value_slot(0)].values.shape == (
        rows,
        cols,
    )  # capped at native pixels: the browser upsamples
    e = view._extent
    view.client.sent.clear()
    view.set_view((e.x0, e.x0 + (e.x1 - e.x0) / 4), (e.y0, e.y1))  # native pixels already: nothing to redo
    assert puts(view) == []
    view.set_view(None, None)
    view.set_screen_size(cols // 8, rows // 8)
    coarse = view.shown()[value_slot(0)].values
    view.set_view((e.x0, e.x0 + (e.x1 - e.x0) / 4), (e.y0, e.y1))  # 4x the detail needed: made again
    zoom = view.shown()[value_slot(0)].values
    assert zoom.shape[1] <= cols // 4 + 2 and zoom.shape[1] > coarse.shape[1] // 4
    assert np.nanmin(zoom) >= -np.pi - 1e-6 and np.nanmax(zoom) <= np.pi + 1e-6
    x_range = (e.x0, e.x0 + (e.x1 - e.x0) / 4 * 0.95)  # a little closer: the images still do
    view.client.sent.clear()
    view.set_view(x_range, (e.y0, e.y1))
    assert puts(view) == []


def test_map_masks_are_codes_never_averages(state):
    view = LayerMap(state=state)
    view.set_screen_size(77, 61)
    for key in MASK_LAYERS:
        variable = schema.layer(key).variable
        n = max(c.code for c in schema.MASK_CLASSES[variable]) + 1
        state.masks = [key]
        for style in MaskStyle:
            state.mask_style = style.value
            image = view.shown()[mask_slot(key)]
            assert image.values.dtype == np.uint8
            valid = {c.code for c in schema.MASK_CLASSES[variable]}
            assert set(np.unique(image.values).tolist()) <= valid
            drawn = decode(image.encoded)  # the style codes the browser colours (code % n is the class)
            assert {int(c) % n for c in np.unique(drawn)} <= valid, (key, style)


def test_colour_and_opacity_changes_send_no_pixels_and_seen_images_are_not_resent(state):
    view = LayerMap(state=state)
    view.client.sent.clear()
    state.mask_opacity = 0.8
    state.slots[0].opacity = 0.5
    assert puts(view) == []  # only shows: the browser recolours
    show = last_show(view)
    assert show["layers"][value_slot(0)]["alpha"] == 0.5
    assert show["layers"][mask_slot("deformation")]["palette"][1].endswith("cc")  # 0.8 * 255
    state.relief = True
    relief = view.shown()["relief"].key
    first = state.pair
    state.step(1)
    assert view.shown()["relief"].key == relief  # the DEM does not depend on the pair
    view.client.sent.clear()
    state.go(first)  # back: every image is in the browser's pool already
    assert puts(view) == [] and last_show(view)["pair"].endswith(first.name)


def test_a_frame_switch_keeps_the_figure_moves_the_axes_at_once_then_shows_the_new_frame(state):
    view = LayerMap(state=state)
    figure, extent = view.figure, view._extent
    view.client.sent.clear()
    state.frame = state.dataset.frames[1]
    assert view.figure is figure and view._extent != extent
    e = view._extent
    assert (figure.x_range.start, figure.x_range.end) == (e.x0, e.x1)
    shows = [m for m in view.client.sent if m["op"] == "show"]
    assert all(v is None for v in shows[0]["layers"].values())  # the old frame's images go first
    assert shows[-1]["pair"].startswith(state.frame + "/") and shows[-1]["layers"][value_slot(0)] is not None


def test_an_empty_pair_gives_a_warning(tmp_path):
    root = write_real_style_root(tmp_path / "root")
    quality = json.loads((root / "quality_timeseries.json").read_text())
    group = quality[next(iter(quality))]["20190117"]
    group["secondary_date"].append("20190210")  # listed as valid, but its cell holds no data
    (root / "quality_timeseries.json").write_text(json.dumps(quality))
    state = AppState(str(root))
    LayerMap(state=state)
    assert state.go_key(f"{state.frame}/20190117_20190210")
    assert state.message.level == "warning" and "no phase data" in state.message.text


def test_the_next_and_previous_pairs_are_put_in_the_browser_before_a_step(state):
    view = LayerMap(state=state)
    state.go(state.pairs[1])
    view._aggs.wait_prefetch(timeout=120)
    view._prefetch(
        state.pair
    )  # finished now: the neighbours' images go to the pool, their shows to the client
    nb = view.client.neighbours
    assert nb["origin"].endswith(state.pair.name)
    nxt, prev = state.pairs[2], state.pairs[0]
    assert nb["next"]["pair"].endswith(nxt.name)
    assert nb["prev"]["pair"].endswith(prev.name)
    keys = [e["key"] for e in nb["next"]["layers"].values() if e is not None]
    assert keys and all(k in view.client.pool for k in keys)
    assert nb["keys"]["j"] == "next" and nb["keys"]["k"] == "prev" and nb["keys"]["m"] == "masks"
    assert nb["masks"]["layers"][mask_slot("deformation")] is None  # "m" hides the masks on screen
    view.client.sent.clear()
    state.step(1)  # what the browser already shows: the server sends no pixel, only the confirming show
    first_show = next(i for i, m in enumerate(view.client.sent) if m["op"] == "show")
    assert all(m["op"] != "put" for m in view.client.sent[:first_show])
    assert view.client.sent[first_show]["layers"] == nb["next"]["layers"]


def test_the_browser_asking_again_gets_its_images(state):
    view = LayerMap(state=state)
    key = view.shown()[value_slot(0)].key
    view.client.sent.clear()
    view.client._handle_msg({"op": "missing", "keys": [key]})
    assert puts(view) == [key]
    view.client.sent.clear()
    view.client._handle_msg({"op": "ready"})  # a reloaded page: an empty pool, everything on screen again
    assert key in puts(view) and view.client.sent[-1]["op"] in ("show", "put")


def test_overlay_slots_follow_the_overlays(state):
    class Overlay(param.Parameterized):
        overlay_revision = param.Integer(0)
        overlay_title, overlay_colors = "diff", ("#00000000", "#ff0000ff")
        codes = None

        def overlay_token(self, pair):
            return None if self.codes is None else ("t", pair)

        def overlay_codes(self):
            return self.codes

    overlay = Overlay()
    view = LayerMap(state=state, overlays=[overlay])
    assert view.shown()[overlay_slot(0)] is None
    overlay.codes = np.ones(state.frame_obj.shape, np.uint8)
    overlay.overlay_revision += 1
    shown = view.shown()[overlay_slot(0)]
    assert shown is not None and (shown.values == 1).all()
    assert last_show(view)["layers"][overlay_slot(0)]["palette"] == list(overlay.overlay_colors)


# ------------------------------------------------------------------------------ cold switches, big frames
@pytest.fixture
def big_frame_map(state, monkeypatch):
    """A map whose frame counts as big (an overview 4x coarser serves whole-frame views), with caches of its own."""
    import thalia_viewer.app.aggregates as aggregates

    monkeypatch.setattr(aggregates, "overview_factor", lambda shape, target=0: 4)
    monkeypatch.setattr(aggregates, "overviews", aggregates.OverviewCache())
    view = LayerMap(state=state)
    view._aggs = aggregates.AggregateCache(aggregates.SharedAggregates(budget_bytes=2**30))
    state.masks = ["deformation"]
    view.set_screen_size(40, 32)  # 160 x 192 px frame: 4.8 native pixels a screen pixel
    view.wait_refined(timeout=120)
    view._aggs.wait_prefetch(timeout=120)
    view._aggs.clear()
    aggregates.overviews.clear()
    return view


def test_a_cold_pair_shows_first_images_then_the_exact_ones_replace_them(state, big_frame_map):
    view = big_frame_map
    view.client.sent.clear()
    pair = state.pairs[3]
    state.go(pair)
    plan = view._plan(pair)
    first = next(m for m in view.client.sent if m["op"] == "show")  # (the exact one may follow already)
    assert first["pair"].endswith(f"{pair.primary}_{pair.secondary}")
    exact_keys = {name: job.key for name, job in plan.items() if job is not None}
    value0 = first["layers"][value_slot(0)]["key"]
    assert value0 != exact_keys[value_slot(0)]  # a draft: one native pixel per overview block
    assert first["layers"][mask_slot("deformation")]["key"] == exact_keys[mask_slot("deformation")]
    view.wait_refined(timeout=120)  # no user action: the exact images follow by themselves
    shows = [m for m in view.client.sent if m["op"] == "show"]
    assert len(shows) == 2 and shows[1]["serial"] == shows[0]["serial"]
    assert {n: e["key"] for n, e in shows[1]["layers"].items() if e is not None} == exact_keys
    assert set(exact_keys.values()) <= set(puts(view)) and value0 in puts(view)
    shown = view.shown()[value_slot(0)]
    assert shown.key == exact_keys[value_slot(0)] and shown.values.shape == (32, 40)
    # the next switch to it is served from the caches: the exact images at once, no draft
    state.go(state.pairs[4])
    view.wait_refined(timeout=120)
    view.client.sent.clear()
    state.go(pair)
    view.wait_refined(timeout=120)
    shows = [m for m in view.client.sent if m["op"] == "show"]
    assert len(shows) == 1 and shows[0]["layers"][value_slot(0)]["key"] == exact_keys[value_slot(0)]


def test_a_switch_away_before_the_exact_images_drops_them_and_shows_the_newest_pair(state, big_frame_map):
    view = big_frame_map
    state.go(state.pairs[5])
    state.go(state.pairs[6])  # at once: pair 5's exact images must not come back over pair 6
    view.wait_refined(timeout=120)
    view._aggs.wait_prefetch(timeout=120)
    want = state.pairs[6]
    show = last_show(view)
    assert show["pair"].endswith(f"{want.primary}_{want.secondary}")
    assert show["layers"][value_slot(0)]["key"] == view._plan(want)[value_slot(0)].key


def test_layers_read_side_by_side_equal_the_ones_read_one_after_another(state, big_frame_map):
    import thalia_viewer.app.aggregates as aggregates

    view = big_frame_map
    state.set_layers(["phase", "coherence"], [1.0, 0.5])
    view.wait_refined(timeout=120)
    view._aggs.wait_prefetch(timeout=120)
    view._aggs.clear()
    aggregates.overviews.clear()
    pair = state.pairs[2]
    state.go(pair)  # the layers computed side by side, the big ones from one whole read each
    view.wait_refined(timeout=120)
    together = {n: img.values for n, img in view.shown().items() if img is not None}
    assert set(together) == {value_slot(0), value_slot(1), mask_slot("deformation")}
    view._aggs.wait_prefetch(timeout=120)
    view._aggs.clear()
    aggregates.overviews.clear()
    for name, job in view._plan(pair).items():  # one after the other, here
        if job is not None:
            np.testing.assert_array_equal(job.compute().values, together[name], err_msg=name)
    for key in ("phase", "coherence", "deformation"):  # the whole read is the lazy layer's values
        np.testing.assert_array_equal(view._whole(key, pair).values, state.layer(key, pair).values)


def test_renderers_are_slots_whose_names_the_browser_knows(state):
    from thalia_viewer.app.views.layer_map import Slot, SlotKind

    view = LayerMap(state=state)
    slots = view._image_slots()
    assert [s.name for s in slots] == view._image_names() == list(view.renderers)
    assert Slot(SlotKind.VALUE, 2).name == value_slot(2) == "value2"
    assert Slot(SlotKind.MASK, mask="activity").name == mask_slot("activity") == "mask:activity"
    assert Slot(SlotKind.OVERLAY, 1).name == overlay_slot(1) == "overlay1"
    assert {s.kind for s in slots} == {SlotKind.VALUE, SlotKind.RELIEF, SlotKind.MASK}
    entry = last_show(view)["layers"][mask_slot("deformation")]
    assert entry["palette"] and entry["label"]  # a mask slot is shown with its palette
