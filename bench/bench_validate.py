"""``validate`` at catalogue scale and ``validate --deep`` against the raw read of the same chunks.

1. **Catalogue**: a root shaped like the real dataset's catalogue (by default 38 frames, 19,919 valid pairs,
   the biggest frame 1,326 pairs over 277 dates), its arrays metadata-only (no pixel on disk) except the
   masks' chunks of the valid pairs (small all-zero chunks, as a zarr-2 writer leaves them: the null-fill
   check lists them). The default ``validate`` (metadata + catalogue) is timed on it; ``--deep`` is timed on
   a few of its frames and its cost per pair extrapolated to the whole catalogue.
2. **Throughput**: a root whose pairs hold real compressed data; ``validate --deep`` (threads) against a raw
   read of every chunk of the same arrays with zarr on as many threads: the ratio says how close to the
   raw read (the disk and the decompression) the deep pass runs.

``python -m bench.run validate`` (or ``python -m bench.bench_validate --frames 38 --size 1024``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import zarr

from bench.common import ratio_line, time_it, timing_dict, write_results
from thalia_viewer.core import schema
from thalia_viewer.core.validate import validate

#: Pairs per frame of the real catalogue's shape: the biggest frame, then frames down to 54 pairs (sums to 19,919).
BIGGEST = 1326
REAL_PAIRS = 19_919
COMPRESSOR = {"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 2, "blocksize": 0}


def pair_counts(frames: int) -> list[int]:
    """Pairs per frame: the biggest real frame first, the others sharing the rest of the 19,919 (>= 54 each)."""
    if frames == 1:
        return [BIGGEST]
    rest = max(REAL_PAIRS - BIGGEST, 54 * (frames - 1))
    weights = np.linspace(2.0, 0.3, frames - 1)
    counts = np.maximum(54, np.round(rest * weights / weights.sum())).astype(int)
    return [BIGGEST, *counts.tolist()]


def _dates(n: int, start: str = "2015-01-01") -> np.ndarray:
    return np.datetime64(start, "D") + 12 * np.arange(n)


def _array_meta(
    shape: tuple[int, ...], chunks: tuple[int, ...], dtype: str, fill: Any, dims: tuple[str, ...]
) -> tuple[dict, dict]:
    zarray = {
        "shape": list(shape),
        "chunks": list(chunks),
        "dtype": dtype,
        "fill_value": fill,
        "order": "C",
        "filters": None,
        "dimension_separator": ".",
        "compressor": COMPRESSOR,
        "zarr_format": 2,
    }
    return zarray, {"_ARRAY_DIMENSIONS": list(dims)}


def _write_coord(store: Path, name: str, values: np.ndarray, attrs: dict, meta: dict) -> None:
    arr = zarr.create_array(
        str(store / name),
        shape=values.shape,
        chunks=values.shape,
        dtype=values.dtype,
        zarr_format=2,
        compressors=numcodecs.Blosc(cname="lz4"),
        fill_value=None,
        attributes={"_ARRAY_DIMENSIONS": [name], **attrs},
    )
    arr[:] = values
    meta[f"{name}/.zarray"] = json.loads((store / name / ".zarray").read_text())
    meta[f"{name}/.zattrs"] = json.loads((store / name / ".zattrs").read_text())


def write_frame(
    store: Path, frame_id: str, n_pairs: int, size: int, zero_chunk: bytes
) -> dict[str, list[str]]:
    """One metadata-only frame store with ``n_pairs`` valid pairs; returns its quality groups (primary -> secondaries)."""
    n_dates = max(int(np.ceil((1 + np.sqrt(1 + 8 * n_pairs)) / 2)), 3)  # enough dates for the pairs (i < j)
    dates = _dates(n_dates)
    cells = [(i, j) for i in range(n_dates) for j in range(i + 1, min(i + 6, n_dates))][:n_pairs]
    while len(cells) < n_pairs:  # longer baselines when the short ones run out
        cells += [(i, j) for i in range(n_dates) for j in range(i + 6, n_dates) if (i, j) not in cells][
            : n_pairs - len(cells)
        ]
    store.mkdir(parents=True)
    meta: dict[str, Any] = {".zgroup": {"zarr_format": 2}, ".zattrs": {"frame_id": frame_id}}
    (store / ".zgroup").write_text(json.dumps(meta[".zgroup"]))
    (store / ".zattrs").write_text(json.dumps(meta[".zattrs"]))
    for dim in schema.DATE_DIMS:
        _write_coord(
            store,
            dim,
            (dates - dates[0]).astype("int64"),
            {"units": f"days since {dates[0]}", "calendar": "proleptic_gregorian"},
            meta,
        )
    _write_coord(store, "y", 37.8 - 0.001 * np.arange(size), {}, meta)
    _write_coord(store, "x", 15.0 + 0.001 * np.arange(size), {}, meta)
    grid = (n_dates, n_dates, size, size)
    chunks = (1, 1, size, size)
    pair_dims = (*schema.DATE_DIMS, "y", "x")
    variables = {
        schema.PHASE: ("<f4", "NaN", grid, chunks, pair_dims),
        schema.COHERENCE: ("<f4", "NaN", grid, chunks, pair_dims),
        schema.DEM: ("<f4", "NaN", (size, size), (size, size), ("y", "x")),
    }
    for name in schema.ERA5_VARIABLES:
        which = schema.PRIMARY if name.startswith(schema.PRIMARY) else schema.SECONDARY
        variables[name] = ("<f4", "NaN", (n_dates, size, size), (1, size, size), (which, "y", "x"))
    for name in schema.MASKS:
        variables[name] = ("|u1", None, grid, chunks, pair_dims)
    for name, (dtype, fill, shape, chunk, dims) in variables.items():
        zarray, zattrs = _array_meta(shape, chunk, dtype, fill, dims)
        (store / name).mkdir()
        (store / name / ".zarray").write_text(json.dumps(zarray))
        (store / name / ".zattrs").write_text(json.dumps(zattrs))
        meta[f"{name}/.zarray"], meta[f"{name}/.zattrs"] = zarray, zattrs
        if name in schema.MASKS:  # the chunks a zarr-2 writer leaves: one small zero chunk per valid pair
            for i, j in cells:
                (store / name / f"{i}.{j}.0.0").write_bytes(zero_chunk)
    (store / ".zmetadata").write_text(json.dumps({"metadata": meta, "zarr_consolidated_format": 1}))
    groups: dict[str, list[str]] = {}
    text = [str(d).replace("-", "") for d in dates]
    for i, j in cells:
        groups.setdefault(text[i], []).append(text[j])
    return groups


def _record(uid: int, frame_id: str, primary: str, secondary: str) -> dict:
    return {
        "uniqueID": uid,
        "frameID": frame_id,
        "primary_date": primary,
        "secondary_date": secondary,
        **dict.fromkeys(schema.FLAG_FIELDS, 0),
        "label": ["Non_Deformation"],
        "activity_type": [],
        "intensity_level": [],
        "phase": "Rest",
        "confidence": 0.8,
        "is_crowd": 0,
        "caption": "",
    }


def _zero_chunk(size: int) -> bytes:
    return numcodecs.Blosc(cname="zstd", clevel=3, shuffle=2).encode(np.zeros((1, 1, size, size), np.uint8))


def write_catalogue(root: Path, frames: int, size: int) -> int:
    """A metadata-only root of ``frames`` frames shaped like the real catalogue; returns its pair count."""
    root.mkdir(parents=True)
    zero = _zero_chunk(size)
    records: dict[str, dict] = {}
    quality: dict[str, dict] = {}
    uid = 1
    for k, n in enumerate(pair_counts(frames)):
        frame_id = f"{100 + k:03d}D_{k:05d}_{k:06d}"
        groups = write_frame(root / f"{frame_id}.zarr", frame_id, n, size, zero)
        quality[frame_id] = {}
        for primary, secondaries in groups.items():
            ids = []
            for s in secondaries:
                records[str(uid)] = _record(uid, frame_id, primary, s)
                ids.append(uid)
                uid += 1
            quality[frame_id][primary] = {
                "length": len(secondaries),
                "secondary_date": secondaries,
                "uniqueID": ids,
            }
    (root / schema.ANNOTATIONS_FILE).write_text(json.dumps(records))
    (root / schema.QUALITY_FILE).write_text(json.dumps(quality))
    return uid - 1


def write_data_root(root: Path, pairs: int, size: int) -> tuple[int, list[Path]]:
    """A one-frame root whose ``pairs`` valid pairs hold real compressed data; (bytes on disk, pair arrays)."""
    write_catalogue_frame = write_frame(
        root / "124D_05291_081406.zarr", "124D_05291_081406", pairs, size, _zero_chunk(size)
    )
    rng = np.random.default_rng(0)
    store = root / "124D_05291_081406.zarr"
    phase, coherence = (zarr.open_array(str(store / n), mode="r+") for n in (schema.PHASE, schema.COHERENCE))
    dates = [str(d) for d in _dates(phase.shape[0])]
    index = {d.replace("-", ""): i for i, d in enumerate(dates)}
    for primary, secondaries in write_catalogue_frame.items():
        for s in secondaries:
            i, j = index[primary], index[s]
            phase[i, j] = rng.uniform(-np.pi, np.pi, (size, size)).astype("float32")
            coherence[i, j] = rng.uniform(0, 255, (size, size)).round().astype("float32")
    dem = zarr.open_array(str(store / schema.DEM), mode="r+")
    dem[:] = rng.uniform(0, 3000, (size, size)).astype("float32")
    records = {}
    quality = {"124D_05291_081406": {}}
    uid = 1
    for primary, secondaries in write_catalogue_frame.items():
        quality["124D_05291_081406"][primary] = {
            "length": len(secondaries),
            "secondary_date": secondaries,
            "uniqueID": list(range(uid, uid + len(secondaries))),
        }
        for s in secondaries:
            records[str(uid)] = _record(uid, "124D_05291_081406", primary, s)
            uid += 1
    (root / schema.ANNOTATIONS_FILE).write_text(json.dumps(records))
    (root / schema.QUALITY_FILE).write_text(json.dumps(quality))
    files = [p for p in store.rglob("*") if p.is_file() and not p.name.startswith(".")]
    return sum(p.stat().st_size for p in files), [
        store / n for n in (schema.PHASE, schema.COHERENCE, schema.DEM, *schema.MASKS)
    ]


def raw_read(arrays: list[Path], workers: int) -> int:
    """Decode every written chunk of ``arrays`` with zarr on ``workers`` threads (the bound); bytes decoded."""
    jobs = []
    for path in arrays:
        arr = zarr.open_array(str(path), mode="r")
        for name in os.listdir(path):
            if not name.startswith("."):
                jobs.append((arr, tuple(int(k) for k in name.split("."))))

    def read(job: tuple[zarr.Array, tuple[int, ...]]) -> int:
        arr, key = job
        sel = tuple(slice(k * c, (k + 1) * c) for k, c in zip(key, arr.chunks, strict=True))
        return int(np.asarray(arr[sel]).nbytes)

    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(read, jobs))


def main(
    frames: int = 38,
    size: int = 256,
    deep_frames: int = 1,
    data_pairs: int = 16,
    data_size: int = 1024,
    workers: int = 2,
) -> dict:
    """Run both parts; return the figures (also written to ``bench/results/validate.json``)."""
    figures: dict[str, Any] = {"workers": workers}
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        tmp_path = Path(tmp)
        os.environ.setdefault("XDG_CACHE_HOME", str(tmp_path / "cache"))
        t0 = time.perf_counter()
        n_pairs = write_catalogue(tmp_path / "catalogue", frames, size)
        print(
            f"catalogue root: {frames} frames, {n_pairs} pairs, {size} px (written in {time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        default = time_it(lambda: validate(str(tmp_path / "catalogue")), repeats=2, warmup=1)
        report = validate(str(tmp_path / "catalogue"))
        figures["catalogue"] = {
            "frames": frames,
            "pairs": n_pairs,
            "size_px": size,
            "default_validate": timing_dict(default),
            "problems": len(report.problems),
        }
        print(
            f"default validate (metadata + catalogue) of {n_pairs} pairs: {default.median_s:.2f} s",
            flush=True,
        )

        sub = tmp_path / "subset"
        shutil.copytree(
            tmp_path / "catalogue",
            sub,
            ignore=lambda d, names: (
                [n for n in names if n.endswith(".zarr") and n[:3] >= f"{100 + deep_frames:03d}"]
                if Path(d) == tmp_path / "catalogue"
                else []
            ),
        )
        sub_pairs = sum(pair_counts(frames)[:deep_frames])
        deep = time_it(lambda: validate(str(sub), deep=True, workers=workers), repeats=1, warmup=0)
        per_pair = deep.median_s / sub_pairs
        figures["catalogue"]["deep_subset"] = {
            "frames": deep_frames,
            "pairs": sub_pairs,
            "timing": timing_dict(deep),
            "s_per_pair": round(per_pair, 5),
            "extrapolated_all_s": round(per_pair * n_pairs, 1),
        }
        print(
            f"--deep of {deep_frames} frames ({sub_pairs} pairs, metadata-only cells): {deep.median_s:.1f} s = "
            f"{1000 * per_pair:.1f} ms/pair -> ~{per_pair * n_pairs / 60:.0f} min for the whole catalogue",
            flush=True,
        )

        data = tmp_path / "data"
        nbytes, arrays = write_data_root(data, data_pairs, data_size)
        ours = time_it(lambda: validate(str(data), deep=True, workers=workers), repeats=2, warmup=1)
        raw = time_it(lambda: raw_read(arrays, workers), repeats=2, warmup=1)
        decoded = raw_read(arrays, workers)
        ratio = ours.median_s / raw.median_s
        figures["throughput"] = {
            "pairs": data_pairs,
            "size_px": data_size,
            "disk_mb": round(nbytes / 2**20, 1),
            "decoded_mb": round(decoded / 2**20, 1),
            "deep_validate": timing_dict(ours),
            "raw_read": timing_dict(raw),
            "deep_mb_per_s": round(decoded / 2**20 / ours.median_s, 1),
            "raw_mb_per_s": round(decoded / 2**20 / raw.median_s, 1),
        }
        print(
            ratio_line(
                "deep validate vs raw zarr read of the same chunks", raw, ours, "raw read", "validate --deep"
            ),
            flush=True,
        )
    figures["ratio"] = round(ratio, 2)  # deep / raw: 1.0 is the raw read's speed
    path = write_results("validate", figures)
    print(f"deep validate runs at {1 / ratio:.0%} of the raw read's speed; figures in {path}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=38)
    parser.add_argument(
        "--size", type=int, default=256, help="frame side of the catalogue root, px (metadata only)"
    )
    parser.add_argument("--deep-frames", type=int, default=1)
    parser.add_argument("--data-pairs", type=int, default=16)
    parser.add_argument(
        "--data-size", type=int, default=1024, help="frame side of the data root, px (4 MB float32 chunks)"
    )
    parser.add_argument("--workers", type=int, default=2)
    a = parser.parse_args()
    main(a.frames, a.size, a.deep_frames, a.data_pairs, a.data_size, a.workers)
