"""The data layer on cubes written the way the real ones are (tests/realistic.py), all dialects."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from tests import realistic
from thalia_viewer.core import schema
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.errors import MissingVariableError, PairNotFoundError
from thalia_viewer.core.pairs import Pair, sequences

DIALECTS = {
    "y/x": {},
    "lat/lon": {"spatial": ("lat", "lon")},
    "era5-4d": {"era5_4d": True},
    "zero-nodata": {"zero_nodata": True},
    "float-masks": {"float_masks": True},
}


@pytest.fixture(params=list(DIALECTS))
def real_root(request, tmp_path):
    return realistic.write_real_style_root(tmp_path / "root", **DIALECTS[request.param])


def test_frames_pairs_and_annotations(real_root):
    ds = ThaliaDataset(real_root)
    assert ds.frames == [realistic.FRAME]
    frame = ds.frame(realistic.FRAME)
    assert [(p.primary, p.secondary) for p in frame.pairs] == sorted((p, s) for p, s, _ in realistic.PAIRS)
    assert len(frame.positives) == 2
    rec = frame.annotation(frame.pairs[1])
    assert rec["label"] == ["Deformation"]
    assert frame.shape == (64, 64)


def test_layers_in_display_units(real_root):
    frame = ThaliaDataset(real_root).frame(realistic.FRAME)
    pair = frame.pair("20190105", "20190129")
    layers = frame.read(pair, ["phase", "coherence", "dem", "tcwv_primary", "tcwv_secondary", "tcwv", "mask"])
    assert np.nanmax(np.abs(layers["phase"])) <= np.pi
    coh = layers["coherence"]
    assert np.nanmin(coh) >= 0 and np.nanmax(coh) <= 1  # 0-255 in the store
    # no-data margin reads as NaN whether the store used NaN or zeros
    assert np.isnan(layers["phase"][:, :4]).all() and np.isnan(coh[:, :4]).all()
    assert np.isfinite(layers["phase"][:, 4:]).all()
    np.testing.assert_allclose(layers["tcwv_primary"], 20.0)
    np.testing.assert_allclose(layers["tcwv"], 0.2, rtol=1e-4)
    assert layers["mask"].dtype == np.uint8 and set(np.unique(layers["mask"])) == {0, 1}


def test_layers_are_lazy(real_root):
    frame = ThaliaDataset(real_root).frame(realistic.FRAME)
    da = frame.layer(frame.pairs[0], "phase")
    assert isinstance(da, xr.DataArray) and da.chunks is not None
    assert da.dims == (frame.y_dim, frame.x_dim)


def test_activity_and_intensity_derived_from_record(real_root):
    frame = ThaliaDataset(real_root).frame(realistic.FRAME)
    pair = frame.pair("20190105", "20190129")
    layers = frame.read(pair, ["deformation", "activity", "intensity"])
    mogi = schema.class_by_name(schema.ACTIVITY_TYPES, "Mogi").code
    medium = schema.class_by_name(schema.INTENSITY_LEVELS, "Medium").code
    on = layers["deformation"] == 1
    assert (layers["activity"][on] == mogi).all() and (layers["activity"][~on] == 0).all()
    assert (layers["intensity"][on] == medium).all()


def test_time_series_and_sequences(real_root):
    frame = ThaliaDataset(real_root).frame(realistic.FRAME)
    series = frame.timeseries("20190105")
    assert [p.secondary for p in series] == ["20190117", "20190129", "20190210"]
    assert frame.sequences("20190105") == [tuple(series)]
    padded = frame.sequences("20190117")  # one pair, padded by duplication to length 3
    assert len(padded) == 1 and len(padded[0]) == 3 and set(padded[0]) == {frame.pair("20190117", "20190129")}


def test_sequences_of_long_groups_follow_min_distinct():
    group = [Pair(realistic.FRAME, "20190101", f"201902{d:02d}") for d in range(1, 6)]
    disjoint = sequences(group, 3, min_distinct=1)
    assert all(len(set(a) & set(b)) == 0 for a in disjoint for b in disjoint if a != b)
    overlapping = sequences(group, 3, min_distinct=2)
    assert len(overlapping) > len(disjoint)
    assert all(list(s) == sorted(s) for s in overlapping)


def test_split_by_primary_date():
    assert Pair("f", "20190531", "20190612").split == schema.Split.TRAIN
    assert Pair("f", "20190601", "20190613").split == schema.Split.VAL
    assert Pair("f", "20200101", "20200113").split == schema.Split.TEST
    assert Pair("f", "20220101", "20220113").split is None


def test_fallbacks_without_json(tmp_path):
    root = realistic.write_real_style_root(tmp_path / "r", with_quality=False)
    assert len(ThaliaDataset(root).frame(realistic.FRAME).pairs) == 4  # from annotations.json
    (root / "annotations.json").unlink()
    frame = ThaliaDataset(root).frame(realistic.FRAME)
    assert len(frame.pairs) == 4  # from the non-empty cells


def test_missing_layer_is_a_clear_error(tmp_path):
    root = realistic.write_real_style_root(tmp_path / "r", drop=("primary_date_surface_pressure",))
    frame = ThaliaDataset(root).frame(realistic.FRAME)
    frame.layer(frame.pairs[0], "phase")  # the rest still reads
    with pytest.raises(MissingVariableError, match="primary_date_surface_pressure"):
        frame.layer(frame.pairs[0], "sp_primary")


def test_unknown_pair_lists_what_exists(tmp_path):
    root = realistic.write_real_style_root(tmp_path / "r")
    with pytest.raises(PairNotFoundError, match="20190117, 20190129, 20190210"):
        ThaliaDataset(root).resolve(realistic.FRAME, "20190105", "20190301")


def test_an_unknown_split_or_layer_says_what_there_is(tiny_root):
    from thalia_viewer.core.errors import SchemaError, UnknownLayerError

    ds = ThaliaDataset(tiny_root)
    with pytest.raises(SchemaError, match=r"unknown split 'tst'\. Did you mean 'test'"):
        ds.pairs(split="tst")
    assert ds.pairs(split="test")
    with pytest.raises(UnknownLayerError, match="Did you mean 'phase'"):
        schema.layer("phse")
