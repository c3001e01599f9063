"""The real-size catalogue generator: the real catalogue's shape, realistic records, cubes metadata-only."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from thalia_viewer.core import schema
from thalia_viewer.core.catalog import Catalog
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.synth.catalogue import (
    N_RECORDS,
    default_keys,
    fill_pairs,
    plan_catalogue,
    write_catalogue,
)

BIG = "162A_06192_060402"


def test_plan_has_the_real_catalogues_shape():
    frames = plan_catalogue(0)
    assert [f.frame_id for f in frames] == list(schema.FRAME_VOLCANOES)
    records = [r for f in frames for r in f.records]
    assert len(records) == N_RECORDS == 19_919
    assert len({r["uniqueID"] for r in records}) == N_RECORDS
    by_id = {f.frame_id: f for f in frames}
    assert len(by_id[BIG].primaries) == 320
    assert (len(by_id["087D_07004_060904"].pairs), len(by_id["087D_07004_060904"].primaries)) == (1326, 277)
    assert (len(by_id["155D_02484_191814"].pairs), len(by_id["155D_02484_191814"].primaries)) == (54, 15)
    assert all(15 <= len(f.primaries) <= 320 for f in frames)
    for r in records:
        assert tuple(r) == schema.ANNOTATION_FIELDS
        assert r["secondary_date"] > r["primary_date"]
    labels = Counter(tuple(r["label"]) for r in records)
    positives = sum(schema.is_positive(r) for r in records)
    assert 0.06 < positives / N_RECORDS < 0.13  # real: 9.1 %
    assert labels[("Earthquake",)] > 5 and labels[("Deformation", "Earthquake")] > 3
    unusable = sum(any(r[f] for f in schema.UNUSABLE_FLAGS) for r in records)
    assert 0.03 < unusable / N_RECORDS < 0.08  # real: 5 %
    kinds = Counter(a for r in records for a in r["activity_type"])
    assert set(kinds) == {c.name for c in schema.ACTIVITY_TYPES if c.code}
    atmospheric = Counter(r["atmospheric_fringes"] for r in records)
    assert all(atmospheric[k] > 100 for k in (1, 2, 3))
    baselines = np.array(
        [
            (schema.parse_date(r["secondary_date"]) - schema.parse_date(r["primary_date"])).days
            for r in records
        ]
    )
    assert np.median(baselines) <= 36 and baselines.max() <= 420
    assert sum(r["is_crowd"] for r in records) > 100
    # captions describe what the pair shows
    for r in records[:500]:
        for kind in r["activity_type"]:
            assert (kind in r["caption"]) or (kind == "Earthquake" and "earthquake" in r["caption"])
        if r["atmospheric_fringes"] & schema.ATMO_TURBULENT and not r["corrupted"]:
            assert "urbulent" in r["caption"]
    assert plan_catalogue(0)[5].records[:3] == frames[5].records[:3]  # reproducible


def test_root_is_metadata_only_and_reads_like_a_thalia_root(catalogue_root: Path):
    ds = ThaliaDataset(catalogue_root)
    assert len(ds.frames) == 38 and len(ds.annotations) == N_RECORDS
    quality = json.loads((catalogue_root / schema.QUALITY_FILE).read_text())
    listed = sum(len(g["secondary_date"]) for groups in quality.values() for g in groups.values())
    assert listed == sum(not any(r[f] for f in schema.UNUSABLE_FLAGS) for r in ds.annotations.values())
    names = json.loads((catalogue_root / schema.FRAME_NAMES_FILE).read_text())
    assert names[BIG] == schema.FRAME_VOLCANOES[BIG]
    store = catalogue_root / f"{BIG}.zarr"
    plain = xr.open_zarr(store)  # what the dataset's users run
    assert plain.sizes[schema.PRIMARY] == 320 and plain[schema.PHASE].dims == (
        schema.PRIMARY,
        schema.SECONDARY,
        "y",
        "x",
    )
    chunks = [p for p in (store / schema.PHASE).iterdir() if not p.name.startswith(".")]
    assert len(chunks) == 2  # only the filled pairs; the 320 x 322 grid costs nothing
    total = sum(p.stat().st_size for p in catalogue_root.rglob("*") if p.is_file())
    assert total < 40e6
    frame = ds.frame(BIG)
    filled = default_keys(next(f for f in plan_catalogue(0) if f.frame_id == BIG), 2)
    pair = frame.pair(*filled[0].split("/")[1].split("_"))
    layers = frame.read(pair, ["phase", "coherence", "deformation"])
    assert np.isfinite(layers["phase"]).mean() > 0.5 and np.nanmax(np.abs(layers["phase"])) <= np.pi + 1e-6
    record = frame.annotation(pair)
    if schema.is_positive(record):
        assert (layers["deformation"] > 0).any()


def test_fill_pairs_writes_only_what_is_asked(tmp_path):
    frame = plan_catalogue(0)[-1]  # a stripmap frame of Piton de la Fournaise
    root = tmp_path / "cat"
    summary = write_catalogue(root, shape=(96, 96))
    assert summary.records == N_RECORDS and summary.max_primaries == 320 and summary.filled == 0
    assert "19919 records" in str(summary)
    key = default_keys(frame, 1)[0]
    assert fill_pairs(root, [key]) == 1
    store = root / f"{frame.frame_id}.zarr"
    assert len([p for p in (store / schema.PHASE).iterdir() if not p.name.startswith(".")]) == 1
    with pytest.raises(Exception, match="has no pair"):
        fill_pairs(root, [f"{frame.frame_id}/20000101_20000113"])
    with pytest.raises(FileExistsError):
        write_catalogue(root)
    cat = Catalog.from_root(root)
    assert len(cat) == N_RECORDS and set(cat.table.volcano.astype(str)) >= {"Etna", "Piton de la Fournaise"}
