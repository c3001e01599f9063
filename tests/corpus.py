"""A corpus of damaged dataset roots: what a disk, a copy, an editor or a bad script leaves behind.

Every root starts as one tiny root of the project's own generator (``write_dataset``: 1 frame of 128 x 128 px,
8 dates, 12 pairs in the train and val splits), made valid for zarr-2 readers (the zero chunks of its valid pairs'
masks written), copied, then damaged in one way. :data:`DAMAGES` lists the kinds; :func:`build_corpus` makes
them. Each :class:`Damage` says what ``thalia-viewer validate`` must report, whether only ``--deep`` (a read
of the data) can see it, which commands cannot work on it (they must refuse with exit 2), and what their
error paragraph must name (file, variable or pair).

Damaging goes through files and plain zarr / xarray, not the project's readers: a reader bug must not hide
the damage from the test that looks for it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from thalia_viewer.core.pairs import pair_key
from thalia_viewer.core.synth.writer import write_dataset

BASE = {"n_frames": 1, "shape": (128, 128), "n_dates": 8, "seed": 3}
FRAME = "124D_05291_081406"  # the generator's first frame id
STORE = f"{FRAME}.zarr"
PAIR_VARS = (
    "insar_difference",
    "insar_coherence",
    "deformation_mask",
    "activity_type_mask",
    "intensity_level_mask",
)
MASKS = ("deformation_mask", "activity_type_mask", "intensity_level_mask")

# Commands of the CLI matrix (the test spells their arguments).
INFO, VALIDATE, DEEP, RENDER, EXPORT, PREDICT, TRAIN, EVALUATE, SERVE = (
    "info",
    "validate",
    "validate --deep",
    "render",
    "export",
    "predict",
    "train",
    "evaluate",
    "serve",
)
#: Commands that need the whole catalogue: a root whose JSON, frames or stores cannot be opened stops them all.
CATALOGUE = (INFO, VALIDATE, DEEP, RENDER, EXPORT, PREDICT, TRAIN, EVALUATE, SERVE)
#: Commands that read the data of the damaged training pair (render shows it; predict / train / evaluate read
#: every pair of the train split). Export copies chunks it does not correct as they are: it may pass.
READERS = (DEEP, RENDER, PREDICT, TRAIN, EVALUATE)
#: The same for a variable that the base-setting models do not read (ERA5, activity / intensity masks).
NON_MODEL_READERS = (DEEP, RENDER)


@dataclass(frozen=True)
class Target:
    """Facts of the base root the damages aim at: the first positive training pair and its grid cell."""

    primary: str
    secondary: str
    i: int  # primary-date index in the store
    j: int  # secondary-date index
    negative: tuple[str, str, int, int]  # a valid negative pair (primary, secondary, i, j)

    @property
    def key(self) -> str:
        return pair_key(FRAME, self.primary, self.secondary)


@dataclass(frozen=True)
class Damage:
    """One kind of damage: how to make it, what validate reports, which commands must refuse, what they name."""

    name: str
    make: Callable[[Path, Target], Path]  # damages the copy at the given path; returns the root to test
    finds: str  # text of the problem validate reports
    deep: bool = False  # only `validate --deep` (a read of the data) can see it
    fails: tuple[str, ...] = (VALIDATE, DEEP)  # commands that must exit 2 (the others: 0 or 2)
    names: str = ""  # what every failing command's paragraph names (default: `finds`)
    pair: str = "damaged"  # which pair render shows: "damaged" (the target) or "negative"

    @property
    def named(self) -> str:
        return self.names or self.finds

    @property
    def must_fail(self) -> tuple[str, ...]:
        """Commands that must refuse (a deep damage is not the default validate's to see)."""
        return tuple(c for c in self.fails if not (self.deep and c == VALIDATE))


# ------------------------------------------------------------------------------------ base root
def write_base(root: Path) -> Target:
    """The valid base root at ``root`` and the target facts."""
    write_dataset(root, **BASE)
    fill_mask_chunks(root)
    return target_of(root)


def target_of(root: Path) -> Target:
    """The first positive training pair and a valid negative pair of a base root."""
    records = json.loads((root / "annotations.json").read_text())
    ds = xr.open_zarr(root / STORE)
    primaries = [str(v)[:10].replace("-", "") for v in ds["primary_date"].values]
    secondaries = [str(v)[:10].replace("-", "") for v in ds["secondary_date"].values]
    pos = sorted(
        (r["primary_date"], r["secondary_date"]) for r in records.values() if "Deformation" in r["label"]
    )
    neg = sorted(
        (r["primary_date"], r["secondary_date"]) for r in records.values() if "Non_Deformation" in r["label"]
    )
    p, s = pos[0]
    n = neg[0]
    return Target(
        p, s, primaries.index(p), secondaries.index(s), (*n, primaries.index(n[0]), secondaries.index(n[1]))
    )


def valid_cells(root: Path, store: Path) -> list[tuple[int, int]]:
    """Grid cells (primary index, secondary index) of the valid pairs of one store."""
    quality = json.loads((root / "quality_timeseries.json").read_text())
    ds = xr.open_zarr(store)
    primaries = [str(v)[:10].replace("-", "") for v in ds["primary_date"].values]
    secondaries = [str(v)[:10].replace("-", "") for v in ds["secondary_date"].values]
    return [
        (primaries.index(p), secondaries.index(s))
        for p, group in quality.get(store.stem, {}).items()
        for s in group["secondary_date"]
    ]


def fill_mask_chunks(root: Path, cells: dict[Path, list[tuple[int, int]]] | None = None) -> None:
    """Write the all-zero mask chunks of every valid pair (today's writer skips them; zarr 2 reads garbage)."""
    for store in root.glob("*.zarr"):
        store_cells = (cells or {}).get(store) or valid_cells(root, store)
        with zarr.config.set({"array.write_empty_chunks": True}):
            for name in MASKS:
                if not (store / name).is_dir():
                    continue
                arr = zarr.open_array(store=str(store / name), mode="r+")
                for i, j in store_cells:
                    arr[i, j] = arr[i, j]


# ------------------------------------------------------------------------------------- helpers
def _chunk(root: Path, variable: str, key: str) -> Path:
    return root / STORE / variable / key


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00thalia-corpus: garbage, not a blosc frame\xff" * 8)


def _write_cell(root: Path, variable: str, index: tuple, values: np.ndarray) -> None:
    with zarr.config.set({"array.write_empty_chunks": True}):
        arr = zarr.open_array(store=str(root / STORE / variable), mode="r+")
        arr[index] = values


def _read_cell(root: Path, variable: str, index: tuple) -> np.ndarray:
    return np.asarray(zarr.open_array(store=str(root / STORE / variable), mode="r")[index])


def _drop_from_metadata(store: Path, variable: str) -> None:
    meta = json.loads((store / ".zmetadata").read_text())
    meta["metadata"] = {k: v for k, v in meta["metadata"].items() if k.split("/")[0] != variable}
    (store / ".zmetadata").write_text(json.dumps(meta))


def _rewrite(root: Path, change: Callable[[xr.Dataset], xr.Dataset]) -> None:
    """Rewrite the frame store through xarray (Zarr 2, consolidated) after ``change``; mask zero chunks kept."""
    store = root / STORE
    cells = valid_cells(root, store)
    ds = xr.open_zarr(store, decode_times=True).load()
    ds = change(ds)
    for v in ds.variables.values():
        v.encoding = {}
    tmp = root / "rewrite.zarr"
    ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
    shutil.rmtree(store)
    tmp.rename(store)
    fill_mask_chunks(root, {store: cells})


def _edit_json(root: Path, name: str, change: Callable[[object], object]) -> None:
    path = root / name
    path.write_text(json.dumps(change(json.loads(path.read_text())), indent=1))


def _record_of(records: dict, primary: str, secondary: str) -> str:
    return next(
        k for k, r in records.items() if (r["primary_date"], r["secondary_date"]) == (primary, secondary)
    )


# ------------------------------------------------------------------------------------ damages
def _corrupt(variable: str, which: str = "pair") -> Callable[[Path, Target], Path]:
    def make(root: Path, t: Target) -> Path:
        key = {"pair": f"{t.i}.{t.j}.0.0", "dem": "0.0", "primary": f"{t.i}.0.0", "secondary": f"{t.j}.0.0"}[
            which
        ]
        _garbage(_chunk(root, variable, key))
        return root

    return make


def _truncated(root: Path, t: Target) -> Path:
    path = _chunk(root, "insar_difference", f"{t.i}.{t.j}.0.0")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return root


def _empty_chunk_file(root: Path, t: Target) -> Path:
    _chunk(root, "insar_coherence", f"{t.i}.{t.j}.0.0").write_bytes(b"")
    return root


def _dem_values(kind: str) -> Callable[[Path, Target], Path]:
    def make(root: Path, t: Target) -> Path:
        dem = _read_cell(root, "dem", (slice(None), slice(None)))
        if kind == "nan":
            dem[:] = np.nan
        else:
            dem[10:20, 10:20] = np.inf
        _write_cell(root, "dem", (slice(None), slice(None)), dem)
        return root

    return make


def _pair_values(
    variable: str, change: Callable[[np.ndarray], np.ndarray], negative: bool = False
) -> Callable[[Path, Target], Path]:
    def make(root: Path, t: Target) -> Path:
        i, j = (t.negative[2], t.negative[3]) if negative else (t.i, t.j)
        _write_cell(root, variable, (i, j), change(_read_cell(root, variable, (i, j))))
        return root

    return make


def _nan_everywhere(a: np.ndarray) -> np.ndarray:
    return np.full_like(a, np.nan)


def _some_inf(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a[5:9, 5:9] = np.inf
    return a


def _degrees(a: np.ndarray) -> np.ndarray:
    return np.degrees(a)


def _coherence_too_high(a: np.ndarray) -> np.ndarray:
    return a * 4 + 300


def _unknown_codes(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a[:4, :4] = 7
    return a


def _activity_without_deformation(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a[-6:, -6:] = 1  # Mogi where deformation_mask says none
    return a


def _missing_mask_chunk(root: Path, t: Target) -> Path:
    """What today's writer leaves: a valid negative pair's mask chunk not written, with fill_value null."""
    *_, i, j = t.negative
    _chunk(root, "deformation_mask", f"{i}.{j}.0.0").unlink()
    return root


def _deleted_variable_folder(root: Path, t: Target) -> Path:
    shutil.rmtree(root / STORE / "insar_coherence")  # .zmetadata still lists it
    return root


def _missing_variable(variable: str) -> Callable[[Path, Target], Path]:
    def make(root: Path, t: Target) -> Path:
        shutil.rmtree(root / STORE / variable)
        _drop_from_metadata(root / STORE, variable)
        return root

    return make


def _dem_with_date_dim(root: Path, t: Target) -> Path:
    def change(ds: xr.Dataset) -> xr.Dataset:
        return ds.assign(
            dem=ds["dem"].expand_dims(primary_date=ds["primary_date"]).transpose("primary_date", "y", "x")
        )

    _rewrite(root, change)
    return root


def _dem_spatial_dims_swapped(root: Path, t: Target) -> Path:
    _rewrite(root, lambda ds: ds.assign(dem=ds["dem"].transpose("x", "y")))
    return root


def _phase_dims_swapped(root: Path, t: Target) -> Path:
    def change(ds: xr.Dataset) -> xr.Dataset:
        return ds.assign(
            insar_difference=ds["insar_difference"].transpose("secondary_date", "primary_date", "y", "x")
        )

    _rewrite(root, change)
    return root


def _coherence_spatial_dims_swapped(root: Path, t: Target) -> Path:
    def change(ds: xr.Dataset) -> xr.Dataset:
        return ds.assign(
            insar_coherence=ds["insar_coherence"].transpose("primary_date", "secondary_date", "x", "y")
        )

    _rewrite(root, change)
    return root


def _integer_date_coords(root: Path, t: Target) -> Path:
    def change(ds: xr.Dataset) -> xr.Dataset:
        return ds.assign_coords(primary_date=np.arange(ds.sizes["primary_date"], dtype="int64"))

    _rewrite(root, change)
    return root


def _duplicate_dates(root: Path, t: Target) -> Path:
    def change(ds: xr.Dataset) -> xr.Dataset:
        values = ds["secondary_date"].values.copy()
        values[-1] = values[-2]
        return ds.assign_coords(secondary_date=values)

    _rewrite(root, change)
    return root


def _tiny_frame(size: int) -> Callable[[Path, Target], Path]:
    def make(root: Path, t: Target) -> Path:
        _rewrite(root, lambda ds: ds.isel(y=slice(60, 60 + size), x=slice(60, 60 + size)))
        return root

    return make


def _not_zarr(root: Path, t: Target) -> Path:
    shutil.rmtree(root / STORE)
    (root / STORE).mkdir()
    (root / STORE / "readme.txt").write_text("frames are on the tape archive")
    return root


def _broken_zmetadata(root: Path, t: Target) -> Path:
    (root / STORE / ".zmetadata").write_text('{"metadata": {".zgroup": ')
    return root


def _store_is_file(root: Path, t: Target) -> Path:
    shutil.rmtree(root / STORE)
    (root / STORE).write_bytes(b"PK\x03\x04 a zip that was never extracted")
    return root


def _json_text(name: str, text: str | bytes) -> Callable[[Path, Target], Path]:
    def make(root: Path, t: Target) -> Path:
        path = root / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return root

    return make


def _records(change: Callable[[dict, Target], None]) -> Callable[[Path, Target], Path]:
    def make(root: Path, t: Target) -> Path:
        records = json.loads((root / "annotations.json").read_text())
        change(records, t)
        (root / "annotations.json").write_text(json.dumps(records, indent=1))
        return root

    return make


def _foreign_frame(records: dict, t: Target) -> None:
    rec = dict(records["1"], uniqueID=9001, frameID="999A_00000_000000")
    records["9001"] = rec


def _dates_not_in_cube(records: dict, t: Target) -> None:
    records["9002"] = dict(records["1"], uniqueID=9002, primary_date="20230101", secondary_date="20230113")


def _integer_record_dates(records: dict, t: Target) -> None:
    key = _record_of(records, t.primary, t.secondary)
    records[key]["primary_date"] = int(records[key]["primary_date"])


def _impossible_record_date(records: dict, t: Target) -> None:
    records["9003"] = dict(records["1"], uniqueID=9003, primary_date="20161345")


def _bad_values(records: dict, t: Target) -> None:
    key = _record_of(records, t.primary, t.secondary)
    records[key]["activity_type"] = ["Volcano"]
    records[key]["atmospheric_fringes"] = 7
    records[key]["confidence"] = 2.5


def _key_not_uid(records: dict, t: Target) -> None:
    records["1"]["uniqueID"] = 4242


def _duplicate_records(records: dict, t: Target) -> None:
    key = _record_of(records, t.primary, t.secondary)
    records["9004"] = dict(
        records[key], uniqueID=9004, label=["Non_Deformation"], activity_type=[], intensity_level=[]
    )


def _record_not_object(records: dict, t: Target) -> None:
    records["9005"] = ["124D_05291_081406", "20160119", "20160131"]


def _record_without_frame(records: dict, t: Target) -> None:
    records["9006"] = {k: v for k, v in records["1"].items() if k != "frameID"}


def _labels_list_is_text(records: dict, t: Target) -> None:
    key = _record_of(records, t.primary, t.secondary)
    records[key]["label"] = "Deformation"


def _quality(change: Callable[[dict, Target], None]) -> Callable[[Path, Target], Path]:
    def make(root: Path, t: Target) -> Path:
        quality = json.loads((root / "quality_timeseries.json").read_text())
        change(quality, t)
        (root / "quality_timeseries.json").write_text(json.dumps(quality, indent=1))
        return root

    return make


def _quality_foreign_frame(q: dict, t: Target) -> None:
    q["999A_00000_000000"] = q[FRAME]


def _quality_pair_not_in_grid(q: dict, t: Target) -> None:
    group = q[FRAME][t.primary]
    group["secondary_date"].append("20250101")
    group["uniqueID"].append(9007)
    group["length"] += 1


def _quality_unknown_uid(q: dict, t: Target) -> None:
    q[FRAME][t.primary]["uniqueID"][0] = 8888


def _quality_length(q: dict, t: Target) -> None:
    q[FRAME][t.primary]["length"] += 5


def _empty_root(root: Path, t: Target) -> Path:
    shutil.rmtree(root)
    root.mkdir()
    return root


def _file_root(root: Path, t: Target) -> Path:
    shutil.rmtree(root)
    root.write_text("not a dataset")
    return root


def _no_annotations(root: Path, t: Target) -> Path:
    (root / "annotations.json").unlink()
    return root


STORE_ERRORS = CATALOGUE  # a single-frame root whose store cannot be opened: nothing can work
P = "{pair}"  # in `names`: the target pair's key
#: Commands a store with a broken variable stops (browsing the other layers still works: info, render, serve).
MODEL_INPUT = (VALIDATE, DEEP, TRAIN, EVALUATE, PREDICT)


DAMAGES: tuple[Damage, ...] = (
    # --- chunks that cannot be decoded (found by reading them: --deep)
    Damage(
        "corrupt phase chunk",
        _corrupt("insar_difference"),
        "insar_difference of pair",
        deep=True,
        fails=READERS,
        names=P,
    ),
    Damage(
        "corrupt coherence chunk",
        _corrupt("insar_coherence"),
        "insar_coherence of pair",
        deep=True,
        fails=READERS,
        names=P,
    ),
    Damage(
        "corrupt deformation_mask chunk",
        _corrupt("deformation_mask"),
        "deformation_mask of pair",
        deep=True,
        fails=READERS,
        names=P,
    ),
    Damage(
        "corrupt activity_type_mask chunk",
        _corrupt("activity_type_mask"),
        "activity_type_mask of pair",
        deep=True,
        fails=NON_MODEL_READERS,
        names=P,
    ),
    Damage(
        "corrupt intensity_level_mask chunk",
        _corrupt("intensity_level_mask"),
        "intensity_level_mask of pair",
        deep=True,
        fails=NON_MODEL_READERS,
        names=P,
    ),
    Damage(
        "corrupt dem chunk",
        _corrupt("dem", "dem"),
        "dem  cannot be read",
        deep=True,
        fails=READERS,
        names="dem",
    ),
    Damage(
        "corrupt ERA5 chunk (primary date)",
        _corrupt("primary_date_total_column_water_vapour", "primary"),
        "primary_date_total_column_water_vapour of date",
        deep=True,
        fails=NON_MODEL_READERS,
        names="primary_date_total_column_water_vapour",
    ),
    Damage(
        "corrupt ERA5 chunk (secondary date)",
        _corrupt("secondary_date_surface_pressure", "secondary"),
        "secondary_date_surface_pressure of date",
        deep=True,
        fails=(DEEP,),
        names="secondary_date_surface_pressure",
    ),
    Damage(
        "truncated phase chunk", _truncated, "insar_difference of pair", deep=True, fails=READERS, names=P
    ),
    Damage(
        "empty coherence chunk file",
        _empty_chunk_file,
        "insar_coherence of pair",
        deep=True,
        fails=READERS,
        names=P,
    ),
    # --- values the format does not allow (found by reading: --deep)
    Damage("NaN DEM", _dem_values("nan"), "dem has no finite value", deep=True),
    Damage("Inf DEM", _dem_values("inf"), "dem holds infinite values", deep=True),
    Damage(
        "empty phase cell of a valid pair",
        _pair_values("insar_difference", _nan_everywhere),
        "has no phase data",
        deep=True,
    ),
    Damage(
        "Inf phase",
        _pair_values("insar_difference", _some_inf),
        "insar_difference holds infinite values",
        deep=True,
    ),
    Damage("phase in degrees", _pair_values("insar_difference", _degrees), "exceeds [-pi, pi]", deep=True),
    Damage(
        "coherence out of range",
        _pair_values("insar_coherence", _coherence_too_high),
        "outside 0-1",
        deep=True,
    ),
    Damage(
        "unknown class codes in a mask",
        _pair_values("deformation_mask", _unknown_codes),
        "unknown class codes [7]",
        deep=True,
        fails=(DEEP, RENDER),
        names="deformation_mask",
    ),
    Damage(
        "activity mask disagrees with deformation",
        _pair_values("activity_type_mask", _activity_without_deformation),
        "disagrees with",
        deep=True,
    ),
    # --- store metadata (found without reading data)
    Damage("mask chunk missing with fill_value null", _missing_mask_chunk, "uninitialised memory"),
    Damage(
        "variable folder deleted, consolidated metadata stale",
        _deleted_variable_folder,
        "insar_coherence/ is missing",
    ),
    Damage(
        "missing variable dem",
        _missing_variable("dem"),
        "missing variable 'dem'",
        fails=MODEL_INPUT,
        names="'dem'",
    ),
    Damage(
        "missing variable deformation_mask",
        _missing_variable("deformation_mask"),
        "missing variable 'deformation_mask'",
        fails=(VALIDATE, DEEP, TRAIN, EVALUATE),
        names="'deformation_mask'",
    ),
    Damage(
        "missing variable insar_difference",
        _missing_variable("insar_difference"),
        "no variable 'insar_difference'",
        fails=STORE_ERRORS,
    ),
    Damage("dem with a date dim", _dem_with_date_dim, "dem has dims"),
    Damage("dem spatial dims swapped", _dem_spatial_dims_swapped, "dem has dims", fails=MODEL_INPUT),
    Damage("phase date dims swapped", _phase_dims_swapped, "insar_difference has dims", fails=STORE_ERRORS),
    Damage(
        "coherence spatial dims swapped",
        _coherence_spatial_dims_swapped,
        "insar_coherence has dims",
        fails=MODEL_INPUT,
    ),
    Damage(
        "integer date coordinate",
        _integer_date_coords,
        "coordinate primary_date holds int64",
        fails=STORE_ERRORS,
        names=f"{STORE}: coordinate primary_date",
    ),
    Damage("duplicate dates", _duplicate_dates, "coordinate secondary_date holds", fails=STORE_ERRORS),
    Damage(
        "tiny 8 x 8 frame",
        _tiny_frame(8),
        "8 x 8 px is too small",
        fails=(VALIDATE, DEEP, TRAIN, EVALUATE),
        names="8 x 8",
    ),
    Damage(
        "tiny 1 x 1 frame",
        _tiny_frame(1),
        "1 x 1 px is too small",
        fails=(VALIDATE, DEEP, TRAIN, EVALUATE),
        names="1 x 1",
    ),
    Damage(
        "non-Zarr store folder", _not_zarr, "is not a readable Zarr store", fails=STORE_ERRORS, names=STORE
    ),
    Damage(
        "broken .zmetadata",
        _broken_zmetadata,
        "is not a readable Zarr store",
        fails=STORE_ERRORS,
        names=STORE,
    ),
    Damage(
        "store is a file", _store_is_file, "is not a readable Zarr store", fails=STORE_ERRORS, names=STORE
    ),
    # --- annotations.json
    Damage(
        "annotations.json not JSON",
        _json_text("annotations.json", '{"1": {"frameID": '),
        "annotations.json is not valid JSON",
        fails=CATALOGUE,
    ),
    Damage(
        "annotations.json not UTF-8",
        _json_text("annotations.json", b'{"1": "\xff\xfe"}'),
        "annotations.json is not UTF-8",
        fails=CATALOGUE,
    ),
    Damage(
        "annotations.json a list",
        _json_text("annotations.json", "[1, 2, 3]"),
        "annotations.json holds a list",
        fails=CATALOGUE,
    ),
    Damage("record not an object", _records(_record_not_object), "record '9005' is a list", fails=CATALOGUE),
    Damage(
        "record without frameID",
        _records(_record_without_frame),
        "record '9006' lacks frameID",
        fails=CATALOGUE,
    ),
    Damage(
        "record of a frame not in the root", _records(_foreign_frame), "describe frame '999A_00000_000000'"
    ),
    Damage(
        "record whose dates are not in the cube", _records(_dates_not_in_cube), "record '9002' describes pair"
    ),
    Damage("integer dates in a record", _records(_integer_record_dates), "is not a YYYYMMDD date string"),
    Damage(
        "impossible date in a record",
        _records(_impossible_record_date),
        "'20161345' is not a date",
        fails=CATALOGUE,
        names="record '9003'",
    ),
    Damage("bad record values", _records(_bad_values), "activity_type value 'Volcano'"),
    Damage("label not a list", _records(_labels_list_is_text), "label must be a list"),
    Damage("key is not the record's uniqueID", _records(_key_not_uid), "uniqueID 4242 differs from its key"),
    Damage("two records for one pair", _records(_duplicate_records), "both describe pair"),
    Damage("no annotations.json", _no_annotations, "annotations.json is missing"),
    # --- quality_timeseries.json
    Damage(
        "quality_timeseries.json not JSON",
        _json_text("quality_timeseries.json", "{{"),
        "quality_timeseries.json is not valid JSON",
        fails=CATALOGUE,
    ),
    Damage(
        "quality_timeseries.json a list",
        _json_text("quality_timeseries.json", "[]"),
        "quality_timeseries.json is not frame",
        fails=CATALOGUE,
    ),
    Damage(
        "quality names a frame without a store",
        _quality(_quality_foreign_frame),
        "names frame '999A_00000_000000'",
    ),
    Damage(
        "quality pair not in the date grid",
        _quality(_quality_pair_not_in_grid),
        "20250101 is not in the store's date grid",
    ),
    Damage(
        "quality uniqueID without a record",
        _quality(_quality_unknown_uid),
        "uniqueID(s) [8888] have no record",
    ),
    Damage("quality length disagrees", _quality(_quality_length), "disagrees with"),
    # --- the root itself
    Damage("empty root", _empty_root, "holds no", fails=CATALOGUE),
    Damage("a file as root", _file_root, "is not a folder", fails=CATALOGUE),
)


def build_corpus(dest: Path) -> tuple[dict[str, Path], Target]:
    """Every damaged root of :data:`DAMAGES` under ``dest`` (one folder each) and the target facts."""
    base = dest / "_base"
    target = write_base(base)
    roots: dict[str, Path] = {}
    for n, damage in enumerate(DAMAGES):
        root = dest / f"d{n:02d}"
        shutil.copytree(base, root)
        roots[damage.name] = damage.make(root, target)
    return roots, target
