"""A notebook session through the public names only: ``import thalia_viewer as tv`` and nothing else of ours.

Open the tiny root, browse, show and render a pair, edit and save a mask, run the default model on the pair,
read the history. No browser, no GPU (the model runs on the CPU).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import thalia_viewer as tv

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_a_notebook_session(tiny_root, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    # open and browse
    ds = tv.open(tiny_root)
    assert isinstance(ds, tv.ThaliaDataset)
    assert f"{len(ds.frames)} frames" in repr(ds)
    frame = ds[ds.frames[0]]
    assert isinstance(frame, tv.Frame) and len(frame) == len(frame.pairs) > 0
    assert frame.frame_id in repr(frame) and f"{len(frame.positives)} positive" in repr(frame)
    pair = frame.positives[0]
    assert isinstance(pair, tv.Pair) and pair in frame
    pv = frame[pair]
    assert isinstance(pv, tv.PairView)
    assert (
        pv.pair == pair
        and ds[pair.key].pair == pair
        and ds[pair.frame, pair.primary, pair.secondary].pair == pair
    )
    assert pv.positive and {tv.Label.DEFORMATION, tv.Label.EARTHQUAKE} & set(pv.labels)
    assert pv.split in set(tv.Split)

    # its layers, masks and record
    assert pv.phase.shape == frame.shape and pv.phase.attrs["units"] == "rad"
    phase = pv.phase.values
    assert np.nanmin(phase) >= -np.pi and np.nanmax(phase) <= np.pi
    coherence = pv.layer("coherence")
    assert float(coherence.min()) >= 0 and float(coherence.max()) <= 1
    assert pv.record["primary_date"] == pair.primary and pv.record["label"] == [
        label.value for label in pv.labels
    ]
    source_masks = pv.masks
    assert source_masks["deformation_mask"].any()  # a positive pair

    # show it (what Jupyter calls) and render a PNG
    assert pv._repr_png_().startswith(PNG_MAGIC)
    shown = pv._repr_html_()
    assert "<img src='data:image/png;base64," in shown and pv.key in shown and "baseline" in shown
    png = pv.to_png(tmp_path / "pair.png", layers=["phase", "coherence", "mask"], width=160)
    assert png.startswith(PNG_MAGIC) and (tmp_path / "pair.png").read_bytes() == png
    image = Image.open(io.BytesIO(png))
    assert image.width == 2 * 160 + 3 * 16  # two panels (the mask is overlaid) and their margins
    assert len({image.getpixel((16 + 80, y)) for y in range(60, 160)}) > 10  # the phase image, not a blank

    # edit a mask and save it
    store = tv.AnnotationStore(tmp_path / "store", dataset=ds)
    ann = store.read_merged(pair)
    assert ann.source and ann.version is None
    editor = tv.MaskEditor.from_masks(ann.masks)
    dyke = tv.MaskClass.from_names("Dyke", "High")
    box = editor.fill_polygon(np.array([[5, 5], [5, 45], [45, 45], [45, 5]]), dyke)
    assert box is not None and editor.dirty
    version = store.save_pair(
        pair, editor.masks, ann.record, author="ana", message="a dyke", base=ann.version
    )
    saved = store.read_merged(pair)
    assert not saved.source and saved.version == version and saved.author == "ana"
    assert (saved.masks["activity_type_mask"][5:45, 5:45] == dyke.activity).all()
    for name, mask in editor.masks.items():
        np.testing.assert_array_equal(saved.masks[name], mask)
    assert not np.array_equal(saved.masks["activity_type_mask"], source_masks["activity_type_mask"])
    edited = pv.render(["phase", "activity"], width=160, masks=saved.masks)  # the correction over the phase
    assert edited.width == 160 + 2 * 16
    # a stale base is a conflict, not a silent overwrite
    with pytest.raises(tv.ConflictError):
        store.save_pair(pair, editor.masks, ann.record, author="bo", message="late", base=ann.version)

    # the default model on the pair
    predictor = tv.Predictor(device="cpu")
    assert predictor.card.name == tv.DEFAULT_MODEL and tv.DEFAULT_MODEL in tv.ModelZoo().names()
    prediction = predictor.predict_pair(pv.frame, pv.pair)
    assert prediction.probability.shape == prediction.mask.shape == frame.shape
    assert prediction.probability.min() >= 0 and prediction.probability.max() <= 1
    assert set(prediction.metrics) >= {"precision", "recall", "f1", "iou"}
    overlay = tv.render(
        {"phase": pv.phase, "deformation": frame.raster(prediction.mask)}, ["phase", "deformation"], width=120
    )
    assert overlay.width == 120 + 2 * 16

    # the history
    history = store.history(pair=pair)
    assert [(v.author, v.message, v.id) for v in history] == [("ana", "a dyke", version)]
    assert [v.pair for v in store.history(frame=pair.frame)] == [pair]


def test_errors_a_notebook_user_can_act_on(tiny_root):
    ds = tv.open(tiny_root)
    frame = ds[ds.frames[0]]
    with pytest.raises(tv.ThaliaError, match="no valid pair"):
        frame["20990101_20990113"]
    with pytest.raises(tv.ThaliaError, match="out of range"):
        frame[len(frame)]
    with pytest.raises(tv.ThaliaError, match="no frame"):
        ds["000A_00000_000000"]
    with pytest.raises(tv.ThaliaError, match="unknown layer"):
        frame[0].render(["phase", "nope"])
    with pytest.raises(tv.ThaliaError, match=r"not an app mode.*'review'"):
        tv.app(tiny_root, mode="reveiw")
