"""The app without a browser: AppState navigation, URL round trip, layout specs, views' server-side output."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import panel as pn
import pytest
from panel.io.location import Location

from tests.realistic import write_real_style_root
from thalia_viewer.app import serve as serve_module
from thalia_viewer.app.explorer import ExplorerApp, empty_state_html
from thalia_viewer.app.session.state import MASK_LAYERS, NONE, VALUE_LAYERS, AppState
from thalia_viewer.app.shortcuts import SHORTCUTS, dispatcher, help_html
from thalia_viewer.app.spec import LAYOUTS_DIR, LayoutSpecError, load_spec, validate_spec
from thalia_viewer.app.views.dates_matrix import matrix_cells
from thalia_viewer.app.views.label_card import card_html
from thalia_viewer.app.views.legend import colorbar_html, mask_legend_html
from thalia_viewer.core import schema
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.errors import DatasetNotFoundError
from thalia_viewer.core.pairs import Pair
from thalia_viewer.viz import elements
from thalia_viewer.viz.elements import MaskStyle, PairStatus


@pytest.fixture
def state(tiny_root) -> AppState:
    return AppState(str(tiny_root))


def _valid(state: AppState) -> set[Pair]:
    return set(state.frame_obj.pairs)


# ------------------------------------------------------------------------------------ navigation
def test_opens_first_frame_at_a_positive_pair(state):
    assert state.frame == state.dataset.frames[0]
    assert state.pair in state.frame_obj.positives
    assert state.message is None


def test_choosing_a_frame_offers_only_existing_pairs(state):
    for frame_id in state.dataset.frames:
        state.frame = frame_id
        frame = state.dataset.frame(frame_id)
        assert list(state.param.primary.objects) == frame.primary_dates
        assert state.pair is not None and state.pair in set(frame.pairs)
        for primary in frame.primary_dates:
            state.primary = primary
            assert state.primary == primary
            assert list(state.param.secondary.objects) == frame.secondary_dates(primary)
            assert state.pair == Pair(frame_id, primary, state.secondary)
            assert state.pair in set(frame.pairs)


def test_choosing_a_primary_keeps_the_closest_baseline(state):
    frame = state.frame_obj
    start = state.pair
    other = next(d for d in frame.primary_dates if d != start.primary)
    state.primary = other
    best = min(frame.timeseries(other), key=lambda p: abs(p.baseline_days - start.baseline_days))
    assert state.pair == best


def test_selecting_a_secondary_changes_the_pair(state):
    primary = next(d for d in state.frame_obj.primary_dates if len(state.frame_obj.timeseries(d)) > 1)
    state.primary = primary
    other = next(s for s in state.param.secondary.objects if s != state.secondary)
    state.secondary = other
    assert state.pair == Pair(state.frame, primary, other)


def test_step_walks_every_pair_in_order_and_stops_at_the_ends(state):
    pairs = state.frame_obj.pairs
    state.go(pairs[0])
    seen = [state.pair]
    for _ in range(len(pairs) - 1):
        state.step(1)
        seen.append(state.pair)
    assert seen == pairs
    state.step(1)
    assert state.pair == pairs[-1]
    assert state.message.level == "info" and "last pair" in state.message.text
    state.step(-3)
    assert state.pair == pairs[-4]


def test_step_primary_moves_date_by_date(state):
    frame = state.frame_obj
    dates = frame.primary_dates
    state.go(frame.timeseries(dates[0])[0])
    for expected in dates[1:]:
        state.step_primary(1)
        assert state.pair.primary == expected
    state.step_primary(-1)
    assert state.pair.primary == dates[-2]


def test_go_key_accepts_pair_names_and_reports_bad_ones(state):
    target = state.frame_obj.pairs[-1]
    assert state.go_key(target.key)
    assert state.pair == target
    assert not state.go_key(f"{state.frame}/20000101_20000113")
    assert state.message.level == "error" and "no valid pair" in state.message.text
    assert state.pair == target  # unchanged


def test_url_round_trip(state, tiny_root):
    other = ThaliaDataset(tiny_root).frames[-1]
    target = ThaliaDataset(tiny_root).frame(other).pairs[3]
    state.param.update(frame=other, pair=target)  # what a URL sync does
    assert state.pair == target
    assert state.primary == target.primary and state.secondary == target.secondary
    assert state.message is None


def test_url_with_a_bad_pair_or_frame_falls_back_with_an_error(state):
    frame = state.frame
    state.param.update(pair=Pair(frame, "20000101", "20000113"))
    assert state.message.level == "error"
    assert state.pair in _valid(state)
    state.frame = "999X_00000_000000"
    assert state.message.level == "error" and "no frame" in state.message.text
    assert state.frame == frame


def test_app_reads_and_writes_the_url(tiny_root):
    app = ExplorerApp(str(tiny_root))
    frame = app.state.dataset.frames[1]
    target = app.state.dataset.frame(frame).pairs[5]
    location = Location(search=f"?frame={frame}&pair={target.name}&other=1")
    app._read_url(location)
    assert app.state.pair == target
    app.state.step(1)
    app._write_url(location)
    query = dict(p.split("=") for p in location.search.lstrip("?").split("&"))
    assert query == {"frame": frame, "pair": app.state.pair.name, "other": "1"}
    assert Pair.parse(query["pair"], frame=query["frame"]) == app.state.pair


# ---------------------------------------------------------------------------------------- errors
def test_bad_root_gives_an_error_and_an_empty_app(tmp_path):
    app = ExplorerApp(str(tmp_path / "missing"))
    assert app.state.dataset is None and app.state.pair is None
    assert app.state.message.level == "error" and "does not exist" in app.state.message.text
    assert app.views == {}
    html = app.main()[0].object
    assert "No dataset to show" in html and "does not exist" in html
    app.state.step(1)  # nothing to do, nothing raised
    app.state.step_primary(1)


def test_no_root_explains_how_to_give_one():
    state = AppState("")
    assert "THALIA_ROOT" in state.message.text
    assert "thalia-viewer serve" in empty_state_html("", state.message)


# ----------------------------------------------------------------------------------------- layers
def test_layer_identity_follows_what_the_data_depends_on(state):
    a = state.pair
    before = {
        k: state.layer_identity(k) for k in ("phase", "dem", "tcwv_primary", "tcwv_secondary", "tcwv_delta")
    }
    b = (
        next(p for p in state.pairs if p.primary == a.primary and p != a)
        if len(state.frame_obj.timeseries(a.primary)) > 1
        else None
    )
    if b is None:
        pytest.skip("no second pair with this primary date")
    state.go(b)
    after = {k: state.layer_identity(k) for k in before}
    assert after["dem"] == before["dem"]
    assert after["tcwv_primary"] == before["tcwv_primary"]
    assert after["phase"] != before["phase"]
    assert after["tcwv_secondary"] != before["tcwv_secondary"]
    assert after["tcwv_delta"] != before["tcwv_delta"]
    assert state.layer_identity(NONE) is None


def test_set_layers_validates_keys(state):
    state.set_layers(["coherence", "phase"], [1.0, 0.5])
    assert [s.layer for s in state.slots] == ["coherence", "phase", NONE]
    assert state.slots[1].opacity == 0.5
    with pytest.raises(KeyError, match="unknown layer"):
        state.set_layers(["phse"])
    with pytest.raises(KeyError, match="class mask"):
        state.set_layers(["deformation"])


def test_mask_codes_encode_fill_and_outline():
    codes = np.zeros((13, 13), np.uint8)
    codes[2:11, 2:11] = 1
    n = 3  # deformation codes 0-2
    fill = elements.mask_codes(codes, schema.DEFORMATION_MASK, MaskStyle.FILL)
    outline = elements.mask_codes(codes, schema.DEFORMATION_MASK, MaskStyle.OUTLINE)
    both = elements.mask_codes(codes, schema.DEFORMATION_MASK, MaskStyle.BOTH)
    np.testing.assert_array_equal(fill, codes)
    assert outline[6, 6] == 1 + 3 * n  # inside, not drawn, still class 1
    assert (
        outline[2, 6] == 1 + 2 * n and outline[3, 6] == outline[4, 6] == 1 + n
    )  # dark edge, 2-px colour band
    assert both[6, 6] == 1 and both[2, 6] == 1 + 2 * n
    assert (outline[codes == 0] == 0).all()
    assert ({int(v) % n for v in np.unique(outline)} | {0}) == {0, 1}
    palette = elements.mask_palette(schema.DEFORMATION_MASK, fill_alpha=0.5)
    assert len(palette) == 4 * n and palette[1 + 3 * n] == elements.TRANSPARENT
    assert palette[1] == schema.DEFORMATION_CLASSES[1].color + "80"
    assert palette[1 + n].endswith("ff") and palette[0] == palette[n] == elements.TRANSPARENT


def test_relief_darkens_slopes_only():
    y = np.linspace(38.0, 37.9, 50)
    x = np.linspace(15.0, 15.1, 50)
    import xarray as xr

    dem = xr.DataArray(
        3000 * np.exp(-((x[None, :] - 15.05) ** 2 + (y[:, None] - 37.95) ** 2) / 0.0005),
        dims=("y", "x"),
        coords={"y": y, "x": x},
    )
    rgba = elements.relief_rgba(dem)
    assert rgba.shape == (50, 50, 4)
    assert (rgba[..., :3] == 0).all()
    assert rgba[..., 3].max() > 60 and rgba[0, 0, 3] == 0  # shaded slopes, flat corner untouched


# ------------------------------------------------------------------------------------- matrix, card
def test_matrix_cells_cover_valid_and_unusable_pairs(tmp_path):
    root = write_real_style_root(tmp_path / "root")
    records = json.loads((root / "annotations.json").read_text())
    bad = dict(
        next(iter(records.values())),
        uniqueID=999,
        primary_date="20190117",
        secondary_date="20190210",
        corrupted=1,
    )
    records["999"] = bad
    (root / "annotations.json").write_text(json.dumps(records))
    frame = ThaliaDataset(root).frame(ThaliaDataset(root).frames[0])
    cells = matrix_cells(frame)
    assert len(cells) == len(frame.pairs) + 1
    row = cells[cells.pair == "20190117_20190210"].iloc[0]
    assert row.status == PairStatus.UNUSABLE.value
    statuses = set(cells.status)
    assert {"Deformation", "Non Deformation", "Unusable"} <= statuses
    element = elements.dates_matrix(cells)
    assert len(element) == len(cells)


def test_label_card_shows_every_field_readably(state):
    pair = state.pair
    record = state.record(pair)
    html = card_html(pair, record)
    for field, names in schema.FLAG_FIELDS.items():
        assert field.replace("_", " ").capitalize() in html
        assert names[int(record[field])] in html
    assert record["caption"][:40] in html
    assert f"{record['confidence']:.2f}" in html
    assert "No annotation record" in card_html(pair, None)


def test_legends_use_schema_names_and_units():
    html = colorbar_html(schema.layer("dem"), (0.0, 3200.0))
    assert "Elevation" in html and "(m)" in html and "3.2e+03" not in html
    phase = colorbar_html(schema.layer("phase"), (-np.pi, np.pi))
    assert "−π" in phase and "π" in phase
    masks = mask_legend_html("activity")
    for c in schema.ACTIVITY_TYPES[1:]:
        assert c.name in masks and c.color in masks


# ----------------------------------------------------------------------------------- layout specs
EXPLORE = textwrap.dedent(
    """
    mode: explore
    title: Explore
    defaults:
      layers: [phase, coherence]
      masks: [deformation]
    views:
      map:
        type: layer_map
        height: 500
      label:
        type: label_card
    sidebar: []
    main:
      - [map, label]
    """
)
REGISTRY = {"layer_map": ["height", "max_side"], "label_card": ["width"]}


def _spec(text: str):
    import yaml

    return validate_spec(yaml.safe_load(text), text, "test.yaml", REGISTRY)


def test_shipped_explore_spec_is_valid():
    spec = load_spec("explore")
    assert spec.mode == "explore"
    assert {"map", "label", "matrix", "timeseries", "navigator"} <= set(spec.views)
    assert spec.defaults["layers"] == ["phase"]
    assert (LAYOUTS_DIR / "explore.yaml").exists()


def test_valid_spec_round_trip():
    spec = _spec(EXPLORE)
    assert spec.views["map"].options == {"height": 500}
    assert spec.main == [["map", "label"]]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("title: Explore", "titel: Explore", "unknown key 'titel'. Did you mean 'title'?"),
        ("    height: 500", "    heigth: 500", "views.map: unknown key 'heigth'. Did you mean 'height'?"),
        (
            "    type: layer_map",
            "    type: layer_mapp",
            "unknown view type 'layer_mapp'. Did you mean 'layer_map'?",
        ),
        ("  - [map, label]", "  - [map, lable]", "unknown view 'lable'. Did you mean 'label'?"),
        ("  layers: [phase, coherence]", "  layers: [phse]", "unknown layer 'phse'. Did you mean 'phase'?"),
        (
            "  masks: [deformation]",
            "  masks: [deformaton]",
            "unknown mask 'deformaton'. Did you mean 'deformation'?",
        ),
        ("mode: explore", "mode: explor", "unknown mode 'explor'. Did you mean 'explore'?"),
        (
            "  masks: [deformation]",
            "  mask: [deformation]",
            "defaults: unknown key 'mask'. Did you mean 'masks'?",
        ),
    ],
)
def test_spec_errors_suggest_the_right_name(old, new, message):
    text = EXPLORE.replace(old, new)
    with pytest.raises(LayoutSpecError) as info:
        _spec(text)
    assert message in str(info.value)
    assert "test.yaml" in str(info.value)
    assert ">" in str(info.value) and new.strip() in str(info.value)  # the offending YAML line is quoted


def test_spec_errors_for_values_and_missing_keys():
    with pytest.raises(LayoutSpecError, match="missing required key 'main'"):
        _spec(EXPLORE.replace("main:\n  - [map, label]\n", ""))
    with pytest.raises(LayoutSpecError, match=r"number from 0\.0 to 1\.0"):
        _spec(EXPLORE.replace("  masks: [deformation]", "  masks: [deformation]\n  mask_opacity: 3"))
    with pytest.raises(LayoutSpecError, match="mask style"):
        _spec(EXPLORE.replace("  masks: [deformation]", "  masks: [deformation]\n  mask_style: hatched"))
    with pytest.raises(LayoutSpecError, match="cannot be read"):
        load_spec("/nonexistent/spec.yaml")


def test_spec_cli(tmp_path, capsys):
    from thalia_viewer.app.spec import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(EXPLORE.replace("height", "heigth"))
    assert main([str(LAYOUTS_DIR / "explore.yaml")]) == 0
    assert main([str(bad)]) == 2
    assert "Did you mean 'height'?" in capsys.readouterr().err


def test_app_builds_every_view_of_the_spec(tiny_root):
    app = ExplorerApp(str(tiny_root))
    assert set(app.views) == set(app.spec.views)
    assert app.sidebar() and app.main()
    template = app.template()
    assert isinstance(template, pn.template.FastListTemplate)
    assert "Thalia viewer" in template.title


# ------------------------------------------------------------------------------ shortcuts, serving
def test_shortcuts_dispatch_and_are_documented():
    called = []
    on_key = dispatcher(
        {"next_pair": lambda: called.append("next"), "previous_primary": lambda: called.append("prev")}
    )
    on_key("j")
    on_key("ArrowRight")
    on_key("[")
    on_key("x")
    assert called == ["next", "next", "prev"]
    text = help_html()
    for s in SHORTCUTS:
        assert s.description in text


def test_keyboard_steps_the_state(state):
    from thalia_viewer.app.navigation import Navigation
    from thalia_viewer.app.views.navigator import Shortcuts

    view, nav = Shortcuts(state=state), Navigation(state, "explore")
    pairs = state.pairs
    state.go(pairs[0])
    nav.keys._handle_msg({"key": "j"})
    assert state.pair == pairs[1]
    nav.keys._handle_msg({"key": "k"})
    assert state.pair == pairs[0]
    assert "j" not in view.keyboard.keys  # one owner per key: the app's navigation
    view.keyboard._handle_msg({"key": "m"})
    assert state.masks == []
    view.keyboard._handle_msg({"key": "m"})
    assert state.masks == ["deformation"]
    view.keyboard._handle_msg({"key": "o"})
    assert state.mask_style != MaskStyle.BOTH.value


def test_panel_command_and_bad_root(tmp_path, tiny_root):
    cmd = serve_module.panel_command(
        str(tiny_root), port=5123, address="127.0.0.1", extra=["--", "--num-procs", "2"]
    )
    assert cmd[cmd.index("--port") + 1] == "5123"
    assert "127.0.0.1:5123" in cmd and "--num-procs" in cmd and "--" not in cmd
    assert cmd[-2:] == ["--args", str(tiny_root)]
    assert cmd[4].endswith("main.py")
    with pytest.raises(DatasetNotFoundError):
        serve_module.serve(str(tmp_path / "missing"))


def test_layer_lists_are_complete():
    assert set(VALUE_LAYERS) | set(MASK_LAYERS) == set(schema.LAYERS)


# --------------------------------------------------------------------------------- views in a session
def test_dates_matrix_tap_opens_a_pair_and_refuses_unusable_ones(tmp_path):
    from thalia_viewer.app.views.dates_matrix import DatesMatrix

    root = write_real_style_root(tmp_path / "root")
    records = json.loads((root / "annotations.json").read_text())
    records["999"] = dict(
        next(iter(records.values())),
        uniqueID=999,
        primary_date="20190117",
        secondary_date="20190210",
        corrupted=1,
    )
    (root / "annotations.json").write_text(json.dumps(records))
    state = AppState(str(root))
    view = DatesMatrix(state=state)
    target = state.pairs[-1]
    assert view.open_at(*view.cell_of(target))
    assert state.pair == target
    assert not view.open_dates("20190117", "20190210")
    assert state.pair == target
    assert state.message.level == "warning" and "not usable" in state.message.text
    assert not view.open_at(-40.0, 90.0)  # far from every cell: nothing happens
    assert state.pair == target


def test_timeseries_strip_lists_the_primary_dates_pairs(state):
    from thalia_viewer.app.views.timeseries import TimeseriesStrip

    view = TimeseriesStrip(state=state)
    series = state.frame_obj.timeseries(state.pair.primary)
    items = view.strip.items
    assert [i["key"] for i in items] == [p.name for p in series]
    assert set(view.sources) == {
        i["key"] for i in items
    }  # a short series: all drawn around the pair on screen
    assert all(src.startswith("data:image/webp;base64,") for src in view.sources.values())
    here = state.pair.name
    other = next(i["key"] for i in items if i["key"] != here) if len(items) > 1 else None
    if other:
        view.strip.value = other  # a click
        assert state.pair == Pair.parse(other, frame=state.frame)


def test_serve_takes_port_and_address_out_of_the_extra_options():
    rest, port, address = serve_module.split_extra(
        ["--port", "5099", "--", "--address=0.0.0.0", "--num-procs", "2"], 5006, "127.0.0.1"
    )
    assert (rest, port, address) == (["--num-procs", "2"], 5099, "0.0.0.0")
    cmd = serve_module.panel_command("root", port, address, extra=rest)
    assert "localhost:5099" in cmd and "--num-procs" in cmd
    with pytest.raises(ValueError, match="--port expects a number"):
        serve_module.split_extra(["--port", "x"], 5006, "127.0.0.1")


def test_serve_passes_the_store_to_every_process(tiny_root, tmp_path, monkeypatch):
    """``serve ROOT --store S`` reaches serve() among the extra options; the app processes get $THALIA_STORE."""
    seen = {}

    class FakePopen:
        def __init__(self, cmd, env):
            seen["cmd"], seen["env"] = cmd, env

        def wait(self, timeout=None):
            return 0

        def terminate(self):
            pass

    monkeypatch.setattr(serve_module, "start_server", FakePopen)
    assert (
        serve_module.serve(str(tiny_root), extra=["--store", str(tmp_path / "s"), "--", "--num-procs", "2"])
        == 0
    )
    assert seen["env"][serve_module.STORE_ENV] == str(tmp_path / "s")
    assert "--store" not in seen["cmd"] and "--num-procs" in seen["cmd"]
