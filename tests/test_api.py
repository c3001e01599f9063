"""The public API: lazy names, version, pair views, reprs, the renderer hook and the embeddable app."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import thalia_viewer as tv
from thalia_viewer.core import display, schema
from thalia_viewer.core.errors import DatasetNotFoundError, PairNotFoundError, UnknownLayerError

#: What ``import thalia_viewer`` must not import (the view and model stacks); the data stack loads with a name.
VIEW_AND_MODEL_STACKS = (
    "torch",
    "torchvision",
    "segmentation_models_pytorch",
    "panel",
    "holoviews",
    "bokeh",
    "datashader",
)
DATA_STACK = ("xarray", "zarr", "dask", "icechunk")
CORE_NAMES = (
    "open",
    "ThaliaDataset",
    "Frame",
    "Pair",
    "PairView",
    "Label",
    "Phase",
    "Split",
    "LayerKind",
    "ThaliaError",
    "AnnotationStore",
    "MaskEditor",
    "MaskClass",
    "schema",
    "app",
)
LAZY_NAMES = ("Predictor", "ModelZoo", "train", "evaluate", "predict_dataset", "render", "app")


def _imported_after(code: str) -> dict[str, list[str]]:
    """Which stacks a fresh interpreter has imported after running ``code`` (JSON on stdout)."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps({{'heavy': [m for m in {VIEW_AND_MODEL_STACKS!r} if m in sys.modules],"
        f" 'data': [m for m in {DATA_STACK!r} if m in sys.modules]}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=240
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_is_light_and_core_names_load_no_view_or_model_stack():
    bare = _imported_after("import thalia_viewer")
    assert bare == {"heavy": [], "data": []}, "import thalia_viewer must only bind names"
    used = _imported_after("import thalia_viewer as tv\n" + "\n".join(f"tv.{n}" for n in CORE_NAMES))
    assert used["heavy"] == [], f"the core names imported {used['heavy']}"
    assert set(used["data"]) >= {"xarray", "zarr"}


def test_public_names_version_and_dir():
    assert tv.__version__ == importlib.metadata.version("thalia-viewer")
    for name in tv.__all__:
        assert getattr(tv, name) is not None, name
    assert set(dir(tv)) >= {*tv.__all__, "open", *LAZY_NAMES, *CORE_NAMES}
    assert set(tv.__all__) == {*tv._LAZY, "__version__"} - {"open"} and len(tv.__all__) == len(
        set(tv.__all__)
    )
    assert tv.open is tv.open_dataset  # left out of __all__: a star import keeps the builtin open
    namespace: dict = {}
    exec("from thalia_viewer import *", namespace)
    assert "open" not in namespace and namespace["ThaliaDataset"] is tv.ThaliaDataset
    assert {tv.Label, tv.Phase, tv.Split, tv.LayerKind} == {
        schema.Label,
        schema.Phase,
        schema.Split,
        schema.LayerKind,
    }
    assert (
        tv.render.__name__ == "render_view"
        and callable(tv.app)
        and callable(tv.train)
        and callable(tv.evaluate)
    )
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tv.nope  # noqa: B018


def test_pairs_are_reached_every_way(tiny_root):
    ds = tv.open(tiny_root)
    frame_id = ds.frames[0]
    frame = ds[frame_id]
    assert (
        frame is ds.frame(frame_id) and list(ds) == ds.frames and len(ds) == len(ds.frames) and frame_id in ds
    )
    first, last = frame.pairs[0], frame.pairs[-1]
    assert list(frame) == frame.pairs
    for key in (
        first,
        first.key,
        first.name,
        (first.primary, first.secondary),
        0,
        np.int64(0),
        -len(frame),
    ):
        assert frame[key].pair == first, key
    assert frame[-1].pair == last and frame.view(last).pair == last
    assert ds[first].pair == ds[first.key].pair == ds[frame_id, first.primary, first.secondary].pair == first
    assert ds.view(first).frame is frame
    dashed = (f"{first.primary[:4]}-{first.primary[4:6]}-{first.primary[6:]}", first.secondary)
    assert frame[dashed].pair == first  # any date spelling
    assert first in frame and first.key in frame and first.key in ds and "20990101_20990102" not in frame
    assert "nope/20990101_20990102" not in ds and "not a pair" not in ds

    with pytest.raises(PairNotFoundError, match=r"no valid pair .*secondary dates of"):
        frame["20990101_20990113"]
    with pytest.raises(PairNotFoundError, match="not a pair name"):
        frame["20990101"]
    with pytest.raises(PairNotFoundError, match="belongs to frame"):
        ds.frame(ds.frames[1])[first]
    with pytest.raises(PairNotFoundError, match="out of range"):
        frame[len(frame)]
    with pytest.raises(PairNotFoundError, match=r"\(frame, primary, secondary\)"):
        ds[frame_id, first.primary]
    with pytest.raises(DatasetNotFoundError, match="no frame 'nope'"):
        ds["nope"]
    with pytest.raises(TypeError, match="got float"):
        frame[1.5]
    with pytest.raises(TypeError, match="got bool"):
        frame[True]


def test_pair_view_layers_masks_and_dataset(tiny_root):
    ds = tv.open(tiny_root)
    frame = ds[ds.frames[0]]
    pv = frame[frame.positives[0]]
    np.testing.assert_array_equal(pv.phase.values, frame.layer(pv.pair, "phase").values)
    np.testing.assert_array_equal(pv.layer("mask").values, pv.masks[schema.DEFORMATION_MASK])
    assert pv.coherence.attrs["units"] == "0-1" and pv.dem.attrs["units"] == "m"
    assert set(pv.masks) == set(schema.MASKS) and all(m.dtype == np.uint8 for m in pv.masks.values())
    assert pv.record == frame.annotation(pv.pair) and pv.record is not frame.annotation(pv.pair)  # a copy
    assert pv.available_layers() == list(schema.LAYERS)  # the generator writes every variable
    cube = pv.to_dataset(["phase", "coherence", "deformation"])
    assert list(cube.data_vars) == ["phase", "coherence", "deformation"] and cube.attrs["pair"] == pv.key
    assert cube["phase"].chunks is not None  # lazy
    with pytest.raises(UnknownLayerError, match="unknown layer 'nope'"):
        pv.layer("nope")
    with pytest.raises(tv.ThaliaError, match="has shape"):
        pv.render("phase", masks={schema.DEFORMATION_MASK: np.zeros((3, 3), np.uint8)})
    with pytest.raises(tv.ThaliaError, match="expected keys among"):
        pv.render("mask", masks={"mask": np.zeros(pv.shape, np.uint8)})
    with pytest.raises(tv.ThaliaError, match="at least one layer"):
        pv.render([])


def test_reprs_say_what_a_user_asks_first(tiny_root):
    ds = tv.open(tiny_root)
    frame = ds[ds.frames[0]]
    text = repr(ds)
    assert str(tiny_root) in text and f"{len(ds.frames)} frames" in text
    for fid in ds.frames:
        f = ds[fid]
        assert f"{fid}  " in text and f"{len(f.pairs)} pairs ({len(f.positives)} positive)" in text
    assert f"annotations.json: {len(ds.annotations)} records" in text
    rows, cols = frame.shape
    text = repr(frame)
    assert text.startswith(
        f"<Frame {frame.frame_id}: {rows} x {cols} px, {len(frame.primary_dates)} primary dates"
    )
    first, last = frame.primary_dates[0], frame.primary_dates[-1]
    assert f"{first[:4]}-{first[4:6]}-{first[6:]} … {last[:4]}-{last[4:6]}-{last[6:]}" in text
    pv = frame[0]
    assert repr(pv) == (
        f"<PairView {pv.key}: {pv.baseline_days} days, {pv.split.value}, "
        f"{','.join(pv.record['label'])}, {rows} x {cols} px>"
    )
    assert "<table" in ds._repr_html_() and all(f in ds._repr_html_() for f in ds.frames)
    assert frame.frame_id in frame._repr_html_() and "positive" in frame._repr_html_()


def test_pair_html_escapes_every_text(tiny_root, tmp_path):
    root = shutil.copytree(tiny_root, tmp_path / "root")
    path = Path(root) / schema.ANNOTATIONS_FILE
    records = json.loads(path.read_text())
    evil = "<script>alert('x')</script> & \"quoted\""
    ds0 = tv.open(root)
    pair = ds0[ds0.frames[0]].pairs[0]
    key = next(
        k
        for k, r in records.items()
        if r["frameID"] == pair.frame
        and (r["primary_date"], r["secondary_date"]) == (pair.primary, pair.secondary)
    )
    records[key]["caption"] = evil
    records[key]["label"] = ["<b>Deformation</b>"]
    path.write_text(json.dumps(records))
    shown = tv.open(root)[pair]._repr_html_()
    assert "<script>" not in shown and "<b>Deformation" not in shown
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in shown
    assert "&lt;b&gt;Deformation&lt;/b&gt;" in shown


def test_without_a_renderer_a_pair_still_shows_its_facts(tiny_root):
    pv = tv.open(tiny_root)[tv.open(tiny_root).frames[0]][0]
    previous = display.register_renderer(None)
    try:
        with pytest.raises(display.NoRendererError, match="no figure renderer"):
            pv.render()
        shown = pv._repr_html_()
        assert "no figure renderer" in shown and pv.key in shown and "<img" not in shown
    finally:
        display.register_renderer(previous)
    calls = []

    def fake(arrays, keys, width=800, x_range=None, y_range=None):
        calls.append((sorted(arrays), list(keys), width))
        return tv.render(arrays, keys, width=width, x_range=x_range, y_range=y_range)

    previous = display.register_renderer(fake)
    try:
        pv.to_png(layers=("phase", "mask"), width=64)
    finally:
        display.register_renderer(previous)
    assert calls == [(["deformation", "phase"], ["phase", "deformation"], 64)]


def test_the_app_embeds_in_a_notebook(tiny_root, tmp_path, monkeypatch):
    import panel as pn
    from bokeh.document import Document

    from thalia_viewer.app.explorer import ExplorerApp
    from thalia_viewer.app.extensions import PANEL_EXTENSIONS
    from thalia_viewer.core.annotations import STORE_ENV

    monkeypatch.setenv(STORE_ENV, str(tmp_path / "store"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(pn.extension, "_loaded_extensions", [])
    app = tv.app(Path(tiny_root), mode="Review")
    assert isinstance(app, ExplorerApp) and app.spec.mode == "review" and app.review is not None
    assert set(PANEL_EXTENSIONS) <= set(pn.extension._loaded_extensions) and pn.config.notifications
    assert isinstance(app.servable(), pn.viewable.Viewable)  # outside `panel serve`: what Jupyter shows
    root = pn.panel(app).get_root(Document())
    assert root.references()
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        tv.app(tmp_path / "missing")
    with pytest.raises(ValueError, match="Modes: explore"):
        tv.app(tiny_root, mode="paint")
